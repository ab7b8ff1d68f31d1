#!/usr/bin/python3
"""SMTP smuggling (CVE-2023-51764 class): only <CRLF>.<CRLF> ends DATA. A bare
CR or bare LF around a dot must never end the message early, so the text after
it can never become a second, smuggled message."""

import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import SENDER, split_delivered, token

EVIL = "evil@smuggler.test"

# The end-of-data look-alikes; the name is used in failure messages.
VARIANTS = {
    "LF.LF": b"\n.\n",
    "CR.CR": b"\r.\r",
    "LF.CRLF": b"\n.\r\n",
    "CRLF.LF": b"\r\n.\n",
    "CR.CRLF": b"\r.\r\n",
    "CRLF.CR": b"\r\n.\r",
    "LF.CR": b"\n.\r",
    "CRLF.NUL.CRLF": b"\r\n\x00.\r\n",
}


def payload(tok, variant):
    """The legitimate message, the look-alike, then a complete smuggled
    transaction whose own final CRLF.CRLF is the real end of the data."""
    legit = (b"From: <%s>\r\nTo: <bob@local.test>\r\nSubject: legit %s\r\n"
             b"X-Test-Token: %s\r\n\r\nlegit body" % (SENDER.encode(), tok.encode(), tok.encode()))
    smuggled = (b"MAIL FROM:<%s>\r\nRCPT TO:<bob@local.test>\r\nDATA\r\n"
                b"From: <%s>\r\nSubject: smuggled %s\r\nX-Smuggled: %s\r\n\r\nsmuggled body\r\n"
                % (EVIL.encode(), EVIL.encode(), tok.encode(), tok.encode()))
    return legit + variant, smuggled + b".\r\n"


class Smuggling(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(listeners={"mx": "optional", "smtps": "implicit"})

    def run_variant(self, name, variant, mode, listener="mx"):
        tok = token()
        head, tail = payload(tok, variant)
        d = self.srv.dialog(listener)
        self.addCleanup(d.close)
        d.ehlo()
        d.send("MAIL FROM:<%s>\r\nRCPT TO:<bob@local.test>\r\nDATA\r\n" % SENDER)
        codes = [r.code for r in d.read_replies(3)]
        self.assertEqual(codes, [250, 250, 354])
        if mode == "one-write":
            d.send(head + tail + b"QUIT\r\n")
        else:
            # Every byte of the look-alike in its own read on the server side.
            legit = head[:-len(variant)]
            d.send(legit)
            if listener == "mx":
                harness.wait_peer_consumed(d.raw)
            for i in range(len(variant)):
                d.send(variant[i:i + 1])
                if listener == "mx":
                    harness.wait_peer_consumed(d.raw)
            d.send(tail)
            if listener == "mx":
                harness.wait_peer_consumed(d.raw)
            d.send(b"QUIT\r\n")
        replies = d.replies_until_close()
        codes = [r.code for r in replies]
        where = "variant %s (%r), %s on %s: replies %s" % (
            name, variant, mode, listener, [str(r) for r in replies])
        # Exactly one end-of-data reply, then QUIT's 221. The look-alike is
        # data: the message (look-alike and smuggled text included) is
        # accepted as one.
        self.assertEqual(codes, [250, 221], where)
        return tok

    def check_mailboxes(self, results):
        # Wait until everything accepted has been delivered, then look.
        for tok in results:
            harness.wait_for(lambda: self.srv.messages_with("legit " + tok),
                             what="delivery of %s" % tok)
        self.srv.wait_queue_empty()
        for tok in results:
            msgs = self.srv.messages_with(tok)
            self.assertEqual(len(msgs), 1, "token %s delivered %d times" % (tok, len(msgs)))
            for m in msgs:
                rp, dt, received, rest = split_delivered(m)
                self.assertEqual(rp, "<%s>" % SENDER)
                self.assertIn(b"Subject: legit " + tok.encode(), rest)
        for path, data in self.srv.all_maildir_files().items():
            rp = data.split(b"\n", 1)[0]
            self.assertNotIn(EVIL.encode(), rp, "smuggled message delivered: %s" % path)
            self.assertFalse(data.startswith(b"From: <%s>" % EVIL.encode()), path)
        self.assertEqual([e["_line"] for e in self.srv.events("queued") if EVIL in e["_line"]],
                         [])

    def test_variants_one_write(self):
        results = [self.run_variant(n, v, "one-write") for n, v in VARIANTS.items()]
        self.check_mailboxes(results)

    def test_variants_split_reads(self):
        results = [self.run_variant(n, v, "split") for n, v in VARIANTS.items()]
        self.check_mailboxes(results)

    def test_variants_over_tls(self):
        results = [self.run_variant(n, v, "one-write", listener="smtps")
                   for n, v in VARIANTS.items()]
        self.check_mailboxes(results)

    def test_real_end_of_data_still_works_after_lookalikes(self):
        # All look-alikes inside one message, then a real CRLF.CRLF: exactly one
        # message, and the next transaction in the same session is separate.
        tok, tok2 = token(), token()
        d = self.srv.dialog()
        self.addCleanup(d.close)
        d.ehlo()
        d.expect("MAIL FROM:<%s>" % SENDER, 250)
        d.expect("RCPT TO:<bob@local.test>", 250)
        d.expect("DATA", 354)
        body = b"Subject: all %s\r\n\r\nstart" % tok.encode()
        for v in VARIANTS.values():
            body += v + b"x"
        d.send(body + b"\r\n.\r\n")
        r = d.read_reply()
        self.assertEqual(r.code, 250, str(r))
        d.mail_transaction(SENDER, ["bob@local.test"], harness.make_message(tok2))
        d.quit()
        harness.wait_for(lambda: self.srv.messages_with(tok2), what="second message")
        self.srv.wait_queue_empty()
        self.assertEqual(len(self.srv.messages_with("all " + tok)), 1)
        [m2] = self.srv.messages_with(tok2)
        self.assertNotIn(b"all " + tok.encode(), m2)


if __name__ == "__main__":
    harness.main()
