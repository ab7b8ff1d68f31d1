#!/usr/bin/python3
"""Outbound delivery, part 7: the operator's commands, talking to the
running server over DATA_DIR/control.sock: `sealmail queue list | show ID |
flush [ID] | hold ID | release ID | delete ID` and `sealmail policy explain
DOMAIN`. Retries are one minute apart here, so only `queue flush` makes a
deferred message go out again within a test.

Addresses of this file: 127.16.0.0/16."""

import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
import outbound  # noqa: E402
from harness import make_message, token  # noqa: E402
from outbound import a, mx  # noqa: E402

NET = "127.16.0."
R451 = "451 4.3.0 Mailbox busy, try again later"
UNKNOWN_ID = "00000000000000dead"
FLUSH_WAIT = 20.0  # well under the one-minute retry: a delivery sooner is the flush's

POLICIES = (
    ("secure.test", "verify"),
    (".example.test", "encrypt"),
    ("partner.test", "verify match=mx1.partner.net:mx2.partner.net"),
)


class QueueControl(outbound.OutboundTestCase):

    @classmethod
    def setUpClass(cls):
        outbound.need_peers()
        cls.port = outbound.common_port([NET + str(n) for n in (1, 2, 3, 4)])
        records = []
        cls.mx = {}
        for n in (1, 2, 3, 4):
            domain = "q%d.test" % n
            records += mx(domain, (10, "mx." + domain)) + a("mx." + domain, NET + str(n))
            cls.mx[domain] = cls.fake(NET + str(n), cls.port, name="mx." + domain,
                                      rcpt_reply=R451)
        cls.dns = cls.start_unbound(records)
        cls.srv = cls.outbound_class_server(
            cls.dns.resolver(), cls.port, tls="may", domains=POLICIES,
            routes=(("routed.test", "127.16.0.9:2600"),),
            retry="1m", max_lifetime="1h", delay_warning="0")

    def deferred_message(self, domain, sender):
        """A message for DOMAIN (whose MX answers 451) that was tried once."""
        f = self.mx[domain]
        f.rcpt_reply = R451
        tok = token()
        rcpt = "u-%s@%s" % (tok[:6], domain)
        msg = make_message(tok, sender=sender, to=rcpt)
        qid = outbound.submit(self.srv, sender, [rcpt], msg)
        outbound.wait_deferred(self.srv, qid, rcpt)
        return tok, qid, rcpt, msg

    def block(self, qid):
        blocks = outbound.queue_list(self.srv)
        self.assertIn(qid, blocks, "queue list lacks %s:\n%r" % (qid, blocks))
        return blocks[qid]

    def test_list_show_flush(self):
        sender = "sender1@local.test"
        tok, qid, rcpt, msg = self.deferred_message("q1.test", sender)
        block = self.block(qid)
        first, *rest = block.splitlines()
        self.assertTrue(first.startswith(qid), block)
        for key in ("age=", "size=", "from=<%s>" % sender):
            self.assertIn(key, first, block)
        self.assertNotIn("held", first, block)
        lines = [ln for ln in rest if "to=<%s>" % rcpt in ln]
        self.assertEqual(len(lines), 1, block)
        self.assertTrue(lines[0][:1].isspace(), block)
        m = re.search(r'last_error="([^"]*)"', lines[0])
        self.assertTrue(m, block)
        self.assertIn("451", m.group(1), block)
        self.assertIn("try again later", m.group(1), block)

        out = self.srv.ctl_ok("queue", "show", qid)
        self.assertIn(qid, out)
        self.assertIn(sender, out)
        self.assertIn(rcpt, out)
        self.assertIn("451", out)                         # the recipient's status
        self.assertIn("Subject: test %s" % tok, out)      # the message's headers
        self.assertIn("X-Test-Token: %s" % tok, out)

        f = self.mx["q1.test"]
        f.rcpt_reply = None
        self.srv.ctl_ok("queue", "flush", qid)
        f.wait_message(tok, timeout=FLUSH_WAIT, server=self.srv)
        outbound.wait_delivered(self.srv, qid, rcpt, timeout=FLUSH_WAIT)
        outbound.wait_queue_gone(self.srv, qid)
        # A DSN would be logged before the message left the queue.
        self.assertEqual(outbound.events_for(self.srv, "dsn", qid), [],
                         "DSN for a delivered message")
        self.assertEqual(self.srv.messages(sender), [], "DSN for a delivered message")

    def test_flush_all(self):
        f = self.mx["q4.test"]
        a_ = self.deferred_message("q4.test", "sender2@local.test")
        b_ = self.deferred_message("q4.test", "sender2@local.test")
        f.rcpt_reply = None
        self.srv.ctl_ok("queue", "flush")
        for tok, qid, rcpt, _ in (a_, b_):
            f.wait_message(tok, timeout=FLUSH_WAIT, server=self.srv)
            outbound.wait_delivered(self.srv, qid, rcpt, timeout=FLUSH_WAIT)
            outbound.wait_queue_gone(self.srv, qid)

    def test_hold_release(self):
        f = self.mx["q2.test"]
        tok, qid, rcpt, _ = self.deferred_message("q2.test", "sender3@local.test")
        self.srv.ctl_ok("queue", "hold", qid)
        self.assertIn("held", self.block(qid))
        f.rcpt_reply = None
        # A held message is not attempted, even when flushed: `flush ID` of
        # a held message is an error.
        rc, out, err = self.srv.ctl("queue", "flush", qid)
        self.assertEqual(rc, 1, (out, err))
        self.assertIn("%s: on hold; release it first" % qid, err)
        self.srv.ctl_ok("queue", "flush")
        # A later message to the same server goes through: once it has,
        # an attempt of the held one would have happened too.
        tok2 = token()
        rcpt2 = "v-%s@q2.test" % tok2[:6]
        qid2 = outbound.submit(self.srv, "sender3@local.test", [rcpt2],
                               make_message(tok2, to=rcpt2))
        f.wait_message(tok2, server=self.srv)
        outbound.wait_delivered(self.srv, qid2, rcpt2)
        self.srv.ctl_ok("queue", "flush")
        outbound.wait_queue_gone(self.srv, qid2)
        self.assertEqual(f.messages_with(tok), [], "a held message was delivered")
        self.assertEqual(outbound.events_for(self.srv, "delivered", qid), [])
        self.assertIn("held", self.block(qid))
        # Released (and flushed): delivered. The release may already start an
        # attempt, so the message may be gone by the time of the list / flush.
        self.srv.ctl_ok("queue", "release", qid)
        blocks = outbound.queue_list(self.srv)
        if qid in blocks:
            self.assertNotIn("held", blocks[qid].splitlines()[0], blocks[qid])
        self.srv.ctl("queue", "flush", qid)
        f.wait_message(tok, timeout=FLUSH_WAIT, server=self.srv)
        outbound.wait_delivered(self.srv, qid, rcpt, timeout=FLUSH_WAIT)
        outbound.wait_queue_gone(self.srv, qid)

    def test_delete_without_dsn(self):
        sender = "sender4@local.test"
        f = self.mx["q3.test"]
        tok, qid, rcpt, _ = self.deferred_message("q3.test", sender)
        self.srv.ctl_ok("queue", "delete", qid)
        outbound.wait_queue_gone(self.srv, qid)
        self.assertNotIn(qid, outbound.queue_list(self.srv))
        # Deleting it again: it is unknown now.
        rc, out, err = self.srv.ctl("queue", "delete", qid)
        self.assertEqual(rc, 1, (out, err))
        self.assertTrue(err.strip(), "no message on stderr")
        # A flush does not bring it back, and no DSN was sent.
        f.rcpt_reply = None
        self.srv.ctl_ok("queue", "flush")
        tok2 = token()
        rcpt2 = "v-%s@q3.test" % tok2[:6]
        qid2 = outbound.submit(self.srv, sender, [rcpt2], make_message(tok2, to=rcpt2))
        f.wait_message(tok2, server=self.srv)
        outbound.wait_queue_gone(self.srv, qid2)
        self.assertEqual(f.messages_with(tok), [], "a deleted message was delivered")
        self.assertEqual(outbound.events_for(self.srv, "dsn", qid), [])
        self.assertEqual(outbound.events_for(self.srv, "bounced", qid), [])
        self.assertEqual(self.srv.messages(sender), [], "DSN after delete")

    def test_unknown_id(self):
        for args in (("show",), ("hold",), ("release",), ("delete",), ("flush",)):
            rc, out, err = self.srv.ctl("queue", *args, UNKNOWN_ID)
            self.assertEqual(rc, 1, "queue %s UNKNOWN: rc=%d out=%r err=%r"
                             % (args[0], rc, out, err))
            self.assertTrue(err.strip(), "queue %s UNKNOWN: nothing on stderr" % args[0])

    def test_list_exit_status(self):
        rc, out, err = self.srv.ctl("queue", "list")
        self.assertEqual(rc, 0, (out, err))



class PolicyExplain(outbound.OutboundTestCase):
    """`sealmail policy explain DOMAIN`: which level applies and which rule
    (with the file and line) set it. Needs no peer, only the configuration."""

    @classmethod
    def setUpClass(cls):
        outbound.need_peers()
        cls.srv = cls.outbound_class_server(
            "127.0.0.1:%d" % outbound.free_udp_tcp_port(), 2525, tls="may", domains=POLICIES,
            routes=(("routed.test", "127.16.0.9:2600"),), check_greeting=False)

    def explain(self, domain):
        out = self.srv.ctl_ok("policy", "explain", domain)
        fields = {}
        for line in out.splitlines():
            m = re.match(r"^\s*([a-z][\w -]*?):\s*(.*)$", line)
            if m:
                fields.setdefault(m.group(1).lower(), m.group(2))
        return out, fields

    def check_rule(self, out, fields, section_key, line_no):
        rule = fields.get("rule", "")
        self.assertIn(section_key, rule, out)
        self.assertRegex(rule, r"\bline %d\b" % line_no, out)
        self.assertIn("(%s line %d)" % (self.srv.conf, line_no), rule, out)

    def test_policy_explain_exact_rule(self):
        out, fields = self.explain("secure.test")
        self.assertEqual(fields.get("domain"), "secure.test", out)
        self.assertEqual(fields.get("level"), "verify", out)
        self.check_rule(out, fields, "[outbound.domains] secure.test",
                        self.srv.config_line(r"^secure\.test\s*="))
        self.assertIn("route", fields, out)

    def test_policy_explain_case_insensitive(self):
        out, fields = self.explain("SeCure.TEST")
        self.assertEqual(fields.get("level"), "verify", out)

    def test_policy_explain_subdomain_rule(self):
        out, fields = self.explain("mail.sub.example.test")
        self.assertEqual(fields.get("level"), "encrypt", out)
        self.check_rule(out, fields, "[outbound.domains] .example.test",
                        self.srv.config_line(r"^\.example\.test\s*="))

    def test_policy_explain_default(self):
        out, fields = self.explain("elsewhere.test")
        self.assertEqual(fields.get("domain"), "elsewhere.test", out)
        self.assertEqual(fields.get("level"), "may", out)
        self.assertIn("[outbound] tls", fields.get("rule", ""), out)

    def test_policy_explain_match_names(self):
        out, fields = self.explain("partner.test")
        self.assertEqual(fields.get("level"), "verify", out)
        self.assertIn("mx1.partner.net", out)
        self.assertIn("mx2.partner.net", out)

    def test_policy_explain_route(self):
        out, fields = self.explain("routed.test")
        self.assertIn("127.16.0.9", fields.get("route", ""), out)
        self.assertIn("2600", fields.get("route", ""), out)


if __name__ == "__main__":
    harness.main()
