#!/usr/bin/python3
"""The durability promise, seen in the system calls: the real server runs
under strace while several sessions send a few dozen messages; for every
"250 ... queued as ID" written on a client's socket, every write into that
message's spool file (the dispatcher's DATA, the queue's envelope) had ended
before the 250 began, and so had a flush that began after them: a syncfs()
of the spool's file system, or fsync/fdatasync of the file plus fsync of its
directory made after the file got its name there."""

import os
import re
import sys
import threading

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import SENDER, make_message, token

RCPTS = ["bob@local.test", "carol@local.test", "dave@local.test", "erin@other.test"]
SESSIONS, PER_SESSION = 5, 8

# Writes, flushes, renames, creations and socket sends. A "?" lets strace
# ignore a call the architecture does not have (open, rename... on arm64).
TRACED = ("write,pwrite64,writev,?pwritev,?pwritev2,fsync,fdatasync,syncfs,sync,"
          "?rename,renameat,?renameat2,?open,openat,?creat,?mkdir,mkdirat,"
          "sendto,sendmsg,?sendmmsg")
WRITES = {"write", "pwrite64", "writev", "pwritev", "pwritev2"}
SENDS = {"write", "writev", "sendto", "sendmsg", "sendmmsg"}

LINE_RE = re.compile(r"^(\d+)\s+(\d+)\.(\d{6}) (.*)$")
CALL_RE = re.compile(r"^(?P<name>\w+)\((?P<args>.*)\) += (?P<ret>-?\d+|\?)"
                     r"(?:<(?P<retpath>(?:[^>\[]|\[[^\]]*\])*)>)?"
                     r"(?: (?P<err>E[A-Z0-9]+) \(.*\))? <(?P<dur>\d+)\.(?P<durus>\d{6})>$")
FD_RE = re.compile(r"^(\d+)<((?:[^>\[]|\[[^\]]*\])*)>")
QUEUED_RE = re.compile(r"250 [0-9.]+ [^\"\\]*?queued as ([0-9A-Za-z]+)")
TCP_RE = re.compile(r"^TCP:\[[0-9.]+:(\d+)->[0-9.]+:(\d+)\]$")


class Call:
    def __init__(self, pid, start, name, args, ret, retpath, err, dur):
        self.pid, self.start, self.name, self.args = pid, start, name, args
        self.ret, self.retpath, self.err = ret, retpath, err
        self.end = start + dur
        m = FD_RE.match(args)
        self.fd_path = m.group(2) if m else None

    def __repr__(self):
        return "%s(%s) by pid %d at %s..%s" % (self.name, self.fd_path or self.args[:60],
                                              self.pid, fmt(self.start), fmt(self.end))


def fmt(us):
    return "%d.%06d" % divmod(us, 1000000)


def parse_trace(path):
    """The calls of an `strace -f -ttt -T -yy -o PATH` trace, with
    <unfinished ...> and <... resumed> halves joined; times in microseconds
    (a call's end is its entry time plus its duration)."""
    calls, pending, bad = [], {}, []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            m = LINE_RE.match(line)
            if not m:
                continue
            pid, ts, rest = int(m.group(1)), int(m.group(2)) * 1000000 + int(m.group(3)), \
                m.group(4)
            if rest.startswith(("+++", "---")):
                continue
            if rest.endswith(" <unfinished ...>"):
                pending[pid] = (ts, rest[:-len(" <unfinished ...>")])
                continue
            r = re.match(r"^<\.\.\. (\w+) resumed>(.*)$", rest)
            if r:
                if pid not in pending:
                    continue
                ts, head = pending.pop(pid)
                rest = head + r.group(2)
            c = CALL_RE.match(rest)
            if not c:
                if not rest.endswith("= ? <unavailable>"):
                    bad.append(line)
                continue
            dur = int(c.group("dur")) * 1000000 + int(c.group("durus"))
            calls.append(Call(pid, ts, c.group("name"), c.group("args"),
                              None if c.group("ret") == "?" else int(c.group("ret")),
                              c.group("retpath"), c.group("err"), dur))
    return calls, bad


class SyscallOrder(harness.ServerTestCase):

    def test_250_only_after_spool_writes_are_flushed(self):
        strace = harness.need_tool("strace", "strace")
        trace = os.path.join(harness.new_tmpdir("strace-"), "trace")
        srv = self.server_for(dispatchers=2, wrapper=[
            strace, "-f", "-ttt", "-T", "-yy", "-s", "200", "-o", trace, "-e",
            "trace=" + TRACED])
        client_ports, accepted, errors = set(), {}, []
        lock = threading.Lock()

        def session(t):
            try:
                with srv.dialog() as d:
                    with lock:
                        client_ports.add(d.raw.getsockname()[1])
                    d.ehlo()
                    for i in range(PER_SESSION):
                        rcpt = RCPTS[(t + i) % len(RCPTS)]
                        # Some messages span several writes of the dispatcher.
                        body = b"line %d\r\n" % i * (1 + 4000 * (i % 3))
                        r = d.mail_transaction(SENDER, [rcpt], make_message(token(), body=body))
                        m = re.search(r"queued as (\S+)", r.text)
                        if not m:
                            raise AssertionError("250 without a queue id: %s" % r)
                        with lock:
                            accepted[m.group(1)] = d.raw.getsockname()[1]
                    d.quit()
            except BaseException as e:  # noqa: B902 - reported below
                errors.append("session %d: %r" % (t, e))

        threads = [threading.Thread(target=session, args=(t,)) for t in range(SESSIONS)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        self.assertEqual(errors, [])
        srv.wait_queue_empty()
        srv.stop()

        calls, bad = parse_trace(trace)
        self.assertEqual(bad, [], "strace lines this test cannot read")
        problems = check_calls(calls, srv, accepted, client_ports)
        if problems:
            self.fail("%d of %d accepted messages were answered 250 before they were "
                      "stable:\n  %s" % (len(problems), len(accepted), "\n  ".join(problems)))


def check_calls(calls, srv, accepted, client_ports):
    """What each 250 in ACCEPTED ({queue id: client port}) lacked; [] when
    the trace shows every one was made stable before it was written."""
    data = os.path.realpath(srv.data_dir)
    spool_dirs = {os.path.join(data, "pool"), os.path.join(data, "queue", "active")}
    spool_dev = os.stat(os.path.join(data, "pool")).st_dev
    replies, writes, creates, renames = {}, {}, {}, {}
    syncfs, fsyncs = [], []
    for c in calls:
        if c.ret is None or c.ret < 0:
            continue
        path = c.fd_path or ""
        tcp = TCP_RE.match(path)
        if c.name in SENDS and tcp and int(tcp.group(2)) in client_ports:
            for qid in QUEUED_RE.findall(c.args):
                replies.setdefault(qid, []).append((c, int(tcp.group(2))))
        elif c.name in WRITES and os.path.dirname(path) in spool_dirs:
            writes.setdefault(os.path.basename(path), []).append(c)
        elif c.name in ("open", "openat", "creat") and (
                "O_CREAT" in c.args or c.name == "creat") and c.retpath and \
                os.path.dirname(c.retpath) in spool_dirs:
            creates[os.path.basename(c.retpath)] = c
        elif c.name in ("rename", "renameat", "renameat2"):
            names = re.findall(r'"([^"]*)"', c.args)
            if len(names) == 2 and names[1].startswith("queue/active/"):
                renames[os.path.basename(names[1])] = c
        elif c.name == "sync":
            syncfs.append(c)
        elif c.name == "syncfs" and path and os.path.exists(path) and \
                os.stat(path).st_dev == spool_dev:
            syncfs.append(c)
        elif c.name in ("fsync", "fdatasync") and path:
            fsyncs.append(c)

    problems = []
    for qid, port in sorted(accepted.items()):
        got = replies.get(qid, [])
        if len(got) != 1 or got[0][1] != port:
            problems.append("%s: the client got its 250, but the trace shows %d writes of it "
                            "on that client's socket (port %d)" % (qid, len(got), port))
            continue
        problems += check_message(qid, got[0][0], writes.get(qid, []), creates.get(qid),
                                  renames.get(qid), syncfs, fsyncs)
    for qid in sorted(set(replies) - set(accepted)):
        problems.append("%s: a 250 on a client socket the client never read" % qid)
    return problems


def check_message(qid, reply, writes, create, rename, syncfs, fsyncs):
    """What message QID lacked before REPLY (the write of its 250) began."""
    t = reply.start
    out = []
    mine = [w for w in writes if w.pid == reply.pid]
    theirs = [w for w in writes if w.pid != reply.pid and w.name == "pwrite64"]
    if not mine:
        out.append("%s: no write of the dispatcher (pid %d) into its spool file" %
                   (qid, reply.pid))
    if not theirs:
        out.append("%s: no pwrite of the queue's envelope into its spool file" % qid)
    if create is None:
        out.append("%s: the creation of its spool file is not in the trace" % qid)
    late = [w for w in writes if w.end > t]
    if late:
        out.append("%s: 250 began at %s, but the spool write %r had not ended" %
                   (qid, fmt(t), late[0]))
    if out:
        return out
    last = max(w.end for w in writes)
    named = create.end
    flush = [s for s in syncfs if s.start >= last and s.start >= named and s.end <= t]
    if flush:
        return []
    # Or: fsync of the file after its writes, and of its directory after the
    # file got its name there (created in pool/, perhaps renamed into active/).
    file_sync = [s for s in fsyncs if os.path.basename(s.fd_path) == qid and
                 s.start >= last and s.end <= t]
    entries = [(os.path.dirname(create.retpath), create.end)]
    if rename is not None and rename.end <= t:
        entries.append((os.path.join(os.path.dirname(os.path.dirname(create.retpath)),
                                     "queue", "active"), rename.end))
    dir_sync = [s for s in fsyncs if s.name == "fsync" and s.end <= t and
                any(s.fd_path == d and s.start >= when for d, when in entries)]
    if file_sync and dir_sync:
        return []
    before = [s for s in syncfs if s.end <= t and s.start >= named - 2000000]
    return ["%s: 250 began at %s with no flush after its writes (last write ended %s; "
            "syncfs before the 250: %s; fsync of the file: %s; fsync of its directory: %s)"
            % (qid, fmt(t), fmt(last),
               ", ".join("%s..%s" % (fmt(s.start), fmt(s.end)) for s in before[-3:]) or "none",
               "yes" if file_sync else "none", "yes" if dir_sync else "none")]


if __name__ == "__main__":
    harness.main()
