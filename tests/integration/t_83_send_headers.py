#!/usr/bin/python3
"""What `sealmail send` adds to a message: a Received: line that says it
came from a local user over the submission socket (`by HOST (sealmail,
from userid UID, user NAME)`, as Postfix writes `from userid UID`), never a
made-up client address; and, as sendmail and Postfix's cleanup do, Date:
and Message-ID: when the message has none, while a message that has them
keeps its own."""

import email.utils
import os
import pwd
import re
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import token  # noqa: E402

HOST = harness.HOSTNAME
BOB = "bob@local.test"
ME = pwd.getpwuid(os.getuid()).pw_name
DATE = r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}"
MSGID = r"<\d{14}\.[0-9a-f]{16}@%s>" % re.escape(HOST)


def bare(tok, extra=""):
    """A message as a script writes it: LF line ends, no Date: nor
    Message-ID: (unless EXTRA brings them)."""
    return ("From: <%s@%s>\nTo: <%s>\nSubject: bare %s\n%s\nbody %s\n"
            % (ME, HOST, BOB, tok, extra, tok)).encode()


class SendHeaders(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(listeners={"mx": "optional"}, submit_socket=True)

    def send_and_fetch(self, msg, tok):
        rc, out, err = self.srv.send(BOB, input=msg)
        self.assertEqual((rc, out, err), (0, "", ""), self.srv.log_tail())
        [data] = harness.wait_for(lambda: [m for m in self.srv.messages(BOB)
                                           if tok.encode() in m] or None,
                                  what="the copy of %s" % tok)
        return data.replace(b"\r\n", b"\n").decode()

    def head(self, data):
        """(the header as submitted, with what was added to it; the
        Received: field): what follows Return-Path:, Delivered-To:,
        Received-TLS: and Received:, which the server puts first."""
        head = data.split("\n\n", 1)[0]
        m = re.match(r"Return-Path: <[^>]*>\nDelivered-To: %s\nReceived-TLS: [^\n]*\n"
                     r"(Received: [^\n]*(?:\n\t[^\n]*)*)\n" % re.escape(BOB), head)
        self.assertTrue(m, data)
        return head[m.end():], m.group(1)

    def test_received_names_the_local_user(self):
        tok = token()
        data = self.send_and_fetch(bare(tok, "Date: %s\nMessage-ID: <%s@client.test>\n"
                                        % (email.utils.formatdate(localtime=True), tok)), tok)
        _, received = self.head(data)
        self.assertRegex(received,
                         r"^Received: by %s \(sealmail, from userid %d, user %s\)\n"
                         r"\tid [0-9A-Za-z]{18}\n\tfor <%s>;\n\t%s$"
                         % (re.escape(HOST), os.getuid(), re.escape(ME), re.escape(BOB), DATE))
        self.assertNotIn("127.0.0.1", data)
        self.assertNotIn("localhost", received)
        # nor does Received-TLS: give the socket an address
        self.assertRegex(data, r"\nReceived-TLS: none client=local helo=localhost listener=local ")

    def test_bare_message_gets_date_and_message_id(self):
        tok = token()
        before = time.time()
        data = self.send_and_fetch(bare(tok), tok)
        head, _ = self.head(data)
        m = re.fullmatch(r"From: <%s@%s>\nTo: <%s>\nSubject: bare %s\nDate: (%s)\n"
                         r"Message-ID: (%s)" % (re.escape(ME), re.escape(HOST), re.escape(BOB),
                                               tok, DATE, MSGID), head)
        self.assertTrue(m, "not Date: then Message-ID: at the end of the header:\n%s" % data)
        when = email.utils.parsedate_to_datetime(m.group(1)).timestamp()
        self.assertTrue(before - 2 <= when <= time.time() + 2, m.group(1))
        self.assertTrue(data.endswith("\n\nbody %s\n" % tok), data)
        # another message, another Message-ID
        tok2 = token()
        head2, _ = self.head(self.send_and_fetch(bare(tok2), tok2))
        self.assertNotEqual(re.search(r"Message-ID: (\S+)", head2).group(1), m.group(2))

    def test_message_with_both_keeps_its_own(self):
        tok = token()
        date = "Mon, 02 Feb 2026 10:00:00 +0100"
        msg = bare(tok, "Date: %s\nMessage-ID: <%s@client.test>\n" % (date, tok))
        head, _ = self.head(self.send_and_fetch(msg, tok))
        self.assertEqual(head, "From: <%s@%s>\nTo: <%s>\nSubject: bare %s\nDate: %s\n"
                         "Message-ID: <%s@client.test>" % (ME, HOST, BOB, tok, date, tok))

    def test_only_what_is_missing(self):
        tok = token()
        head, _ = self.head(self.send_and_fetch(bare(tok, "message-id: <%s@c>\n" % tok), tok))
        self.assertRegex(head, r"\nmessage-id: <%s@c>\nDate: %s$" % (tok, DATE))
        self.assertNotIn("Message-ID:", head)
        tok = token()
        head, _ = self.head(self.send_and_fetch(bare(tok, "DATE : Mon, 02 Feb 2026 10:00:00 "
                                                     "+0100\n"), tok))
        self.assertRegex(head, r"\nDATE : Mon, 02 Feb 2026 10:00:00 \+0100\nMessage-ID: %s$"
                         % MSGID)
        self.assertEqual(head.count("Date:"), 0, head)

    def test_message_without_a_header(self):
        # only a body: the fields come first, then the empty line
        tok = token()
        data = self.send_and_fetch(("just a body %s\n" % tok).encode(), tok)
        head, _ = self.head(data)
        self.assertRegex(head, r"^Date: %s\nMessage-ID: %s$" % (DATE, MSGID))
        self.assertTrue(data.endswith("\n\njust a body %s\n" % tok), data)


if __name__ == "__main__":
    harness.main()
