#!/usr/bin/python3
"""Outbound delivery, part 5: retries, the message lifetime, bounces and
delivery status notifications (RFC 3461/3464): a 451 then success, a 451
until max_lifetime, an immediate bounce on 550, mixed results in one
message, the null sender (never a DSN), NOTIFY=NEVER, ENVID, ORCPT, RET,
and delay notices.

Addresses of this file: 127.14.0.0/16."""

import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
import outbound  # noqa: E402
from harness import make_message, token  # noqa: E402
from outbound import a, mx  # noqa: E402

NET = "127.14.0."
R451 = "451 4.3.0 Temporary failure, try again later"
R550 = "550 5.1.1 No such user here"


def records():
    out = []
    for domain, n in (("retry.test", 1), ("always451.test", 2), ("reject.test", 3),
                      ("mixed.test", 4), ("delay.test", 5), ("withdsn.test", 6),
                      ("nodsn.test", 7), ("refuse.test", 8), ("fwd.test", 9)):
        out += mx(domain, (10, "mx." + domain)) + a("mx." + domain, NET + str(n))
    return out


class RetryAndBounce(outbound.OutboundTestCase):

    @classmethod
    def setUpClass(cls):
        outbound.need_peers()
        cls.port = outbound.common_port([NET + str(n) for n in (1, 2, 3, 4)])
        cls.retry = cls.fake(NET + "1", cls.port, name="mx.retry.test",
                             rcpt_reply=R451, rcpt_fail_times=1)
        cls.always = cls.fake(NET + "2", cls.port, name="mx.always451.test", rcpt_reply=R451)
        cls.reject = cls.fake(NET + "3", cls.port, name="mx.reject.test", rcpt_reply=R550)
        cls.mixed = cls.fake(NET + "4", cls.port, name="mx.mixed.test",
                             rcpt_replies={"bad@mixed.test": "550 5.1.1 <bad@mixed.test>: "
                                           "Recipient address rejected: unknown user"})
        cls.dns = cls.start_unbound(records())
        cls.srv = cls.outbound_class_server(cls.dns.resolver(), cls.port, tls="may",
                                            retry="1s 1s 2s", max_lifetime="6s",
                                            delay_warning="0")

    def test_ehlo_advertises_dsn(self):
        with self.srv.dialog() as d:
            self.assertIn("DSN", d.ehlo().keywords)
            d.quit()

    def test_451_then_success(self):
        sender = "sender1@local.test"
        tok = token()
        rcpt = "user@retry.test"
        qid = outbound.submit(self.srv, sender, [rcpt], make_message(tok, sender=sender, to=rcpt))
        ev = outbound.wait_deferred(self.srv, qid, rcpt)
        self.assertIn("451", ev.get("reason", ""), ev["_line"])
        [tx] = self.retry.wait_message(tok, timeout=outbound.SLOW, server=self.srv)
        outbound.wait_delivered(self.srv, qid, rcpt)
        outbound.wait_queue_gone(self.srv, qid)
        # One refused attempt, one that went through.
        self.assertEqual(len([c for c in self.retry.commands()
                              if c.verb == "RCPT" and rcpt in c.line]), 2,
                         self.retry.describe())
        self.assertEqual(len(self.retry.messages_with(tok)), 1, "delivered twice")
        self.assertEqual(outbound.events_for(self.srv, "bounced", qid), [])
        # A DSN would be logged before the message left the queue.
        self.assertEqual(outbound.events_for(self.srv, "dsn", qid), [],
                         "a DSN for a delivered message")
        self.assertEqual(self.srv.messages(sender), [], "a DSN for a delivered message")
        self.check_fakes_healthy(self.retry)

    def test_lifetime_expiry_returns_message(self):
        # Two messages that can never be delivered (451 forever): one from a
        # local sender gets a DSN after max_lifetime, one from the null
        # sender bounces without any DSN.
        sender = "sender2@local.test"
        tok = token()
        rcpt = "user@always451.test"
        qid = outbound.submit(self.srv, sender, [rcpt], make_message(tok, sender=sender, to=rcpt))
        tok0 = token()
        rcpt0 = "null@always451.test"
        qid0 = outbound.submit(self.srv, "", [rcpt0],
                               make_message(tok0, sender="MAILER-DAEMON@local.test", to=rcpt0))
        ev = outbound.wait_deferred(self.srv, qid, rcpt)
        self.assertIn("451", ev.get("reason", ""), ev["_line"])
        [dsn] = outbound.wait_dsn(self.srv, sender, tok)
        outbound.assert_failure_dsn(self, dsn, rcpt, "451", "try again later")
        self.assertGreaterEqual(len([c for c in self.always.commands()
                                     if c.verb == "RCPT" and rcpt in c.line]), 2,
                                "bounced without retrying:\n" + self.always.describe())
        outbound.wait_bounced(self.srv, qid, rcpt)
        d = self.srv.wait_event("dsn", id=qid)[0]
        self.assertEqual(d.get("kind"), "failed", d["_line"])
        outbound.wait_queue_gone(self.srv, qid)
        # The null sender's message: bounced, no DSN, gone.
        outbound.wait_bounced(self.srv, qid0, rcpt0)
        outbound.wait_queue_gone(self.srv, qid0)
        self.assertEqual(outbound.events_for(self.srv, "dsn", qid0), [])
        self.assertEqual(self.srv.messages_with(tok0), [], "a DSN for a null-sender message")
        self.assertEqual(self.always.messages_with(tok0), [])

    def test_550_bounces_at_once(self):
        sender = "sender3@local.test"
        tok = token()
        rcpt = "nobody@reject.test"
        qid = outbound.submit(self.srv, sender, [rcpt], make_message(tok, sender=sender, to=rcpt))
        ev = outbound.wait_bounced(self.srv, qid, rcpt)
        self.assertIn("550", ev.get("reason", ""), ev["_line"])
        [dsn] = outbound.wait_dsn(self.srv, sender, tok)
        outbound.assert_failure_dsn(self, dsn, rcpt, "5.1.1", "No such user here")
        block = dsn.recipient(rcpt)
        self.assertEqual(block.get("action", "").lower(), "failed", block)
        self.assertTrue(block.get("status", "").startswith("5.1.1"), block)
        self.assertIn("550", block.get("diagnostic-code", ""), block)
        self.assertEqual(outbound.events_for(self.srv, "deferred", qid), [], "a 550 was retried")
        d = self.srv.wait_event("dsn", id=qid)[0]
        self.assertEqual(d.get("kind"), "failed", d["_line"])
        self.assertTrue(d.get("dsn_id"), d["_line"])
        # The DSN itself is a message delivered here (to the local sender),
        # from the null sender (RFC 3461 6.2: no DSN about a DSN).
        self.assertRegex(dsn.text, r"(?m)^Return-Path: <>")
        self.assertIn("Subject: ", dsn.text)
        self.assertIn(tok, dsn.original, "the original headers are not in the DSN")
        outbound.wait_queue_gone(self.srv, qid)
        self.assertEqual(self.reject.messages_with(tok), [])

    def test_mixed_recipients(self):
        sender = "sender4@local.test"
        tok = token()
        good, bad = "good@mixed.test", "bad@mixed.test"
        qid = outbound.submit(self.srv, sender, [good, bad],
                              make_message(tok, sender=sender, to=good))
        [tx] = self.mixed.wait_message(tok, server=self.srv)
        self.assertEqual(tx.rcpt_addresses(), [good])
        outbound.wait_delivered(self.srv, qid, good)
        outbound.wait_bounced(self.srv, qid, bad)
        [dsn] = outbound.wait_dsn(self.srv, sender, tok)
        outbound.assert_failure_dsn(self, dsn, bad, "unknown user")
        self.assertIsNone(dsn.recipient(good), "the delivered recipient is in the DSN:\n%r" % dsn)
        outbound.wait_queue_gone(self.srv, qid)

    def test_null_sender_550_no_dsn(self):
        tok = token()
        rcpt = "nobody@reject.test"
        qid = outbound.submit(self.srv, "", [rcpt], make_message(tok, to=rcpt))
        ev = outbound.wait_bounced(self.srv, qid, rcpt)
        self.assertIn("550", ev.get("reason", ""), ev["_line"])
        outbound.wait_queue_gone(self.srv, qid)
        self.assertEqual(outbound.events_for(self.srv, "dsn", qid), [])
        self.assertEqual(self.srv.messages_with(tok), [])

    def test_notify_never_no_dsn(self):
        sender = "sender5@local.test"
        tok = token()
        rcpt = "nobody@reject.test"
        qid = outbound.submit(self.srv, sender, [rcpt], make_message(tok, sender=sender, to=rcpt),
                              rcpt_params="NOTIFY=NEVER")
        ev = outbound.wait_bounced(self.srv, qid, rcpt)
        self.assertIn("550", ev.get("reason", ""), ev["_line"])
        outbound.wait_queue_gone(self.srv, qid)
        # A later message from the same sender that does get a DSN: once it
        # is there, the first one would have been there too.
        tok2 = token()
        qid2 = outbound.submit(self.srv, sender, [rcpt], make_message(tok2, sender=sender, to=rcpt))
        outbound.wait_dsn(self.srv, sender, tok2)
        outbound.wait_queue_gone(self.srv, qid2)
        self.assertEqual(outbound.events_for(self.srv, "dsn", qid), [])
        self.assertEqual(outbound.find_dsns(self.srv, sender, tok), [])
        self.assertEqual(len(self.srv.messages(sender)), 1, "NOTIFY=NEVER still got a DSN")

    def dsn_with_params(self, sender, ret):
        tok = token()
        envid = "envid-" + tok
        marker = "BODY-MARKER-" + tok
        rcpt = "nobody@reject.test"
        msg = make_message(tok, sender=sender, to=rcpt,
                           body="first body line\r\n%s\r\n" % marker)
        qid = outbound.submit(self.srv, sender, [rcpt], msg,
                              mail_params="RET=%s ENVID=%s" % (ret, envid),
                              rcpt_params="NOTIFY=SUCCESS,FAILURE,DELAY "
                                          "ORCPT=rfc822;original@reject.test")
        [dsn] = outbound.wait_dsn(self.srv, sender, tok)
        outbound.assert_failure_dsn(self, dsn, rcpt, "No such user here")
        self.assertEqual(dsn.per_message.get("original-envelope-id"), envid,
                         "per-message fields: %r\n%r" % (dsn.per_message, dsn))
        self.assertRegex(dsn.text, r"(?mi)^Original-Envelope-Id: %s\s*$" % re.escape(envid))
        block = dsn.recipient(rcpt)
        self.assertEqual(re.sub(r"\s+", "", block.get("original-recipient", "")).lower(),
                         "rfc822;original@reject.test", block)
        outbound.wait_queue_gone(self.srv, qid)
        return dsn, marker

    def test_dsn_envid_orcpt_ret_hdrs(self):
        dsn, marker = self.dsn_with_params("sender6@local.test", "HDRS")
        self.assertNotIn(marker, dsn.text, "RET=HDRS returned the body")
        self.assertIn("text/rfc822-headers", dsn.text.lower())

    def test_dsn_ret_full(self):
        dsn, marker = self.dsn_with_params("sender7@local.test", "FULL")
        self.assertIn(marker, dsn.text, "RET=FULL did not return the body")
        self.assertIn("message/rfc822", dsn.text.lower())


class DelayWarning(outbound.OutboundTestCase):
    """delay_warning = 1s: a "delayed" DSN while the message is retried,
    then the failure DSN after max_lifetime."""

    @classmethod
    def setUpClass(cls):
        outbound.need_peers()
        cls.port = outbound.common_port([NET + "5"])
        cls.mxf = cls.fake(NET + "5", cls.port, name="mx.delay.test", rcpt_reply=R451)
        cls.dns = cls.start_unbound(records())
        cls.srv = cls.outbound_class_server(cls.dns.resolver(), cls.port, tls="may",
                                            retry="1s", max_lifetime="5s",
                                            delay_warning="1s")

    def test_delay_notice_then_failure(self):
        sender = "sender8@local.test"
        tok = token()
        rcpt = "slow@delay.test"
        qid = outbound.submit(self.srv, sender, [rcpt], make_message(tok, sender=sender, to=rcpt))
        delayed = self.srv.wait_event("dsn", id=qid, kind="delayed", timeout=outbound.SLOW)
        self.assertEqual(len(delayed), 1, delayed)

        def delayed_dsn():
            for d in outbound.find_dsns(self.srv, sender, tok):
                b = d.recipient(rcpt)
                if b and b.get("action", "").lower() == "delayed":
                    return d
            return None
        d = harness.wait_for(delayed_dsn, outbound.SLOW, what="delayed DSN")
        self.assertTrue(d.recipient(rcpt).get("status", "").startswith("4."), d)
        self.assertEqual(d.report_type(), "delivery-status")
        # Then the failure, once.
        self.srv.wait_event("dsn", id=qid, kind="failed", timeout=outbound.SLOW)
        outbound.wait_queue_gone(self.srv, qid)

        def failed_dsns():
            return [x for x in outbound.find_dsns(self.srv, sender, tok)
                    if (x.recipient(rcpt) or {}).get("action", "").lower() == "failed"]
        [f] = harness.wait_for(failed_dsns, outbound.SLOW, what="failure DSN")
        outbound.assert_failure_dsn(self, f, rcpt, "451")
        self.assertEqual(len(outbound.events_for(self.srv, "dsn", qid)), 2,
                         outbound.events_for(self.srv, "dsn", qid))


class SuccessNotices(outbound.OutboundTestCase):
    """NOTIFY=SUCCESS (RFC 3461 5.2): relayed to a server that offers DSN,
    the request goes on with the message and sealmail sends nothing; to one
    that does not, an "Action: relayed" notice; delivered here, "Action:
    delivered"."""

    @classmethod
    def setUpClass(cls):
        outbound.need_peers()
        cls.port = outbound.common_port([NET + "6", NET + "7"])
        cls.withdsn = cls.fake(NET + "6", cls.port, name="mx.withdsn.test")
        cls.nodsn = cls.fake(NET + "7", cls.port, name="mx.nodsn.test", dsn=False)
        cls.dns = cls.start_unbound(records())
        cls.srv = cls.outbound_class_server(cls.dns.resolver(), cls.port, tls="may",
                                            retry="1s", max_lifetime="6s",
                                            delay_warning="0",
                                            server={"aliases": ["@other.test: catch@withdsn.test"]})

    def submit_success(self, sender, rcpt):
        tok = token()
        qid = outbound.submit(self.srv, sender, [rcpt], make_message(tok, sender=sender, to=rcpt),
                              mail_params="RET=HDRS ENVID=env-" + tok,
                              rcpt_params="NOTIFY=SUCCESS ORCPT=rfc822;orig+2B1@x.test")
        return tok, qid

    def test_dsn_server_gets_the_request_and_no_notice_is_sent(self):
        sender = "sender11@local.test"
        rcpt = "user@withdsn.test"
        tok, qid = self.submit_success(sender, rcpt)
        [tx] = self.withdsn.wait_message(tok, server=self.srv)
        outbound.wait_delivered(self.srv, qid, rcpt)
        outbound.wait_queue_gone(self.srv, qid)
        cmds = [c.line for c in self.withdsn.commands()
                if c.verb in ("MAIL", "RCPT") and (tok in c.line or rcpt in c.line)]
        mail = [c for c in cmds if c.startswith("MAIL")]
        rcpt_lines = [c for c in cmds if c.startswith("RCPT")]
        self.assertEqual(len(rcpt_lines), 1, cmds)
        self.assertIn("RET=HDRS", mail[0], cmds)
        self.assertIn("ENVID=env-" + tok, mail[0], cmds)
        self.assertIn("NOTIFY=SUCCESS", rcpt_lines[0], cmds)
        self.assertIn("ORCPT=rfc822;orig+2B1@x.test", rcpt_lines[0], cmds)
        # A DSN is logged before the message leaves the queue.
        self.assertEqual(outbound.events_for(self.srv, "dsn", qid), [],
                         "a notice of our own besides the next hop's")
        self.assertEqual(outbound.find_dsns(self.srv, sender, tok), [])

    def test_server_without_dsn_gets_a_relayed_notice(self):
        sender = "sender12@local.test"
        rcpt = "user@nodsn.test"
        tok, qid = self.submit_success(sender, rcpt)
        [tx] = self.nodsn.wait_message(tok, server=self.srv)
        rcpt_lines = [c.line for c in self.nodsn.commands()
                      if c.verb == "RCPT" and rcpt in c.line]
        self.assertNotIn("NOTIFY", rcpt_lines[0])
        [dsn] = outbound.wait_dsn(self.srv, sender, tok)
        block = dsn.recipient(rcpt)
        self.assertIsNotNone(block, dsn)
        self.assertEqual(block.get("action", "").lower(), "relayed", "%r\n%r" % (block, dsn))
        self.assertTrue(block.get("status", "").startswith("2."), block)
        self.assertEqual(re.sub(r"\s+", "", block.get("original-recipient", "")),
                         "rfc822;orig+1@x.test", block)
        self.assertEqual(dsn.per_message.get("original-envelope-id"), "env-" + tok, dsn)
        outbound.wait_queue_gone(self.srv, qid)
        self.assertEqual(len(outbound.events_for(self.srv, "dsn", qid)), 1)

    def test_catch_all_orcpt_is_xtext(self):
        # The catch-all names the address the client gave as ORCPT; one
        # with a space must go out as xtext (RFC 3461 4.2), and the message
        # must not fail as a whole for it.
        sender = "sender14@local.test"
        tok = token()
        rcpt = '"a b+c=d"@other.test'
        qid = outbound.submit(self.srv, sender, [rcpt], make_message(tok, sender=sender),
                              rcpt_params="NOTIFY=SUCCESS")
        [tx] = self.withdsn.wait_message(tok, server=self.srv)
        [line] = [c.line for c in self.withdsn.commands()
                  if c.verb == "RCPT" and "catch@withdsn.test" in c.line]
        self.assertIn("<catch@withdsn.test>", line)
        self.assertIn(' ORCPT=rfc822;"a+20b+2Bc+3Dd"@other.test', line)
        self.assertEqual(line.count(" "), 3, line)  # RCPT, TO:<>, NOTIFY, ORCPT
        outbound.wait_queue_gone(self.srv, qid)

    def test_local_delivery_gets_a_delivered_notice(self):
        sender = "sender13@local.test"
        rcpt = "bob@local.test"
        tok, qid = self.submit_success(sender, rcpt)
        [dsn] = outbound.wait_dsn(self.srv, sender, tok)
        block = dsn.recipient(rcpt)
        self.assertIsNotNone(block, dsn)
        self.assertEqual(block.get("action", "").lower(), "delivered", "%r\n%r" % (block, dsn))
        outbound.wait_queue_gone(self.srv, qid)
        self.assertEqual(len(outbound.events_for(self.srv, "dsn", qid)), 1)


class UntrustedSenders(outbound.OutboundTestCase):
    """A client that neither logged in nor is trusted chooses the sender
    that notices go to: its NOTIFY=SUCCESS and NOTIFY=DELAY are not
    honoured (nor passed on), and RET=FULL counts as RET=HDRS; failure
    notices still go out, with the headers only."""

    @classmethod
    def setUpClass(cls):
        outbound.need_peers()
        cls.port = outbound.common_port([NET + "8", NET + "9"])
        cls.refuse = cls.fake(NET + "8", cls.port, name="mx.refuse.test", rcpt_reply=R550)
        cls.fwd = cls.fake(NET + "9", cls.port, name="mx.fwd.test")
        cls.dns = cls.start_unbound(records())
        cls.srv = cls.outbound_class_server(
            cls.dns.resolver(), cls.port, tls="may", retry="1s", max_lifetime="6s",
            delay_warning="0", trusted="192.0.2.0/24",  # 127.0.0.1 is an outsider
            server={"aliases": ["refused@local.test: nobody@refuse.test",
                                "fwd@local.test: user@fwd.test"]})

    def test_success_and_full_not_honoured(self):
        victim = "sender15@local.test"
        tok = token()
        qid = outbound.submit(self.srv, victim, ["bob@local.test"],
                              make_message(tok, sender=victim), mail_params="RET=FULL",
                              rcpt_params="NOTIFY=SUCCESS")
        harness.wait_for(lambda: [m for m in self.srv.messages("bob@local.test")
                                  if tok.encode() in m], what="the copy for bob")
        outbound.wait_queue_gone(self.srv, qid)
        self.assertEqual(outbound.events_for(self.srv, "dsn", qid), [],
                         "a success notice on an outsider's word")
        # A failure still gets its notice, with the headers only.
        tok2 = token()
        marker = "BODY-MARKER-" + tok2
        qid2 = outbound.submit(self.srv, victim, ["refused@local.test"],
                               make_message(tok2, sender=victim, body=marker + "\r\n"),
                               mail_params="RET=FULL",
                               rcpt_params="NOTIFY=SUCCESS,FAILURE,DELAY")
        [dsn] = outbound.wait_dsn(self.srv, victim, tok2)
        outbound.assert_failure_dsn(self, dsn, "nobody@refuse.test", "No such user here")
        self.assertNotIn(marker, dsn.text, "RET=FULL honoured for an outsider")
        self.assertIn("text/rfc822-headers", dsn.text.lower())
        outbound.wait_queue_gone(self.srv, qid2)
        self.assertEqual(len(self.srv.messages(victim)), 1, "more than the failure notice")
        self.assertEqual(outbound.find_dsns(self.srv, victim, tok), [])

    def test_success_not_passed_on(self):
        victim = "sender16@local.test"
        tok = token()
        qid = outbound.submit(self.srv, victim, ["fwd@local.test"],
                              make_message(tok, sender=victim), mail_params="RET=FULL",
                              rcpt_params="NOTIFY=SUCCESS,DELAY")
        [tx] = self.fwd.wait_message(tok, server=self.srv)
        outbound.wait_queue_gone(self.srv, qid)
        lines = [c.line for c in self.fwd.commands()
                 if (c.verb == "MAIL" and victim in c.line) or
                 (c.verb == "RCPT" and "user@fwd.test" in c.line)]
        [mail] = [ln for ln in lines if ln.startswith("MAIL")]
        rcpts = [ln for ln in lines if ln.startswith("RCPT")]
        self.assertIn("RET=HDRS", mail, lines)
        self.assertNotIn("SUCCESS", " ".join(rcpts), lines)
        self.assertNotIn("DELAY", " ".join(rcpts), lines)
        self.assertIn("NOTIFY=FAILURE", rcpts[0], lines)
        self.assertEqual(outbound.events_for(self.srv, "dsn", qid), [])


if __name__ == "__main__":
    harness.main()
