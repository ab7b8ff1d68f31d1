#!/usr/bin/python3
"""Delivery: STARTTLS with smtplib, byte-exact bodies, dot-stuffing, 8-bit,
several recipients, the headers sealmail adds, logs, and swaks."""

import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import SENDER, crlf_to_lf, make_message, split_delivered, token


class Delivery(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(listeners={"mx": "optional"})

    def check_delivered(self, data, sender, rcpt, sent):
        rp, dt, received, rest = split_delivered(data)
        self.assertEqual(rp, "<%s>" % sender)
        self.assertEqual(dt, rcpt)
        self.assertEqual(rest, crlf_to_lf(sent), "body differs from what was sent")
        return received

    def test_starttls_smtplib_delivery(self):
        tok = token()
        msg = make_message(tok)
        s = harness.smtp_starttls(self.srv.port())
        version, cipher = s.sock.version(), s.sock.cipher()[0]
        refused = s.sendmail(SENDER, ["bob@local.test"], msg)
        self.assertEqual(refused, {})
        s.quit()
        harness.wait_for(lambda: self.srv.messages_with(tok), what="delivery")
        msgs = self.srv.messages_with(tok)
        self.assertEqual(len(msgs), 1)
        received = self.check_delivered(msgs[0], SENDER, "bob@local.test", msg)
        self.assertRegex(received, r"\bwith ESMTPS\b")
        self.assertIn("version=%s" % version, received)
        self.assertIn("cipher=%s" % cipher, received)
        self.assertIn(harness.HOSTNAME, received)

    def test_plaintext_received_says_esmtp(self):
        tok = token()
        msg = make_message(tok)
        with self.srv.dialog() as d:
            d.ehlo()
            d.mail_transaction(SENDER, ["carol@local.test"], msg)
            d.quit()
        harness.wait_for(lambda: self.srv.messages_with(tok), what="delivery")
        [data] = self.srv.messages_with(tok)
        received = self.check_delivered(data, SENDER, "carol@local.test", msg)
        self.assertRegex(received, r"\bwith ESMTP\b")
        self.assertNotIn("ESMTPS", received)
        self.assertNotIn("cipher=", received)

    def test_dot_stuffing_and_8bit_raw(self):
        tok = token()
        body = (b"first line\r\n"
                b".starts with a dot\r\n"
                b"..two dots\r\n"
                b".\r\n"                        # a line holding only a dot
                b"...\r\n"
                b" . space dot\r\n"
                b"8bit: " + bytes(range(0x80, 0x100)) + b"\r\n"
                b"utf-8: gr\xc3\xbc\xc3\x9fe \xe2\x82\xac \xf0\x9f\x93\xa7\r\n"
                b"tab\tand trailing space \r\n"
                b"\r\n"
                b"last line\r\n")
        msg = make_message(tok, body=body)
        stuffed = harness.dot_stuff(msg)
        self.assertIn(b"\r\n..\r\n", stuffed)
        self.assertIn(b"\r\n..starts with a dot\r\n", stuffed)
        self.assertIn(b"\r\n....\r\n", stuffed)
        with self.srv.dialog() as d:
            d.ehlo()
            d.starttls()
            d.ehlo()
            d.expect("MAIL FROM:<%s> BODY=8BITMIME" % SENDER, 250)
            d.expect("RCPT TO:<dave@local.test>", 250)
            d.expect("DATA", 354)
            d.send(stuffed + b".\r\n")
            r = d.read_reply()
            self.assertEqual(r.code, 250, str(r))
            d.quit()
        harness.wait_for(lambda: self.srv.messages_with(tok), what="delivery")
        [data] = self.srv.messages_with(tok)
        self.check_delivered(data, SENDER, "dave@local.test", msg)

    def test_smtplib_sendmail_bytes_8bit(self):
        tok = token()
        body = b"Gr\xfc\xdfe aus K\xf6ln\r\n.dot line\r\n\xff\xfe\x80\r\n"
        msg = make_message(tok, body=body, to="erin@other.test")
        s = harness.smtp_starttls(self.srv.port())
        self.assertTrue(s.has_extn("8bitmime"))
        s.sendmail(SENDER, ["erin@other.test"], msg, mail_options=["BODY=8BITMIME"])
        s.quit()
        harness.wait_for(lambda: self.srv.messages_with(tok), what="delivery")
        [data] = self.srv.messages_with(tok)
        self.check_delivered(data, SENDER, "erin@other.test", msg)
        path = self.srv.message_files("erin@other.test")
        self.assertTrue(any(p.startswith(self.srv.data_dir + "/mail/other.test/erin/new/")
                            for p in path), path)

    def test_two_recipients_one_copy_each(self):
        tok = token()
        rcpts = ["bob@local.test", "carol@local.test"]
        msg = make_message(tok, to="bob@local.test")
        s = harness.smtp_starttls(self.srv.port())
        self.assertEqual(s.sendmail(SENDER, rcpts, msg), {})
        s.quit()
        harness.wait_for(lambda: len(self.srv.messages_with(tok)) >= 2, what="two copies")
        self.srv.wait_queue_empty()
        for r in rcpts:
            mine = [m for m in self.srv.messages(r) if tok.encode() in m]
            self.assertEqual(len(mine), 1, "%s got %d copies" % (r, len(mine)))
            self.check_delivered(mine[0], SENDER, r, msg)
        self.assertEqual(len(self.srv.messages_with(tok)), 2)

    def test_null_sender(self):
        tok = token()
        msg = make_message(tok, sender="MAILER-DAEMON@sender.test")
        with self.srv.dialog() as d:
            d.ehlo()
            d.expect("MAIL FROM:<>", 250)
            d.expect("RCPT TO:<bob@local.test>", 250)
            d.expect("DATA", 354)
            d.send(harness.dot_stuff(msg) + b".\r\n")
            self.assertEqual(d.read_reply().code, 250)
            d.quit()
        harness.wait_for(lambda: self.srv.messages_with(tok), what="delivery")
        [data] = self.srv.messages_with(tok)
        rp, dt, _, rest = split_delivered(data)
        self.assertEqual(rp, "<>")
        self.assertEqual(rest, crlf_to_lf(msg))

    def test_domain_is_case_insensitive(self):
        tok = token()
        msg = make_message(tok)
        with self.srv.dialog() as d:
            d.ehlo()
            d.expect("MAIL FROM:<%s>" % SENDER, 250)
            d.expect("RCPT TO:<bob@LOCAL.Test>", 250)
            d.expect("DATA", 354)
            d.send(harness.dot_stuff(msg) + b".\r\n")
            self.assertEqual(d.read_reply().code, 250)
            d.quit()
        harness.wait_for(lambda: self.srv.messages_with(tok), what="delivery")
        self.assertTrue(any(tok.encode() in m for m in self.srv.messages("bob@local.test")))

    def test_log_events(self):
        tok = token()
        mark = self.srv.log_mark()
        s = harness.smtp_starttls(self.srv.port())
        s.sendmail(SENDER, ["bob@local.test"], make_message(tok))
        s.quit()
        harness.wait_for(lambda: self.srv.messages_with(tok), what="delivery")
        self.assertTrue(self.srv.events("connect", mark), self.srv.log_tail())
        self.assertTrue(self.srv.events("starttls", mark), self.srv.log_tail())
        queued = harness.wait_for(lambda: self.srv.events("queued", mark), what="event=queued")
        self.assertEqual(len(queued), 1, queued)
        qid = queued[0].get("id")
        self.assertTrue(qid, "event=queued without id=: %s" % queued[0]["_line"])
        delivered = harness.wait_for(
            lambda: [e for e in self.srv.events("delivered", mark) if e.get("id") == qid],
            what="event=delivered id=%s" % qid)
        self.assertEqual(len(delivered), 1, delivered)

    def test_swaks_tls(self):
        tok = token()
        argv = ["swaks", "--server", "127.0.0.1:%d" % self.srv.port(), "--tls",
                "--tls-verify", "--tls-ca-path", harness.ca().cert,
                "--from", SENDER, "--to", "carol@local.test", "--helo", "client.test",
                "--header", "Subject: swaks %s" % tok, "--body", "swaks body %s" % tok]
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        out = p.stdout.decode(errors="replace")
        self.assertEqual(p.returncode, 0, out)
        self.assertRegex(out, r"(?m)^<~\s+250")   # a 250 received inside TLS
        harness.wait_for(lambda: self.srv.messages_with(tok), what="swaks delivery")
        [data] = self.srv.messages_with(tok)
        rp, dt, received, rest = split_delivered(data)
        self.assertEqual(rp, "<%s>" % SENDER)
        self.assertEqual(dt, "carol@local.test")
        self.assertRegex(received, r"\bwith ESMTPS\b")
        self.assertIn(b"swaks body " + tok.encode(), rest)


if __name__ == "__main__":
    harness.main()
