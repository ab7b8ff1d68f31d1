#!/usr/bin/python3
"""Downgrade memory and mail held by TLS policy. A peer seen with
authenticated TLS that stops offering STARTTLS is refused (the reason names
the date it was seen); the message is held by TLS policy (`queue list`,
`queue show`), still retried, and its sender gets one early delayed notice
(4.7.5) after the first failure although delay_warning is hours away. The
memory is in data_dir/policy/seen and survives a restart; `queue release ID
--tls-override` delivers once below it, audited; `policy forget DOMAIN`
clears it and delivery proceeds; remember_tls = 0 turns it off.

Addresses of this file: 127.56.0.0/16."""

import os
import re
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
import outbound  # noqa: E402
from harness import make_message, token  # noqa: E402
from outbound import a, mx  # noqa: E402

NET = "127.56.0."
R451 = "451 4.3.0 Mailbox busy, try again later"
DOMAINS = {"mem.test": 1, "off.test": 2}


def seen_file(srv):
    """data_dir/policy/seen as {domain: (level, time)}; checks its first line."""
    path = os.path.join(srv.data_dir, "policy", "seen")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        lines = f.read().split("\n")
    if lines[0] != "sealmail-tls-seen 1" or lines[-1] != "":
        raise AssertionError("not a memory file: %r" % lines)
    out = {}
    for line in lines[1:-1]:
        d, level, t = line.split(" ")
        out[d] = (level, int(t))
    return out


class Downgrade(outbound.OutboundTestCase):

    @classmethod
    def setUpClass(cls):
        outbound.need_peers()
        cls.port = outbound.common_port([NET + str(n) for n in DOMAINS.values()])
        records = []
        cls.mx = {}
        for domain, n in DOMAINS.items():
            host = "mx." + domain
            records += mx(domain, (10, host)) + a(host, NET + str(n))
            cls.mx[domain] = cls.fake(NET + str(n), cls.port, name=host,
                                      cert=harness.issue_cert([host]))
        cls.dns = cls.start_unbound(records)
        # retries a minute apart: only `queue flush` brings a message back
        # within a test; delay_warning hours away: an early notice is ours
        cls.srv = cls.outbound_class_server(cls.dns.resolver(), cls.port, tls="may",
                                            retry="1m", max_lifetime="5d", delay_warning="4h")
        cls.off = cls.outbound_class_server(cls.dns.resolver(), cls.port, tls="may",
                                            retry="1m", max_lifetime="5d", delay_warning="4h",
                                            outbound_extra=(("remember_tls", "0"),))
        cls.sender_n = 0

    def send(self, srv, domain):
        Downgrade.sender_n += 1
        sender = outbound.LOCAL_SENDERS[Downgrade.sender_n]
        tok = token()
        rcpt = "u-%s@%s" % (tok[:6], domain)
        qid = outbound.submit(srv, sender, [rcpt], make_message(tok, sender=sender, to=rcpt))
        return tok, qid, rcpt, sender

    def deliver(self, srv, domain, peer):
        tok, qid, rcpt, sender = self.send(srv, domain)
        self.mx[domain].wait_message(tok, server=srv)
        ev = outbound.wait_delivered(srv, qid, rcpt)
        self.assertEqual(ev.get("peer"), peer, ev["_line"])
        outbound.wait_queue_gone(srv, qid)
        return ev

    def stop_starttls(self, f):
        """FakeMX F offers STARTTLS no more, once the client has closed the
        connections it opened with TLS (an idle one is kept a few seconds
        for the next message)."""
        harness.wait_for(lambda: all(s.closed for s in f.all_sessions()),
                         what="sessions at %r closed" % f)
        f.starttls = False

    def held_reason(self, rcpt, day):
        return ("4.7.5 TLS required by policy 'may' for mem.test: TLS downgrade for mem.test: authenticated TLS was seen on %s, "
                "mx.mem.test offers no STARTTLS" % day)

    def test_memory_holds_releases_and_forgets(self):
        f = self.mx["mem.test"]
        srv = self.srv
        f.starttls = True
        self.deliver(srv, "mem.test", "verified")
        day = time.strftime("%Y-%m-%d", time.gmtime())
        # written within a second of the delivery
        harness.wait_for(lambda: "mem.test" in seen_file(srv), what="mem.test in policy/seen")
        level, seen = seen_file(srv)["mem.test"]
        self.assertEqual(level, "authenticated")
        self.assertLessEqual(abs(seen - time.time()), 5)

        # the peer stops offering STARTTLS: refused, no MAIL, held
        self.stop_starttls(f)
        mails = len([c for c in f.commands() if c.verb == "MAIL"])
        tok, qid, rcpt, sender = self.send(srv, "mem.test")
        ev = outbound.wait_deferred(srv, qid, rcpt)
        reason = self.held_reason(rcpt, day)
        self.assertEqual(ev.get("reason"), reason, ev["_line"])
        self.assertEqual(ev.get("held"), "tls-policy", ev["_line"])
        # the TLS policy kept the mail back: a warning, not news
        self.assertIn(" level=warning ", ev["_line"])
        self.assertEqual(len([c for c in f.commands() if c.verb == "MAIL"]), mails, f.describe())
        block = outbound.queue_list(srv)[qid]
        first, rcpt_line = block.splitlines()[:2]
        self.assertIn(" state=deferred ", first, block)
        self.assertTrue(first.endswith(" held-by=tls-policy"), block)
        self.assertTrue(rcpt_line.endswith(" held-by=tls-policy"), block)
        show = srv.ctl_ok("queue", "show", qid)
        self.assertIn("\n        held: tls-policy: %s\n" % reason, show)
        self.assertIn("\n        tls: none\n        peer: none\n", show)

        # the early notice, after the first failure, delay_warning far away
        [dsn] = outbound.wait_dsn(srv, sender, tok)
        self.assertEqual(dsn.msg["Subject"], "Delayed Mail (still being retried)")
        b = {k: re.sub(r"\s+", " ", v).strip() for k, v in dsn.recipient(rcpt).items()}
        self.assertEqual(b.get("action"), "delayed", dsn)
        self.assertEqual(b.get("status"), "4.7.5", dsn)
        self.assertEqual(b.get("diagnostic-code"), "X-Sealmail; " + reason, dsn)
        self.assertEqual(b.get("x-sealmail-tls"), "none", dsn)
        self.assertEqual(b.get("x-sealmail-tls-peer"), "none", dsn)
        self.assertIn("x-sealmail-tls-policy", b, dsn)
        self.assertIn(reason, re.sub(r"\s+", " ", dsn.human), dsn)

        # the memory survives a restart: still refused; one notice only
        srv.restart()
        outbound.wait_greeting(srv)
        self.assertEqual(seen_file(srv)["mem.test"], ("authenticated", seen))
        since = len(srv.log())
        srv.ctl_ok("queue", "flush", qid)
        [ev2] = srv.wait_event("deferred", since=since, id=qid)
        self.assertEqual(ev2.get("reason"), reason, ev2["_line"])
        self.assertEqual(ev2.get("held"), "tls-policy", ev2["_line"])
        self.assertEqual(len(outbound.find_dsns(srv, sender, tok)), 1)

        # release --tls-override: once, below the memory, audited. The
        # attempt it allows meets a 451 at RCPT: the next attempt is held to
        # the memory again, and a second release delivers.
        f.rcpt_reply = R451
        since = len(srv.log())
        out = srv.ctl_ok("queue", "release", qid, "--tls-override")
        self.assertIn("%s: the next attempt is made with TLS level may" % qid, out)
        [ov] = srv.wait_event("tls-override", since=since, id=qid)
        self.assertEqual(ov.get("by"), str(os.getuid()), ov["_line"])
        self.assertIn("level=warning", ov["_line"])
        [d451] = srv.wait_event("deferred", since=since, id=qid)
        self.assertEqual(d451.get("policy"), "may/override", d451["_line"])
        self.assertEqual(d451.get("reason"), R451, d451["_line"])
        self.assertNotIn("held", d451, d451["_line"])
        # the peer's 451, not the policy: an ordinary deferral
        self.assertIn(" level=info ", d451["_line"])
        f.rcpt_reply = None
        since = len(srv.log())
        srv.ctl_ok("queue", "flush", qid)
        [again] = srv.wait_event("deferred", since=since, id=qid)
        self.assertEqual(again.get("reason"), reason, again["_line"])
        self.assertEqual(again.get("held"), "tls-policy", again["_line"])
        since = len(srv.log())
        srv.ctl_ok("queue", "release", qid, "--tls-override")
        srv.wait_event("tls-override", since=since, id=qid)
        f.wait_message(tok, server=srv)
        dv = outbound.wait_delivered(srv, qid, rcpt)
        self.assertEqual(dv.get("peer"), "none", dv["_line"])
        self.assertEqual(dv.get("policy"), "may/override", dv["_line"])
        outbound.wait_queue_gone(srv, qid)
        # one attempt only: the next message is refused again; memory unchanged
        self.assertEqual(seen_file(srv)["mem.test"], ("authenticated", seen))
        tok3, qid3, rcpt3, sender3 = self.send(srv, "mem.test")
        ev3 = outbound.wait_deferred(srv, qid3, rcpt3)
        self.assertEqual(ev3.get("reason"), reason, ev3["_line"])

        # policy forget: cleared on disk at once, then delivery proceeds
        out = srv.ctl_ok("policy", "forget", "MEM.test")
        self.assertEqual(out, "mem.test: forgotten\n")
        self.assertNotIn("mem.test", seen_file(srv))
        [fe] = srv.wait_event("tls-memory-forget", domain="mem.test")
        self.assertEqual(fe.get("by"), str(os.getuid()), fe["_line"])
        self.assertEqual(srv.ctl_ok("policy", "forget", "mem.test"),
                         "mem.test: nothing remembered\n")
        srv.ctl_ok("queue", "flush", qid3)
        f.wait_message(tok3, server=srv)
        dv3 = outbound.wait_delivered(srv, qid3, rcpt3)
        self.assertEqual(dv3.get("peer"), "none", dv3["_line"])
        self.assertEqual(dv3.get("policy"), "may/default", dv3["_line"])
        outbound.wait_queue_gone(srv, qid3)
        # a plaintext delivery makes no entry
        self.assertNotIn("mem.test", seen_file(srv))
        f.starttls = True

    def test_bad_requests(self):
        rc, out, err = self.srv.ctl("policy", "forget")
        self.assertEqual(rc, 2, (out, err))
        rc, out, err = self.srv.ctl("queue", "release", "00000000000000dead", "--tls-override")
        self.assertEqual((rc, err), (1, "00000000000000dead: no such message in the queue\n"))

    def test_remember_tls_zero_is_off(self):
        f = self.mx["off.test"]
        f.starttls = True
        self.deliver(self.off, "off.test", "verified")
        self.stop_starttls(f)
        try:
            self.deliver(self.off, "off.test", "none")
        finally:
            f.starttls = True
        path = os.path.join(self.off.data_dir, "policy", "seen")
        self.assertFalse(os.path.exists(path) and "off.test" in seen_file(self.off),
                         "remember_tls = 0 remembered off.test")


if __name__ == "__main__":
    harness.main()
