#!/usr/bin/python3
"""TLS session tickets: a client that reconnects with its ticket resumes
(TLS 1.3 over implicit TLS and STARTTLS, TLS 1.2 tickets), on whichever
dispatcher accepts it, before and after a reload; each TLS 1.3 ticket is
replaced by a new one, so a client can go on resuming; a ticket from
another server instance (other keys) gets a full handshake, not an error.
Every verdict is the server's own: its event=tls (or starttls) log line says resumed=yes
or resumed=no, checked against what the client library saw."""

import re
import socket
import ssl
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402

CHAIN = 6             # resumptions in a row, each with the ticket of the one before
CROSS_ATTEMPTS = 60   # connections tried to see a ticket cross dispatchers
PID_RE = re.compile(r"sealmail\[(\d+)\]")


class Client:
    """One connection per call; remembers the newest session (ticket)."""

    def __init__(self, srv, ctx):
        self.srv = srv
        self.ctx = ctx
        self.session = None

    def _finish(self, s, banner_first):
        f = b""
        if banner_first:
            while b"\r\n" not in f:
                f += s.recv(4096)
            assert f.startswith(b"220 "), f
        s.sendall(b"EHLO client.test\r\n")
        data = b""
        while not re.search(rb"(^|\n)250 ", data):
            data += s.recv(4096)
        # the ticket came before the EHLO reply: the session now holds it
        s.sendall(b"QUIT\r\n")
        while not re.search(rb"(^|\n)221 ", data):
            data += s.recv(4096)
        reused = s.session_reused
        self.session = s.session
        s.close()
        return reused

    def implicit(self):
        raw = socket.create_connection(("127.0.0.1", self.srv.port("smtps")),
                                       timeout=harness.TIMEOUT)
        s = self.ctx.wrap_socket(raw, server_hostname=harness.HOSTNAME, session=self.session)
        return self._finish(s, True)

    def starttls(self):
        raw = socket.create_connection(("127.0.0.1", self.srv.port("mx")),
                                       timeout=harness.TIMEOUT)
        f = raw.makefile("rb")
        assert f.readline().startswith(b"220 ")
        raw.sendall(b"EHLO client.test\r\n")
        while not f.readline().startswith(b"250 "):
            pass
        raw.sendall(b"STARTTLS\r\n")
        assert f.readline().startswith(b"220 ")
        s = self.ctx.wrap_socket(raw, server_hostname=harness.HOSTNAME, session=self.session)
        return self._finish(s, False)


def connect(srv, client, how):
    """One connection to SRV (HOW: "implicit" or "starttls"); returns
    (resumed, as the server logged it; the dispatcher's pid), after checking
    that the client library saw the same."""
    mark = srv.log_mark()
    reused = getattr(client, how)()
    line = srv.wait_log(r"event=(?:tls|starttls) session=\S+ .*resumed=(yes|no)", since=mark)
    logged = re.search(r"resumed=(yes|no)", line).group(1) == "yes"
    if logged != reused:
        raise AssertionError("server and client disagree (client: %s): %s" % (reused, line))
    return logged, PID_RE.search(line).group(1)


class Resumption(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(listeners={"mx": "optional", "smtps": "implicit"},
                                   dispatchers=2)

    def connect(self, client, how):
        return connect(self.srv, client, how)

    def chain(self, ctx, how, renewed):
        """CHAIN resumptions, each with the newest ticket; RENEWED: each must
        have brought a new ticket (TLS 1.3: a ticket is used once)."""
        c = Client(self.srv, ctx)
        self.assertEqual(self.connect(c, how)[0], False, "the first connection is full")
        for i in range(CHAIN):
            used = c.session.id
            resumed, _ = self.connect(c, how)
            self.assertTrue(resumed, "resumption %d of %d (%s) was a full handshake"
                            % (i + 1, CHAIN, how))
            if renewed:
                self.assertNotEqual(c.session.id, used,
                                    "resumption %d brought no new ticket" % (i + 1))

    def test_tls13_implicit_chain(self):
        self.chain(harness.client_context(minimum=ssl.TLSVersion.TLSv1_3), "implicit", True)

    def test_tls13_starttls_chain(self):
        self.chain(harness.client_context(minimum=ssl.TLSVersion.TLSv1_3), "starttls", True)

    def test_tls12_ticket(self):
        ctx = harness.client_context(maximum=ssl.TLSVersion.TLSv1_2)
        self.assertFalse(ctx.options & ssl.OP_NO_TICKET)
        self.chain(ctx, "implicit", False)

    def test_ticket_crosses_dispatchers(self):
        """Both dispatchers decrypt each other's tickets: the kernel gives a
        reconnecting client to either, so tries until one resumes on
        another dispatcher than the one that issued its ticket."""
        c = Client(self.srv, harness.client_context())
        _, issuer = self.connect(c, "implicit")
        for _ in range(CROSS_ATTEMPTS):
            resumed, pid = self.connect(c, "implicit")
            self.assertTrue(resumed)
            if pid != issuer:
                return
            issuer = pid
        self.skipTest("one dispatcher took all %d connections" % CROSS_ATTEMPTS)


class AcrossInstances(harness.ServerTestCase):
    """A reload keeps the ticket keys; a new server instance has others."""

    def test_reload_keeps_tickets_restart_does_not(self):
        srv = self.server_for(listeners={"smtps": "implicit"})
        c = Client(srv, harness.client_context())
        self.assertFalse(connect(srv, c, "implicit")[0])
        old = {e["_line"] and PID_RE.search(e["_line"]).group(1)
               for e in srv.events("role-keys") if e.get("role") == "dispatcher"}
        mark = srv.log_mark()
        srv.reload()
        # the old generation has stopped accepting, the new one is up
        harness.wait_for(lambda: len(srv.events("retiring", since=mark)) >= len(old),
                         what="the old dispatchers retiring")
        srv.wait_log(r"role=dispatcher .*event=role-keys ", since=mark)
        resumed, pid = connect(srv, c, "implicit")
        self.assertNotIn(pid, old, "the connection went to the old generation")
        self.assertTrue(resumed, "a ticket issued before the reload was refused after it")
        srv.restart()
        self.assertFalse(connect(srv, c, "implicit")[0],
                         "a ticket of the previous instance was accepted")
        self.assertTrue(connect(srv, c, "implicit")[0])


if __name__ == "__main__":
    harness.unittest.main()
