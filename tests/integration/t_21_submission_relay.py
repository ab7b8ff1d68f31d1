#!/usr/bin/python3
"""Authenticated submission: relaying refused without login and allowed
with it (to a fake MX found through the test unbound), every real client
(smtplib, swaks, curl, msmtp) logging in and sending, sender ownership
(553 on MAIL FROM), the From: header check (550 or accepted per
check_from_header), and the Received: header (ESMTPSA, the user named only
with log_auth_in_header = yes).

Addresses of this file: 127.21.0.0/16."""

import os
import re
import shlex
import smtplib
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
import outbound  # noqa: E402
from harness import first_received, make_message, split_delivered, token  # noqa: E402
from outbound import a, mx  # noqa: E402

NET = "127.21.0."
ALICE = "alice@local.test"
ALICE_PW = "alice-Pw-%s" % token()[:8]
BOB = "bob@local.test"
BOB_PW = "bob-Pw-%s" % token()[:8]
PASSWORDS = {ALICE: ALICE_PW, BOB: BOB_PW}
# postmaster is alice: she may send as postmaster. The catch-all does not
# make every address of other.test hers.
ALIASES = ["postmaster@local.test: alice@local.test",
           "@other.test: alice@local.test"]
SUBMISSION = {"protocol": "submission", "tls": "required"}
SUBMISSIONS = {"protocol": "submission", "tls": "implicit"}
LISTENERS = {"sub": SUBMISSION, "subs": SUBMISSIONS, "mx": "optional"}
UNTRUSTED = {"trusted_networks": "192.0.2.0/24"}  # 127.0.0.1 may not relay


def remote(tag):
    """A unique recipient at the fake MX."""
    return "%s-%s@remote.test" % (tag, token()[:10])


def submission_section(check_from, log_auth):
    return ("[submission]\ncheck_from_header = %s\nlog_auth_in_header = %s\n"
            % ("yes" if check_from else "no", "yes" if log_auth else "no"))


class SubmissionCase(outbound.OutboundTestCase):
    CHECK_FROM = True
    LOG_AUTH = False

    @classmethod
    def setUpClass(cls):
        outbound.need_peers()
        cls.mxport = outbound.common_port([NET + cls.MX_LAST])
        cls.dns = cls.start_unbound(mx("remote.test", (10, "mx.remote.test")) +
                                    a("mx.remote.test", NET + cls.MX_LAST))
        cls.mx = cls.fake(NET + cls.MX_LAST, cls.mxport, name="mx.remote.test")
        srv = harness.Server(
            listeners=LISTENERS, passwords=PASSWORDS, aliases=ALIASES, submit_socket=True,
            users=harness.DEFAULT_USERS + ("sender@local.test",),
            server_options=dict(UNTRUSTED),
            extra_config=(outbound.outbound_config(cls.dns.resolver(), cls.mxport) + "\n" +
                          submission_section(cls.CHECK_FROM, cls.LOG_AUTH)))
        cls.addClassCleanup(srv.close)
        cls.srv = srv

    # -- helpers --
    def at_mx(self, tok):
        [tx] = self.mx.wait_message(tok, server=self.srv)
        return tx

    def local(self, tok):
        harness.wait_for(lambda: self.srv.messages_with(tok), what="local delivery of " + tok)
        [data] = self.srv.messages_with(tok)
        return data

    def assert_esmtpsa(self, received, user=ALICE):
        self.assertRegex(received, r"\bwith ESMTPSA\b", received)
        if self.LOG_AUTH:
            self.assertIn(user.lower(), received.lower(),
                          "log_auth_in_header = yes but Received: does not name %s: %s"
                          % (user, received))
        else:
            self.assertNotIn(user.lower(), received.lower(),
                             "log_auth_in_header = no but Received: names %s: %s"
                             % (user, received))

    def send_raw(self, listener, user, pw, sender, rcpts, msg, expect=250):
        """Logs in on LISTENER and runs one transaction; returns the reply to
        the end of DATA (asserted to be EXPECT)."""
        d = self.srv.login(listener, user, pw)
        with d:
            r = d.mail_transaction(sender, rcpts, msg, expect_code=None)
            self.assertEqual(r.code, expect, "%s\n%s" % (r, d.format_transcript()))
            try:
                d.quit()
            except (AssertionError, OSError):
                pass
        return r


class Relay(SubmissionCase):
    MX_LAST = "1"

    def test_relay_refused_without_login(self):
        for starttls in (False, True):
            with self.subTest(starttls=starttls), self.srv.dialog("mx") as d:
                d.ehlo()
                if starttls:
                    d.starttls()
                    d.ehlo()
                for sender in (ALICE, "someone@sender.test"):
                    d.expect("MAIL FROM:<%s>" % sender, 250)
                    r = d.cmd("RCPT TO:<%s>" % remote("norelay"))
                    self.assertEqual((r.code, r.enhanced), (554, "5.7.1"), str(r))
                    d.expect("RSET", 250)
                d.quit()
        self.assertFalse([c for c in self.mx.commands() if "norelay-" in c.line],
                         self.mx.describe())

    def test_relay_with_login_raw(self):
        tok = token()
        rcpt = remote("raw")
        msg = make_message(tok, sender=ALICE, to=rcpt)
        d = self.srv.login("sub", ALICE, ALICE_PW)
        with d:
            d.expect("MAIL FROM:<%s>" % ALICE, 250)
            r = d.cmd("RCPT TO:<%s>" % rcpt)
            self.assertEqual(r.code, 250, "relaying refused after login: %s" % r)
            d.expect("DATA", 354)
            d.send(harness.dot_stuff(msg) + b".\r\n")
            self.assertEqual(d.read_reply().code, 250)
            d.quit()
        tx = self.at_mx(tok)
        self.assertEqual(tx.sender, ALICE)
        self.assertEqual(tx.rcpt_addresses(), [rcpt])
        self.assertTrue(tx.data.endswith(msg), tx.data[-300:])
        self.assert_esmtpsa(first_received(tx.data))
        self.check_fakes_healthy(self.mx)

    # -- real clients --
    def test_smtplib_starttls_login(self):
        tok = token()
        rcpt = remote("smtplib")
        msg = make_message(tok, sender=ALICE, to=rcpt)
        s = harness.smtp_starttls(self.srv.port("sub"))
        self.assertTrue(s.has_extn("auth"), s.esmtp_features)
        code, resp = s.login(ALICE, ALICE_PW)
        self.assertEqual(code, 235, resp)
        self.assertEqual(s.sendmail(ALICE, [rcpt, BOB], msg), {})
        s.quit()
        tx = self.at_mx(tok)
        self.assertEqual((tx.sender, tx.rcpt_addresses()), (ALICE, [rcpt]))
        self.assert_esmtpsa(first_received(tx.data))
        rp, dt, received, rest = split_delivered(self.local(tok))
        self.assertEqual((rp, dt), ("<%s>" % ALICE, BOB))
        self.assert_esmtpsa(received)

    def test_smtplib_implicit_tls_login(self):
        tok = token()
        msg = make_message(tok, sender=ALICE, to=BOB)
        s = harness.SMTP_SSL(self.srv.port("subs"))
        s.ehlo("client.test")
        self.assertEqual(s.login(ALICE, ALICE_PW)[0], 235)
        self.assertEqual(s.sendmail(ALICE, [BOB], msg), {})
        s.quit()
        rp, dt, received, rest = split_delivered(self.local(tok))
        self.assertEqual(rp, "<%s>" % ALICE)
        self.assert_esmtpsa(received)

    def test_smtplib_wrong_password(self):
        s = harness.smtp_starttls(self.srv.port("sub"))
        with self.assertRaises(smtplib.SMTPAuthenticationError) as cm:
            s.login(ALICE, ALICE_PW + "x")
        self.assertEqual(cm.exception.smtp_code, 535)
        s.close()

    def swaks(self, args, tok):
        argv = ["swaks", "--helo", "client.test", "--header", "Subject: swaks %s" % tok,
                "--body", "swaks body %s" % tok] + args
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60)
        out = p.stdout.decode(errors="replace")
        self.assertEqual(p.returncode, 0, out)
        self.assertRegex(out, r"(?m)^<~\s+235")   # AUTH accepted inside TLS
        return out

    def test_swaks_starttls_plain_relay(self):
        tok = token()
        rcpt = remote("swaks")
        self.swaks(["--server", "127.0.0.1:%d" % self.srv.port("sub"), "--tls",
                    "--tls-verify", "--tls-ca-path", harness.ca().cert,
                    "-a", "PLAIN", "-au", ALICE, "-ap", ALICE_PW,
                    "--from", ALICE, "--to", rcpt], tok)
        tx = self.at_mx(tok)
        self.assertEqual((tx.sender, tx.rcpt_addresses()), (ALICE, [rcpt]))
        self.assert_esmtpsa(first_received(tx.data))

    def test_swaks_tls_on_connect_login_local(self):
        tok = token()
        self.swaks(["--server", "127.0.0.1:%d" % self.srv.port("subs"), "--tls-on-connect",
                    "--tls-verify", "--tls-ca-path", harness.ca().cert,
                    "-a", "LOGIN", "-au", BOB, "-ap", BOB_PW,
                    "--from", BOB, "--to", "carol@local.test"], tok)
        rp, dt, received, rest = split_delivered(self.local(tok))
        self.assertEqual((rp, dt), ("<%s>" % BOB, "carol@local.test"))
        self.assert_esmtpsa(received, user=BOB)

    def curl(self, url, sender, rcpts, user, pw, msg):
        path = os.path.join(harness.new_tmpdir("curl-"), "msg.eml")
        with open(path, "wb") as f:
            f.write(msg)
        argv = ["curl", "-sS", "--ssl-reqd", "--url", url, "--mail-from", sender]
        for r in rcpts:
            argv += ["--mail-rcpt", r]
        argv += ["--user", "%s:%s" % (user, pw), "--upload-file", path,
                 "--cacert", harness.ca().cert, "--max-time", "60", "-v"]
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=90)
        out = p.stdout.decode(errors="replace")
        self.assertEqual(p.returncode, 0, out)
        self.assertRegex(out, r"(?m)^< 235")
        return out

    def test_curl_starttls(self):
        tok = token()
        rcpt = remote("curl")
        self.curl("smtp://127.0.0.1:%d" % self.srv.port("sub"), ALICE, [rcpt], ALICE,
                  ALICE_PW, make_message(tok, sender=ALICE, to=rcpt))
        tx = self.at_mx(tok)
        self.assertEqual((tx.sender, tx.rcpt_addresses()), (ALICE, [rcpt]))
        self.assert_esmtpsa(first_received(tx.data))

    def test_curl_smtps(self):
        tok = token()
        self.curl("smtps://127.0.0.1:%d" % self.srv.port("subs"), ALICE, ["dave@local.test"],
                  ALICE, ALICE_PW, make_message(tok, sender=ALICE, to="dave@local.test"))
        rp, dt, received, rest = split_delivered(self.local(tok))
        self.assertEqual((rp, dt), ("<%s>" % ALICE, "dave@local.test"))
        self.assert_esmtpsa(received)

    def test_msmtp_starttls(self):
        tok = token()
        rcpt = remote("msmtp")
        msg = make_message(tok, sender=ALICE, to=rcpt).replace(b"\r\n", b"\n")
        argv = ["msmtp", "--file=/dev/null", "--host=127.0.0.1",
                "--port=%d" % self.srv.port("sub"), "--domain=client.test",
                "--tls=on", "--tls-starttls=on", "--tls-trust-file=%s" % harness.ca().cert,
                "--tls-certcheck=on", "--auth=plain", "--user=%s" % ALICE,
                "--passwordeval=printf %%s %s" % shlex.quote(ALICE_PW),
                "--from=%s" % ALICE, "--debug", "--", rcpt]
        p = subprocess.run(argv, input=msg, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60)
        out = p.stdout.decode(errors="replace")
        self.assertEqual(p.returncode, 0, out)
        self.assertRegex(out, r"(?m)^<-- 235")
        tx = self.at_mx(tok)
        self.assertEqual((tx.sender, tx.rcpt_addresses()), (ALICE, [rcpt]))
        self.assert_esmtpsa(first_received(tx.data))

    # -- sender ownership --
    def test_mail_from_must_be_owned(self):
        d = self.srv.login("sub", ALICE, ALICE_PW)
        with d:
            for sender in (BOB, "someone@remote.test", "random-%s@other.test" % token()[:6],
                           "erin@other.test", "nosuchuser@local.test"):
                r = d.cmd("MAIL FROM:<%s>" % sender)
                self.assertEqual((r.code, r.enhanced), (553, "5.7.1"),
                                 "MAIL FROM:<%s> as alice: %s" % (sender, r))
                self.assertIn(ALICE, r.text.lower(),
                              "the 553 does not name the user: %s" % r)
                d.expect("RSET", 250)
            # Her own address and an exact alias of hers are fine.
            for sender in (ALICE, "postmaster@local.test"):
                d.expect("MAIL FROM:<%s>" % sender, 250)
                d.expect("RSET", 250)
            d.quit()

    def test_alias_as_sender_delivers(self):
        tok = token()
        rcpt = remote("alias")
        msg = make_message(tok, sender="postmaster@local.test", to=rcpt)
        self.send_raw("subs", ALICE, ALICE_PW, "postmaster@local.test", [rcpt], msg)
        tx = self.at_mx(tok)
        self.assertEqual(tx.sender, "postmaster@local.test")

    def test_other_user_cannot_use_alices_addresses(self):
        d = self.srv.login("sub", BOB, BOB_PW)
        with d:
            for sender in (ALICE, "postmaster@local.test"):
                r = d.cmd("MAIL FROM:<%s>" % sender)
                self.assertEqual((r.code, r.enhanced), (553, "5.7.1"), str(r))
                self.assertIn(BOB, r.text.lower(), str(r))
                d.expect("RSET", 250)
            d.expect("MAIL FROM:<%s>" % BOB, 250)
            d.quit()


class FromHeaderChecked(SubmissionCase):
    """check_from_header = yes, log_auth_in_header = no."""
    MX_LAST = "2"
    CHECK_FROM = True
    LOG_AUTH = False

    def test_foreign_from_header_refused(self):
        for from_hdr in (BOB, "Bob <%s>" % BOB, "someone@remote.test"):
            with self.subTest(from_hdr):
                tok = token()
                rcpt = remote("from")
                msg = make_message(tok, to=rcpt).replace(
                    b"From: <%s>" % harness.SENDER.encode(), b"From: " + from_hdr.encode())
                self.assertIn(b"From: " + from_hdr.encode(), msg)
                r = self.send_raw("sub", ALICE, ALICE_PW, ALICE, [rcpt, "carol@local.test"],
                                  msg, expect=550)
                self.assertEqual(r.enhanced, "5.7.1", str(r))
                # A message sent after it arrives; the refused one never does.
                tok2 = token()
                self.send_raw("sub", ALICE, ALICE_PW, ALICE, [rcpt, "carol@local.test"],
                              make_message(tok2, sender=ALICE, to=rcpt))
                self.at_mx(tok2)
                self.local(tok2)
                self.assertEqual(self.mx.messages_with(tok), [])
                self.assertEqual(self.srv.messages_with(tok), [])

    def test_own_from_header_accepted(self):
        for from_hdr in (ALICE, "Alice Example <%s>" % ALICE, "<postmaster@local.test>",
                         '"Alice, Postmaster" <postmaster@local.test>'):
            with self.subTest(from_hdr):
                tok = token()
                msg = make_message(tok, to="carol@local.test").replace(
                    b"From: <%s>" % harness.SENDER.encode(), b"From: " + from_hdr.encode())
                self.send_raw("subs", ALICE, ALICE_PW, ALICE, ["carol@local.test"], msg)
                rp, dt, received, rest = split_delivered(self.local(tok))
                self.assertEqual(rp, "<%s>" % ALICE)
                self.assert_esmtpsa(received)

    def test_received_without_identity(self):
        # To: and From: name alice; only the Received: header is checked.
        # (The envelope recipient is carol: a Received: "for <rcpt>" clause
        # may name the recipient.)
        tok = token()
        msg = make_message(tok, sender=ALICE, to=ALICE)
        self.send_raw("sub", ALICE, ALICE_PW, ALICE, ["carol@local.test"], msg)
        data = self.local(tok)
        rp, dt, received, rest = split_delivered(data)
        self.assertRegex(received, r"\bwith ESMTPSA\b")
        self.assertNotIn("alice", received.lower(), received)
        self.assertEqual(len(harness.header_values(data, "Received")), 1, data[:600])


class FromHeaderNotChecked(SubmissionCase):
    """check_from_header = no, log_auth_in_header = yes."""
    MX_LAST = "3"
    CHECK_FROM = False
    LOG_AUTH = True

    def test_foreign_from_header_accepted(self):
        tok = token()
        rcpt = remote("nofromcheck")
        msg = make_message(tok, sender=BOB, to=rcpt)
        self.assertIn(b"From: <%s>" % BOB.encode(), msg)
        self.send_raw("sub", ALICE, ALICE_PW, ALICE, [rcpt], msg)
        tx = self.at_mx(tok)
        self.assertEqual(tx.sender, ALICE)
        self.assert_esmtpsa(first_received(tx.data))

    def test_mail_from_still_checked(self):
        d = self.srv.login("sub", ALICE, ALICE_PW)
        with d:
            r = d.cmd("MAIL FROM:<%s>" % BOB)
            self.assertEqual((r.code, r.enhanced), (553, "5.7.1"), str(r))
            self.assertIn(ALICE, r.text.lower(), str(r))
            d.quit()

    def test_received_names_user(self):
        # From: and To: name other people; the user must be in Received:.
        tok = token()
        msg = make_message(tok, sender="someone@sender.test", to="carol@local.test")
        self.send_raw("subs", ALICE, ALICE_PW, ALICE, ["carol@local.test"], msg)
        data = self.local(tok)
        rp, dt, received, rest = split_delivered(data)
        self.assertRegex(received, r"\bwith ESMTPSA\b")
        self.assertIn(ALICE, received.lower(), received)

    def test_unauthenticated_mail_has_no_esmtpsa(self):
        tok = token()
        with self.srv.dialog("mx") as d:
            d.ehlo()
            d.starttls()
            d.ehlo()
            d.mail_transaction("someone@sender.test", ["carol@local.test"],
                               make_message(tok, sender="someone@sender.test",
                                            to="carol@local.test"))
            d.quit()
        rp, dt, received, rest = split_delivered(self.local(tok))
        self.assertRegex(received, r"\bwith ESMTPS\b")
        self.assertNotRegex(received, r"ESMTPSA")
        self.assertIsNone(re.search(r"authenticated", received, re.I), received)


del SubmissionCase

if __name__ == "__main__":
    harness.main()
