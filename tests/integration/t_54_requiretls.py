#!/usr/bin/python3
"""REQUIRETLS (RFC 8689): offered only after STARTTLS and refused before it
(530 5.7.10); a REQUIRETLS message is relayed only to a peer authenticated
by DANE, MTA-STS or a verify policy that offers REQUIRETLS, with
REQUIRETLS on MAIL; any other peer (no REQUIRETLS, plaintext only, an
unauthenticated certificate) fails the recipients permanently at once with
5.7.30, in a DSN to the local sender, without a retry. "TLS-Required: No"
(without the parameter) is stored with the message and waives the TLS
policy's failures (the waiver itself is the policy decision's: see the
last test).

Addresses of this file: 127.54.0.0/16."""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
import outbound  # noqa: E402
from harness import make_message, token  # noqa: E402

NET = "127.54.0."

PEERS = {
    "req.test": (1, {"requiretls": True}),
    "noreq.test": (2, {}),
    "plain.test": (3, {"starttls": False, "requiretls": True}),
    "untrusted.test": (4, {"requiretls": True, "names": ["mx.evil.test"]}),
    "optional.test": (5, {"names": ["mx.evil.test"]}),
}

POLICIES = (
    ("req.test", "verify"),
    ("noreq.test", "verify"),
    ("optional.test", "verify"),
)


class Inbound(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server()

    def test_offered_and_taken_only_after_starttls(self):
        d = self.srv.dialog()
        self.addCleanup(d.close)
        self.assertNotIn("REQUIRETLS", d.ehlo().keywords)
        r = d.cmd("MAIL FROM:<%s> REQUIRETLS" % harness.SENDER)
        self.assertEqual((r.code, r.enhanced), (530, "5.7.10"), d.format_transcript())
        d.starttls()
        self.assertIn("REQUIRETLS", d.ehlo().keywords)
        d.expect("MAIL FROM:<%s> REQUIRETLS" % harness.SENDER, 250)
        d.expect("RCPT TO:<bob@local.test>", 250)
        tok = token()
        d.expect("DATA", 354)
        d.send(harness.dot_stuff(make_message(tok)) + b".\r\n")
        self.assertEqual(d.read_reply().code, 250)
        # delivered locally: nothing more to do (README)
        harness.wait_for(lambda: [m for m in self.srv.messages("bob@local.test")
                                  if tok.encode() in m])


class Relay(outbound.OutboundTestCase):

    @classmethod
    def setUpClass(cls):
        outbound.need_peers()
        records = cls.start_peers(NET, PEERS)
        cls.dns = cls.start_unbound(records)
        cls.srv = cls.outbound_class_server(cls.dns.resolver(), cls.port, tls="may",
                                            domains=POLICIES, retry="1s", max_lifetime="1h")
        cls.sender_n = 0

    def send(self, domain, mail_params="REQUIRETLS", extra_headers=()):
        Relay.sender_n += 1
        sender = outbound.LOCAL_SENDERS[Relay.sender_n]
        tok = token()
        rcpt = "u-%s@%s" % (tok[:6], domain)
        qid = outbound.submit(self.srv, sender, [rcpt],
                              make_message(tok, sender=sender, to=rcpt,
                                           extra_headers=extra_headers),
                              mail_params=mail_params, starttls=True)
        return tok, qid, rcpt, sender

    def assert_5730(self, domain, *phrases):
        f = self.mx[domain]
        tok, qid, rcpt, sender = self.send(domain)
        # permanent at once: a DSN long before max_lifetime, no deferral
        [dsn] = outbound.wait_dsn(self.srv, sender, tok[:6])
        self.assertIn(b"5.7.30", dsn.raw)
        for p in ("REQUIRETLS",) + phrases:
            self.assertIn(p.encode(), dsn.raw, dsn.text)
        # REQUIRETLS could not be met: the return is a warning, saying why
        [bounced] = self.srv.wait_event("bounced", id=qid)
        self.assertIn(" level=warning ", bounced["_line"])
        self.assertEqual(bounced.get("cause"), "tls-policy", bounced["_line"])
        self.assertEqual(self.srv.events("deferred") and
                         [e for e in self.srv.events("deferred") if e.get("id") == qid], [])
        self.assertFalse([t for t in f.transactions(complete=False)
                          if tok[:6] in " ".join(t.rcpts)], f.describe())

    def test_verified_peer_with_requiretls_delivers(self):
        f = self.mx["req.test"]
        tok, qid, rcpt, sender = self.send("req.test")
        [tx] = f.wait_message(tok, server=self.srv)
        self.assertIn("REQUIRETLS", tx.mail_from.split())
        self.assertIsNotNone(tx.tls)

    def test_peer_without_requiretls_fails_5_7_30(self):
        self.assert_5730("noreq.test", "does not offer REQUIRETLS")

    def test_plaintext_peer_fails_5_7_30(self):
        self.assert_5730("plain.test", "not encrypted")

    def test_unauthenticated_peer_fails_5_7_30(self):
        self.assert_5730("untrusted.test", "not authenticated")

    def test_tls_required_no_is_recorded(self):
        """The verify policy would fail for this peer (a certificate for
        another name); the delivery says the header waived it: the level
        "may", the source "tls-required"."""
        tok, qid, rcpt, sender = self.send("optional.test", mail_params="",
                                           extra_headers=("TLS-Required: No",))
        ev = outbound.wait_delivered(self.srv, qid, rcpt, timeout=outbound.SLOW)
        self.assertEqual(ev.get("policy"), "may/tls-required", ev["_line"])
        self.assertEqual(ev.get("peer"), "unchecked", ev["_line"])

    def test_tls_required_no_waives_the_policy(self):
        """RFC 8689 5: delivered as "may" would, in spite of the verify
        rule. Needs the policy decision (src/policy/decide.c) to honour
        ENVELOPE_TLS_OPTIONAL."""
        f = self.mx["optional.test"]
        tok, qid, rcpt, sender = self.send("optional.test", mail_params="",
                                           extra_headers=("TLS-Required: No",))
        f.wait_message(tok, server=self.srv, timeout=outbound.SLOW)


if __name__ == "__main__":
    harness.main()
