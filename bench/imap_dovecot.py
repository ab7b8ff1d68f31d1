"""Runs Debian's Dovecot, unpacked by scripts/test-peers into tests/.peers/dovecot
(never installed), as a private instance: its own configuration directory,
loopback ports, a passwd-file of users each with their own Maildir.

Dovecot's binaries have /usr/lib/dovecot and /usr/bin/doveconf compiled in
(RUNPATH, service executables, the SSL module directory), so the master runs
in a private mount namespace (unshare -m) where the unpacked usr/lib and
usr/bin are overlaid on the real ones; nothing outside that namespace sees
them. The master runs as root (it must, to change users); every other
Dovecot process, and the mail processes, run as the unprivileged MAIL_USER.

Used by bench/imap (the reference server of the IMAP benchmark) and by the
integration tests' reference mode (tests/integration/harness.py)."""

import os
import pwd
import signal
import socket
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = os.path.join(os.path.dirname(HERE), "tests", ".peers", "dovecot")


def dovecot_present(peers=PEERS):
    return os.path.exists(os.path.join(peers, ".complete"))


class Dovecot:
    """USERS: {login: (password, maildir)}; PORTS: {"imap", "imaps", "pop3",
    "pop3s": port} (any subset); CERT/KEY: PEM files. MAIL_USER: the system
    user the mail processes run as (must be able to write the Maildirs)."""

    def __init__(self, workdir, users, ports, cert, key, mail_user="nobody", peers=PEERS,
                 special_use=True, extra=""):
        self.dir = workdir
        self.peers = peers
        self.users = users
        self.ports = ports
        self.proc = None
        os.makedirs(workdir, exist_ok=True)
        self.conf = os.path.join(workdir, "dovecot.conf")
        self.log_path = os.path.join(workdir, "dovecot.log")
        pw = pwd.getpwnam(mail_user)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        group = _group_name(self.gid)
        passwd = os.path.join(workdir, "passwd")
        with open(passwd, "w") as f:
            for login, (password, maildir) in users.items():
                f.write("%s:{PLAIN}%s:%d:%d::%s::userdb_mail=maildir:%s\n"
                        % (login, password, self.uid, self.gid, maildir, maildir))
        os.chmod(passwd, 0o644)
        protocols = sorted({"imap" if p.startswith("imap") else "pop3" for p in ports})
        lines = [
            "# written by bench/imap_dovecot.py: a private instance, not /etc/dovecot",
            "base_dir = %s/run" % workdir,
            "state_dir = %s/state" % workdir,
            "instance_name = bench-%d" % os.getpid(),
            "protocols = %s" % " ".join(protocols),
            "listen = 127.0.0.1",
            "ssl = required",
            "ssl_cert = <%s" % cert,
            "ssl_key = <%s" % key,
            "ssl_min_protocol = TLSv1.2",
            "log_path = %s" % self.log_path,
            "default_internal_user = %s" % mail_user,
            "default_internal_group = %s" % group,
            "default_login_user = %s" % mail_user,
            "first_valid_uid = 1",
            "disable_plaintext_auth = yes",
            "auth_mechanisms = plain",
            "mail_fsync = always",
            "passdb {\n  driver = passwd-file\n  args = %s\n}" % passwd,
            "userdb {\n  driver = passwd-file\n  args = %s\n}" % passwd,
            "service imap-login {",
        ]
        for name in ("imap", "imaps"):
            if name in ports:
                lines.append("  inet_listener %s {\n    port = %d\n%s  }"
                             % (name, ports[name], "    ssl = yes\n" if name == "imaps" else ""))
        if not any(n in ports for n in ("imap", "imaps")):
            lines.append("  inet_listener imap {\n    port = 0\n  }")
        lines.append("}")
        lines.append("service pop3-login {")
        for name in ("pop3", "pop3s"):
            if name in ports:
                lines.append("  inet_listener %s {\n    port = %d\n%s  }"
                             % (name, ports[name], "    ssl = yes\n" if name == "pop3s" else ""))
        if not any(n in ports for n in ("pop3", "pop3s")):
            lines.append("  inet_listener pop3 {\n    port = 0\n  }")
        lines.append("}")
        if special_use:
            lines.append("namespace inbox {\n  inbox = yes\n  separator = /")
            for box, use in (("Drafts", "\\Drafts"), ("Sent", "\\Sent"), ("Trash", "\\Trash"),
                             ("Junk", "\\Junk"), ("Archive", "\\Archive")):
                lines.append("  mailbox %s {\n    special_use = %s\n    auto = subscribe\n  }"
                             % (box, use))
            lines.append("}")
        lines.append(extra)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(workdir, 0o755)

    def start(self, timeout=30):
        if not dovecot_present(self.peers):
            raise AssertionError("Dovecot is not unpacked in %s: run scripts/test-peers"
                                 % self.peers)
        if os.geteuid() != 0:
            raise AssertionError("the Dovecot reference needs root (its master changes users "
                                 "and runs in a private mount namespace)")
        dv = self.peers
        script = ("mount -t overlay overlay -o lowerdir=%s/usr/lib:/usr/lib /usr/lib && "
                  "mount -t overlay overlay -o lowerdir=%s/usr/bin:/usr/bin /usr/bin && "
                  "exec %s/usr/sbin/dovecot -c %s -F" % (dv, dv, dv, self.conf))
        self._out = open(os.path.join(self.dir, "dovecot.out"), "ab")
        self.proc = subprocess.Popen(["unshare", "-m", "--propagation", "private",
                                      "sh", "-c", script],
                                     stdin=subprocess.DEVNULL, stdout=self._out,
                                     stderr=self._out, start_new_session=True)
        deadline = time.monotonic() + timeout
        for port in self.ports.values():
            while True:
                if self.proc.poll() is not None:
                    raise AssertionError("dovecot exited (rc=%s): %s" % (
                        self.proc.returncode, self.log_tail()))
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise AssertionError("dovecot does not listen on %d: %s"
                                             % (port, self.log_tail()))
                    time.sleep(0.05)

    def pids(self):
        """The master and every process of its session."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        return _session_pids(self.proc.pid)

    def rss_kib(self):
        return sum(_rss_kib(p) for p in self.pids())

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc = None
        self._out.close()

    def log_tail(self, n=30):
        out = []
        for p in (self.log_path, os.path.join(self.dir, "dovecot.out")):
            try:
                with open(p, errors="replace") as f:
                    out += f.read().splitlines()[-n:]
            except OSError:
                pass
        return "\n".join(out)


def _group_name(gid):
    import grp
    return grp.getgrgid(gid).gr_name


def _session_pids(sid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(rest[3]) == sid and rest[0] not in ("Z", "X"):
            out.append(int(d))
    return out


def _rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0
