#!/usr/bin/python3
"""System mail through sendmail, as cron, apt, smartd and mdadm send it:
a bare name ("root") as recipient, as -f sender and in a -t header is made
name@[server] hostname in the envelope only (the header stays as written),
as Postfix's sendmail appends @$myorigin; root@HOST reaches the mailbox its
alias names; a bare name that is neither a user nor an alias is refused at
sendmail time saying what to add (the alias's target when it is an alias),
and nothing is queued. `sealmail init` replaces a package's configuration,
aliases and users files while they are as shipped (byte-identical to the
package's copies, the users file empty), and refuses when any was edited.

Addresses of this file: none (local delivery only)."""

import os
import pwd
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import token  # noqa: E402

HOST = harness.HOSTNAME
BOB = "bob@local.test"
ME = pwd.getpwuid(os.getuid()).pw_name
ALIASES = ["root@%s: %s" % (HOST, BOB),               # line 1
           "mailer-daemon@%s: %s" % (HOST, BOB),      # line 2
           "ghost@%s: nobody@local.test" % HOST]      # line 3: its target is no user
DEBIAN_CONF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                           "debian", "conf")


class SystemMail(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(local_domains=harness.LOCAL_DOMAINS + (HOST,),
                                   aliases=ALIASES, submit_socket=True)

    def delivered(self, tok):
        [data] = harness.wait_for(lambda: [m for m in self.srv.messages(BOB)
                                           if tok.encode() in m] or None,
                                  what="the copy of %s in %s's Maildir" % (tok, BOB))
        return data.replace(b"\r\n", b"\n").decode()

    def test_sendmail_root(self):
        """`sendmail root`, as cron runs it: root@HOST, the alias's mailbox;
        the sender is the local user at HOST; To: stays "root"."""
        tok = token()
        rc, out, err = self.srv.send("root", program="sendmail",
                                     input=("To: root\nSubject: cron %s\n\nbody\n" % tok).encode())
        self.assertEqual((rc, out, err), (0, "", ""), self.srv.log_tail())
        data = self.delivered(tok)
        self.assertTrue(data.startswith("Return-Path: <%s@%s>\nDelivered-To: %s\n"
                                        % (ME, HOST, BOB)), data)
        self.assertEqual(harness.header_values(data.encode(), "To"), ["root"])

    def test_bare_sender_and_header_recipient(self):
        """-f cron and -t reading "To: root": both qualified in the envelope."""
        tok = token()
        rc, out, err = self.srv.send("-f", "cron", "-t", program="sendmail",
                                     input=("To: root\nSubject: t %s\n\nbody\n" % tok).encode())
        self.assertEqual((rc, out, err), (0, "", ""), self.srv.log_tail())
        data = self.delivered(tok)
        self.assertTrue(data.startswith("Return-Path: <cron@%s>\n" % HOST), data)
        self.assertEqual(harness.header_values(data.encode(), "To"), ["root"])

    def test_unknown_bare_name_refused(self):
        tok = token()
        self.srv.wait_queue_empty()  # an earlier test's message may still be leaving
        rc, out, err = self.srv.send("nosuch", input=("Subject: %s\n\nx\n" % tok).encode())
        q = "nosuch@%s" % HOST
        self.assertEqual((rc, out), (1, ""))
        self.assertEqual(err.splitlines(), [
            "sealmail send: RCPT TO:<%s>: 550 5.1.1 <%s>: Recipient address rejected: "
            "User unknown" % (q, q),
            "sealmail send: no user or alias %s: add the user (`sealmail user add %s`) or "
            "a line \"%s: ADDRESS\" to the aliases file (%s)"
            % (q, q, q, self.srv.aliases_path)])
        self.assertEqual(self.srv.queue_files(), [])
        self.assertEqual(self.srv.messages_with(tok), [])

    def test_line_end_in_an_address_refused(self):
        """An address is one SMTP command: a CR LF in it would start a second."""
        self.srv.wait_queue_empty()
        rc, out, err = self.srv.send("bob@local.test\r\nRSET", input=b"Subject: x\n\nx\n")
        self.assertEqual((rc, out), (1, ""))
        self.assertEqual(err, "sealmail send: a control character in the address "
                         "bob@local.test\r\nRSET\n")
        self.assertEqual(self.srv.queue_files(), [])

    def test_alias_to_no_user_names_the_target(self):
        rc, out, err = self.srv.send("ghost", input=b"Subject: ghost\n\nx\n")
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("sealmail send: ghost@%s is an alias (%s, line 3) of nobody@local.test, "
                      "which is not a user: add it with `sealmail user add nobody@local.test`, "
                      "or point the alias elsewhere\n" % (HOST, self.srv.aliases_path), err)


def init(paths, defaults):
    cert = harness.default_cert()
    env = dict(os.environ, SEALMAIL_DEFAULTS_DIR=defaults)
    p = subprocess.run([harness.SEALMAIL_BIN, "init", "--hostname", HOST, "--domain",
                        "local.test", "--cert", cert.cert, "--key", cert.key,
                        "--admin", BOB, "--data-dir", os.path.join(paths, "data"),
                        "--config", os.path.join(paths, "etc", "sealmail.conf")],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30, env=env, start_new_session=True)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def read(path):
    with open(path, "rb") as f:
        return f.read()


class InitOverPackage(harness.unittest.TestCase):
    """As `apt install` leaves /etc/sealmail: the conffiles, their copies in
    the package's defaults directory, an empty users file."""

    def shipped(self):
        d = harness.new_tmpdir("pkg-")
        defaults, etc = os.path.join(d, "share"), os.path.join(d, "etc")
        os.mkdir(defaults)
        os.mkdir(etc)
        for name in ("sealmail.conf", "aliases"):
            shutil.copyfile(os.path.join(DEBIAN_CONF, name), os.path.join(defaults, name))
            shutil.copyfile(os.path.join(DEBIAN_CONF, name), os.path.join(etc, name))
        open(os.path.join(etc, "users"), "w").close()
        os.chmod(os.path.join(etc, "users"), 0o640)
        return d, defaults, etc

    def test_replaces_what_the_package_shipped(self):
        d, defaults, etc = self.shipped()
        rc, out, err = init(d, defaults)
        self.assertEqual((rc, err), (0, ""), out)
        for name, mode in (("sealmail.conf", "0644"), ("users", "0640"), ("aliases", "0644")):
            self.assertIn("wrote %s (mode %s, replacing the package's default)\n"
                          % (os.path.join(etc, name), mode), out)
        self.assertIn(b"hostname = %s\n" % HOST.encode(), read(os.path.join(etc, "sealmail.conf")))
        self.assertIn(b"root@%s: %s\n" % (HOST.encode(), BOB.encode()),
                      read(os.path.join(etc, "aliases")))
        self.assertEqual(sorted(os.listdir(etc)), ["aliases", "sealmail.conf", "users"])

    def test_refuses_an_edited_file(self):
        for name, why in (("sealmail.conf", "it is not the package's file: it was edited"),
                          ("aliases", "it is not the package's file: it was edited"),
                          ("users", "it is not the package's empty file")):
            with self.subTest(name=name):
                d, defaults, etc = self.shipped()
                with open(os.path.join(etc, name), "a") as f:
                    f.write("postmaster@localhost:*\n" if name == "users" else "# mine\n")
                before = {n: read(os.path.join(etc, n)) for n in os.listdir(etc)}
                rc, out, err = init(d, defaults)
                self.assertEqual((rc, out), (1, ""))
                self.assertEqual(err, "sealmail init: %s exists; not overwriting it (%s)\n"
                                 % (os.path.join(etc, name), why))
                self.assertEqual({n: read(os.path.join(etc, n)) for n in os.listdir(etc)},
                                 before)


if __name__ == "__main__":
    harness.main()
