#!/usr/bin/python3
"""Running it like a daemon: process titles, [server] log (stderr, a file,
the journal's priority prefixes), the pidfile's life, `sealmail status` and
`sealmail stop` with their exit codes, and `serve` without -f saying where
its logs go before it detaches."""

import os
import re
import signal
import socket
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import SEALMAIL_BIN, wait_for

STAMPED_RE = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z sealmail\[\d+\] role=%s level=%s %s"
ROLES = ("queue", "lookup", "store")


def cmdline(pid):
    """/proc/PID/cmdline as ps -f shows it: the NULs between words as
    spaces, the trailing ones left out (a stray byte after the title, such
    as the '.' libbsd leaves where a longer argv[0] ended, shows)."""
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        return f.read().rstrip(b"\0").replace(b"\0", b" ").decode()


def comm(pid):
    with open("/proc/%d/comm" % pid) as f:
        return f.read().strip()


def ctl(srv, *args):
    return harness.run([SEALMAIL_BIN] + list(args) + ["-c", srv.conf], check=False)


def dead_pid():
    """A pid that no process has (one that ran and was reaped)."""
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def syslog_reachable():
    """What the server checks too: a log daemon listens on /dev/log."""
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_UNIX, kind) as s:
            try:
                s.connect("/dev/log")
                return True
            except OSError:
                pass
    return False


class Titles(harness.ServerTestCase):

    def test_every_process_names_its_role(self):
        srv = self.server_for(dispatchers=2)
        main = srv.main_pid()
        self.assertEqual(cmdline(main), "sealmail: parent")
        self.assertEqual(comm(main), "sealmail-parent")
        want = {"sealmail: %s" % r: "sealmail-%s" % r for r in ROLES}
        want.update({"sealmail: dispatcher %d" % i: "sealmail-disp%d" % i for i in range(2)})

        def children():
            got = {cmdline(c): comm(c) for c in harness._children(main)}
            return got if got == want else None
        try:
            wait_for(children, what="every child titled")
        except AssertionError:
            self.fail("children: %r, want %r" % (
                {cmdline(c): comm(c) for c in harness._children(main)}, want))

    def test_titles_whatever_the_length_of_argv0(self):
        """libbsd marks where argv[0] ended behind a shorter title ('.') or
        one of the same length (' '): started with an argv[0] as long as
        each title, and one longer, every title still reads exactly."""
        want = ["sealmail: parent", "sealmail: metrics keeper", "sealmail: metrics"]
        want += ["sealmail: %s" % r for r in ROLES] + ["sealmail: dispatcher 0"]
        for length in sorted({len(t) for t in want} | {len(want[1]) + 1}):
            srv = self.server_for(start=False, dispatchers=1, extra_config=(
                "[metrics]\nlisten = 127.0.0.1:%d\n" % harness.free_port()))
            srv.argv0 = "s" * length
            srv.start()
            main = srv.main_pid()

            def titles():
                pids = [main] + harness._children(main)
                pids += [g for c in pids[1:] for g in harness._children(c)]
                got = sorted(cmdline(p) for p in pids)
                return got if got == sorted(want) else None
            try:
                wait_for(titles, what="every title, argv[0] %d long" % length)
            except AssertionError:
                self.fail("argv[0] %d long: %r" % (length, sorted(
                    cmdline(p) for p in [main] + harness._children(main))))
            self.assertEqual(srv.stop(), 0)


class LogTargets(harness.ServerTestCase):

    def test_stderr_is_stamped(self):
        for options in ({}, {"log": "stderr"}):
            srv = self.server_for(server_options=options)
            srv.wait_log(STAMPED_RE % ("parent", "info", "event=started"), flags=re.M)
            srv.wait_log(STAMPED_RE % ("queue", "info", ""), flags=re.M)

    def test_file(self):
        path = os.path.join(harness.new_tmpdir("logfile-"), "mail.log")
        srv = self.server_for(server_options={"log": path})
        wait_for(lambda: os.path.exists(path) and "event=ready" in open(path).read(),
                 what="the ready line in the log file")
        with open(path) as f:
            text = f.read()
        self.assertRegex(text, re.compile(STAMPED_RE % ("parent", "info", "event=started"), re.M))
        # the chrooted roles write into the file the parent opened
        for role in ROLES + ("dispatcher",):
            self.assertRegex(text, re.compile(r"\] role=%s level=" % role), role)
        self.assertIn("sealmail: logs go to %s" % path, srv.log())
        self.assertNotIn("event=", srv.log(), "a line went to stderr instead of the file")

    def test_file_reopened_on_sighup(self):
        """logrotate's way: move the file, SIGHUP; every process, the queue
        forked long before among them, then writes to the new file."""
        path = os.path.join(harness.new_tmpdir("logfile-"), "mail.log")
        srv = self.server_for(server_options={"log": path})
        wait_for(lambda: os.path.exists(path) and "event=ready" in open(path).read(),
                 what="the ready line in the log file")
        os.rename(path, path + ".1")
        srv.reload()
        wait_for(lambda: os.path.exists(path) and "event=log-reopened" in open(path).read(),
                 what="the reopened log file")
        harness.deliver(srv, "bob@local.test", harness.make_message(harness.token()))
        wait_for(lambda: re.search(r"role=queue level=info event=delivered", open(path).read()),
                 what="the queue's delivery line in the new file")
        new, old = open(path).read(), open(path + ".1").read()
        self.assertRegex(new, r"role=dispatcher level=info event=connect")
        self.assertNotIn("event=delivered", old)
        self.assertIn("event=ready generation=0", old)

    def test_file_keeps_a_dying_roles_last_words_first(self):
        """The role's last line and its exit reach the parent in one turn
        of its loop: the parent is stopped while the role, held at its trust
        anchor (a FIFO, whose open() waits for a writer), is let go, logs
        its fatal line and exits. The role's line still comes first."""
        path = os.path.join(harness.new_tmpdir("logfile-"), "mail.log")
        fifo = os.path.join(harness.new_tmpdir("anchor-"), "anchor")
        os.mkfifo(fifo)
        os.chmod(os.path.dirname(fifo), 0o755)
        os.chmod(fifo, 0o666)
        srv = self.server_for(start=False, server_options={"log": path},
                              extra_config="[dns]\ntrust_anchor = %s\n" % fifo)
        srv.start(wait=False)
        parent = srv.proc.pid
        lookup = wait_for(lambda: next((c for c in harness._children(parent)
                                        if cmdline(c) == "sealmail: lookup"), None),
                          what="the lookup role")
        os.kill(parent, signal.SIGSTOP)
        try:
            os.close(harness.fifo_writer(fifo))  # once the role is in its open()
            wait_for(lambda: harness.proc_state(lookup) == "Z", what="the lookup role's exit")
        finally:
            os.kill(parent, signal.SIGCONT)
        srv.proc.wait(timeout=harness.TIMEOUT)
        text = open(path).read()
        fatal = re.search(r"role=lookup level=fatal event=fatal ", text)
        exited = re.search(r"role=parent level=error event=role-exited role=lookup ", text)
        self.assertTrue(fatal and exited, text)
        self.assertLess(fatal.start(), exited.start(), text)

    def test_bad_values_name_file_line_key(self):
        srv = harness.Server(start=False, server_options={"log": "relative.log"})
        p = harness.run([SEALMAIL_BIN, "config", "check", "-c", srv.conf], check=False)
        self.assertEqual(p.returncode, 1)
        self.assertRegex(p.stderr.decode(), r"%s:\d+: log: 'relative.log' is neither syslog, "
                         r"stderr nor an absolute file path" % re.escape(srv.conf))
        srv = harness.Server(start=False, server_options={"pidfile": "x.pid"})
        p = harness.run([SEALMAIL_BIN, "config", "check", "-c", srv.conf], check=False)
        self.assertRegex(p.stderr.decode(), r"%s:\d+: pidfile: 'x.pid' is not an absolute path"
                         % re.escape(srv.conf))

    def journal_server(self, stream_matches=True, **kw):
        srv = self.server_for(start=False, **kw)
        open(srv.log_path, "ab").close()
        st = os.stat(srv.log_path)
        srv.env = {"JOURNAL_STREAM": "%d:%d" % (st.st_dev, st.st_ino + (0 if stream_matches
                                                                          else 1))}
        return srv

    def test_journal_priorities(self):
        srv = self.journal_server()
        srv.start()
        line = srv.wait_log(r"event=started")
        self.assertRegex(line, r"^<6>role=parent pid=%d level=info event=started " % srv.main_pid())
        srv.wait_log(r"^<6>role=queue pid=\d+ level=info ", flags=re.M)
        # a warning and an error: a reload that changes data_dir, then a broken one
        text = open(srv.conf).read()
        with open(srv.conf, "w") as f:
            f.write(text.replace("data_dir = ", "data_dir = /nonexistent"))
        srv.reload()
        srv.wait_log(r"^<4>role=parent pid=\d+ level=warning event=reload-warning", flags=re.M)
        with open(srv.conf, "w") as f:
            f.write(text + "\n[server]\nno_such_key = 1\n")
        srv.reload()
        srv.wait_log(r"^<3>role=parent pid=\d+ level=error event=reload-failed", flags=re.M)
        self.assertNotRegex(srv.log(), re.compile(r"^\d{4}-\d\d-\d\dT", re.M),
                            "a stamped line on the journal's stream")

    def test_journal_fatal(self):
        srv = self.journal_server(extra_config="[dns]\ntrust_anchor = /nonexistent/anchor\n")
        srv.start(wait=False)
        srv.proc.wait(timeout=harness.TIMEOUT)
        self.assertRegex(srv.log(), re.compile(
            r"^<2>role=lookup pid=\d+ level=fatal event=fatal ", re.M))

    def test_other_stream_is_not_the_journal(self):
        srv = self.journal_server(stream_matches=False)
        srv.start()
        srv.wait_log(STAMPED_RE % ("parent", "info", "event=started"), flags=re.M)
        self.assertNotIn("<6>", srv.log())


class PidfileStatusStop(harness.ServerTestCase):

    def test_life_cycle(self):
        srv = self.server_for()
        pidfile = os.path.join(srv.data_dir, "sealmail.pid")
        self.assertEqual(open(pidfile).read(), "%d\n" % srv.main_pid())
        # a second server on the same configuration refuses, naming the first
        p = harness.run([SEALMAIL_BIN, "serve", "-f", "-c", srv.conf], check=False, timeout=30)
        self.assertEqual(p.returncode, 1)
        self.assertIn("%s: another sealmail runs (pid %d)" % (pidfile, srv.main_pid()),
                      p.stderr.decode())
        self.assertEqual(open(pidfile).read(), "%d\n" % srv.main_pid())
        self.assertEqual(srv.stop(), 0)
        self.assertFalse(os.path.exists(pidfile), "pidfile left after exit")
        # stale: a pid nobody has, then a live process that is not sealmail
        for stale in (dead_pid(), os.getpid()):
            with open(pidfile, "w") as f:
                f.write("%d\n" % stale)
            srv.start()
            self.assertEqual(open(pidfile).read(), "%d\n" % srv.main_pid())
            srv.stop()

    def test_configured_path(self):
        path = os.path.join(harness.new_tmpdir("pid-"), "mail.pid")
        srv = self.server_for(server_options={"pidfile": path})
        self.assertEqual(open(path).read(), "%d\n" % srv.main_pid())
        self.assertFalse(os.path.exists(os.path.join(srv.data_dir, "sealmail.pid")))
        p = ctl(srv, "status")
        self.assertEqual(p.returncode, 0, p.stderr)
        srv.stop()
        self.assertFalse(os.path.exists(path))

    def test_status_and_stop(self):
        srv = self.server_for(dispatchers=2)
        main = srv.main_pid()
        srv.wait_log(r"event=ready generation=0")  # every child titled and up
        # -c before the subcommand, as for every other one
        p = harness.run([SEALMAIL_BIN, "-c", srv.conf, "status"], check=False)
        out = p.stdout.decode()
        self.assertEqual(p.returncode, 0, out + p.stderr.decode())
        self.assertRegex(out, r"^sealmail is running: pid %d, up 0d 00:\d\d:\d\d\n" % main)
        for role in ROLES + ("dispatcher 0", "dispatcher 1"):
            self.assertRegex(out, r"\n  %-16s pid \d+\n" % role)
        p = ctl(srv, "stop")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.decode(), "sealmail stopped (pid %d)\n" % main)
        # stop returned only once the process was gone: it is reaped at once
        self.assertEqual(srv.proc.wait(timeout=0.5), 0)
        pidfile = os.path.join(srv.data_dir, "sealmail.pid")
        self.assertFalse(os.path.exists(pidfile))
        p = ctl(srv, "status")
        self.assertEqual(p.returncode, 3)
        self.assertEqual(p.stdout.decode(), "sealmail is not running (no pidfile %s)\n" % pidfile)
        p = ctl(srv, "stop")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr.decode(), "sealmail: not running (no pidfile %s)\n" % pidfile)
        with open(pidfile, "w") as f:
            f.write("%d\n" % dead_pid())
        self.assertEqual(ctl(srv, "status").returncode, 1)
        p = ctl(srv, "stop")
        self.assertEqual(p.returncode, 1)
        self.assertIn("stale pidfile", p.stderr.decode())

    def test_help_and_usage(self):
        for cmd in ("status", "stop"):
            p = harness.run([SEALMAIL_BIN, cmd, "--help"], check=False)
            self.assertEqual(p.returncode, 0)
            self.assertTrue(p.stdout.decode().startswith("usage: sealmail %s" % cmd))
            p = harness.run([SEALMAIL_BIN, cmd, "extra"], check=False)
            self.assertEqual(p.returncode, 2)
            self.assertTrue(p.stderr.decode().startswith("usage: sealmail %s" % cmd))


class Detach(harness.ServerTestCase):
    """`serve` without -f."""

    def detached(self, **options):
        srv = self.server_for(start=False, submit_socket=True, server_options=options)
        pidfile = os.path.join(srv.data_dir, "sealmail.pid")
        self.addCleanup(self.kill_left, pidfile)
        p = harness.run([SEALMAIL_BIN, "serve", "-c", srv.conf], check=False, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        wait_for(lambda: os.path.exists(pidfile) and open(pidfile).read().endswith("\n"),
                 what="the pidfile")
        return srv, p.stderr.decode()

    def kill_left(self, pidfile):
        try:
            os.kill(int(open(pidfile).read()), 9)
        except (OSError, ValueError):
            pass

    def check_fallback(self, srv, err, reason):
        fallback = os.path.join(srv.data_dir, "sealmail.log")
        self.assertIn("sealmail: warning: %s; logging to %s instead (and to stderr until the "
                      "server detaches)\n" % (reason, fallback), err)
        self.assertIn("sealmail: logs go to %s\n" % fallback, err)
        # before detaching, the lines went to stderr too
        self.assertRegex(err, re.compile(STAMPED_RE % ("parent", "info", "event=listening"),
                                         re.M))
        wait_for(lambda: "event=ready" in open(fallback).read(), what="the ready line")
        p = ctl(srv, "status")
        self.assertEqual(p.returncode, 0, p.stderr)
        p = ctl(srv, "stop")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("event=stopped", open(fallback).read())
        self.assertFalse(os.path.exists(os.path.join(srv.data_dir, "sealmail.pid")))

    def test_stderr_falls_back_to_a_file(self):
        srv, err = self.detached(log="stderr")
        self.check_fallback(srv, err, "log = stderr, and stderr is closed when the server "
                            "detaches (-f keeps it)")

    def test_syslog_without_a_socket(self):
        srv, err = self.detached()
        if syslog_reachable():
            self.assertEqual(err, "sealmail: logs go to syslog (facility mail)\n")
            self.assertEqual(ctl(srv, "stop").returncode, 0)
        else:
            self.check_fallback(srv, err, "there is no syslog socket at /dev/log")

    def test_file_is_said(self):
        path = os.path.join(harness.new_tmpdir("logfile-"), "mail.log")
        srv, err = self.detached(log=path)
        self.assertEqual(err, "sealmail: logs go to %s\n" % path)
        wait_for(lambda: "event=ready" in open(path).read(), what="the ready line")
        self.assertEqual(ctl(srv, "stop").returncode, 0)


class RootInDataDir(harness.ServerTestCase):
    """data_dir belongs to the unprivileged user, and the parent works
    there as root: what that user puts in place of the names root opens
    must not make root touch another file."""

    def victim(self):
        if os.geteuid() != 0:
            self.fail("the parent's work as root needs root (run the tests as root)")
        path = os.path.join(harness.new_tmpdir("victim-"), "secret")
        with open(path, "w") as f:
            f.write("secret\n")
        os.chmod(path, 0o600)
        os.chown(path, 1, 1)
        return path

    def assertUntouched(self, path):
        st = os.stat(path)
        self.assertEqual((st.st_mode & 0o7777, st.st_uid, st.st_gid), (0o600, 1, 1))
        self.assertEqual(open(path).read(), "secret\n")

    def test_empty_is_not_followed(self):
        victim = self.victim()
        srv = self.server_for(start=False)
        os.symlink(victim, os.path.join(srv.data_dir, "empty"))
        srv.start(wait=False)
        self.assertEqual(srv.proc.wait(timeout=harness.TIMEOUT), 1)
        self.assertUntouched(victim)
        self.assertIn("/empty: not a directory of its own", srv.log())

    def test_submit_socket_mode_comes_from_bind(self):
        """Mode 0666 under systemd's UMask=0077 too, set as bind() creates
        it: a chmod() by name afterwards would follow a link put there in
        the meantime (not raced here: the mode is what this checks)."""
        srv = self.server_for(start=False, submit_socket=True)
        old = os.umask(0o077)
        try:
            srv.start()
        finally:
            os.umask(old)
        st = os.lstat(srv.submit_socket)
        self.assertEqual(oct(st.st_mode & 0o7777), oct(0o666))

    def test_log_file_is_not_followed(self):
        victim = self.victim()
        srv = self.server_for(start=False)
        path = os.path.join(srv.data_dir, "sealmail.log")
        os.symlink(victim, path)
        with open(srv.conf) as f:
            text = f.read()
        with open(srv.conf, "w") as f:
            f.write(text.replace("[server]\n", "[server]\nlog = %s\n" % path, 1))
        srv.start(wait=False)
        self.assertEqual(srv.proc.wait(timeout=harness.TIMEOUT), 1)
        self.assertUntouched(victim)
        self.assertIn("cannot open %s: not a regular file of its own" % path, srv.log())


if __name__ == "__main__":
    harness.main()
