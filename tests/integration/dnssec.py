"""DNSSEC test zones for the DANE / MTA-STS / TLS-RPT integration tests.

Standard library only; the zones are signed at test time with ldns-keygen
and ldns-signzone (Debian package ldnsutils), keys live only in a temp dir.

  * `Zone`: a zone spec (a name + records) of one of three kinds:
      "secure"   signed (ECDSAP256SHA256, one CSK by default, or KSK+ZSK),
                 its DS goes into the trust-anchor file;
      "insecure" unsigned and outside every trust anchor, so a validator
                 sees it as insecure (not bogus);
      "bogus"    signed and anchored like "secure", but the RRSIGs of the
                 answers the tests ask for (MX, TLSA, A, AAAA, TXT, CNAME by
                 default, or the RRsets named by CORRUPT) have their
                 signature bytes flipped, so validation fails.
    A "secure" zone may also name CORRUPT RRsets (e.g. only the TLSA), and
    EXPIRED=True signs with validity dates in the past (bogus everywhere).
  * `TestDNS`: an outbound.Unbound serving every zone authoritatively
    (auth-zone:, RRSIGs returned to DO queries) on 127.0.0.1:PORT, plus
    plain unsigned local-data RECORDS as before; `trust_anchor` is the file
    for sealmail's `[dns] trust_anchor = FILE` (one DS per signed zone, the
    format libunbound's ub_ctx_add_ta_file reads). `validate()` asks a second,
    validating unbound (forwarding to the first, with the same anchors) and
    returns "secure", "insecure" or "bogus"; `libunbound_status()` asks
    libunbound itself (ctypes), set up as sealmail sets it up.
  * `query()`: a DNS client returning header flags (AD, AA, TC), the answer
    and authority sections decoded (RRSIG, TLSA, TXT, ...); TCP on TC.
  * `tlsa_data()` / `tlsa_rr()`: the TLSA record of a certificate (usage
    0..3, selector 0/1, matching type 0/1/2) from a PEM file or harness.Cert.

One trust anchor per signed zone (no signed root): every zone no anchor
covers is insecure, which is how the insecure kind is made.
"""

import base64
import ctypes
import ctypes.util
import hashlib
import os
import re
import socket
import ssl
import struct
import subprocess
import time

import harness
import outbound

LDNS_PACKAGE = "ldnsutils"
ALGORITHM = "ECDSAP256SHA256"
KINDS = ("secure", "insecure", "bogus")
# RRsets whose signatures a "bogus" zone breaks by default: what the tests ask for.
BOGUS_TYPES = ("MX", "TLSA", "A", "AAAA", "TXT", "CNAME")
RECORD_TYPES = ("A", "AAAA", "MX", "TXT", "TLSA", "CNAME", "NS", "SOA")

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28,
         "DS": 43, "RRSIG": 46, "NSEC": 47, "DNSKEY": 48, "NSEC3": 50, "NSEC3PARAM": 51,
         "TLSA": 52, "ANY": 255}
TYPE_NAMES = {v: k for k, v in TYPES.items()}


def need_ldns():
    """Paths of (ldns-keygen, ldns-signzone); fails naming the package."""
    return (harness.need_tool("ldns-keygen", LDNS_PACKAGE),
            harness.need_tool("ldns-signzone", LDNS_PACKAGE))


def absolute(name, origin=None):
    """NAME as an absolute, lower-case name. A relative name (not ending in
    '.', not ORIGIN nor under it) is taken relative to ORIGIN; "@" or "" is
    ORIGIN itself."""
    name = name.strip().lower()
    if origin is not None:
        origin = absolute(origin)
        if name in ("", "@"):
            return origin
        if not name.endswith("."):
            if name + "." == origin or (name + ".").endswith("." + origin):
                return name + "."
            return name + "." + origin
    return name if name.endswith(".") else name + "."


# ---------------------------------------------------------------------------
# Zones
# ---------------------------------------------------------------------------

class Zone:
    """A test zone. RECORDS: (owner, type, data) tuples, owner absolute
    ("mx.secure.test") or relative to NAME ("mx", "@"); data in zone-file
    syntax ("10 mx.secure.test.", "127.11.0.3", '"v=STSv1; id=1"',
    "3 1 1 ABCD..."). An SOA and NS (ns.NAME, A 127.0.0.1) are added when
    missing.

    KIND: "secure", "insecure" or "bogus" (see the module comment).
    CORRUPT: RRsets whose RRSIGs are broken, each a type ("TLSA": every
      RRset of that type) or an (owner, type) pair; default () for secure,
      BOGUS_TYPES for bogus. Not allowed for insecure.
    EXPIRED: sign with inception and expiration in the past (bogus).
    SPLIT_KEYS: a KSK (its DS is the anchor) + a ZSK instead of one CSK.
    NSEC3: deny with NSEC3 instead of NSEC.
    TTL: of every record without its own.

    make(DIRECTORY) writes the zone (signed for secure/bogus); then
    `zonefile` is the file to serve, and for signed zones `ds` / `dnskey`
    hold the trust-anchor lines (zone-file syntax)."""

    def __init__(self, name, records=(), kind="secure", corrupt=None, expired=False,
                 split_keys=False, nsec3=False, ttl=60):
        if kind not in KINDS:
            raise ValueError("zone kind %r: one of %r" % (kind, KINDS))
        self.name = absolute(name)
        self.kind = kind
        self.signed = kind != "insecure"
        # Named RRsets must exist; the default needs only one of them to.
        self._corrupt_default = corrupt is None and kind == "bogus"
        if corrupt is None:
            corrupt = BOGUS_TYPES if kind == "bogus" else ()
        if corrupt and not self.signed:
            raise ValueError("an insecure zone has no signatures to corrupt")
        self.corrupt = [c.upper() if isinstance(c, str) else (absolute(c[0], self.name),
                                                               c[1].upper())
                        for c in corrupt]
        self.expired = expired
        self.split_keys = split_keys
        self.nsec3 = nsec3
        self.ttl = ttl
        self.records = []
        for owner, rtype, data in records:
            rtype = rtype.upper()
            if rtype not in RECORD_TYPES:
                raise ValueError("record type %s: one of %r" % (rtype, RECORD_TYPES))
            owner = absolute(owner, self.name)
            if owner != self.name and not owner.endswith("." + self.name):
                raise ValueError("%s is not in zone %s" % (owner, self.name))
            self.records.append((owner, rtype, data))
        self.dir = None
        self.zonefile = None   # the file unbound serves
        self.ds = ""           # DS anchor lines (signed zones)
        self.dnskey = ""       # DNSKEY anchor lines (signed zones)
        self.broken = []       # (owner, type) of the RRsets whose RRSIG was broken
        self._keys = []
        self.serial = 1

    def __repr__(self):
        return "Zone(%s %s)" % (self.name, self.kind)

    def zone_text(self):
        recs = list(self.records)
        if not any(t == "SOA" for _, t, _ in recs):
            recs.insert(0, (self.name, "SOA", "ns.%s hostmaster.%s %d 3600 600 86400 60"
                            % (self.name, self.name, self.serial)))
        if not any(t == "NS" and o == self.name for o, t, _ in recs):
            recs.insert(1, (self.name, "NS", "ns.%s" % self.name))
            if not any(o == "ns." + self.name for o, _, _ in recs):
                recs.append(("ns." + self.name, "A", "127.0.0.1"))
        lines = ["$ORIGIN %s" % self.name, "$TTL %d" % self.ttl]
        lines += ["%s %d IN %s %s" % (o, self.ttl, t, d) for o, t, d in recs]
        return "\n".join(lines) + "\n"

    def make(self, directory=None):
        """Writes (and signs) the zone under DIRECTORY; returns self."""
        self.dir = directory or self.dir or harness.new_tmpdir("zone-")
        os.makedirs(self.dir, mode=0o755, exist_ok=True)
        base = os.path.join(self.dir, self.name.rstrip(".") or "root")
        src = base + ".zone"
        with open(src, "w") as f:
            f.write(self.zone_text())
        if not self.signed:
            self.zonefile = src
            return self
        keygen, signzone = need_ldns()
        if not self._keys:  # a zone made again keeps its keys (and its anchor)
            self._keys = [self._keygen(keygen, ksk=True)]
            if self.split_keys:
                self._keys.append(self._keygen(keygen, ksk=False))
        keys = self._keys
        self.broken = []
        now = int(time.time())
        if self.expired:
            inception, expiration = now - 10 * 86400, now - 3 * 86400
        else:
            inception, expiration = now - 86400, now + 14 * 86400
        out = base + ".signed"
        argv = [signzone, "-i", str(inception), "-e", str(expiration), "-f", out]
        if self.nsec3:
            argv += ["-n", "-t", "0"]
        harness.run(argv + [src] + [os.path.join(self.dir, k) for k in keys])
        with open(out) as f:
            signed = f.read()
        if self.corrupt:
            signed = self._corrupt(signed)
            with open(out, "w") as f:
                f.write(signed)
        self.zonefile = out
        ksk = os.path.join(self.dir, keys[0])
        with open(ksk + ".ds") as f:
            self.ds = _with_ttl(f.read(), 3600)
        with open(ksk + ".key") as f:
            self.dnskey = _with_ttl(f.read(), 3600)
        return self

    def set_records(self, records):
        """New RECORDS (as for the constructor) for a zone made already: made
        again, signed with the same keys, the SOA serial one up. Serve them
        with TestDNS.update()."""
        self.records = []
        for owner, rtype, data in records:
            self.records.append((absolute(owner, self.name), rtype.upper(), data))
        self.serial += 1
        return self.make(self.dir)

    def _keygen(self, keygen, ksk):
        argv = [keygen, "-a", ALGORITHM, "-r", "/dev/urandom"]
        if ksk:
            argv.append("-k")
        p = subprocess.run(argv + [self.name], cwd=self.dir, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        if p.returncode != 0:
            raise AssertionError("ldns-keygen failed for %s: %s"
                                 % (self.name, p.stderr.decode(errors="replace")))
        return p.stdout.decode().strip()

    def _wants_broken(self, owner, covered):
        for c in self.corrupt:
            if c == covered or c == (owner, covered):
                return True
        return False

    def _corrupt(self, signed):
        out = []
        for line in signed.splitlines():
            f = line.split()
            # OWNER TTL IN RRSIG COVERED ALG LABELS OTTL EXP INC TAG SIGNER SIG...
            if len(f) >= 13 and f[3] == "RRSIG" and self._wants_broken(f[0].lower(), f[4]):
                sig = bytearray(base64.b64decode("".join(f[12:])))
                sig[len(sig) // 2] ^= 0x5A
                line = "\t".join(f[:12] + [base64.b64encode(bytes(sig)).decode()])
                self.broken.append((f[0].lower(), f[4]))
            out.append(line)
        missing = [c for c in self.corrupt
                   if not any(c == t or c == (o, t) for o, t in self.broken)]
        if self._corrupt_default and self.broken:
            missing = []
        if missing:
            raise AssertionError("zone %s: nothing signed to corrupt for %r"
                                 % (self.name, missing))
        return "\n".join(out) + "\n"


def _with_ttl(text, ttl):
    """RR lines 'NAME IN TYPE ...' (ldns writes DS without a TTL) as
    'NAME TTL IN TYPE ...', comments dropped."""
    out = []
    for line in text.splitlines():
        line = line.split(";", 1)[0].strip()
        if not line:
            continue
        f = line.split()
        if len(f) > 2 and f[1] == "IN":
            f.insert(1, str(ttl))
        out.append(" ".join(f))
    return "\n".join(out) + "\n"


def secure_zone(name, records=(), **kw):
    return Zone(name, records, kind="secure", **kw)


def insecure_zone(name, records=(), **kw):
    return Zone(name, records, kind="insecure", **kw)


def bogus_zone(name, records=(), **kw):
    return Zone(name, records, kind="bogus", **kw)


def write_trust_anchor(zones, path, form="ds"):
    """Writes the anchors (FORM "ds" or "dnskey") of every signed zone of
    ZONES to PATH; returns PATH. An empty file when none is signed."""
    with open(path, "w") as f:
        for z in zones:
            if z.signed:
                f.write(z.ds if form == "ds" else z.dnskey)
    return path


# ---------------------------------------------------------------------------
# The authoritative server and a validating resolver
# ---------------------------------------------------------------------------

class TestDNS(outbound.Unbound):
    """An unbound on 127.0.0.1:PORT serving ZONES (Zone objects, made here
    unless made already) authoritatively with their DNSSEC records, and
    RECORDS (outbound.Unbound's unsigned local-data, outside every anchor).
    Any other name is NXDOMAIN.

      resolver()      "127.0.0.1:PORT" for sealmail's `[dns] resolver`
      trust_anchor    path for `[dns] trust_anchor` (DS of every signed zone;
                      ANCHOR_FORM "dnskey" writes the DNSKEYs instead)
      validate(name, type)  "secure" | "insecure" | "bogus" per a validating
                      unbound forwarding here with the same anchors
      validating_query(name, type)  that resolver's whole Reply
      query_dnssec(name, type)  this server's Reply to a DO query
    """

    def __init__(self, zones, records=(), anchor_form="ds", start=True):
        outbound.Unbound.__init__(self, records, start=False, auth_zones=zones)
        for z in self.auth_zones:
            if z.zonefile is None:
                z.make(os.path.join(self.dir, "zones", z.name.rstrip(".")))
        self.trust_anchor = write_trust_anchor(
            self.auth_zones, os.path.join(self.dir, "trust-anchor.txt"), anchor_form)
        self.validator = None
        if start:
            self.start()

    def zone(self, name):
        name = absolute(name)
        for z in self.auth_zones:
            if z.name == name:
                return z
        raise KeyError(name)

    def query_dnssec(self, name, qtype="A"):
        return query("127.0.0.1", self.port, name, qtype, dnssec=True)

    def validating_query(self, name, qtype="A"):
        if self.validator is None or self.validator.proc is None:
            self.validator = ValidatingUnbound(self.port, self.trust_anchor)
        return self.validator.query(name, qtype)

    def validate(self, name, qtype="A"):
        return self.validating_query(name, qtype).status()

    def update(self, zone_name, records):
        """Replaces the records of the zone ZONE_NAME while it is served (e.g.
        a new MTA-STS id): re-signed with the same keys, reloaded with
        unbound-control; returns once this server answers its new SOA
        serial. A resolver that cached the old answers keeps them for
        their TTL: give such zones a short one (Zone(ttl=1))."""
        z = self.zone(zone_name)
        z.set_records(records)
        ctl = harness.need_tool("unbound-control", "unbound")
        harness.run([ctl, "-c", self.conf, "auth_zone_reload", z.name])
        harness.run([ctl, "-c", self.conf, "flush_zone", z.name])

        def serial():
            soa = query("127.0.0.1", self.port, z.name, "SOA").data("SOA")
            return soa and soa[0].split()[2] == str(z.serial)
        harness.wait_for(serial, what="unbound to serve serial %d of %s" % (z.serial, z.name))
        if self.validator is not None:
            self.validator.stop()
            self.validator = None

    def libunbound_status(self, name, qtype="A"):
        """(status, rcode, why_bogus) from libunbound itself with this
        server and trust_anchor, set up as sealmail sets it up."""
        return libunbound_status(self.port, self.trust_anchor, name, qtype)

    def stop(self):
        if self.validator is not None:
            self.validator.stop()
            self.validator = None
        outbound.Unbound.stop(self)


class ValidatingUnbound(outbound.Daemon):
    """A validating unbound on 127.0.0.1 forwarding everything to
    127.0.0.1:UPSTREAM with TRUST_ANCHOR: the same setup sealmail's libunbound
    has (forwarder + anchor file), used to check what the zones validate to."""

    def __init__(self, upstream, trust_anchor):
        outbound.need_unbound()
        self.upstream = upstream
        self.trust_anchor = trust_anchor
        self.dir = harness.new_tmpdir("validator-")
        self.conf = os.path.join(self.dir, "unbound.conf")
        self.log_path = os.path.join(self.dir, "unbound.log")
        self.proc = None
        self._logf = None
        self.port = None
        self.start()

    def config_text(self):
        return "\n".join([
            "server:",
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
            "    val-log-level: 2",
            "    do-not-query-localhost: no",
            '    module-config: "validator iterator"',
            '    trust-anchor-file: "%s"' % self.trust_anchor,
            "    access-control: 127.0.0.0/8 allow",
            '    local-zone: "test." nodefault',
            "forward-zone:",
            '    name: "."',
            "    forward-addr: 127.0.0.1@%d" % self.upstream,
            ""])

    def start(self):
        self.port = outbound.free_udp_tcp_port()
        with open(self.conf, "w") as f:
            f.write(self.config_text())
        self._logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen([outbound.UNBOUND, "-d", "-c", self.conf],
                                     stdin=subprocess.DEVNULL, stdout=self._logf,
                                     stderr=self._logf, start_new_session=True, cwd=self.dir)

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("validating unbound exited (rc=%s):\n%s"
                                     % (self.proc.returncode, self.log()))
            try:
                query("127.0.0.1", self.port, ".", "NS", timeout=0.3)
            except OSError:
                return False
            return True
        harness.wait_for(ready, what="validating unbound on port %d" % self.port)

    def query(self, name, qtype="A"):
        return query("127.0.0.1", self.port, name, qtype, dnssec=True)


# ---------------------------------------------------------------------------
# What libunbound itself says (ctypes: the library sealmail links)
# ---------------------------------------------------------------------------

class _UbResult(ctypes.Structure):
    # struct ub_result of unbound.h (libunbound 1.17)
    _fields_ = [("qname", ctypes.c_char_p), ("qtype", ctypes.c_int), ("qclass", ctypes.c_int),
                ("data", ctypes.POINTER(ctypes.c_void_p)), ("len", ctypes.POINTER(ctypes.c_int)),
                ("canonname", ctypes.c_char_p), ("rcode", ctypes.c_int),
                ("answer_packet", ctypes.c_void_p), ("answer_len", ctypes.c_int),
                ("havedata", ctypes.c_int), ("nxdomain", ctypes.c_int),
                ("secure", ctypes.c_int), ("bogus", ctypes.c_int),
                ("why_bogus", ctypes.c_char_p), ("was_ratelimited", ctypes.c_int),
                ("ttl", ctypes.c_int)]


_libunbound = []


def _ub():
    if not _libunbound:
        path = ctypes.util.find_library("unbound")
        if path is None:
            raise AssertionError("libunbound not found: install the Debian package "
                                 "libunbound8 (libunbound-dev, scripts/deps)")
        lib = ctypes.CDLL(path)
        lib.ub_ctx_create.restype = ctypes.c_void_p
        for f in ("ub_ctx_set_fwd", "ub_ctx_add_ta_file", "ub_ctx_zone_remove"):
            getattr(lib, f).argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.ub_resolve.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int,
                                   ctypes.POINTER(ctypes.POINTER(_UbResult))]
        lib.ub_resolve_free.argtypes = [ctypes.POINTER(_UbResult)]
        lib.ub_ctx_delete.argtypes = [ctypes.c_void_p]
        lib.ub_strerror.restype = ctypes.c_char_p
        _libunbound.append(lib)
    return _libunbound[0]


def libunbound_status(port, trust_anchor, name, qtype="A"):
    """Resolves NAME/QTYPE with libunbound set up as sealmail sets it up
    (forwarder 127.0.0.1@PORT, "test." not answered locally, TRUST_ANCHOR
    file). Returns (status, rcode, why_bogus): status "secure", "insecure"
    or "bogus"."""
    lib = _ub()
    ctx = lib.ub_ctx_create()
    if not ctx:
        raise AssertionError("ub_ctx_create failed")
    try:
        for err in (lib.ub_ctx_set_fwd(ctx, b"127.0.0.1@%d" % port),
                    lib.ub_ctx_add_ta_file(ctx, trust_anchor.encode())):
            if err != 0:
                raise AssertionError("libunbound: %s" % lib.ub_strerror(err).decode())
        lib.ub_ctx_zone_remove(ctx, b"test.")
        res = ctypes.POINTER(_UbResult)()
        qt = TYPES[qtype.upper()] if isinstance(qtype, str) else qtype
        err = lib.ub_resolve(ctx, absolute(name).encode(), qt, 1, ctypes.byref(res))
        if err != 0:
            raise AssertionError("ub_resolve %s: %s" % (name, lib.ub_strerror(err).decode()))
        r = res.contents
        status = "bogus" if r.bogus else "secure" if r.secure else "insecure"
        out = (status, r.rcode, (r.why_bogus or b"").decode(errors="replace"))
        lib.ub_resolve_free(res)
        return out
    finally:
        lib.ub_ctx_delete(ctx)


# ---------------------------------------------------------------------------
# A DNS client that shows DNSSEC
# ---------------------------------------------------------------------------

RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


class RR:
    def __init__(self, owner, rtype, ttl, data):
        self.owner = owner   # absolute, lower case
        self.type = rtype    # "MX", "RRSIG", or the number as a string
        self.ttl = ttl
        self.data = data     # zone-file-like text (see _rdata_text)

    def __repr__(self):
        return "%s %d %s %s" % (self.owner, self.ttl, self.type, self.data)


class Reply:
    def __init__(self, rcode, flags, answer, authority):
        self.rcode = rcode          # int
        self.flags = flags          # the header flags word
        self.answer = answer        # [RR]
        self.authority = authority  # [RR]

    @property
    def rcode_name(self):
        return RCODES.get(self.rcode, str(self.rcode))

    @property
    def ad(self):
        return bool(self.flags & 0x0020)

    @property
    def aa(self):
        return bool(self.flags & 0x0400)

    def data(self, rtype):
        """The data of the answer records of RTYPE (e.g. "MX" -> ["10 mx.a.test."])."""
        return [r.data for r in self.answer if r.type == rtype.upper()]

    def rrsigs(self, covered=None):
        return [r for r in self.answer if r.type == "RRSIG" and
                (covered is None or r.data.split()[0] == covered.upper())]

    def status(self):
        """From a validating resolver: AD = "secure", SERVFAIL = "bogus",
        else "insecure"."""
        if self.rcode == 2:
            return "bogus"
        return "secure" if self.ad else "insecure"

    def __repr__(self):
        return "Reply(%s%s answer=%r authority=%r)" % (
            self.rcode_name, " AD" if self.ad else "", self.answer, self.authority)


def _name_text(msg, off):
    name, end = outbound._read_name(msg, off)
    return name.lower(), end


def _rdata_text(msg, off, rtype, rdata):
    if rtype == 1:
        return socket.inet_ntop(socket.AF_INET, rdata)
    if rtype == 28:
        return socket.inet_ntop(socket.AF_INET6, rdata)
    if rtype in (2, 5):
        return _name_text(msg, off)[0]
    if rtype == 15:
        return "%d %s" % (struct.unpack(">H", rdata[:2])[0], _name_text(msg, off + 2)[0])
    if rtype == 16:
        parts, i = [], 0
        while i < len(rdata):
            n = rdata[i]
            parts.append(rdata[i + 1:i + 1 + n].decode("utf-8", "replace"))
            i += 1 + n
        return " ".join('"%s"' % p.replace("\\", "\\\\").replace('"', '\\"') for p in parts)
    if rtype == 52:
        return "%d %d %d %s" % (rdata[0], rdata[1], rdata[2], rdata[3:].hex())
    if rtype == 43:
        tag, alg, dt = struct.unpack(">HBB", rdata[:4])
        return "%d %d %d %s" % (tag, alg, dt, rdata[4:].hex())
    if rtype == 48:
        fl, proto, alg = struct.unpack(">HBB", rdata[:4])
        return "%d %d %d %s" % (fl, proto, alg, base64.b64encode(rdata[4:]).decode())
    if rtype == 46:
        cov, alg, labels, ottl, exp, inc, tag = struct.unpack(">HBBIIIH", rdata[:18])
        signer, end = outbound._read_name(rdata, 18)
        return "%s %d %d %d %d %d %d %s %s" % (
            TYPE_NAMES.get(cov, str(cov)), alg, labels, ottl, exp, inc, tag, signer.lower(),
            base64.b64encode(rdata[end:]).decode())
    if rtype == 6:
        mname, o = _name_text(msg, off)
        rname, o = _name_text(msg, o)
        return "%s %s %s" % (mname, rname, " ".join(
            str(x) for x in struct.unpack(">IIIII", msg[o:o + 20])))
    return rdata.hex()


def _parse(msg):
    flags, qd, an, ns, _ar = struct.unpack(">HHHHH", msg[2:12])
    off = 12
    for _ in range(qd):
        _, off = outbound._read_name(msg, off)
        off += 4
    sections = []
    for count in (an, ns):
        rrs = []
        for _ in range(count):
            owner, off = _name_text(msg, off)
            rtype, _rclass, ttl, rdlen = struct.unpack(">HHIH", msg[off:off + 10])
            off += 10
            rdata = msg[off:off + rdlen]
            rrs.append(RR(owner, TYPE_NAMES.get(rtype, str(rtype)), ttl,
                          _rdata_text(msg, off, rtype, rdata)))
            off += rdlen
        sections.append(rrs)
    return Reply(flags & 0xF, flags, sections[0], sections[1])


def query(server, port, name, qtype="A", dnssec=False, timeout=1.0):
    """One query (RD set; with DNSSEC: EDNS0 with DO and the AD bit); over
    TCP when the UDP reply is truncated. Returns a Reply."""
    qt = TYPES[qtype.upper()] if isinstance(qtype, str) else qtype
    qid = os.urandom(2)
    flags = 0x0100 | (0x0020 if dnssec else 0)
    pkt = qid + struct.pack(">HHHHH", flags, 1, 0, 0, 1 if dnssec else 0) + \
        outbound._encode_name(name) + struct.pack(">HH", qt, 1)
    if dnssec:
        pkt += b"\0" + struct.pack(">HHIH", 41, 4096, 0x8000, 0)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(pkt, (server, port))
        while True:
            msg = s.recv(65535)
            if msg[:2] == qid:
                break
    if struct.unpack(">H", msg[2:4])[0] & 0x0200:  # TC
        with socket.create_connection((server, port), timeout=timeout) as t:
            t.sendall(struct.pack(">H", len(pkt)) + pkt)
            buf = b""
            while len(buf) < 2 or len(buf) < 2 + struct.unpack(">H", buf[:2])[0]:
                chunk = t.recv(65535)
                if not chunk:
                    raise OSError("DNS over TCP: connection closed")
                buf += chunk
            msg = buf[2:]
    return _parse(msg)


# ---------------------------------------------------------------------------
# TLSA
# ---------------------------------------------------------------------------

def _first_cert_pem(cert):
    path = cert.cert if isinstance(cert, harness.Cert) else cert
    with open(path) as f:
        text = f.read()
    m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", text, re.S)
    if not m:
        raise AssertionError("no certificate in %s" % path)
    return m.group(0) + "\n"


def cert_der(cert):
    """DER of the first certificate in CERT (a harness.Cert or a PEM path)."""
    return ssl.PEM_cert_to_DER_cert(_first_cert_pem(cert))


def spki_der(cert):
    """DER of the SubjectPublicKeyInfo of the first certificate in CERT."""
    openssl = harness.need_tool("openssl", "openssl")
    p = subprocess.run([openssl, "x509", "-noout", "-pubkey"], input=_first_cert_pem(cert).encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, check=True)
    q = subprocess.run([openssl, "pkey", "-pubin", "-outform", "DER"], input=p.stdout,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, check=True)
    return q.stdout


def tlsa_data(cert, usage=3, selector=1, mtype=1):
    """TLSA RDATA text "USAGE SELECTOR MTYPE HEX" for CERT (harness.Cert or
    PEM path; the first certificate of a chain file: for usage 2 pass the
    CA's, e.g. harness.ca().cert). SELECTOR 0 = whole certificate, 1 = SPKI;
    MTYPE 0 = full, 1 = SHA-256, 2 = SHA-512."""
    if usage not in (0, 1, 2, 3) or selector not in (0, 1) or mtype not in (0, 1, 2):
        raise ValueError("TLSA %r %r %r" % (usage, selector, mtype))
    blob = cert_der(cert) if selector == 0 else spki_der(cert)
    if mtype == 1:
        blob = hashlib.sha256(blob).digest()
    elif mtype == 2:
        blob = hashlib.sha512(blob).digest()
    return "%d %d %d %s" % (usage, selector, mtype, blob.hex())


def tlsa_rr(host, cert, port=25, usage=3, selector=1, mtype=1):
    """The record (owner, "TLSA", data) for _PORT._tcp.HOST, for a Zone."""
    return ("_%d._tcp.%s" % (port, absolute(host)), "TLSA",
            tlsa_data(cert, usage, selector, mtype))
