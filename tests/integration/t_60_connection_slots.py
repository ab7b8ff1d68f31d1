#!/usr/bin/python3
"""Connection slots under [limits]: a session gives its place back when it
ends (at QUIT, before 221 is written), not when its memory goes, so a
client that sends one message per connection is never refused for its own
previous connection; a session that gave its place back ends within
IO_CLOSE_SECONDS even if its client reads nothing; trusted_networks have no
per-client limit, but the total still holds."""

import fcntl
import socket
import struct
import sys
import termios
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import SENDER, make_message, token

IO_CLOSE_SECONDS = 10  # lib/io.h
REPLY = len(b"250 2.0.0 Ok\r\n")


def in_kernel(port, client):
    """What the server on PORT wrote to CLIENT's connection and CLIENT has
    not read: the server socket's queue (/proc/net/tcp) and CLIENT's."""
    me = client.getsockname()[1]
    unread = struct.unpack("i", fcntl.ioctl(client, termios.FIONREAD, b"\0" * 4))[0]
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if (int(fields[1].split(":")[1], 16) == port
                    and int(fields[2].split(":")[1], 16) == me):
                return int(fields[4].split(":")[0], 16) + unread
    return unread


def settle(srv):
    """Waits until the harness's readiness probe (a connection closed
    without QUIT) has ended: a client leaving without QUIT holds its place
    until the server reads the end of its connection."""
    harness.wait_for(lambda: len(srv.events("disconnect")) == len(srv.listeners),
                     what="the readiness probe's session to end")


def run_clients(test, n, client):
    """Runs CLIENT(0..N-1) in N threads at once; fails TEST if one hung or
    raised."""
    errors = []

    def run(i):
        try:
            client(i)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append("client %d: %r" % (i, e))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(harness.TIMEOUT * 4)
    test.assertEqual([t.name for t in threads if t.is_alive()], [], "a client hung")
    test.assertEqual(errors, [])


class Reconnecting(harness.ServerTestCase):

    def test_reconnecting_clients_are_not_refused(self):
        """As many parallel clients as the per-client limit, each opening
        a new connection at once after reading 221, over two dispatchers
        (the next connection often lands on the other one): none may get
        421. Slots freed only when a session's memory went refused some."""
        clients, cycles = 4, 120
        srv = self.server_for(listeners={"mx": "optional"}, dispatchers=2,
                              limits={"connections_per_client": clients})
        settle(srv)
        refused = []

        def client(n):
            for i in range(cycles):
                with srv.dialog(greeting=False) as d:
                    r = d.read_reply()
                    if r.code != 220:
                        refused.append((n, i, str(r)))
                        return
                    d.expect("EHLO client.test", 250)
                    d.expect("QUIT", 221)

        run_clients(self, clients, client)
        self.assertEqual(refused, [], "a client was refused for its own closed sessions")
        self.assertEqual(srv.events("connection-refused"), [])

    def test_message_per_connection(self):
        """The same with a message in every connection, each delivered once."""
        clients, cycles = 3, 30
        srv = self.server_for(listeners={"mx": "optional"}, dispatchers=2,
                              limits={"connections_per_client": clients})
        settle(srv)
        toks = []

        def client(n):
            for _ in range(cycles):
                tok = token()
                with srv.dialog() as d:
                    d.ehlo()
                    d.mail_transaction(SENDER, ["bob@local.test"], make_message(tok))
                    d.expect("QUIT", 221)
                toks.append(tok)

        run_clients(self, clients, client)
        self.assertEqual(len(toks), clients * cycles)
        for tok in toks:
            harness.wait_for(lambda: srv.messages_with(tok), what="delivery of " + tok)
            self.assertEqual(len(srv.messages_with(tok)), 1)


class UnreadReplies(harness.ServerTestCase):

    def test_session_past_its_place_ends_soon(self):
        """A client that reads none of its replies sends QUIT: the session
        gives its place back, so it may not stay open for command_timeout
        (or any number of such connections would be open outside every
        limit). Its last replies stay stuck: a tiny receive window and
        segment size keep the kernel from taking them all."""
        srv = self.server_for(listeners={"mx": "optional"}, dispatchers=1,
                              limits={"connections_per_client": 1, "junk_commands": 100000})
        settle(srv)
        mark = srv.log_mark()
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
        s.settimeout(harness.TIMEOUT)
        try:
            s.connect(("127.0.0.1", srv.port("mx")))
            sid = srv.wait_log(r"event=connect session=", since=mark).split("session=")[1]
            sid = sid.split()[0]
            # first as many 250s as the kernel takes (about 70 KB here), then
            # more with QUIT, stuck in the session's output but short of
            # IO_OUTPUT_MAX, so that QUIT is read
            first, more = 4000, 3000
            s.sendall(b"NOOP\r\n" * first)
            harness.wait_for(lambda: in_kernel(srv.port("mx"), s) >= first * REPLY,
                             what="the first replies in the kernel")
            s.sendall(b"NOOP\r\n" * more + b"QUIT\r\n")

            def served():
                with srv.dialog(greeting=False) as d:
                    return d.read_reply().code == 220
            # QUIT was read: the place went to the next connection
            harness.wait_for(served, what="a second connection served")
            start = time.monotonic()
            harness.wait_for(lambda: [e for e in srv.events("disconnect", since=mark)
                                      if e.get("session") == sid],
                             timeout=IO_CLOSE_SECONDS + harness.TIMEOUT,
                             what="the session that sent QUIT to end")
            self.assertLess(time.monotonic() - start, IO_CLOSE_SECONDS + harness.TIMEOUT)
            got = b""
            while True:
                data = s.recv(65536)
                if not data:
                    break
                got += data
            self.assertLess(len(got), (first + more) * REPLY,
                            "every reply left: nothing was stuck, the test proves nothing")
        finally:
            s.close()


class TrustedNetworks(harness.ServerTestCase):

    def test_trusted_clients_have_no_per_client_limit(self):
        srv = self.server_for(listeners={"mx": "optional"}, dispatchers=1,
                              server_options={"trusted_networks": "127.0.0.0/8"},
                              limits={"connections_per_client": 2, "connections": 5})
        settle(srv)  # or the probe's place makes the fifth client the one refused
        held = []
        try:
            for _ in range(5):
                d = srv.dialog()
                self.assertEqual(d.greeting.code, 220, d.greeting)
                held.append(d)
            # the total is still a limit
            with srv.dialog(greeting=False) as d:
                r = d.read_reply()
                self.assertEqual(r.code, 421, r)
                self.assertEqual(r.enhanced, "4.7.0")
            harness.wait_for(lambda: [e["limit"] for e in srv.events("connection-refused")]
                             == ["total"], what="the refusal logged as the total limit")
        finally:
            for d in held:
                d.close()

    def test_untrusted_clients_keep_the_limit(self):
        srv = self.server_for(listeners={"mx": "optional"}, dispatchers=1,
                              limits={"connections_per_client": 2})
        settle(srv)  # or the probe's place makes the second client the one refused
        held = [srv.dialog() for _ in range(2)]
        try:
            with srv.dialog(greeting=False) as d:
                r = d.read_reply()
                self.assertEqual(r.code, 421, r)
            harness.wait_for(lambda: [e["limit"] for e in srv.events("connection-refused")]
                             == ["per-client"], what="the refusal logged as the per-client limit")
        finally:
            for d in held:
                d.close()


if __name__ == "__main__":
    harness.main()
