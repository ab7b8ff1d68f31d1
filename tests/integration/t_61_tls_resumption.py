#!/usr/bin/python3
"""TLS session tickets: a client that reconnects with its ticket resumes
(TLS 1.3 over implicit TLS and STARTTLS, TLS 1.2 tickets), on whichever
dispatcher accepts it, before and after a reload; each TLS 1.3 ticket is
replaced by a new one, so a client can go on resuming; a ticket from
another server instance (other keys) gets a full handshake, not an error;
a dispatcher started by a reload holds the ticket seed once, in its keys.
Every verdict is the server's own: its event=tls (or starttls) log line says resumed=yes
or resumed=no, checked against what the client library saw."""

import hashlib
import hmac
import os
import re
import socket
import ssl
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402

CHAIN = 6             # resumptions in a row, each with the ticket of the one before
CROSS_SECONDS = 20    # reconnecting until a ticket crosses dispatchers
PID_RE = re.compile(r"sealmail\[(\d+)\]")
NAME_LABEL = b"sealmail ticket name"  # tls_ticket.c: key name = HMAC-SHA256(seed, this)[:16]


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
        deadline = time.monotonic() + CROSS_SECONDS
        while time.monotonic() < deadline:
            resumed, pid = self.connect(c, "implicit")
            self.assertTrue(resumed)
            if pid != issuer:
                return
            issuer = pid
        self.fail("in %d s of reconnecting, every connection went to the dispatcher that "
                  "issued its ticket" % CROSS_SECONDS)


class AcrossInstances(harness.ServerTestCase):
    """A reload keeps the ticket keys; a new server instance has others."""

    def test_reload_keeps_tickets_restart_does_not(self):
        srv = self.server_for(listeners={"smtps": "implicit"}, dispatchers=2)
        c = Client(srv, harness.client_context())
        self.assertFalse(connect(srv, c, "implicit")[0])

        def dispatchers(event, since=0):
            return {PID_RE.search(e["_line"]).group(1) for e in srv.events(event, since=since)
                    if e.get("role") == "dispatcher"}
        harness.wait_for(lambda: len(dispatchers("role-keys")) == 2,
                         what="both dispatchers of the first generation up")
        old = dispatchers("role-keys")
        mark = srv.log_mark()
        srv.reload()
        # every dispatcher of the old generation has stopped accepting, and
        # the new one is up
        harness.wait_for(lambda: dispatchers("retiring", since=mark) >= old,
                         what="each old dispatcher retiring")
        srv.wait_log(r"role=dispatcher .*event=role-keys ", since=mark)
        resumed, pid = connect(srv, c, "implicit")
        self.assertNotIn(pid, old, "the connection went to the old generation")
        self.assertTrue(resumed, "a ticket issued before the reload was refused after it")
        srv.restart()
        self.assertFalse(connect(srv, c, "implicit")[0],
                         "a ticket of the previous instance was accepted")
        self.assertTrue(connect(srv, c, "implicit")[0])


def ticket_key_name(received):
    """The key name that opens the ticket of a TLS 1.2 full handshake, from
    the octets the server sent: its NewSessionTicket (RFC 5077 3.3) comes in
    the clear, among the handshake records before its ChangeCipherSpec, and
    the ticket (OpenSSL's format) starts with the key name."""
    hs, i = b"", 0
    while i + 5 <= len(received) and received[i] == 22:  # handshake records
        n = int.from_bytes(received[i + 3:i + 5], "big")
        hs += received[i + 5:i + 5 + n]
        i += 5 + n
    j = 0
    while j + 4 <= len(hs):
        kind, n = hs[j], int.from_bytes(hs[j + 1:j + 4], "big")
        if kind == 4:  # lifetime (4 octets), ticket length (2), ticket
            return hs[j + 10:j + 26]
        j += 4 + n
    raise AssertionError("no NewSessionTicket before the server's ChangeCipherSpec")


def tls12_handshake(srv):
    """A TLS 1.2 full handshake on smtps over memory BIOs, to see the
    server's octets; returns the ticket's key name and the pid of the
    dispatcher that issued it."""
    ctx = harness.client_context(maximum=ssl.TLSVersion.TLSv1_2)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname=harness.HOSTNAME)
    mark = srv.log_mark()
    received = b""
    with socket.create_connection(("127.0.0.1", srv.port("smtps")),
                                  timeout=harness.TIMEOUT) as raw:
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                raw.sendall(outgoing.read())
                data = raw.recv(65536)
                if not data:
                    raise AssertionError("the server closed the connection in the handshake")
                received += data
                incoming.write(data)
        raw.sendall(outgoing.read())
    line = srv.wait_log(r"event=tls session=\S+ .*resumed=no", since=mark)
    return ticket_key_name(received), int(PID_RE.search(line).group(1))


MAPPING_MAX = 1 << 30  # larger writable mappings are reservations, not data


def writable_memory(pid):
    """The octets of every writable mapping of process PID, with its name."""
    out = []
    with open("/proc/%d/maps" % pid) as maps, \
            open("/proc/%d/mem" % pid, "rb", buffering=0) as mem:
        for line in maps:
            fields = line.split()
            if not fields[1].startswith("rw"):
                continue
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            if hi - lo > MAPPING_MAX:
                continue  # a reservation (a sanitizer's shadow), not the heap
            try:
                mem.seek(lo)
                out.append((fields[5] if len(fields) > 5 else "anonymous", mem.read(hi - lo)))
            except (OSError, OverflowError, ValueError):
                pass
    return out


def seeds_named(memory, name):
    """The seeds found in MEMORY whose key name is NAME, as the code keeps
    them (struct tls_ticket_seed: the secret, then its period, 8 octets):
    in the keys (tls_ticket.c) the seed lies a few dozen octets before the
    name. Counting the whole struct leaves out the registers the kernel
    saves on the stack when a signal comes, which no C code can wipe."""
    seeds = set()
    for _, data in memory:
        i = data.find(name)
        while i >= 0:
            for back in range(40, min(i, 160) + 1):
                cand = data[i - back:i - back + 40]
                if hmac.new(cand[:32], NAME_LABEL, hashlib.sha256).digest()[:16] == name:
                    seeds.add(cand)
            i = data.find(name, i + 1)
    return seeds


def copies(memory, secret):
    return [what for what, data in memory for _ in range(data.count(secret))]


class SecretsKept(harness.ServerTestCase):
    """A copy of the ticket seed left where the keys cannot ratchet it (a
    stack frame the dispatchers inherit from the parent's reload, alive for
    their whole life) would decrypt every ticket from its period on, however
    far the keys have moved: the seed must be held once in each process."""

    def test_reload_leaves_one_copy_of_the_seed(self):
        if os.geteuid() != 0:
            self.fail("reading another process's memory needs root (run the tests as root)")
        env = None
        if "ASAN_OPTIONS" in os.environ:
            # AddressSanitizer keeps freed memory and old stack frames in
            # its quarantine and fake stacks, on purpose: without them the
            # copies counted are the code's own
            env = dict(os.environ, ASAN_OPTIONS=os.environ["ASAN_OPTIONS"] +
                       ":quarantine_size_mb=0:detect_stack_use_after_return=0")
        srv = self.server_for(listeners={"smtps": "implicit"}, dispatchers=1, env=env)
        tls12_handshake(srv)  # the first generation is up
        mark = srv.log_mark()
        srv.reload()
        harness.wait_for(lambda: srv.events("retiring", since=mark),
                         what="the old dispatcher retiring")
        new = int(PID_RE.search(srv.wait_log(r"role=dispatcher .*event=role-keys ",
                                             since=mark)).group(1))
        name, pid = tls12_handshake(srv)
        self.assertEqual(pid, new, "the ticket came from the old generation")
        memory = writable_memory(pid)
        seeds = seeds_named(memory, name)
        self.assertEqual(len(seeds), 1, "no seed found for key name %s" % name.hex())
        seed = seeds.pop()
        where = copies(memory, seed)
        self.assertEqual(len(where), 1, "the dispatcher holds the seed in: %s" % where)
        # the parent holds the seed of the same period (no boundary passed)
        # for the dispatchers it may start, and nowhere else
        where = copies(writable_memory(srv.main_pid()), seed)
        self.assertEqual(len(where), 1, "the parent holds the seed in: %s" % where)

if __name__ == "__main__":
    harness.unittest.main()
