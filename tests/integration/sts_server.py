"""An MTA-STS policy server for the integration tests (RFC 8461 3.2).

Standard library only (http.server + ssl, a thread per connection).

  * `StsServer(addr, port=443)`: HTTPS on ADDR:PORT. For each domain set
    with `set_policy()` it holds a certificate for `mta-sts.DOMAIN` from the
    harness test CA (or a bad one: wrong name, expired, self-signed, another
    CA), chosen by the client's SNI, and answers
    `GET /.well-known/mta-sts.txt` with that domain's response: the policy
    text, a status code, a content type, a redirect, a delay, an oversized
    body, a body sent slowly or never finished. The domain is taken from the
    Host header (SNI when there is none); every request is recorded and
    `fetches(domain)` counts the policy fetches (what the cache tests check:
    "fetched once across a restart", "fetched again when the id changes").
  * `policy_text()`: a policy file; `sts_records()`: the TXT and A records
    for a zone (so the test DNS says where mta-sts.DOMAIN is).

Port: sealmail fetches https://mta-sts.DOMAIN/ on 443, at the address its
own resolver found. Binding 443 needs root (CI runs the tests as root) or
net.ipv4.ip_unprivileged_port_start <= 443; each server binds its own
127.x.y.z address, so several can run at once. PORT 0 takes a free port
(for this module's own checks, or a sealmail with a test-only port
override).
"""

import http.server
import os
import socket
import ssl
import threading
import time

import harness
import outbound

POLICY_PATH = "/.well-known/mta-sts.txt"
HTTPS_PORT = 443
MAX_POLICY = 64 * 1024  # RFC 8461 3.3: the size bound sealmail enforces


def policy_text(mode="enforce", mx=(), max_age=86400, version="STSv1", extra=()):
    """A policy file (CRLF lines): version, mode, each MX pattern, max_age,
    then EXTRA (key, value) pairs."""
    lines = ["version: %s" % version, "mode: %s" % mode]
    lines += ["mx: %s" % m for m in mx]
    lines.append("max_age: %d" % max_age)
    lines += ["%s: %s" % kv for kv in extra]
    return "".join(ln + "\r\n" for ln in lines)


def sts_records(domain, addr, policy_id, rua=None):
    """DNS records for DOMAIN's MTA-STS: the TXT at _mta-sts.DOMAIN naming
    POLICY_ID, mta-sts.DOMAIN's A record (ADDR: where the StsServer listens),
    and with RUA the TLS-RPT TXT at _smtp._tls.DOMAIN. (owner, type, data)
    tuples for dnssec.Zone or outbound.Unbound (which quotes nothing: TXT
    data is given quoted)."""
    recs = [("_mta-sts.%s" % domain, "TXT", '"v=STSv1; id=%s"' % policy_id),
            ("mta-sts.%s" % domain, "A", addr)]
    if rua:
        recs.append(("_smtp._tls.%s" % domain, "TXT", '"v=TLSRPTv1; rua=%s"' % rua))
    return recs


class Response:
    """What the server sends for one domain's policy URL.

    body         bytes (or str) of the response body
    status       HTTP status code (200)
    content_type Content-Type ("text/plain"; None = no header)
    location     a Location header (with a 3xx status: a redirect)
    delay        seconds to wait before answering (interrupted by stop())
    chunk, chunk_delay  send the body CHUNK bytes at a time with CHUNK_DELAY
                 seconds between pieces (a slow body)
    stall        send the headers and STALL bytes of the body, then hold the
                 connection open until stop() or release() (a fetch that
                 never finishes: the timeout bound)
    content_length  a Content-Length to send instead of the true one
                 (None = the body's length; False = no header, close ends it)
    """

    def __init__(self, body=b"", status=200, content_type="text/plain", location=None,
                 delay=0.0, chunk=None, chunk_delay=0.0, stall=None, content_length=None):
        self.body = body.encode() if isinstance(body, str) else bytes(body)
        self.status = status
        self.content_type = content_type
        self.location = location
        self.delay = delay
        self.chunk = chunk
        self.chunk_delay = chunk_delay
        self.stall = stall
        self.content_length = content_length


class Request:
    def __init__(self, domain, sni, host, path, method, peer):
        self.domain = domain  # from Host (or SNI), without "mta-sts." and port
        self.sni = sni
        self.host = host      # the Host header as sent
        self.path = path
        self.method = method
        self.peer = peer
        self.time = time.time()

    def __repr__(self):
        return "%s https://%s%s (sni=%s)" % (self.method, self.host, self.path, self.sni)


def _domain_of(name):
    name = (name or "").strip().lower().rstrip(".")
    if name.startswith("["):
        return name
    name = name.rsplit(":", 1)[0] if name.count(":") == 1 else name
    return name[len("mta-sts."):] if name.startswith("mta-sts.") else name


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sealmail-test-sts"

    def log_message(self, fmt, *args):  # quiet
        pass

    def do_GET(self):
        self.server.owner._serve(self)

    def do_HEAD(self):
        self.server.owner._serve(self)

    def do_POST(self):
        self.server.owner._serve(self)


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, owner, addr):
        self.owner = owner
        http.server.ThreadingHTTPServer.__init__(self, addr, _Handler)

    def finish_request(self, request, client_address):
        # The handshake runs here, in the connection's own thread: a client
        # that stalls it holds up nobody else.
        request.settimeout(harness.TIMEOUT)
        try:
            tls = self.owner.context().wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.owner._tls_error(client_address, e)
            return
        self.owner._track(tls, True)
        try:
            http.server.ThreadingHTTPServer.finish_request(self, tls, client_address)
        except (ssl.SSLError, OSError):
            pass
        finally:
            self.owner._track(tls, False)
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        pass


class StsServer:
    """HTTPS server for MTA-STS policies on ADDR:PORT (see the module).

      set_policy(domain, text=None, mode=..., mx=..., max_age=..., cert="good",
                 **Response options)   the response for DOMAIN (TEXT wins
                 over mode/mx/max_age; body= gives raw bytes)
      oversized(domain, size)          a valid-looking policy padded to SIZE bytes
      release()                        let stalled responses finish
      fetches(domain), requests(domain), wait_fetches(domain, n)
      tls_errors                       handshakes that failed ((peer, error))
      errors                           exceptions of the handler (stop() fails on them)
      ca_file                          the CA for sealmail's `sts_ca_file`
    """

    def __init__(self, addr="127.0.0.1", port=HTTPS_PORT, start=True):
        self.addr = addr
        self.ca_file = harness.ca().cert
        self._lock = threading.Lock()
        self._responses = {}
        self._certs = {}      # domain -> harness.Cert
        self._contexts = {}   # domain -> SSLContext
        self._requests = []
        self.tls_errors = []
        self.errors = []
        self._stop = threading.Event()
        self._release = threading.Event()
        self._socks = set()
        self._default_ctx = None
        try:
            self.httpd = _HTTPServer(self, (addr, port))
        except PermissionError:
            raise AssertionError(
                "cannot bind %s:%d for the MTA-STS server: port %d needs root "
                "(the tests run as root in CI) or a lower "
                "net.ipv4.ip_unprivileged_port_start" % (addr, port, port))
        self.port = self.httpd.server_address[1]
        self._thread = None
        if start:
            self.start()

    def __repr__(self):
        return "StsServer(%s:%d)" % (self.addr, self.port)

    # -- configuration --
    def set_policy(self, domain, text=None, mode="enforce", mx=None, max_age=86400,
                   cert="good", body=None, **response):
        """Sets what DOMAIN's policy URL answers. Without TEXT or BODY, a
        policy from MODE, MX (default: "mx.DOMAIN") and MAX_AGE. CERT: a
        kind of outbound.peer_cert() ("good", "wrong-name", "expired",
        "self-signed", "other-ca") for mta-sts.DOMAIN, or a harness.Cert.
        RESPONSE: the other Response options (status, content_type,
        location, delay, chunk, chunk_delay, stall, content_length).
        Returns the Response."""
        domain = _domain_of(domain)
        if body is None:
            if text is None:
                text = policy_text(mode, mx if mx is not None else ["mx." + domain], max_age)
            body = text
        r = Response(body, **response)
        self._set_cert(domain, cert)
        with self._lock:
            self._responses[domain] = r
        return r

    def oversized(self, domain, size=MAX_POLICY + 1, **kw):
        """A policy that would be valid but is SIZE bytes long (padded with
        an extension field, RFC 8461 3.2 lets a client ignore it)."""
        domain = _domain_of(domain)
        text = policy_text(mx=kw.pop("mx", ["mx." + domain]))
        pad = size - len(text) - len("x-pad: \r\n")
        if pad < 0:
            raise ValueError("size %d below the policy's own %d" % (size, len(text)))
        return self.set_policy(domain, text=text + "x-pad: " + "a" * pad + "\r\n", **kw)

    def remove_policy(self, domain):
        """DOMAIN's policy URL answers 404 (its certificate stays)."""
        with self._lock:
            self._responses.pop(_domain_of(domain), None)

    def release(self):
        self._release.set()

    def _set_cert(self, domain, cert):
        name = "mta-sts." + domain
        if isinstance(cert, str):
            key = (domain, cert)
            with self._lock:
                have = self._certs.get(domain)
            if have is not None and have[0] == key:
                return
            c = outbound.peer_cert(cert, [name])
        else:
            key, c = (domain, cert.cert), cert
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(c.cert, c.key)
        with self._lock:
            self._certs[domain] = (key, c)
            self._contexts[domain] = ctx

    def cert(self, domain):
        """The harness.Cert served for mta-sts.DOMAIN."""
        with self._lock:
            return self._certs[_domain_of(domain)][1]

    def context(self):
        """The listening context: a certificate for "mta-sts.invalid" unless
        the client's SNI names a known mta-sts.DOMAIN."""
        if self._default_ctx is None:
            c = harness.issue_cert(["mta-sts.invalid"])
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(c.cert, c.key)

            def sni(sslobj, server_name, _ctx):
                sslobj.sts_sni = server_name
                with self._lock:
                    chosen = self._contexts.get(_domain_of(server_name))
                if chosen is not None:
                    sslobj.context = chosen
            ctx.sni_callback = sni
            self._default_ctx = ctx
        return self._default_ctx

    # -- lifecycle --
    def start(self):
        self.context()
        self._thread = threading.Thread(target=self.httpd.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name="sts-%s" % self.addr, daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._release.set()
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.httpd.server_close()
        with self._lock:
            errors, self.errors = self.errors, []
        if errors:  # a bug in the handler: the client saw a broken connection
            raise AssertionError("%r: the handler failed: %r" % (self, errors))

    def _track(self, sock, add):
        with self._lock:
            (self._socks.add if add else self._socks.discard)(sock)

    def _tls_error(self, peer, e):
        with self._lock:
            self.tls_errors.append((peer, str(e)))

    # -- serving --
    def _serve(self, h):
        sni = getattr(h.connection, "sts_sni", None)
        host = h.headers.get("Host")
        domain = _domain_of(host or sni)
        req = Request(domain, sni, host, h.path, h.command, h.client_address)
        with self._lock:
            self._requests.append(req)
            r = self._responses.get(domain) if h.path == POLICY_PATH else None
        try:
            if r is None:
                self._send(h, Response(b"not found\n", status=404))
            else:
                self._send(h, r)
        except (OSError, ssl.SSLError):
            pass
        except Exception as e:  # a bug here must show in the test
            with self._lock:
                self.errors.append(repr(e))
            raise

    def _send(self, h, r):
        if r.delay and self._stop.wait(r.delay):
            return
        h.send_response(r.status)
        if r.content_type is not None:
            h.send_header("Content-Type", r.content_type)
        if r.location is not None:
            h.send_header("Location", r.location)
        if r.content_length is not False:
            h.send_header("Content-Length", str(len(r.body) if r.content_length is None
                                                else r.content_length))
        h.send_header("Connection", "close")
        h.end_headers()
        h.close_connection = True
        if h.command == "HEAD":
            return
        if r.stall is not None:
            h.wfile.write(r.body[:r.stall])
            h.wfile.flush()
            self._release.wait()
            if self._stop.is_set():
                return
            h.wfile.write(r.body[r.stall:])
            return
        if r.chunk:
            for i in range(0, len(r.body), r.chunk):
                h.wfile.write(r.body[i:i + r.chunk])
                h.wfile.flush()
                if self._stop.wait(r.chunk_delay):
                    return
            return
        h.wfile.write(r.body)

    # -- what was seen --
    def requests(self, domain=None):
        with self._lock:
            reqs = list(self._requests)
        return [q for q in reqs if domain is None or q.domain == _domain_of(domain)]

    def fetches(self, domain):
        """How many times DOMAIN's policy was requested (GET of the policy path)."""
        return len([q for q in self.requests(domain)
                    if q.path == POLICY_PATH and q.method == "GET"])

    def wait_fetches(self, domain, n=1, timeout=harness.TIMEOUT):
        try:
            return harness.wait_for(lambda: self.fetches(domain) >= n, timeout,
                                    interval=0.05)
        except AssertionError:
            raise AssertionError("%r: %d fetch(es) of %s's policy, waited for %d; requests: "
                                 "%r; TLS errors: %r" % (self, self.fetches(domain), domain,
                                                         n, self.requests(), self.tls_errors))

    def reset_counts(self):
        with self._lock:
            self._requests = []
            self.tls_errors = []


def need_https_port(port=HTTPS_PORT):
    """Fails with the reason unless this process may bind PORT on loopback."""
    if port >= 1024 or os.geteuid() == 0:
        return
    try:
        with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
            if int(f.read()) <= port:
                return
    except (OSError, ValueError):
        pass
    raise AssertionError("the MTA-STS tests bind port %d on 127.x addresses: run them as "
                         "root (as CI does)" % port)
