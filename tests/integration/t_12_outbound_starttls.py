#!/usr/bin/python3
"""Outbound delivery, part 3: STARTTLS as the client, against servers that
misbehave: STARTTLS refused with 454 (encrypt defers, may goes on in
plaintext), extra lines sent with the 220 before the handshake (discarded,
EHLO again after TLS, never taken as a reply), and a server without
PIPELINING (one command at a time).

Addresses of this file: 127.12.0.0/16."""

import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
import outbound  # noqa: E402
from harness import make_message, token  # noqa: E402
from outbound import a, mx  # noqa: E402

NET = "127.12.0."
INJECTED = b"250 fake injected\r\n"

PEERS = {
    "refuse-enc.test": (1, {"starttls_reply": "454 4.7.0 TLS not available"}),
    "refuse-may.test": (2, {"starttls_reply": "454 4.7.0 TLS not available"}),
    "inject.test": (3, {"starttls_reply": "220 2.0.0 Ready", "starttls_extra": INJECTED}),
    "inject-may.test": (4, {"starttls_reply": "220 2.0.0 Ready",
                            "starttls_extra": INJECTED}),
    "nopipe.test": (5, {"pipelining": False}),
    "nopipe-plain.test": (6, {"pipelining": False, "starttls": False}),
    "pipe.test": (7, {}),
}

POLICIES = (
    ("refuse-enc.test", "encrypt"),
    ("inject.test", "verify"),
)


class StartTLS(outbound.OutboundTestCase):

    @classmethod
    def setUpClass(cls):
        outbound.need_peers()
        cls.port = outbound.common_port([NET + str(n) for n, _ in PEERS.values()])
        records = []
        cls.mx = {}
        for domain, (n, opts) in PEERS.items():
            host = "mx." + domain
            records += mx(domain, (10, host)) + a(host, NET + str(n))
            cls.mx[domain] = cls.fake(NET + str(n), cls.port, name=host,
                                      cert=harness.issue_cert([host]), **opts)
        cls.dns = cls.start_unbound(records)
        cls.srv = cls.outbound_class_server(cls.dns.resolver(), cls.port, tls="may",
                                            domains=POLICIES)
        cls.sender_n = 0

    def send(self, domain, rcpts=1):
        StartTLS.sender_n += 1
        sender = outbound.LOCAL_SENDERS[StartTLS.sender_n]
        tok = token()
        to = ["u%d-%s@%s" % (i, tok[:6], domain) for i in range(rcpts)]
        qid = outbound.submit(self.srv, sender, to, make_message(tok, sender=sender, to=to[0]))
        return tok, qid, to, sender

    def test_encrypt_starttls_454_defers(self):
        f = self.mx["refuse-enc.test"]
        tok, qid, [rcpt], _ = self.send("refuse-enc.test")
        ev = outbound.wait_deferred(self.srv, qid, rcpt)
        reason = ev.get("reason", "")
        for p in ("4.7.5", "encrypt", "refuse-enc.test", "454"):
            self.assertIn(p, reason, ev["_line"])
        self.assertEqual(ev.get("policy"), "encrypt/local", ev["_line"])
        self.assertTrue(f.saw("STARTTLS"), f.describe())
        self.assertFalse(f.saw("MAIL"), "MAIL sent after a refused STARTTLS:\n" + f.describe())
        self.assertFalse(f.saw("RCPT") or f.saw("DATA"), f.describe())
        self.check_fakes_healthy(f)

    def test_may_starttls_454_delivers_in_plaintext(self):
        f = self.mx["refuse-may.test"]
        tok, qid, [rcpt], _ = self.send("refuse-may.test")
        [tx] = f.wait_message(tok, server=self.srv)
        self.assertIsNone(tx.tls)
        self.assertTrue(f.saw("STARTTLS"), f.describe())
        ev = outbound.wait_delivered(self.srv, qid, rcpt)
        self.assertEqual(ev.get("peer"), "none", ev["_line"])
        self.assertEqual(ev.get("policy"), "may/default", ev["_line"])
        self.srv.wait_event("warning-unauthenticated", id=qid)
        self.check_fakes_healthy(f)

    def check_injection(self, domain, policy, peer):
        f = self.mx[domain]
        tok, qid, [rcpt], _ = self.send(domain)
        [tx] = f.wait_message(tok, server=self.srv)
        self.assertEqual(tx.tls, "TLSv1.3", f.describe())
        ev = outbound.wait_delivered(self.srv, qid, rcpt)
        self.assertEqual(ev.get("policy"), policy, ev["_line"])  # LEVEL/SOURCE
        self.assertEqual(ev.get("peer"), peer, ev["_line"])
        sess = [s for s in f.all_sessions() if tx in s.transactions][0]
        verbs = [(c.verb, bool(c.tls)) for c in sess.commands]
        # EHLO, STARTTLS in plaintext; then EHLO again inside TLS before MAIL.
        self.assertEqual(verbs[:3], [("EHLO", False), ("STARTTLS", False), ("EHLO", True)],
                         f.describe())
        i = verbs.index(("MAIL", True))
        self.assertIn(("EHLO", True), verbs[2:i], f.describe())
        self.assertTrue(all(t for v, t in verbs[2:]), f.describe())
        # Nothing was sent between STARTTLS and the handshake (RFC 3207).
        self.assertEqual(sess.after_starttls, b"", f.describe())
        # Every command inside TLS was answered in order: the one transaction
        # went through and the session ended normally (QUIT, or a clean close),
        # with no stray command that would come from an off-by-one reply.
        self.assertEqual(sum(1 for v, t in verbs if v == "MAIL"), 1, f.describe())
        self.assertEqual(sum(1 for v, t in verbs if v == "DATA"), 1, f.describe())
        self.assertEqual([v for v, t in verbs if v not in
                          ("EHLO", "STARTTLS", "MAIL", "RCPT", "DATA", "QUIT", "RSET", "NOOP")],
                         [], f.describe())
        self.assertEqual(outbound.events_for(self.srv, "deferred", qid), [])
        self.check_fakes_healthy(f)

    def test_extra_lines_after_starttls_220_are_discarded_verify(self):
        self.check_injection("inject.test", "verify/local", "verified")

    def test_extra_lines_after_starttls_220_are_discarded_may(self):
        # At "may" the name is not required to match; this certificate does,
        # and it comes from the CA in ca_file: verified.
        f = self.mx["inject-may.test"]
        tok, qid, [rcpt], _ = self.send("inject-may.test")
        [tx] = f.wait_message(tok, server=self.srv)
        ev = outbound.wait_delivered(self.srv, qid, rcpt)
        self.assertEqual(ev.get("peer"), "verified", ev["_line"])
        self.assertEqual(tx.tls, "TLSv1.3", f.describe())
        sess = [s for s in f.all_sessions() if tx in s.transactions][0]
        verbs = [(c.verb, bool(c.tls)) for c in sess.commands]
        self.assertEqual(verbs[:3], [("EHLO", False), ("STARTTLS", False), ("EHLO", True)],
                         f.describe())
        self.assertEqual(sess.after_starttls, b"", f.describe())
        self.check_fakes_healthy(f)

    def check_no_pipelining(self, domain, tls):
        f = self.mx[domain]
        tok, qid, rcpts, _ = self.send(domain, rcpts=3)
        txs = f.wait_message(tok, server=self.srv)
        harness.wait_for(lambda: sorted(r for t in f.messages_with(tok)
                                        for r in t.rcpt_addresses()) == sorted(rcpts),
                         what="all recipients at %r" % f)
        for r in rcpts:
            outbound.wait_delivered(self.srv, qid, r)
        for s in f.all_sessions():
            early = [c for c in s.commands if c.pipelined]
            self.assertEqual(early, [], "commands sent before the previous reply to a server "
                             "without PIPELINING:\n%s" % f.describe())
            self.assertTrue(all(c.crlf for c in s.commands), f.describe())
        self.assertEqual(txs[0].tls, tls)
        self.check_fakes_healthy(f)

    def test_no_pipelining_one_command_at_a_time(self):
        self.check_no_pipelining("nopipe.test", "TLSv1.3")

    def test_no_pipelining_plaintext(self):
        self.check_no_pipelining("nopipe-plain.test", None)

    def test_pipelining_server_gets_all_recipients(self):
        f = self.mx["pipe.test"]
        tok, qid, rcpts, _ = self.send("pipe.test", rcpts=3)
        harness.wait_for(lambda: sorted(r for t in f.messages_with(tok)
                                        for r in t.rcpt_addresses()) == sorted(rcpts),
                         what="all recipients at %r" % f)
        for r in rcpts:
            outbound.wait_delivered(self.srv, qid, r)
        outbound.wait_queue_gone(self.srv, qid)
        self.check_fakes_healthy(f)


if __name__ == "__main__":
    harness.main()
