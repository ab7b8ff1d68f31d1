#!/usr/bin/python3
"""`sealmail send` with no [server] submit_socket reaches the server of its
own configuration. A server not started as root listens on
data_dir/submit.sock, one started as root on /run/sealmail/submit.sock; the
client cannot tell which, so it tries data_dir/submit.sock first: the other
order hands the message to whatever system server (started as root) runs on
the same machine, which answers 250 and keeps it, while this configuration's
server never sees it.

And sendmail's -b modes: -bp lists the queue (as mailq), -bi (newaliases)
exits at once without reading stdin, and -bs or -bv, which a caller means as
"an SMTP session" or "verify only", are usage errors: read as a message
their input would be sent as mail. The log's connect and disconnect lines
of a local submission say client=local, not a made-up 127.0.0.1.

The server runs as the unprivileged `sealmail` user (scripts/deps creates
it); the order of the client's connect() calls is read with strace."""

import os
import pwd
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import token  # noqa: E402

BOB = "bob@local.test"


def sealmail_user():
    try:
        return pwd.getpwnam("sealmail")
    except KeyError:
        raise AssertionError("no user 'sealmail' (scripts/deps creates it)")


def unix_connects(trace):
    """The submission sockets (AF_UNIX paths ending in submit.sock, not
    nscd's) the traced process connect()ed to, in order."""
    with open(trace) as f:
        paths = re.findall(r'connect\(\d+, \{sa_family=AF_UNIX, sun_path="([^"]*)"', f.read())
    return [p for p in paths if p.endswith("/submit.sock")]


class SubmitDefault(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            cls.wrapper = None
        else:
            pw = sealmail_user()
            cls.wrapper = ["setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid,
                           "--clear-groups"]
        harness.need_tool("strace", "strace")

    def test_send_reaches_data_dir_socket_first(self):
        srv = self.server_for(listeners={"mx": "optional"}, wrapper=self.wrapper)
        sock = os.path.join(srv.data_dir, "submit.sock")
        harness.wait_for(lambda: os.path.exists(sock), what=sock)
        tok = token()
        trace = os.path.join(srv.dir, "send.strace")
        p = subprocess.run(["strace", "-f", "-qq", "-e", "trace=connect", "-o", trace,
                            harness.SEALMAIL_BIN, "send", "-c", srv.conf, BOB],
                           input=b"Subject: default socket %s\n\nbody\n" % tok.encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        paths = unix_connects(trace)
        self.assertEqual(paths[:1], [sock], "connect() order: %r" % paths)
        harness.wait_for(lambda: [m for m in srv.messages(BOB) if tok.encode() in m],
                         what="the message in bob's mailbox")


class SendmailModes(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(listeners={"mx": "optional"}, submit_socket=True)

    def run_send(self, *args, input=b"", timeout=30):
        p = subprocess.run([harness.SEALMAIL_BIN, "send", "-c", self.srv.conf] + list(args),
                           input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout)
        return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")

    def test_bp_lists_the_queue_as_mailq(self):
        rc, out, err = self.run_send("-bp")
        mailq = subprocess.run([harness.SEALMAIL_BIN, "queue", "mailq", "-c", self.srv.conf],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual((rc, err), (0, ""), out)
        self.assertEqual(out, mailq.stdout.decode(errors="replace"))
        self.assertNotEqual(out, "")

    def test_bi_does_not_read_stdin(self):
        # stdin stays open: a -bi that waited for a message would time out
        p = subprocess.Popen([harness.SEALMAIL_BIN, "send", "-c", self.srv.conf, "-bi"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        try:
            rc = p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise AssertionError("sendmail -bi waited for standard input")
        finally:
            p.stdin.close()
        out, err = p.stdout.read(), p.stderr.read()
        p.stdout.close()
        p.stderr.close()
        self.assertEqual((rc, out, err), (0, b"", b""))

    def test_log_names_no_made_up_address(self):
        # the Unix socket has no client address: the log says "local", as the
        # Received-TLS: field does, not 127.0.0.1
        mark = self.srv.log_mark()
        tok = token()
        rc, out, err = self.run_send(BOB, input=b"Subject: log %s\n\nbody\n" % tok.encode())
        self.assertEqual(rc, 0, err)
        [queued] = harness.wait_for(lambda: self.srv.events("queued", mark), what="queued")
        session = queued["session"]

        def of_session(name):
            return [e for e in self.srv.events(name, mark) if e.get("session") == session]
        harness.wait_for(lambda: of_session("disconnect"), what="disconnect")
        [connect], [disconnect] = of_session("connect"), of_session("disconnect")
        self.assertEqual((connect["client"], connect["listener"]), ("local", "local"),
                         connect["_line"])
        self.assertEqual(disconnect["client"], "local", disconnect["_line"])

    def test_bs_and_bv_send_nothing(self):
        for mode in ("-bs", "-bv"):
            tok = token()
            rc, out, err = self.run_send(mode, BOB, input=b"Subject: %s %s\n\nbody\n"
                                         % (mode.encode(), tok.encode()))
            self.assertEqual(rc, 2, (mode, out, err))
            self.assertIn("sealmail send: %s is not supported" % mode, err)
            self.assertEqual(self.srv.events("queued"), [], self.srv.log_tail())


if __name__ == "__main__":
    harness.main()
