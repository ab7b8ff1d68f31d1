#!/usr/bin/python3
"""`sealmail user add|passwd|del|list` change who may log in while the server
runs (no restart, no SIGHUP); aliases deliver to local and remote targets,
a catch-all takes unknown local parts of its domain, the expansion is
logged, and the aliases file is re-read without a restart.

Addresses of this file: 127.22.0.0/16."""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
import outbound  # noqa: E402
from harness import make_message, split_delivered, token  # noqa: E402
from outbound import a, mx  # noqa: E402

NET = "127.22.0."
ALICE = "alice@local.test"
ALICE_PW = "alice-Pw-%s" % token()[:8]
SUBMISSIONS = {"protocol": "submission", "tls": "implicit"}
UNTRUSTED = {"trusted_networks": "192.0.2.0/24"}  # 127.0.0.1 may not relay
CHANGE_TIMEOUT = 20  # "within about a second"; failed logins may be slowed down
SLOW_TIMEOUT = 30


class Users(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(listeners={"subs": SUBMISSIONS, "mx": "optional"},
                                   passwords={ALICE: ALICE_PW}, server_options=UNTRUSTED,
                                   submit_socket=True)
        cls.pid = cls.srv.proc.pid

    def user_cmd(self, *args, password=None, expect_rc=0):
        argv = [harness.SEALMAIL_BIN, "user"] + list(args) + ["-c", self.srv.conf]
        inp = (password + "\n").encode() if password is not None else b""
        p = harness.run(argv, check=False, input=inp)
        out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
        if expect_rc is not None:
            self.assertEqual(p.returncode, expect_rc, "`sealmail user %s`: rc=%d\nstdout:\n%s"
                             "\nstderr:\n%s" % (" ".join(args), p.returncode, out, err))
        return p.returncode, out, err

    def listed(self):
        rc, out, err = self.user_cmd("list")
        return [ln.strip().lower() for ln in out.splitlines() if ln.strip()]

    def auth_code(self, user, pw, mech="PLAIN"):
        return self.srv.auth_reply("subs", user, pw, mech, timeout=SLOW_TIMEOUT).code

    def wait_auth(self, user, pw, code, what):
        try:
            harness.wait_for(lambda: self.auth_code(user, pw) == code, CHANGE_TIMEOUT,
                             interval=0.1, what=what)
        except AssertionError:
            raise AssertionError("%s: AUTH as %s still answers %d\nusers file:\n%s\nlog:\n%s"
                                 % (what, user, self.auth_code(user, pw),
                                    open(self.srv.users_path).read(), self.srv.log_tail()))

    def rcpt_code(self, rcpt):
        with self.srv.dialog("mx") as d:
            d.ehlo()
            d.expect("MAIL FROM:<someone@sender.test>", 250)
            r = d.cmd("RCPT TO:<%s>" % rcpt)
            d.quit()
        return r.code

    def users_file_line(self, addr):
        with open(self.srv.users_path) as f:
            for line in f:
                if line.lower().startswith(addr.lower() + ":"):
                    return line.rstrip("\n")
        return None

    def test_list_shows_users(self):
        got = self.listed()
        # One address per line, never a hash; users without a password ("*")
        # are included and marked "(no login)" (README, Commands).
        for line in got:
            self.assertRegex(line, r"^[^\s:@]+@[^\s:@]+( \(no login\))?$",
                             "`user list` must print one address per line; got:\n%s"
                             % "\n".join(got))
        addresses = [line.split(" ")[0] for line in got]
        for u in (ALICE,) + harness.DEFAULT_USERS:
            self.assertIn(u, addresses)
        self.assertNotIn(ALICE + " (no login)", got)
        for u in harness.DEFAULT_USERS:
            self.assertIn(u + " (no login)", got)
        self.assertEqual(len(got), len(set(got)), got)

    def test_edit_narrows_a_wide_mode(self):
        # The users file holds password hashes: an edit leaves it no wider
        # than 0640, owner kept, and says so when it narrowed it (README,
        # Commands). The harness writes it 0644.
        path = self.srv.users_path
        os.chmod(path, 0o644)
        owner = os.stat(path).st_uid
        addr = "m%s@local.test" % token()[:8]
        rc, out, err = self.user_cmd("add", addr, "--stdin", password="pw-%s" % token()[:8])
        self.assertEqual((out, err), ("", "sealmail user: %s was mode 0644 (other users could "
                                      "read or change the password hashes); it is 0640 now\n"
                                      % path))
        st = os.stat(path)
        self.assertEqual((st.st_mode & 0o7777, st.st_uid), (0o640, owner))
        # group-writable: narrowed too; a mode within 0640 is kept, silently
        os.chmod(path, 0o660)
        rc, out, err = self.user_cmd("passwd", addr, "--stdin", password="pw2-%s" % token()[:8])
        self.assertEqual(err, "sealmail user: %s was mode 0660 (its group could change the "
                         "password hashes); it is 0640 now\n" % path)
        os.chmod(path, 0o600)
        rc, out, err = self.user_cmd("del", addr)
        self.assertEqual((out, err), ("", ""))
        self.assertEqual(os.stat(path).st_mode & 0o7777, 0o600)

    def test_add_passwd_del_without_restart(self):
        addr = "u%s@local.test" % token()[:8]
        pw1 = "first-%s" % token()[:8]
        pw2 = "second %s" % token()[:8]   # with a space
        self.assertEqual(self.auth_code(addr, pw1), 535)
        self.assertNotIn(addr, self.listed())

        # add
        self.user_cmd("add", addr, "--stdin", password=pw1)
        line = self.users_file_line(addr)
        self.assertIsNotNone(line, open(self.srv.users_path).read())
        self.assertTrue(line.split(":", 1)[1].startswith("$y$"), "not yescrypt: %r" % line)
        self.assertNotIn(pw1, open(self.srv.users_path).read())
        self.assertIn(addr, self.listed())
        self.wait_auth(addr, pw1, 235, "the new user to log in")
        self.assertEqual(self.auth_code(addr, pw1, "LOGIN"), 235)
        self.assertEqual(self.auth_code(addr, pw2), 535)
        # She is a local user now: mail for her is accepted and delivered.
        harness.wait_for(lambda: self.rcpt_code(addr) == 250, CHANGE_TIMEOUT,
                         what="RCPT to the new user")
        tok = token()
        with self.srv.login("subs", addr, pw1) as d:
            d.mail_transaction(addr, [addr], make_message(tok, sender=addr, to=addr))
            d.quit()
        harness.wait_for(lambda: self.srv.messages_with(tok), what="delivery to the new user")
        self.assertEqual(len(self.srv.message_files(addr)), 1)

        # passwd
        self.user_cmd("passwd", addr, "--stdin", password=pw2)
        self.wait_auth(addr, pw1, 535, "the old password to stop working")
        self.wait_auth(addr, pw2, 235, "the new password to work")
        self.assertEqual(self.auth_code(addr, pw2, "LOGIN"), 235)
        self.assertTrue(self.users_file_line(addr).split(":", 1)[1].startswith("$y$"))

        # del
        self.user_cmd("del", addr)
        self.assertIsNone(self.users_file_line(addr))
        self.assertNotIn(addr, self.listed())
        self.wait_auth(addr, pw2, 535, "the deleted user to be refused")
        self.assertEqual(self.auth_code(addr, pw1), 535)
        harness.wait_for(lambda: self.rcpt_code(addr) == 550, CHANGE_TIMEOUT,
                         what="RCPT to the deleted user refused")

        # Nobody restarted the server.
        self.assertTrue(self.srv.running(), self.srv.log_tail())
        self.assertEqual(self.srv.proc.pid, self.pid)

    def test_add_refuses_address_without_mailbox(self):
        # a '/' or a leading '.' cannot name a Maildir directory: such a
        # user's mail would be deferred for ever, so they are refused at once
        for addr, why in (("a/b@local.test", "cannot name a mailbox directory"),
                          (".hidden@local.test", "Syntax error in local part")):
            with self.subTest(addr):
                rc, out, err = self.user_cmd("add", addr, "--stdin", password="pw-x",
                                             expect_rc=1)
                self.assertTrue(err.startswith("sealmail user: '%s' is not an address "
                                               "user@domain (" % addr), err)
                self.assertIn(why, err)
                self.assertNotIn(addr, open(self.srv.users_path).read())

    def test_users_file_line_without_mailbox_refused_at_load(self):
        mark = self.srv.log_mark()
        with open(self.srv.users_path, "a") as f:
            f.write("c/d@local.test:*\n")
        self.srv.wait_log(r"event=users-file-error .*reason=\"its local part cannot name a "
                          r"mailbox directory", since=mark)
        self.assertEqual(self.rcpt_code("c/d@local.test"), 550)
        lines = open(self.srv.users_path).read().splitlines()
        with open(self.srv.users_path, "w") as f:
            f.write("\n".join(ln for ln in lines if not ln.startswith("c/d@")) + "\n")

    def test_add_reads_first_line_of_stdin(self):
        addr = "v%s@local.test" % token()[:8]
        pw = "only the first line %s" % token()[:6]
        argv = [harness.SEALMAIL_BIN, "user", "add", addr, "--stdin", "-c", self.srv.conf]
        p = harness.run(argv, check=False, input=(pw + "\nsecond line\n").encode())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.wait_auth(addr, pw, 235, "login with the first line as password")
        self.assertEqual(self.auth_code(addr, pw + "\nsecond line"), 535)
        self.assertEqual(self.auth_code(addr, "second line"), 535)
        self.user_cmd("del", addr)
        self.wait_auth(addr, pw, 535, "the deleted user to be refused")

    def test_existing_user_unaffected_by_changes(self):
        addr = "w%s@local.test" % token()[:8]
        self.user_cmd("add", addr, "--stdin", password="pw-" + addr)
        self.wait_auth(addr, "pw-" + addr, 235, "the new user to log in")
        self.assertEqual(self.auth_code(ALICE, ALICE_PW), 235)
        self.user_cmd("del", addr)
        self.wait_auth(addr, "pw-" + addr, 535, "the deleted user to be refused")
        self.assertEqual(self.auth_code(ALICE, ALICE_PW), 235)
        self.assertIn(ALICE, self.listed())


class Aliases(outbound.OutboundTestCase):

    BASE = ["list@local.test: bob@local.test, carol@local.test",
            "mixed@local.test: dave@local.test, far@remote.test",
            "@other.test: erin@other.test"]

    @classmethod
    def setUpClass(cls):
        outbound.need_peers()
        cls.mxport = outbound.common_port([NET + "1"])
        cls.dns = cls.start_unbound(mx("remote.test", (10, "mx.remote.test")) +
                                    a("mx.remote.test", NET + "1"))
        cls.mx = cls.fake(NET + "1", cls.mxport, name="mx.remote.test")
        srv = harness.Server(listeners={"mx": "optional"}, aliases=cls.BASE, submit_socket=True,
                             server_options=dict(UNTRUSTED),
                             extra_config=outbound.outbound_config(cls.dns.resolver(),
                                                                   cls.mxport))
        cls.addClassCleanup(srv.close)
        cls.srv = srv
        cls.pid = srv.proc.pid

    def send(self, rcpts, tok, sender="someone@sender.test"):
        msg = make_message(tok, sender=sender, to=rcpts[0])
        with self.srv.dialog("mx") as d:
            d.ehlo()
            d.starttls()
            d.ehlo()
            d.mail_transaction(sender, rcpts, msg)
            d.quit()
        return msg

    def rcpt_code(self, rcpt):
        with self.srv.dialog("mx") as d:
            d.ehlo()
            d.expect("MAIL FROM:<someone@sender.test>", 250)
            r = d.cmd("RCPT TO:<%s>" % rcpt)
            d.quit()
        return r

    def copies(self, user, tok):
        return [m for m in self.srv.messages(user) if tok.encode() in m]

    def wait_copy(self, user, tok):
        harness.wait_for(lambda: self.copies(user, tok), what="a copy for %s" % user)
        return self.copies(user, tok)

    def expansion_logged(self, alias, targets, since):
        want = "event=alias-expanded alias=<%s> to=%s" % (
            alias, ",".join("<%s>" % t for t in targets))

        def find():
            for line in self.srv.log()[since:].splitlines():
                if want in line:
                    return line
            return None
        try:
            return harness.wait_for(find, what="alias expansion of %s in the log" % alias)
        except AssertionError:
            raise AssertionError("no log line shows %s expanded to %s; log:\n%s"
                                 % (alias, targets, self.srv.log_tail(80)))

    def test_alias_to_local_users(self):
        mark = self.srv.log_mark()
        tok = token()
        self.send(["list@local.test"], tok)
        for user in ("bob@local.test", "carol@local.test"):
            [data] = self.wait_copy(user, tok)
            rp, dt, received, rest = split_delivered(data)
            self.assertEqual(rp, "<someone@sender.test>")
        self.expansion_logged("list@local.test", ["bob@local.test", "carol@local.test"], mark)
        self.assertEqual(self.copies("dave@local.test", tok), [])

    def test_alias_to_local_and_remote(self):
        mark = self.srv.log_mark()
        tok = token()
        self.send(["mixed@local.test"], tok)
        self.wait_copy("dave@local.test", tok)
        [tx] = self.mx.wait_message(tok, server=self.srv)
        self.assertEqual(tx.rcpt_addresses(), ["far@remote.test"])
        self.expansion_logged("mixed@local.test", ["dave@local.test", "far@remote.test"], mark)
        self.check_fakes_healthy(self.mx)

    def test_catch_all(self):
        mark = self.srv.log_mark()
        tok = token()
        anyone = "anyone-%s@other.test" % token()[:8]
        self.send([anyone], tok)
        self.wait_copy("erin@other.test", tok)
        self.expansion_logged(anyone, ["erin@other.test"], mark)
        # erin herself gets one copy of her own mail.
        tok2 = token()
        self.send(["erin@other.test"], tok2)
        self.wait_copy("erin@other.test", tok2)
        # The catch-all is for other.test only.
        r = self.rcpt_code("anyone-%s@local.test" % token()[:8])
        self.assertEqual((r.code, r.enhanced), (550, "5.1.1"), str(r))
        # Sentinel: a later message to erin arrives, and tok2 still has one copy.
        tok3 = token()
        self.send(["erin@other.test"], tok3)
        self.wait_copy("erin@other.test", tok3)
        self.assertEqual(len(self.copies("erin@other.test", tok2)), 1)
        self.assertEqual(len(self.copies("erin@other.test", tok)), 1)

    def test_alias_among_other_recipients(self):
        tok = token()
        self.send(["list@local.test", "bob@local.test", "mixed@local.test"], tok)
        for user in ("bob@local.test", "carol@local.test", "dave@local.test"):
            self.wait_copy(user, tok)
        [tx] = self.mx.wait_message(tok, server=self.srv)
        self.assertEqual(tx.rcpt_addresses(), ["far@remote.test"])

    def test_aliases_file_reread_without_restart(self):
        new = "new-%s@local.test" % token()[:8]
        r = self.rcpt_code(new)
        self.assertEqual(r.code, 550, str(r))
        self.srv.write_aliases(self.BASE + ["%s: carol@local.test" % new])
        self.addCleanup(self.srv.write_aliases, self.BASE)
        try:
            harness.wait_for(lambda: self.rcpt_code(new).code == 250, 15, interval=0.1,
                             what="the new alias to be known")
        except AssertionError:
            raise AssertionError("new alias %s never accepted; log:\n%s"
                                 % (new, self.srv.log_tail()))
        tok = token()
        self.send([new], tok)
        self.wait_copy("carol@local.test", tok)
        # Removed again: refused again.
        self.srv.write_aliases(self.BASE)
        harness.wait_for(lambda: self.rcpt_code(new).code == 550, 15, interval=0.1,
                         what="the removed alias to be refused")
        # The other aliases kept working throughout, and nobody restarted.
        self.assertEqual(self.rcpt_code("list@local.test").code, 250)
        self.assertTrue(self.srv.running())
        self.assertEqual(self.srv.proc.pid, self.pid)

    def test_unknown_address_without_alias_refused(self):
        r = self.rcpt_code("nosuch-%s@local.test" % token()[:6])
        self.assertEqual((r.code, r.enhanced), (550, "5.1.1"), str(r))


if __name__ == "__main__":
    harness.main()
