#!/usr/bin/python3
"""MTA-STS (RFC 8461) against a real HTTPS policy server (sts_server.py, its
certificates from the test CA) and a test DNS (unbound: the TXT record at
_mta-sts.DOMAIN and mta-sts.DOMAIN's address, which sealmail's own
resolver finds; nothing else resolves it).

  * enforce: an MX host not in the policy is not used (deferred, the reason
    naming the policy); an MX host in it with a certificate not valid for
    its name is refused; one in it with a good certificate gets the mail;
  * testing: delivered as before, the log says what would have failed;
  * the fetch: a redirect is not followed, a policy over 64 KiB is refused
    (one of exactly 64 KiB is not), a type other than text/plain and a
    policy host whose certificate is not for mta-sts.DOMAIN are refused;
    each failure is logged and the mail goes as if there were no policy;
  * the cache (data_dir/sts/): a policy is not fetched again after a
    restart, is fetched again for a new TXT id, for an expired policy and
    proactively before expiry; without a TXT record a cached policy is
    used and nothing fetched.

Addresses of this file: 127.51.0.0/16. The policy server listens on port
443 (root, as in CI)."""

import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
import outbound  # noqa: E402
import sts_server  # noqa: E402
from harness import make_message, token  # noqa: E402
from outbound import a, mx  # noqa: E402

NET = "127.51.0."
STS_ADDR = NET + "1"

# domain: (address of its MX host, FakeMX certificate kind, TXT id)
DOMAINS = {
    "good.test": (2, "good", "g1"),
    "notlisted.test": (3, "good", "n1"),
    "badcert.test": (4, "wrong-name", "b1"),
    "testing.test": (5, "good", "t1"),
    "redirect.test": (6, "good", "r1"),
    "big.test": (7, "good", "big1"),
    "exact.test": (8, "good", "x1"),
    "html.test": (9, "good", "h1"),
    "stscert.test": (10, "good", "s1"),
}


def records_for(domains, sts_addr, ids=None, no_txt=()):
    """MX, A, and MTA-STS records of DOMAINS (ids overridden by IDS)."""
    recs = []
    for d, (n, _, pid) in domains.items():
        host = "mx." + d
        recs += mx(d, (10, host)) + a(host, sts_addr.rsplit(".", 1)[0] + "." + str(n))
        if d in no_txt:
            recs += a("mta-sts." + d, sts_addr)
        else:
            recs += sts_server.sts_records(d, sts_addr, (ids or {}).get(d, pid))
    return recs


def padded_policy(domain, size):
    """A valid policy of exactly SIZE bytes: extension lines (ignored,
    RFC 8461 3.2) of at most 100 bytes pad it."""
    text = sts_server.policy_text(mx=["mx." + domain])
    n = 0
    while len(text) < size:
        line = "x-pad%d: " % n
        room = size - len(text) - len(line) - 2
        if room < 1:  # too little left for a line: lengthen the last one
            text = text[:-2] + "a" * (size - len(text)) + "\r\n"
            break
        text += line + "a" * min(room, 90) + "\r\n"
        n += 1
    assert len(text) == size, len(text)
    return text


class StsCase(outbound.OutboundTestCase):
    sender_n = 0

    def send(self, domain):
        StsCase.sender_n += 1
        sender = outbound.LOCAL_SENDERS[StsCase.sender_n % len(outbound.LOCAL_SENDERS)]
        tok = token()
        rcpt = "u-%s@%s" % (tok[:6], domain)
        qid = outbound.submit(self.srv, sender, [rcpt], make_message(tok, sender=sender, to=rcpt))
        return tok, qid, rcpt

    def delivered(self, domain):
        tok, qid, rcpt = self.send(domain)
        self.mx[domain].wait_message(tok, server=self.srv)
        return outbound.wait_delivered(self.srv, qid, rcpt)

    def fetch_failed(self, domain, mark):
        [ev] = self.srv.wait_event("sts-fetch-failed", since=mark, domain=domain)
        return ev["_line"]


class MtaSts(StsCase):

    @classmethod
    def setUpClass(cls):
        outbound.need_unbound()
        sts_server.need_https_port()
        cls.port = outbound.common_port([NET + str(n) for n, _, _ in DOMAINS.values()])
        cls.mx = {}
        for d, (n, kind, _) in DOMAINS.items():
            host = "mx." + d
            cls.mx[d] = cls.fake(NET + str(n), cls.port, name=host,
                                 cert=outbound.peer_cert(kind, [host]))
        cls.sts = sts_server.StsServer(STS_ADDR)
        cls.addClassCleanup(cls.sts.stop)
        s = cls.sts
        s.set_policy("good.test", mx=["mx.good.test"])
        s.set_policy("notlisted.test", mx=["mx.elsewhere.notlisted.test"])
        s.set_policy("badcert.test", mx=["mx.badcert.test"])
        s.set_policy("testing.test", mode="testing", mx=["mx.elsewhere.testing.test"])
        s.set_policy("redirect.test", status=301,
                     location="https://mta-sts.good.test/.well-known/mta-sts.txt")
        s.oversized("big.test", sts_server.MAX_POLICY + 1)
        s.set_policy("exact.test", text=padded_policy("exact.test", sts_server.MAX_POLICY))
        s.set_policy("html.test", mx=["mx.html.test"], content_type="text/html")
        s.set_policy("stscert.test", mx=["mx.stscert.test"], cert="wrong-name")
        cls.dns = cls.start_unbound(records_for(DOMAINS, STS_ADDR))
        cls.srv = cls.outbound_class_server(cls.dns.resolver(), cls.port, tls="dane")

    # -- the policy applied --
    def test_enforce_delivers_to_listed_mx(self):
        ev = self.delivered("good.test")
        self.assertEqual(self.sts.fetches("good.test"), 1, self.sts.requests())
        [pol] = self.srv.events("sts-policy")[:1] or [None]
        self.assertTrue(any(e.get("domain") == "good.test" and e.get("id") == "g1" and
                            e.get("mode") == "enforce" for e in self.srv.events("sts-policy")),
                        self.srv.log_tail(30))
        path = os.path.join(self.srv.data_dir, "sts", "good.test")
        with open(path) as f:
            self.assertIn("id: g1\n", f.read())
        self.assertEqual(ev.get("peer"), "sts", ev["_line"])

    def test_enforce_refuses_mx_not_in_policy(self):
        tok, qid, rcpt = self.send("notlisted.test")
        ev = outbound.wait_deferred(self.srv, qid, rcpt)
        for p in ("MTA-STS", "mx.notlisted.test", "n1"):
            self.assertIn(p, ev.get("reason", ""), ev["_line"])
        self.assertFalse(self.mx["notlisted.test"].saw("MAIL"),
                         self.mx["notlisted.test"].describe())

    def test_enforce_refuses_wrong_certificate(self):
        tok, qid, rcpt = self.send("badcert.test")
        ev = outbound.wait_deferred(self.srv, qid, rcpt)
        self.assertIn("MTA-STS", ev.get("reason", ""), ev["_line"])
        self.assertFalse(self.mx["badcert.test"].saw("MAIL"), self.mx["badcert.test"].describe())

    def test_testing_only_records(self):
        mark = self.srv.log_mark()
        ev = self.delivered("testing.test")
        [t] = self.srv.wait_event("tls-testing", since=mark)
        self.assertIn("would have failed", t["_line"])
        self.assertIn("mx.testing.test", t["_line"])

    # -- the fetch's promises --
    def test_redirect_not_followed(self):
        mark = self.srv.log_mark()
        before = self.sts.fetches("good.test")
        self.delivered("redirect.test")
        line = self.fetch_failed("redirect.test", mark)
        self.assertIn("redirect", line)
        self.assertIn("301", line)
        self.assertEqual(self.sts.fetches("redirect.test"), 1, self.sts.requests())
        self.assertEqual(self.sts.fetches("good.test"), before, self.sts.requests())

    def test_oversized_policy_refused(self):
        mark = self.srv.log_mark()
        self.delivered("big.test")
        self.assertIn("larger than 65536", self.fetch_failed("big.test", mark))
        self.assertFalse(os.path.exists(os.path.join(self.srv.data_dir, "sts", "big.test")))

    def test_policy_of_exactly_64k_accepted(self):
        self.delivered("exact.test")
        self.srv.wait_event("sts-policy", domain="exact.test", id="x1", mode="enforce")

    def test_content_type_checked(self):
        mark = self.srv.log_mark()
        self.delivered("html.test")
        self.assertIn("text/html", self.fetch_failed("html.test", mark))

    def test_policy_host_certificate_checked(self):
        mark = self.srv.log_mark()
        self.delivered("stscert.test")
        self.assertIn("certificate", self.fetch_failed("stscert.test", mark))
        self.assertEqual(self.sts.fetches("stscert.test"), 0, "fetched past a bad certificate")


NET2 = "127.51.1."
STS2_ADDR = NET2 + "1"
DOMAINS2 = {
    "keep.test": (2, "good", "k1"),
    "change.test": (3, "good", "c1"),
    "expired.test": (4, "good", "e1"),
    "fresh.test": (5, "good", "f1"),
    "short.test": (6, "good", "s1"),
    "notxt.test": (7, "good", "-"),
}


class StsCache(StsCase):
    """The cache across restarts, a new TXT id, max_age."""

    @classmethod
    def setUpClass(cls):
        outbound.need_unbound()
        sts_server.need_https_port()
        cls.port = outbound.common_port([NET2 + str(n) for n, _, _ in DOMAINS2.values()])
        cls.mx = {}
        for d, (n, kind, _) in DOMAINS2.items():
            host = "mx." + d
            cls.mx[d] = cls.fake(NET2 + str(n), cls.port, name=host,
                                 cert=outbound.peer_cert(kind, [host]))
        cls.sts = sts_server.StsServer(STS2_ADDR)
        cls.addClassCleanup(cls.sts.stop)
        for d in DOMAINS2:
            cls.sts.set_policy(d, mx=["mx." + d])
        cls.sts.set_policy("short.test", mx=["mx.short.test"], max_age=4)
        cls.dns = cls.start_unbound(records_for(DOMAINS2, STS2_ADDR, no_txt=("notxt.test",)))
        cls.srv = cls.outbound_class_server(cls.dns.resolver(), cls.port, tls="dane")

    def setUp(self):
        if not self.srv.running():  # a test that failed while it was stopped
            self.srv.start()
            outbound.wait_greeting(self.srv)

    def cache_file(self, domain):
        return os.path.join(self.srv.data_dir, "sts", domain)

    def stop_with_cache_dir(self):
        """Stops the server once its lookup role has made data_dir/sts."""
        harness.wait_for(lambda: os.path.isdir(os.path.join(self.srv.data_dir, "sts")),
                         what="data_dir/sts")
        self.srv.stop()

    def write_cache(self, domain, pid, fetched, max_age, mx_names):
        """A cache file as sealmail writes it (the server stopped)."""
        text = ("sealmail-sts-cache 1\nid: %s\nfetched: %d\n\n" % (pid, fetched) +
                sts_server.policy_text(mx=mx_names, max_age=max_age).replace("\r\n", "\n"))
        with open(self.cache_file(domain), "w") as f:
            f.write(text)

    def test_restart_keeps_policy(self):
        self.delivered("keep.test")
        self.assertEqual(self.sts.fetches("keep.test"), 1)
        self.srv.restart()
        outbound.wait_greeting(self.srv)
        self.delivered("keep.test")
        self.assertEqual(self.sts.fetches("keep.test"), 1,
                         "fetched again after a restart: %r" % self.sts.requests("keep.test"))

    def test_new_txt_id_fetched_again(self):
        self.delivered("change.test")
        self.assertEqual(self.sts.fetches("change.test"), 1)
        # the record's id changes: a new unbound, the server reloaded onto it
        new = self.start_unbound(records_for(DOMAINS2, STS2_ADDR, ids={"change.test": "c2"},
                                             no_txt=("notxt.test",)))
        old = self.dns.resolver()
        with open(self.srv.conf) as f:
            text = f.read()
        self.assertIn("resolver = %s" % old, text)
        with open(self.srv.conf, "w") as f:
            f.write(text.replace("resolver = %s" % old, "resolver = %s" % new.resolver()))
        mark = self.srv.log_mark()
        self.srv.reload()
        # the lookup role has read the new configuration (the users file
        # follows it on the same channel)
        self.srv.wait_event("users-loaded", since=mark)
        StsCache.dns = new
        self.delivered("change.test")
        self.srv.wait_event("dns-ready", since=mark, resolver=new.resolver())
        self.assertEqual(self.sts.fetches("change.test"), 2, self.sts.requests("change.test"))
        with open(self.cache_file("change.test")) as f:
            self.assertIn("id: c2\n", f.read())

    def test_max_age_honoured(self):
        now = int(time.time())
        self.stop_with_cache_dir()
        # the same id as the TXT record: only its age decides
        self.write_cache("expired.test", "e1", now - 1000, 100, ["mx.expired.test"])
        self.write_cache("fresh.test", "f1", now, 86400, ["mx.fresh.test"])
        self.srv.start()
        outbound.wait_greeting(self.srv)
        self.delivered("fresh.test")
        self.assertEqual(self.sts.fetches("fresh.test"), 0, "an unexpired policy fetched")
        self.delivered("expired.test")
        self.assertEqual(self.sts.fetches("expired.test"), 1, "an expired policy used")

    def test_refreshed_before_expiry(self):
        mark = self.srv.log_mark()
        self.delivered("short.test")
        self.sts.wait_fetches("short.test", 1)
        # no more mail: the refresh comes from the timer, before max_age (4 s) ends
        self.sts.wait_fetches("short.test", 2)
        self.srv.wait_event("sts-refresh", since=mark, domain="short.test")

    def test_no_txt_uses_cached_policy(self):
        now = int(time.time())
        self.stop_with_cache_dir()
        # an enforce policy that does not list the MX host: it must apply
        self.write_cache("notxt.test", "old1", now, 86400, ["mx.elsewhere.notxt.test"])
        self.srv.start()
        outbound.wait_greeting(self.srv)
        tok, qid, rcpt = self.send("notxt.test")
        ev = outbound.wait_deferred(self.srv, qid, rcpt)
        self.assertEqual(self.sts.fetches("notxt.test"), 0)
        self.assertIn("MTA-STS", ev.get("reason", ""), ev["_line"])


if __name__ == "__main__":
    harness.main()
