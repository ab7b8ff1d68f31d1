#!/usr/bin/env python3
"""Small helpers for bench/run (standard library only).

  freeport                      print a free TCP port on 127.0.0.1
  waitport PORT SECONDS [PID] [--tls]  wait until 127.0.0.1:PORT answers with
                                a 220 greeting (after a TLS handshake with
                                --tls); fail early if PID dies
  ourpids TAG [ENV...]          pids of the processes this run started
  count DIR                     print the number of entries in DIR (0 if absent)
  round ...                     run one smtp-source or smtpload round and time
                                it, counting arrivals in a Maildir, at
                                bench/tls-sink or at smtp-sink
  record FILE TAG WHO ROUND K=V...  append one measurement to the results file
  fsync DIR OPS                 the disk's rate of create+write 4 KiB+fsync, and
                                with rename and directory fsync
  rss PID                       VmRSS (KiB) of PID and all its descendants, once
                                it has stopped changing
  irsum DIR                     instructions (Ir) summed over callgrind.out.*
  median FILE TAG WHO METRIC    the median of one figure in the results file
  totalcheck FILE               each Maildir and sink holds exactly what was
                                sent to it in all the rounds
  idle ...                      memory of idle connections (smtpload -i)
  table ...                     medians and the inbound result table
  relaytable ...                medians and the relay result table
  bigtable ...                  the one table of every row (lib/benchtable.py)
"""
import argparse
import ctypes
import json
import os
import resource
import signal
import socket
import ssl
import statistics
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchtable  # noqa: E402


def count_entries(path):
    try:
        with os.scandir(path) as it:
            return sum(1 for _ in it)
    except FileNotFoundError:
        return 0


def cmd_freeport(_args):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child still "exists"; look at /proc for its state
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def cmd_waitport(args):
    deadline = time.monotonic() + args.seconds
    last = "no answer"
    while time.monotonic() < deadline:
        if args.pid and not pid_alive(args.pid):
            print(f"waitport: process {args.pid} exited", file=sys.stderr)
            return 1
        try:
            with socket.create_connection(("127.0.0.1", args.port), timeout=2) as s:
                s.settimeout(5)
                if args.tls:  # implicit TLS: the greeting comes after the handshake
                    ctx = ssl.create_default_context()
                    ctx.check_hostname = False
                    ctx.verify_mode = ssl.CERT_NONE
                    s = ctx.wrap_socket(s)
                greeting = s.recv(512).decode("ascii", "replace")
                try:
                    s.sendall(b"QUIT\r\n")
                    s.recv(512)
                except OSError:
                    pass
                if greeting.startswith("220"):
                    return 0
                last = "greeting " + repr(greeting.strip())
        except (OSError, ssl.SSLError) as e:
            last = str(e)
        time.sleep(0.1)
    print(f"waitport: 127.0.0.1:{args.port} not ready after {args.seconds}s: {last}",
          file=sys.stderr)
    return 1


def cmd_ourpids(args):
    """Print pids (other than ours and our parent's) whose command line
    mentions TAG or whose environment holds one of the exact ENV entries."""
    skip = {os.getpid(), os.getppid()} | set(args.skip)
    tag = args.tag.encode()
    env = {e.encode() for e in args.env if e}
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) in skip:
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                hit = tag in f.read()
            if not hit and env:
                with open(f"/proc/{d}/environ", "rb") as f:
                    hit = not env.isdisjoint(f.read().split(b"\0"))
        except OSError:
            continue
        if hit:
            print(d)


def cmd_count(args):
    print(count_entries(args.dir))


class MaildirCounter:
    """Counts the names that have appeared in a directory (a Maildir's new/).

    With inotify (through ctypes) a count costs one read(2) of the pending
    events; a rescan with os.scandir costs ~10 ms of CPU per 20,000 entries,
    which at one poll every 20 ms would take a good part of a CPU away from
    the servers being measured. Falls back to rescanning when inotify is not
    available, and rescans on an event queue overflow. The directory may not
    exist yet (sealmail makes the Maildir on first delivery)."""

    IN_MOVED_TO = 0x80
    IN_CREATE = 0x100
    IN_Q_OVERFLOW = 0x4000
    IN_NONBLOCK = 0o4000
    IN_CLOEXEC = 0o2000000
    EVENT = struct.Struct("iIII")

    def __init__(self, path, use_inotify=True):
        self.path = os.fsencode(path)
        self.names = set()
        self.fd = None
        self.wd = None
        self.libc = None
        if use_inotify:
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                fd = libc.inotify_init1(self.IN_NONBLOCK | self.IN_CLOEXEC)
                if fd >= 0:
                    self.libc, self.fd = libc, fd
            except (OSError, AttributeError):
                pass

    @property
    def method(self):
        return "inotify" if self.fd is not None else "scandir"

    def _rescan(self):
        try:
            with os.scandir(self.path) as it:
                self.names.update(e.name for e in it)
        except FileNotFoundError:
            pass

    def count(self):
        if self.fd is None:
            return count_entries(self.path)
        if self.wd is None:
            wd = self.libc.inotify_add_watch(
                self.fd, self.path, self.IN_CREATE | self.IN_MOVED_TO)
            if wd < 0:
                return 0  # not there yet
            self.wd = wd
            self._rescan()  # what landed before the watch
        while True:
            try:
                buf = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                break
            off = 0
            while off < len(buf):
                _wd, mask, _cookie, ln = self.EVENT.unpack_from(buf, off)
                name = buf[off + 16:off + 16 + ln].rstrip(b"\0")
                off += 16 + ln
                if mask & self.IN_Q_OVERFLOW:
                    self._rescan()
                elif name:
                    self.names.add(name)
        return len(self.names)

    def close(self):
        if self.fd is not None:
            os.close(self.fd)


class SinkCounter:
    """Reads the counters bench/tls-sink writes (one "key=value ..." line,
    replaced with rename(2) every 20 ms when something changed)."""

    method = "sink"
    KEYS = ("messages", "connections", "tls", "resumed", "tls_failed",
            "aborted", "rejected")

    def __init__(self, path):
        self.path = path

    def stats(self):
        with open(self.path) as f:
            line = f.read()
        d = {}
        for item in line.split():
            k, _, v = item.partition("=")
            if v.isdigit():
                d[k] = int(v)
        return d

    def count(self):
        return self.stats()["messages"]

    def close(self):
        pass


class SmtpSinkCounter:
    """Reads the running counters Postfix's smtp-sink -c writes to its stdout
    ("sess=N quit=N mesg=N", records separated by carriage returns); the
    last complete record is the current count."""

    method = "smtp-sink"

    def __init__(self, path):
        self.path = path

    def count(self):
        with open(self.path, "rb") as f:
            try:
                f.seek(-4096, os.SEEK_END)
            except OSError:
                f.seek(0)
            tail = f.read().decode("ascii", "replace")
        # the record being written may be cut: take the last whole one
        # the record being written may be cut short: a count read too low
        # only means one more poll
        recs = [r for r in tail.replace("\n", "\r").split("\r") if "mesg=" in r]
        for rec in reversed(recs):
            for item in rec.split():
                k, _, v = item.partition("=")
                if k == "mesg" and v.isdigit():
                    return int(v)
        return 0

    def close(self):
        pass


def client_command(args):
    """The load client's command line for a round (smtp-source or smtpload)."""
    n = args.messages
    if args.client == "smtp-source":
        cmd = [args.smtp_source, "-s", str(args.sessions), "-m", str(n),
               "-l", str(args.size)]
        if args.reuse:
            cmd.append("-d")
        return cmd + ["-f", args.sender, "-t", args.rcpt, f"127.0.0.1:{args.port}"]
    cmd = [args.smtpload, "-j", "-s", str(args.sessions), "-m", str(n),
           "-l", str(args.size), "-T", args.transport, "-f", args.sender,
           "-t", args.rcpt]
    if not args.reuse:
        cmd.append("-N")
    if args.resume:
        cmd.append("-R")
    if args.rate:
        cmd += ["-q", str(args.rate)]
    return cmd + [f"127.0.0.1:{args.port}"]


def make_counter(args):
    if args.sink_counts:
        return SinkCounter(args.sink_counts), "at the sink"
    if args.smtp_sink_out:
        return SmtpSinkCounter(args.smtp_sink_out), "at smtp-sink"
    return (MaildirCounter(args.maildir, use_inotify=not args.scan),
            "in " + args.maildir)


def final_count(args, counter, start):
    """The round's arrivals by a method that cannot miss or double-count:
    a plain listing of new/, or the sink's own totals."""
    if args.sink_counts:
        end = counter.stats()
        return end["messages"] - start["messages"], {
            "sink": {k: end.get(k, 0) - start.get(k, 0) for k in SinkCounter.KEYS}}
    if args.smtp_sink_out:
        return counter.count() - start, {}
    return count_entries(args.maildir) - start, {}


def cmd_round(args):
    """Run the load client once; time (a) until it exits and (b) until N
    more messages have arrived (Maildir new/, bench/tls-sink or smtp-sink).
    Prints one JSON line, and appends it to --record when given. Fails when
    the client reports an error or when fewer or more than N arrive."""
    n = args.messages
    counter, where = make_counter(args)
    if args.sink_counts:
        start = counter.stats()
    elif args.smtp_sink_out:
        start = counter.count()
    else:
        start = count_entries(args.maildir)
    base = counter.count()
    target = base + n
    cmd = client_command(args)
    poll = args.poll_ms / 1000.0

    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # Count while the client runs too: on a fast server the last message
    # can land before the client has noticed the final reply.
    t_done = None
    while True:
        rc = proc.poll()
        if rc is not None:
            t_acc = time.monotonic()
            break
        if t_done is None and counter.count() >= target:
            t_done = time.monotonic()
        if time.monotonic() - t0 > args.timeout:
            proc.kill()
            proc.wait()
            print(f"round: {args.client} still running after {args.timeout}s",
                  file=sys.stderr)
            return 1
        time.sleep(poll)
    out = proc.stdout.read().decode("utf-8", "replace")
    err = proc.stderr.read().decode("utf-8", "replace")
    if rc != 0:
        print(f"round: {' '.join(cmd)}\nround: {args.client} exited {rc}:\n"
              f"{out}{err}", file=sys.stderr)
        return 1
    client = {}
    if args.client == "smtpload":
        try:
            client = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            print(f"round: smtpload printed no JSON: {out!r} {err!r}", file=sys.stderr)
            return 1
        if client.get("messages") != n:
            print(f"round: smtpload reports {client.get('messages')} messages, "
                  f"expected {n}", file=sys.stderr)
            return 1

    # Wait for the rest to land. Give up when nothing new has arrived for
    # --stall seconds (a lost message must not hang the benchmark).
    last_n, last_change = -1, time.monotonic()
    while t_done is None:
        c = counter.count()
        now = time.monotonic()
        if c >= target:
            t_done = now
            break
        if c != last_n:
            last_n, last_change = c, now
        elif now - last_change > args.stall:
            print(f"round: only {c - base} of {n} messages {where} "
                  f"(no progress for {args.stall}s; {args.client} took "
                  f"{t_acc - t0:.2f}s)", file=sys.stderr)
            return 1
        time.sleep(poll)
    counter.close()

    # Check with a plain listing (or the sink's own totals): anything beyond
    # N (duplicates, leftovers) would make the count lie. A duplicate that
    # comes later is caught by the next round's count, or by totalcheck at
    # the end of the run.
    final, extra = final_count(args, counter, start)
    acc = t_acc - t0
    e2e = t_done - t0
    rec = {"messages": n, "delivered": final, "counter": counter.method,
           "accepted_s": acc, "e2e_s": e2e,
           "accepted_rate": n / acc, "e2e_rate": n / e2e, **extra}
    if client:
        rec["client"] = client
        for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms", "connections", "tls", "resumed"):
            if k in client:
                rec[k] = client[k]
    else:
        rec["smtp_source_output"] = (out + err).strip()[-500:]
    rec["counted_at"] = os.path.abspath(args.maildir or args.sink_counts or args.smtp_sink_out)
    if args.record:
        rec.update({"tag": args.tag, "who": args.who, "round": args.round})
        with open(args.record, "a") as f:
            f.write(json.dumps(rec) + "\n")
    print(json.dumps(rec))
    if final != n:
        print(f"round: {final} messages {where}, expected {n}"
              f"{' (duplicates)' if final > n else ' (lost)'}", file=sys.stderr)
        return 1
    return 0


def cmd_record(args):
    """Appends {"tag", "who", "round", K: V...} to FILE (values as numbers
    where they parse)."""
    rec = {"tag": args.tag, "who": args.who, "round": args.round}
    for kv in args.values:
        k, _, v = kv.partition("=")
        try:
            rec[k] = float(v)
        except ValueError:
            rec[k] = v
    with open(args.file, "a") as f:
        f.write(json.dumps(rec) + "\n")


def cmd_fsync(args):
    """OPS times create+write 4 KiB+fsync+close, then OPS times the same to a
    temporary name plus rename and an fsync of the directory (how a
    per-message queue commits). Prints {"fsync_rate", "rename_rate"}."""
    d = os.path.join(args.dir, "fsync-probe")
    os.makedirs(d, exist_ok=True)
    block = b"x" * 4096
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        t0 = time.monotonic()
        for i in range(args.ops):
            fd = os.open(os.path.join(d, f"a{i}"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, block)
            os.fsync(fd)
            os.close(fd)
        t1 = time.monotonic()
        for i in range(args.ops):
            tmp, final = os.path.join(d, f"t{i}"), os.path.join(d, f"b{i}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, block)
            os.fsync(fd)
            os.close(fd)
            os.rename(tmp, final)
            os.fsync(dfd)
        t2 = time.monotonic()
    finally:
        os.close(dfd)
        for name in os.listdir(d):
            os.unlink(os.path.join(d, name))
        os.rmdir(d)
    print(json.dumps({"fsync_rate": args.ops / (t1 - t0),
                      "rename_rate": args.ops / (t2 - t1)}))


def tree_pids(root):
    """ROOT and every process below it (from /proc/PID/task/*/children)."""
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return out


def tree_rss_kib(root):
    total = 0
    for p in tree_pids(root):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def stable_rss(pid, timeout=30):
    """The RSS (KiB) of PID's process tree once three samples 100 ms apart
    agree within 0.5% (the server has finished with what just happened),
    or the last sample after TIMEOUT seconds."""
    deadline = time.monotonic() + timeout
    last = []
    while True:
        last = (last + [tree_rss_kib(pid)])[-3:]
        if len(last) == 3 and max(last) - min(last) <= max(last) * 0.005:
            return last[-1]
        if time.monotonic() > deadline:
            return last[-1]
        time.sleep(0.1)


def cmd_rss(args):
    """Prints {"rss_kib", "processes"} for PID's process tree (stable_rss)."""
    rss = stable_rss(args.pid, args.timeout)
    print(json.dumps({"rss_kib": rss, "processes": len(tree_pids(args.pid))}))


def cmd_totalcheck(args):
    """At the end of the run, with the queues empty and the sinks stopped:
    every Maildir and sink the rounds of FILE counted at must hold exactly
    the messages sent to it in all (a late duplicate of any round shows up
    here). A place emptied before a round (BENCH_EMPTY=1, an "emptied_at"
    record) is counted from there on. One line per place; exit 1 on a
    mismatch."""
    sent, method = {}, {}
    with open(args.file) as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                if r.get("emptied_at"):
                    sent[os.path.abspath(r["emptied_at"])] = 0
                elif r.get("counted_at"):
                    sent[r["counted_at"]] = sent.get(r["counted_at"], 0) + r["messages"]
                    method[r["counted_at"]] = r["counter"]
    bad = 0
    for where, n in sorted(sent.items()):
        if method.get(where) == "sink":
            got = SinkCounter(where).count()
        elif method.get(where) == "smtp-sink":
            got = SmtpSinkCounter(where).count()
        else:
            got = count_entries(where)
        bad += got != n
        print(f"totalcheck: {where}: {got} messages, sent {n}"
              f"{'' if got == n else ' MISMATCH'}", file=sys.stderr)
    return 1 if bad else 0


def cmd_median(args):
    """Prints the median of METRIC over the records of TAG and WHO in FILE
    (nothing, and exit 1, when there is none)."""
    vals = []
    try:
        with open(args.file) as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    if r.get("tag") == args.tag and r.get("who") == args.who \
                            and r.get(args.metric) is not None:
                        vals.append(r[args.metric])
    except FileNotFoundError:
        pass
    if not vals:
        return 1
    print(f"{statistics.median(vals):.0f}")
    return 0


def read_ready(proc, n, deadline):
    """Waits for smtpload -i's "smtpload: idle N ready" line; returns
    None or the reason it did not come."""
    want = f"smtpload: idle {n} ready"
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            return f"smtpload exited {proc.wait()} before it was ready"
        if line.decode("utf-8", "replace").strip() == want:
            return None
    return f"smtpload not ready after the deadline"


def cmd_idle(args):
    """Memory of idle connections: RSS of the server's process tree (PID),
    then after N/2 plain connections (smtpload -i on PLAIN_PORT), then after
    N/2 more over TLS (smtpload -i -T TRANSPORT on TLS_PORT). Prints and
    records {"rss_base_kib", "rss_total_mib", "per_conn_kib", ...}; both
    clients must end with exit 0 once their stdin is closed."""
    half = args.n // 2
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < half + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (half + 100, hard))
    procs = []

    def start(port, transport):
        p = subprocess.Popen([args.smtpload, "-i", str(half), "-T", transport, "-w", "120",
                              f"127.0.0.1:{port}"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        procs.append(p)
        why = read_ready(p, half, time.monotonic() + args.timeout)
        if why:
            raise RuntimeError(f"{transport} idle connections: {why}: "
                               f"{p.stderr.read().decode('utf-8', 'replace')[-500:]}")

    def rss():
        return stable_rss(args.pid)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        base = rss()
        start(args.plain_port, "none")
        plain = rss()
        start(args.tls_port, args.transport)
        both = rss()
        for p in procs:
            p.stdin.close()
        for p in procs:
            rc = p.wait(timeout=args.timeout)
            if rc != 0:
                raise RuntimeError(f"smtpload -i exited {rc}: "
                                   f"{p.stderr.read().decode('utf-8', 'replace')[-500:]}")
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        print(f"idle: {e}", file=sys.stderr)
        return 1
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    rec = {"tag": "memory", "who": "sealmail", "round": args.round,
           "connections": half * 2, "rss_base_kib": base, "rss_plain_kib": plain,
           "rss_all_kib": both, "rss_total_mib": both / 1024,
           "per_conn_kib": (both - base) / (half * 2),
           "per_plain_kib": (plain - base) / half, "per_tls_kib": (both - plain) / half}
    with open(args.record, "a") as f:
        f.write(json.dumps(rec) + "\n")
    print(json.dumps(rec))
    return 0


def cmd_irsum(args):
    """Sums the "totals:" (or "summary:") lines of DIR/callgrind.out.*; prints
    {"ir", "files"}. Fails when there is no such file or one has no total
    (a process that did not exit cleanly)."""
    total, files, bad = 0, 0, []
    for name in sorted(os.listdir(args.dir)):
        if not name.startswith("callgrind.out"):
            continue
        files += 1
        got = None
        with open(os.path.join(args.dir, name), errors="replace") as f:
            for line in f:
                if line.startswith(("totals:", "summary:")):
                    got = int(line.split()[1])
        if got is None:
            bad.append(name)
        else:
            total += got
    if files == 0 or bad or files < args.min_files:
        print(f"irsum: {files} callgrind files in {args.dir} (expected at least "
              f"{args.min_files}: one per process); without a total: "
              f"{' '.join(bad) or '-'}", file=sys.stderr)
        return 1
    print(json.dumps({"ir": total, "files": files}))
    return 0


def fmt_rate(x):
    return "-" if x is None else f"{x:.0f}"


def cmd_table(args):
    servers = {}
    for path in args.results:
        name = os.path.basename(path).split(".")[0]
        rows = []
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    rows.append(json.loads(line))
        servers[name] = rows

    def med(name, key):
        rows = servers.get(name) or []
        return statistics.median(r[key] for r in rows) if rows else None

    def ratio(a, b):
        return "-" if a is None or b is None or a == 0 else f"{b / a:.2f}x"

    lines = [args.header,
             f"{'':<21}{'postfix':<12}{'sealmail':<12}ratio"]
    for label, key in (("accepted msg/s", "accepted_rate"),
                       ("end-to-end msg/s", "e2e_rate")):
        p, s = med("postfix", key), med("sealmail", key)
        lines.append(f"{label:<21}{fmt_rate(p):<12}{fmt_rate(s):<12}{ratio(p, s)}")
    lines.append("")
    lines.append("rounds (accepted / end-to-end msg/s):")
    for name in ("postfix", "sealmail"):
        rows = servers.get(name)
        if rows:
            lines.append(f"  {name:<9}" + "  ".join(
                f"{r['accepted_rate']:.0f}/{r['e2e_rate']:.0f}" for r in rows))
    print("\n".join(lines))


def cmd_relaytable(args):
    """Files are named LEVEL.SERVER.jsonl (a "relay-" prefix is dropped)."""
    runs = {}  # level -> server -> rows
    levels = []
    for path in args.results:
        level, server = os.path.basename(path).split(".")[:2]
        level = level.removeprefix("relay-")
        if level not in levels:
            levels.append(level)
        rows = []
        if os.path.exists(path):
            with open(path) as f:
                rows = [json.loads(line) for line in f if line.strip()]
        runs.setdefault(level, {})[server] = rows

    def med(level, server, key):
        rows = runs.get(level, {}).get(server) or []
        return statistics.median(r[key] for r in rows) if rows else None

    def ratio(a, b):
        return "-" if a is None or b is None or a == 0 else f"{b / a:.2f}x"

    w = 26
    lines = [args.header, f"{'':<{w}}{'postfix':<12}{'sealmail':<12}ratio"]
    for key, label in (("e2e_rate", "relay {} msg/s"),
                       ("accepted_rate", "accepted {} msg/s")):
        for level in levels:
            p, s = med(level, "postfix", key), med(level, "sealmail", key)
            lines.append(f"{label.format(level):<{w}}{fmt_rate(p):<12}"
                         f"{fmt_rate(s):<12}{ratio(p, s)}")
    lines.append("")
    lines.append("relay = N / time from smtp-source's start until the sink counted N; "
                 "accepted = N / time until smtp-source exits")
    lines.append("rounds (relayed / accepted msg/s; connections to the sink, "
                 "TLS handshakes, resumed):")
    for level in levels:
        for server in ("postfix", "sealmail"):
            rows = runs.get(level, {}).get(server)
            if not rows:
                continue
            cells = []
            for r in rows:
                k = r.get("sink", {})
                cell = (f"{r['e2e_rate']:.0f}/{r['accepted_rate']:.0f} "
                        f"({k.get('connections', 0)} conn")
                if k.get("tls") or level != "may":
                    cell += f", {k.get('tls', 0)} tls, {k.get('resumed', 0)} res"
                odd = [f"{k[x]} {x}" for x in ("tls_failed", "aborted", "rejected")
                       if k.get(x)]
                cells.append(cell + "".join(", " + o for o in odd) + ")")
            lines.append(f"  {level:<8}{server:<9} " + "  ".join(cells))
    print("\n".join(lines))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("freeport").set_defaults(fn=cmd_freeport)
    p = sub.add_parser("waitport")
    p.add_argument("port", type=int)
    p.add_argument("seconds", type=float)
    p.add_argument("pid", type=int, nargs="?", default=0)
    p.add_argument("--tls", action="store_true", help="implicit TLS")
    p.set_defaults(fn=cmd_waitport)
    p = sub.add_parser("ourpids")
    p.add_argument("tag")
    p.add_argument("env", nargs="*", default=[])
    p.add_argument("--skip", type=int, action="append", default=[])
    p.set_defaults(fn=cmd_ourpids)
    p = sub.add_parser("count")
    p.add_argument("dir")
    p.set_defaults(fn=cmd_count)
    p = sub.add_parser("round")
    p.add_argument("--client", choices=("smtp-source", "smtpload"), default="smtp-source")
    p.add_argument("--smtp-source", default="/usr/sbin/smtp-source")
    p.add_argument("--smtpload", default="smtpload")
    p.add_argument("--transport", choices=("none", "starttls", "implicit"), default="none")
    p.add_argument("--resume", action="store_true", help="smtpload -R")
    p.add_argument("--rate", type=float, default=0, help="smtpload -q (open loop)")
    p.add_argument("--port", type=int, required=True)
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--maildir", help="the Maildir's new/ directory")
    where.add_argument("--sink-counts", help="the counters file of bench/tls-sink")
    where.add_argument("--smtp-sink-out", help="the stdout of smtp-sink -c")
    p.add_argument("--messages", type=int, required=True)
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--reuse", action="store_true",
                   help="reuse connections (smtp-source -d; smtpload without -N)")
    p.add_argument("--record", help="append the result to this file")
    p.add_argument("--tag", default="")
    p.add_argument("--who", default="")
    p.add_argument("--round", type=int, default=0)
    p.add_argument("--sender", default="a@example.test")
    p.add_argument("--rcpt", default="user@example.test")
    p.add_argument("--poll-ms", type=float, default=20)
    p.add_argument("--timeout", type=float, default=1800)
    p.add_argument("--stall", type=float, default=60)
    p.add_argument("--scan", action="store_true",
                   help="count with os.scandir instead of inotify")
    p.set_defaults(fn=cmd_round)
    p = sub.add_parser("record")
    p.add_argument("file")
    p.add_argument("tag")
    p.add_argument("who")
    p.add_argument("round", type=int)
    p.add_argument("values", nargs="*")
    p.set_defaults(fn=cmd_record)
    p = sub.add_parser("fsync")
    p.add_argument("dir")
    p.add_argument("ops", type=int)
    p.set_defaults(fn=cmd_fsync)
    p = sub.add_parser("rss")
    p.add_argument("pid", type=int)
    p.add_argument("--timeout", type=float, default=30)
    p.set_defaults(fn=cmd_rss)
    p = sub.add_parser("totalcheck")
    p.add_argument("file")
    p.set_defaults(fn=cmd_totalcheck)
    p = sub.add_parser("median")
    p.add_argument("file")
    p.add_argument("tag")
    p.add_argument("who")
    p.add_argument("metric")
    p.set_defaults(fn=cmd_median)
    p = sub.add_parser("idle")
    p.add_argument("--smtpload", required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--plain-port", type=int, required=True)
    p.add_argument("--tls-port", type=int, required=True)
    p.add_argument("--transport", choices=("starttls", "implicit"), default="implicit")
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--round", type=int, default=0)
    p.add_argument("--record", required=True)
    p.add_argument("--timeout", type=float, default=300)
    p.set_defaults(fn=cmd_idle)
    p = sub.add_parser("irsum")
    p.add_argument("dir")
    p.add_argument("--min-files", type=int, default=1)
    p.set_defaults(fn=cmd_irsum)
    p = sub.add_parser("bigtable")
    p.add_argument("--results", required=True)
    p.add_argument("--imap", help="bench/imap's saved table")
    p.add_argument("--header", required=True)
    p.add_argument("--note", action="append", default=[])
    p.add_argument("--table-out", help="also write the table and notes (no rounds) here")
    p.set_defaults(fn=lambda a: benchtable.main(a))
    p = sub.add_parser("relaytable")
    p.add_argument("--header", required=True)
    p.add_argument("results", nargs="+")
    p.set_defaults(fn=cmd_relaytable)
    p = sub.add_parser("table")
    p.add_argument("--header", required=True)
    p.add_argument("results", nargs="+")
    p.set_defaults(fn=cmd_table)
    args = ap.parse_args()
    sys.exit(args.fn(args) or 0)


if __name__ == "__main__":
    main()
