#!/usr/bin/python3
"""Outbound delivery, part 2: TLS policy levels none / may / encrypt /
verify against fake MX servers: plaintext servers, certificates from the
test CA for the MX name, for another name, expired, from another CA,
match= names, subdomain rules, TLS versions. A policy failure never sends
MAIL in plaintext (nor at all): it defers with a 4.7.5 reason that names the
policy, the domain and what went wrong.

Addresses of this file: 127.11.0.0/16."""

import re
import ssl
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
import outbound  # noqa: E402
from harness import make_message, token  # noqa: E402
from outbound import a, mx  # noqa: E402

NET = "127.11.0."

# domain -> (last octet, FakeMX options); the MX host is "mx.DOMAIN" unless
# given as "host" in the options.
PEERS = {
    "plain.test": (1, {"starttls": False}),
    "plainenc.test": (2, {"starttls": False}),
    "secure.test": (3, {}),
    "wrongname.test": (4, {"cert": ("names", ["mx.evil.test"])}),
    "expired.test": (5, {"cert": ("expired", None)}),
    "otherca.test": (6, {"cert": ("otherca", None)}),
    "partner.test": (7, {"host": "mx-a.partner.test", "cert": ("names", ["mx2.partner.net"])}),
    "partner2.test": (8, {"host": "mx-b.partner2.test",
                          "cert": ("names", ["mx9.partner.net"])}),
    "sub.example.test": (9, {"cert": ("otherca", None)}),
    "cleartext.test": (10, {}),
    "tls12.test": (11, {"tls_max": ssl.TLSVersion.TLSv1_2}),
    "tls11.test": (12, {"tls_min": ssl.TLSVersion.TLSv1_1, "tls_max": ssl.TLSVersion.TLSv1_1}),
    "tls11may.test": (13, {"tls_min": ssl.TLSVersion.TLSv1_1,
                           "tls_max": ssl.TLSVersion.TLSv1_1}),
    "untrusted.test": (14, {"cert": ("otherca", None)}),
    "encok.test": (15, {"cert": ("expired", None)}),
}

POLICIES = (
    ("plainenc.test", "encrypt"),
    ("secure.test", "verify"),
    ("wrongname.test", "verify"),
    ("expired.test", "verify"),
    ("otherca.test", "verify"),
    ("partner.test", "verify match=mx1.partner.net:mx2.partner.net"),
    ("partner2.test", "verify match=mx1.partner.net:mx2.partner.net"),
    (".example.test", "encrypt"),
    ("cleartext.test", "none"),
    ("tls12.test", "verify"),
    ("tls11.test", "encrypt"),
    ("encok.test", "encrypt"),
)



def policy_words(domain, level):
    """The log's policy= for DOMAIN at LEVEL: LEVEL/SOURCE, the source
    "local" when an [outbound.domains] entry of POLICIES covers it (exactly,
    or a ".parent" entry), else "default"."""
    for d, _ in POLICIES:
        if d == domain or (d.startswith(".") and domain.endswith(d)):
            return level + "/local"
    return level + "/default"

class TLSPolicy(outbound.OutboundTestCase):

    @classmethod
    def setUpClass(cls):
        outbound.need_peers()
        addrs = [NET + str(n) for n, _ in PEERS.values()]
        cls.port = outbound.common_port(addrs)
        records = []
        other_ca = harness.TestCA()
        cls.mx = {}
        cls.host = {}
        for domain, (n, opts) in PEERS.items():
            opts = dict(opts)
            host = opts.pop("host", "mx." + domain)
            cls.host[domain] = host
            records += mx(domain, (10, host)) + a(host, NET + str(n))
            kind, names = opts.pop("cert", ("names", [host]))
            if kind == "names":
                cert = harness.issue_cert(names)
            elif kind == "expired":
                cert = harness.issue_cert([host], expired=True)
            else:
                cert = other_ca.issue([host])
            cls.mx[domain] = cls.fake(NET + str(n), cls.port, name=host, cert=cert, **opts)
        cls.dns = cls.start_unbound(records)
        cls.srv = cls.outbound_class_server(cls.dns.resolver(), cls.port, tls="may",
                                            domains=POLICIES)
        cls.sender_n = 0

    @classmethod
    def next_sender(cls):
        cls.sender_n += 1
        return outbound.LOCAL_SENDERS[cls.sender_n]

    def send(self, domain, sender=None):
        tok = token()
        sender = sender or self.next_sender()
        rcpt = "user-%s@%s" % (tok[:6], domain)
        qid = outbound.submit(self.srv, sender, [rcpt], make_message(tok, sender=sender, to=rcpt))
        return tok, qid, rcpt, sender

    # -- successes --
    def delivered(self, domain, peer, policy, tls_version="TLSv1.3"):
        tok, qid, rcpt, sender = self.send(domain)
        f = self.mx[domain]
        [tx] = f.wait_message(tok, server=self.srv)
        ev = outbound.wait_delivered(self.srv, qid, rcpt)
        line = ev["_line"]
        self.assertEqual(outbound.relay_of(ev), (self.host[domain], f.addr, self.port), line)
        self.assertEqual(ev.get("peer"), peer, line)
        self.assertEqual(ev.get("policy"), policy_words(domain, policy), line)
        if tls_version:
            self.assertEqual(tx.tls, tls_version, f.describe())
            self.assertRegex(ev.get("tls", ""), r"^%s/\S+$" % re.escape(tls_version), line)
        else:
            self.assertIsNone(tx.tls, f.describe())
        # The warning is logged after the delivery and before the message
        # leaves the queue: once it is gone, a missing warning is missing.
        outbound.wait_queue_gone(self.srv, qid)
        if peer == "verified":
            warn = outbound.events_for(self.srv, "warning-unauthenticated", qid)
            self.assertEqual(warn, [], "warning for a verified delivery")
        else:
            warn = self.srv.wait_event("warning-unauthenticated", id=qid)
            self.assertIn("level=warning", warn[0]["_line"])
            self.assertEqual(warn[0].get("domain"), domain, warn[0]["_line"])
        self.check_fakes_healthy(f)
        return tx, ev

    def test_may_without_starttls_delivers_in_plaintext(self):
        tx, ev = self.delivered("plain.test", "none", "may", tls_version=None)
        self.assertFalse(self.mx["plain.test"].saw("STARTTLS"))

    def test_may_uses_starttls_when_offered(self):
        # A certificate from another CA: at "may" encrypted, not authenticated.
        self.delivered("untrusted.test", "unchecked", "may")

    def test_none_never_starttls(self):
        self.delivered("cleartext.test", "none", "none", tls_version=None)
        self.assertFalse(self.mx["cleartext.test"].saw("STARTTLS"),
                         self.mx["cleartext.test"].describe())

    def test_encrypt_accepts_any_certificate(self):
        # An expired certificate, or one from an unknown CA for a subdomain
        # rule (.example.test): encrypt asks for TLS, not for authentication.
        self.delivered("encok.test", "unchecked", "encrypt")
        self.delivered("sub.example.test", "unchecked", "encrypt")

    def test_verify_with_test_ca_certificate_for_mx_name(self):
        tx, ev = self.delivered("secure.test", "verified", "verify")
        self.assertEqual(self.mx["secure.test"].all_sessions()[-1].sni, "mx.secure.test")

    def test_verify_match_names(self):
        # The certificate names mx2.partner.net, one of match=, not the MX host.
        self.delivered("partner.test", "verified", "verify")

    def test_tls12_only_server(self):
        self.delivered("tls12.test", "verified", "verify", tls_version="TLSv1.2")

    def test_may_tls11_only_server_falls_back_to_plaintext(self):
        # The handshake fails (sealmail never speaks TLS 1.1); at "may" the
        # delivery is retried in plaintext, as Postfix does.
        f = self.mx["tls11may.test"]
        tx, ev = self.delivered("tls11may.test", "none", "may", tls_version=None)
        self.assertTrue(f.saw("STARTTLS"), f.describe())
        self.assertTrue(all(s.tls_version in (None,) for s in f.all_sessions()), f.describe())

    # -- policy failures: deferred, no MAIL --
    def deferred(self, domain, policy, *phrases, sender=None):
        tok, qid, rcpt, sender = self.send(domain, sender)
        ev = outbound.wait_deferred(self.srv, qid, rcpt)
        line = ev["_line"]
        f = self.mx[domain]
        self.assertEqual(ev.get("policy"), policy_words(domain, policy), line)
        reason = ev.get("reason", "")
        for p in ("4.7.5", policy, domain) + phrases:
            self.assertIn(p.lower(), reason.lower(), "reason lacks %r: %s" % (p, line))
        self.assertTrue(f.all_sessions(), "sealmail never connected to %r" % f)
        self.assertFalse(f.saw("MAIL"), "MAIL was sent to %r:\n%s" % (f, f.describe()))
        self.assertFalse(f.saw("RCPT"), f.describe())
        self.assertFalse(f.saw("DATA"), f.describe())
        self.assertEqual(outbound.events_for(self.srv, "delivered", qid), [])
        self.check_fakes_healthy(f)
        return tok, qid, rcpt, sender, ev

    def test_encrypt_without_starttls_defers(self):
        tok, qid, rcpt, sender, ev = self.deferred("plainenc.test", "encrypt", "no STARTTLS")
        blocks = outbound.queue_list(self.srv)
        self.assertIn(qid, blocks, "queue list lacks %s:\n%r" % (qid, blocks))
        block = blocks[qid]
        self.assertIn("from=<%s>" % sender, block.splitlines()[0])
        lines = [ln for ln in block.splitlines()[1:] if "to=<%s>" % rcpt in ln]
        self.assertEqual(len(lines), 1, block)
        m = re.search(r'last_error="([^"]*)"', lines[0])
        self.assertTrue(m, block)
        for p in ("4.7.5", "encrypt", "plainenc.test", "no STARTTLS"):
            self.assertIn(p.lower(), m.group(1).lower(), block)

    def test_verify_wrong_name_defers(self):
        self.deferred("wrongname.test", "verify",
                      "certificate name mismatch (expected mx.wrongname.test, got mx.evil.test)")
        self.assertTrue(self.mx["wrongname.test"].saw("STARTTLS"))

    def test_verify_expired_certificate_defers(self):
        self.deferred("expired.test", "verify", "certificate has expired")

    def test_verify_unknown_ca_defers(self):
        self.deferred("otherca.test", "verify", "certificate not trusted")

    def test_verify_match_names_wrong_certificate_defers(self):
        self.deferred("partner2.test", "verify",
                      "certificate name mismatch (expected mx1.partner.net or mx2.partner.net, "
                      "got mx9.partner.net)")

    def test_encrypt_tls11_only_server_defers(self):
        self.deferred("tls11.test", "encrypt")
        self.assertTrue(self.mx["tls11.test"].saw("STARTTLS"))

    def quit_after_policy_failure(self, domain, policy, tls):
        # RFC 5321 4.1.1.10: a client that gives up on a server says QUIT
        # rather than dropping the connection; over TLS when it is up.
        tok, qid, rcpt, sender, ev = self.deferred(domain, policy)
        f = self.mx[domain]
        sess = f.all_sessions()[0]

        def quit_seen():
            return sess.closed and [c for c in sess.commands if c.verb == "QUIT"]
        try:
            [quit] = harness.wait_for(quit_seen, what="QUIT at %r" % f)
        except AssertionError:
            raise AssertionError("no QUIT after the policy failure:\n" + f.describe())
        self.assertEqual(sess.commands[-1].verb, "QUIT", f.describe())
        if tls:
            self.assertIsNotNone(quit.tls, "QUIT was not sent over TLS:\n" + f.describe())
        else:
            self.assertIsNone(quit.tls, f.describe())

    def test_quit_after_no_starttls(self):
        self.quit_after_policy_failure("plainenc.test", "encrypt", tls=False)

    def test_quit_over_tls_after_certificate_check_fails(self):
        self.quit_after_policy_failure("otherca.test", "verify", tls=True)

    def test_policy_failure_bounces_after_lifetime_with_reason(self):
        # max_lifetime = 6s: the deferred message is returned to its (local)
        # sender with the policy reason. The first policy failure has sent
        # the early notice (Action: delayed, 4.7.5) before: two DSNs.
        tok, qid, rcpt, sender, ev = self.deferred("plainenc.test", "encrypt", "no STARTTLS")
        dsns = outbound.wait_dsn(self.srv, sender, tok, n=2)
        self.assertEqual(len(dsns), 2, dsns)
        actions = sorted(d.recipient(rcpt).get("action") for d in dsns)
        self.assertEqual(actions, ["delayed", "failed"], dsns)
        [dsn] = [d for d in dsns if d.recipient(rcpt).get("action") == "failed"]
        outbound.assert_failure_dsn(self, dsn, rcpt, "4.7.5", "no STARTTLS")
        outbound.wait_bounced(self.srv, qid, rcpt)
        outbound.wait_queue_gone(self.srv, qid)
        self.assertFalse(self.mx["plainenc.test"].saw("MAIL"))


if __name__ == "__main__":
    harness.main()
