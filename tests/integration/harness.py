"""Shared harness for sealmail integration tests.

Standard library only (plus the `openssl` and `swaks` command-line tools).

  * A throw-away test CA, made with the openssl CLI once per test process in a
    temporary directory, and `issue_cert()` to sign server certificates.
  * `Server`: writes a config and users file into a fresh temp dir, runs
    `sealmail serve -c CONF -f` in its own session/process group, captures
    stderr to a log file, and offers stop/kill/reload/restart plus Maildir,
    queue and log helpers.
  * `Dialog`: raw SMTP over a socket (bytes in, parsed replies out), with
    STARTTLS and implicit TLS.
  * smtplib helpers that verify the server certificate against the test CA.

Every wait in here polls with a deadline; nothing asserts on durations.
"""

import atexit
import base64
import errno
import fcntl
import os
import random
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
# Absolute: the server runs in its own directory.
SEALMAIL_BIN = os.path.abspath(os.environ.get("SEALMAIL_BIN") or os.path.normpath(
    os.path.join(HERE, "..", "..", "build", "sealmail")))

HOSTNAME = "mx.local.test"        # [server] hostname and the default cert's name
OTHER_TLS_NAME = "mail.other.test"  # the [tls mail.other.test] certificate
LOCAL_DOMAINS = ("local.test", "other.test")
DEFAULT_USERS = ("bob@local.test", "carol@local.test", "dave@local.test",
                 "erin@other.test")
SENDER = "alice@sender.test"

TIMEOUT = 10.0  # seconds for any single wait/poll; never asserted on

_tmp_root = None
_tmp_lock = threading.Lock()


def tmp_root():
    """A per-process temporary directory, removed at exit."""
    global _tmp_root
    with _tmp_lock:
        if _tmp_root is None:
            _tmp_root = tempfile.mkdtemp(prefix="sealmail-it-")
            # Traversable, in case the server drops privileges when run as root.
            os.chmod(_tmp_root, 0o755)
            if os.environ.get("SEALMAIL_KEEP_TMP"):
                sys.stderr.write("harness: keeping %s\n" % _tmp_root)
            else:
                atexit.register(shutil.rmtree, _tmp_root, True)
        return _tmp_root


def new_tmpdir(prefix):
    d = tempfile.mkdtemp(prefix=prefix, dir=tmp_root())
    os.chmod(d, 0o755)
    return d


def token():
    return uuid.uuid4().hex[:16]


def run(argv, check=True, input=None, timeout=60):
    p = subprocess.run(argv, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError("%s failed (rc=%d):\n%s%s" % (
            " ".join(argv), p.returncode, p.stdout.decode(errors="replace"),
            p.stderr.decode(errors="replace")))
    return p


def wait_for(predicate, timeout=TIMEOUT, interval=0.01, what="condition"):
    """Polls PREDICATE until it returns a true value, which is returned.
    Raises AssertionError after TIMEOUT seconds."""
    deadline = time.monotonic() + timeout
    delay = interval
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out waiting for %s" % what)
        time.sleep(delay)
        delay = min(delay * 1.5, 0.1)


# ---------------------------------------------------------------------------
# Test CA
# ---------------------------------------------------------------------------

class Cert:
    def __init__(self, cert, key, serial, cn, names):
        self.cert = cert      # path: leaf PEM (optionally followed by the CA)
        self.key = key        # path
        self.serial = serial  # int
        self.cn = cn
        self.names = names

    def __repr__(self):
        return "Cert(cn=%r serial=%x)" % (self.cn, self.serial)


class TestCA:
    """A CA made with the openssl CLI. Keys live only in a temp dir."""

    _serial_lock = threading.Lock()

    def __init__(self):
        self.dir = new_tmpdir("ca-")
        self.key = os.path.join(self.dir, "ca.key")
        self.cert = os.path.join(self.dir, "ca.pem")
        self._serial = int.from_bytes(os.urandom(4), "big") << 16
        run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-out", self.key])
        run(["openssl", "req", "-x509", "-new", "-key", self.key, "-sha256",
             "-subj", "/O=sealmail tests/CN=sealmail test CA %s" % token(), "-days", "3",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             "-out", self.cert])

    def next_serial(self):
        with self._serial_lock:
            self._serial += 1
            return self._serial

    def issue(self, names, ips=(), cn=None, expired=False, include_ca=False, directory=None):
        """Issues a server certificate for DNS NAMES (and IP addresses IPS) in
        subjectAltName. EXPIRED makes notAfter lie in the past. INCLUDE_CA
        appends the CA certificate to the PEM (a chain file)."""
        names = list(names)
        cn = cn or (names[0] if names else "sealmail test server")
        directory = directory or new_tmpdir("cert-")
        serial = self.next_serial()
        base = os.path.join(directory, "%s-%x" % (re.sub(r"[^A-Za-z0-9.-]", "_", cn), serial))
        key, csr, ext, pem = base + ".key", base + ".csr", base + ".ext", base + ".pem"
        run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-out", key])
        run(["openssl", "req", "-new", "-key", key, "-subj",
             "/O=sealmail tests/CN=%s" % cn, "-out", csr])
        san = ["DNS:%s" % n for n in names] + ["IP:%s" % ip for ip in ips]
        with open(ext, "w") as f:
            f.write("basicConstraints=critical,CA:FALSE\n")
            f.write("keyUsage=critical,digitalSignature,keyEncipherment\n")
            f.write("extendedKeyUsage=serverAuth\n")
            if san:
                f.write("subjectAltName=%s\n" % ",".join(san))
        run(["openssl", "x509", "-req", "-in", csr, "-CA", self.cert, "-CAkey", self.key,
             "-set_serial", str(serial), "-sha256", "-days", "-1" if expired else "2",
             "-extfile", ext, "-out", pem])
        if include_ca:
            with open(self.cert) as f:
                ca_pem = f.read()
            with open(pem, "a") as f:
                f.write(ca_pem)
        os.chmod(key, 0o644)  # readable should the server drop privileges (test key only)
        os.unlink(csr)
        return Cert(pem, key, serial, cn, names)

    def issue_client(self, email=None, cn=None, directory=None, expired=False):
        """Issues a client certificate (extendedKeyUsage clientAuth) with
        EMAIL as subjectAltName email (rfc822Name) when given, and CN as the
        subject's common name (default: EMAIL)."""
        cn = cn or email or "sealmail test client"
        directory = directory or new_tmpdir("client-")
        serial = self.next_serial()
        base = os.path.join(directory, "client-%s-%x" % (re.sub(r"[^A-Za-z0-9.@-]", "_", cn),
                                                         serial))
        key, csr, ext, pem = base + ".key", base + ".csr", base + ".ext", base + ".pem"
        run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-out", key])
        run(["openssl", "req", "-new", "-key", key, "-subj",
             "/O=sealmail tests/CN=%s" % cn, "-out", csr])
        with open(ext, "w") as f:
            f.write("basicConstraints=critical,CA:FALSE\n")
            f.write("keyUsage=critical,digitalSignature\n")
            f.write("extendedKeyUsage=clientAuth\n")
            if email:
                f.write("subjectAltName=email:%s\n" % email)
        run(["openssl", "x509", "-req", "-in", csr, "-CA", self.cert, "-CAkey", self.key,
             "-set_serial", str(serial), "-sha256", "-days", "-1" if expired else "2",
             "-extfile", ext, "-out", pem])
        os.chmod(key, 0o644)
        os.unlink(csr)
        return Cert(pem, key, serial, cn, [email] if email else [])


_ca = None
_ca_lock = threading.Lock()
_cert_cache = {}


def ca():
    global _ca
    with _ca_lock:
        if _ca is None:
            _ca = TestCA()
        return _ca


def issue_cert(names, ips=(), cn=None, expired=False, include_ca=False):
    return ca().issue(names, ips=ips, cn=cn, expired=expired, include_ca=include_ca)


def default_cert():
    """Cached certificate for HOSTNAME (+127.0.0.1), chain file with the CA."""
    if "default" not in _cert_cache:
        _cert_cache["default"] = issue_cert([HOSTNAME], ips=["127.0.0.1"], include_ca=True)
    return _cert_cache["default"]


def other_cert():
    """Cached certificate for OTHER_TLS_NAME."""
    if "other" not in _cert_cache:
        _cert_cache["other"] = issue_cert([OTHER_TLS_NAME])
    return _cert_cache["other"]


def client_context(verify=True, minimum=None, maximum=None, ciphers=None, cafile=None):
    """A client SSLContext trusting only the test CA (when VERIFY)."""
    if verify:
        ctx = ssl.create_default_context(cafile=cafile or ca().cert)
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if ciphers:
        ctx.set_ciphers(ciphers)
    if minimum is not None:
        ctx.minimum_version = minimum
    if maximum is not None:
        ctx.maximum_version = maximum
    return ctx


def peer_cert_info(sslsock):
    """(serial int, subject CN, [SAN DNS names]) of the peer's leaf certificate.
    Works for verified and unverified sockets (parses the DER with openssl)."""
    der = sslsock.getpeercert(binary_form=True)
    if der is None:
        raise AssertionError("no peer certificate")
    return cert_info_der(der)


def cert_info_der(der):
    p = run(["openssl", "x509", "-inform", "DER", "-noout", "-serial", "-subject",
             "-ext", "subjectAltName", "-nameopt", "multiline"], input=der)
    out = p.stdout.decode()
    serial = int(re.search(r"serial=([0-9A-Fa-f]+)", out).group(1), 16)
    m = re.search(r"commonName\s*=\s*(.+)", out)
    cn = m.group(1).strip() if m else None
    sans = re.findall(r"DNS:([^,\s]+)", out)
    return serial, cn, sans


# ---------------------------------------------------------------------------
# Network helpers
# ---------------------------------------------------------------------------

_PORTS_GIVEN = set()
_PORT_LOCKS = []  # open lock files: a port is ours while this process lives


@atexit.register
def _release_ports():
    while _PORT_LOCKS:
        _PORT_LOCKS.pop().close()


def _port_range():
    """Ports outside the kernel's ephemeral range: no connect() and no
    bind() to port 0, of this test or of one running beside it, takes one
    of them while its server is stopped or not yet bound."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        lo, hi = 32768, 60999
    if lo - 10000 >= 2000:
        return 10000, lo
    if 65536 - (hi + 1) >= 2000:
        return hi + 1, 65536
    return None  # no room outside it: ports from bind(0), locked all the same


def _port_lock_dir():
    d = os.path.join(tempfile.gettempdir(), "sealmail-it-ports")
    try:
        os.mkdir(d)
        os.chmod(d, 0o1777)  # tests run by several users share it, like /tmp
    except FileExistsError:
        pass
    return d


def free_port():
    """A loopback port nobody listens on, never the same twice in this
    process, nor given to another test process while this one runs: each
    port is claimed with a lock (flock) on a file named after it, which the
    kernel lets go when the process ends, however it ends."""
    span = _port_range()
    d = _port_lock_dir()
    rng = random.Random()
    while True:
        if span:
            port = rng.randrange(*span)
        else:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        if port in _PORTS_GIVEN:
            continue
        try:
            lock = open(os.path.join(d, str(port)), "a")
        except OSError:
            continue  # another user's lock file
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", port))
        except OSError:
            lock.close()  # taken by another test process, or in use
            continue
        _PORT_LOCKS.append(lock)
        _PORTS_GIVEN.add(port)
        return port


def _proc_net_tcp_queues():
    """{(local_port, remote_port): (tx_queue, rx_queue)} for IPv4 loopback sockets."""
    res = {}
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 5:
                continue
            lport = int(fields[1].rsplit(":", 1)[1], 16)
            rport = int(fields[2].rsplit(":", 1)[1], 16)
            tx, rx = (int(x, 16) for x in fields[4].split(":"))
            res[(lport, rport)] = (tx, rx)
    return res


def wait_peer_consumed(sock, timeout=TIMEOUT):
    """Waits until everything written on SOCK (a loopback TCP socket) has been
    read by the peer process: our send queue is empty and the peer socket's
    receive queue is empty (Linux /proc/net/tcp)."""
    raw = sock
    lport = raw.getsockname()[1]
    rport = raw.getpeername()[1]

    def drained():
        q = _proc_net_tcp_queues()
        ours = q.get((lport, rport))
        theirs = q.get((rport, lport))
        if ours is None or theirs is None:
            return False
        return ours[0] == 0 and theirs[1] == 0

    wait_for(drained, timeout, what="the server to read all bytes sent on port %d" % rport)


# ---------------------------------------------------------------------------
# Raw SMTP dialog
# ---------------------------------------------------------------------------

class Reply:
    def __init__(self, code, lines):
        self.code = code
        self.lines = lines  # text after "NNN-" / "NNN " of each line

    @property
    def text(self):
        return "\n".join(self.lines)

    @property
    def enhanced(self):
        m = re.match(r"([245]\.\d{1,3}\.\d{1,3})\b", self.lines[-1] if self.lines else "")
        return m.group(1) if m else None

    @property
    def keywords(self):
        """EHLO keywords (upper-cased first word of lines after the first)."""
        return [ln.split()[0].upper() for ln in self.lines[1:] if ln.split()]

    def __repr__(self):
        return "Reply(%d, %r)" % (self.code, self.lines)

    def __str__(self):
        return "\n".join("%d%s%s" % (self.code, "-" if i < len(self.lines) - 1 else " ", ln)
                         for i, ln in enumerate(self.lines))


class ConnectionClosed(AssertionError):
    pass


class Dialog:
    """A raw SMTP client: send bytes, read and parse replies. Reading is
    unbuffered beyond what was received, so STARTTLS can check that the server
    sent nothing after its 220."""

    def __init__(self, port, host="127.0.0.1", timeout=TIMEOUT, implicit_tls=False,
                 context=None, server_hostname=HOSTNAME, greeting=True, source=None,
                 session=None):
        # SOURCE: the local address to connect from (e.g. "127.0.0.2"), so
        # that one test can be several clients to the server. SESSION: a TLS
        # session (ssl.SSLSession) to offer for resumption (implicit TLS).
        self.port = port
        self.timeout = timeout
        self.sock = socket.create_connection(
            (host, port), timeout=timeout, source_address=(source, 0) if source else None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.raw = self.sock
        self.buf = b""
        self.transcript = []
        if implicit_tls:
            self.sock = (context or client_context()).wrap_socket(
                self.sock, server_hostname=server_hostname, session=session)
        self.greeting = self.read_reply() if greeting else None

    # -- bytes --
    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.transcript.append(("C", data))
        self.sock.sendall(data)

    def _fill(self):
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError):
            chunk = b""
        if not chunk:
            raise ConnectionClosed("server closed the connection; transcript:\n" +
                                   self.format_transcript())
        self.buf += chunk

    def read_line(self):
        while b"\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\n", 1)
        if not line.endswith(b"\r"):
            raise AssertionError("server reply line not terminated by CRLF: %r" % line)
        line = line[:-1]
        self.transcript.append(("S", line))
        return line.decode("utf-8", errors="replace")

    def read_reply(self):
        lines = []
        code = None
        while True:
            line = self.read_line()
            m = re.match(r"^(\d{3})([ -]|$)(.*)$", line)
            if not m:
                raise AssertionError("malformed reply line %r; transcript:\n%s"
                                     % (line, self.format_transcript()))
            c = int(m.group(1))
            if code is not None and c != code:
                raise AssertionError("reply code changed inside multi-line reply: %r" % line)
            code = c
            lines.append(m.group(3))
            if m.group(2) != "-":
                return Reply(code, lines)

    def read_replies(self, n):
        return [self.read_reply() for _ in range(n)]

    def replies_until_close(self):
        """Reads replies until the server closes the connection."""
        out = []
        while True:
            try:
                out.append(self.read_reply())
            except ConnectionClosed:
                if self.buf:
                    raise AssertionError("partial reply before close: %r" % self.buf)
                return out
            except socket.timeout:
                raise AssertionError("server did not close the connection; replies so far: %r"
                                     % out)

    def expect_closed(self):
        """Asserts that the server closes the connection without sending more."""
        try:
            while True:
                try:
                    chunk = self.sock.recv(65536)
                except (ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError):
                    chunk = b""
                if not chunk:
                    break
                self.buf += chunk
        except socket.timeout:
            raise AssertionError("server did not close the connection")
        if self.buf:
            raise AssertionError("unexpected data before close: %r" % self.buf)

    # -- commands --
    def cmd(self, line):
        self.send(line.encode() + b"\r\n" if isinstance(line, str) else line + b"\r\n")
        return self.read_reply()

    def expect(self, line, code, enhanced=None):
        r = self.cmd(line)
        if r.code != code or (enhanced is not None and r.enhanced != enhanced):
            raise AssertionError("%r: expected %s%s, got %s\ntranscript:\n%s" % (
                line, code, " " + enhanced if enhanced else "", r, self.format_transcript()))
        return r

    def ehlo(self, name="client.test"):
        return self.expect("EHLO " + name, 250)

    def starttls(self, context=None, server_hostname=HOSTNAME):
        r = self.cmd("STARTTLS")
        if r.code != 220:
            raise AssertionError("STARTTLS: expected 220, got %s" % r)
        if self.buf:
            raise AssertionError("server sent plaintext after its STARTTLS 220: %r" % self.buf)
        self.sock = (context or client_context()).wrap_socket(
            self.sock, server_hostname=server_hostname)
        return r

    def mail_transaction(self, sender, recipients, message, expect_code=250):
        """MAIL/RCPT/DATA one step at a time; MESSAGE is bytes with CRLF line
        endings, dot-stuffed here. Returns the final reply."""
        self.expect("MAIL FROM:<%s>" % sender, 250)
        for r in recipients:
            self.expect("RCPT TO:<%s>" % r, 250)
        self.expect("DATA", 354)
        self.send(dot_stuff(message) + b".\r\n")
        r = self.read_reply()
        if expect_code is not None and r.code != expect_code:
            raise AssertionError("end of DATA: expected %d, got %s" % (expect_code, r))
        return r

    def auth_plain(self, user, password, initial=True, authzid=""):
        """AUTH PLAIN (RFC 4616) with the credentials as initial response
        (INITIAL) or after a 334 challenge. Returns the final reply (or the
        first reply that is not 334)."""
        cred = b64("%s\0%s\0%s" % (authzid, user, password))
        if initial:
            return self.cmd("AUTH PLAIN " + cred)
        r = self.cmd("AUTH PLAIN")
        if r.code != 334:
            return r
        return self.cmd(cred)

    def auth_login(self, user, password, initial=False):
        """AUTH LOGIN: the user name as initial response (INITIAL) or after
        the first 334, then the password after the next 334. Returns the
        final reply (or the first reply that is not 334)."""
        if initial:
            r = self.cmd("AUTH LOGIN " + b64(user))
        else:
            r = self.cmd("AUTH LOGIN")
            if r.code != 334:
                return r
            r = self.cmd(b64(user))
        if r.code != 334:
            return r
        return self.cmd(b64(password))

    def auth(self, user, password, mechanism="PLAIN", initial=True):
        if mechanism.upper() == "PLAIN":
            return self.auth_plain(user, password, initial=initial)
        return self.auth_login(user, password, initial=initial)

    def quit(self):
        try:
            r = self.cmd("QUIT")
        finally:
            self.close()
        return r

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def format_transcript(self):
        out = []
        for who, data in self.transcript[-40:]:
            s = data if isinstance(data, bytes) else data
            if len(s) > 300:
                s = s[:300] + b"...(%d bytes)" % len(s)
            out.append("%s: %r" % (who, s))
        return "\n".join(out)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def dot_stuff(message):
    """MESSAGE (bytes, CRLF lines, ending in CRLF) with leading dots doubled."""
    if not message.endswith(b"\r\n"):
        message += b"\r\n"
    out = re.sub(rb"(^|\r\n)\.", rb"\1..", message)
    return out


def make_message(tok, subject=None, body=None, sender=SENDER, to="bob@local.test",
                 extra_headers=()):
    """An RFC 5322 message as bytes with CRLF line endings."""
    subject = subject or ("test " + tok)
    lines = [b"From: <%s>" % sender.encode(), b"To: <%s>" % to.encode(),
             b"Subject: " + subject.encode(), b"Message-ID: <%s@client.test>" % tok.encode(),
             b"X-Test-Token: " + tok.encode()]
    lines += [h.encode() if isinstance(h, str) else h for h in extra_headers]
    if body is None:
        body = b"Hello from the sealmail integration tests.\r\ntoken " + tok.encode() + b"\r\n"
    elif isinstance(body, str):
        body = body.encode()
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def crlf_to_lf(b):
    return b.replace(b"\r\n", b"\n")


def b64(text):
    """Base64 of TEXT (str, UTF-8) as str, for AUTH."""
    if isinstance(text, str):
        text = text.encode()
    return base64.b64encode(text).decode()


def header_fields(data):
    """The header fields of a message (bytes, LF or CRLF line ends, possibly
    starting with the Return-Path/Delivered-To lines of a Maildir file):
    [(name, unfolded value str)], in order, up to the first empty line."""
    text = data.replace(b"\r\n", b"\n").decode("utf-8", errors="replace")
    head = text.split("\n\n", 1)[0]
    fields = []
    for line in head.split("\n"):
        if line[:1] in (" ", "\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, value + " " + line.strip())
        elif ":" in line:
            name, value = line.split(":", 1)
            fields.append((name.strip(), value.strip()))
    return fields


def header_values(data, name):
    """Every value of header NAME (case-insensitive), unfolded, in order."""
    return [v for n, v in header_fields(data) if n.lower() == name.lower()]


def first_received(data):
    """The first (topmost) Received: header of DATA, unfolded."""
    rec = header_values(data, "Received")
    if not rec:
        raise AssertionError("no Received: header in %r" % data[:500])
    return rec[0]


_hash_cache = {}
_hash_lock = threading.Lock()


def yescrypt_hash(password):
    """A yescrypt hash ("$y$...") of PASSWORD, made with libxcrypt's
    crypt_gensalt(3) and crypt(3) through ctypes (the Python crypt module is
    deprecated). Cached per password."""
    with _hash_lock:
        if password in _hash_cache:
            return _hash_cache[password]
        import ctypes
        import ctypes.util
        lib = ctypes.CDLL(ctypes.util.find_library("crypt") or "libcrypt.so.1")
        lib.crypt_gensalt.restype = ctypes.c_char_p
        lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p,
                                      ctypes.c_int]
        lib.crypt.restype = ctypes.c_char_p
        lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
        setting = lib.crypt_gensalt(b"$y$", 0, None, 0)
        if not setting:
            raise AssertionError("crypt_gensalt($y$) failed")
        h = lib.crypt(password.encode(), setting)
        if not h or not h.startswith(b"$y$"):
            raise AssertionError("crypt() did not make a yescrypt hash: %r" % h)
        _hash_cache[password] = h.decode()
        return _hash_cache[password]


def split_delivered(data):
    """Splits a delivered Maildir file into (return_path, delivered_to,
    received (unfolded), rest). Asserts the header order of the spec:
    Return-Path, Delivered-To, Received-TLS (one line, see received_tls()),
    Received (maybe folded), then the message."""
    lines = data.split(b"\n")
    if not lines[0].startswith(b"Return-Path: "):
        raise AssertionError("delivered file does not start with Return-Path: %r" % data[:200])
    rp = lines[0][len(b"Return-Path: "):].decode(errors="replace")
    if len(lines) < 4 or not lines[1].startswith(b"Delivered-To: "):
        raise AssertionError("second line is not Delivered-To: %r" % data[:300])
    dt = lines[1][len(b"Delivered-To: "):].decode(errors="replace")
    if not lines[2].startswith(b"Received-TLS: "):
        raise AssertionError("third line is not Received-TLS: %r" % data[:400])
    if not lines[3].startswith(b"Received: "):
        raise AssertionError("fourth line is not Received: %r" % data[:500])
    rec = [lines[3]]
    i = 4
    while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
        rec.append(lines[i])
        i += 1
    received = b" ".join(x.strip() for x in rec).decode(errors="replace")
    rest = b"\n".join(lines[i:])
    return rp, dt, received, rest


def received_tls(data):
    """The Received-TLS: line sealmail puts third in a delivered Maildir file,
    as (first word, {key: value}): ("TLSv1.3/TLS_AES_256_GCM_SHA384",
    {"client": ..., "helo": ..., "listener": ..., "auth": ..., "peer": ...,
    "trusted": ...}) or ("none", ...), the keys in the line's order.
    Asserts it is there, once, unfolded, and made of key=value words."""
    lines = data.split(b"\n")
    if len(lines) < 4 or not lines[2].startswith(b"Received-TLS: "):
        raise AssertionError("third line is not Received-TLS: %r" % data[:400])
    if lines[3][:1] in (b" ", b"\t"):
        raise AssertionError("Received-TLS: is folded: %r" % data[:400])
    head = data.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    if head.count(b"\nReceived-TLS: ") != 1:
        raise AssertionError("more than one Received-TLS: %r" % head)
    words = lines[2][len(b"Received-TLS: "):].decode().rstrip("\r").split(" ")
    fields = {}
    for w in words[1:]:
        if "=" not in w:
            raise AssertionError("Received-TLS word without '=': %r" % w)
        k, v = w.split("=", 1)
        if k in fields:
            raise AssertionError("Received-TLS key twice: %r" % k)
        fields[k] = v
    return words[0], fields


# ---------------------------------------------------------------------------
# smtplib helpers
# ---------------------------------------------------------------------------

class SMTP(smtplib.SMTP):
    """smtplib.SMTP that verifies STARTTLS against TLS_NAME instead of the
    address it connected to."""

    def __init__(self, port, tls_name=HOSTNAME, host="127.0.0.1", timeout=TIMEOUT):
        self._tls_name = tls_name
        super().__init__(timeout=timeout)
        self.connect(host, port)

    def connect(self, host="localhost", port=0, source_address=None):
        r = super().connect(host, port, source_address)
        self._host = self._tls_name  # used as server_hostname by starttls()
        return r


class SMTP_SSL(smtplib.SMTP_SSL):
    """smtplib.SMTP_SSL (implicit TLS) with SNI / hostname check on TLS_NAME."""

    def __init__(self, port, tls_name=HOSTNAME, context=None, host="127.0.0.1",
                 timeout=TIMEOUT):
        self._tls_name = tls_name
        super().__init__(context=context or client_context(), timeout=timeout)
        self.connect(host, port)

    def _get_socket(self, host, port, timeout):
        sock = socket.create_connection((host, port), timeout)
        return self.context.wrap_socket(sock, server_hostname=self._tls_name)


def smtp_starttls(port, tls_name=HOSTNAME, context=None):
    """Connected, EHLO'd, STARTTLS'd (verified against the test CA), EHLO'd."""
    s = SMTP(port, tls_name=tls_name)
    code, msg = s.ehlo("client.test")
    if code != 250:
        raise AssertionError("EHLO: %d %r" % (code, msg))
    code, msg = s.starttls(context=context or client_context())
    if code != 220:
        raise AssertionError("STARTTLS: %d %r" % (code, msg))
    code, msg = s.ehlo("client.test")
    if code != 250:
        raise AssertionError("EHLO after STARTTLS: %d %r" % (code, msg))
    return s


# ---------------------------------------------------------------------------
# Server
# ---------------------------------------------------------------------------

def _pgroup_alive(pgid):
    """True while a non-zombie process is in process group PGID."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        rest = stat.rsplit(")", 1)[1].split()
        state, pgrp = rest[0], int(rest[2])
        if pgrp == pgid and state not in ("Z", "X"):
            return True
    return False


def need_tool(name, package):
    """The path of the program NAME; fails the test naming the Debian
    PACKAGE that provides it when it is missing (a test never skips)."""
    path = shutil.which(name)
    if path is None:
        raise AssertionError("%s not found: install the Debian package %s (scripts/deps does)"
                             % (name, package))
    return path


def fault_wrapper(*points):
    """A wrapper for Server(wrapper=...) that runs sealmail under libfiu's
    fiu-run with each of POINTS enabled. A point is "ROLE/STEP/CALL" (the
    name FAULT() takes) optionally followed by libfiu options, e.g.
    "queue/commit/sync,failinfo=28,onetime". The state is copied into each
    forked role, so onetime fires once in every process that reaches it."""
    argv = [need_tool("fiu-run", "fiu-utils"), "-f", ""]
    for p in points:
        argv += ["-c", "enable name=sealmail/" + p]
    return argv


def _sanitizer_env_for_wrapper(env, wrapper):
    """Sanitizer options for a server started under WRAPPER (a program
    name): a preloaded library (libfiu's) comes before ASan's runtime and
    keeps a few bytes for good; LeakSanitizer cannot work under ptrace."""
    extra = ["verify_asan_link_order=0"]
    if wrapper == "strace":
        extra.append("detect_leaks=0")
    env["ASAN_OPTIONS"] = ":".join([x for x in (env.get("ASAN_OPTIONS"),) if x] + extra)
    supp = os.path.join(tmp_root(), "lsan-wrapper.supp")
    if not os.path.exists(supp):
        with open(supp, "w") as f:
            f.write("leak:fiu_run_preload.so\nleak:libfiu.so\n")
    env["LSAN_OPTIONS"] = ":".join(
        [x for x in (env.get("LSAN_OPTIONS"),) if x] + ["suppressions=" + supp])


def proc_state(pid):
    """The one-letter state /proc/PID/stat shows (Z: exited, not reaped)."""
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def fifo_writer(path):
    """Opens the FIFO PATH for writing once a reader has it open (polled:
    ENXIO until then); returns the descriptor."""
    def attempt():
        try:
            return os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as e:
            if e.errno != errno.ENXIO:
                raise
            return None
    return wait_for(attempt, what="a reader of the FIFO %s" % path)


def _children(pid):
    """The pids whose parent is PID."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(rest[1]) == pid:
            out.append(int(d))
    return out


SANITIZER_RE = re.compile(r"(ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error:|"
                          r"SUMMARY: \w+Sanitizer)")


class Server:
    """One sealmail instance with its own temp dir, config, users and data dir.

    LISTENERS maps listener name -> tls mode (none/optional/required/implicit).
    LIMITS is a dict for the [limits] section. SNI_CERTS maps names -> Cert for
    [tls NAME] sections (default: mail.other.test). CERT is the default Cert.
    WRAPPER (argv list, e.g. fault_wrapper(...) or strace) is put in front of
    the server's command line, ENV (dict) added to its environment; both are
    attributes that a later start() uses again (set them to None to drop).
    """

    def __init__(self, listeners=None, limits=None, sni_certs=None, cert=None,
                 users=DEFAULT_USERS, local_domains=LOCAL_DOMAINS, dispatchers=2,
                 min_version="TLSv1.2", start=True, server_options=None, extra_config="",
                 passwords=None, aliases=None, submit_socket=False, wrapper=None, env=None):
        if not os.path.exists(SEALMAIL_BIN):
            raise AssertionError("sealmail binary not found at %s (set SEALMAIL_BIN or run "
                                 "`make build`)" % SEALMAIL_BIN)
        self.dir = new_tmpdir("srv-")
        self.data_dir = os.path.join(self.dir, "data")
        os.mkdir(self.data_dir)
        if os.geteuid() == 0:
            os.chmod(self.data_dir, 0o777)
        self.conf = os.path.join(self.dir, "sealmail.conf")
        self.users_path = os.path.join(self.dir, "users")
        self.log_path = os.path.join(self.dir, "sealmail.log")
        self.cert_path = os.path.join(self.dir, "cert.pem")
        self.key_path = os.path.join(self.dir, "key.pem")
        self.listeners = dict(listeners or {"mx": "optional"})
        self.ports = {name: free_port() for name in self.listeners}
        self.limits = dict(limits or {})
        # More keys for [server] (a section may be given only once), e.g.
        # {"trusted_networks": "127.0.0.0/8"}, and INI text appended to the
        # file as it is (more sections: [dns], [outbound], [queue]...).
        self.server_options = dict(server_options or {})
        self.extra_config = extra_config or ""
        self.proc = None
        self.pgid = None
        self._logf = None
        self.wrapper = list(wrapper) if wrapper else None
        self.env = dict(env) if env else None
        self.install_cert(cert or default_cert())
        self.sni = {}
        for name, c in (sni_certs if sni_certs is not None else
                        {OTHER_TLS_NAME: other_cert()}).items():
            cp = os.path.join(self.dir, "sni-%s.pem" % name)
            kp = os.path.join(self.dir, "sni-%s.key" % name)
            shutil.copyfile(c.cert, cp)
            shutil.copyfile(c.key, kp)
            self.sni[name] = (cp, kp)
        # PASSWORDS ({address: password}) gives those users a yescrypt hash
        # (others of USERS get "*", no login). ALIASES (text or a list of
        # lines) writes an aliases file named in [server] aliases; with
        # SUBMIT_SOCKET, [server] submit_socket is DIR/submit.sock (a server
        # started as root would otherwise use /run/sealmail/submit.sock,
        # shared by every server of tests run in parallel).
        self.passwords = dict(passwords or {})
        self.write_users(list(users) + [u for u in self.passwords if u not in users])
        self.aliases_path = os.path.join(self.dir, "aliases")
        if aliases is not None:
            self.write_aliases(aliases)
            self.server_options.setdefault("aliases", self.aliases_path)
        self.submit_socket = os.path.join(self.dir, "submit.sock") if submit_socket else None
        if self.submit_socket:
            self.server_options.setdefault("submit_socket", self.submit_socket)
        self.config_text = self.make_config(local_domains, dispatchers, min_version)
        with open(self.conf, "w") as f:
            f.write(self.config_text)
        if start:
            self.start()

    # -- setup --
    def install_cert(self, cert):
        """Copies CERT's files over the server's certificate/key paths
        (atomically, via rename)."""
        for src, dst in ((cert.cert, self.cert_path), (cert.key, self.key_path)):
            tmp = dst + ".new"
            shutil.copyfile(src, tmp)
            os.chmod(tmp, 0o644)
            os.rename(tmp, dst)
        self.cert = cert

    def make_config(self, local_domains, dispatchers, min_version):
        out = ["[server]",
               "hostname = %s" % HOSTNAME,
               "data_dir = %s" % self.data_dir,
               "local_domains = %s" % " ".join(local_domains),
               "users = %s" % self.users_path]
        if dispatchers is not None:
            out.append("dispatchers = %d" % dispatchers)
        out += ["%s = %s" % (k, v) for k, v in self.server_options.items()]
        out += ["", "[tls]",
                "certificate = %s" % self.cert_path,
                "key = %s" % self.key_path,
                "min_version = %s" % min_version]
        for name, (cp, kp) in self.sni.items():
            out += ["", "[tls %s]" % name, "certificate = %s" % cp, "key = %s" % kp]
        if self.limits:
            out += ["", "[limits]"]
            out += ["%s = %s" % (k, v) for k, v in self.limits.items()]
        for name, spec in self.listeners.items():
            if isinstance(spec, dict):
                # {"tls": ..., "protocol": ..., more keys (auth, client_ca...)}
                opts = dict(spec)
                out += ["", "[listen %s]" % name,
                        "address = 127.0.0.1:%d" % self.ports[name],
                        "protocol = %s" % opts.pop("protocol", "smtp"),
                        "tls = %s" % opts.pop("tls", "optional")]
                out += ["%s = %s" % kv for kv in opts.items()]
                continue
            out += ["", "[listen %s]" % name,
                    "address = 127.0.0.1:%d" % self.ports[name],
                    "protocol = smtp",
                    "tls = %s" % spec]
        text = "\n".join(out) + "\n"
        if self.extra_config:
            text += "\n" + self.extra_config.strip("\n") + "\n"
        return text

    def port(self, name=None):
        if name is None:
            name = next(iter(self.listeners))
        return self.ports[name]

    # -- process control --
    def start(self, wait=True):
        """Starts sealmail; with WAIT, returns once every listener accepts
        TCP connections (fails showing the log if the process exits)."""
        if self._logf is None:
            self._logf = open(self.log_path, "ab", buffering=0)
        self._logf.write(b"=== harness: starting sealmail ===\n")
        mark = self.log_mark()
        env = None
        if self.wrapper or self.env:
            env = dict(os.environ)
            env.update(self.env or {})
            if self.wrapper:
                _sanitizer_env_for_wrapper(env, os.path.basename(self.wrapper[0]))
        # self.argv0: what it is told its name is, if not SEALMAIL_BIN
        argv0 = getattr(self, "argv0", None)
        self.proc = subprocess.Popen(list(self.wrapper or []) +
                                     [argv0 or SEALMAIL_BIN, "serve", "-c", self.conf, "-f"],
                                     executable=SEALMAIL_BIN if argv0 and not self.wrapper
                                     else None,
                                     stdin=subprocess.DEVNULL, stdout=self._logf,
                                     stderr=self._logf, start_new_session=True,
                                     cwd=self.dir, env=env,
                                     pass_fds=tuple(getattr(self, "pass_fds", ())))
        self.pgid = self.proc.pid
        if not wait:
            return
        try:
            for name, port in self.ports.items():
                self._wait_listening(name, port)
            self._wait_ready(mark)
        except BaseException:
            self._killpg()
            self.proc.wait()
            self._reap_group()
            raise

    def _wait_ready(self, mark):
        """A listener accepts as soon as the parent has bound it; the roles
        (the queue's control socket, the dispatchers) may still be starting.
        The parent logs event=ready once every one of them runs its loop:
        wait for it, when the log comes here."""
        try:
            with open(self.conf) as f:
                if re.search(r"^\s*log\s*=", f.read(), re.M):
                    return
        except OSError:
            return

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("sealmail exited early (rc=%s) before it was ready; "
                                     "log:\n%s" % (self.proc.returncode, self.log_tail()))
            return re.search(r"event=ready ", self.log()[mark:]) is not None
        wait_for(ready, TIMEOUT, what="event=ready after start")

    def _wait_listening(self, name, port):
        deadline = time.monotonic() + TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("sealmail exited early (rc=%s) before listener %s "
                                     "accepted connections; log:\n%s"
                                     % (self.proc.returncode, name, self.log_tail()))
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                pass
            if time.monotonic() >= deadline:
                raise AssertionError("listener %s (port %d) never accepted a connection; "
                                     "log:\n%s" % (name, port, self.log_tail()))
            time.sleep(0.02)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def main_pid(self):
        """The pid of sealmail's parent process: the process started, or
        under a wrapper that does not exec (strace), its sealmail child."""
        if not self.wrapper:
            return self.proc.pid
        exe = os.path.realpath(SEALMAIL_BIN)

        def find():
            for pid in [self.proc.pid] + _children(self.proc.pid):
                try:
                    if os.path.realpath("/proc/%d/exe" % pid) == exe:
                        return pid
                except OSError:
                    pass
            return None
        return wait_for(find, what="the sealmail process under %s" % self.wrapper[0])

    def stop(self):
        """SIGTERM to the parent, wait. Returns the exit status. Leftover
        processes of the group are killed afterwards."""
        if self.proc is None:
            return None
        rc = self.proc.poll()
        if rc is None:
            os.kill(self.main_pid(), signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self._killpg()
                self.proc.wait()
                raise AssertionError("sealmail did not exit within %ds of SIGTERM; log:\n%s"
                                     % (TIMEOUT, self.log_tail()))
        self._reap_group()
        return rc

    def _killpg(self):
        try:
            os.killpg(self.pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def _reap_group(self):
        if _pgroup_alive(self.pgid):
            self._killpg()
        try:
            wait_for(lambda: not _pgroup_alive(self.pgid), what="process group to exit")
        except AssertionError:
            pass

    def kill(self):
        """SIGKILL to the whole process group; waits until all are gone."""
        self._killpg()
        self.proc.wait(timeout=TIMEOUT)
        wait_for(lambda: not _pgroup_alive(self.pgid), what="process group to die")

    def reload(self):
        os.kill(self.main_pid(), signal.SIGHUP)

    def restart(self):
        if self.running():
            self.stop()
        self.start()

    def close(self):
        """For tearDown: stop, then check the log for sanitizer reports and
        crash exits."""
        try:
            rc = self.stop()
        finally:
            if self._logf:
                self._logf.close()
                self._logf = None
        log = self.log()
        m = SANITIZER_RE.search(log)
        if m:
            raise AssertionError("sanitizer report in sealmail log:\n%s" % self.log_tail(200))
        if rc is not None and rc < 0 and rc != -signal.SIGTERM:
            raise AssertionError("sealmail died from signal %d on SIGTERM shutdown; log:\n%s"
                                 % (-rc, self.log_tail()))

    # -- log --
    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n=60):
        return "\n".join(self.log().splitlines()[-n:])

    def log_mark(self):
        return len(self.log())

    def events(self, name, since=0):
        """Log lines with event=NAME, as dicts of their key=value pairs."""
        out = []
        for line in self.log()[since:].splitlines():
            kv = parse_kv(line)
            if kv.get("event") == name:
                kv["_line"] = line
                out.append(kv)
        return out

    def wait_log(self, pattern, since=0, timeout=TIMEOUT, flags=0):
        rx = re.compile(pattern, flags)

        def find():
            for line in self.log()[since:].splitlines():
                if rx.search(line):
                    return line
            return None
        try:
            return wait_for(find, timeout, what="log line /%s/" % pattern)
        except AssertionError:
            raise AssertionError("no log line matching /%s/; log:\n%s"
                                 % (pattern, self.log_tail()))

    # -- Maildir and queue --
    def maildir(self, address):
        user, domain = address.rsplit("@", 1)
        return os.path.join(self.data_dir, "mail", domain, user)

    def message_files(self, address, subdirs=("new",)):
        out = []
        for sub in subdirs:
            d = os.path.join(self.maildir(address), sub)
            try:
                names = os.listdir(d)
            except FileNotFoundError:
                continue
            out += [os.path.join(d, n) for n in names if not n.startswith(".")]
        return sorted(out)

    def messages(self, address):
        res = []
        for p in self.message_files(address):
            with open(p, "rb") as f:
                res.append(f.read())
        return res

    def wait_messages(self, address, n, timeout=TIMEOUT):
        """Waits until ADDRESS's new/ holds at least N files; returns the
        contents of all of them."""
        try:
            wait_for(lambda: len(self.message_files(address)) >= n, timeout,
                     what="%d message(s) for %s" % (n, address))
        except AssertionError:
            raise AssertionError("expected %d message(s) in %s, found %d; queue: %r; log:\n%s"
                                 % (n, os.path.join(self.maildir(address), "new"),
                                    len(self.message_files(address)), self.queue_files(),
                                    self.log_tail()))
        return self.messages(address)

    def all_maildir_files(self, subdirs=("new", "cur", "tmp")):
        """Every file in every Maildir's SUBDIRS: {path: bytes}."""
        res = {}
        root = os.path.join(self.data_dir, "mail")
        for dirpath, dirnames, filenames in os.walk(root):
            if os.path.basename(dirpath) in subdirs:
                for n in filenames:
                    p = os.path.join(dirpath, n)
                    try:
                        with open(p, "rb") as f:
                            res[p] = f.read()
                    except OSError:
                        pass
        return res

    def messages_with(self, needle):
        if isinstance(needle, str):
            needle = needle.encode()
        return [d for d in self.all_maildir_files(("new", "cur")).values() if needle in d]

    def queue_files(self):
        """Regular files (and anything not a directory) below DATA_DIR/queue."""
        root = os.path.join(self.data_dir, "queue")
        out = []
        for dirpath, dirnames, filenames in os.walk(root):
            out += [os.path.join(dirpath, n) for n in filenames]
        return out

    def wait_queue_empty(self, timeout=TIMEOUT):
        try:
            wait_for(lambda: not self.queue_files(), timeout, what="empty queue")
        except AssertionError:
            raise AssertionError("queue still holds %r; log:\n%s"
                                 % (self.queue_files(), self.log_tail()))

    def config_line(self, pattern):
        """1-based number of the first line of the config file matching the
        regular expression PATTERN (for messages that cite FILE line N)."""
        for i, line in enumerate(self.config_text.splitlines(), 1):
            if re.search(pattern, line):
                return i
        raise AssertionError("no config line matches /%s/:\n%s" % (pattern, self.config_text))

    # -- operator commands (sealmail ARGS -c CONF, talking to the running server) --
    def ctl(self, *args, timeout=30):
        """Runs `sealmail ARGS... -c CONF`; returns (rc, stdout, stderr) as str."""
        argv = [SEALMAIL_BIN] + [str(a) for a in args] + ["-c", self.conf]
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout, cwd=self.dir)
        return (p.returncode, p.stdout.decode("utf-8", errors="replace"),
                p.stderr.decode("utf-8", errors="replace"))

    def ctl_ok(self, *args, timeout=30):
        """Like ctl(), but fails unless the exit status is 0; returns stdout."""
        rc, out, err = self.ctl(*args, timeout=timeout)
        if rc != 0:
            raise AssertionError("`sealmail %s` exited %d\nstdout:\n%s\nstderr:\n%s\nlog:\n%s"
                                 % (" ".join(str(a) for a in args), rc, out, err,
                                    self.log_tail()))
        return out

    def wait_event(self, name, since=0, timeout=TIMEOUT, **match):
        """Waits for log lines with event=NAME whose keys equal MATCH (values
        compared as strings; a key "to" may be given with or without <>).
        Returns the list of matching events (dicts, as events() gives)."""
        def want(e):
            for k, v in match.items():
                got = e.get(k)
                if k == "to" and got is not None:
                    got = got.strip("<>")
                    v = str(v).strip("<>")
                if got != str(v):
                    return False
            return True

        def find():
            return [e for e in self.events(name, since) if want(e)]
        try:
            return wait_for(find, timeout, what="event=%s %r" % (name, match))
        except AssertionError:
            raise AssertionError("no event=%s matching %r within %ss; log:\n%s"
                                 % (name, match, timeout, self.log_tail(80)))

    # -- users, aliases, AUTH, `sealmail send` --
    def write_users(self, users):
        """Rewrites the users file atomically: USERS is a list of addresses;
        those in self.passwords get a yescrypt hash, the others "*"."""
        tmp = self.users_path + ".new"
        with open(tmp, "w") as f:
            for u in users:
                pw = self.passwords.get(u)
                f.write("%s:%s\n" % (u, yescrypt_hash(pw) if pw is not None else "*"))
        os.chmod(tmp, 0o644)
        os.rename(tmp, self.users_path)

    def write_aliases(self, aliases):
        """Rewrites the aliases file atomically (ALIASES: text or lines)."""
        text = aliases if isinstance(aliases, str) else "\n".join(aliases) + "\n"
        tmp = self.aliases_path + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.rename(tmp, self.aliases_path)

    def tls_dialog(self, listener, ehlo=True, **kw):
        """A Dialog on LISTENER with TLS up (STARTTLS unless implicit) and,
        with EHLO, the EHLO after it done (the reply in .ehlo_reply)."""
        d = self.dialog(listener, **kw)
        try:
            if self.listener_tls(listener) != "implicit":
                d.ehlo()
                d.starttls()
            d.ehlo_reply = d.ehlo() if ehlo else None
        except BaseException:
            d.close()
            raise
        return d

    def auth_reply(self, listener, user, password, mechanism="PLAIN", initial=True, **kw):
        """Opens a TLS session on LISTENER, tries AUTH once and returns the
        reply (the connection is closed). KW goes to Dialog (e.g. timeout)."""
        with self.tls_dialog(listener, **kw) as d:
            r = d.auth(user, password, mechanism, initial)
            try:
                d.quit()
            except (AssertionError, OSError):
                pass
            return r

    def login(self, listener, user, password, mechanism="PLAIN", initial=True, **kw):
        """A TLS Dialog on LISTENER, authenticated as USER (asserts 235)."""
        d = self.tls_dialog(listener, **kw)
        r = d.auth(user, password, mechanism, initial)
        if r.code != 235:
            d.close()
            raise AssertionError("AUTH %s as %s: expected 235, got %s\ntranscript:\n%s"
                                 % (mechanism, user, r, d.format_transcript()))
        return d

    def send(self, *args, input=b"", program=None, config=True, env=None, timeout=60):
        """Runs `sealmail send ARGS... -c CONF` (without "send" and through a
        symlink when PROGRAM, e.g. "sendmail", is given; without -c unless
        CONFIG). ENV: more environment variables. Returns (rc, stdout, stderr)."""
        if program:
            linkdir = new_tmpdir("bin-")
            exe = os.path.join(linkdir, program)
            os.symlink(os.path.abspath(SEALMAIL_BIN), exe)
            argv = [exe] + [str(a) for a in args]
        else:
            argv = [SEALMAIL_BIN, "send"] + [str(a) for a in args]
        if config:
            argv += ["-c", self.conf]
        e = dict(os.environ)
        e.update(env or {})
        p = subprocess.run(argv, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, cwd=self.dir, env=e)
        return (p.returncode, p.stdout.decode("utf-8", errors="replace"),
                p.stderr.decode("utf-8", errors="replace"))

    # -- convenience --
    def listener_tls(self, name):
        """The tls mode of listener NAME (its value may be a str or a dict)."""
        spec = self.listeners[name]
        return spec.get("tls", "optional") if isinstance(spec, dict) else spec

    def dialog(self, listener=None, **kw):
        name = listener or next(iter(self.listeners))
        if self.listener_tls(name) == "implicit":
            kw.setdefault("implicit_tls", True)
        return Dialog(self.ports[name], **kw)


KV_RE = re.compile(r'([A-Za-z_][\w.-]*)=("(?:[^"\\]|\\.)*"|\S*)')


def parse_kv(line):
    res = {}
    for k, v in KV_RE.findall(line):
        if v.startswith('"') and v.endswith('"') and len(v) >= 2:
            v = v[1:-1]
        res.setdefault(k, v)
    return res


class ServerTestCase(unittest.TestCase):
    """Base class: `self.server_for(...)` starts a Server stopped at cleanup;
    `cls.class_server(...)` (in setUpClass) one shared by the class."""

    @classmethod
    def class_server(cls, **kw):
        s = Server(**kw)
        cls.addClassCleanup(s.close)
        return s

    def server_for(self, **kw):
        s = Server(**kw)
        self.addCleanup(s.close)
        return s


def main():
    unittest.main(verbosity=2)


# ---------------------------------------------------------------------------
# IMAP and POP3 (the store role): listeners, clients over the test CA, an
# IMAP response parser and Maildir look-ups
# ---------------------------------------------------------------------------

import imaplib  # noqa: E402
import poplib  # noqa: E402
import select  # noqa: E402

# The four mail-reading listeners (STARTTLS/STLS on "143"/"110", implicit TLS
# on "993"/"995") and an SMTP listener to deliver with.
MAIL_LISTENERS = {
    "mx": "optional",
    "imap": {"protocol": "imap", "tls": "required"},
    "imaps": {"protocol": "imap", "tls": "implicit"},
    "pop3": {"protocol": "pop3", "tls": "required"},
    "pop3s": {"protocol": "pop3", "tls": "implicit"},
}
IMAP_DEFAULTS = {"idle_timeout": 1800, "login_timeout": 60, "sessions_per_user": 20,
                 "literal_before_login": 8192}


def imap_section(**options):
    """The [imap] section: IMAP_DEFAULTS updated with OPTIONS."""
    opts = dict(IMAP_DEFAULTS)
    opts.update(options)
    return "[imap]\n" + "".join("%s = %s\n" % kv for kv in opts.items())


def mail_server_kwargs(passwords, imap=None, listeners=None, extra_config="", **kw):
    """Server(**...) arguments for a server with MAIL_LISTENERS (plus
    LISTENERS), the [imap] section (IMAP: options over IMAP_DEFAULTS) and
    PASSWORDS ({address: password}) as the users who may log in."""
    ls = dict(MAIL_LISTENERS)
    ls.update(listeners or {})
    text = imap_section(**(imap or {}))
    if extra_config:
        text += "\n" + extra_config
    kw.update(listeners=ls, passwords=passwords, extra_config=text)
    return kw


def add_mail_listeners(server_kwargs):
    """Adds MAIL_LISTENERS and the default [imap] section to a dict of
    Server(...) arguments (for a test that builds its own)."""
    ls = dict(server_kwargs.get("listeners") or {"mx": "optional"})
    for k, v in MAIL_LISTENERS.items():
        ls.setdefault(k, v)
    server_kwargs["listeners"] = ls
    server_kwargs["extra_config"] = (server_kwargs.get("extra_config") or "") + "\n" + \
        imap_section()
    return server_kwargs


def deliver(srv, to, message, sender=SENDER, listener="mx"):
    """Delivers MESSAGE (bytes, CRLF) to TO by SMTP (smtplib, STARTTLS) and
    waits until it is in TO's Maildir (new/ or cur/ of INBOX). Returns the
    path of the Maildir file."""
    tok = re.search(rb"X-Test-Token: (\S+)", message)
    needle = tok.group(1) if tok else message[-64:].replace(b"\r\n", b"\n")
    s = smtp_starttls(srv.port(listener))
    try:
        refused = s.sendmail(sender, [to], message)
        if refused:
            raise AssertionError("RCPT refused: %r" % refused)
    finally:
        try:
            s.quit()
        except smtplib.SMTPException:
            pass
    return wait_for(lambda: (maildir_find(srv, to, needle) or [None])[0],
                    what="delivery of %r to %s" % (needle, to))


def folder_dir(srv, address, folder="INBOX"):
    """The Maildir directory of FOLDER (Maildir++: ".Name", "." between
    levels; names here are ASCII)."""
    base = srv.maildir(address)
    if folder.upper() == "INBOX":
        return base
    return os.path.join(base, "." + folder.replace("/", "."))


def maildir_find(srv, address, needle, folder="INBOX"):
    """Paths of the files in FOLDER's new/ and cur/ whose content holds NEEDLE."""
    if isinstance(needle, str):
        needle = needle.encode()
    out = []
    d = folder_dir(srv, address, folder)
    for sub in ("new", "cur"):
        try:
            names = sorted(os.listdir(os.path.join(d, sub)))
        except FileNotFoundError:
            continue
        for n in names:
            p = os.path.join(d, sub, n)
            try:
                with open(p, "rb") as f:
                    if needle in f.read():
                        out.append(p)
            except OSError:
                pass
    return out


def maildir_flags(path):
    """The flags of a Maildir file name ("...:2,FS" -> "FS"), None without ":2,"."""
    name = os.path.basename(path)
    return name.split(":2,", 1)[1] if ":2," in name else None


def crlf(data):
    """DATA (a Maildir file: LF line ends) as IMAP and POP3 serve it."""
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def imap_connect(srv, listener="imap", user=None, password=None, timeout=TIMEOUT):
    """An imaplib client on LISTENER: STARTTLS (verified against the test
    CA) unless the listener is implicit TLS; logged in when USER is given."""
    port = srv.port(listener)
    if srv.listener_tls(listener) == "implicit":
        m = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=client_context(), timeout=timeout)
    else:
        m = imaplib.IMAP4("127.0.0.1", port, timeout=timeout)
        typ, data = m.starttls(ssl_context=client_context())
        if typ != "OK":
            raise AssertionError("STARTTLS: %s %r" % (typ, data))
    if user is not None:
        typ, data = m.login(user, password)
        if typ != "OK":
            raise AssertionError("LOGIN %s: %s %r" % (user, typ, data))
    return m


def pop3_connect(srv, listener="pop3", user=None, password=None, timeout=TIMEOUT):
    """A poplib client on LISTENER (STLS unless implicit), logged in with
    USER/PASS when USER is given."""
    port = srv.port(listener)
    if srv.listener_tls(listener) == "implicit":
        p = poplib.POP3_SSL("127.0.0.1", port, context=client_context(), timeout=timeout)
    else:
        p = poplib.POP3("127.0.0.1", port, timeout=timeout)
        p.stls(context=client_context())
    if user is not None:
        p.user(user)
        p.pass_(password)
    return p


def imaplib_wire(data):
    """imaplib's DATA (a list of bytes and (prefix, literal) tuples) put back
    as the server wrote it: [b"1 (UID 5 BODY[] {3}\\r\\nabc)", ...], one
    element per response."""
    out, cur = [], b""
    for x in data:
        if x is None:
            continue
        if isinstance(x, tuple):
            cur += x[0] + b"\r\n" + x[1]
        else:
            out.append(cur + x)
            cur = b""
    if cur:
        out.append(cur)
    return out


class IMAPParseError(AssertionError):
    pass


def imap_parse(blob):
    """Parses BLOB (one response, literals as "{n}\\r\\n" + n octets) into a
    list: atoms as str, quoted strings and literals as bytes, NIL as None,
    parenthesised lists as lists. An atom keeps a "[...]" part with its
    spaces (BODY[HEADER.FIELDS (SUBJECT)]) and a "<...>" partial after it."""
    pos = 0
    n = len(blob)

    def value():
        nonlocal pos
        c = blob[pos:pos + 1]
        if c == b"(":
            pos += 1
            items = []
            while True:
                while blob[pos:pos + 1] == b" ":
                    pos += 1
                if pos >= n:
                    raise IMAPParseError("unterminated list in %r" % blob[:300])
                if blob[pos:pos + 1] == b")":
                    pos += 1
                    return items
                items.append(value())
        if c == b'"':
            pos += 1
            s = bytearray()
            while True:
                if pos >= n:
                    raise IMAPParseError("unterminated string in %r" % blob[:300])
                ch = blob[pos:pos + 1]
                if ch == b"\\":
                    s += blob[pos + 1:pos + 2]
                    pos += 2
                    continue
                pos += 1
                if ch == b'"':
                    return bytes(s)
                s += ch
        if c in (b"{", b"~") and re.match(rb"~?\{\d+\+?\}\r\n", blob[pos:pos + 24]):
            m = re.match(rb"~?\{(\d+)\+?\}\r\n", blob[pos:])
            size = int(m.group(1))
            pos += m.end()
            if pos + size > n:
                raise IMAPParseError("literal of %d octets cut short" % size)
            s = blob[pos:pos + size]
            pos += size
            return s
        start = pos
        depth = 0
        while pos < n:
            ch = blob[pos:pos + 1]
            if ch == b"[":
                depth += 1
            elif ch == b"]":
                depth -= 1
            elif depth == 0 and ch in (b" ", b")", b"(") and not (
                    ch == b"(" and False):
                break
            elif depth == 0 and ch in (b"\r", b"\n"):
                break
            pos += 1
        atom = blob[start:pos].decode("utf-8", errors="replace")
        if atom == "":
            raise IMAPParseError("empty atom at %d in %r" % (start, blob[:300]))
        return None if atom.upper() == "NIL" else atom

    out = []
    while pos < n:
        while blob[pos:pos + 1] in (b" ", b"\r", b"\n"):
            pos += 1
            if pos >= n:
                return out
        out.append(value())
    return out


def fetch_items(resp):
    """One FETCH response ("N (K V K V ...)" as imaplib gives it, or a raw
    "* N FETCH (...)") -> (N, {K upper-cased: V})."""
    v = imap_parse(resp)
    if v and v[0] == "*":
        v = v[1:]
    if len(v) >= 3 and str(v[1]).upper() == "FETCH":
        v = [v[0], v[2]]
    if len(v) != 2 or not isinstance(v[1], list) or len(v[1]) % 2:
        raise IMAPParseError("not a FETCH response: %r" % resp[:300])
    items = v[1]
    return int(v[0]), {str(items[i]).upper(): items[i + 1] for i in range(0, len(items), 2)}


def imaplib_fetch(m, uid_set, items, uid=True):
    """FETCH (UID FETCH when UID) through imaplib; returns {seq: {item: value}}
    (asserting OK)."""
    typ, data = m.uid("FETCH", uid_set, items) if uid else m.fetch(uid_set, items)
    if typ != "OK":
        raise AssertionError("FETCH %s %s: %s %r" % (uid_set, items, typ, data))
    res = {}
    for w in imaplib_wire(data):
        seq, d = fetch_items(w)
        res.setdefault(seq, {}).update(d)
    return res


def response_code(text):
    """The response code of a status text: "[COPYUID 5 1:2 7:8] Done" ->
    ["COPYUID", "5", "1:2", "7:8"]; None without one."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    m = re.match(r"\s*\[([^\]]*)\]", text)
    return m.group(1).split() if m else None


def seqset_expand(text):
    """"1:3,7" -> [1, 2, 3, 7] (no "*")."""
    out = []
    for part in str(text).split(","):
        if ":" in part:
            a, b = (int(x) for x in part.split(":"))
            out += list(range(min(a, b), max(a, b) + 1))
        else:
            out.append(int(part))
    return out


class ImapRaw:
    """A raw IMAP client over a socket: commands as bytes, responses read as
    the server sends them (literals included), nothing decided for the
    server. For answers a library would hide or refuse to send."""

    def __init__(self, port, implicit=False, timeout=TIMEOUT, host="127.0.0.1",
                 context=None, server_hostname="127.0.0.1", greeting=True):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = b""
        self.transcript = []
        self.n = 0
        if implicit:
            self.sock = (context or client_context()).wrap_socket(
                self.sock, server_hostname=server_hostname)
        self.greeting = self.read_response() if greeting else None

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.transcript.append(("C", data))
        self.sock.sendall(data)

    def _fill(self, timeout=None):
        if timeout is not None:
            self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError):
            chunk = b""
        finally:
            if timeout is not None:
                self.sock.settimeout(self.timeout)
        if not chunk:
            raise ConnectionClosed("server closed the connection; transcript:\n" +
                                   self.format_transcript())
        self.buf += chunk

    def pending(self, timeout):
        """True when a response byte arrives within TIMEOUT seconds (a
        select() deadline; buffered bytes count)."""
        if self.buf:
            return True
        if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            return True
        r, _, _ = select.select([self.sock], [], [], timeout)
        return bool(r)

    def read_line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_response(self):
        """One whole response: its line, and any literal with the rest of the
        line after it (joined with the "{n}\\r\\n" kept)."""
        out = self.read_line()
        while True:
            m = re.search(rb"~?\{(\d+)\}$", out)
            if not m:
                break
            size = int(m.group(1))
            while len(self.buf) < size:
                self._fill()
            out += b"\r\n" + self.buf[:size]
            self.buf = self.buf[size:]
            out += self.read_line()
        self.transcript.append(("S", out))
        return out

    def next_tag(self):
        self.n += 1
        return "t%d" % self.n

    def command(self, text, tag=None):
        """Sends "TAG TEXT" and reads to the tagged answer. Returns (status,
        text after the status, [untagged and continuation responses])."""
        tag = tag or self.next_tag()
        self.send(tag.encode() + b" " + (text.encode() if isinstance(text, str) else text) +
                  b"\r\n")
        return self.read_tagged(tag)

    def read_tagged(self, tag):
        untagged = []
        while True:
            r = self.read_response()
            if r.startswith(tag.encode() + b" "):
                rest = r[len(tag) + 1:].decode("utf-8", errors="replace")
                status, _, text = rest.partition(" ")
                return status.upper(), text, untagged
            untagged.append(r)

    def ok(self, text):
        status, rest, untagged = self.command(text)
        if status != "OK":
            raise AssertionError("%s: expected OK, got %s %s\ntranscript:\n%s"
                                 % (text if isinstance(text, str) else text[:100], status, rest,
                                    self.format_transcript()))
        return rest, untagged

    def starttls(self, context=None, server_hostname="127.0.0.1"):
        status, text, untagged = self.command("STARTTLS")
        if status != "OK":
            raise AssertionError("STARTTLS: %s %s" % (status, text))
        if self.buf:
            raise AssertionError("server sent plaintext after its STARTTLS OK: %r" % self.buf)
        self.sock = (context or client_context()).wrap_socket(
            self.sock, server_hostname=server_hostname)

    def login(self, user, password):
        return self.ok("LOGIN %s %s" % (imap_quote(user), imap_quote(password)))

    def capabilities(self):
        _, untagged = self.ok("CAPABILITY")
        for r in untagged:
            if r.upper().startswith(b"* CAPABILITY "):
                return r[len(b"* CAPABILITY "):].decode().upper().split()
        raise AssertionError("no untagged CAPABILITY: %r" % untagged)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def format_transcript(self):
        out = []
        for who, data in self.transcript[-40:]:
            s = data if len(data) <= 300 else data[:300] + b"...(%d bytes)" % len(data)
            out.append("%s: %r" % (who, s))
        return "\n".join(out)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def imap_quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def imap_raw(srv, listener="imap", user=None, password=None, **kw):
    """An ImapRaw on LISTENER with TLS up (STARTTLS unless implicit) and,
    with USER, logged in."""
    implicit = srv.listener_tls(listener) == "implicit"
    c = ImapRaw(srv.port(listener), implicit=implicit, **kw)
    try:
        if not implicit:
            c.starttls()
        if user is not None:
            c.login(user, password)
    except BaseException:
        c.close()
        raise
    return c


class Pop3Raw:
    """A raw POP3 client: lines in, lines out (multi-line answers undotted
    by multi())."""

    def __init__(self, port, implicit=False, timeout=TIMEOUT, host="127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        if implicit:
            self.sock = client_context().wrap_socket(self.sock, server_hostname="127.0.0.1")
        self.greeting = self.line()

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def line(self):
        while b"\r\n" not in self.buf:
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError):
                chunk = b""
            if not chunk:
                raise ConnectionClosed("POP3 server closed the connection (buffer %r)"
                                       % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.line()

    def multi(self):
        lines = []
        while True:
            ln = self.line()
            if ln == b".":
                return lines
            lines.append(ln[1:] if ln.startswith(b".") else ln)

    def stls(self):
        r = self.cmd("STLS")
        if not r.startswith(b"+OK"):
            raise AssertionError("STLS: %r" % r)
        if self.buf:
            raise AssertionError("plaintext after the STLS +OK: %r" % self.buf)
        self.sock = client_context().wrap_socket(self.sock, server_hostname="127.0.0.1")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


# Reference mode, to check the tests' client side against another server:
# with SEALMAIL_TEST_IMAP_REFERENCE=dovecot, sealmail keeps its SMTP
# listeners and delivers as usual, while the IMAP/POP3 ports are served by
# Dovecot (unpacked by scripts/test-peers, see bench/imap_dovecot.py) over
# the same Maildirs. Needs root. Dovecot answers differently in places (it
# treats loopback connections as secure, its index files are dovecot.index*):
# a failure there says nothing about sealmail.
if os.environ.get("SEALMAIL_TEST_IMAP_REFERENCE") == "dovecot":
    sys.path.insert(0, os.path.join(HERE, "..", "..", "bench"))
    import imap_dovecot  # noqa: E402

    _SealmailServer = Server

    class Server(_SealmailServer):  # noqa: F811
        def _mail_names(self):
            return [n for n, spec in self.listeners.items()
                    if isinstance(spec, dict) and spec.get("protocol") in ("imap", "pop3")]

        def make_config(self, *a):
            saved = self.listeners, self.extra_config
            self.listeners = {n: s for n, s in self.listeners.items()
                              if n not in self._mail_names()}
            self.extra_config = re.sub(r"\[imap\]\n(?:[^\[\n][^\n]*\n)*", "", self.extra_config)
            try:
                return _SealmailServer.make_config(self, *a)
            finally:
                self.listeners, self.extra_config = saved

        def start(self, wait=True):
            names = self._mail_names()
            ports = self.ports
            self.ports = {n: p for n, p in ports.items() if n not in names}
            try:
                _SealmailServer.start(self, wait)
            finally:
                self.ports = ports
            if not names:
                return
            user = "sealmail" if os.geteuid() == 0 and _has_user("sealmail") else "nobody"
            users = {}
            for address, pw in self.passwords.items():
                md = self.maildir(address)
                for sub in ("new", "cur", "tmp"):
                    os.makedirs(os.path.join(md, sub), exist_ok=True)
                users[address] = (pw, md)
            subprocess.run(["chown", "-R", user, os.path.join(self.data_dir, "mail")],
                           check=False)
            kinds = {n: ("imap" if self.listeners[n]["protocol"] == "imap" else "pop3") +
                     ("s" if self.listener_tls(n) == "implicit" else "") for n in names}
            self.dovecot = imap_dovecot.Dovecot(
                os.path.join(self.dir, "dovecot"), users,
                {kinds[n]: self.ports[n] for n in names}, self.cert_path, self.key_path,
                mail_user=user)
            self.dovecot.start()

        def stop(self):
            dv = getattr(self, "dovecot", None)
            if dv is not None:
                dv.stop()
                self.dovecot = None
            return _SealmailServer.stop(self)

    def _has_user(name):
        import pwd
        try:
            pwd.getpwnam(name)
            return True
        except KeyError:
            return False


# The store's index files in each Maildir folder ("sealmail.index" and the
# files named after it); what the reference server names its own.
INDEX_PREFIX = ("dovecot.index" if os.environ.get("SEALMAIL_TEST_IMAP_REFERENCE") == "dovecot"
                else "sealmail.index")
