"""Peers for the outbound-delivery integration tests (t_1N_*.py).

Standard library only. Builds on harness.py (Server, the test CA, wait_for).

  * `Unbound`: a private unbound(8) instance on a free 127.0.0.1 port with a
    generated configuration holding the test zones (MX/A/AAAA records); every
    other name is answered NXDOMAIN by a static root zone, so nothing ever
    leaves the machine.
  * `dns_query()`: a minimal DNS client (socket + struct), used to wait for
    unbound to answer and to check the test zones themselves.
  * `FakeMX`: a threaded SMTP server on a given 127.x.y.z address and port,
    with options for STARTTLS (offered or not, a certificate, TLS versions,
    a refusing 454, extra lines sent with the 220 before the handshake),
    the greeting, RCPT replies (always or for the first N attempts),
    PIPELINING; it records every command with whether TLS was active, the raw
    DATA bytes and the messages.
  * `SmtpSink`: Postfix's smtp-sink, unpacked by scripts/test-peers into
    tests/.peers/postfix/, dumping each message into a directory.
  * `outbound_server()`: a harness.Server configured for outbound delivery
    ([server] trusted_networks, [dns], [outbound], [outbound.domains],
    [routes], [queue]); `submit()` sends a message into it over SMTP.
  * DSN helpers: find and parse the delivery status notifications that land
    in a local sender's Maildir.

Every wait polls with a deadline; nothing asserts on durations.
"""

import email
import email.policy
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
import warnings

import harness

HERE = harness.HERE
PEERS_DIR = os.path.normpath(os.path.join(HERE, "..", ".peers"))
POSTFIX_ROOT = os.path.join(PEERS_DIR, "postfix")
SMTP_SINK = os.path.join(POSTFIX_ROOT, "usr", "sbin", "smtp-sink")
SMTP_SINK_LIBS = os.path.join(POSTFIX_ROOT, "usr", "lib", "postfix")
UNBOUND = shutil.which("unbound") or "/usr/sbin/unbound"

# Local senders (users of the test server) so that DSNs land in a Maildir.
# Each test uses its own so that its DSNs are not mixed with another's.
LOCAL_SENDERS = tuple("sender%d@local.test" % i for i in range(1, 31))
USERS = harness.DEFAULT_USERS + ("sender@local.test",) + LOCAL_SENDERS

SLOW = 30.0  # timeout for waits that span retries or the message lifetime


def need_peers():
    """Fails with a clear message when scripts/test-peers has not been run."""
    missing = []
    if not os.path.exists(UNBOUND):
        missing.append("unbound (%s)" % UNBOUND)
    if not os.path.exists(SMTP_SINK):
        missing.append("smtp-sink (%s)" % SMTP_SINK)
    if missing:
        raise AssertionError("test peers missing: %s; run scripts/test-peers"
                             % ", ".join(missing))


# ---------------------------------------------------------------------------
# DNS
# ---------------------------------------------------------------------------

def need_unbound():
    """Fails naming the package unless unbound(8) is there (all the DNS
    helpers need; no smtp-sink)."""
    if not os.path.exists(UNBOUND):
        raise AssertionError("unbound (%s) not found: install the Debian package unbound "
                             "(scripts/deps and scripts/test-peers do)" % UNBOUND)


QTYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28,
          "DS": 43, "RRSIG": 46, "DNSKEY": 48, "TLSA": 52}


def _encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def _read_name(msg, off):
    labels = []
    jumped = False
    end = off
    for _ in range(128):
        n = msg[off]
        if n == 0:
            off += 1
            break
        if n & 0xC0 == 0xC0:
            ptr = struct.unpack(">H", msg[off:off + 2])[0] & 0x3FFF
            if not jumped:
                end = off + 2
            jumped = True
            off = ptr
            continue
        labels.append(msg[off + 1:off + 1 + n].decode("ascii", "replace"))
        off += 1 + n
    if not jumped:
        end = off
    return ".".join(labels) + ".", end


def dns_query(server, port, name, qtype="A", timeout=1.0):
    """One UDP query. Returns (rcode, [(type_name, data_str), ...]) where data
    is "PREF HOST." for MX, the address for A/AAAA, raw hex otherwise."""
    qt = QTYPES[qtype] if isinstance(qtype, str) else qtype
    qid = os.urandom(2)
    pkt = qid + struct.pack(">HHHHH", 0x0100, 1, 0, 0, 0) + _encode_name(name) + \
        struct.pack(">HH", qt, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(pkt, (server, port))
        while True:
            msg = s.recv(65535)
            if msg[:2] == qid:
                break
    flags, qd, an = struct.unpack(">HHH", msg[2:8])
    off = 12
    for _ in range(qd):
        _, off = _read_name(msg, off)
        off += 4
    answers = []
    names = {v: k for k, v in QTYPES.items()}
    for _ in range(an):
        _, off = _read_name(msg, off)
        rtype, rclass, ttl, rdlen = struct.unpack(">HHIH", msg[off:off + 10])
        off += 10
        rdata = msg[off:off + rdlen]
        if rtype == 1:
            data = socket.inet_ntop(socket.AF_INET, rdata)
        elif rtype == 28:
            data = socket.inet_ntop(socket.AF_INET6, rdata)
        elif rtype == 15:
            pref = struct.unpack(">H", rdata[:2])[0]
            host, _ = _read_name(msg, off + 2)
            data = "%d %s" % (pref, host)
        else:
            data = rdata.hex()
        answers.append((names.get(rtype, str(rtype)), data))
        off += rdlen
    return flags & 0xF, answers


def free_udp_tcp_port(addr="127.0.0.1"):
    """A port free for both TCP and UDP on ADDR."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind((addr, 0))
            port = u.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                    t.bind((addr, port))
            except OSError:
                continue
            return port
    raise AssertionError("no free UDP+TCP port on %s" % addr)


class Daemon:
    """A child process (self.proc) writing to self.log_path through
    self._logf: log() reads what it wrote, stop() ends it (SIGTERM, then
    SIGKILL after harness.TIMEOUT)."""

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=harness.TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self._logf:
            self._logf.close()
            self._logf = None


class Unbound(Daemon):
    """A private unbound on 127.0.0.1:PORT serving RECORDS.

    RECORDS: a list of (name, type, data) tuples, e.g.
      ("secure.test", "MX", "10 mx.secure.test."), ("mx.secure.test", "A", "127.11.0.3"),
      ("nullmx.test", "MX", "0 .")
    Names are made absolute. ZONES: more names to declare `static` (the zone of
    every record's name is declared too; the root is static, so any other
    name is NXDOMAIN). AUTH_ZONES: objects with `name` (absolute) and
    `zonefile` (dnssec.Zone, made), served as unbound auth-zones: with their
    RRSIGs, NSEC and DNSKEY records to DO queries (dnssec.TestDNS uses it)."""

    def __init__(self, records, zones=(), start=True, auth_zones=()):
        need_unbound()
        self.records = [(n if n.endswith(".") else n + ".", t.upper(), d) for n, t, d in records]
        self.zones = set(z.rstrip(".") + "." for z in zones)
        self.auth_zones = list(auth_zones)
        self._logf = None
        self.dir = harness.new_tmpdir("unbound-")
        self.conf = os.path.join(self.dir, "unbound.conf")
        self.log_path = os.path.join(self.dir, "unbound.log")
        self.proc = None
        self.port = None
        if start:
            self.start()

    def config_text(self):
        lines = ["server:",
                 "    interface: 127.0.0.1",
                 "    port: %d" % self.port,
                 "    do-ip6: no",
                 "    do-daemonize: no",
                 "    use-syslog: no",
                 '    logfile: ""',
                 '    chroot: ""',
                 '    username: ""',
                 '    directory: "%s"' % self.dir,
                 '    pidfile: ""',
                 "    num-threads: 1",
                 "    verbosity: 1",
                 "    do-not-query-localhost: no",
                 '    module-config: "iterator"',
                 "    access-control: 127.0.0.0/8 allow",
                 # Nothing outside the test zones: a static root zone answers
                 # NXDOMAIN for every other name, so no query leaves the machine.
                 '    local-zone: "." static']
        zones = set(self.zones)
        for name, rtype, data in self.records:
            # The zone of each record's owner: the name itself for MX/A/AAAA of
            # a domain, its parent for a host name (mx.secure.test. -> secure.test.)
            zones.add(name)
        for z in sorted(zones):
            if z != ".":
                lines.append('    local-zone: "%s" static' % z)
        for name, rtype, data in self.records:
            # TXT data comes quoted ('"v=STSv1; id=1"'): then the other quote.
            q = "'" if '"' in data else '"'
            lines.append("    local-data: %s%s 60 IN %s %s%s" % (q, name, rtype, data, q))
        for z in self.auth_zones:
            # transparent: past the static root (and unbound's own "test."
            # zone) on to the auth-zone.
            lines.append('    local-zone: "%s" transparent' % z.name)
        if self.auth_zones:
            # For dnssec.TestDNS.update(): unbound-control over a local socket.
            lines += ["remote-control:",
                      "    control-enable: yes",
                      '    control-interface: "%s"' % os.path.join(self.dir, "control.sock")]
        for z in self.auth_zones:
            lines += ["auth-zone:",
                      '    name: "%s"' % z.name,
                      '    zonefile: "%s"' % z.zonefile,
                      "    for-downstream: yes",
                      "    for-upstream: yes",
                      "    fallback-enabled: no"]
        return "\n".join(lines) + "\n"

    def start(self):
        last = None
        for _ in range(5):
            self.port = free_udp_tcp_port()
            with open(self.conf, "w") as f:
                f.write(self.config_text())
            self._logf = open(self.log_path, "ab")
            self.proc = subprocess.Popen([UNBOUND, "-d", "-c", self.conf],
                                         stdin=subprocess.DEVNULL, stdout=self._logf,
                                         stderr=self._logf, start_new_session=True,
                                         cwd=self.dir)
            try:
                self._wait_ready()
                return
            except AssertionError as e:
                last = e
                self.stop()
        raise last

    def probe(self):
        """(name, type) that must answer once unbound is up."""
        if self.records:
            return self.records[0][0], self.records[0][1]
        if self.auth_zones:
            return self.auth_zones[0].name, "SOA"
        return "probe.test.", "A"

    def _wait_ready(self):
        probe, ptype = self.probe()

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("unbound exited (rc=%s):\n%s\nconfig:\n%s"
                                     % (self.proc.returncode, self.log(), self.config_text()))
            try:
                rcode, answers = dns_query("127.0.0.1", self.port, probe, ptype, timeout=0.3)
            except OSError:
                return False
            return rcode == 0 and answers
        harness.wait_for(ready, what="unbound to answer on port %d" % self.port)

    def resolver(self):
        return "127.0.0.1:%d" % self.port

    def query(self, name, qtype="A"):
        return dns_query("127.0.0.1", self.port, name, qtype)



def mx(domain, *hosts):
    """MX records: mx("a.test", (10, "mx1.a.test"), (20, "mx2.a.test"))."""
    return [(domain, "MX", "%d %s." % (pref, host.rstrip("."))) for pref, host in hosts]


def a(name, addr):
    return [(name, "A", addr)]


# ---------------------------------------------------------------------------
# Certificates for the peers
# ---------------------------------------------------------------------------

CERT_KINDS = ("good", "wrong-name", "expired", "self-signed", "other-ca")
_other_ca = []


def self_signed_cert(names):
    """A self-signed certificate (EC P-256) for DNS NAMES: no CA vouches for
    it, so PKIX fails while DANE-EE (TLSA 3 x x) can still match it."""
    names = list(names)
    d = harness.new_tmpdir("selfsigned-")
    key, pem = os.path.join(d, "self.key"), os.path.join(d, "self.pem")
    harness.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", pem,
                 "-sha256", "-days", "2",
                 "-subj", "/O=sealmail tests/CN=%s" % names[0],
                 "-addext", "subjectAltName=" + ",".join("DNS:" + n for n in names),
                 "-addext", "basicConstraints=critical,CA:FALSE"])
    os.chmod(key, 0o644)
    with open(pem) as f:
        serial = int(re.sub(r"\s", "", harness.run(
            ["openssl", "x509", "-noout", "-serial", "-in", pem]).stdout.decode()
            ).split("=", 1)[1], 16)
    return harness.Cert(pem, key, serial, names[0], names)


def peer_cert(kind, names):
    """A harness.Cert for a peer whose DNS names are NAMES, of KIND:
      "good"        from the test CA, for NAMES
      "wrong-name"  from the test CA, for "wrong-name.invalid" only
      "expired"     from the test CA, for NAMES, notAfter in the past
      "self-signed" for NAMES, signed by itself
      "other-ca"    for NAMES, from a second CA nobody trusts"""
    names = [names] if isinstance(names, str) else list(names)
    if kind == "good":
        return harness.issue_cert(names)
    if kind == "wrong-name":
        return harness.issue_cert(["wrong-name.invalid"])
    if kind == "expired":
        return harness.issue_cert(names, expired=True)
    if kind == "self-signed":
        return self_signed_cert(names)
    if kind == "other-ca":
        if not _other_ca:
            _other_ca.append(harness.TestCA())
        return _other_ca[0].issue(names)
    raise ValueError("certificate kind %r: one of %r" % (kind, CERT_KINDS))


# ---------------------------------------------------------------------------
# Fake MX
# ---------------------------------------------------------------------------

class Command:
    def __init__(self, line, tls, pipelined, crlf, raw=None):
        self.line = line          # str, without the line end
        self.raw = raw            # bytes as received, with the line end
        self.tls = tls            # TLS version string when TLS was active, else None
        self.pipelined = pipelined  # more input was already waiting when it was read
        self.crlf = crlf          # the line ended with CRLF (not a bare LF)
        self.verb = line.split(" ", 1)[0].split(":", 1)[0].upper()

    def __repr__(self):
        return "%s%s" % (self.line, " [%s]" % self.tls if self.tls else " [plain]")


class Transaction:
    def __init__(self, mail_from, helo, tls):
        self.mail_from = mail_from  # argument of MAIL FROM: as sent ("<a@b> SIZE=12")
        self.rcpts = []             # arguments of every RCPT TO:
        self.accepted = []          # the accepted ones
        self.helo = helo
        self.tls = tls              # TLS version at MAIL, or None
        self.data_raw = None        # bytes on the wire after 354, up to and incl. ".\r\n"
        self.data = None            # the message: data_raw without the end mark, unstuffed
        self.bdat_chunks = []       # BDAT: the bytes of each chunk exactly as received
        self.bdat = False           # the message came with BDAT (data = data_raw = chunks joined)

    @property
    def mail_address(self):
        """The reverse path as sent, raw (between < and >)."""
        return self.sender

    @property
    def mail_params(self):
        """MAIL FROM parameters: {"SIZE": "12", "REQUIRETLS": None, ...}
        (keywords upper-cased, values as sent)."""
        rest = re.sub(r"^\s*<[^>]*>", "", self.mail_from).split()
        out = {}
        for p in rest:
            k, eq, v = p.partition("=")
            out[k.upper()] = v if eq else None
        return out

    @property
    def sender(self):
        m = re.match(r"\s*<([^>]*)>", self.mail_from)
        return m.group(1) if m else self.mail_from

    def rcpt_addresses(self, accepted=True):
        out = []
        for r in (self.accepted if accepted else self.rcpts):
            m = re.match(r"\s*<([^>]*)>", r)
            out.append(m.group(1) if m else r)
        return out

    def __repr__(self):
        return "Transaction(from=%r rcpts=%r tls=%r size=%s)" % (
            self.mail_from, self.rcpts, self.tls, len(self.data) if self.data else None)


class Session:
    def __init__(self, peer):
        self.peer = peer
        self.commands = []
        self.transactions = []
        self.tls_version = None
        self.cipher = None
        self.sni = None
        self.tls_error = None
        self.after_starttls = b""  # plaintext the client sent after STARTTLS, before TLS
        self.closed = False
        self.transcript = []       # ("C"|"S", bytes)


def unstuff(raw):
    """DATA bytes as on the wire (ending in CRLF.CRLF, or .CRLF when empty)
    -> the message: end mark removed, a leading '.' of each line removed."""
    if raw.endswith(b"\r\n.\r\n"):
        body = raw[:-3]
    elif raw == b".\r\n":
        body = b""
    else:
        raise AssertionError("DATA does not end with CRLF.CRLF: %r" % raw[-20:])
    lines = body.split(b"\r\n")
    out = [ln[1:] if ln.startswith(b".") else ln for ln in lines]
    return b"\r\n".join(out)


class FakeMX:
    """A threaded SMTP server on ADDR:PORT (PORT 0 = any free port).

    Options:
      name            host name in the greeting and EHLO reply
      greeting        the whole greeting line (default "220 NAME ESMTP fake");
                      a 4xx/5xx greeting closes the connection after it
      starttls        offer STARTTLS in the EHLO reply
      cert            harness.Cert used for the handshake (default: one for NAME)
      tls_min, tls_max  ssl.TLSVersion bounds of the server; a maximum below
                      TLS 1.2 also lowers the cipher security level so that
                      the old protocol really works on this side
      starttls_reply  a reply line that replaces "220 2.0.0 Ready to start TLS"
                      when it is not a 220 (e.g. "454 4.7.0 TLS not available"):
                      the session stays in plaintext
      starttls_extra  bytes sent in the same write as the 220, before the
                      handshake (e.g. b"250 fake injected\\r\\n")
      pipelining, dsn, eightbitmime, size  extensions advertised
      rcpt_reply      reply line for RCPT (e.g. "550 5.1.1 no such user"),
                      None = "250 2.1.5 Ok"
      rcpt_fail_times apply rcpt_reply to the first N RCPT commands only
                      (counted over all sessions), then accept; None = always
      rcpt_replies    {address: reply line} for some recipients only (always)
      mail_reply, data_reply  reply lines for MAIL and for the end of DATA
                      (or the BDAT LAST chunk)
      smtputf8        advertise SMTPUTF8 (RFC 6531)
      chunking        advertise CHUNKING (RFC 3030) and accept BDAT; each
                      chunk's bytes are recorded exactly (Transaction.bdat_chunks)
      bdat_reply      reply line for BDAT chunks that are not LAST (None = 250)
      requiretls      advertise REQUIRETLS (RFC 8689): True = only after
                      STARTTLS (as RFC 8689 4.1 wants), "always" = also in
                      plaintext (a misbehaving peer)
      certs           {SNI name: harness.Cert}: the certificate for a client
                      that sends that name; others get CERT (see peer_cert())
    Transaction.mail_params has the MAIL FROM parameters.
    Attributes may be changed while it runs (e.g. rcpt_reply = None).
    """

    def __init__(self, addr, port=0, name="fake-mx.test", greeting=None, starttls=True,
                 cert=None, tls_min=None, tls_max=None, starttls_reply=None,
                 starttls_extra=b"", pipelining=True, dsn=True, eightbitmime=True, size=True,
                 rcpt_reply=None, rcpt_fail_times=None, rcpt_replies=None, mail_reply=None,
                 data_reply=None, smtputf8=False, chunking=False, bdat_reply=None,
                 requiretls=False, certs=None,
                 timeout=harness.TIMEOUT, start=True):
        self.addr = addr
        self.name = name
        self.greeting = greeting or "220 %s ESMTP fake" % name
        self.starttls = starttls
        self.cert = cert
        self.tls_min = tls_min
        self.tls_max = tls_max
        self.starttls_reply = starttls_reply
        self.starttls_extra = starttls_extra
        self.pipelining = pipelining
        self.dsn = dsn
        self.eightbitmime = eightbitmime
        self.size = size
        self.rcpt_reply = rcpt_reply
        self.rcpt_fail_times = rcpt_fail_times
        self.rcpt_replies = dict(rcpt_replies or {})
        self.mail_reply = mail_reply
        self.data_reply = data_reply
        self.smtputf8 = smtputf8
        self.chunking = chunking
        self.bdat_reply = bdat_reply
        self.requiretls = requiretls
        self.certs = dict(certs or {})
        self._sni_ctx = {}
        self.timeout = timeout
        self.sessions = []
        self.errors = []
        self.rcpt_count = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []
        self._conns = set()
        self._ctx = None
        self._qn = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((addr, port))
        except OSError:
            self.sock.close()
            raise
        self.port = self.sock.getsockname()[1]
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        if start:
            self.start()

    def __repr__(self):
        return "FakeMX(%s:%d %s)" % (self.addr, self.port, self.name)

    # -- lifecycle --
    def tls_context(self, cert=None):
        if cert is not None:
            if cert.cert not in self._sni_ctx:
                self._sni_ctx[cert.cert] = self._new_context(cert, sni=False)
            return self._sni_ctx[cert.cert]
        if self._ctx is None:
            self._ctx = self._new_context(self.cert or harness.issue_cert([self.name]))
        return self._ctx

    def _new_context(self, cert, sni=True):
        """An SSLContext serving CERT with the TLS bounds; SNI: the callback
        that records the name sent and switches to a CERTS entry."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert.cert, cert.key)
        if self.tls_max is not None and self.tls_max < ssl.TLSVersion.TLSv1_2:
            ctx.set_ciphers("DEFAULT@SECLEVEL=0")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.1
            if self.tls_min is not None:
                ctx.minimum_version = self.tls_min
            if self.tls_max is not None:
                ctx.maximum_version = self.tls_max

        def sni(sslobj, server_name, _ctx):
            sslobj.context_sni = server_name
            chosen = self.certs.get((server_name or "").lower().rstrip("."))
            if chosen is not None:
                sslobj.context = self.tls_context(chosen)
        if sni:
            ctx.sni_callback = sni
        return ctx

    def start(self):
        if self.starttls:
            self.tls_context()  # fail early on a bad certificate
            for c in self.certs.values():
                self.tls_context(c)
        t = threading.Thread(target=self._accept_loop, name="fakemx-%s" % self.addr,
                             daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self):
        self._stop.set()
        try:
            self.sock.close()
        except OSError:
            pass
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                c.close()
            except OSError:
                pass
        for t in list(self._threads):
            t.join(timeout=5)

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(self.timeout)
            sess = Session(peer)
            with self._lock:
                self.sessions.append(sess)
                self._conns.add(conn)
            t = threading.Thread(target=self._serve, args=(conn, sess),
                                 name="fakemx-session", daemon=True)
            t.start()
            self._threads.append(t)

    # -- one session --
    def _serve(self, conn, sess):
        io = _Conn(conn, sess)
        try:
            self._dialog(io, sess)
        except (OSError, ssl.SSLError, _Closed):
            pass  # the client went away, timed out, or we are stopping
        except Exception as e:  # a bug here must show in the test
            with self._lock:
                self.errors.append(repr(e))
        finally:
            sess.closed = True
            with self._lock:
                self._conns.discard(io.sock)
                self._conns.discard(conn)
            try:
                io.sock.close()
            except OSError:
                pass

    def _ehlo_lines(self, tls):
        ext = []
        if self.pipelining:
            ext.append("PIPELINING")
        if self.size:
            ext.append("SIZE 52428800")
        if self.eightbitmime:
            ext.append("8BITMIME")
        ext.append("ENHANCEDSTATUSCODES")
        if self.dsn:
            ext.append("DSN")
        if self.smtputf8:
            ext.append("SMTPUTF8")
        if self.chunking:
            ext.append("CHUNKING")
        if self.requiretls and (tls or self.requiretls == "always"):
            ext.append("REQUIRETLS")
        if self.starttls and not tls:
            ext.append("STARTTLS")
        return [self.name] + ext

    def _dialog(self, io, sess):
        io.send_line(self.greeting)
        if not self.greeting.startswith("2"):
            return
        helo = None
        tx = None
        while True:
            raw, pipelined = io.read_line()
            crlf = raw.endswith(b"\r\n")
            line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
            cmd = Command(line, sess.tls_version, pipelined, crlf, raw)
            with self._lock:
                sess.commands.append(cmd)
            verb = cmd.verb
            arg = line[len(verb):].strip() if len(line) >= len(verb) else ""
            if verb == "EHLO":
                helo = arg
                tx = None
                lines = self._ehlo_lines(sess.tls_version)
                io.send(b"".join(("250%s%s\r\n" % ("-" if i < len(lines) - 1 else " ", ln))
                                 .encode() for i, ln in enumerate(lines)))
            elif verb == "HELO":
                helo = arg
                tx = None
                io.send_line("250 %s" % self.name)
            elif verb == "STARTTLS":
                if not self.starttls or sess.tls_version:
                    io.send_line("502 5.5.1 STARTTLS not available")
                    continue
                if self.starttls_reply and not self.starttls_reply.startswith("220"):
                    io.send_line(self.starttls_reply)
                    continue
                reply = (self.starttls_reply or "220 2.0.0 Ready to start TLS").encode()
                io.send(reply + b"\r\n" + self.starttls_extra)
                sess.after_starttls = io.take_buffer()
                try:
                    io.start_tls(self.tls_context())
                except (ssl.SSLError, OSError) as e:
                    sess.tls_error = str(e)
                    sess.sni = getattr(io.sock, "context_sni", None)
                    return
                sess.tls_version = io.sock.version()
                sess.cipher = io.sock.cipher()[0]
                sess.sni = getattr(io.sock, "context_sni", None)
                helo = None
                tx = None
            elif verb == "MAIL":
                m = re.match(r"(?i)MAIL FROM:(.*)$", line)
                if not m:
                    io.send_line("501 5.5.4 Syntax: MAIL FROM:<address>")
                    continue
                if self.mail_reply and not self.mail_reply.startswith("2"):
                    io.send_line(self.mail_reply)
                    continue
                tx = Transaction(m.group(1).strip(), helo, sess.tls_version)
                with self._lock:
                    sess.transactions.append(tx)
                io.send_line(self.mail_reply or "250 2.1.0 Ok")
            elif verb == "RCPT":
                m = re.match(r"(?i)RCPT TO:(.*)$", line)
                if tx is None:
                    io.send_line("503 5.5.1 Error: need MAIL command")
                    continue
                if not m:
                    io.send_line("501 5.5.4 Syntax: RCPT TO:<address>")
                    continue
                tx.rcpts.append(m.group(1).strip())
                with self._lock:
                    self.rcpt_count += 1
                    n = self.rcpt_count
                    reply = self.rcpt_reply
                    if reply and self.rcpt_fail_times is not None and n > self.rcpt_fail_times:
                        reply = None
                    am = re.match(r"\s*<([^>]*)>", m.group(1))
                    addr = (am.group(1) if am else m.group(1)).lower()
                    for k, v in self.rcpt_replies.items():
                        if k.lower() == addr:
                            reply = v
                if reply:
                    io.send_line(reply)
                else:
                    tx.accepted.append(m.group(1).strip())
                    io.send_line("250 2.1.5 Ok")
            elif verb == "DATA":
                if tx is None or not tx.accepted:
                    io.send_line("554 5.5.1 Error: no valid recipients")
                    continue
                io.send_line("354 End data with <CR><LF>.<CR><LF>")
                tx.data_raw = io.read_data()
                tx.data = unstuff(tx.data_raw)
                with self._lock:
                    self._qn += 1
                    qn = self._qn
                io.send_line(self.data_reply or "250 2.0.0 Ok: queued as FAKE%d" % qn)
                tx = None
            elif verb == "BDAT" and self.chunking:
                if not self._bdat(io, line, tx):
                    return
                if re.search(r"(?i)\sLAST\s*$", line) and tx is not None and tx.accepted:
                    tx = None
            elif verb == "RSET":
                tx = None
                io.send_line("250 2.0.0 Ok")
            elif verb == "NOOP":
                io.send_line("250 2.0.0 Ok")
            elif verb == "QUIT":
                io.send_line("221 2.0.0 Bye")
                return
            else:
                io.send_line("500 5.5.2 Error: command not recognized")

    def _bdat(self, io, line, tx):
        """BDAT SIZE [LAST] (RFC 3030 2): reads SIZE bytes exactly, whatever
        the state, then replies. False: a malformed size, the session ends
        (the bytes that follow cannot be told from commands)."""
        m = re.match(r"(?i)BDAT ([0-9]{1,9})( LAST)?\s*$", line)
        if not m:
            io.send_line("501 5.5.4 Syntax: BDAT size [LAST]")
            return False
        chunk = io.read_exact(int(m.group(1)))
        last = bool(m.group(2))
        if tx is None or not tx.accepted:
            io.send_line("503 5.5.1 Error: no valid recipients")
            return True
        tx.bdat = True
        tx.bdat_chunks.append(chunk)
        if not last:
            io.send_line(self.bdat_reply or "250 2.0.0 %d octets received" % len(chunk))
            return True
        tx.data_raw = tx.data = b"".join(tx.bdat_chunks)
        with self._lock:
            self._qn += 1
            qn = self._qn
        io.send_line(self.data_reply or "250 2.0.0 Ok: queued as FAKE%d" % qn)
        return True

    # -- what was seen --
    def all_sessions(self):
        with self._lock:
            return list(self.sessions)

    def commands(self):
        with self._lock:
            return [c for s in self.sessions for c in s.commands]

    def verbs(self):
        return [c.verb for c in self.commands()]

    def saw(self, verb):
        return any(c.verb == verb.upper() for c in self.commands())

    def transactions(self, complete=True):
        """Transactions (with DATA received, when COMPLETE)."""
        with self._lock:
            txs = [t for s in self.sessions for t in s.transactions]
        return [t for t in txs if t.data is not None] if complete else txs

    def messages_with(self, needle):
        if isinstance(needle, str):
            needle = needle.encode()
        return [t for t in self.transactions() if needle in t.data]

    def wait_message(self, needle, n=1, timeout=harness.TIMEOUT, server=None):
        """Waits until N transactions whose message holds NEEDLE were received;
        returns them. SERVER (a harness.Server) adds its log to the failure."""
        try:
            return harness.wait_for(lambda: len(self.messages_with(needle)) >= n and
                                    self.messages_with(needle), timeout,
                                    what="%d message(s) with %r at %r" % (n, needle, self))
        except AssertionError:
            raise AssertionError("%r did not receive %d message(s) with %r; sessions:\n%s%s"
                                 % (self, n, needle, self.describe(),
                                    "\nsealmail log:\n" + server.log_tail(60) if server else ""))

    def wait_sessions(self, n=1, timeout=harness.TIMEOUT):
        return harness.wait_for(lambda: len(self.all_sessions()) >= n, timeout,
                                what="%d session(s) at %r" % (n, self))

    def describe(self):
        out = []
        for i, s in enumerate(self.all_sessions()):
            out.append("  session %d from %s tls=%s sni=%s tls_error=%s: %s" % (
                i, s.peer, s.tls_version, s.sni, s.tls_error,
                " | ".join(repr(c) for c in s.commands)))
        return "\n".join(out) or "  (no sessions)"


class _Closed(Exception):
    pass


class _Conn:
    """Buffered line/DATA reader over a plain or TLS socket."""

    def __init__(self, sock, sess):
        self.sock = sock
        self.sess = sess
        self.buf = b""

    def _fill(self):
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError):
            chunk = b""
        if not chunk:
            raise _Closed()
        self.sess.transcript.append(("C", chunk))
        self.buf += chunk

    def read_line(self):
        """(line bytes incl. its end, whether more input was already waiting)."""
        while b"\n" not in self.buf:
            if len(self.buf) > 100000:
                raise _Closed()
            self._fill()
        line, self.buf = self.buf.split(b"\n", 1)
        return line + b"\n", bool(self.buf)

    def read_data(self):
        """Bytes up to and including the end mark CRLF.CRLF (or .CRLF first)."""
        while True:
            if self.buf.startswith(b".\r\n"):
                raw, self.buf = self.buf[:3], self.buf[3:]
                return raw
            i = self.buf.find(b"\r\n.\r\n")
            if i >= 0:
                raw, self.buf = self.buf[:i + 5], self.buf[i + 5:]
                return raw
            self._fill()

    def read_exact(self, n):
        """Exactly N bytes (BDAT)."""
        while len(self.buf) < n:
            self._fill()
        raw, self.buf = self.buf[:n], self.buf[n:]
        return raw

    def take_buffer(self):
        b, self.buf = self.buf, b""
        return b

    def send(self, data):
        self.sess.transcript.append(("S", data))
        self.sock.sendall(data)

    def send_line(self, line):
        self.send(line.encode() + b"\r\n")

    def start_tls(self, ctx):
        # The handshake after the assignment: a failed one still shows the
        # SNI the client sent (Session.sni).
        self.sock = ctx.wrap_socket(self.sock, server_side=True, do_handshake_on_connect=False)
        self.sock.do_handshake()


def common_port(addrs, tries=50):
    """A TCP port that is free on every address of ADDRS (127.x.y.z)."""
    for _ in range(tries):
        socks = []
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind((addrs[0], 0))
            port = s.getsockname()[1]
            for addr in addrs[1:]:
                t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(t)
                t.bind((addr, port))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no port free on all of %r" % (addrs,))


# ---------------------------------------------------------------------------
# smtp-sink
# ---------------------------------------------------------------------------

class SmtpSink:
    """Postfix's smtp-sink on ADDR:PORT, dumping every message into a
    directory (one file per message). ARGS: more options (e.g. ["-p"])."""

    def __init__(self, addr, port=0, name="sink.test", args=(), start=True):
        need_peers()
        self.addr = addr
        self.port = port or common_port([addr])
        self.name = name
        self.args = list(args)
        self.dir = harness.new_tmpdir("sink-")
        self.dump_dir = os.path.join(self.dir, "dump")
        os.mkdir(self.dump_dir)
        os.chmod(self.dump_dir, 0o777)  # smtp-sink runs as nobody when we are root
        self.log_path = os.path.join(self.dir, "smtp-sink.log")
        self.proc = None
        if start:
            self.start()

    def argv(self):
        argv = [SMTP_SINK]
        if os.geteuid() == 0:
            argv += ["-u", "nobody"]  # smtp-sink refuses to run as root without -u
        argv += ["-h", self.name, "-d", os.path.join(self.dump_dir, "%Y%m%d%H%M%S.")]
        argv += self.args
        argv += ["%s:%d" % (self.addr, self.port), "64"]
        return argv

    def start(self):
        env = dict(os.environ)
        env["LD_LIBRARY_PATH"] = SMTP_SINK_LIBS + (
            ":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
        self._logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=self._logf,
                                     stderr=self._logf, env=env, start_new_session=True,
                                     cwd=self.dir)

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("smtp-sink exited (rc=%s): %s\n%s" % (
                    self.proc.returncode, " ".join(self.argv()), self.log()))
            try:
                # A probe connection: smtp-sink only counts it as a session.
                with socket.create_connection((self.addr, self.port), timeout=1) as s:
                    s.settimeout(2)
                    return s.recv(512).startswith(b"220")
            except OSError:
                return False
        harness.wait_for(up, what="smtp-sink on %s:%d" % (self.addr, self.port))

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def dumps(self):
        """Contents of the dump files (bytes), complete ones only: smtp-sink
        writes a file while the transaction runs; a message ends with the
        empty line it appends."""
        out = []
        for n in sorted(os.listdir(self.dump_dir)):
            p = os.path.join(self.dump_dir, n)
            if os.path.isfile(p):
                with open(p, "rb") as f:
                    out.append(f.read())
        return out

    def dumps_with(self, needle):
        if isinstance(needle, str):
            needle = needle.encode()
        return [d for d in self.dumps() if needle in d]

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=harness.TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self._logf.close()


# ---------------------------------------------------------------------------
# sealmail configured for outbound delivery
# ---------------------------------------------------------------------------

def outbound_config(resolver, port, tls="may", ca_file=None, relayhost=None, domains=(),
                    routes=(), retry="1s 1s 2s", max_lifetime="6s", delay_warning="0",
                    outbound_extra=(), queue_extra=(), trust_anchor=None, dns_extra=()):
    """INI text for [dns], [outbound], [outbound.domains], [routes], [queue].
    DOMAINS and ROUTES: sequences of (key, value) pairs, kept in order.
    TRUST_ANCHOR: `[dns] trust_anchor` (dnssec.TestDNS.trust_anchor);
    DNS_EXTRA: more [dns] (key, value) pairs."""
    out = ["[dns]", "resolver = %s" % resolver]
    if trust_anchor:
        out.append("trust_anchor = %s" % trust_anchor)
    out += ["%s = %s" % kv for kv in dns_extra]
    out += ["",
            "[outbound]",
            "tls = %s" % tls,
            "port = %d" % port,
            "ca_file = %s" % (ca_file or harness.ca().cert)]
    if relayhost:
        out.append("relayhost = %s" % relayhost)
    out += ["%s = %s" % kv for kv in outbound_extra]
    if domains:
        out += ["", "[outbound.domains]"] + ["%s = %s" % kv for kv in domains]
    if routes:
        out += ["", "[routes]"] + ["%s = %s" % kv for kv in routes]
    out += ["", "[queue]",
            "retry = %s" % retry,
            "max_lifetime = %s" % max_lifetime,
            "delay_warning = %s" % delay_warning]
    out += ["%s = %s" % kv for kv in queue_extra]
    return "\n".join(out) + "\n"


def outbound_server(resolver, port, trusted="127.0.0.0/8", users=USERS, server=None,
                    check_greeting=True, **kw):
    """A harness.Server (not started by the caller's class cleanup: use
    ServerTestCase.class_server-like registration yourself, or the returned
    object's close()) configured for outbound delivery. KW goes to
    outbound_config(); SERVER is a dict of more harness.Server arguments.
    With CHECK_GREETING, fails (showing the log) unless it greets."""
    opts = {}
    if trusted is not None:
        opts["trusted_networks"] = trusted
    args = dict(server or {})
    args.setdefault("users", users)
    srv = harness.Server(server_options=opts,
                         extra_config=outbound_config(resolver, port, **kw), **args)
    if check_greeting and args.get("start", True):
        try:
            wait_greeting(srv)
        except BaseException:
            srv.close()
            raise
    return srv


def wait_greeting(srv):
    """Fails, with the log, unless the server answers with its 220 greeting
    (the listening socket belongs to the parent: a dispatcher that cannot
    start shows only here)."""
    try:
        with srv.dialog() as d:
            if d.greeting.code != 220:
                raise AssertionError("greeting: %s" % d.greeting)
            d.quit()
    except (AssertionError, OSError) as e:
        raise AssertionError("sealmail does not greet (%s); config:\n%s\nlog:\n%s"
                             % (e, srv.config_text, srv.log_tail(30)))


class OutboundTestCase(harness.ServerTestCase):
    """Helpers for tests of outbound delivery."""

    fakes = ()

    @classmethod
    def start_unbound(cls, records, zones=()):
        u = Unbound(records, zones)
        cls.addClassCleanup(u.stop)
        return u

    @classmethod
    def start_test_dns(cls, zones, records=()):
        """A dnssec.TestDNS (signed/unsigned/bogus zones + plain RECORDS),
        stopped at class cleanup."""
        import dnssec  # it builds on this module
        d = dnssec.TestDNS(zones, records)
        cls.addClassCleanup(d.stop)
        return d

    @classmethod
    def fake(cls, addr, port, **kw):
        f = FakeMX(addr, port, **kw)
        cls.addClassCleanup(f.stop)
        return f

    @classmethod
    def start_peers(cls, net, peers):
        """A FakeMX mx.DOMAIN on NET + OCTET for each DOMAIN of PEERS
        {domain: (octet, FakeMX options)}, all on one common port, stopped at
        class cleanup. Each has a test-CA certificate for mx.DOMAIN; the
        option "names" gives its DNS names instead, "self_signed": True makes
        it self-signed. Sets cls.port and cls.mx {domain: FakeMX}; returns
        their MX and A records."""
        cls.port = common_port([net + str(n) for n, _ in peers.values()])
        records, cls.mx = [], {}
        for domain, (n, opts) in peers.items():
            host = "mx." + domain
            opts = dict(opts)
            names = opts.pop("names", [host])
            if opts.pop("self_signed", False):
                cert = self_signed_cert(names)
            else:
                cert = harness.issue_cert(names)
            records += mx(domain, (10, host)) + a(host, net + str(n))
            cls.mx[domain] = cls.fake(net + str(n), cls.port, name=host, cert=cert, **opts)
        return records

    @classmethod
    def outbound_class_server(cls, resolver, port, **kw):
        s = outbound_server(resolver, port, **kw)
        cls.addClassCleanup(s.close)
        return s

    def check_fakes_healthy(self, *fakes):
        for f in fakes:
            self.assertEqual(f.errors, [], "fake server %r broke: %r" % (f, f.errors))


def submit(srv, sender, rcpts, message, mail_params="", rcpt_params=None, raw_data=None,
           starttls=False, expect=250):
    """Sends MESSAGE (bytes, CRLF) from SENDER to RCPTS into sealmail over
    plain SMTP from 127.0.0.1 and returns the queue id from the final reply
    ("250 2.0.0 Ok: queued as ID"). MAIL_PARAMS is appended to MAIL FROM,
    RCPT_PARAMS (a dict rcpt -> params, or a string for all) to RCPT TO.
    RAW_DATA, when given, is sent after the 354 as it is (it must end with
    the CRLF.CRLF end mark) instead of the dot-stuffed MESSAGE."""
    try:
        d = srv.dialog()
    except (AssertionError, OSError) as e:
        raise AssertionError("cannot submit to sealmail (%s); log:\n%s" % (e, srv.log_tail(30)))
    with d:
        d.ehlo()
        if starttls:
            d.starttls()
            d.ehlo()
        d.expect(("MAIL FROM:<%s> %s" % (sender, mail_params)).rstrip(), 250)
        for r in rcpts:
            p = rcpt_params.get(r, "") if isinstance(rcpt_params, dict) else (rcpt_params or "")
            d.expect(("RCPT TO:<%s> %s" % (r, p)).rstrip(), 250)
        d.expect("DATA", 354)
        d.send(raw_data if raw_data is not None else harness.dot_stuff(message) + b".\r\n")
        r = d.read_reply()
        if r.code != expect:
            raise AssertionError("end of DATA: expected %d, got %s\n%s"
                                 % (expect, r, d.format_transcript()))
        try:
            d.quit()
        except (AssertionError, OSError):
            pass
    m = re.search(r"queued as (\S+)", r.text)
    if expect == 250 and not m:
        raise AssertionError("no queue id in the reply to DATA: %s" % r)
    return m.group(1) if m else None


def queue_list(srv):
    """`sealmail queue list` -> {qid: block text} (first line + indented lines)."""
    out = srv.ctl_ok("queue", "list")
    blocks = {}
    cur = None
    for line in out.splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            qid = line.split()[0]
            cur = qid
            blocks[qid] = line + "\n"
        elif cur is not None:
            blocks[cur] += line + "\n"
    return blocks


def wait_queue_gone(srv, qid, timeout=SLOW):
    """Waits until QID is no longer listed by `queue list` and no spool
    file is named after it."""
    def gone():
        if qid in queue_list(srv):
            return False
        return not [p for p in srv.queue_files() if qid in os.path.basename(p)]
    try:
        harness.wait_for(gone, timeout, interval=0.1, what="%s to leave the queue" % qid)
    except AssertionError:
        raise AssertionError("%s still queued: %r\nlog:\n%s"
                             % (qid, queue_list(srv).get(qid), srv.log_tail(60)))


# ---------------------------------------------------------------------------
# DSN
# ---------------------------------------------------------------------------

class DSN:
    """A parsed delivery status notification (bytes as found in a Maildir)."""

    def __init__(self, raw):
        self.raw = raw
        self.text = raw.decode("utf-8", errors="replace")
        self.msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        self.per_message = {}
        self.per_recipient = []
        self.human = ""
        self.original = ""
        for part in self.msg.walk():
            ct = part.get_content_type()
            if ct == "message/delivery-status":
                self._parse_status(part)
            elif ct == "text/plain" and not self.human:
                payload = part.get_payload(decode=True)
                self.human = payload.decode("utf-8", "replace") if payload else ""
            elif ct in ("text/rfc822-headers", "message/rfc822"):
                p = part.get_payload(decode=False)
                self.original = p if isinstance(p, str) else "".join(
                    x.as_string() for x in p) if isinstance(p, list) else str(p)

    def _parse_status(self, part):
        # The payload is a list of header blocks (per-message, then one per
        # recipient) for the email package, or a string.
        payload = part.get_payload()
        blocks = []
        if isinstance(payload, list):
            for sub in payload:
                blocks.append({k.lower(): v for k, v in sub.items()})
        else:
            for chunk in re.split(r"\r?\n\s*\r?\n", payload.strip()):
                b = {}
                for m in re.finditer(r"(?m)^([\w-]+):\s*(.*(?:\n[ \t].*)*)", chunk):
                    b[m.group(1).lower()] = re.sub(r"\s*\n\s*", " ", m.group(2)).strip()
                if b:
                    blocks.append(b)
        if blocks:
            self.per_message = blocks[0]
            self.per_recipient = blocks[1:]

    def content_type(self):
        return self.msg.get_content_type()

    def report_type(self):
        return (self.msg.get_param("report-type") or "").lower()

    def recipient(self, address):
        """The per-recipient block whose Final-Recipient names ADDRESS."""
        for b in self.per_recipient:
            if address.lower() in b.get("final-recipient", "").lower():
                return b
        return None

    def __repr__(self):
        return self.text[:3000]


def dsn_files(srv, sender):
    return srv.messages(sender)


def find_dsns(srv, sender, needle=None):
    """DSNs in SENDER's Maildir (new/) holding NEEDLE (str)."""
    out = []
    for raw in srv.messages(sender):
        if b"multipart/report" not in raw.lower().replace(b"\n ", b" "):
            continue
        if needle is not None and needle.encode() not in raw:
            continue
        out.append(DSN(raw))
    return out


def wait_dsn(srv, sender, needle, timeout=SLOW, n=1):
    """Waits for N DSN(s) holding NEEDLE in SENDER's Maildir; returns them."""
    try:
        return harness.wait_for(lambda: len(find_dsns(srv, sender, needle)) >= n and
                                find_dsns(srv, sender, needle), timeout, interval=0.05,
                                what="DSN with %r for %s" % (needle, sender))
    except AssertionError:
        raise AssertionError("no DSN holding %r in %s's Maildir (%d file(s) there); log:\n%s"
                             % (needle, sender, len(srv.messages(sender)),
                                srv.log_tail(80)))


def assert_failure_dsn(tc, dsn, rcpt, *phrases):
    """Checks a failure DSN: RFC 3464 structure, the recipient, Action:
    failed (its Status: may be 4.x.x when the lifetime ran out), and every
    phrase (case-insensitive) somewhere in its text."""
    tc.assertEqual(dsn.content_type(), "multipart/report", dsn)
    tc.assertEqual(dsn.report_type(), "delivery-status", dsn)
    tc.assertIn(rcpt.lower(), dsn.text.lower(), "DSN does not name %s:\n%r" % (rcpt, dsn))
    block = dsn.recipient(rcpt)
    tc.assertIsNotNone(block, "no per-recipient block with Final-Recipient %s:\n%r"
                       % (rcpt, dsn))
    tc.assertEqual(block.get("action"), "failed", "%r\n%r" % (block, dsn))
    low = dsn.text.lower()
    for p in phrases:
        tc.assertIn(p.lower(), low, "DSN does not mention %r:\n%r" % (p, dsn))


# ---------------------------------------------------------------------------
# log helpers
# ---------------------------------------------------------------------------

def events_for(srv, name, qid, since=0):
    return [e for e in srv.events(name, since) if e.get("id") == qid]


def wait_delivered(srv, qid, rcpt=None, timeout=harness.TIMEOUT):
    kw = {"id": qid}
    if rcpt:
        kw["to"] = rcpt
    return srv.wait_event("delivered", timeout=timeout, **kw)[0]


def wait_deferred(srv, qid, rcpt=None, timeout=harness.TIMEOUT):
    kw = {"id": qid}
    if rcpt:
        kw["to"] = rcpt
    return srv.wait_event("deferred", timeout=timeout, **kw)[0]


def wait_bounced(srv, qid, rcpt=None, timeout=SLOW):
    kw = {"id": qid}
    if rcpt:
        kw["to"] = rcpt
    return srv.wait_event("bounced", timeout=timeout, **kw)[0]


def relay_of(event):
    """relay=HOST[IP]:PORT -> (host, ip, port)."""
    m = re.match(r"^(.*?)\[([^\]]+)\]:(\d+)$", event.get("relay", ""))
    if not m:
        raise AssertionError("relay= not HOST[IP]:PORT in %s" % event.get("_line"))
    return m.group(1), m.group(2), int(m.group(3))


def bare_line_ends(data):
    """Offsets of a CR not followed by LF, or an LF not preceded by CR."""
    bad = []
    for i, c in enumerate(data):
        if c == 0x0D and (i + 1 >= len(data) or data[i + 1] != 0x0A):
            bad.append(("CR", i))
        elif c == 0x0A and (i == 0 or data[i - 1] != 0x0D):
            bad.append(("LF", i))
    return bad


def to_crlf(b):
    """Every line end (CRLF, bare CR, bare LF) as CRLF."""
    return re.sub(rb"\r\n|\r|\n", b"\r\n", b)


def now():
    return time.monotonic()
