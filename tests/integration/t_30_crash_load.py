#!/usr/bin/python3
"""Crash consistency under load: thousands of messages over 20 concurrent
SMTP sessions while every sealmail process is killed (SIGKILL to the whole
process group) again and again at random moments and restarted. At the end
every message that got its 250 is delivered byte for byte, no message shows
up damaged or cut short, duplicates stay within what the kills can explain,
and nothing is left in the queue.

Short form by default (about a minute). Longer runs:
  SEALMAIL_CRASH_MESSAGES=N  messages to get acknowledged
  SEALMAIL_CRASH_KILLS=K     kills spread over the run
  SEALMAIL_CRASH_SEED=S      replays the random choices of a run (printed)
"""

import hashlib
import os
import random
import re
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import SENDER, crlf_to_lf, dot_stuff, make_message, split_delivered  # noqa: E402

RCPTS = ["bob@local.test", "carol@local.test", "dave@local.test", "erin@other.test"]
SESSIONS = 20
REPLY_TIMEOUT = 20.0    # a live server answers each command long before this
RECONNECT_TIMEOUT = 60.0  # a restart (recovery included) takes less than this
PROGRESS_TIMEOUT = 60.0   # acknowledgements stop for this long: the server hangs
DRAIN_TIMEOUT = 30        # local deliveries left at the end take far less


def asan_build():
    """True when SEALMAIL_BIN was built with AddressSanitizer (it runs
    slower, so the short form sends fewer messages)."""
    with open(harness.SEALMAIL_BIN, "rb") as f:
        return b"__asan_init" in f.read()


def env_int(name, default):
    v = os.environ.get(name)
    return int(v) if v else default


def maildir_files(srv, subdirs):
    """Paths of the files in SUBDIRS of every Maildir, sorted."""
    out = []
    for dirpath, dirnames, filenames in os.walk(os.path.join(srv.data_dir, "mail")):
        if os.path.basename(dirpath) in subdirs:
            out += [os.path.join(dirpath, n) for n in filenames]
    return sorted(out)


class Lost(Exception):
    """The connection went away (EOF, reset, refused)."""


class Client:
    """A plain SMTP client on a raw socket, without a transcript (thousands
    of messages go through it)."""

    def __init__(self, port):
        try:
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=REPLY_TIMEOUT)
        except (ConnectionRefusedError, ConnectionResetError) as e:
            raise Lost("connect: %r" % e)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, data):
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError) as e:
            raise Lost("send: %r" % e)

    def reply(self):
        """(code, last line) of the next reply; socket.timeout propagates."""
        while True:
            while b"\r\n" not in self.buf:
                try:
                    chunk = self.sock.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    raise Lost("EOF")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            m = re.match(rb"^(\d{3})([ -])", line)
            if not m:
                raise AssertionError("malformed reply line %r" % line)
            if m.group(2) == b" ":
                return int(m.group(1)), line.decode(errors="replace")

    def cmd(self, line):
        self.send(line.encode() + b"\r\n")
        return self.reply()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def make_body(rng, tok):
    """A message body of varied size and shape: short ones, a few hundred
    KB ones (so that kills land inside DATA), dot-stuffed lines, long
    lines."""
    kind = rng.random()
    if kind < 0.03:
        nlines = rng.randint(1000, 2500)     # 50-150 KB
    elif kind < 0.3:
        nlines = rng.randint(50, 400)
    else:
        nlines = rng.randint(1, 20)
    lines = [b"body of %s" % tok.encode()]
    for i in range(nlines):
        r = rng.random()
        if r < 0.05:
            lines.append(b"." * rng.randint(1, 3) + b" dotted %d" % i)
        elif r < 0.08:
            lines.append(b"L" * rng.randint(500, 998))
        else:
            lines.append(b"%d %s" % (i, b"x" * rng.randint(0, 76)))
    lines.append(b"end of %s" % tok.encode())
    return b"\r\n".join(lines) + b"\r\n"


class CrashLoad(harness.ServerTestCase):

    def setUp(self):
        self.seed = env_int("SEALMAIL_CRASH_SEED", int.from_bytes(os.urandom(4), "big"))
        asan = asan_build()
        self.target = env_int("SEALMAIL_CRASH_MESSAGES", 3000)
        self.n_kills = env_int("SEALMAIL_CRASH_KILLS", 40)
        sys.stderr.write("\nt_30: seed %d (replay with SEALMAIL_CRASH_SEED=%d), %d messages, "
                         "%d kills, %s build\n" % (self.seed, self.seed, self.target,
                                                   self.n_kills, "ASan" if asan else "normal"))
        self.rng = random.Random(self.seed)
        self.run_id = harness.token()
        self.lock = threading.Lock()
        self.progress = threading.Condition(self.lock)
        self.seq = 0
        self.acked_n = 0          # messages answered 250
        self.claimed = 0          # messages being tried right now
        self.attempts = {}        # token -> {"sha", "len", "rcpt", "state"}
        self.kills_done = 0
        self.killing = False
        self.killer_done = False
        self.stop = False
        self.errors = []          # failures found by the threads
        self.in_flight = []       # per kill: queue files that may deliver again
        self.refused_4xx = 0      # 4xx while a kill was going on

    # -- bookkeeping shared by the threads --
    def fail_later(self, what):
        with self.lock:
            self.errors.append(what)
            self.stop = True
            self.progress.notify_all()

    def lost_is_explained(self, kills_before):
        """A connection lost, or a 4xx, is explained when a kill began after
        the connection was opened (KILLS_BEFORE: kills done before that)."""
        with self.lock:
            return self.killing or self.kills_done != kills_before

    def claim(self):
        """A new token for the next message to try; None once the kills are
        over and enough are acknowledged (or the test stops)."""
        with self.lock:
            while True:
                if self.stop or (self.killer_done and self.acked_n >= self.target):
                    return None
                if not self.killer_done or self.acked_n + self.claimed < self.target:
                    self.claimed += 1
                    self.seq += 1
                    return "%s-%06d" % (self.run_id, self.seq)
                self.progress.wait(1.0)

    def settle(self, tok, acked):
        with self.lock:
            self.claimed -= 1
            if acked:
                self.attempts[tok]["state"] = "acked"
                self.acked_n += 1
            self.progress.notify_all()

    # -- client sessions --
    def connect(self, port):
        """A session past EHLO; returns (client, kills done before it)."""
        def attempt():
            with self.lock:
                if self.stop:
                    return ("stopped", None)
                before = self.kills_done
            c = None
            try:
                c = Client(port)
                code, line = c.reply()
                if code == 220 and c.cmd("EHLO client.test")[0] == 250:
                    return (c, before)
                c.close()
                if not self.lost_is_explained(before):
                    raise AssertionError("greeting or EHLO refused with no kill: %s" % line)
            except Lost:
                if c:
                    c.close()
            return None
        got = harness.wait_for(attempt, timeout=RECONNECT_TIMEOUT, interval=0.002,
                               what="the server to accept a session again")
        return (None, None) if got[0] == "stopped" else got

    def one_message(self, c, before, tok, rng):
        """Sends one message on session C. True when it got its 250, False
        when the connection was lost (or 4xx) during a kill."""
        rcpt = rng.choice(RCPTS)
        msg = make_message(tok, to=rcpt, body=make_body(rng, tok))
        # What a whole delivered copy must hold (the messages themselves
        # would take too much memory over a long run).
        want = crlf_to_lf(msg)
        with self.lock:
            self.attempts[tok] = {"sha": hashlib.sha256(want).digest(), "len": len(want),
                                  "rcpt": rcpt, "state": "started"}
        try:
            for line, want in (("MAIL FROM:<%s>" % SENDER, 250), ("RCPT TO:<%s>" % rcpt, 250),
                               ("DATA", 354)):
                code, text = c.cmd(line)
                if code != want:
                    return self.refused(before, line, text)
            c.send(dot_stuff(msg) + b".\r\n")
            with self.lock:
                self.attempts[tok]["state"] = "dot-sent"
            code, text = c.reply()
            if code != 250:
                return self.refused(before, "end of DATA", text)
            return True
        except Lost:
            if not self.lost_is_explained(before):
                raise AssertionError("server closed the session with no kill (message %s)" % tok)
            return False
        except socket.timeout:
            raise AssertionError("no reply within %ds (message %s): the server hangs"
                                 % (REPLY_TIMEOUT, tok))

    def refused(self, before, what, text):
        if text[:1] == "4" and self.lost_is_explained(before):
            with self.lock:
                self.refused_4xx += 1
            raise Lost(text)
        raise AssertionError("%s: %s" % (what, text))

    def worker(self, port, t):
        rng = random.Random("%d-%d" % (self.seed, t))
        c, before = None, None
        try:
            while True:
                tok = self.claim()
                if tok is None:
                    break
                acked = False
                try:
                    if c is None:
                        c, before = self.connect(port)
                        if c is None:
                            break
                    acked = self.one_message(c, before, tok, rng)
                except Lost:
                    acked = False
                finally:
                    self.settle(tok, acked)
                if not acked and c is not None:
                    c.close()
                    c = None
            if c is not None:
                try:
                    c.cmd("QUIT")
                except (Lost, OSError):
                    pass
                c.close()
        except BaseException as e:  # noqa: B902 - reported by the main thread
            self.fail_later("session %d: %s" % (t, e))
            if c is not None:
                c.close()

    # -- the killer --
    def queue_snapshot(self, srv):
        """After a kill: files that recovery may deliver (again), i.e. queue/active
        and sealed or partial files in pool/ (empty pool files are spares)."""
        n = 0
        active = os.path.join(srv.data_dir, "queue", "active")
        pool = os.path.join(srv.data_dir, "pool")
        for d, spares_too in ((active, True), (pool, False)):
            try:
                names = os.listdir(d)
            except FileNotFoundError:
                continue
            for name in names:
                try:
                    if spares_too or os.path.getsize(os.path.join(d, name)) > 0:
                        n += 1
                except FileNotFoundError:
                    pass
        return n

    def killer(self, srv):
        # Kill points spread over the run, as counts of acknowledged messages.
        # A kill waits until the restarted server has acknowledged a message,
        # except now and then, when it hits a server that has just come back
        # (during recovery and the redelivery it starts).
        points = sorted(self.rng.randrange(self.target * 19 // 20)
                        for _ in range(self.n_kills))
        try:
            for i, point in enumerate(points):
                with self.lock:
                    if self.rng.random() >= 0.1:
                        point = max(point, self.acked_n + 1)

                def reached():
                    with self.lock:
                        return self.stop or self.acked_n >= point
                harness.wait_for(reached, timeout=PROGRESS_TIMEOUT,
                                 what="%d acknowledged messages before kill %d (the server "
                                      "stopped making progress)" % (point, i + 1))
                if self.stop:
                    return
                time.sleep(self.rng.uniform(0, 0.15))  # a random moment, not a decision
                with self.lock:
                    self.killing = True
                srv.kill()
                self.in_flight.append(self.queue_snapshot(srv))
                with self.lock:
                    self.kills_done += 1
                srv.start()
                with self.lock:
                    self.killing = False
        except BaseException as e:  # noqa: B902 - reported by the main thread
            self.fail_later("killer: %s" % e)
        finally:
            with self.lock:
                self.killing = False
                self.killer_done = True
                self.progress.notify_all()

    # -- the test --
    def test_kills_under_load(self):
        srv = self.server_for(listeners={"mx": "optional"},
                              limits={"connections_per_client": 200})
        port = srv.port()
        started = time.monotonic()
        threads = [threading.Thread(target=self.worker, args=(port, t), daemon=True)
                   for t in range(SESSIONS)]
        killer = threading.Thread(target=self.killer, args=(srv,), daemon=True)
        for th in threads + [killer]:
            th.start()
        killer.join(PROGRESS_TIMEOUT * (self.n_kills + 1))
        if killer.is_alive():
            self.fail_later("the killer thread did not finish")
        for th in threads:
            th.join(PROGRESS_TIMEOUT * 2)
            if th.is_alive():
                self.fail_later("a client session did not finish")
        load_time = time.monotonic() - started
        self.assertEqual(self.errors, [], "seed %d" % self.seed)
        self.assertEqual(self.kills_done, self.n_kills)
        self.assertGreaterEqual(self.acked_n, self.target)

        # No more kills: the last server delivers what is left. Should it
        # not, the mailboxes still say what went missing.
        problems = []
        try:
            srv.wait_queue_empty(timeout=DRAIN_TIMEOUT)
        except AssertionError:
            problems.append("the queue did not drain within %ds" % DRAIN_TIMEOUT)
        self.check_mailboxes(srv, problems, load_time, time.monotonic() - started)

    def check_mailboxes(self, srv, problems, load_time, total_time):
        seen = {}      # token -> number of whole copies in new/ and cur/
        for path in maildir_files(srv, ("new", "cur")):
            with open(path, "rb") as f:
                data = f.read()
            m = re.search(rb"\nX-Test-Token: (\S+)\n", data)
            tok = m.group(1).decode() if m else None
            a = self.attempts.get(tok)
            if a is None:
                problems.append("%s: no token of this run (%r...)" % (path, data[:200]))
                continue
            try:
                rp, dt, received, rest = split_delivered(data)
            except AssertionError as e:
                problems.append("%s: %s (%s): %s" % (path, tok, a["state"], e))
                continue
            if a["state"] == "started":
                problems.append("%s: %s delivered though its final dot was never sent"
                                % (path, tok))
            if dt != a["rcpt"] or rp != "<%s>" % SENDER:
                problems.append("%s: envelope %s %s, sent %s %s" % (path, rp, dt, SENDER,
                                                                      a["rcpt"]))
            if len(rest) != a["len"] or hashlib.sha256(rest).digest() != a["sha"]:
                problems.append("%s: %s (%s) damaged or partial: %d bytes, sent %d"
                                % (path, tok, a["state"], len(rest), a["len"]))
                continue
            seen[tok] = seen.get(tok, 0) + 1
        acked = {t for t, a in self.attempts.items() if a["state"] == "acked"}
        lost = sorted(acked - set(seen))
        # Copies in tmp/ are not mail yet: an acknowledged message found only
        # there is lost.
        tmp_files = maildir_files(srv, ("tmp",))
        tmp_only, lost_set = [], set(lost)
        for path in tmp_files:
            with open(path, "rb") as f:
                m = re.search(rb"\nX-Test-Token: (\S+)\n", f.read())
            if m and m.group(1).decode() in lost_set:
                tmp_only.append(path)
        if lost:
            problems.append("%d acknowledged messages never delivered, e.g. %s%s"
                            % (len(lost), lost[:5],
                               " (%d of them only in a Maildir tmp/)" % len(tmp_only)
                               if tmp_only else ""))
        if tmp_files:
            # recovery removes the copies interrupted deliveries leave
            problems.append("%d files left in Maildir tmp/ after recovery, e.g. %s"
                            % (len(tmp_files), tmp_files[:3]))
        dups = sum(n - 1 for n in seen.values())
        unacked_whole = sorted(t for t in seen if t not in acked)
        cut_after_dot = sum(1 for a in self.attempts.values() if a["state"] == "dot-sent")
        in_flight = sum(self.in_flight)
        pool = os.path.join(srv.data_dir, "pool")
        left = srv.queue_files() + [os.path.join(pool, n) for n in os.listdir(pool)
                                    if os.path.getsize(os.path.join(pool, n)) > 0]
        if left:
            problems.append("%d files left in the queue: %s" % (len(left), left[:5]))
        sys.stderr.write(
            "t_30: %d acknowledged in %.1fs, drained at %.1fs; %d kills; %d attempts not "
            "acknowledged (%d cut after the final dot, %d 4xx during kills); %d duplicates "
            "(limit %d: queue files at the kills, at most %d at one kill); %d unacknowledged "
            "delivered whole; %d files left in Maildir tmp/\n"
            % (len(acked), load_time, total_time, self.kills_done,
               len(self.attempts) - len(acked), cut_after_dot, self.refused_4xx, dups,
               in_flight, max(self.in_flight, default=0), len(unacked_whole),
               len(tmp_files)))
        if dups > in_flight:
            problems.append("%d duplicates, more than the %d messages in flight at the kills: "
                            "%s" % (dups, in_flight,
                                    sorted(t for t, n in seen.items() if n > 1)[:10]))
        if problems:
            self.fail("seed %d:\n  %s\nlog:\n%s" % (self.seed, "\n  ".join(problems[:30]),
                                                     srv.log_tail(40)))


if __name__ == "__main__":
    harness.main()
