#!/usr/bin/python3
"""Outbound delivery, part 4: where mail goes. MX preference order, the next
MX after a temporary failure (connection refused, 421 greeting), equal
preferences, the A record when there is no MX, null MX (RFC 7505: bounced at
once, 5.1.10), [routes] entries (also for the verify name check, which then
uses the destination domain) and the relay host.

Addresses of this file: 127.13.0.0/16."""

import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
import outbound  # noqa: E402
from harness import make_message, token  # noqa: E402
from outbound import a, mx  # noqa: E402

NET = "127.13.0."


class MXRouting(outbound.OutboundTestCase):

    @classmethod
    def setUpClass(cls):
        outbound.need_peers()
        listening = [2, 3, 4, 5, 6, 7, 8, 10, 15]
        cls.port = outbound.common_port([NET + str(n) for n in listening + [1, 14]])
        cls.rport = outbound.common_port([NET + "9", NET + "11", NET + "12"])
        f = {}
        for n in listening:
            opts = {"greeting": "421 4.3.2 Service not available, try later"} if n == 3 else {}
            f[n] = cls.fake(NET + str(n), cls.port, name="mx%d.test" % n, **opts)
        # Routes: fake servers on another port.
        f[9] = cls.fake(NET + "9", cls.rport, name="route.test")
        f[11] = cls.fake(NET + "11", cls.rport, name="vroute-host.test",
                         cert=harness.issue_cert(["vroute.test"]))
        f[12] = cls.fake(NET + "12", cls.rport, name="vroute-bad-host.test",
                         cert=harness.issue_cert(["somewhere-else.test"]))
        cls.f = f
        records = (
            # 127.13.0.1 has nothing listening: connection refused.
            mx("refused.test", (10, "mx1.refused.test"), (20, "mx2.refused.test")) +
            a("mx1.refused.test", NET + "1") + a("mx2.refused.test", NET + "2") +
            # 421 greeting, then the next MX.
            mx("busy.test", (10, "mx1.busy.test"), (20, "mx2.busy.test")) +
            a("mx1.busy.test", NET + "3") + a("mx2.busy.test", NET + "4") +
            # Preferences listed out of order: 10 must be used.
            mx("order.test", (30, "mx30.order.test"), (20, "mx20.order.test"),
               (10, "mx10.order.test")) +
            a("mx10.order.test", NET + "5") + a("mx20.order.test", NET + "6") +
            a("mx30.order.test", NET + "7") +
            # Equal preferences, one refusing: always ends at the other.
            mx("equal.test", (10, "mxa.equal.test"), (10, "mxb.equal.test")) +
            a("mxa.equal.test", NET + "14") + a("mxb.equal.test", NET + "15") +
            # No MX: the domain's own A record.
            a("noamx.test", NET + "8") +
            # Null MX.
            [("nullmx.test", "MX", "0 .")] +
            # Routed domains have MX records that must not be used.
            mx("routed.test", (10, "mx.routed.test")) + a("mx.routed.test", NET + "10") +
            mx("vroute.test", (10, "mx.vroute.test")) + a("mx.vroute.test", NET + "10") +
            mx("vroute-bad.test", (10, "mx.vroute-bad.test")) +
            a("mx.vroute-bad.test", NET + "10"))
        cls.dns = cls.start_unbound(records)
        cls.srv = cls.outbound_class_server(
            cls.dns.resolver(), cls.port, tls="may",
            domains=(("vroute.test", "verify"), ("vroute-bad.test", "verify")),
            routes=(("routed.test", "%s9:%d" % (NET, cls.rport)),
                    ("vroute.test", "%s11:%d" % (NET, cls.rport)),
                    ("vroute-bad.test", "%s12:%d" % (NET, cls.rport))))
        cls.sender_n = 0

    def send(self, domain, n=1):
        MXRouting.sender_n += 1
        sender = outbound.LOCAL_SENDERS[MXRouting.sender_n]
        out = []
        for _ in range(n):
            tok = token()
            rcpt = "u-%s@%s" % (tok[:6], domain)
            qid = outbound.submit(self.srv, sender, [rcpt],
                                  make_message(tok, sender=sender, to=rcpt))
            out.append((tok, qid, rcpt))
        return sender, out

    def lands_at(self, domain, fake, host, port=None, n=1):
        sender, sent = self.send(domain, n)
        for tok, qid, rcpt in sent:
            fake.wait_message(tok, server=self.srv)
            ev = outbound.wait_delivered(self.srv, qid, rcpt)
            got = outbound.relay_of(ev)
            self.assertEqual(got[1:], (fake.addr, port or self.port), ev["_line"])
            if host is not None:
                self.assertEqual(got[0], host, ev["_line"])
        self.check_fakes_healthy(fake)
        return sender, sent

    def test_next_mx_after_connection_refused(self):
        self.lands_at("refused.test", self.f[2], "mx2.refused.test")

    def test_next_mx_after_421_greeting(self):
        self.lands_at("busy.test", self.f[4], "mx2.busy.test")
        self.assertTrue(self.f[3].all_sessions(), "the 421 MX was never tried")
        self.assertFalse(self.f[3].saw("MAIL") or self.f[3].saw("EHLO"), self.f[3].describe())

    def test_lowest_preference_first_others_never_used(self):
        sender, sent = self.lands_at("order.test", self.f[5], "mx10.order.test", n=3)
        for n in (6, 7):
            self.assertEqual(self.f[n].all_sessions(), [],
                             "MX with a higher preference number was used:\n%s"
                             % self.f[n].describe())

    def test_equal_preferences(self):
        self.lands_at("equal.test", self.f[15], "mxb.equal.test", n=2)

    def test_a_record_when_no_mx(self):
        self.lands_at("noamx.test", self.f[8], "noamx.test")

    def test_null_mx_bounces_at_once(self):
        sender, [(tok, qid, rcpt)] = self.send("nullmx.test")
        ev = outbound.wait_bounced(self.srv, qid, rcpt)
        self.assertIn("5.1.10", ev.get("reason", ""), ev["_line"])
        self.assertIn("null MX", ev.get("reason", ""), ev["_line"])
        [dsn] = outbound.wait_dsn(self.srv, sender, tok)
        outbound.assert_failure_dsn(self, dsn, rcpt, "5.1.10", "null MX")
        self.assertEqual(outbound.events_for(self.srv, "deferred", qid), [],
                         "a null MX was retried")
        outbound.wait_queue_gone(self.srv, qid)

    def test_route_overrides_mx(self):
        self.lands_at("routed.test", self.f[9], None, port=self.rport, n=2)
        self.assertEqual(self.f[10].all_sessions(), [], self.f[10].describe())

    def test_route_verify_checks_destination_domain(self):
        # The route is an address: verify matches the certificate against the
        # destination domain (vroute.test).
        sender, [(tok, qid, rcpt)] = self.lands_at("vroute.test", self.f[11], None,
                                                   port=self.rport)
        ev = outbound.events_for(self.srv, "delivered", qid)[0]
        self.assertEqual(ev.get("peer"), "verified", ev["_line"])
        self.assertEqual(ev.get("policy"), "verify/local", ev["_line"])
        self.assertEqual(self.f[10].all_sessions(), [], self.f[10].describe())

    def test_route_verify_wrong_name_defers(self):
        sender, [(tok, qid, rcpt)] = self.send("vroute-bad.test")
        ev = outbound.wait_deferred(self.srv, qid, rcpt)
        reason = ev.get("reason", "")
        for p in ("4.7.5", "verify", "vroute-bad.test", "mismatch"):
            self.assertIn(p, reason, ev["_line"])
        # the route is an address: the name checked is the recipient's
        # domain, and the deferral says so next to what the certificate holds
        self.assertIn("certificate name mismatch (expected vroute-bad.test, "
                      "got somewhere-else.test)", reason, ev["_line"])
        self.assertFalse(self.f[12].saw("MAIL"), self.f[12].describe())
        self.assertTrue(self.f[12].saw("STARTTLS"), self.f[12].describe())
        self.assertEqual(self.f[10].all_sessions(), [], self.f[10].describe())


class RelayHost(outbound.OutboundTestCase):
    """[outbound] relayhost = [address]:port: every remote domain goes there,
    whatever its MX records say."""

    @classmethod
    def setUpClass(cls):
        outbound.need_peers()
        cls.port = outbound.common_port([NET + "21", NET + "30"])
        cls.relay_port = outbound.common_port([NET + "20"])
        cls.relay = cls.fake(NET + "20", cls.relay_port, name="relay.test",
                             cert=harness.issue_cert(["relay.test", "relayed-v.test"]))
        cls.mxf = cls.fake(NET + "21", cls.port, name="mx.relayed.test")
        cls.dns = cls.start_unbound(mx("relayed.test", (10, "mx.relayed.test")) +
                                    a("mx.relayed.test", NET + "21") +
                                    mx("relayed-v.test", (10, "mx.relayed.test")))
        cls.srv = cls.outbound_class_server(
            cls.dns.resolver(), cls.port, tls="may",
            relayhost="[%s20]:%d" % (NET, cls.relay_port),
            domains=(("relayed-v.test", "verify"),))

    def relayed(self, domain, sender):
        tok = token()
        rcpt = "u-%s@%s" % (tok[:6], domain)
        qid = outbound.submit(self.srv, sender, [rcpt], make_message(tok, sender=sender, to=rcpt))
        [tx] = self.relay.wait_message(tok, server=self.srv)
        self.assertEqual(tx.rcpt_addresses(), [rcpt])
        ev = outbound.wait_delivered(self.srv, qid, rcpt)
        self.assertEqual(outbound.relay_of(ev)[1:], (NET + "20", self.relay_port), ev["_line"])
        outbound.wait_queue_gone(self.srv, qid)
        return ev

    def test_relayhost_used_instead_of_mx(self):
        self.relayed("relayed.test", "sender1@local.test")
        # A domain that does not even exist in DNS.
        self.relayed("nowhere.test", "sender2@local.test")
        self.assertEqual(self.mxf.all_sessions(), [], self.mxf.describe())
        self.check_fakes_healthy(self.relay)

    def test_relayhost_verify_checks_destination_domain(self):
        ev = self.relayed("relayed-v.test", "sender3@local.test")
        self.assertEqual(ev.get("peer"), "verified", ev["_line"])
        self.assertEqual(ev.get("policy"), "verify/local", ev["_line"])


if __name__ == "__main__":
    harness.main()
