#!/usr/bin/python3
"""The store's durability promises (IMAP APPEND, STORE, EXPUNGE; POP3 QUIT):

- Syscall order (strace -f): for every APPEND answered OK [APPENDUID], the
  message file had been written and fsynced in tmp/, renamed into cur/
  under its UID, cur/ fsynced after the rename, and the index log record
  naming the file written and fsynced, all before the server's first write
  of the answer on the client's socket; likewise the rename of a STORE
  +FLAGS, the unlink of an EXPUNGE and of a POP3 QUIT, each followed by the
  fsync of cur/ and of the log before the answer.
- SIGKILL of every sealmail process at random moments while clients APPEND
  and STORE in parallel: after each restart every acknowledged APPEND is
  there with its UID and its exact bytes, every acknowledged flag is set,
  nothing is torn, UIDVALIDITY is unchanged and later APPENDs get UIDs
  never given before.
- Fault points (fiu-run): each step of the append path fails once; the
  client gets NO, never OK; the next APPEND succeeds; the refused message
  is nowhere, before and after a restart.

The IMAP and POP3 listeners speak TLS only, so the answer's bytes cannot be
read in the trace: the client notes when it began to send a command and
when the tagged answer arrived; the server's first write on that socket
between the two is where the answer begins at the latest (each client has
its own user, so nothing else is written there meanwhile)."""

import os
import random
import re
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import response_code, token  # noqa: E402
from t_31_syscall_order import fmt, parse_trace  # noqa: E402

PW = "dur-Pw-%s" % token()[:8]
EIO = 5
TRACED = ("write,pwrite64,writev,?pwritev,?pwritev2,fsync,fdatasync,"
          "?rename,renameat,?renameat2,?unlink,unlinkat,sendto,sendmsg,?sendmmsg")
SENDS = {"write", "writev", "sendto", "sendmsg", "sendmmsg"}
WRITES = {"write", "pwrite64", "writev", "pwritev", "pwritev2"}
SYNCS = {"fsync", "fdatasync"}
TCP_RE = re.compile(r"^TCP:\[[0-9.]+:(\d+)->[0-9.]+:(\d+)\]$")
LOG = harness.INDEX_PREFIX + ".log"
OTHER = "Kept"            # a folder APPENDed to while INBOX is selected
REPLY_TIMEOUT = 20.0      # a live server answers long before this
RESTART_TIMEOUT = 30.0    # a killed server is back (recovery included) before this


def users(prefix, n):
    return ["%s%d@local.test" % (prefix, i) for i in range(n)]


def server_kwargs(addresses, **kw):
    return harness.mail_server_kwargs({a: PW for a in addresses}, **kw)


def message(tok, size=0, seed=0):
    """A CRLF message of about SIZE octets more than its header, with
    lines of varied length (a few long, some starting with dots)."""
    rng = random.Random(seed)
    head = ("From: <alice@sender.test>\r\nTo: <bob@local.test>\r\n"
            "Subject: durability %s\r\nX-Test-Token: %s\r\n\r\n" % (tok, tok)).encode()
    body, n = [b"body of " + tok.encode()], 0
    while n < size:
        line = (b"." if rng.random() < 0.05 else b"") + b"%d " % n + \
            b"y" * rng.choice((0, 10, 70, 70, 900))
        body.append(line)
        n += len(line) + 2
    return head + b"\r\n".join(body) + b"\r\n"


def append_cmd(data, flags="", folder="INBOX"):
    """APPEND with a non-synchronising literal (LITERAL+ after login): the
    client sends it whole, the server writes nothing before its answer."""
    return b"APPEND %s (%s) {%d+}\r\n" % (folder.encode(), flags.encode(), len(data)) + data


def appenduid(text):
    """(uidvalidity, uid) of an OK [APPENDUID v uid] text, or None."""
    code = response_code(text)
    if code and code[0].upper() == "APPENDUID" and len(code) == 3:
        return int(code[1]), int(code[2])
    return None


def rel(path):
    """PATH from "mail/" on (the names the store uses are relative to
    data_dir, strace's fd paths absolute); None when outside."""
    if path is None:
        return None
    if path.startswith("mail/"):
        return path
    i = path.find("/mail/")
    return path[i + 1:] if i >= 0 else None


def fetch_all(c):
    """{uid: (flags set, body bytes)} of the selected folder."""
    _, untagged = c.ok("UID FETCH 1:* (UID FLAGS BODY.PEEK[])")
    out = {}
    for r in untagged:
        if b" FETCH " not in r:
            continue
        _, items = harness.fetch_items(r)
        uid = int(items["UID"])
        if uid in out:
            raise AssertionError("UID %d reported twice: %r" % (uid, untagged))
        out[uid] = (set(str(f) for f in items["FLAGS"]), items["BODY[]"])
    return out


def select(c):
    """SELECT INBOX: its UIDVALIDITY."""
    _, untagged = c.ok("SELECT INBOX")
    for r in untagged:
        m = re.search(rb"\[UIDVALIDITY (\d+)\]", r)
        if m:
            return int(m.group(1))
    raise AssertionError("SELECT without UIDVALIDITY: %r" % untagged)


class Trace:
    """The calls of a trace sorted into what the checks look for."""

    def __init__(self, calls, ports):
        self.sends = {}          # client port -> socket writes, in order
        self.renames = []        # (old, new, call), paths from "mail/"
        self.unlinks = []        # (path, call)
        self.writes = {}         # path -> writes into it
        self.syncs = {}          # path -> fsync/fdatasync calls
        for c in calls:
            if c.ret is None or c.ret < 0:
                continue
            tcp = TCP_RE.match(c.fd_path or "")
            if c.name in SENDS and tcp and int(tcp.group(2)) in ports:
                self.sends.setdefault(int(tcp.group(2)), []).append(c)
            elif c.name in ("rename", "renameat", "renameat2"):
                names = re.findall(r'"([^"]*)"', c.args)
                if len(names) == 2 and rel(names[1]):
                    self.renames.append((rel(names[0]), rel(names[1]), c))
            elif c.name in ("unlink", "unlinkat"):
                names = re.findall(r'"([^"]*)"', c.args)
                if names and rel(names[0]):
                    self.unlinks.append((rel(names[0]), c))
            elif c.name in WRITES and rel(c.fd_path):
                self.writes.setdefault(rel(c.fd_path), []).append(c)
            elif c.name in SYNCS and rel(c.fd_path):
                self.syncs.setdefault(rel(c.fd_path), []).append(c)

    def answer(self, op):
        """The server's first write on OP's socket after the client began
        to send the command and before the answer arrived."""
        got = [c for c in self.sends.get(op["port"], [])
               if op["t_send"] <= c.start / 1e6 <= op["t_recv"]]
        return got[0] if got else None

    def synced_after(self, path, after, t):
        """An fsync/fdatasync of PATH that began after AFTER and ended by T."""
        return [s for s in self.syncs.get(path, []) if s.start >= after and s.end <= t]

    def log_synced(self, folder, after, t, needle=None):
        """A write into FOLDER's log that began after AFTER (holding NEEDLE),
        then an fsync of the log, both ended by T. Returns what is missing."""
        log = folder + "/" + LOG
        w = [c for c in self.writes.get(log, []) if c.start >= after and c.end <= t and
             (needle is None or needle in c.args)]
        if not w:
            return "no write into %s%s between %s and the answer at %s" % (
                LOG, " naming %s" % needle if needle else "", fmt(after), fmt(t))
        if not self.synced_after(log, w[0].end, t):
            return "the log write at %s was not fsynced before the answer at %s" % (
                fmt(w[0].start), fmt(t))
        return None

    def dir_synced(self, folder, after, t):
        if self.synced_after(folder + "/cur", after, t):
            return None
        return "cur/ was not fsynced between %s and the answer at %s" % (fmt(after), fmt(t))


def check_append(tr, op):
    """What the APPEND OP (answered OK [APPENDUID .. uid]) lacked."""
    reply = tr.answer(op)
    if reply is None:
        return ["no write on the client's socket between the command and the answer"]
    t, folder = reply.start, op["folder"]
    mine = [(o, n, c) for o, n, c in tr.renames if n.startswith(folder + "/cur/") and
            o.startswith(folder + "/tmp/") and ",U=%d,W=" % op["uid"] in n]
    if len(mine) != 1:
        return ["%d renames from tmp/ into cur/ of a file with UID %d" % (len(mine), op["uid"])]
    old, new, ren = mine[0]
    out = []
    if ren.end > t:
        out.append("the rename into cur/ had not ended when the answer began")
    writes = tr.writes.get(old, [])
    if not writes or max(w.end for w in writes) > ren.start:
        out.append("the message file %s was not written before its rename" % old)
    elif not tr.synced_after(old, max(w.end for w in writes), ren.start):
        out.append("the message file was not fsynced after its writes and before its rename")
    out += [x for x in (tr.dir_synced(folder, ren.end, t),
                        tr.log_synced(folder, ren.end, t, os.path.basename(new))) if x]
    return out


def check_flags(tr, op):
    """What the STORE +FLAGS (\\Flagged) OP lacked: the rename that adds F."""
    reply = tr.answer(op)
    if reply is None:
        return ["no write on the client's socket between the command and the answer"]
    t, folder = reply.start, op["folder"]
    mine = [(o, n, c) for o, n, c in tr.renames if n.startswith(folder + "/cur/") and
            ",U=%d,W=" % op["uid"] in n and "F" in harness.maildir_flags(n) and
            "F" not in (harness.maildir_flags(o) or "")]
    if len(mine) != 1:
        return ["%d renames giving UID %d the F flag" % (len(mine), op["uid"])]
    _, new, ren = mine[0]
    if ren.end > t:
        return ["the rename had not ended when the answer began"]
    return [x for x in (tr.dir_synced(folder, ren.end, t),
                        tr.log_synced(folder, ren.end, t, os.path.basename(new))) if x]


def check_removed(tr, op):
    """What the EXPUNGE or POP3 QUIT OP lacked for each of its UIDs."""
    reply = tr.answer(op)
    if reply is None:
        return ["no write on the client's socket between the command and the answer"]
    t, folder, out = reply.start, op["folder"], []
    for uid in op["uids"]:
        mine = [c for p, c in tr.unlinks if p.startswith(folder + "/cur/") and
                ",U=%d,W=" % uid in p]
        if len(mine) != 1 or mine[0].end > t:
            out.append("UID %d: %d unlinks, ended before the answer: %s"
                       % (uid, len(mine), [c.end <= t for c in mine]))
            continue
        out += ["UID %d: %s" % (uid, x) for x in (tr.dir_synced(folder, mine[0].end, t),
                                                  tr.log_synced(folder, mine[0].end, t)) if x]
    return out


class StoreDurability(harness.ServerTestCase):

    # -- 1. the order of system calls --
    def imap_worker(self, srv, user, n, ops, errors):
        """N APPENDs, a STORE +FLAGS (\\Flagged) of each, an EXPUNGE of
        every third, each timed into OPS; and N APPENDs from a session with
        no folder selected (a session with one asks the store for UPDATES
        before its tagged answer, which hides an answer sent too early)."""
        inbox = rel(harness.folder_dir(srv, user))
        other = rel(harness.folder_dir(srv, user, OTHER))
        try:
            with harness.imap_raw(srv, user=user, password=PW) as c, \
                    harness.imap_raw(srv, user=user, password=PW) as unselected:
                c.ok("CREATE " + OTHER)
                select(c)

                def timed(kind, cmd, folder=inbox, client=c, **extra):
                    t0 = time.time()
                    status, text, _ = client.command(cmd)
                    op = dict(kind=kind, port=client.sock.getsockname()[1], t_send=t0,
                              t_recv=time.time(), folder=folder, user=user, **extra)
                    if status != "OK":
                        raise AssertionError("%s: %s %s" % (kind, status, text))
                    ops.append(op)
                    return text
                for i in range(n):
                    data = message(token(), size=(i % 3) * 1500, seed=i)
                    v_uid = appenduid(timed("append", append_cmd(data)))
                    if v_uid is None:
                        raise AssertionError("APPEND OK without APPENDUID")
                    ops[-1]["uid"] = v_uid[1]
                    timed("flags", "UID STORE %d +FLAGS (\\Flagged)" % v_uid[1],
                          uid=v_uid[1])
                    if i % 3 == 2:
                        c.ok("UID STORE %d +FLAGS.SILENT (\\Deleted)" % v_uid[1])
                        timed("expunge", "EXPUNGE", uids=[v_uid[1]])
                    text = timed("append", append_cmd(data, folder=OTHER), folder=other,
                                 client=unselected)
                    ops[-1]["uid"] = appenduid(text)[1]
        except BaseException as e:  # noqa: B902 - reported by the test
            errors.append("%s: %r" % (user, e))

    def pop3_quit(self, srv, user, uids, ops):
        """POP3: DELE of every message, QUIT timed into OPS."""
        p = harness.Pop3Raw(srv.port("pop3"))
        try:
            p.stls()
            self.assertTrue(p.cmd("USER " + user).startswith(b"+OK"))
            self.assertTrue(p.cmd("PASS " + PW).startswith(b"+OK"))
            for i in range(len(uids)):
                self.assertTrue(p.cmd("DELE %d" % (i + 1)).startswith(b"+OK"))
            port = p.sock.getsockname()[1]
            t0 = time.time()
            r = p.cmd("QUIT")
            ops.append(dict(kind="quit", port=port, t_send=t0, t_recv=time.time(),
                            folder=rel(harness.folder_dir(srv, user)), uids=uids))
            self.assertTrue(r.startswith(b"+OK"), r)
        finally:
            p.close()

    def test_syscall_order(self):
        strace = harness.need_tool("strace", "strace")
        trace = os.path.join(harness.new_tmpdir("strace-"), "trace")
        imap_users, pop_user = users("order", 3), "orderpop@local.test"
        srv = self.server_for(**server_kwargs(imap_users + [pop_user], dispatchers=2, wrapper=[
            strace, "-f", "-ttt", "-T", "-yy", "-s", "4096", "-o", trace,
            "-e", "trace=" + TRACED]))
        ops, errors = [], []
        # the POP3 user's messages, by IMAP
        with harness.imap_raw(srv, user=pop_user, password=PW) as c:
            pop_uids = [appenduid(c.ok(append_cmd(message(token())))[0])[1] for _ in range(3)]
        threads = [threading.Thread(target=self.imap_worker, args=(srv, u, 6, ops, errors))
                   for u in imap_users]
        for th in threads:
            th.start()
        self.pop3_quit(srv, pop_user, pop_uids, ops)
        for th in threads:
            th.join()
        self.assertEqual(errors, [])
        srv.stop()

        calls, bad = parse_trace(trace)
        self.assertEqual(bad, [], "strace lines this test cannot read")
        tr = Trace(calls, {op["port"] for op in ops})
        check = {"append": check_append, "flags": check_flags, "expunge": check_removed,
                 "quit": check_removed}
        problems = []
        for op in ops:
            what = "%s %s UID %s" % (op["kind"], op["user"] if "user" in op else pop_user,
                                     op.get("uid", op.get("uids")))
            problems += ["%s: %s" % (what, p) for p in check[op["kind"]](tr, op)]
        kinds = sorted(set(op["kind"] for op in ops))
        self.assertEqual(kinds, ["append", "expunge", "flags", "quit"])
        if problems:
            self.fail("%d answers came before what they promise was stable:\n  %s"
                      % (len(problems), "\n  ".join(problems)))


    # -- 2. SIGKILL under load --
    def test_kill_under_load(self):
        seed = int(os.environ.get("SEALMAIL_CRASH_SEED") or int.from_bytes(os.urandom(4), "big"))
        sys.stderr.write("\nt_44: seed %d (replay with SEALMAIL_CRASH_SEED=%d)\n" % (seed, seed))
        load = KillLoad(self, random.Random(seed), users("kill", 2), workers_per_user=3, kills=6)
        load.run()

    def test_store_of_a_message_appended_elsewhere(self):
        """The rule the load's STOREs follow: a message another session
        APPENDed is in this session's view only after this session's next
        tagged answer. Before it, UID STORE of it is OK and stores nothing
        (RFC 9051 6.4.9: a UID the session does not know is ignored); its
        answer tells of the message (EXISTS). After it, the STORE is
        stored, told of (FETCH) and there after a SIGKILL."""
        user = "elsewhere@local.test"
        srv = self.server_for(**server_kwargs([user], dispatchers=2))
        with harness.imap_raw(srv, user=user, password=PW) as c, \
                harness.imap_raw(srv, user=user, password=PW) as other:
            select(c)
            uid = appenduid(other.ok(append_cmd(message(token())))[0])[1]
            _, untagged = c.ok("UID STORE %d +FLAGS (\\Flagged)" % uid)
            self.assertEqual([r for r in untagged if b"FETCH" in r], [],
                             "a STORE of a UID not in the view changed it")
            self.assertIn(b"* 1 EXISTS", untagged, "the answer did not tell of the message")
            self.assertEqual(fetch_all(c)[uid][0], {"\\Recent"})
            uid2 = appenduid(other.ok(append_cmd(message(token())))[0])[1]
            c.ok("NOOP")
            _, untagged = c.ok("UID STORE %d,%d +FLAGS (\\Flagged)" % (uid, uid2))
            told = [r for r in untagged if b"FETCH" in r and b"\\Flagged" in r]
            self.assertEqual(len(told), 2, "STORE after NOOP: %r" % untagged)
        srv.kill()
        srv.start()
        with harness.imap_raw(srv, user=user, password=PW) as c:
            select(c)
            got = fetch_all(c)
            self.assertEqual({u: got[u][0] - {"\\Recent"} for u in (uid, uid2)},
                             {uid: {"\\Flagged"}, uid2: {"\\Flagged"}})


    # -- 3. faults in the append path --
    def check_append_fault(self, point):
        """POINT fails once (EIO) at the first APPEND: NO, never OK; the
        next APPEND on the same session and on another one succeed; the
        refused message is nowhere, then or after a restart."""
        user = "fault@local.test"
        srv = self.server_for(**server_kwargs(
            [user], dispatchers=1,
            wrapper=harness.fault_wrapper("%s,failinfo=%d,onetime" % (point, EIO))))
        bad, good1, good2 = token(), token(), token()
        with harness.imap_raw(srv, user=user, password=PW) as c:
            v = select(c)
            status, text, _ = c.command(append_cmd(message(bad, size=2000)))
            self.assertEqual(status, "NO", "APPEND with %s failing: %s %s" % (point, status, text))
            rest, _ = c.ok(append_cmd(message(good1, size=2000)))
            uid1 = appenduid(rest)[1]
            got = fetch_all(c)
        self.assertEqual(sorted(got), [uid1], "what the folder shows after the NO")
        with harness.imap_raw(srv, user=user, password=PW) as c:
            rest, _ = c.ok(append_cmd(message(good2)))
            uid2 = appenduid(rest)[1]
        self.assertGreater(uid2, uid1)
        srv.wait_log(r"event=store-error .*append")
        srv.stop()
        srv.wrapper = None
        srv.start()
        with harness.imap_raw(srv, user=user, password=PW) as c:
            self.assertEqual(select(c), v)
            got = fetch_all(c)
            self.assertEqual(sorted(got), [uid1, uid2], "the folder after a restart")
            self.assertEqual(got[uid1][1], message(good1, size=2000))
            self.assertEqual(got[uid2][1], message(good2))
            rest, _ = c.ok(append_cmd(message(token())))
            self.assertGreater(appenduid(rest)[1], uid2)
        for path, data in srv.all_maildir_files(("new", "cur", "tmp")).items():
            self.assertNotIn(bad.encode(), data, "the refused message is in %s" % path)
        self.assertEqual(sorted(srv.all_maildir_files(("tmp",))), [], "files left in tmp/")

    def test_fault_message_write(self):
        self.check_append_fault("store/append/write")

    def test_fault_message_fsync(self):
        self.check_append_fault("store/append/fsync")

    def test_fault_rename_into_cur(self):
        self.check_append_fault("store/append/rename")

    def test_fault_cur_fsync(self):
        self.check_append_fault("store/append/dirsync")

    def test_fault_log_write(self):
        self.check_append_fault("store/append/logwrite")

    def test_fault_log_fsync(self):
        self.check_append_fault("store/append/logsync")

    def test_fault_flags_rename(self):
        """A STORE whose rename fails is answered NO, and tells of no
        change; the next STORE works; the flags after a restart are the
        acknowledged ones."""
        user = "faultflags@local.test"
        srv = self.server_for(**server_kwargs(
            [user], dispatchers=1,
            wrapper=harness.fault_wrapper("store/flags/rename,failinfo=%d,onetime" % EIO)))
        with harness.imap_raw(srv, user=user, password=PW) as c:
            select(c)
            uid = appenduid(c.ok(append_cmd(message(token())))[0])[1]
            status, text, untagged = c.command("UID STORE %d +FLAGS (\\Flagged)" % uid)
            self.assertEqual(status, "NO", text)
            self.assertEqual([r for r in untagged if b"FETCH" in r], [],
                             "a FETCH told of a change that failed")
            c.ok("UID STORE %d +FLAGS (\\Answered)" % uid)
        srv.stop()
        srv.wrapper = None
        srv.start()
        with harness.imap_raw(srv, user=user, password=PW) as c:
            select(c)
            self.assertEqual(fetch_all(c)[uid][0], {"\\Answered"})


class Lost(Exception):
    """The connection went away (a kill)."""


class KillLoad:
    """Workers APPEND and STORE through their own connections while a
    killer SIGKILLs the whole server at random moments (after a random
    number of acknowledgements) and restarts it; then everything
    acknowledged is checked."""

    def __init__(self, test, rng, addresses, workers_per_user, kills):
        self.test, self.rng, self.addresses = test, rng, addresses
        self.srv = test.server_for(**server_kwargs(addresses, dispatchers=2))
        self.n_workers, self.n_kills = workers_per_user * len(addresses), kills
        self.lock = threading.Lock()
        self.acked = {a: {} for a in addresses}      # uid -> exact bytes
        self.flags = {a: {} for a in addresses}      # uid -> flags acknowledged
        self.sent = {}                                # token -> bytes tried
        self.uidvalidity = {}
        self.n_acked = 0
        self.kills_started = 0
        self.killing = False
        self.done = False
        self.errors = []

    def run(self):
        threads = [threading.Thread(target=self.worker, args=(i,), daemon=True)
                   for i in range(self.n_workers)]
        killer = threading.Thread(target=self.killer, daemon=True)
        for th in threads + [killer]:
            th.start()
        killer.join(timeout=120)
        with self.lock:
            self.done = True
        for th in threads:
            th.join(timeout=REPLY_TIMEOUT + RESTART_TIMEOUT)
        if self.errors:
            self.test.fail("\n".join(self.errors) + "\nlog:\n" + self.srv.log_tail())
        self.test.assertFalse(killer.is_alive() or any(th.is_alive() for th in threads),
                              "a thread hangs")
        self.verify()
        self.srv.stop()
        self.srv.start()
        self.verify(append_more=True)

    def explained(self, kills_before):
        with self.lock:
            return self.killing or self.kills_started != kills_before

    def connect(self, user, selected):
        """A logged-in client (with INBOX SELECTED), once the server is up;
        (client, kills started before it, the UIDs acknowledged before its
        SELECT: those its view holds)."""
        def attempt():
            with self.lock:
                before = self.kills_started
                if self.killing:
                    return None
            try:
                c = harness.imap_raw(self.srv, timeout=REPLY_TIMEOUT)
            except (OSError, AssertionError):
                if self.explained(before):
                    return None
                raise
            try:
                status, text, _ = c.command("LOGIN %s %s" % (harness.imap_quote(user),
                                                             harness.imap_quote(PW)))
                if status == "NO" and text.startswith("[UNAVAILABLE]"):
                    c.close()  # password checks all busy: the server says try again
                    return None
                if status != "OK":
                    raise AssertionError("LOGIN: %s %s" % (status, text))
                with self.lock:
                    known = sorted(self.acked[user])
                v = select(c) if selected else self.status_uidvalidity(c)
            except (OSError, AssertionError):
                c.close()
                if self.explained(before):
                    return None
                raise
            with self.lock:
                if self.uidvalidity.setdefault(user, v) != v:
                    raise AssertionError("%s: UIDVALIDITY %d, was %d"
                                         % (user, v, self.uidvalidity[user]))
            return c, before, known
        return harness.wait_for(attempt, timeout=RESTART_TIMEOUT, interval=0.02,
                                what="the restarted server to serve IMAP")

    def command(self, c, before, cmd):
        try:
            return c.command(cmd)
        except (OSError, AssertionError) as e:
            if self.explained(before):
                raise Lost()
            raise AssertionError("connection lost with no kill: %r" % e)

    @staticmethod
    def status_uidvalidity(c):
        _, untagged = c.ok("STATUS INBOX (UIDVALIDITY)")
        for r in untagged:
            m = re.search(rb"UIDVALIDITY (\d+)", r)
            if m:
                return int(m.group(1))
        raise AssertionError("STATUS without UIDVALIDITY: %r" % untagged)

    def worker(self, n):
        """Worker N: the first of each user's has INBOX selected and also
        STOREs; the others APPEND with nothing selected (no UPDATES before
        their answers)."""
        user = self.addresses[n % len(self.addresses)]
        selected = n < len(self.addresses)
        rng = random.Random(self.rng.random())
        try:
            while True:
                with self.lock:
                    if self.done:
                        return
                c, before, known = self.connect(user, selected)
                try:
                    while not self.done:
                        known = self.one_step(c, before, user, rng, selected, known)
                except Lost:
                    pass
                finally:
                    c.close()
        except BaseException as e:  # noqa: B902 - reported by run()
            with self.lock:
                self.errors.append("worker %d: %r" % (n, e))
                self.done = True

    def one_step(self, c, before, user, rng, selected, known):
        """An APPEND, or a STORE on a message acknowledged before and in the
        session's view (KNOWN); returns the UIDs in its view after this
        command.

        A UID STORE names messages of the session's view: one APPENDed by
        another session since is not in it yet, and its STORE is OK without
        storing anything (RFC 9051 6.4.9, a UID the session does not know
        is ignored). The view takes in what was committed before each
        tagged answer (the session asks the store for UPDATES then), so a
        UID acknowledged before this command is sent is in it after the
        answer."""
        with self.lock:
            now = sorted(self.acked[user])
        if selected and known and rng.random() < 0.4:
            uid, flag = rng.choice(known), rng.choice(("\\Flagged", "\\Answered", "$Kw1"))
            status, text, _ = self.command(c, before, "UID STORE %d +FLAGS (%s)" % (uid, flag))
            if status != "OK":
                raise AssertionError("STORE: %s %s" % (status, text))
            with self.lock:
                self.flags[user].setdefault(uid, set()).add(flag)
            return now
        tok = token()
        size = rng.choice((0, 200, 3000, 3000, 120000))
        data = message(tok, size=size, seed=rng.random())
        with self.lock:
            self.sent[tok] = data
        status, text, _ = self.command(c, before, append_cmd(data))
        v_uid = appenduid(text)
        if status != "OK" or v_uid is None:
            raise AssertionError("APPEND: %s %s" % (status, text))
        with self.lock:
            if v_uid[0] != self.uidvalidity[user]:
                raise AssertionError("APPENDUID with UIDVALIDITY %d, not %d"
                                     % (v_uid[0], self.uidvalidity[user]))
            if v_uid[1] in self.acked[user]:
                raise AssertionError("UID %d given twice" % v_uid[1])
            self.acked[user][v_uid[1]] = data
            self.n_acked += 1
        return now

    def killer(self):
        try:
            for k in range(self.n_kills):
                target = self.n_acked + self.rng.randint(3, 30)
                harness.wait_for(lambda: self.n_acked >= target or self.done,
                                 timeout=RESTART_TIMEOUT, interval=0.001,
                                 what="%d acknowledgements before kill %d" % (target, k + 1))
                if self.done:
                    return
                with self.lock:
                    self.killing = True
                    self.kills_started += 1
                self.srv.kill()
                self.srv.start()
                with self.lock:
                    self.killing = False
            target = self.n_acked + 10
            harness.wait_for(lambda: self.n_acked >= target or self.done,
                             timeout=RESTART_TIMEOUT, what="acknowledgements after the last kill")
        except BaseException as e:  # noqa: B902 - reported by run()
            with self.lock:
                self.errors.append("killer: %r" % e)

    def verify(self, append_more=False):
        """Every acknowledged message, flag and UID is there; every message
        is one that was sent, whole; new APPENDs get new UIDs."""
        t = self.test
        for user in self.addresses:
            with harness.imap_raw(self.srv, user=user, password=PW) as c:
                t.assertEqual(select(c), self.uidvalidity[user], "UIDVALIDITY changed")
                got = fetch_all(c)
                for uid, data in sorted(self.acked[user].items()):
                    t.assertIn(uid, got, "%s: acknowledged UID %d is gone" % (user, uid))
                    t.assertEqual(got[uid][1], data, "%s: UID %d has other bytes" % (user, uid))
                for uid, flags in sorted(self.flags[user].items()):
                    missing = flags - got[uid][0]
                    t.assertEqual(missing, set(), "%s: UID %d lost acknowledged flags %s"
                                  % (user, uid, missing))
                sent = set(self.sent.values())
                for uid, (_, data) in got.items():
                    t.assertIn(data, sent, "%s: UID %d holds bytes never sent (torn?)"
                               % (user, uid))
                if not append_more:
                    continue
                top = max(got) if got else 0
                for _ in range(3):
                    data = message(token(), size=500)
                    rest, _ = c.ok(append_cmd(data))
                    v, uid = appenduid(rest)
                    t.assertEqual(v, self.uidvalidity[user])
                    t.assertGreater(uid, top, "%s: UID %d given again" % (user, uid))
                    top = uid
                    self.acked[user][uid] = data
                    self.sent[token()] = data
                again = fetch_all(c)
                for uid, data in self.acked[user].items():
                    t.assertEqual(again[uid][1], data, "%s: UID %d changed" % (user, uid))
        if append_more:
            sys.stderr.write("t_44: %d kills, %d messages acknowledged\n"
                             % (self.kills_started, self.n_acked))


if __name__ == "__main__":
    harness.main()
