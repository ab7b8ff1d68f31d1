#!/usr/bin/python3
"""smtpload, the benchmarks' SMTP load generator, against the real server:
plaintext, STARTTLS and implicit TLS; connections reused or one per
message, with and without TLS session resumption (its counts checked against
what the server logged); several recipients; no PIPELINING; an open loop;
JSON output; idle mode; and that every message arrives exactly once. An
unexpected reply (an unknown recipient, a message over the size limit) must
make it exit 1 naming the session, the command and the reply."""

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import SENDER, token

SMTPLOAD_BIN = os.path.abspath(os.environ.get("SMTPLOAD_BIN") or os.path.normpath(
    os.path.join(harness.HERE, "..", "..", "build", "smtpload")))
MESSAGE_SIZE_LIMIT = 20000
TEXT_RE = re.compile(
    r"^smtpload: (\d+) messages in ([\d.]+) s: ([\d.]+) msg/s; sessions (\d+) connections (\d+) "
    r"tls (\d+) resumed (\d+); DATA-to-250 ms p50 ([\d.]+) p90 ([\d.]+) p99 ([\d.]+) "
    r"max ([\d.]+)\n$")
TEXT_KEYS = ("messages", "seconds", "rate", "sessions", "connections", "tls", "resumed",
             "p50_ms", "p90_ms", "p99_ms", "max_ms")


class Smtpload(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(SMTPLOAD_BIN):
            raise AssertionError("smtpload not found at %s (set SMTPLOAD_BIN or run "
                                 "`make build`)" % SMTPLOAD_BIN)
        # the per-client limit is not what is tested here: 20 sessions that
        # reconnect for every message must not meet it
        cls.srv = cls.class_server(listeners={"mx": "optional", "smtps": "implicit"},
                                   limits={"connections_per_client": 1000,
                                           "message_size": MESSAGE_SIZE_LIMIT})

    # -- running it --
    def smtpload(self, *args, listener="mx", rcpts=("bob@local.test",), ehlo=None,
                 check=True):
        """Runs smtpload against LISTENER; returns (process, EHLO name). The
        EHLO name (unique per run) is also in every Message-ID it sends."""
        ehlo = ehlo or "%s.smtpload.test" % token()
        argv = [SMTPLOAD_BIN, "-f", SENDER, "-e", ehlo, "-w", "20"]
        for r in rcpts:
            argv += ["-t", r]
        argv += list(args) + ["127.0.0.1:%d" % self.srv.port(listener)]
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=120)
        p.stdout, p.stderr = p.stdout.decode(), p.stderr.decode()
        if check:
            self.assertEqual(p.returncode, 0, "smtpload %s failed:\n%s%s\nserver log:\n%s"
                             % (" ".join(args), p.stdout, p.stderr, self.srv.log_tail()))
            self.assertEqual(p.stderr, "")
        return p, ehlo

    def result(self, *args, **kw):
        """Runs smtpload (text output); returns its figures as a dict, and
        the EHLO name."""
        p, ehlo = self.smtpload(*args, **kw)
        m = TEXT_RE.match(p.stdout)
        self.assertIsNotNone(m, "unexpected output %r" % p.stdout)
        return dict(zip(TEXT_KEYS, (float(v) for v in m.groups()))), ehlo

    def assert_delivered_once(self, ehlo, count, rcpts=("bob@local.test",)):
        """Each of RCPTS received messages 0..COUNT-1 of the run whose EHLO
        name is EHLO, each exactly once."""
        self.srv.wait_queue_empty(timeout=60)
        rx = re.compile(rb"^Message-ID: <(\d{10})\.[0-9a-f]+\.[0-9a-f]+@" +
                        re.escape(ehlo.encode()) + rb">\r?$", re.M)
        for rcpt in rcpts:
            numbers = []
            for data in self.srv.messages(rcpt):
                numbers += [int(n) for n in rx.findall(data)]
            self.assertEqual(sorted(numbers), list(range(count)),
                             "%s did not get each message exactly once" % rcpt)

    def tls_events(self, since):
        """The handshakes the server logged since SINCE: event=starttls on a
        STARTTLS listener, event=tls on an implicit one."""
        return self.srv.events("starttls", since) + self.srv.events("tls", since)

    def assert_server_saw(self, since, tls, resumed):
        """The server logged TLS handshakes since SINCE: TLS in all, RESUMED of
        them resumed (the log is written before the replies that follow)."""
        events = harness.wait_for(lambda: len(self.tls_events(since)) >= tls and
                                  self.tls_events(since), what="%d tls events" % tls)
        self.assertEqual(len(events), tls)
        self.assertEqual(sum(e.get("resumed") == "yes" for e in events), resumed)
        self.assertEqual(sum(e.get("resumed") == "no" for e in events), tls - resumed)

    # -- transports and connections --
    def test_plain_reused(self):
        mark = self.srv.log_mark()
        r, ehlo = self.result("-s", "4", "-m", "200")
        self.assertEqual((r["messages"], r["sessions"], r["connections"], r["tls"],
                          r["resumed"]), (200, 4, 4, 0, 0))
        self.assertTrue(r["p50_ms"] <= r["p90_ms"] <= r["p99_ms"] <= r["max_ms"])
        self.assert_delivered_once(ehlo, 200)
        self.assertEqual(len(self.srv.events("connect", mark)), 4)
        self.assertEqual(self.tls_events(mark), [])

    def test_starttls_reused(self):
        mark = self.srv.log_mark()
        r, ehlo = self.result("-s", "4", "-m", "100", "-T", "starttls")
        self.assertEqual((r["messages"], r["connections"], r["tls"], r["resumed"]),
                         (100, 4, 4, 0))
        self.assert_delivered_once(ehlo, 100)
        self.assert_server_saw(mark, tls=4, resumed=0)
        # the messages came in over TLS
        [one] = [d for d in self.srv.messages("bob@local.test")
                 if b"Message-ID: <0000000007." in d and ehlo.encode() in d]
        self.assertRegex(harness.first_received(one), r"\bwith ESMTPS\b")

    def test_starttls_new_connection_no_resumption(self):
        mark = self.srv.log_mark()
        r, ehlo = self.result("-s", "3", "-m", "12", "-T", "starttls", "-N")
        self.assertEqual((r["messages"], r["connections"], r["tls"], r["resumed"]),
                         (12, 12, 12, 0))
        self.assert_delivered_once(ehlo, 12)
        self.assert_server_saw(mark, tls=12, resumed=0)

    def test_starttls_new_connection_resumed(self):
        mark = self.srv.log_mark()
        r, ehlo = self.result("-s", "4", "-m", "40", "-T", "starttls", "-N", "-R")
        # each slot's first handshake is full, every later one resumes the
        # session (ticket) the slot got last
        self.assertEqual((r["messages"], r["connections"], r["tls"]), (40, 40, 40))
        self.assertGreater(r["resumed"], 0)
        self.assertEqual(r["resumed"], r["connections"] - r["sessions"])
        self.assert_delivered_once(ehlo, 40)
        self.assert_server_saw(mark, tls=40, resumed=int(r["resumed"]))

    def test_implicit_tls(self):
        mark = self.srv.log_mark()
        r, ehlo = self.result("-s", "2", "-m", "30", "-T", "implicit", listener="smtps")
        self.assertEqual((r["messages"], r["connections"], r["tls"], r["resumed"]),
                         (30, 2, 2, 0))
        self.assert_delivered_once(ehlo, 30)
        self.assert_server_saw(mark, tls=2, resumed=0)

    def test_implicit_tls_new_connection_resumed(self):
        mark = self.srv.log_mark()
        r, ehlo = self.result("-s", "2", "-m", "20", "-T", "implicit", "-N", "-R",
                              listener="smtps")
        self.assertEqual((r["connections"], r["tls"], r["resumed"]), (20, 20, 18))
        self.assert_delivered_once(ehlo, 20)
        self.assert_server_saw(mark, tls=20, resumed=18)

    def test_sni(self):
        mark = self.srv.log_mark()
        r, _ = self.result("-s", "1", "-m", "2", "-T", "starttls", "-S", harness.OTHER_TLS_NAME)
        self.assertEqual(r["tls"], 1)
        [e] = harness.wait_for(lambda: self.tls_events(mark), what="tls event")
        self.assertEqual(e["sni"], harness.OTHER_TLS_NAME)

    # -- transactions --
    def test_three_recipients_per_message(self):
        rcpts = ("bob@local.test", "carol@local.test", "dave@local.test")
        r, ehlo = self.result("-s", "3", "-m", "30", "-r", "3", rcpts=rcpts)
        self.assertEqual(r["messages"], 30)
        self.assert_delivered_once(ehlo, 30, rcpts)

    def test_recipients_round_robin(self):
        rcpts = ("bob@local.test", "carol@local.test", "dave@local.test")
        r, ehlo = self.result("-s", "2", "-m", "6", "-r", "2", rcpts=rcpts)
        # message n goes to recipients 2n and 2n+1 (mod 3)
        self.srv.wait_queue_empty(timeout=60)
        got = {}
        for rcpt in rcpts:
            for data in self.srv.messages(rcpt):
                m = re.search(rb"Message-ID: <(\d{10})\.[0-9a-f]+\.[0-9a-f]+@" +
                              re.escape(ehlo.encode()), data)
                if m:
                    got.setdefault(int(m.group(1)), []).append(rcpt)
        want = {n: sorted(rcpts[(2 * n + i) % 3] for i in range(2)) for n in range(6)}
        self.assertEqual({n: sorted(v) for n, v in got.items()}, want)

    def test_no_pipelining(self):
        r, ehlo = self.result("-s", "2", "-m", "20", "-P", "-r", "2",
                              rcpts=("bob@local.test", "carol@local.test"))
        self.assertEqual(r["messages"], 20)
        self.assert_delivered_once(ehlo, 20, ("bob@local.test", "carol@local.test"))

    def test_message_size(self):
        r, ehlo = self.result("-s", "1", "-m", "3", "-l", "5000")
        self.srv.wait_queue_empty(timeout=60)
        [data] = [d for d in self.srv.messages("bob@local.test")
                  if b"Message-ID: <0000000001." in d and ehlo.encode() in d]
        _, _, _, sent = harness.split_delivered(data)
        self.assertEqual(len(sent.replace(b"\n", b"\r\n")), 5000)

    def test_latency_counts_from_the_last_octet_written(self):
        # A server that leaves a large message unread for DELAY seconds:
        # smtpload's writes stall until it reads. The clock starts when the
        # final "." has been written (the kernel took it), so that stall,
        # the client's own transfer, is not counted as the server's latency.
        # (The pause is the stimulus, not a wait for something to happen.)
        delay, size = 1.5, 16 << 20
        with socket.socket() as lsock:
            # a small receive window, so the client cannot write it all ahead
            lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            lsock.bind(("127.0.0.1", 0))
            lsock.listen(1)

            def serve():
                conn, _ = lsock.accept()
                with conn, conn.makefile("rb") as f:
                    conn.sendall(b"220 slow.test\r\n")
                    # EHLO (no PIPELINING offered), MAIL, RCPT, DATA
                    for reply in (b"250 slow.test", b"250 ok", b"250 ok", b"354 go"):
                        f.readline()
                        conn.sendall(reply + b"\r\n")
                    time.sleep(delay)
                    tail = b""
                    while not tail.endswith(b"\r\n.\r\n"):
                        chunk = f.read1(1 << 20)
                        if not chunk:
                            return
                        tail = (tail + chunk)[-5:]
                    conn.sendall(b"250 queued\r\n")
                    f.readline()  # QUIT
                    conn.sendall(b"221 bye\r\n")
            server = threading.Thread(target=serve, daemon=True)
            server.start()
            p = subprocess.run([SMTPLOAD_BIN, "-s", "1", "-m", "1", "-l", str(size), "-j",
                                "-w", "20", "127.0.0.1:%d" % lsock.getsockname()[1]],
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
            server.join(30)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        r = json.loads(p.stdout)
        self.assertGreaterEqual(r["seconds"], delay)  # the stall did happen
        self.assertLess(r["max_ms"], delay * 1000 / 2, "the client's transfer was counted")

    def test_open_loop(self):
        p, ehlo = self.smtpload("-s", "2", "-m", "10", "-q", "20", "-j")
        r = json.loads(p.stdout)
        self.assertEqual((r["messages"], r["connections"]), (10, 2))
        # message n starts n/20 s after the start: the last at 0.45 s
        self.assertGreaterEqual(r["seconds"], 9 / 20)
        self.assert_delivered_once(ehlo, 10)

    def test_open_loop_new_connections(self):
        p, ehlo = self.smtpload("-s", "3", "-m", "8", "-q", "40", "-N", "-j")
        r = json.loads(p.stdout)
        self.assertEqual((r["messages"], r["connections"]), (8, 8))
        self.assertGreaterEqual(r["seconds"], 7 / 40)
        self.assert_delivered_once(ehlo, 8)

    def test_json(self):
        p, ehlo = self.smtpload("-s", "2", "-m", "10", "-T", "starttls", "-j")
        self.assertTrue(p.stdout.endswith("}\n") and p.stdout.count("\n") == 1)
        r = json.loads(p.stdout)
        self.assertEqual(sorted(r), sorted(TEXT_KEYS))
        self.assertEqual((r["messages"], r["sessions"], r["connections"], r["tls"],
                          r["resumed"]), (10, 2, 2, 2, 0))
        self.assertTrue(0 <= r["p50_ms"] <= r["p90_ms"] <= r["p99_ms"] <= r["max_ms"])
        self.assertGreater(r["rate"], 0)
        self.assertGreater(r["seconds"], 0)
        self.assert_delivered_once(ehlo, 10)

    # -- idle mode --
    def test_idle_mode(self):
        mark = self.srv.log_mark()
        ehlo = "%s.smtpload.test" % token()
        p = subprocess.Popen([SMTPLOAD_BIN, "-i", "5", "-s", "2", "-T", "starttls", "-e", ehlo,
                              "127.0.0.1:%d" % self.srv.port()],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        try:
            line = p.stdout.readline()
            self.assertEqual(line, b"smtpload: idle 5 ready\n")
            # five connections, each through STARTTLS and its second EHLO, held
            self.assert_server_saw(mark, tls=5, resumed=0)
            held = {e["session"] for e in self.tls_events(mark)}
            self.assertEqual(len(held), 5)

            def closed():
                return {e["session"] for e in self.srv.events("disconnect", mark)} & held
            self.assertEqual(closed(), set())
            self.assertIsNone(p.poll())
            p.stdin.close()  # EOF: smtpload says QUIT on each and exits
            self.assertEqual(p.wait(timeout=30), 0)
            self.assertEqual(p.stdout.read(), b"")
            self.assertEqual(p.stderr.read(), b"")
            harness.wait_for(lambda: closed() == held, what="5 disconnects")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()

    def test_idle_mode_sigterm(self):
        mark = self.srv.log_mark()
        p = subprocess.Popen([SMTPLOAD_BIN, "-i", "3", "-T", "implicit",
                              "127.0.0.1:%d" % self.srv.port("smtps")],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        try:
            self.assertEqual(p.stdout.readline(), b"smtpload: idle 3 ready\n")
            self.assert_server_saw(mark, tls=3, resumed=0)
            p.terminate()
            self.assertEqual(p.wait(timeout=30), 0)
            self.assertEqual(p.stderr.read(), b"")
            held = {e["session"] for e in self.tls_events(mark)}
            harness.wait_for(lambda: {e["session"] for e in
                                      self.srv.events("disconnect", mark)} >= held,
                             what="3 disconnects")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdin.close()

    # -- failing loudly --
    def test_unknown_recipient_fails_naming_reply(self):
        p, _ = self.smtpload("-s", "2", "-m", "10", rcpts=("nobody@local.test",), check=False)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertEqual(p.stdout, "")
        self.assertRegex(p.stderr, r'(?m)^smtpload: session [12]: RCPT TO:<nobody@local\.test> '
                                   r'got "550 5\.1\.1 [^"\n]*"$')

    def test_rejected_message_fails_naming_end_of_data(self):
        p, ehlo = self.smtpload("-s", "1", "-m", "2", "-l", str(MESSAGE_SIZE_LIMIT + 1000),
                                check=False)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertEqual(p.stdout, "")
        self.assertRegex(p.stderr, r'(?m)^smtpload: session 1: end of DATA \(\.\) got "552 ')

    def test_refused_starttls_reply_fails(self):
        # an implicit TLS listener speaks no plaintext: the handshake fails
        p, _ = self.smtpload("-s", "1", "-m", "1", "-T", "starttls", listener="smtps",
                             check=False)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertRegex(p.stderr, r"(?m)^smtpload: session 1: ")

    def test_silent_server_times_out(self):
        # a listening socket that never says anything: the kernel completes
        # the TCP handshake, no greeting ever comes
        with socket.socket() as quiet:
            quiet.bind(("127.0.0.1", 0))
            quiet.listen(8)
            p = subprocess.run([SMTPLOAD_BIN, "-m", "1", "-s", "1", "-w", "1",
                                "127.0.0.1:%d" % quiet.getsockname()[1]],
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertRegex(p.stderr.decode(), r"(?m)^smtpload: session 1: timeout after 1 s "
                                            r"waiting for connect \(greeting\)$")

    def test_connection_refused_fails(self):
        port = harness.free_port()
        p = subprocess.run([SMTPLOAD_BIN, "-m", "1", "127.0.0.1:%d" % port],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertRegex(p.stderr.decode(), r"(?m)^smtpload: session 1: connection error while "
                                            r"waiting for connect: Connection refused$")

    def test_usage_errors_exit_2(self):
        for args in (["-s", "0"], ["-T", "ssl"], ["-q", "-1"], ["-t", "a b@c"], ["-R"], []):
            p = subprocess.run([SMTPLOAD_BIN] + args + (["127.0.0.1:1"] if args else []),
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
            self.assertEqual(p.returncode, 2, args)
            self.assertIn(b"usage: smtpload", p.stderr)


if __name__ == "__main__":
    harness.main()
