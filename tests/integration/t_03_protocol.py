#!/usr/bin/python3
"""SMTP protocol: pipelining, VRFY/NOOP/RSET/HELP/QUIT, recipient checks,
limits (recipients, size, command line, text line), syntax errors, bare LF."""

import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import SENDER, crlf_to_lf, make_message, split_delivered, token

SIZE_LIMIT = 20000


class Protocol(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(listeners={"mx": "optional"},
                                   limits={"recipients": 3, "message_size": SIZE_LIMIT})

    def dialog(self):
        d = self.srv.dialog()
        self.addCleanup(d.close)
        self.assertEqual(d.greeting.code, 220)
        d.ehlo()
        return d

    def delivered(self, tok, n=1):
        harness.wait_for(lambda: len(self.srv.messages_with(tok)) >= n,
                         what="%d message(s) with %s" % (n, tok))
        self.srv.wait_queue_empty()
        msgs = self.srv.messages_with(tok)
        self.assertEqual(len(msgs), n)
        return msgs

    # -- basics --
    def test_greeting_and_ehlo(self):
        d = self.srv.dialog()
        self.addCleanup(d.close)
        self.assertEqual(d.greeting.code, 220)
        self.assertIn(harness.HOSTNAME, d.greeting.lines[0])
        r = d.ehlo()
        kw = r.keywords
        for k in ("PIPELINING", "SIZE", "8BITMIME", "ENHANCEDSTATUSCODES", "STARTTLS", "HELP"):
            self.assertIn(k, kw, str(r))
        size = [ln for ln in r.lines[1:] if ln.upper().startswith("SIZE")]
        self.assertEqual(size[0].split()[1:], [str(SIZE_LIMIT)], str(r))

    def test_pipelined_transaction(self):
        tok = token()
        d = self.dialog()
        d.send("MAIL FROM:<%s>\r\nRCPT TO:<bob@local.test>\r\nRCPT TO:<nobody@local.test>\r\n"
               "RCPT TO:<carol@local.test>\r\nDATA\r\n" % SENDER)
        replies = d.read_replies(5)
        self.assertEqual([r.code for r in replies], [250, 250, 550, 250, 354],
                         [str(r) for r in replies])
        msg = make_message(tok)
        # The message, the end of data and the next commands in one write.
        d.send(harness.dot_stuff(msg) + b".\r\nNOOP\r\nQUIT\r\n")
        replies = d.replies_until_close()
        self.assertEqual([r.code for r in replies], [250, 250, 221],
                         [str(r) for r in replies])
        msgs = self.delivered(tok, 2)
        rcpts = sorted(split_delivered(m)[1] for m in msgs)
        self.assertEqual(rcpts, ["bob@local.test", "carol@local.test"])
        for m in msgs:
            self.assertEqual(split_delivered(m)[3], crlf_to_lf(msg))

    def test_pipelined_two_transactions(self):
        t1, t2 = token(), token()
        d = self.dialog()
        m1 = harness.dot_stuff(make_message(t1)) + b".\r\n"
        m2 = harness.dot_stuff(make_message(t2)) + b".\r\n"
        d.send("MAIL FROM:<%s>\r\nRCPT TO:<bob@local.test>\r\nDATA\r\n" % SENDER)
        self.assertEqual([r.code for r in d.read_replies(3)], [250, 250, 354])
        d.send(m1 + ("MAIL FROM:<%s>\r\nRCPT TO:<carol@local.test>\r\nDATA\r\n"
                     % SENDER).encode())
        self.assertEqual([r.code for r in d.read_replies(4)], [250, 250, 250, 354])
        d.send(m2)
        self.assertEqual(d.read_reply().code, 250)
        d.quit()
        self.delivered(t1)
        self.delivered(t2)

    def test_vrfy_noop_rset_help_quit(self):
        d = self.dialog()
        d.expect("VRFY bob", 252)
        d.expect("VRFY <bob@local.test>", 252)
        d.expect("NOOP", 250)
        r = d.expect("HELP", 214, "2.0.0")
        self.assertIn(" STARTTLS", r.text)  # offered on this listener before TLS
        d.expect("MAIL FROM:<%s>" % SENDER, 250)
        d.expect("RCPT TO:<bob@local.test>", 250)
        d.expect("RSET", 250)
        r = d.expect("RCPT TO:<bob@local.test>", 503)        # RSET forgot the MAIL
        self.assertEqual(r.enhanced, "5.5.1", str(r))
        d.expect("MAIL FROM:<%s>" % SENDER, 250)
        r = d.cmd("MAIL FROM:<%s>" % SENDER)                  # nested MAIL
        self.assertEqual(r.code, 503, str(r))
        d.expect("RSET", 250)
        d.expect("DATA", 503, "5.5.1")                        # no MAIL, no RCPT
        d.expect("FOOBAR", 500, "5.5.2")
        r = d.cmd("QUIT")
        self.assertEqual(r.code, 221)
        d.expect_closed()

    def test_rcpt_before_mail(self):
        d = self.dialog()
        d.expect("RCPT TO:<bob@local.test>", 503, "5.5.1")

    def test_data_without_valid_recipient(self):
        d = self.dialog()
        d.expect("MAIL FROM:<%s>" % SENDER, 250)
        d.expect("RCPT TO:<nobody@local.test>", 550)
        d.expect("DATA", 554, "5.5.1")
        d.expect("NOOP", 250)

    # -- recipients --
    def test_unknown_local_user(self):
        d = self.dialog()
        d.expect("MAIL FROM:<%s>" % SENDER, 250)
        d.expect("RCPT TO:<nobody@local.test>", 550, "5.1.1")
        d.expect("RCPT TO:<nobody@other.test>", 550, "5.1.1")
        d.expect("RCPT TO:<bob@local.test>", 250)

    def test_relay_refused(self):
        d = self.dialog()
        d.expect("MAIL FROM:<%s>" % SENDER, 250)
        for rcpt in ("someone@example.com", "bob@sub.local.test", "bob@local.test.example",
                     "bob@[127.0.0.1]"):
            d.expect("RCPT TO:<%s>" % rcpt, 554, "5.7.1")
        d.expect("RCPT TO:<bob@local.test>", 250)

    def test_too_many_recipients(self):
        tok = token()
        d = self.dialog()
        d.expect("MAIL FROM:<%s>" % SENDER, 250)
        for r in ("bob@local.test", "carol@local.test", "dave@local.test"):
            d.expect("RCPT TO:<%s>" % r, 250)
        d.expect("RCPT TO:<erin@other.test>", 452, "4.5.3")
        d.expect("DATA", 354)
        d.send(harness.dot_stuff(make_message(tok)) + b".\r\n")
        self.assertEqual(d.read_reply().code, 250)
        d.quit()
        msgs = self.delivered(tok, 3)
        self.assertEqual(sorted(split_delivered(m)[1] for m in msgs),
                         ["bob@local.test", "carol@local.test", "dave@local.test"])
        self.assertFalse([m for m in self.srv.messages("erin@other.test") if tok.encode() in m])

    # -- size --
    def test_size_parameter_too_large(self):
        d = self.dialog()
        d.expect("MAIL FROM:<%s> SIZE=%d" % (SENDER, SIZE_LIMIT * 10), 552, "5.3.4")
        d.expect("MAIL FROM:<%s> SIZE=1000" % SENDER, 250)
        d.expect("RCPT TO:<bob@local.test>", 250)

    def test_message_too_large(self):
        big, small = token(), token()
        d = self.dialog()
        d.expect("MAIL FROM:<%s>" % SENDER, 250)
        d.expect("RCPT TO:<bob@local.test>", 250)
        d.expect("DATA", 354)
        body = (b"x" * 70 + b"\r\n") * (SIZE_LIMIT * 2 // 72)
        d.send(harness.dot_stuff(make_message(big, body=body)) + b".\r\n")
        r = d.read_reply()
        self.assertEqual((r.code, r.enhanced), (552, "5.3.4"), str(r))
        # The session goes on.
        d.mail_transaction(SENDER, ["bob@local.test"], make_message(small))
        d.quit()
        self.delivered(small)
        self.assertEqual(self.srv.messages_with(big), [])

    # -- line lengths --
    def test_command_line_limit(self):
        d = self.dialog()
        # 512 octets including CRLF is allowed (RFC 5321 4.5.3.1.4)...
        line = "NOOP " + "x" * (512 - 2 - 5)
        self.assertEqual(len(line) + 2, 512)
        d.expect(line, 250)
        # ... one more is not; the rest of the line must not run as a command.
        d.expect("NOOP " + "y" * (513 - 2 - 5), 500, "5.5.2")
        d.expect("NOOP " + "z" * 2000 + " RSET", 500, "5.5.2")
        r = d.cmd("NOOP")
        self.assertEqual(r.code, 250, str(r))
        d.expect("MAIL FROM:<%s>" % SENDER, 250)
        d.expect("RCPT TO:<bob@local.test>", 250)

    def test_long_mail_from_line(self):
        d = self.dialog()
        r = d.cmd("MAIL FROM:<%s@sender.test>" % ("a" * 600))
        self.assertEqual((r.code, r.enhanced), (500, "5.5.2"), str(r))
        d.expect("NOOP", 250)

    def test_text_line_limit(self):
        ok, bad1, bad2, after = token(), token(), token(), token()
        d = self.dialog()
        # 998 octets + CRLF = 1000: allowed.
        d.mail_transaction(SENDER, ["bob@local.test"],
                           make_message(ok, body=b"a" * 998 + b"\r\n"))
        # 999 + CRLF and much longer: refused after the final dot with a 5xx.
        for tok, n in ((bad1, 999), (bad2, 5000)):
            d.expect("MAIL FROM:<%s>" % SENDER, 250)
            d.expect("RCPT TO:<bob@local.test>", 250)
            d.expect("DATA", 354)
            d.send(harness.dot_stuff(make_message(tok, body=b"start\r\n" + b"b" * n +
                                                  b"\r\nend\r\n")) + b".\r\n")
            r = d.read_reply()
            self.assertEqual((r.code, r.enhanced), (554, "5.6.0"),
                             "line of %d octets: %s" % (n + 2, r))
        # The session continues.
        d.mail_transaction(SENDER, ["bob@local.test"], make_message(after))
        d.quit()
        [m] = self.delivered(ok)
        self.assertIn(b"\n" + b"a" * 998 + b"\n", m)
        self.delivered(after)
        self.assertEqual(self.srv.messages_with(bad1), [])
        self.assertEqual(self.srv.messages_with(bad2), [])

    def test_dot_stuffed_line_at_limit(self):
        # The limit counts the line as sent, with its stuffed dot: "." + 996
        # octets is sent as ".." + 996 + CRLF = 1000 octets, which is allowed.
        tok = token()
        d = self.dialog()
        line = b"." + b"d" * 996
        d.mail_transaction(SENDER, ["bob@local.test"],
                           make_message(tok, body=b"x\r\n" + line + b"\r\n"))
        d.quit()
        [m] = self.delivered(tok)
        self.assertIn(b"\n" + line + b"\n", m)

    # -- syntax --
    def test_bad_address_syntax(self):
        d = self.dialog()
        for arg in ("<a b@sender.test>", "<alice@>", "<alice@sender.test", "<@sender.test>",
                    "<alice@sender..test>"):
            r = d.cmd("MAIL FROM:" + arg)
            self.assertEqual(r.code, 501, "MAIL FROM:%s -> %s" % (arg, r))
        d2 = self.dialog()
        d2.expect("MAIL FROM:<%s>" % SENDER, 250)
        for arg in ("<bob@local..test>", "<bob@>", "<bob local.test>", "bob@local.test>"):
            r = d2.cmd("RCPT TO:" + arg)
            self.assertEqual(r.code, 501, "RCPT TO:%s -> %s" % (arg, r))

    def test_client_values_cannot_forge_log_fields(self):
        # A quoted local part that reads like more key=value pairs must stay
        # inside one quoted field of the log line.
        forged = '"x event=delivered relay=local"@sender.test'
        tok = token()
        mark = self.srv.log_mark()
        with self.srv.dialog() as d:
            d.ehlo()
            d.mail_transaction(forged, ["bob@local.test"], make_message(tok))
            d.quit()
        harness.wait_for(lambda: self.srv.messages_with(tok), what="delivery")
        [queued] = [ev for ev in self.srv.events("queued", since=mark)
                    if ev["_line"].count(" id=") == 1]
        line = queued["_line"]
        keys = [k for k, _ in harness.KV_RE.findall(line.split(" role=", 1)[1])]
        self.assertEqual(keys.count("event"), 1, line)
        self.assertNotIn("relay", keys, line)
        self.assertIn(r'from="<\"x event=delivered relay=local\"@sender.test>"', line)

    def test_source_route_and_percent_hack_refused(self):
        d = self.dialog()
        d.expect("MAIL FROM:<%s>" % SENDER, 250)
        for arg in ("<@relay.test:bob@local.test>", "<@a.test,@b.test:bob@local.test>",
                    "<bob%example.com@local.test>", "<example.com!bob@local.test>"):
            r = d.cmd("RCPT TO:" + arg)
            self.assertEqual((r.code, r.enhanced), (501, "5.1.3"), "RCPT TO:%s -> %s" % (arg, r))
        d.expect("RCPT TO:<bob@local.test>", 250)

    def test_unknown_mail_parameter(self):
        d = self.dialog()
        d.expect("MAIL FROM:<%s> FROBNICATE=yes" % SENDER, 555, "5.5.4")

    # -- bare LF / line endings --
    def test_bare_lf_in_command_closes(self):
        for payload in (b"NOOP\n", b"MAIL FROM:<%s>\nRCPT TO:<bob@local.test>\r\n"
                        % SENDER.encode()):
            d = self.dialog()
            d.send(payload)
            replies = d.replies_until_close()
            self.assertEqual(len(replies), 1, [str(r) for r in replies])
            self.assertEqual(replies[0].code, 500, str(replies[0]))

    def test_bare_lf_in_command_is_not_executed(self):
        d = self.dialog()
        d.send(b"MAIL FROM:<%s>\r\nRCPT TO:<bob@local.test>\nDATA\r\n" % SENDER.encode())
        replies = d.replies_until_close()
        self.assertEqual([r.code for r in replies], [250, 500], [str(r) for r in replies])


if __name__ == "__main__":
    harness.main()
