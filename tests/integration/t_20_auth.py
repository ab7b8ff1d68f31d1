#!/usr/bin/python3
"""SMTP AUTH (RFC 4954) on submission listeners: never offered or accepted
before TLS (530 on tls=required, 538 on tls=optional), PLAIN and LOGIN with
and without an initial response, "*" to cancel, the one 535 for a wrong
password and an unknown user, the failure limit (421 and close), MAIL
before AUTH refused (530), and no AUTH at all on a plain smtp listener.

No address of its own: everything here is on 127.0.0.1."""

import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import b64, make_message, split_delivered, token  # noqa: E402

ALICE = "alice@local.test"
ALICE_PW = "alice-Secret-%s" % token()[:8]
UTF = "zoe@local.test"
UTF_PW = "p\u00e4ss w\u00f6rd:\u20ac-%s" % token()[:6]   # UTF-8, a space and a colon
PASSWORDS = {ALICE: ALICE_PW, UTF: UTF_PW}
# bob@local.test (a harness default user) has the hash "*": no login.

SUBMISSION = {"protocol": "submission", "tls": "required"}      # 587-style
SUBMISSIONS = {"protocol": "submission", "tls": "implicit"}     # 465-style
UNTRUSTED = {"trusted_networks": "192.0.2.0/24"}  # 127.0.0.1 may not relay

SLOW_TIMEOUT = 30  # failed AUTH answers come after a growing delay


def auth_mechanisms(ehlo_reply):
    """The mechanisms of every AUTH line of an EHLO reply: [[mech, ...], ...]."""
    out = []
    for ln in ehlo_reply.lines[1:]:
        words = ln.split()
        if words and words[0].upper() == "AUTH":
            out.append([w.upper() for w in words[1:]])
        elif words and words[0].upper().startswith("AUTH="):
            out.append([w.upper() for w in [words[0][5:]] + words[1:]])
    return out


class AuthSubmission(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(
            listeners={"sub": SUBMISSION, "subs": SUBMISSIONS, "mx": "optional"},
            passwords=PASSWORDS, server_options=UNTRUSTED, submit_socket=True)

    def assert_reply(self, r, code, enhanced, d=None):
        self.assertEqual((r.code, r.enhanced), (code, enhanced),
                         "expected %d %s, got %s%s" % (
                             code, enhanced, r,
                             "\ntranscript:\n" + d.format_transcript() if d else ""))

    # -- before TLS --
    def test_not_advertised_and_refused_before_starttls_on_required_listener(self):
        with self.srv.dialog("sub") as d:
            e = d.ehlo()
            self.assertIn("STARTTLS", e.keywords)
            self.assertEqual(auth_mechanisms(e), [], "AUTH offered before TLS: %s" % e)
            for line in ("AUTH PLAIN " + b64("\0%s\0%s" % (ALICE, ALICE_PW)),
                         "AUTH LOGIN", "AUTH PLAIN"):
                r = d.cmd(line)
                self.assert_reply(r, 530, "5.7.0", d)
                self.assertIn("must issue a starttls command first", r.text.lower(), str(r))
            # The credentials sent in plaintext did not log anybody in: after
            # STARTTLS, MAIL still needs AUTH.
            d.starttls()
            d.ehlo()
            self.assert_reply(d.cmd("MAIL FROM:<%s>" % ALICE), 530, "5.7.0", d)
            d.quit()

    def test_advertised_after_starttls(self):
        with self.srv.tls_dialog("sub") as d:
            mechs = auth_mechanisms(d.ehlo_reply)
            self.assertTrue(mechs, "no AUTH line after STARTTLS: %s" % d.ehlo_reply)
            self.assertEqual(sorted(mechs[0]), ["LOGIN", "PLAIN"], str(d.ehlo_reply))
            self.assertNotIn("STARTTLS", d.ehlo_reply.keywords)
            d.quit()

    def test_advertised_on_implicit_tls(self):
        with self.srv.tls_dialog("subs") as d:
            mechs = auth_mechanisms(d.ehlo_reply)
            self.assertTrue(mechs, "no AUTH line on implicit TLS: %s" % d.ehlo_reply)
            self.assertEqual(sorted(mechs[0]), ["LOGIN", "PLAIN"], str(d.ehlo_reply))
            d.quit()

    # -- MAIL before AUTH --
    def test_mail_before_auth_refused(self):
        for listener in ("sub", "subs"):
            with self.subTest(listener), self.srv.tls_dialog(listener) as d:
                r = d.cmd("MAIL FROM:<%s>" % ALICE)
                self.assert_reply(r, 530, "5.7.0", d)
                self.assertIn("authentication required", r.text.lower(), str(r))
                # Not even for a local recipient: there is no transaction.
                r = d.cmd("RCPT TO:<bob@local.test>")
                self.assert_reply(r, 503, "5.5.1", d)
                d.quit()

    # -- success --
    def test_plain_initial_response_then_mail_delivered(self):
        tok = token()
        with self.srv.tls_dialog("sub") as d:
            r = d.auth_plain(ALICE, ALICE_PW)
            self.assert_reply(r, 235, "2.7.0", d)
            self.assertIn("authentication successful", r.text.lower(), str(r))
            msg = make_message(tok, sender=ALICE, to="bob@local.test")
            d.mail_transaction(ALICE, ["bob@local.test"], msg)
            d.quit()
        harness.wait_for(lambda: self.srv.messages_with(tok), what="delivery")
        [data] = self.srv.messages_with(tok)
        rp, dt, received, rest = split_delivered(data)
        self.assertEqual(rp, "<%s>" % ALICE)
        self.assertRegex(received, r"\bwith ESMTPSA\b")

    def test_plain_with_challenge(self):
        with self.srv.tls_dialog("sub") as d:
            r = d.cmd("AUTH PLAIN")
            self.assertEqual(r.code, 334, str(r))
            # RFC 4954: an empty challenge ("334 " with nothing, or nothing
            # that decodes to text).
            self.assertEqual(r.text.strip(), "", str(r))
            r = d.cmd(b64("\0%s\0%s" % (ALICE, ALICE_PW)))
            self.assert_reply(r, 235, "2.7.0", d)
            d.expect("MAIL FROM:<%s>" % ALICE, 250)
            d.quit()

    def test_login_without_and_with_initial_response(self):
        for initial in (False, True):
            with self.subTest(initial=initial), self.srv.tls_dialog("sub") as d:
                if initial:
                    r = d.cmd("AUTH LOGIN " + b64(ALICE))
                else:
                    r = d.cmd("AUTH LOGIN")
                    self.assertEqual(r.code, 334, str(r))
                    r = d.cmd(b64(ALICE))
                self.assertEqual(r.code, 334, str(r))
                r = d.cmd(b64(ALICE_PW))
                self.assert_reply(r, 235, "2.7.0", d)
                d.expect("MAIL FROM:<%s>" % ALICE, 250)
                d.quit()

    def test_login_on_implicit_tls(self):
        for mech in ("PLAIN", "LOGIN"):
            with self.subTest(mech), self.srv.tls_dialog("subs") as d:
                self.assert_reply(d.auth(ALICE, ALICE_PW, mech, initial=(mech == "PLAIN")),
                                  235, "2.7.0", d)
                d.expect("MAIL FROM:<%s>" % ALICE, 250)
                d.quit()

    def test_utf8_password(self):
        for mech in ("PLAIN", "LOGIN"):
            with self.subTest(mech), self.srv.tls_dialog("sub") as d:
                self.assert_reply(d.auth(UTF, UTF_PW, mech), 235, "2.7.0", d)
                d.quit()

    # -- cancel --
    def test_cancel_with_star(self):
        steps = (("AUTH PLAIN",), ("AUTH LOGIN",), ("AUTH LOGIN", b64(ALICE)))
        for lines in steps:
            with self.subTest(lines), \
                    self.srv.tls_dialog("sub", timeout=SLOW_TIMEOUT) as d:
                for ln in lines:
                    self.assertEqual(d.cmd(ln).code, 334, d.format_transcript())
                r = d.cmd("*")
                self.assert_reply(r, 501, "5.7.0", d)
                # Not logged in ...
                self.assert_reply(d.cmd("MAIL FROM:<%s>" % ALICE), 530, "5.7.0", d)
                # ... and the session goes on: a new AUTH works.
                self.assert_reply(d.auth_plain(ALICE, ALICE_PW), 235, "2.7.0", d)
                d.quit()

    def test_over_long_response_ends_the_exchange(self):
        # A response past the AUTH line bound (RFC 4954 4: 12,288 octets)
        # ends the exchange with the bound named; the next command is a
        # command again, not a response.
        with self.srv.tls_dialog("sub", timeout=SLOW_TIMEOUT) as d:
            self.assertEqual(d.cmd("AUTH PLAIN").code, 334)
            r = d.cmd("A" * 13000)
            self.assert_reply(r, 501, "5.5.2", d)
            self.assertIn("limit 12288 octets", r.text)
            self.assert_reply(d.cmd("NOOP"), 250, "2.0.0", d)
            self.assert_reply(d.auth_plain(ALICE, ALICE_PW), 235, "2.7.0", d)
            d.quit()

    # -- failure --
    def test_wrong_password_and_unknown_user_identical(self):
        replies = {}
        cases = {
            "wrong password": (ALICE, ALICE_PW + "x"),
            "unknown user": ("nosuchuser-%s@local.test" % token()[:6], ALICE_PW),
            "unknown domain": ("alice@nowhere.test", ALICE_PW),
            "user without login (hash *)": ("bob@local.test", ALICE_PW),
            "empty password": (ALICE, ""),
        }
        for what, (user, pw) in cases.items():
            # (An empty LOGIN response is left out: its encoding is a matter
            # of taste, "=" or an empty line.)
            for mech in ("PLAIN",) if not pw else ("PLAIN", "LOGIN"):
                with self.subTest(what=what, mech=mech), \
                        self.srv.tls_dialog("sub", timeout=SLOW_TIMEOUT) as d:
                    r = d.auth(user, pw, mech)
                    self.assert_reply(r, 535, "5.7.8", d)
                    self.assertIn("authentication credentials invalid", r.text.lower(), str(r))
                    replies[(what, mech)] = str(r)
                    # Still not logged in.
                    self.assert_reply(d.cmd("MAIL FROM:<%s>" % user), 530, "5.7.0", d)
                    d.quit()
        self.assertEqual(len(set(replies.values())), 1,
                         "the 535 replies differ:\n%s" % "\n".join(
                             "%s: %r" % kv for kv in replies.items()))

    def test_default_limit_allows_two_failures_then_success(self):
        # auth_failures defaults to 3: two failures leave the session open.
        with self.srv.tls_dialog("sub", timeout=SLOW_TIMEOUT) as d:
            for _ in range(2):
                self.assert_reply(d.auth_plain(ALICE, "wrong"), 535, "5.7.8", d)
            self.assert_reply(d.auth_plain(ALICE, ALICE_PW), 235, "2.7.0", d)
            d.expect("MAIL FROM:<%s>" % ALICE, 250)
            d.quit()

    # -- no AUTH on a plain smtp listener --
    def test_smtp_listener_offers_no_auth(self):
        with self.srv.dialog("mx") as d:
            e = d.ehlo()
            self.assertEqual(auth_mechanisms(e), [], str(e))
            r = d.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (ALICE, ALICE_PW)))
            self.assert_reply(r, 503, "5.5.1", d)
            d.starttls()
            e = d.ehlo()
            self.assertEqual(auth_mechanisms(e), [], str(e))
            for mech in ("PLAIN", "LOGIN"):
                r = d.auth(ALICE, ALICE_PW, mech)
                self.assert_reply(r, 503, "5.5.1", d)
                self.assertIn("authentication not enabled", r.text, str(r))
            # And relaying stays refused: no login happened.
            d.expect("MAIL FROM:<%s>" % ALICE, 250)
            r = d.cmd("RCPT TO:<someone@remote.test>")
            self.assertEqual((r.code, r.enhanced), (554, "5.7.1"), str(r))
            d.quit()


class AuthOnOptionalTLS(harness.ServerTestCase):
    """A tls=optional listener with AUTH (an smtp listener with auth =
    optional; a submission listener may not be tls=optional, RFC 8314):
    AUTH before STARTTLS gets 538."""

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(
            listeners={"mxauth": {"protocol": "smtp", "tls": "optional", "auth": "optional"}},
            passwords=PASSWORDS, server_options=UNTRUSTED, submit_socket=True)

    def test_538_before_tls_then_auth_after(self):
        for listener in ("mxauth",):
            with self.subTest(listener), self.srv.dialog(listener) as d:
                e = d.ehlo()
                self.assertEqual(auth_mechanisms(e), [], "AUTH offered before TLS: %s" % e)
                for line in ("AUTH PLAIN " + b64("\0%s\0%s" % (ALICE, ALICE_PW)),
                             "AUTH LOGIN"):
                    r = d.cmd(line)
                    self.assertEqual((r.code, r.enhanced), (538, "5.7.11"),
                                     "%s -> %s" % (line, r))
                    self.assertIn("encryption required", r.text.lower(), str(r))
                d.starttls()
                e = d.ehlo()
                self.assertEqual(sorted(auth_mechanisms(e)[0]) if auth_mechanisms(e) else [],
                                 ["LOGIN", "PLAIN"], str(e))
                r = d.auth_plain(ALICE, ALICE_PW)
                self.assertEqual((r.code, r.enhanced), (235, "2.7.0"), str(r))
                d.expect("MAIL FROM:<%s>" % ALICE, 250)
                d.quit()

    def test_mail_without_auth_on_optional_auth_smtp_listener(self):
        # auth = optional on smtp: mail from other servers to local users
        # still works without AUTH; relaying without it does not.
        with self.srv.dialog("mxauth") as d:
            d.ehlo()
            d.expect("MAIL FROM:<someone@sender.test>", 250)
            d.expect("RCPT TO:<bob@local.test>", 250)
            r = d.cmd("RCPT TO:<someone@remote.test>")
            self.assertEqual((r.code, r.enhanced), (554, "5.7.1"), str(r))
            d.quit()


class AuthFailureLimit(harness.ServerTestCase):
    """[submission] auth_failures = 2: the second failure is answered 535,
    followed at once by 421 4.7.0, and the session ends."""

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(
            listeners={"sub": SUBMISSION, "subs": SUBMISSIONS},
            passwords=PASSWORDS, server_options=UNTRUSTED, submit_socket=True,
            extra_config="[submission]\nauth_failures = 2\n")

    def attempts(self, d, creds):
        """Tries AUTH PLAIN with each (user, password) of CREDS until the
        server answers 421 or closes. Returns the replies."""
        replies = []
        for user, pw in creds:
            try:
                r = d.auth_plain(user, pw)
            except (harness.ConnectionClosed, OSError):
                # Closed after an unsolicited 421: it may still be unread.
                try:
                    replies.append(d.read_reply())
                except (harness.ConnectionClosed, OSError, AssertionError):
                    pass
                break
            replies.append(r)
            if r.code == 421:
                break
        return replies

    def check_limit(self, d, replies):
        codes = [r.code for r in replies]
        self.assertNotIn(235, codes, "logged in past the failure limit: %s\n%s"
                         % (codes, d.format_transcript()))
        self.assertTrue(codes and codes[0] == 535,
                        "first failure: %s\n%s" % (codes, d.format_transcript()))
        self.assertEqual(codes[-1], 421, "no 421 after 2 failures: %s\n%s"
                         % (codes, d.format_transcript()))
        self.assertEqual(replies[-1].enhanced, "4.7.0", str(replies[-1]))
        # The 421 follows the second 535 at once (read here as the answer
        # to the next attempt, or after it could not be sent).
        self.assertEqual(codes, [535, 535, 421], d.format_transcript())
        d.expect_closed()

    def test_two_failures_close_the_session(self):
        for listener in ("sub", "subs"):
            with self.subTest(listener), \
                    self.srv.tls_dialog(listener, timeout=SLOW_TIMEOUT) as d:
                replies = self.attempts(d, [(ALICE, "wrong1"), ("nobody@local.test", "x"),
                                            (ALICE, "wrong3")])
                self.check_limit(d, replies)

    def test_right_password_after_the_limit_does_not_log_in(self):
        with self.srv.tls_dialog("sub", timeout=SLOW_TIMEOUT) as d:
            replies = self.attempts(d, [(ALICE, "wrong1"), (ALICE, "wrong2"),
                                        (ALICE, ALICE_PW)])
            self.check_limit(d, replies)

    def test_one_failure_is_below_the_limit(self):
        with self.srv.tls_dialog("sub", timeout=SLOW_TIMEOUT) as d:
            r = d.auth_plain(ALICE, "wrong")
            self.assertEqual((r.code, r.enhanced), (535, "5.7.8"), str(r))
            r = d.auth_login(ALICE, ALICE_PW)
            self.assertEqual((r.code, r.enhanced), (235, "2.7.0"), d.format_transcript())
            d.expect("MAIL FROM:<%s>" % ALICE, 250)
            d.quit()

    def test_limit_is_per_session(self):
        # A new session starts counting again (its failures may be slowed
        # down, which is not asserted).
        for _ in range(2):
            with self.srv.tls_dialog("sub", timeout=SLOW_TIMEOUT) as d:
                r = d.auth_plain(ALICE, "wrong")
                self.assertEqual(r.code, 535, str(r))
                d.quit()
        with self.srv.tls_dialog("sub", timeout=SLOW_TIMEOUT) as d:
            self.assertEqual(d.auth_plain(ALICE, ALICE_PW).code, 235, d.format_transcript())
            d.quit()


if __name__ == "__main__":
    harness.main()
