#!/usr/bin/python3
"""The submission From: check, whole: every address of every From:,
Sender:, Resent-From: and Resent-Sender: field must be one the logged-in
user owns, however many there are and wherever in the header they stand;
a sender field that cannot be read in full (group syntax, an unclosed < or
comment, text after the address, a second From:, a field past the size
cap) and a header with a bare CR or LF are refused with 550 5.7.1 naming
the problem. Each refusal is followed by a message that is delivered, and
the refused one never is."""

import smtplib
import sys
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import split_delivered, token  # noqa: E402

ALICE = "alice@local.test"
ALICE_PW = "alice-Pw-%s" % token()[:8]
CEO = "ceo@local.test"  # a user alice does not own
PASSWORDS = {ALICE: ALICE_PW, CEO: "ceo-Pw-%s" % token()[:8]}
ALIASES = ["postmaster@local.test: alice@local.test"]
RCPT = "carol@local.test"
LISTENERS = {"sub": {"protocol": "submission", "tls": "required"}}
FIELD_MAX = 65536  # the scanner's cap on one sender field


def message(tok, header_lines, body=b"body\r\n"):
    """A message whose header is HEADER_LINES (bytes, each without its line
    end unless it carries its own) plus a token field."""
    lines = [h if isinstance(h, bytes) else h.encode() for h in header_lines]
    head = b"".join(h if h.endswith(b"\n") or h.endswith(b"\r") else h + b"\r\n"
                    for h in lines)
    return head + b"X-Test-Token: " + tok.encode() + b"\r\nSubject: t " + tok.encode() + \
        b"\r\n\r\n" + body + b"token " + tok.encode() + b"\r\n"


def own_list(n):
    return ", ".join("A%d <%s>" % (i, ALICE if i % 2 else "postmaster@local.test")
                     for i in range(n))


class FromCheck(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(listeners=LISTENERS, passwords=PASSWORDS, aliases=ALIASES)

    def submit(self, msg, expect):
        """Logs in as alice, sends MSG to carol; returns the reply to DATA,
        asserted to have code EXPECT."""
        with self.srv.login("sub", ALICE, ALICE_PW) as d:
            r = d.mail_transaction(ALICE, [RCPT], msg, expect_code=None)
            self.assertEqual(r.code, expect, "%s\n%s" % (r, d.format_transcript()[-2000:]))
            # the session goes on after a refusal
            d.expect("NOOP", 250)
            d.quit()
        return r

    def refused(self, header_lines, problem):
        """Submits a message with HEADER_LINES: 550 5.7.1 whose text holds
        PROBLEM; then a clean message is delivered and the refused one is
        not."""
        tok = token()
        r = self.submit(message(tok, header_lines), 550)
        self.assertEqual(r.enhanced, "5.7.1", str(r))
        self.assertIn(problem, r.text, str(r))
        after = token()
        self.submit(message(after, ["From: Alice <%s>" % ALICE]), 250)
        harness.wait_for(lambda: self.srv.messages_with(after), what="message after refusal")
        self.assertEqual(self.srv.messages_with(tok), [], "refused message was delivered")
        return r

    def accepted(self, header_lines):
        tok = token()
        msg = message(tok, header_lines)
        self.submit(msg, 250)
        [data] = harness.wait_for(lambda: self.srv.messages_with(tok), what="delivery")
        self.assertEqual(split_delivered(data)[3], harness.crlf_to_lf(msg))

    # -- how many addresses --
    def test_one_own_address(self):
        self.accepted(["From: Alice <%s>" % ALICE])

    def test_16_own_addresses(self):
        self.accepted(["From: " + own_list(16)])

    def test_17_own_addresses(self):
        self.accepted(["From: " + own_list(17)])

    def test_1000_own_addresses_folded(self):
        self.accepted(["From: " + own_list(1000).replace(", ", ",\r\n\t")])

    def test_foreign_17th_address(self):
        # the old checker compared the first 16 only
        self.refused(["From: " + own_list(16) + ", " + CEO],
                     "header address <%s> is not owned by user %s" % (CEO, ALICE))

    def test_foreign_after_1000_own(self):
        self.refused(["From: " + own_list(1000).replace(", ", ",\r\n ") + ",\r\n " + CEO],
                     "<%s> is not owned" % CEO)

    def test_zero_addresses(self):
        self.refused(["From: (nobody)"], "From: header refused: no address")

    # -- where the field stands, how long it is --
    def test_from_after_64k_of_header(self):
        filler = ["X-Filler-%d: %s" % (i, "f" * 900) for i in range(80)]  # ~72 KiB
        self.refused(filler + ["From: " + CEO], "<%s> is not owned" % CEO)

    def test_from_field_past_the_cap(self):
        n = FIELD_MAX // len("A0 <%s>,\r\n " % ALICE) + 50
        self.refused(["From: " + own_list(n).replace(", ", ",\r\n ") + ", " + CEO],
                     "From: header refused: field too long")

    def test_from_folded_past_4k(self):
        # the old checker read 4 KiB of a field
        self.refused(["From: " + "\r\n ".join(["(%s)" % ("c" * 70)] * 80) + " " + CEO],
                     "<%s> is not owned" % CEO)

    def test_two_from_fields(self):
        self.refused(["From: " + ALICE, "From: " + ALICE], "more than one From: field")

    # -- syntax --
    def test_group_syntax(self):
        self.refused(["From: team: %s, %s;" % (ALICE, CEO)], "From: header refused: group syntax")

    def test_own_angle_then_foreign(self):
        self.refused(["From: <%s> %s" % (ALICE, CEO)], "text after the address")

    def test_own_angle_then_bare_word(self):
        self.refused(["From: <%s> foreign" % ALICE], "text after the address")

    def test_foreign_then_own_angle(self):
        self.refused(["From: %s <%s>" % (CEO, ALICE)], "more than one address in one mailbox")

    def test_unclosed_angle(self):
        self.refused(["From: Alice <%s" % ALICE], "unclosed <")

    def test_unclosed_comment(self):
        self.refused(["From: %s (hidden, %s" % (ALICE, CEO)], "unclosed comment")

    def test_space_before_colon(self):
        self.refused(["From : " + CEO], "<%s> is not owned" % CEO)

    def test_tab_before_colon(self):
        self.refused(["From\t: " + CEO], "<%s> is not owned" % CEO)

    def test_lower_case_name(self):
        self.refused(["from: " + CEO], "<%s> is not owned" % CEO)

    def test_comment_then_foreign(self):
        self.refused(["From: %s (Alice, really), %s" % (ALICE, CEO)], "<%s> is not owned" % CEO)

    def test_quoted_local_part_foreign(self):
        self.refused(['From: "ceo"@local.test'], "<%s> is not owned" % CEO)

    def test_quoted_local_part_own(self):
        self.accepted(['From: "alice"@local.test'])

    def test_quoted_display_name_with_foreign_inside(self):
        self.accepted(['From: "%s" <%s>' % (CEO, ALICE)])

    def test_encoded_word_display_name(self):
        self.accepted(["From: =?utf-8?q?Al=C3=AFce_=2C_Postmaster?= <%s>" % ALICE])

    def test_folded_with_comments(self):
        self.accepted(["From: (the boss)\r\n Alice\r\n\t<alice (x) @ local.test>  (home)"])

    # -- line ends in the header --
    def test_bare_cr_before_from(self):
        self.refused([b"Subject: x\rFrom: " + CEO.encode()], "bare CR in the header")

    def test_bare_lf_before_from(self):
        self.refused([b"Subject: x\nFrom: " + CEO.encode()], "bare LF in the header")

    def test_bare_lf_ends_own_from(self):
        self.refused([b"From: " + ALICE.encode() + b"\n From: " + CEO.encode()],
                     "bare LF in the header")

    # -- the other sender fields --
    def test_sender_foreign(self):
        self.refused(["From: " + ALICE, "Sender: " + CEO], "Sender: header address <%s>" % CEO)

    def test_two_sender_fields(self):
        self.refused(["From: " + ALICE, "Sender: " + ALICE, "Sender: " + ALICE],
                     "more than one Sender: field")

    def test_sender_two_addresses(self):
        self.refused(["From: " + ALICE, "Sender: %s, %s" % (ALICE, ALICE)],
                     "Sender: header refused: more than one address")

    def test_resent_from_foreign(self):
        self.refused(["From: " + ALICE, "Resent-From: " + ALICE,
                      "Resent-From: " + CEO], "<%s> is not owned" % CEO)

    def test_resent_from_own_accepted_with_own_from(self):
        self.accepted(["From: " + ALICE, "Resent-From: postmaster@local.test",
                       "Resent-Sender: " + ALICE])

    def test_resent_sender_foreign(self):
        self.refused(["From: " + ALICE, "Resent-Sender: " + CEO],
                     "Resent-Sender: header address <%s>" % CEO)

    # -- a real client --
    def test_smtplib_refusal(self):
        tok = token()
        s = harness.smtp_starttls(self.srv.port("sub"))
        try:
            s.login(ALICE, ALICE_PW)
            with self.assertRaises(smtplib.SMTPDataError) as cm:
                s.sendmail(ALICE, [RCPT], message(tok, ["From: %s, %s" % (ALICE, CEO)]))
            self.assertEqual(cm.exception.smtp_code, 550)
            self.assertIn(b"5.7.1", cm.exception.smtp_error)
            s.quit()
        finally:
            s.close()
        self.assertEqual(self.srv.messages_with(tok), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
