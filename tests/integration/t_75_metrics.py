#!/usr/bin/python3
"""Metrics ([metrics] listen): the page a Prometheus server scrapes.

The whole page passes `promtool check metrics` (Prometheus's own linter,
unpacked from the Debian prometheus package by scripts/test-peers) and a
strict reading of the text format here; the counters move exactly as mail
flows (messages received and delivered, a wrong AUTH, a garbage TLS
ClientHello, a deferred message in the queue and its age); they survive a
dispatcher killed and restarted; anything but GET /metrics is refused; the
metrics role runs unprivileged (as root), chrooted, and listens on nothing
else; without [metrics] there is no such role; `config check` warns about
a listen address that is not loopback.

No address of its own: everything here is on 127.0.0.1."""

import os
import pwd
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
import outbound  # noqa: E402
from harness import make_message, token, wait_for  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PROMTOOL = os.path.normpath(os.path.join(HERE, "..", ".peers", "prometheus", "usr", "bin",
                                         "promtool"))
USER = "alice@local.test"
PASSWORD = "alice-Secret-%s" % token()[:8]
PID_RE = re.compile(r"sealmail\[(\d+)\] role=(\w+) ")

# One sample line: NAME{LABELS} VALUE, labels as Prometheus writes them.
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE_RE = re.compile(r"^(%s)(?:\{(%s(?:,%s)*)\})? (\S+)$" % (NAME, LABEL, LABEL))
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


def parse_page(text):
    """The samples of an exposition page as {(name, frozenset(labels)): value},
    checking as it goes what the format (version 0.0.4) requires and what
    this server promises: a HELP and a TYPE before each family's samples,
    every sample of a declared family, counters named *_total, no sample
    given twice, numbers that parse, a final newline."""
    assert text.endswith("\n"), "the page does not end with a newline"
    samples, types, helps = {}, {}, set()
    for n, line in enumerate(text[:-1].split("\n"), 1):
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            assert name not in helps, "line %d: HELP for %s twice" % (n, name)
            helps.add(name)
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in TYPES, "line %d: type %r" % (n, kind)
            assert name in helps, "line %d: TYPE %s before its HELP" % (n, name)
            assert name not in types, "line %d: TYPE for %s twice" % (n, name)
            assert name.startswith("sealmail_"), "line %d: %s lacks the prefix" % (n, name)
            assert kind != "counter" or name.endswith("_total"), \
                "line %d: counter %s not *_total" % (n, name)
            types[name] = kind
            continue
        m = SAMPLE_RE.match(line)
        assert m, "line %d is no sample: %r" % (n, line)
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
        assert family in types, "line %d: %s has no TYPE before it" % (n, name)
        key = (name, frozenset(LABEL_RE.findall(labels)))
        assert key not in samples, "line %d: %s given twice" % (n, line)
        samples[key] = float(value)
    return samples


def value(samples, name, **labels):
    key = (name, frozenset(labels.items()))
    if key not in samples:
        raise AssertionError("no sample %s%r on the page" % (name, labels))
    return samples[key]


def titled(pgid, title):
    """The pids of process group PGID whose process title is TITLE."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read().rstrip(b"\0").split(b"\0")[0]
            if cmd == title.encode() and os.getpgid(int(d)) == pgid:
                out.append(int(d))
        except OSError:
            pass
    return out


def proc_status(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict(ln.split(":", 1) for ln in f.read().splitlines() if ":" in ln)


def listening_inodes():
    """Socket inodes in LISTEN state (TCP, TCP6) or accepting (Unix) -> what."""
    out = {}
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(path) as f:
            for ln in f.read().splitlines()[1:]:
                w = ln.split()
                if w[3] == "0A":
                    out[w[9]] = "tcp port %d" % int(w[1].rsplit(":", 1)[1], 16)
    with open("/proc/net/unix") as f:
        for ln in f.read().splitlines()[1:]:
            w = ln.split()
            if int(w[3], 16) & 0x10000:  # __SO_ACCEPTCON: listening
                out[w[6]] = "unix %s" % (w[7] if len(w) > 7 else "(unnamed)")
    return out


def memory_holds(pid, needle, chunk=1 << 20):
    """Whether a readable, writable mapping of PID (up to 1 GiB: not a
    sanitizer's shadow) holds NEEDLE."""
    with open("/proc/%d/maps" % pid) as maps, open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            fields = line.split()
            if "rw" not in fields[1] or (len(fields) > 5 and fields[5] in ("[vvar]",
                                                                           "[vsyscall]")):
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            at = start if end - start <= 1 << 30 else end
            while at < end:
                try:
                    mem.seek(at)
                    data = mem.read(min(chunk + len(needle), end - at))
                except (OSError, ValueError, OverflowError):
                    break
                if needle in data:
                    return True
                at += chunk
    return False


class Metrics(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        if not os.access(PROMTOOL, os.X_OK):
            raise AssertionError("%s missing: run scripts/test-peers (it unpacks promtool "
                                 "from the Debian package prometheus)" % PROMTOOL)
        cls.metrics_port = harness.free_port()
        cls.closed_port = harness.free_port()  # nobody listens: remote mail is deferred
        # STARTTLS peers: one the "may" policy accepts, one whose certificate
        # (signed by itself) the "verify" policy refuses
        cls.good_mx = outbound.FakeMX("127.0.0.1", 0, name="mx.good.test")
        cls.addClassCleanup(cls.good_mx.stop)
        cls.bad_mx = outbound.FakeMX("127.0.0.1", 0, name="mx.bad.test",
                                     cert=outbound.self_signed_cert(["bad.test"]))
        cls.addClassCleanup(cls.bad_mx.stop)
        cls.srv = cls.class_server(
            listeners={"mx": "optional",
                       "subs": {"protocol": "submission", "tls": "implicit",
                                "auth": "required"},
                       "imaps": {"protocol": "imap", "tls": "implicit"},
                       "pop3s": {"protocol": "pop3", "tls": "implicit"}},
            passwords={USER: PASSWORD}, submit_socket=True,
            server_options={"trusted_networks": "127.0.0.0/8"},
            extra_config="[metrics]\nlisten = 127.0.0.1:%d\n\n"
                         "[outbound]\ntls = may\nrelayhost = [127.0.0.1]:%d\nca_file = %s\n\n"
                         "[outbound.domains]\nbad.test = verify\n\n"
                         "[routes]\ngood.test = 127.0.0.1:%d\nbad.test = 127.0.0.1:%d\n\n"
                         "[queue]\nretry = 1h\n\n%s"
                         % (cls.metrics_port, cls.closed_port, harness.ca().cert,
                            cls.good_mx.port, cls.bad_mx.port, harness.imap_section()))
        cls.srv.wait_log(r"role=metrics .*event=metrics-ready")

    def url(self, path="/metrics"):
        return "http://127.0.0.1:%d%s" % (self.metrics_port, path)

    def scrape(self):
        with urllib.request.urlopen(self.url(), timeout=harness.TIMEOUT) as r:
            self.assertEqual(r.status, 200)
            self.assertEqual(r.headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")
            return parse_page(r.read().decode("utf-8"))

    def wait_value(self, expected, name, **labels):
        """Polls until NAME{LABELS} is EXPECTED (the role that counts may do
        so a moment after the client got its answer), then asserts it is
        exactly that."""
        last = []

        def seen():
            last[:] = [value(self.scrape(), name, **labels)]
            return last[0] == expected
        try:
            wait_for(seen, what="%s%r == %s" % (name, labels, expected))
        except AssertionError:
            pass
        self.assertEqual(last[0], expected, "%s%r" % (name, labels))

    def metrics_pid(self):
        """The role serving now: the last to say event=metrics-ready, which
        carries the process title `sealmail: metrics`."""
        pids = [int(m.group(1)) for m in PID_RE.finditer(self.srv.log())
                if m.group(2) == "metrics" and "event=metrics-ready" in
                self.srv.log()[m.start():].split("\n", 1)[0]]
        if not pids:
            raise AssertionError("no metrics-ready line:\n%s" % self.srv.log_tail())
        self.assertEqual(titled(self.srv.pgid, "sealmail: metrics"), [pids[-1]])
        return pids[-1]

    # -- the format --
    def test_page_passes_promtool(self):
        with urllib.request.urlopen(self.url(), timeout=harness.TIMEOUT) as r:
            page = r.read()
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=page, capture_output=True,
                           timeout=60)
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, b"", b""),
                         "promtool check metrics on:\n%s" % page.decode())
        samples = parse_page(page.decode())
        self.assertEqual(value(samples, "sealmail_build_info", version="0.13.0"), 1)
        started = value(samples, "sealmail_start_time_seconds")
        self.assertLessEqual(abs(started - os.stat(self.srv.conf).st_mtime), 120)
        for name in ("mx", "subs", "local"):
            value(samples, "sealmail_sessions_total", listener=name,
                  protocol="submission" if name != "mx" else "smtp")

    # -- counters move as mail flows --
    def test_messages_received_and_delivered(self):
        before = self.scrape()
        n = 5
        with harness.SMTP(self.srv.port("mx")) as c:
            for i in range(n):
                c.sendmail(harness.SENDER, ["bob@local.test"], make_message(token()))
        self.srv.wait_messages("bob@local.test", n)
        self.wait_value(value(before, "sealmail_messages_received_total") + n,
                        "sealmail_messages_received_total")
        self.wait_value(value(before, "sealmail_messages_delivered_total", relay="local") + n,
                        "sealmail_messages_delivered_total", relay="local")
        after = self.scrape()
        self.assertEqual(value(after, "sealmail_sessions_total", listener="mx", protocol="smtp"),
                         value(before, "sealmail_sessions_total", listener="mx",
                               protocol="smtp") + 1)
        self.assertEqual(
            value(after, "sealmail_queue_commit_batch_messages_sum"),
            value(before, "sealmail_queue_commit_batch_messages_sum") + n)
        self.assertGreater(value(after, "sealmail_queue_commit_duration_seconds_count"),
                           value(before, "sealmail_queue_commit_duration_seconds_count"))

    def test_wrong_auth_counts_one_failure(self):
        labels = {"listener": "subs", "protocol": "submission"}
        before = self.scrape()
        # one AUTH PLAIN (smtplib's login() would try the next mechanism)
        with self.srv.tls_dialog("subs") as d:
            self.assertEqual(d.auth(USER, "wrong-" + PASSWORD).code, 535)
        self.wait_value(value(before, "sealmail_auth_failures_total", **labels) + 1,
                        "sealmail_auth_failures_total", **labels)
        self.srv.login("subs", USER, PASSWORD).close()
        self.wait_value(value(before, "sealmail_auth_successes_total", **labels) + 1,
                        "sealmail_auth_successes_total", **labels)
        self.assertEqual(value(self.scrape(), "sealmail_auth_failures_total", **labels),
                         value(before, "sealmail_auth_failures_total", **labels) + 1)

    def test_imap_and_pop3_logins_and_handshakes(self):
        before = self.scrape()
        m = harness.imap_connect(self.srv, "imaps")
        with self.assertRaises(harness.imaplib.IMAP4.error):
            m.login(USER, "wrong-" + PASSWORD)
        m.logout()
        harness.imap_connect(self.srv, "imaps", USER, PASSWORD).logout()
        p = harness.pop3_connect(self.srv, "pop3s")
        p.user(USER)
        with self.assertRaises(harness.poplib.error_proto):
            p.pass_("wrong-" + PASSWORD)
        p.quit()
        harness.pop3_connect(self.srv, "pop3s", USER, PASSWORD).quit()
        for name, protocol in (("imaps", "imap"), ("pop3s", "pop3")):
            labels = {"listener": name, "protocol": protocol}
            for metric, more in (("sealmail_auth_failures_total", 1),
                                 ("sealmail_auth_successes_total", 1),
                                 ("sealmail_sessions_total", 2),
                                 ("sealmail_tls_handshakes_total", 2)):
                self.wait_value(value(before, metric, **labels) + more, metric, **labels)

    def test_garbage_client_hello_counts_one_protocol_failure(self):
        labels = {"listener": "subs", "protocol": "submission"}
        before = self.scrape()
        mark = self.srv.log_mark()
        with socket.create_connection(("127.0.0.1", self.srv.port("subs")), timeout=10) as s:
            # a handshake record whose ClientHello is nonsense
            s.sendall(b"\x16\x03\x01\x00\x08\x01\x00\x00\x04garbage!" + b"\x00" * 64)
            try:
                while s.recv(4096):
                    pass
            except OSError:
                pass
        self.srv.wait_log(r"event=tls-error ", since=mark)
        self.wait_value(value(before, "sealmail_tls_handshake_failures_total", reason="protocol",
                              **labels) + 1,
                        "sealmail_tls_handshake_failures_total", reason="protocol", **labels)
        after = self.scrape()
        for reason in ("version", "cipher", "certificate", "alert", "timeout", "closed",
                       "other"):
            self.assertEqual(
                value(after, "sealmail_tls_handshake_failures_total", reason=reason, **labels),
                value(before, "sealmail_tls_handshake_failures_total", reason=reason, **labels),
                reason)
        # and a good handshake counts as one
        with harness.SMTP_SSL(self.srv.port("subs")) as c:
            c.ehlo("client.test")
        self.wait_value(value(before, "sealmail_tls_handshakes_total", **labels) + 1,
                        "sealmail_tls_handshakes_total", **labels)

    def test_deferred_message_queue_size_and_age(self):
        mark = self.srv.log_mark()
        before = self.scrape()
        with harness.SMTP(self.srv.port("mx")) as c:
            c.sendmail(harness.SENDER, ["someone@remote.test"], make_message(token()))
        self.srv.wait_log(r"event=deferred .*to=<?someone@remote.test", since=mark)
        self.wait_value(value(before, "sealmail_messages_deferred_total", relay="remote") + 1,
                        "sealmail_messages_deferred_total", relay="remote")
        self.wait_value(value(before, "sealmail_queue_messages") + 1, "sealmail_queue_messages")
        after = self.scrape()
        self.assertEqual(
            value(after, "sealmail_remote_policy_outcomes_total", policy="may", result="deferred"),
            value(before, "sealmail_remote_policy_outcomes_total", policy="may",
                  result="deferred") + 1)
        # the age grows with the clock, not with anything else
        wait_for(lambda: value(self.scrape(), "sealmail_queue_oldest_message_age_seconds") >= 2,
                 what="the oldest message to be 2s old")

    # -- outbound handshakes --
    def outbound_samples(self, samples):
        out = {"ok": value(samples, "sealmail_outbound_tls_handshakes_total")}
        for reason in ("protocol", "version", "cipher", "certificate", "alert", "timeout",
                       "closed", "other"):
            out[reason] = value(samples, "sealmail_outbound_tls_handshake_failures_total",
                                reason=reason)
        return out

    def test_outbound_handshake_counts_one(self):
        before = self.outbound_samples(self.scrape())
        tok = token()
        with harness.SMTP(self.srv.port("mx")) as c:
            c.sendmail(harness.SENDER, ["someone@good.test"], make_message(tok))
        self.good_mx.wait_message(tok, server=self.srv)
        self.assertTrue(self.good_mx.messages_with(tok)[0].tls, "delivered without TLS")
        self.wait_value(before["ok"] + 1, "sealmail_outbound_tls_handshakes_total")
        self.assertEqual(self.outbound_samples(self.scrape()), dict(before, ok=before["ok"] + 1))

    def test_outbound_certificate_refused_counts_one_failure(self):
        before = self.outbound_samples(self.scrape())
        mark = self.srv.log_mark()
        with harness.SMTP(self.srv.port("mx")) as c:
            c.sendmail(harness.SENDER, ["someone@bad.test"], make_message(token()))
        self.srv.wait_log(r"event=deferred .*to=<?someone@bad.test", since=mark)
        self.wait_value(before["certificate"] + 1,
                        "sealmail_outbound_tls_handshake_failures_total", reason="certificate")
        self.assertEqual(self.outbound_samples(self.scrape()),
                         dict(before, certificate=before["certificate"] + 1))

    # -- the metrics role is restarted --
    def test_metrics_role_restarted_with_its_socket_and_counts(self):
        with harness.SMTP(self.srv.port("mx")) as c:
            c.sendmail(harness.SENDER, ["dave@local.test"], make_message(token()))
        self.srv.wait_messages("dave@local.test", 1)
        before = self.scrape()
        old = titled(self.srv.pgid, "sealmail: metrics")
        self.assertEqual(len(old), 1, "one process titled `sealmail: metrics`")
        mark = self.srv.log_mark()
        os.kill(old[0], signal.SIGKILL)
        self.srv.wait_log(r"role=metrics .*event=metrics-exited pid=%d .*restarting=yes"
                          % old[0], since=mark)

        def answers():
            try:
                return self.scrape()
            except OSError:
                return None
        after = wait_for(answers, what="the page to answer again")
        new = titled(self.srv.pgid, "sealmail: metrics")
        self.assertEqual(len(new), 1, new)
        self.assertNotEqual(new, old)
        for (name, labels), v in before.items():
            if name.endswith("_total") or name.endswith("_count"):
                self.assertEqual(after[(name, labels)], v, "%s%r" % (name, dict(labels)))
        # mail still flows, and the new role sees it
        with harness.SMTP(self.srv.port("mx")) as c:
            c.sendmail(harness.SENDER, ["dave@local.test"], make_message(token()))
        self.srv.wait_messages("dave@local.test", 2)
        self.wait_value(value(before, "sealmail_messages_delivered_total", relay="local") + 1,
                        "sealmail_messages_delivered_total", relay="local")
        self.assertEqual(self.metrics_pid(), new[0])
        self.test_region_is_read_only_in_the_metrics_role()
        self.test_role_is_unprivileged_and_listens_on_nothing_else()

    # -- a dispatcher's counts outlive it --
    def test_counters_survive_a_dispatcher_restart(self):
        with harness.SMTP(self.srv.port("mx")) as c:
            c.sendmail(harness.SENDER, ["carol@local.test"], make_message(token()))
        self.srv.wait_messages("carol@local.test", 1)
        before = self.scrape()
        pids = {int(m.group(1)) for m in PID_RE.finditer(self.srv.log())
                if m.group(2) == "dispatcher"}
        alive = [p for p in pids if os.path.exists("/proc/%d" % p)]
        self.assertTrue(alive, "no dispatcher alive")
        mark = self.srv.log_mark()
        for pid in alive:
            os.kill(pid, signal.SIGKILL)
        for pid in alive:
            self.srv.wait_log(r"event=dispatcher-exited pid=%d .*restarting=yes" % pid,
                              since=mark)
        wait_for(lambda: len(re.findall(r"role=dispatcher .*event=role-keys ",
                                        self.srv.log()[mark:])) >= len(alive),
                 what="the dispatchers to be back")
        after = self.scrape()
        for (name, labels), v in before.items():
            if name.endswith("_total"):
                self.assertGreaterEqual(after[(name, labels)], v, "%s%r went back" % (
                    name, dict(labels)))
        mx = {"listener": "mx", "protocol": "smtp"}
        self.assertGreater(value(after, "sealmail_sessions_total", **mx), 0)
        with harness.SMTP(self.srv.port("mx")) as c:
            c.noop()
        self.wait_value(value(before, "sealmail_sessions_total", **mx) + 1,
                        "sealmail_sessions_total", **mx)

    # -- the HTTP side --
    def test_other_paths_and_methods_are_refused(self):
        for path in ("/", "/metrics/", "/metricsx", "/../metrics", "/favicon.ico"):
            with self.assertRaises(urllib.error.HTTPError, msg=path) as e:
                urllib.request.urlopen(self.url(path), timeout=harness.TIMEOUT)
            self.assertEqual(e.exception.code, 404, path)
        req = urllib.request.Request(self.url(), data=b"x=1", method="POST")
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=harness.TIMEOUT)
        self.assertEqual(e.exception.code, 405)
        self.assertEqual(e.exception.headers["Allow"], "GET, HEAD")

    def test_connections_are_bounded_per_client_and_in_time(self):
        idle = [socket.create_connection(("127.0.0.1", self.metrics_port), timeout=30)
                for _ in range(4)]  # METRICS_HTTP_CONNECTIONS_PER_IP
        try:
            def fifth_refused():
                with socket.create_connection(("127.0.0.1", self.metrics_port),
                                              timeout=10) as s:
                    s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
                    try:
                        return s.recv(100) == b""
                    except ConnectionResetError:
                        return True
            wait_for(fifth_refused, what="a fifth connection from one address refused")
            # the idle ones are closed after METRICS_HTTP_TIMEOUT (10 s)
            for s in idle:
                try:
                    self.assertEqual(s.recv(100), b"")
                except ConnectionResetError:
                    pass
        finally:
            for s in idle:
                s.close()

        def scrape_works():
            try:
                return self.scrape() is not None
            except OSError:  # the server may not have reaped the closed ones yet
                return False
        wait_for(scrape_works, what="a scrape once the connections are gone")

    def test_role_is_unprivileged_and_listens_on_nothing_else(self):
        pid = self.metrics_pid()
        status = proc_status(pid)
        if os.geteuid() == 0:
            uid = pwd.getpwnam("sealmail").pw_uid
            self.assertEqual(status["Uid"].split(), [str(uid)] * 4)
            self.assertEqual(os.readlink("/proc/%d/root" % pid),
                             os.path.join(self.srv.data_dir, "empty"))
        listening = listening_inodes()
        mine = []
        for fd in os.listdir("/proc/%d/fd" % pid):
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            m = re.match(r"socket:\[(\d+)\]$", target)
            if m and m.group(1) in listening:
                mine.append(listening[m.group(1)])
        self.assertEqual(mine, ["tcp port %d" % self.metrics_port])

    def test_role_holds_no_secret(self):
        # the users file's hashes and the private key's PEM: read by the
        # parent, but never before the metrics role is forked
        if os.geteuid() != 0:
            self.fail("reading another process's memory needs root (run the tests as root)")
        pid = self.metrics_pid()
        with open(self.srv.users_path, "rb") as f:
            hashes = [ln.split(b":")[1] for ln in f.read().splitlines() if b":$" in ln]
        with open(self.srv.key_path, "rb") as f:
            pem = [ln for ln in f.read().splitlines() if not ln.startswith(b"-----")]
        self.assertTrue(hashes and len(pem) >= 2)
        for needle in hashes + [pem[len(pem) // 2]]:
            self.assertFalse(memory_holds(pid, needle), needle)
        # the control: the lookup role checks passwords, and the scan finds them there
        lookup = [int(m.group(1)) for m in PID_RE.finditer(self.srv.log())
                  if m.group(2) == "lookup"][0]
        self.assertTrue(memory_holds(lookup, hashes[0]))

    def test_region_is_read_only_in_the_metrics_role(self):
        pid = self.metrics_pid()
        with open("/proc/%d/maps" % pid) as f:
            maps = [ln for ln in f.read().splitlines() if "sealmail-metrics" in ln]
        self.assertEqual(len(maps), 1, maps)
        self.assertTrue(maps[0].split()[1].startswith("r--"), maps[0])


class CleanStop(harness.ServerTestCase):

    def test_a_clean_stop_logs_no_error(self):
        """A stop is not a failure: the metrics keeper ending with the
        server is not its unexpected death."""
        srv = self.server_for(extra_config="[metrics]\nlisten = 127.0.0.1:%d\n"
                              % harness.free_port())
        srv.wait_log(r"role=metrics .*event=metrics-ready")
        mark = srv.log_mark()
        self.assertEqual(srv.stop(), 0)
        tail = srv.log()[mark:]
        self.assertIn("role=parent level=info event=stopped", tail)
        self.assertNotRegex(tail, r"level=(error|warning)")


class QueueGaugesAtStart(harness.ServerTestCase):

    def test_first_scrape_after_ready_shows_a_message_left_in_the_queue(self):
        port = harness.free_port()
        srv = self.server_for(
            submit_socket=True, server_options={"trusted_networks": "127.0.0.0/8"},
            extra_config="[metrics]\nlisten = 127.0.0.1:%d\n\n[outbound]\ntls = may\n"
                         "relayhost = [127.0.0.1]:%d\n\n[queue]\nretry = 1h\n"
                         % (port, harness.free_port()))

        def scrape():
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                        timeout=harness.TIMEOUT) as r:
                return parse_page(r.read().decode())
        mark = srv.log_mark()
        sent = int(time.time())
        with harness.SMTP(srv.port()) as c:
            c.sendmail(harness.SENDER, ["someone@remote.test"], make_message(token()))
        srv.wait_log(r"event=deferred .*to=<?someone@remote.test", since=mark)
        deferred = time.time()
        srv.stop()
        # the clock, not the server, decides when: the message is then 2 s old
        wait_for(lambda: time.time() >= deferred + 2, what="two seconds to pass")
        srv.start()  # returns at event=ready, before the queue's first tick
        before = time.time()
        page = scrape()
        after = time.time()
        self.assertEqual(value(page, "sealmail_queue_messages"), 1)
        age = value(page, "sealmail_queue_oldest_message_age_seconds")
        self.assertGreaterEqual(age, int(before) - int(deferred) - 1)
        self.assertLessEqual(age, int(after) - sent + 1)
        self.assertGreaterEqual(age, 1)


class MetricsReload(harness.ServerTestCase):

    def test_rows_follow_names_across_a_reload_that_reorders_listeners(self):
        port = harness.free_port()
        srv = self.server_for(listeners={"first": "optional", "second": "optional"},
                              submit_socket=True,
                              extra_config="[metrics]\nlisten = 127.0.0.1:%d\n" % port)
        srv.wait_log(r"role=metrics .*event=metrics-ready")

        def scrape():
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                        timeout=harness.TIMEOUT) as r:
                return parse_page(r.read().decode())
        with harness.SMTP(srv.port("first")) as c:
            c.noop()
        first = {"listener": "first", "protocol": "smtp"}
        second = {"listener": "second", "protocol": "smtp"}
        wait_for(lambda: value(scrape(), "sealmail_sessions_total", **first) == 2,
                 what="first's sessions: the harness's probe and ours")
        before = scrape()
        # the same listeners, second written first
        with open(srv.conf) as f:
            text = f.read()
        a = text.index("[listen first]")
        b = text.index("[listen second]")
        end = text.index("\n[", b) + 1 if "\n[" in text[b:] else len(text)
        with open(srv.conf, "w") as f:
            f.write(text[:a] + text[b:end] + "\n" + text[a:b] + text[end:])
        old = {int(m.group(1)) for m in PID_RE.finditer(srv.log())
               if m.group(2) == "dispatcher"}
        mark = srv.log_mark()
        srv.reload()
        srv.wait_log(r"event=reloaded ", since=mark)
        # only the new generation accepts: every old dispatcher is gone
        for pid in old:
            srv.wait_log(r"event=dispatcher-exited pid=%d retired=yes" % pid, since=mark)
        with harness.SMTP(srv.port("second")) as c:
            c.noop()
        wait_for(lambda: value(scrape(), "sealmail_sessions_total", **second) ==
                 value(before, "sealmail_sessions_total", **second) + 1,
                 what="the session on second counted as second's")
        after = scrape()
        self.assertEqual(value(after, "sealmail_sessions_total", **first),
                         value(before, "sealmail_sessions_total", **first))
        for (name, labels), v in before.items():
            if name.endswith("_total"):
                self.assertGreaterEqual(after[(name, labels)], v, name)


class NoMetrics(harness.ServerTestCase):

    def test_without_the_section_there_is_no_role(self):
        srv = self.server_for(submit_socket=True)
        srv.wait_log(r"event=started ")
        with harness.SMTP(srv.port()) as c:
            c.noop()
        self.assertNotIn("role=metrics", srv.log())

    def test_config_check_warns_about_a_public_address(self):
        srv = self.server_for(start=False, extra_config="[metrics]\nlisten = 0.0.0.0:9154\n")
        p = subprocess.run([harness.SEALMAIL_BIN, "config", "check", "-c", srv.conf],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        line = [n for n, ln in enumerate(srv.config_text.splitlines(), 1)
                if ln.startswith("listen = 0.0.0.0")][0]
        self.assertIn("%s:%d: [metrics] listen: warning: 0.0.0.0:9154 is not a loopback address"
                      % (srv.conf, line), p.stderr)
        srv2 = self.server_for(start=False, extra_config="[metrics]\nlisten = 127.0.0.1:9154\n")
        p = subprocess.run([harness.SEALMAIL_BIN, "config", "check", "-c", srv2.conf],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("[metrics]", p.stderr)

    def test_bad_listen_value_names_file_line_and_key(self):
        srv = self.server_for(start=False, extra_config="[metrics]\nlisten = localhost\n")
        p = subprocess.run([harness.SEALMAIL_BIN, "config", "check", "-c", srv.conf],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertRegex(p.stderr, r"%s:\d+: listen: 'localhost' is not valid"
                         % re.escape(srv.conf))


if __name__ == "__main__":
    harness.main()
