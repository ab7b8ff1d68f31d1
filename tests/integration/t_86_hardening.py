#!/usr/bin/python3
"""What the unprivileged user or a role taken over could turn against the
server or its administrator: data_dir/empty swapped for a link before a
dispatcher restarts, terminal escapes in a role's process title shown by
`sealmail status`, data_dir/control.sock left behind by a stop or replaced
by another file, and `sendmail --help` naming sendmail."""

import os
import pwd
import re
import signal
import socket
import stat
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import SEALMAIL_BIN, wait_for  # noqa: E402

MAN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "man")


def need_root():
    if os.geteuid() != 0:
        raise AssertionError("the chroots and the user's moves in data_dir need root "
                             "(run the tests as root)")


def cmdline(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        return f.read().split(b"\0")[0].decode(errors="replace")


def child_titled(main, title):
    for pid in harness._children(main):
        try:
            if cmdline(pid) == title:
                return pid
        except OSError:
            pass
    return None


def same_file(a, b):
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def as_user(func, *args):
    """Calls FUNC(*ARGS) in a child process run as the user the server runs
    as, as that user could act in its data_dir."""
    pw = pwd.getpwnam("sealmail")
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setgroups([])
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
            func(*args)
            code = 0
        except BaseException as e:
            sys.stderr.write("as sealmail: %r\n" % (e,))
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise AssertionError("%s failed as sealmail (status %d)" % (func.__name__, status))


def swap_empty(data):
    """The user moves empty/ away and puts a link to its own directory,
    with a file in it, in its place."""
    os.rename(os.path.join(data, "empty"), os.path.join(data, "empty.moved"))
    os.mkdir(os.path.join(data, "decoy"))
    open(os.path.join(data, "decoy", "marker"), "w").close()
    os.symlink(os.path.join(data, "decoy"), os.path.join(data, "empty"))


def replace_control(path, kind):
    """The user moves the control socket away and puts a file of its own,
    or a socket of its own, in its place."""
    os.rename(path, path + ".moved")
    if kind == "file":
        with open(path, "w") as f:
            f.write("mine\n")
    else:
        with socket.socket(socket.AF_UNIX) as s:
            s.bind(path)


def ctl(srv, *args):
    return harness.run([SEALMAIL_BIN] + list(args) + ["-c", srv.conf], check=False)


def send_one(srv, to="bob@local.test"):
    tok = harness.token()
    with harness.Dialog(srv.port()) as d:
        if d.greeting.code != 220:
            raise AssertionError("greeting: %s" % d.greeting)
        d.ehlo()
        d.mail_transaction(harness.SENDER, [to], harness.make_message(tok, to=to))
        d.quit()
    return tok


class DispatcherChroot(harness.ServerTestCase):
    """Every chroot into data_dir/empty goes through the directory the
    parent checked at start-up, not through the name, which the user owning
    data_dir may replace."""

    def open_descriptors_on(self, pid, st):
        fd_dir = "/proc/%d/fd" % pid
        out = []
        for fd in os.listdir(fd_dir):
            try:
                if same_file(os.stat(os.path.join(fd_dir, fd)), st):
                    out.append(int(fd))
            except OSError:
                pass
        return out

    def test_restart_after_empty_is_swapped(self):
        need_root()
        metrics_port = harness.free_port()
        srv = self.server_for(dispatchers=1,
                              extra_config="[metrics]\nlisten = 127.0.0.1:%d\n" % metrics_port)
        srv.wait_log(r"event=ready generation=0")
        main = srv.main_pid()
        empty = os.path.join(srv.data_dir, "empty")
        original = os.stat(empty)
        old = wait_for(lambda: child_titled(main, "sealmail: dispatcher 0"),
                       what="dispatcher 0")
        keeper = wait_for(lambda: child_titled(main, "sealmail: metrics keeper"),
                          what="the metrics keeper")
        metrics = wait_for(lambda: child_titled(keeper, "sealmail: metrics"),
                           what="the metrics role, the keeper's child")
        # status names the keeper as a role, not as an unknown child
        p = ctl(srv, "status")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout.decode(), r"(?m)^  metrics keeper   pid %d$" % keeper)
        self.assertNotIn(b"(unknown)", p.stdout)
        for pid in (old, keeper, metrics):
            self.assertTrue(same_file(os.stat("/proc/%d/root" % pid), original))

        as_user(swap_empty, srv.data_dir)
        self.assertTrue(os.path.islink(empty))
        mark = srv.log_mark()
        os.kill(old, signal.SIGKILL)
        srv.wait_log(r"event=dispatcher-exited pid=%d .*restarting=yes" % old, since=mark)
        new = wait_for(lambda: (lambda p: p if p not in (None, old) else None)(
            child_titled(main, "sealmail: dispatcher 0")), what="a new dispatcher 0")

        # mail still flows, through the new dispatcher (the only one)
        tok = send_one(srv)
        msgs = srv.wait_messages("bob@local.test", 1)
        self.assertIn(tok.encode(), msgs[0])
        root = "/proc/%d/root" % new
        self.assertTrue(same_file(os.stat(root), original),
                        "the new dispatcher's root is %s, not the original empty/"
                        % os.readlink(root))
        self.assertEqual(os.readlink(root), empty + ".moved")
        self.assertEqual(os.listdir(root), [])
        # the descriptor: the parent's, closed by every child once in its chroot
        self.assertEqual(len(self.open_descriptors_on(main, original)), 1)
        children = harness._children(main)
        self.assertGreaterEqual(len(children), 5)  # queue lookup store keeper dispatcher
        for pid in children + [metrics]:
            self.assertEqual(self.open_descriptors_on(pid, original), [],
                             "%s (pid %d) holds data_dir/empty open" % (cmdline(pid), pid))


class StatusTitles(harness.ServerTestCase):
    """`sealmail status` lists the children of the pid in the pidfile by
    their titles: a fake server whose children hold escapes in theirs."""

    FAKE_PARENT = (
        "import ctypes, subprocess, sys\n"
        "ctypes.CDLL(None).prctl(15, b'sealmail-parent', 0, 0, 0)\n"
        "kids = [subprocess.Popen([t, '600'], executable='sleep') for t in sys.argv[1:]]\n"
        "print(' '.join(str(k.pid) for k in kids), flush=True)\n"
        "sys.stdin.read()\n"
        "for k in kids:\n"
        "    k.kill()\n"
        "    k.wait()\n")

    def test_escapes_in_titles_are_shown_escaped(self):
        srv = self.server_for(start=False)
        titles = ["sealmail: queue", "sealmail: dispatcher 0",
                  "sealmail: \x1b]0;owned\x07\x1b[2Jlookup", "sealmail: store\r  metrics",
                  "sealmail: dispatcher 1\x1b[8m"]
        fake = subprocess.Popen([sys.executable, "-c", self.FAKE_PARENT] + titles,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.addCleanup(fake.wait, 30)
        self.addCleanup(fake.stdout.close)
        self.addCleanup(lambda: fake.stdin.closed or fake.stdin.close())
        pids = [int(p) for p in fake.stdout.readline().split()]
        self.assertEqual(len(pids), len(titles))
        for pid, title in zip(pids, titles):
            wait_for(lambda: cmdline(pid) == title, what="title of pid %d" % pid)
        with open(os.path.join(srv.data_dir, "sealmail.pid"), "w") as f:
            f.write("%d\n" % fake.pid)
        p = ctl(srv, "status")
        out = p.stdout
        self.assertEqual(p.returncode, 0, out + p.stderr)
        fake.stdin.close()
        self.assertNotIn(b"\x1b", out)
        self.assertNotIn(b"\x07", out)
        self.assertNotIn(b"\r", out)
        self.assertTrue(all(0x20 <= c <= 0x7e or c == 0x0a for c in out), out)
        text = out.decode()
        self.assertRegex(text, r"^sealmail is running: pid %d, up " % fake.pid)
        want = [
            "queue            pid %d" % pids[0],
            "dispatcher 0     pid %d" % pids[1],
            '(unknown) "sealmail: \\033]0;owned\\007\\033[2Jlookup" pid %d' % pids[2],
            '(unknown) "sealmail: store\\015  metrics" pid %d' % pids[3],
            '(unknown) "sealmail: dispatcher 1\\033[8m" pid %d' % pids[4],
        ]
        lines = [ln[2:] for ln in text.split("\n") if ln.startswith("  ") and " pid " in ln
                 and not ln.startswith("  pidfile ")]
        self.assertEqual(sorted(lines), sorted(want), text)


class ControlSocket(harness.ServerTestCase):
    """data_dir/control.sock lives as long as the server."""

    def control(self, srv):
        path = os.path.join(srv.data_dir, "control.sock")
        self.assertTrue(stat.S_ISSOCK(os.lstat(path).st_mode))
        return path

    def test_removed_by_stop(self):
        srv = self.server_for()
        path = self.control(srv)
        p = ctl(srv, "stop")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(srv.proc.wait(timeout=harness.TIMEOUT), 0)
        self.assertFalse(os.path.lexists(path))
        # and the server still starts again, and makes it again
        srv.start()
        self.control(srv)

    def test_removed_on_sigterm(self):
        srv = self.server_for()
        path = self.control(srv)
        self.assertEqual(srv.stop(), 0)
        self.assertFalse(os.path.lexists(path))

    def test_another_file_in_its_place_stays(self):
        """What the user put there since is not the server's to remove: a
        file, or a socket of its own."""
        need_root()
        for kind in ("file", "socket"):
            srv = self.server_for()
            path = self.control(srv)
            as_user(replace_control, path, kind)
            before = os.lstat(path)
            self.assertEqual(srv.stop(), 0)
            self.assertTrue(os.path.lexists(path), kind)
            self.assertTrue(same_file(os.lstat(path), before), kind)
            if kind == "file":
                with open(path) as f:
                    self.assertEqual(f.read(), "mine\n")


class SendmailHelp(harness.ServerTestCase):
    """Called as sendmail, the usage names sendmail."""

    def sendmail(self, *args):
        link = os.path.join(harness.new_tmpdir("sendmail-"), "sendmail")
        os.symlink(os.path.abspath(SEALMAIL_BIN), link)
        return harness.run([link] + list(args), check=False)

    def test_help(self):
        p = self.sendmail("--help")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, b"")
        out = p.stdout.decode()
        self.assertTrue(out.startswith("usage: sendmail [-c FILE] "), out)
        self.assertNotIn("sealmail send [", out)
        # every option it names is in man/sendmail.8
        option = re.compile(r"(?<![\w-])(--?[a-zA-Z][a-zA-Z-]*)")
        in_help = set(option.findall(out))
        self.assertTrue({"-c", "-f", "-r", "-t", "-i", "-oi", "-bp", "-bi"} <= in_help, in_help)
        with open(os.path.join(MAN_DIR, "sendmail.8")) as f:
            page = re.sub(r"\\f[BIRP]", "", f.read().replace("\\-", "-"))
        self.assertEqual(sorted(in_help - set(option.findall(page))), [],
                         "options not in man/sendmail.8")
        self.assertIn("--help", page)

    def test_usage_error_names_sendmail(self):
        for args in (["-x"], ["-bs"], ["-f"]):
            p = self.sendmail(*args)
            self.assertEqual(p.returncode, 2, args)
            self.assertIn(b"usage: sendmail [-c FILE] ", p.stderr, args)
            self.assertEqual(p.stdout, b"")

    def test_sealmail_send_keeps_its_usage(self):
        p = harness.run([SEALMAIL_BIN, "send", "--help"], check=False)
        self.assertEqual(p.returncode, 0)
        self.assertTrue(p.stdout.startswith(b"usage: sealmail send "), p.stdout)
        p = harness.run([SEALMAIL_BIN, "send", "-x"], check=False)
        self.assertEqual(p.returncode, 2)
        self.assertTrue(p.stderr.startswith(b"usage: sealmail send "), p.stderr)


if __name__ == "__main__":
    harness.main()
