#!/usr/bin/python3
"""`sealmail init`: a first configuration from flags or from answers typed
on a terminal (a pty). The files and their modes; `sealmail config check`
accepts the configuration and `sealmail serve -f` started from it (its
ports moved to free test ports) receives a message for postmaster@ through
the aliases written and serves it over IMAP, over IPv4 and, when this
machine can bind IPv6, over IPv6 (init writes a [::]:PORT listener beside
each *:PORT one then); nothing is overwritten, and when one file exists
none is written."""

import imaplib
import os
import pty
import re
import select
import signal
import socket
import stat
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402

HOST = harness.HOSTNAME  # mx.local.test: the harness's default certificate's name
LISTEN_PORTS = {"25": "smtp", "587": "submission", "465": "submissions", "993": "imaps",
                "995": "pop3s"}


def ipv6_bind_error():
    """None when this machine has IPv6 up, as `sealmail init` decides it:
    the loopback [::1] binds ([::] binds even with IPv6 switched off by
    sysctl); else why not."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind(("::1", 0))
    except OSError as e:
        return str(e)
    return None


def lo_ipv6():
    """What `ip -6 addr show lo` says (iproute2), for a failure message."""
    try:
        p = subprocess.run(["ip", "-6", "addr", "show", "lo"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
    except FileNotFoundError:
        return "(no `ip`: install iproute2 to see lo's addresses)"
    return p.stdout.decode(errors="replace").strip() or "(no IPv6 address on lo)"


def init(*args, stdin=subprocess.DEVNULL):
    """Runs `sealmail init ARGS` without a controlling terminal."""
    p = subprocess.run([harness.SEALMAIL_BIN, "init"] + list(args), stdin=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30,
                       start_new_session=True)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


class Paths:
    def __init__(self):
        self.dir = harness.new_tmpdir("init-")
        self.etc = os.path.join(self.dir, "etc")
        self.conf = os.path.join(self.etc, "sealmail.conf")
        self.users = os.path.join(self.etc, "users")
        self.aliases = os.path.join(self.etc, "aliases")
        self.data = os.path.join(self.dir, "data")

    def flags(self, cert, admin="bob@local.test"):
        return ["--hostname", HOST, "--domain", "local.test", "--domain", "other.test",
                "--cert", cert.cert, "--key", cert.key, "--admin", admin,
                "--data-dir", self.data, "--config", self.conf]

    def written(self):
        return [p for p in (self.conf, self.users, self.aliases) if os.path.lexists(p)]


ALIASES = ["postmaster@local.test: bob@local.test", "abuse@local.test: bob@local.test",
           "dmarc-reports@local.test: bob@local.test", "tls-reports@local.test: bob@local.test",
           "postmaster@other.test: bob@local.test", "abuse@other.test: bob@local.test",
           "dmarc-reports@other.test: bob@local.test", "tls-reports@other.test: bob@local.test",
           # system mail: sendmail makes a bare "root" root@HOST
           "root@%s: bob@local.test" % HOST, "mailer-daemon@%s: bob@local.test" % HOST,
           "postmaster@%s: bob@local.test" % HOST]


# (name, address, protocol, tls, auth) of each [listen NAME] written
LISTENERS = [("smtp", "*:25", "smtp", "optional", None),
             ("submission", "*:587", "submission", "required", "required"),
             ("submissions", "*:465", "submission", "implicit", "required"),
             ("imaps", "*:993", "imap", "implicit", None),
             ("pop3s", "*:995", "pop3", "implicit", None)]
LISTENERS6 = [(n + "6", "[::]" + a[1:]) + tuple(rest) for n, a, *rest in LISTENERS]


def listeners(conf):
    """The [listen NAME] sections of CONF as LISTENERS rows, IPv4 ones
    first (init writes each IPv6 twin after its IPv4 listener)."""
    rows, cur = [], None
    for ln in data_lines(conf):
        m = re.fullmatch(r"\[(\S+)(?: (\S+))?\]", ln)
        if m:
            cur = {"name": m.group(2)} if m.group(1) == "listen" else None
            if cur is not None:
                rows.append(cur)
        elif cur is not None:
            key, _, value = ln.partition(" = ")
            cur[key] = value
    got = [(r["name"], r.get("address"), r.get("protocol"), r.get("tls"), r.get("auth"))
           for r in rows]
    return [r for r in got if not r[1].startswith("[")] + \
        [r for r in got if r[1].startswith("[")]


def data_lines(path):
    with open(path) as f:
        return [ln.rstrip("\n") for ln in f if ln.strip() and not ln.startswith("#")]


class IMAP4_SSL(imaplib.IMAP4_SSL):
    """imaplib.IMAP4_SSL checking the certificate against HOST, not the
    address connected to (the test certificate does not name ::1)."""

    def _create_socket(self, timeout):
        sock = socket.create_connection((self.host, self.port), timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=HOST)


def free_port_both():
    """A port free on the IPv4 and (when there is IPv6) the IPv6 wildcard."""
    while True:
        port = harness.free_port()
        if ipv6_bind_error() is not None:
            return port
        try:
            with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                s.bind(("::", port))
            return port
        except OSError:
            continue


class Served:
    """`sealmail serve -f` from the configuration written by init, with each
    port moved to a free one (the only change): *:PORT and [::]:PORT, as
    written, so the pair is bound as it would be on port 25. IPV6 says
    whether the [::] listeners must be there."""

    def __init__(self, conf, ipv6):
        with open(conf) as f:
            text = f.read()
        self.ports, self.ipv6 = {}, ipv6
        for port, name in LISTEN_PORTS.items():
            self.ports[name] = free_port_both()
            text, n = re.subn(r"(?m)^address = \*:%s$" % port,
                              "address = *:%d" % self.ports[name], text)
            if n != 1:
                raise AssertionError("no listener on *:%s in %s" % (port, conf))
            text, n = re.subn(r"(?m)^address = \[::\]:%s$" % port,
                              "address = [::]:%d" % self.ports[name], text)
            if n != (1 if ipv6 else 0):
                raise AssertionError("%d listeners on [::]:%s in %s, want %d"
                                     % (n, port, conf, 1 if ipv6 else 0))
        self.conf = conf + ".test-ports"
        with open(self.conf, "w") as f:
            f.write(text)
        self.log_path = conf + ".log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([harness.SEALMAIL_BIN, "serve", "-c", self.conf, "-f"],
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=self.log, start_new_session=True)
        for name, port in self.ports.items():
            harness.wait_for(lambda: self.accepts("127.0.0.1", port),
                             what="listener %s on 127.0.0.1" % name)
        for name, port in self.ports.items() if ipv6 else ():
            harness.wait_for(lambda: self.accepts("::1", port),
                             what="[::1]:%d of [listen %s6]: IPv6 is expected (this machine "
                             "binds [::]); `ip -6 addr show lo`:\n%s" % (port, name, lo_ipv6()))

    def accepts(self, host, port):
        if self.proc.poll() is not None:
            raise AssertionError("sealmail serve exited (rc=%s):\n%s"
                                 % (self.proc.returncode, self.log_text()))
        try:
            harness.socket.create_connection((host, port), timeout=1).close()
            return True
        except OSError:
            return False

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def close(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=harness.TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.log.close()


class Init(harness.unittest.TestCase):

    def test_with_flags(self):
        p = Paths()
        rc, out, err = init(*p.flags(harness.default_cert()))
        self.assertEqual((rc, err), (0, ""), out)
        self.assertEqual(mode(p.conf), 0o644)
        self.assertEqual(mode(p.users), 0o640)
        self.assertEqual(mode(p.aliases), 0o644)
        self.assertEqual(data_lines(p.users), [], "the users file has no user yet")
        self.assertEqual(data_lines(p.aliases), ALIASES)
        self.assertEqual(out.split("\n")[:5], [
            "wrote %s (mode 0644)" % p.conf, "wrote %s (mode 0640)" % p.users,
            "wrote %s (mode 0644)" % p.aliases, "Next:",
            "  1. add the mailbox postmaster@ and abuse@ reach, then each of your users:"])
        for step in ("sealmail user add bob@local.test -c %s" % p.conf,
                     "sealmail dns-records local.test -c %s" % p.conf,
                     "sealmail dns-records other.test -c %s" % p.conf,
                     "sealmail config check -c %s" % p.conf,
                     "sealmail serve -c %s" % p.conf):
            self.assertIn("\n       " + step + "\n", out)
        conf = data_lines(p.conf)
        for line in ("hostname = %s" % HOST, "local_domains = local.test other.test %s" % HOST,
                     "data_dir = %s" % p.data, "users = %s" % p.users,
                     "aliases = %s" % p.aliases, "certificate = %s" % harness.default_cert().cert,
                     "key = %s" % harness.default_cert().key):
            self.assertIn(line, conf)
        with open(p.conf) as f:
            comments = sum(1 for ln in f if ln.startswith("#"))
        self.assertGreater(comments, 10, "the configuration explains itself")

        c = subprocess.run([harness.SEALMAIL_BIN, "config", "check", "-c", p.conf],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        # ok; the test CA's short-lived certificates give expiry warnings
        # (config check also prints a line naming each certificate)
        self.assertEqual(c.returncode, 0, c.stderr.decode())
        self.assertTrue(c.stdout.decode().endswith("\n%s: ok\n" % p.conf), c.stdout.decode())
        for line in c.stderr.decode().splitlines():
            self.assertRegex(line, r": warning: certificate .* expires in \d+ days")
        no_ipv6 = ipv6_bind_error()
        self.assertEqual(listeners(p.conf), LISTENERS + (LISTENERS6 if no_ipv6 is None else []),
                         "IPv6 listeners iff this machine binds [::] (%s)" % no_ipv6)
        if no_ipv6 is not None:
            self.assertIn("The listeners are IPv4 only: this machine cannot bind IPv6", out)
        else:
            self.assertNotIn("IPv4 only", out)
        self.serve_and_receive(p, no_ipv6 is None)

    def test_dns_records_once_per_port(self):
        """`sealmail dns-records` from a configuration with the IPv6 twins
        gives each SRV record once: *:587 and [::]:587 are one service."""
        p = Paths()
        rc, out, err = init("--ipv6", *p.flags(harness.default_cert()))
        self.assertEqual((rc, err), (0, ""), out)
        d = subprocess.run([harness.SEALMAIL_BIN, "dns-records", "local.test", "-c", p.conf],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(d.returncode, 0, d.stderr.decode())
        srv = [ln for ln in d.stdout.decode().splitlines() if " IN SRV " in ln]
        self.assertEqual(srv, [
            "_submission._tcp.local.test. IN SRV 10 1 587 %s." % HOST,
            "_submissions._tcp.local.test. IN SRV 0 1 465 %s." % HOST,
            "_imap._tcp.local.test. IN SRV 0 0 0 .",
            "_imaps._tcp.local.test. IN SRV 0 1 993 %s." % HOST,
            "_pop3._tcp.local.test. IN SRV 0 0 0 .",
            "_pop3s._tcp.local.test. IN SRV 0 1 995 %s." % HOST])

    def test_address_families_chosen(self):
        """--ipv4-only writes *:PORT alone; --ipv6 the [::]:PORT twins
        whatever this machine has; both at once is a usage error."""
        cert = harness.default_cert()
        for flag, want in (("--ipv4-only", LISTENERS), ("--ipv6", LISTENERS + LISTENERS6)):
            with self.subTest(flag=flag):
                p = Paths()
                rc, out, err = init(flag, *p.flags(cert))
                self.assertEqual((rc, err), (0, ""), out)
                self.assertNotIn("IPv4 only", out)
                self.assertEqual(listeners(p.conf), want)
                c = subprocess.run([harness.SEALMAIL_BIN, "config", "check", "-c", p.conf],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
                self.assertEqual(c.returncode, 0, c.stderr.decode())
        p = Paths()
        rc, out, err = init("--ipv6", "--ipv4-only", *p.flags(cert))
        self.assertEqual((rc, out), (2, ""))
        self.assertTrue(err.startswith("sealmail init: --ipv4-only and --ipv6 contradict each "
                                       "other\nusage: sealmail init "), err)
        self.assertEqual(p.written(), [])

    def serve_and_receive(self, p, ipv6):
        """The configuration serves: mail to postmaster@ reaches the admin
        through the aliases file, who reads it over IMAP (993's listener),
        over IPv4 and, when IPV6, IPv6."""
        harness.run([harness.SEALMAIL_BIN, "user", "add", "bob@local.test", "--stdin", "-c",
                     p.conf], input=b"secret-bob\n")
        srv = Served(p.conf, ipv6)
        self.addCleanup(srv.close)
        inbox = os.path.join(p.data, "mail", "local.test", "bob", "new")
        hosts = ["127.0.0.1", "::1"] if ipv6 else ["127.0.0.1"]
        for n, host in enumerate(hosts, 1):
            tok = harness.token()
            with harness.SMTP(srv.ports["smtp"], host=host) as s:
                s.starttls(context=harness.client_context())
                s.sendmail(harness.SENDER, ["postmaster@local.test"],
                           harness.make_message(tok, to="postmaster@local.test"))

            def delivered():
                try:
                    names = os.listdir(inbox)
                except FileNotFoundError:
                    return None
                for name in names:
                    with open(os.path.join(inbox, name), "rb") as f:
                        if tok.encode() in f.read():
                            return name
                return None
            harness.wait_for(delivered, what="the message sent to %s in %s" % (host, inbox))
            m = IMAP4_SSL(host, srv.ports["imaps"], ssl_context=harness.client_context(),
                          timeout=harness.TIMEOUT)
            try:
                m.login("bob@local.test", "secret-bob")
                typ, data = m.select("INBOX", readonly=True)
                self.assertEqual((typ, data), ("OK", [str(n).encode()]), host)
            finally:
                m.logout()

    def test_refuses_to_overwrite(self):
        """One of the three exists: it stays as it was, and nothing else is
        written."""
        cert = harness.default_cert()
        for existing in ("conf", "users", "aliases"):
            with self.subTest(existing=existing):
                p = Paths()
                os.mkdir(p.etc)
                path = getattr(p, existing)
                with open(path, "w") as f:
                    f.write("kept as it is\n")
                os.chmod(path, 0o600)
                before = os.stat(path)
                rc, out, err = init(*p.flags(cert))
                self.assertEqual((rc, out), (1, ""))
                self.assertEqual(err, "sealmail init: %s exists; not overwriting it\n" % path)
                with open(path) as f:
                    self.assertEqual(f.read(), "kept as it is\n")
                after = os.stat(path)
                self.assertEqual((after.st_mode, after.st_mtime_ns, after.st_ino),
                                 (before.st_mode, before.st_mtime_ns, before.st_ino))
                self.assertEqual(p.written(), [path])

    def test_symlink_not_followed(self):
        """A dangling symbolic link where a file goes is refused too: O_EXCL
        would not create through it, and the check says so first."""
        p = Paths()
        os.mkdir(p.etc)
        target = os.path.join(p.dir, "elsewhere")
        os.symlink(target, p.users)
        rc, out, err = init(*p.flags(harness.default_cert()))
        self.assertEqual(rc, 1)
        self.assertIn("%s exists; not overwriting it" % p.users, err)
        self.assertFalse(os.path.lexists(target))
        self.assertEqual(p.written(), [p.users])

    def test_certificate_must_load(self):
        """A certificate file holding garbage, or a key that is not the
        certificate's: refused before anything is written."""
        p = Paths()
        garbage = os.path.join(p.dir, "garbage.pem")
        with open(garbage, "w") as f:
            f.write("not a certificate\n")
        wrong_key = harness.Cert(harness.default_cert().cert, harness.other_cert().key, 0,
                                 HOST, [])
        for cert in (harness.Cert(garbage, harness.default_cert().key, 0, HOST, []),
                     wrong_key):
            with self.subTest(cert=cert.cert, key=cert.key):
                rc, out, err = init(*p.flags(cert))
                self.assertEqual((rc, out), (1, ""))
                self.assertRegex(err, r"^sealmail init: the certificate does not load: \S")
                self.assertEqual(p.written(), [])
        rc, out, err = init(*p.flags(harness.Cert(os.path.join(p.dir, "missing.pem"),
                                                  harness.default_cert().key, 0, HOST, [])))
        self.assertEqual(rc, 1)
        self.assertIn("missing.pem: No such file or directory", err)
        self.assertEqual(p.written(), [])

    def test_certificate_for_another_name(self):
        """Written, with a warning: the server runs, but clients that check
        the name would refuse the certificate."""
        p = Paths()
        cert = harness.other_cert()  # mail.other.test
        rc, out, err = init(*p.flags(cert))
        self.assertEqual(rc, 0, err)
        self.assertEqual(err, "sealmail init: warning: %s does not name %s: mail clients and "
                              "MTA-STS senders that check the name will refuse it\n"
                         % (cert.cert, HOST))
        self.assertEqual(p.written(), [p.conf, p.users, p.aliases])

    def test_paths_absolute_links_kept(self):
        """Relative paths are made absolute, and a certificate reached
        through a symbolic link (renewed in place, as Let's Encrypt's live/
        links are) is written as the link, not what it points at today."""
        p = Paths()
        live = os.path.join(p.dir, "live")
        os.mkdir(live)
        os.symlink(harness.default_cert().cert, os.path.join(live, "fullchain.pem"))
        os.symlink(harness.default_cert().key, os.path.join(live, "privkey.pem"))
        p2 = subprocess.run([harness.SEALMAIL_BIN, "init", "--hostname", HOST, "--domain",
                             "local.test", "--cert", "live/fullchain.pem", "--key",
                             "live/privkey.pem", "--data-dir", "data", "--config",
                             "etc/sealmail.conf"], cwd=p.dir, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30,
                            start_new_session=True)
        self.assertEqual(p2.returncode, 0, p2.stderr.decode())
        conf = data_lines(p.conf)
        for line in ("certificate = %s/live/fullchain.pem" % p.dir,
                     "key = %s/live/privkey.pem" % p.dir, "data_dir = %s" % p.data,
                     "users = %s" % p.users, "aliases = %s" % p.aliases):
            self.assertIn(line, conf)

    def test_bad_answers(self):
        p = Paths()
        cert = harness.default_cert()
        for flags, want in (
                (["--admin", "postmaster@local.test"], "one of the aliases written"),
                (["--admin", "root@" + HOST], "one of the aliases written"),
                (["--admin", "nobody"], "is not an address user@domain"),
                (["--hostname", "mx;x.test"], "cannot be written in the configuration"),
                (["--hostname", "-bad-.test"], "the configuration would not load")):
            with self.subTest(flags=flags):
                args = p.flags(cert)
                i = args.index(flags[0])
                args[i + 1] = flags[1]
                rc, out, err = init(*args)
                self.assertEqual((rc, out), (1, ""))
                self.assertIn(want, err)
                self.assertEqual(p.written(), [])

    def test_no_terminal_names_what_is_missing(self):
        p = Paths()
        rc, out, err = init("--config", p.conf, "--domain", "local.test")
        self.assertEqual((rc, out), (2, ""))
        self.assertTrue(err.startswith("sealmail init: no terminal to ask on; give --hostname "
                                       "--cert --key\nusage: sealmail init "), err)
        self.assertEqual(p.written(), [])

    def test_help(self):
        rc, out, err = init("--help")
        self.assertEqual((rc, err), (0, ""))
        self.assertTrue(out.startswith("usage: sealmail init [--hostname NAME]"), out)
        rc, out, err = init("--frobnicate")
        self.assertEqual((rc, out), (2, ""))
        self.assertIn("usage: sealmail init", err)

    def test_interactive(self):
        """Through a pty, answering each prompt (an empty answer is asked
        again; Enter takes the admin default)."""
        p = Paths()
        cert = harness.default_cert()
        pid, fd = pty.fork()
        if pid == 0:
            try:
                os.execv(harness.SEALMAIL_BIN, [harness.SEALMAIL_BIN, "init", "--config",
                                                p.conf, "--data-dir", p.data])
            finally:
                os._exit(127)
        transcript, seen = b"", 0
        try:
            for prompt, answer in (
                    (b"Host name of this server, the MX host of your domains "
                     b"(e.g. mail.example.org): ", b""),
                    (b"Host name of this server, the MX host of your domains "
                     b"(e.g. mail.example.org): ", HOST.encode()),
                    (b"Mail domains to receive mail for, separated by spaces: ",
                     b"local.test  Other.Test"),
                    (b"Certificate chain for mx.local.test (PEM file, leaf first): ",
                     cert.cert.encode()),
                    (b"Its private key (PEM file): ", cert.key.encode()),
                    (b"Mailbox for postmaster@ and abuse@ mail [admin@local.test]: ", b"")):
                transcript, seen = read_until(fd, transcript, seen, prompt)
                os.write(fd, answer + b"\n")
            transcript, seen = read_until(fd, transcript, seen, None)
        finally:
            _, status = os.waitpid(pid, 0)
            os.close(fd)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0, transcript.decode())
        self.assertIn(b"wrote %s (mode 0640)" % p.users.encode(), transcript)
        conf = data_lines(p.conf)
        self.assertIn("hostname = %s" % HOST, conf)
        self.assertIn("local_domains = local.test other.test %s" % HOST, conf)
        self.assertIn("certificate = %s" % cert.cert, conf)
        self.assertEqual(data_lines(p.aliases)[0], "postmaster@local.test: admin@local.test")
        self.assertEqual((mode(p.conf), mode(p.users), mode(p.aliases)), (0o644, 0o640, 0o644))


def read_until(fd, transcript, seen, want):
    """Reads the pty FD onto TRANSCRIPT until WANT shows after offset SEEN
    (a prompt waits for its answer), or with WANT None until the end of the
    output. Returns the transcript and the offset after WANT."""
    deadline = time.monotonic() + harness.TIMEOUT
    while want is None or transcript.find(want, seen) < 0:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no %r on the terminal; it showed:\n%s"
                                 % (want, transcript.decode(errors="replace")))
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the other side is closed
            chunk = b""
        if not chunk:
            if want is None:
                return transcript, len(transcript)
            raise AssertionError("the terminal closed before %r; it showed:\n%s"
                                 % (want, transcript.decode(errors="replace")))
        transcript += chunk
    return transcript, transcript.find(want, seen) + len(want)


if __name__ == "__main__":
    harness.main()
