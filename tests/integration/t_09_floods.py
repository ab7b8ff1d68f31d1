#!/usr/bin/python3
"""Floods: a client that pipelines commands and never reads its replies
costs the server a bounded amount of memory (reading stops while replies
are queued; the dispatcher does not grow, and gives nothing away after the
client leaves), and a second client is served meanwhile. Commands that move
no mail (NOOP, RSET, HELP, VRFY) count as errors past [limits]
junk_commands, so such a session ends with 421. Slow clients have
deadlines: a TLS handshake that stalls (nothing sent, half a ClientHello,
STARTTLS then silence) ends after [limits] tls_handshake_timeout, a client
that never says EHLO after helo_timeout, and DATA that trickles below
data_min_rate is cut off, while others are served meanwhile."""

import os
import re
import socket
import sys
import threading
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import SENDER, make_message, token  # noqa: E402

FLOOD = 24 * 1024 * 1024  # octets of HELP the attacker pipelines
GROWTH_MAX_KB = 32 * 1024  # a dispatcher may grow this much under the flood


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def dispatchers(srv):
    """PIDs of the live dispatcher processes, from their log lines
    ("sealmail[PID] role=dispatcher")."""
    pids = set(int(m) for m in re.findall(r"sealmail\[(\d+)\] role=dispatcher ", srv.log()))
    return sorted(p for p in pids if os.path.exists("/proc/%d" % p))


class Flood(harness.ServerTestCase):

    def flooder(self, srv, payload, total):
        """Connects and writes TOTAL octets of PAYLOAD without ever reading.
        Returns (socket, thread); the thread ends when the server stops
        reading (the send times out) or everything was sent."""
        sock = socket.create_connection(("127.0.0.1", srv.port()))
        sock.settimeout(3)
        sent = [0]

        def run():
            chunk = payload * (65536 // len(payload))
            try:
                while sent[0] < total:
                    sock.sendall(chunk)
                    sent[0] += len(chunk)
            except OSError:
                pass  # the server stopped reading: the point

        t = threading.Thread(target=run, daemon=True)
        t.start()
        return sock, t, sent

    def test_unread_replies_keep_memory_bounded(self):
        srv = self.server_for(listeners={"mx": "optional"}, dispatchers=1,
                              limits={"junk_commands": 100000000, "errors": 100000000})
        with srv.dialog() as d:  # the dispatcher is up and has served once
            d.ehlo()
            d.quit()
        [pid] = harness.wait_for(lambda: dispatchers(srv), what="dispatcher pid")
        before = rss_kb(pid)
        mark = srv.log_mark()
        sock, t, sent = self.flooder(srv, b"HELP\r\n", FLOOD)
        t.join(60)
        self.assertFalse(t.is_alive(), "flooder still sending")
        self.assertLess(sent[0], FLOOD, "the server read all %d octets without "
                        "its replies being read" % FLOOD)
        during = rss_kb(pid)
        # While the flood stands, another client is served.
        tok = token()
        with srv.dialog() as d:
            d.ehlo()
            d.mail_transaction(SENDER, ["bob@local.test"], make_message(tok))
            d.quit()
        harness.wait_for(lambda: srv.messages_with(tok), what="delivery during the flood")
        # the flooder's own session: every session before it ended with
        # event=disconnect too, so only its id tells its end from theirs
        client = "127.0.0.1:%d" % sock.getsockname()[1]
        [connect] = srv.wait_event("connect", since=mark, client=client)
        sock.close()
        srv.wait_event("disconnect", session=connect["session"])
        after = rss_kb(pid)
        sys.stderr.write("\nt_09: dispatcher RSS %d KiB before, %d during (%d octets "
                         "accepted of %d), %d after\n" % (before, during, sent[0], FLOOD, after))
        self.assertLess(during - before, GROWTH_MAX_KB,
                        "dispatcher grew from %d to %d KiB under the flood" % (before, during))
        self.assertLess(after - before, GROWTH_MAX_KB)

    def test_junk_commands_count_as_errors(self):
        srv = self.server_for(listeners={"mx": "optional"},
                              limits={"junk_commands": 5, "errors": 3})
        with srv.dialog() as d:
            d.ehlo()
            for verb in ("NOOP", "RSET", "HELP", "VRFY bob", "NOOP"):
                r = d.cmd(verb)
                self.assertLess(r.code, 300, r)
            # A message resets the count.
            d.mail_transaction(SENDER, ["bob@local.test"], make_message(token()))
            for _ in range(5):
                self.assertEqual(d.cmd("NOOP").code, 250)
            # Past the limit each counts as an error: the third ends it.
            self.assertEqual(d.cmd("NOOP").code, 250)
            self.assertEqual(d.cmd("NOOP").code, 250)
            d.send(b"NOOP\r\n")
            replies = d.replies_until_close()
            self.assertEqual([r.code for r in replies], [250, 421], replies)
            self.assertIn("Too many errors", replies[-1].text)

    def test_help_flood_ends_with_default_limits(self):
        srv = self.server_for(listeners={"mx": "optional"})
        with srv.dialog() as d:
            d.ehlo()
            d.send(b"HELP\r\n" * 200)
            replies = d.replies_until_close()
            # 100 junk commands, then 10 errors, the 10th followed by 421
            self.assertEqual([r.code for r in replies], [214] * 110 + [421])


# Short deadlines, and idle timeouts far longer than the test's own waits:
# only a deadline can end these sessions before harness.TIMEOUT.
DEADLINES = {"tls_handshake_timeout": "1s", "helo_timeout": "1s", "data_timeout": "1s",
             "data_min_rate": 500, "command_timeout": "1h"}


class Deadlines(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(listeners={"mx": "optional", "smtps": "implicit"},
                                   limits=DEADLINES)

    def closed_by_server(self, sock, what):
        """Reads until the server closes SOCK; returns what it sent. A server
        that keeps the connection fails the test (harness.TIMEOUT)."""
        sock.settimeout(harness.TIMEOUT)
        data = b""
        try:
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    return data
                data += chunk
        except socket.timeout:
            self.fail("%s: the server kept the connection open" % what)
        except ConnectionResetError:
            return data

    def test_handshake_nothing_sent(self):
        s = socket.create_connection(("127.0.0.1", self.srv.port("smtps")))
        self.assertEqual(self.closed_by_server(s, "silent TLS client"), b"")
        s.close()

    def test_handshake_half_client_hello(self):
        s = socket.create_connection(("127.0.0.1", self.srv.port("smtps")))
        # a TLS record header announcing 512 octets, and 5 of them
        s.sendall(b"\x16\x03\x01\x02\x00" + b"\x01\x00\x01\xfc\x03")
        data = self.closed_by_server(s, "half a ClientHello")
        s.close()
        self.assertNotIn(b"220", data)

    def test_starttls_then_silence(self):
        s = socket.create_connection(("127.0.0.1", self.srv.port("mx")))
        f = s.makefile("rb")
        self.assertTrue(f.readline().startswith(b"220 "))
        s.sendall(b"EHLO client.test\r\n")
        while not f.readline().startswith(b"250 "):
            pass
        s.sendall(b"STARTTLS\r\n")
        self.assertTrue(f.readline().startswith(b"220 "))
        self.closed_by_server(s, "STARTTLS then silence")
        s.close()

    def test_no_ehlo(self):
        s = socket.create_connection(("127.0.0.1", self.srv.port("mx")))
        data = self.closed_by_server(s, "client without EHLO")
        s.close()
        self.assertTrue(data.startswith(b"220 "), data)
        self.assertIn(b"421 4.4.2", data)

    def test_trickling_data_cut_off(self):
        tok = token()
        s = socket.create_connection(("127.0.0.1", self.srv.port("mx")))
        f = s.makefile("rb")
        self.assertTrue(f.readline().startswith(b"220 "))
        s.sendall(b"EHLO client.test\r\nMAIL FROM:<%s>\r\nRCPT TO:<bob@local.test>\r\n"
                  b"DATA\r\n" % SENDER.encode())
        replies = [f.readline()]
        while replies[-1].startswith(b"250-"):  # the EHLO reply, however long
            replies.append(f.readline())
        replies += [f.readline() for _ in range(3)]
        self.assertTrue(replies[-1].startswith(b"354"), replies)
        # One octet every 0.2 s (5 a second, far below 500): a pace, not a wait
        # that decides anything; the server must end it.
        body = make_message(tok)
        deadline = harness.time.monotonic() + harness.TIMEOUT
        sent = 0
        s.settimeout(0.2)
        reply = b""
        while harness.time.monotonic() < deadline:
            try:
                s.send(body[sent % len(body):sent % len(body) + 1])
                sent += 1
            except OSError:
                break
            try:
                chunk = s.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                break
            if not chunk:
                break
            reply += chunk
        s.close()
        self.assertIn(b"421 4.4.2", reply, "trickling DATA was not cut off (%d octets sent)"
                      % sent)
        self.assertEqual(self.srv.messages_with(tok), [])

    def test_others_served_while_handshakes_stall(self):
        stalled = [socket.create_connection(("127.0.0.1", self.srv.port("smtps")))
                   for _ in range(10)]
        try:
            tok = token()
            with self.srv.dialog() as d:
                d.ehlo()
                d.mail_transaction(SENDER, ["bob@local.test"], make_message(tok))
                d.quit()
            harness.wait_for(lambda: self.srv.messages_with(tok), what="delivery")
        finally:
            for s in stalled:
                s.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
