#!/usr/bin/python3
"""The record of how each message travelled: for a remote delivery, the
delivered log line (relay, tls, peer, policy=LEVEL/SOURCE, evidence), the
warning for a peer that was not authenticated, `queue show`'s record of a
deferred recipient field by field, the X-Sealmail-TLS-* fields and the
record's lines in a NOTIFY=SUCCESS notice; for a local delivery, the
Received-TLS: line of the copy, for a client on port 25 that used TLS and
one that did not, for a logged-in submission and for `sendmail` (the
listener's name, auth=yes only after a login). Every value is compared
whole, and the words' order too.

Addresses of this file: 127.55.0.0/16."""

import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
import outbound  # noqa: E402
from harness import make_message, token  # noqa: E402

NET = "127.55.0."
R451 = "451 4.3.0 Mailbox busy, try again later"
TLS13 = r"TLSv1\.3/TLS_[A-Z0-9_]+"

# domain: (address suffix, FakeMX options); dsn=False: a success notice is
# ours to send ("relayed"), not the next hop's
PEERS = {
    "secure.test": (1, {"dsn": False}),
    "plain.test": (2, {"dsn": False, "starttls": False}),
    "defer.test": (3, {"rcpt_reply": R451, "self_signed": True}),
}
POLICIES = (("secure.test", "verify"),)
SUBMITTER = "alice@local.test"
SUBMITTER_PW = "alice-Pw-%s" % token()[:8]
LISTENERS = {"mx": "optional", "sub": {"protocol": "submission", "tls": "required"}}
# the words of Received-TLS: after the first, in this order
RECEIVED_TLS_KEYS = ["client", "helo", "listener", "auth", "peer", "trusted"]


class Record(outbound.OutboundTestCase):

    @classmethod
    def setUpClass(cls):
        outbound.need_peers()
        records = cls.start_peers(NET, PEERS)
        cls.dns = cls.start_unbound(records)
        cls.srv = cls.outbound_class_server(cls.dns.resolver(), cls.port, tls="may",
                                            domains=POLICIES, retry="1m",
                                            max_lifetime="1h", delay_warning="0",
                                            server={"listeners": LISTENERS,
                                                    "passwords": {SUBMITTER: SUBMITTER_PW},
                                                    "submit_socket": True})
        cls.sender_n = 0

    def send(self, domain, notify=None, starttls=False):
        Record.sender_n += 1
        sender = outbound.LOCAL_SENDERS[Record.sender_n]
        tok = token()
        rcpt = "u-%s@%s" % (tok[:6], domain)
        qid = outbound.submit(self.srv, sender, [rcpt], make_message(tok, sender=sender, to=rcpt),
                              rcpt_params="NOTIFY=%s" % notify if notify else None,
                              starttls=starttls)
        return tok, qid, rcpt, sender

    def evidence_line(self, pattern):
        return "(%s line %d)" % (self.srv.conf, self.srv.config_line(pattern))

    # -- the log ---------------------------------------------------------
    def test_delivered_line_and_success_dsn_verified(self):
        tok, qid, rcpt, sender = self.send("secure.test", notify="SUCCESS")
        f = self.mx["secure.test"]
        f.wait_message(tok, server=self.srv)
        ev = outbound.wait_delivered(self.srv, qid, rcpt)
        line = ev["_line"]
        self.assertEqual(ev.get("relay"), "mx.secure.test[%s1]:%d" % (NET, self.port), line)
        self.assertRegex(ev.get("tls", ""), "^%s$" % TLS13, line)
        self.assertEqual(ev.get("peer"), "verified", line)
        self.assertEqual(ev.get("policy"), "verify/local", line)
        evidence = "[outbound.domains] secure.test " + self.evidence_line(r"^secure\.test =")
        self.assertEqual(ev.get("evidence"), evidence, line)
        outbound.wait_queue_gone(self.srv, qid)
        self.assertEqual(outbound.events_for(self.srv, "warning-unauthenticated", qid), [])
        # the success notice (the next hop offers no DSN: ours, "relayed")
        [dsn] = outbound.wait_dsn(self.srv, sender, tok)
        block = dsn.recipient(rcpt)
        self.assertIsNotNone(block, dsn)
        norm = {k: re.sub(r"\s+", " ", v).strip() for k, v in block.items()}
        self.assertEqual(norm.get("action"), "relayed", dsn)
        self.assertEqual(norm.get("status"), "2.0.0", dsn)
        self.assertEqual(norm.get("remote-mta"), "dns; mx.secure.test", dsn)
        self.assertRegex(norm.get("x-sealmail-tls", ""), "^%s$" % TLS13, dsn)
        self.assertEqual(norm.get("x-sealmail-tls-peer"), "verified", dsn)
        self.assertEqual(norm.get("x-sealmail-tls-policy"), "verify", dsn)
        self.assertEqual(norm.get("x-sealmail-tls-policy-source"), "local", dsn)
        self.assertEqual(norm.get("x-sealmail-tls-evidence"), evidence, dsn)
        self.assertNotIn("x-sealmail-tls-testing", norm, dsn)
        human = re.sub(r"\s+", " ", dsn.human)
        self.assertRegex(human, r"<%s>: 250 2\.0\.0 Ok: queued as \S+ relay mx\.secure\.test"
                         r"\[%s1\]:%d, TLS %s, peer verified, policy verify \(local\) "
                         r"policy chosen by: %s"
                         % (re.escape(rcpt), re.escape(NET), self.port, TLS13,
                            re.escape(evidence)), dsn.human)

    def test_plaintext_delivery_warns(self):
        tok, qid, rcpt, sender = self.send("plain.test", notify="SUCCESS")
        self.mx["plain.test"].wait_message(tok, server=self.srv)
        ev = outbound.wait_delivered(self.srv, qid, rcpt)
        line = ev["_line"]
        self.assertEqual(ev.get("tls"), "none", line)
        self.assertEqual(ev.get("peer"), "none", line)
        self.assertEqual(ev.get("policy"), "may/default", line)
        [warn] = self.srv.wait_event("warning-unauthenticated", id=qid)
        wl = warn["_line"]
        self.assertIn("level=warning", wl)
        self.assertEqual(warn.get("domain"), "plain.test", wl)
        self.assertEqual(warn.get("relay"), "mx.plain.test[%s2]:%d" % (NET, self.port), wl)
        self.assertEqual(warn.get("tls"), "none", wl)
        self.assertEqual(warn.get("peer"), "none", wl)
        self.assertEqual(warn.get("policy"), "may/default", wl)
        self.assertEqual(warn.get("recipients"), "1", wl)
        [dsn] = outbound.wait_dsn(self.srv, sender, tok)
        norm = {k: re.sub(r"\s+", " ", v).strip() for k, v in dsn.recipient(rcpt).items()}
        self.assertEqual(norm.get("x-sealmail-tls"), "none", dsn)
        self.assertEqual(norm.get("x-sealmail-tls-peer"), "none", dsn)
        self.assertEqual(norm.get("x-sealmail-tls-policy"), "may", dsn)
        self.assertEqual(norm.get("x-sealmail-tls-policy-source"), "default", dsn)

    # -- queue show --------------------------------------------------------
    def test_queue_show_record_of_a_deferred_recipient(self):
        tok, qid, rcpt, sender = self.send("defer.test")
        ev = outbound.wait_deferred(self.srv, qid, rcpt)
        self.assertEqual(ev.get("policy"), "may/default", ev["_line"])
        self.assertNotIn("held", ev, ev["_line"])
        out = self.srv.ctl_ok("queue", "show", qid)
        lines = out.splitlines()
        [i] = [n for n, s in enumerate(lines) if s.startswith("    to=<%s>" % rcpt)]
        self.assertNotIn("held-by=", lines[i], out)
        record = []
        for s in lines[i + 1:]:
            if not s.startswith("        "):
                break
            record.append(s.strip())
        keys = [r.split(": ", 1)[0] for r in record]
        self.assertEqual(keys, ["attempted", "relay", "tls", "peer", "policy", "policy-source",
                                "evidence"], out)
        rec = dict(r.split(": ", 1) for r in record)
        self.assertRegex(rec["attempted"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", out)
        self.assertEqual(rec["relay"], "mx.defer.test[%s3]:%d" % (NET, self.port), out)
        self.assertRegex(rec["tls"], "^%s$" % TLS13, out)
        self.assertEqual(rec["peer"], "unchecked", out)
        self.assertEqual(rec["policy"], "may", out)
        self.assertEqual(rec["policy-source"], "default", out)
        self.assertEqual(rec["evidence"], "[outbound] tls = may (the default for all domains; "
                         "%s line %d)" % (self.srv.conf, self.srv.config_line(r"^tls = may")),
                         out)
        # the list does not flag it: no TLS policy holds it
        self.assertNotIn("tls-policy", outbound.queue_list(self.srv)[qid])
        # the record survives a restart (queue/state/ID)
        self.srv.restart()
        outbound.wait_greeting(self.srv)
        again = self.srv.ctl_ok("queue", "show", qid)
        self.assertIn("\n".join("        " + r for r in record), again)
        self.srv.ctl_ok("queue", "delete", qid)

    # -- Received-TLS ------------------------------------------------------
    def local_copy_received_tls(self, tok):
        [data] = harness.wait_for(lambda: self.srv.messages_with(tok.encode()) or None,
                                  what="the local copy")
        first, fields = harness.received_tls(data)
        self.assertEqual(list(fields), RECEIVED_TLS_KEYS, data[:400])
        return first, fields

    def received_tls_of(self, starttls):
        Record.sender_n += 1
        sender = outbound.LOCAL_SENDERS[Record.sender_n]
        tok = token()
        rcpt = outbound.LOCAL_SENDERS[Record.sender_n + 10]
        outbound.submit(self.srv, sender, [rcpt], make_message(tok, sender=sender, to=rcpt),
                        starttls=starttls)
        return self.local_copy_received_tls(tok)

    def test_received_tls_after_starttls(self):
        first, fields = self.received_tls_of(starttls=True)
        self.assertRegex(first, "^%s$" % TLS13)
        self.assertEqual(fields, {"client": "127.0.0.1", "helo": "client.test", "listener": "mx",
                                  "auth": "no", "peer": "unchecked", "trusted": "yes"})

    def test_received_tls_plaintext(self):
        first, fields = self.received_tls_of(starttls=False)
        self.assertEqual(first, "none")
        self.assertEqual(fields, {"client": "127.0.0.1", "helo": "client.test", "listener": "mx",
                                  "auth": "no", "peer": "none", "trusted": "yes"})

    def test_received_tls_after_login(self):
        tok = token()
        rcpt = outbound.LOCAL_SENDERS[-1]
        with self.srv.login("sub", SUBMITTER, SUBMITTER_PW) as d:
            r = d.mail_transaction(SUBMITTER, [rcpt],
                                   make_message(tok, sender=SUBMITTER, to=rcpt),
                                   expect_code=None)
            self.assertEqual(r.code, 250, "%s\n%s" % (r, d.format_transcript()))
        first, fields = self.local_copy_received_tls(tok)
        self.assertRegex(first, "^%s$" % TLS13)
        self.assertEqual(fields, {"client": "127.0.0.1", "helo": "client.test",
                                  "listener": "sub", "auth": "yes", "peer": "unchecked",
                                  "trusted": "yes"})
        self.assertNotIn(SUBMITTER.encode(), self.srv.messages_with(tok.encode())[0]
                         .split(b"\n")[2], "the login name is not written")

    def test_received_tls_from_sendmail(self):
        tok = token()
        rcpt = outbound.LOCAL_SENDERS[-2]
        msg = make_message(tok, sender="sender@local.test", to=rcpt).replace(b"\r\n", b"\n")
        rc, out, err = self.srv.send("-f", "sender@local.test", "-oi", rcpt, input=msg)
        self.assertEqual(rc, 0, "sealmail send: rc=%d\nstdout:\n%s\nstderr:\n%s\nlog:\n%s"
                         % (rc, out, err, self.srv.log_tail()))
        first, fields = self.local_copy_received_tls(tok)
        self.assertEqual(first, "none")
        # the socket has no address: none is made up
        self.assertEqual(fields, {"client": "local", "helo": "localhost",
                                  "listener": "local", "auth": "no", "peer": "none",
                                  "trusted": "yes"})


if __name__ == "__main__":
    harness.main()
