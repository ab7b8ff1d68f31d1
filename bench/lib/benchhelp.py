#!/usr/bin/env python3
"""Small helpers for bench/run (standard library only).

  freeport                      print a free TCP port on 127.0.0.1
  waitport PORT SECONDS [PID]   wait until 127.0.0.1:PORT answers with a 220
                                greeting; fail early if PID dies
  ourpids TAG [ENV...]          pids of the processes this run started
  count DIR                     print the number of entries in DIR (0 if absent)
  round ...                     run one smtp-source round and time it, counting
                                arrivals in a Maildir or at bench/tls-sink
  table ...                     medians and the inbound result table
  relaytable ...                medians and the relay result table
"""
import argparse
import ctypes
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import time


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
                greeting = s.recv(512).decode("ascii", "replace")
                try:
                    s.sendall(b"QUIT\r\n")
                    s.recv(512)
                except OSError:
                    pass
                if greeting.startswith("220"):
                    return 0
                last = "greeting " + repr(greeting.strip())
        except OSError as e:
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


def cmd_round(args):
    """Run smtp-source once; time (a) until it exits and (b) until N more
    names have appeared in the Maildir's new/, or until the sink has counted
    N more messages. Prints one JSON line."""
    n = args.messages
    if args.sink_counts:
        counter = SinkCounter(args.sink_counts)
        start_stats = counter.stats()
        where = "at the sink"
    else:
        counter = MaildirCounter(args.maildir, use_inotify=not args.scan)
        start_entries = count_entries(args.maildir)
        where = "in " + args.maildir
    base = counter.count()
    target = base + n
    cmd = [args.smtp_source, "-s", str(args.sessions), "-m", str(n),
           "-l", str(args.size)]
    if args.reuse:
        cmd.append("-d")
    cmd += ["-f", args.sender, "-t", args.rcpt, f"127.0.0.1:{args.port}"]
    poll = args.poll_ms / 1000.0

    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    # Count while smtp-source runs too: on a fast server the last message
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
            print(f"round: smtp-source still running after {args.timeout}s",
                  file=sys.stderr)
            return 1
        time.sleep(poll)
    out = proc.stdout.read().decode("utf-8", "replace")
    if rc != 0:
        print(f"round: smtp-source exited {rc}:\n{out}", file=sys.stderr)
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
                  f"(no progress for {args.stall}s; smtp-source took "
                  f"{t_acc - t0:.2f}s)", file=sys.stderr)
            return 1
        time.sleep(poll)
    counter.close()

    # Check with a plain listing (or the sink's final counters): anything
    # beyond N (duplicates, leftovers) would make the count lie.
    time.sleep(args.settle)
    extra = {}
    if args.sink_counts:
        end_stats = counter.stats()
        final = end_stats["messages"] - start_stats["messages"]
        extra["sink"] = {k: end_stats.get(k, 0) - start_stats.get(k, 0)
                         for k in SinkCounter.KEYS}
    else:
        final = count_entries(args.maildir) - start_entries
    acc = t_acc - t0
    e2e = t_done - t0
    print(json.dumps({
        "messages": n, "delivered": final, "counter": counter.method,
        "accepted_s": acc, "e2e_s": e2e,
        "accepted_rate": n / acc, "e2e_rate": n / e2e,
        **extra,
        "smtp_source_output": out.strip()[-500:],
    }))
    if final != n:
        print(f"round: {final} messages {where}, expected {n}", file=sys.stderr)
        return 1
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
    p.add_argument("--smtp-source", default="/usr/sbin/smtp-source")
    p.add_argument("--port", type=int, required=True)
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--maildir", help="the Maildir's new/ directory")
    where.add_argument("--sink-counts", help="the counters file of bench/tls-sink")
    p.add_argument("--messages", type=int, required=True)
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--reuse", action="store_true", help="pass -d to smtp-source")
    p.add_argument("--sender", default="a@example.test")
    p.add_argument("--rcpt", default="user@example.test")
    p.add_argument("--poll-ms", type=float, default=20)
    p.add_argument("--timeout", type=float, default=1800)
    p.add_argument("--stall", type=float, default=60)
    p.add_argument("--settle", type=float, default=0.5)
    p.add_argument("--scan", action="store_true",
                   help="count with os.scandir instead of inotify")
    p.set_defaults(fn=cmd_round)
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
