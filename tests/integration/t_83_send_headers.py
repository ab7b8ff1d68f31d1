#!/usr/bin/python3
"""What `sealmail send` adds to a message: a Received: line that says it
came from a local user over the submission socket (`by HOST (sealmail,
from userid UID, user NAME)`, as Postfix writes `from userid UID`), never a
made-up client address; and, as sendmail and Postfix's cleanup do, Date:
and Message-ID: when the message has none, while a message that has them
keeps its own.

And a recipe of the README's "Running a real host" that a reader follows by
hand: Dovecot configured with the README's own lines (read from README.md)
logs in with sealmail's users file and reads a message sealmail delivered,
keeping its index files out of the Maildir. Dovecot comes unpacked by
scripts/test-peers and needs root."""

import email.utils
import os
import pwd
import re
import shutil
import socket
import ssl
import subprocess
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


README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "README.md")
DOVECOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                        ".peers", "dovecot"))


def readme_dovecot_lines():
    """The Dovecot configuration the README gives, as written there."""
    with open(README) as f:
        text = f.read()
    start = text.index("in `/etc/dovecot/local.conf`:\n\n```\n")
    start = text.index("```\n", start) + 4
    return text[start:text.index("```", start)]


class DovecotReadsTheMaildirs(harness.ServerTestCase):

    def setUp(self):
        if not os.path.exists(os.path.join(DOVECOT, ".complete")):
            self.fail("Dovecot is not unpacked in %s: run scripts/test-peers (Debian "
                      "packages dovecot-core, dovecot-imapd)" % DOVECOT)
        if os.geteuid() != 0:
            self.fail("Dovecot's master must start as root to run as the sealmail user")

    def start_dovecot(self, srv, workdir, port):
        conf = readme_dovecot_lines()
        conf = conf.replace("/var/lib/sealmail", srv.data_dir)
        conf = conf.replace("/etc/sealmail/users", srv.users_path)
        conf = conf.replace("/var/lib/dovecot", workdir)
        # a private instance; its internal user is sealmail, as this machine
        # has no dovecot user (the README's chgrp gives the file to that)
        conf = ("base_dir = %s/run\nstate_dir = %s/state\ninstance_name = t83-%d\n"
                "protocols = imap\nlisten = 127.0.0.1\nssl = required\nssl_cert = <%s\n"
                "ssl_key = <%s\nlog_path = %s/dovecot.log\ndefault_internal_user = sealmail\n"
                "default_internal_group = sealmail\ndefault_login_user = sealmail\n"
                "auth_mechanisms = plain\n"
                "service imap-login {\n  inet_listener imap {\n    port = 0\n  }\n"
                "  inet_listener imaps {\n    port = %d\n    ssl = yes\n  }\n}\n"
                % (workdir, workdir, os.getpid(), srv.cert_path, srv.key_path, workdir, port)
                + conf)
        with open(os.path.join(workdir, "dovecot.conf"), "w") as f:
            f.write(conf)
        # Dovecot's binaries look for /usr/lib/dovecot: overlaid in a
        # private mount namespace (as bench/imap_dovecot.py does)
        # unshare's own --propagation private needs / to be a mount point,
        # which it is not in a chroot: make the mounts private here instead,
        # and when that cannot be done and one is shared (an overlay would
        # show outside), refuse rather than mount
        script = ("if grep -q ' shared:' /proc/self/mountinfo; then "
                  "mount --make-rprivate / || { echo 'shared mounts cannot be made "
                  "private: an overlay would leak out of the namespace'; exit 97; }; fi && "
                  "mount -t overlay overlay -o lowerdir=%s/usr/lib:/usr/lib /usr/lib && "
                  "mount -t overlay overlay -o lowerdir=%s/usr/bin:/usr/bin /usr/bin && "
                  "exec %s/usr/sbin/dovecot -c %s/dovecot.conf -F"
                  % (DOVECOT, DOVECOT, DOVECOT, workdir))
        out = open(os.path.join(workdir, "out"), "wb")
        proc = subprocess.Popen(["unshare", "-m", "--propagation", "unchanged", "sh", "-c",
                                 script], stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.addCleanup(lambda: (os.killpg(proc.pid, 15), proc.wait(), out.close()))

        def up():
            if proc.poll() is not None:
                raise AssertionError("dovecot exited: %s" % open(os.path.join(
                    workdir, "out")).read())
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                return True
            except OSError:
                return False
        harness.wait_for(up, what="Dovecot on port %d" % port)

    def test_readme_snippet(self):
        import imaplib
        user, pw = "alice@local.test", "pw-%s" % token()[:8]
        srv = self.server_for(listeners={"mx": "optional"}, passwords={user: pw},
                              users=harness.DEFAULT_USERS + (user,))
        tok = token()
        with srv.dialog() as d:
            d.ehlo()
            d.mail_transaction("x@sender.test", [user], harness.make_message(tok, to=user))
            d.quit()
        harness.wait_for(lambda: srv.messages(user), what="the delivery")
        workdir = harness.new_tmpdir("dovecot-")
        os.chmod(workdir, 0o755)
        for sub in ("index", "control"):  # the README: owned by sealmail
            os.mkdir(os.path.join(workdir, sub))
            shutil.chown(os.path.join(workdir, sub), "sealmail", "sealmail")
        os.chmod(srv.users_path, 0o640)  # the README: the reader's group
        shutil.chown(srv.users_path, group="sealmail")
        port = harness.free_port()
        self.start_dovecot(srv, workdir, port)
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        m = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx)
        try:
            self.assertEqual(m.login(user, pw)[0], "OK")
            self.assertEqual(m.select("INBOX"), ("OK", [b"1"]))
            typ, data = m.fetch(b"1", "(BODY.PEEK[HEADER.FIELDS (X-TEST-TOKEN)])")
            self.assertEqual(data[0][1], b"X-Test-Token: %s\r\n\r\n" % tok.encode())
        finally:
            m.logout()
        maildir = os.path.join(srv.data_dir, "mail", "local.test", "alice")
        self.assertEqual([n for n in os.listdir(maildir) if n.startswith("dovecot")], [])
        self.assertTrue(os.listdir(os.path.join(workdir, "index")), "no index under INDEX=")


if __name__ == "__main__":
    harness.main()
