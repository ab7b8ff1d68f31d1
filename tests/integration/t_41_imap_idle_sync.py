#!/usr/bin/python3
"""IMAP state over time: IDLE woken by an SMTP delivery (the untagged EXISTS
must come within a select() deadline; how soon after the 250 is reported,
never asserted); UIDs and UIDVALIDITY stable across a restart, a deleted
index (sealmail.index*) and a corrupt one; a message another tool drops into
new/ or cur/ appears with a new UID; CONDSTORE (HIGHESTMODSEQ, FETCH
CHANGEDSINCE, STORE UNCHANGEDSINCE and [MODIFIED]) and QRESYNC (SELECT with
(QRESYNC (uidvalidity modseq)) answering VANISHED (EARLIER) and the changed
FETCHes, VANISHED to a concurrent session).

No address of its own: everything here is on 127.0.0.1."""

import os
import re
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import SENDER, crlf, imap_parse, make_message, maildir_find, token  # noqa: E402

PW = "idle-Pw-%s" % token()[:8]
NAMES = ("idle", "stable", "drop", "cs", "qr")
USER = {n: "%s@local.test" % n for n in NAMES}
PASSWORDS = {USER[n]: PW + n for n in NAMES}
IDLE_DEADLINE = harness.TIMEOUT  # to wait for EXISTS (the promise is 1 s: reported only)
PROMISE = 1.0


def untagged_code(untagged, code):
    """The response code CODE's arguments from the untagged OKs: "* OK
    [HIGHESTMODSEQ 7] ..." -> ["7"]; None when absent."""
    for u in untagged:
        if u.startswith(b"* OK ["):
            c = harness.response_code(u[len(b"* OK "):])
            if c and c[0].upper() == code:
                return c[1:]
    return None


def fetches(untagged):
    """{UID: items} of the untagged FETCH responses (which must carry UID)."""
    out = {}
    for u in untagged:
        if re.match(rb"\* \d+ FETCH ", u):
            _, items = harness.fetch_items(u)
            out[int(items["UID"])] = items
    return out


def search_uids(untagged):
    for u in untagged:
        if u.startswith(b"* SEARCH"):
            u = re.sub(rb" \(MODSEQ \d+\)$", b"", u)   # CONDSTORE adds it
            return [int(x) for x in u.split()[2:]]
    raise AssertionError("no untagged SEARCH in %r" % untagged)


class ImapIdleSync(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(**harness.mail_server_kwargs(PASSWORDS))

    def raw(self, name, listener="imap"):
        c = harness.imap_raw(self.srv, listener, USER[name], PASSWORDS[USER[name]])
        self.addCleanup(c.close)
        return c

    def tokens_to_uids(self, c):
        """{X-Test-Token: UID} of the selected folder."""
        _, u = c.ok("UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (X-Test-Token)])")
        out = {}
        for r in u:
            if re.match(rb"\* \d+ FETCH ", r):
                _, it = harness.fetch_items(r)
                hdr = it["BODY[HEADER.FIELDS (X-TEST-TOKEN)]"]
                m = re.search(rb"X-Test-Token: (\S+)", hdr, re.I)
                out[m.group(1).decode()] = int(it["UID"])
        return out

    def select_state(self, c, box="INBOX"):
        _, u = c.ok("SELECT %s" % box)
        return (int(untagged_code(u, "UIDVALIDITY")[0]), int(untagged_code(u, "UIDNEXT")[0]))

    # -- IDLE --
    def test_idle_woken_by_smtp_delivery(self):
        a, b = self.raw("idle"), self.raw("idle", "imaps")
        _, u = a.ok("SELECT INBOX")
        exists = [int(x.split()[1]) for x in u if x.endswith(b" EXISTS")][0]
        b.ok("SELECT INBOX")
        latencies = []
        for round_ in range(3):
            for c in (a, b):
                c.send(b"i%d IDLE\r\n" % round_)
                r = c.read_response()
                self.assertTrue(r.startswith(b"+"), "IDLE: %r" % r)
            tok = token()
            s = harness.smtp_starttls(self.srv.port("mx"))
            self.assertEqual(s.sendmail(SENDER, [USER["idle"]], make_message(tok)), {})
            t250 = time.monotonic()   # sendmail returns on the 250 after DATA
            s.quit()
            exists += 1
            for name, c in (("starttls", a), ("imaps", b)):
                deadline = t250 + IDLE_DEADLINE
                got = None
                while got is None:
                    left = deadline - time.monotonic()
                    if left <= 0 or not c.pending(left):
                        self.fail("no EXISTS in IDLE (%s) within %.0f s of the 250; log:\n%s"
                                  % (name, IDLE_DEADLINE, self.srv.log_tail()))
                    r = c.read_response()
                    if r.endswith(b" EXISTS"):
                        got = r
                        latencies.append(time.monotonic() - t250)
                    else:
                        self.assertTrue(r.startswith(b"* "), "in IDLE: %r" % r)
                self.assertEqual(got, b"* %d EXISTS" % exists)
                c.send(b"DONE\r\n")
                status, text, _ = c.read_tagged("i%d" % round_)
                self.assertEqual(status, "OK", text)
            _, u = a.ok("UID SEARCH HEADER X-Test-Token %s" % tok)
            self.assertEqual(len(search_uids(u)), 1)
        worst = max(latencies)
        sys.stderr.write("\nIDLE: EXISTS %.3f s after the 250 at worst (%s); the promise is "
                         "%.1f s: %s\n" % (worst, ", ".join("%.3f" % x for x in latencies),
                                           PROMISE, "kept" if worst <= PROMISE else "NOT KEPT"))

    # -- UIDs over restarts and index rebuilds --
    def test_uids_stable_across_restart_and_index_rebuild(self):
        toks = [token() for _ in range(4)]
        for t in toks:
            harness.deliver(self.srv, USER["stable"], make_message(t))
        c = self.raw("stable")
        self.select_state(c)
        uids = self.tokens_to_uids(c)
        # A hole in the UIDs, and flags, must survive too.
        c.ok("UID STORE %d +FLAGS.SILENT (\\Deleted)" % uids[toks[1]])
        c.ok("UID EXPUNGE %d" % uids[toks[1]])
        c.ok("UID STORE %d +FLAGS.SILENT (\\Flagged \\Seen)" % uids[toks[2]])
        del uids[toks[1]]
        state = self.select_state(c)
        c.ok("LOGOUT")
        c.close()
        md = harness.folder_dir(self.srv, USER["stable"])

        def check(what, rebuilt=False):
            c = self.raw("stable")
            validity, uidnext = self.select_state(c)
            self.assertEqual(validity, state[0], "UIDVALIDITY after " + what)
            if rebuilt:
                # A rebuilt index cannot know which UIDs were given to messages
                # since expunged; it may skip ahead, never back.
                self.assertGreaterEqual(uidnext, state[1], "UIDNEXT after " + what)
            else:
                self.assertEqual(uidnext, state[1], "UIDNEXT after " + what)
            self.assertEqual(self.tokens_to_uids(c), uids, "UIDs after " + what)
            _, u = c.ok("UID FETCH %d (FLAGS)" % uids[toks[2]])
            flags = set(fetches(u)[uids[toks[2]]]["FLAGS"]) - {"\\Recent"}
            self.assertEqual(flags, {"\\Flagged", "\\Seen"}, "flags after " + what)
            c.ok("LOGOUT")
            c.close()

        self.srv.restart()
        check("a restart")
        self.srv.stop()
        index = [n for n in os.listdir(md) if n.startswith(harness.INDEX_PREFIX)]
        self.assertTrue(index, "no %s* in %s: %r" % (harness.INDEX_PREFIX, md, os.listdir(md)))
        for n in index:
            os.unlink(os.path.join(md, n))
        self.srv.start()
        check("deleting the index files %s" % index, rebuilt=True)
        self.srv.stop()
        index = [n for n in os.listdir(md) if n.startswith(harness.INDEX_PREFIX)]
        self.assertTrue(index, "the index was not rebuilt: %r" % os.listdir(md))
        for n in index:
            with open(os.path.join(md, n), "r+b") as f:
                size = len(f.read())
                f.seek(0)
                f.write(os.urandom(max(size, 64)))
        self.srv.start()
        check("overwriting the index files %s with garbage" % index, rebuilt=True)
        # Later mail gets UIDs above every earlier one; none is reused.
        t5 = token()
        harness.deliver(self.srv, USER["stable"], make_message(t5))
        c = self.raw("stable")
        self.select_state(c)
        new = self.tokens_to_uids(c)
        self.assertGreaterEqual(new[t5], state[1])

    # -- other tools --
    def test_message_dropped_into_maildir_by_another_tool(self):
        harness.deliver(self.srv, USER["drop"], make_message(token()))
        c = self.raw("drop")
        _, uidnext = self.select_state(c)
        md = harness.folder_dir(self.srv, USER["drop"])
        t_new, t_cur = token(), token()
        msgs = {t_new: make_message(t_new), t_cur: make_message(t_cur)}
        for tok, sub, suffix in ((t_new, "new", ""), (t_cur, "cur", ":2,S")):
            name = "%d.M%dP%d.othertool%s" % (time.time(), os.getpid(), len(tok), tok[:4])
            tmp = os.path.join(md, "tmp", name)
            with open(tmp, "wb") as f:
                f.write(msgs[tok].replace(b"\r\n", b"\n"))
            os.rename(tmp, os.path.join(md, sub, name + suffix))

        def both():
            _, u = c.ok("NOOP")
            _, u = c.ok("UID SEARCH OR HEADER X-Test-Token %s HEADER X-Test-Token %s"
                        % (t_new, t_cur))
            return len(search_uids(u)) == 2
        harness.wait_for(both, what="the dropped messages in the selected session")
        uids = {}
        for tok in msgs:
            _, u = c.ok("UID SEARCH HEADER X-Test-Token %s" % tok)
            [uid] = search_uids(u)
            self.assertGreaterEqual(uid, uidnext, "a dropped message reused a UID")
            uids[tok] = uid
            _, u = c.ok("UID FETCH %d (FLAGS BODY.PEEK[])" % uid)
            it = fetches(u)[uid]
            self.assertEqual(it["BODY[]"], crlf(msgs[tok]))
            flags = set(it["FLAGS"]) - {"\\Recent"}
            self.assertEqual(flags, {"\\Seen"} if tok == t_cur else set(), tok)
        self.assertNotEqual(uids[t_new], uids[t_cur])
        # The new/ file was taken into cur/.
        [path] = maildir_find(self.srv, USER["drop"], t_new)
        self.assertEqual(os.path.basename(os.path.dirname(path)), "cur", path)

    # -- CONDSTORE --
    def test_condstore(self):
        toks = [token() for _ in range(3)]
        for t in toks:
            harness.deliver(self.srv, USER["cs"], make_message(t))
        c = self.raw("cs")
        _, u = c.ok("SELECT INBOX (CONDSTORE)")
        h0 = int(untagged_code(u, "HIGHESTMODSEQ")[0])
        uids = self.tokens_to_uids(c)
        u1, u2, u3 = (uids[t] for t in toks)
        _, u = c.ok("UID FETCH 1:* (MODSEQ)")
        modseq = {uid: int(it["MODSEQ"][0]) for uid, it in fetches(u).items()}
        self.assertLessEqual(max(modseq.values()), h0)
        # A change gets a modseq above HIGHESTMODSEQ, in the FETCH it causes.
        _, u = c.ok("UID STORE %d +FLAGS (\\Seen)" % u1)
        m1 = int(fetches(u)[u1]["MODSEQ"][0])
        self.assertGreater(m1, h0)
        _, u = c.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % h0)
        self.assertEqual(set(fetches(u)), {u1}, u)
        # UNCHANGEDSINCE: the unchanged message is stored, the changed one not.
        status, text, u = c.command("UID STORE %d,%d (UNCHANGEDSINCE %d) +FLAGS (\\Flagged)"
                                    % (u1, u2, h0))
        self.assertEqual(status, "OK", text)
        self.assertEqual(harness.response_code(text), ["MODIFIED", str(u1)], text)
        _, u = c.ok("UID FETCH %d,%d (FLAGS)" % (u1, u2))
        f = fetches(u)
        self.assertNotIn("\\Flagged", f[u1]["FLAGS"])
        self.assertIn("\\Flagged", f[u2]["FLAGS"])
        _, u = c.ok("STATUS INBOX (HIGHESTMODSEQ)")
        st = imap_parse([x for x in u if x.startswith(b"* STATUS")][0])[3]
        h1 = int(dict(zip(st[::2], st[1::2]))["HIGHESTMODSEQ"])
        self.assertGreater(h1, m1)
        _, u = c.ok("UID FETCH 1:* (MODSEQ) (CHANGEDSINCE %d)" % m1)
        self.assertEqual(set(fetches(u)), {u2})
        _, u = c.ok("UID SEARCH MODSEQ %d" % (m1 + 1))
        self.assertEqual(search_uids(u), [u2])
        self.assertNotIn(u3, search_uids(c.ok("UID SEARCH MODSEQ %d" % (h0 + 1))[1]))

    # -- QRESYNC --
    def test_qresync(self):
        toks = [token() for _ in range(4)]
        for t in toks:
            harness.deliver(self.srv, USER["qr"], make_message(t))
        c = self.raw("qr")
        _, u = c.ok("ENABLE QRESYNC")
        self.assertTrue(any(re.match(rb"\* ENABLED .*QRESYNC", x, re.I) for x in u), u)
        _, u = c.ok("SELECT INBOX")
        validity = int(untagged_code(u, "UIDVALIDITY")[0])
        h0 = int(untagged_code(u, "HIGHESTMODSEQ")[0])
        uids = [self.tokens_to_uids(c)[t] for t in toks]
        c.ok("LOGOUT")
        c.close()
        # Another session changes one message and expunges another.
        d = self.raw("qr", "imaps")
        d.ok("SELECT INBOX")
        d.ok("UID STORE %d +FLAGS.SILENT (\\Answered)" % uids[1])
        d.ok("UID STORE %d +FLAGS.SILENT (\\Deleted)" % uids[2])
        d.ok("UID EXPUNGE %d" % uids[2])
        d.ok("LOGOUT")
        d.close()
        # Resync: what vanished (EARLIER) and what changed, nothing else.
        c = self.raw("qr")
        c.ok("ENABLE QRESYNC")
        _, u = c.ok("SELECT INBOX (QRESYNC (%d %d))" % (validity, h0))
        self.assertEqual(int(untagged_code(u, "UIDVALIDITY")[0]), validity)
        self.assertGreater(int(untagged_code(u, "HIGHESTMODSEQ")[0]), h0)
        vanished = [x for x in u if x.upper().startswith(b"* VANISHED ")]
        self.assertEqual(len(vanished), 1, u)
        v = imap_parse(vanished[0])
        self.assertEqual([str(x).upper() for x in v[2]], ["EARLIER"], vanished)
        self.assertEqual(harness.seqset_expand(v[3]), [uids[2]])
        f = fetches(u)
        self.assertEqual(set(f), {uids[1]}, u)
        self.assertIn("\\Answered", f[uids[1]]["FLAGS"])
        self.assertIn("MODSEQ", f[uids[1]])
        # The same through UID FETCH (CHANGEDSINCE ... VANISHED).
        _, u = c.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % h0)
        vanished = [x for x in u if x.upper().startswith(b"* VANISHED ")]
        self.assertEqual(len(vanished), 1, u)
        self.assertEqual(harness.seqset_expand(imap_parse(vanished[0])[3]), [uids[2]])
        self.assertEqual(set(fetches(u)), {uids[1]})
        # A wrong UIDVALIDITY: a plain SELECT, no VANISHED.
        c2 = self.raw("qr", "imaps")
        c2.ok("ENABLE QRESYNC")
        _, u = c2.ok("SELECT INBOX (QRESYNC (%d %d))" % (validity + 1, h0))
        self.assertFalse([x for x in u if x.upper().startswith(b"* VANISHED")], u)
        # With QRESYNC on, an expunge elsewhere arrives as VANISHED, not EXPUNGE.
        d = self.raw("qr", "imaps")
        d.ok("SELECT INBOX")
        d.ok("UID STORE %d +FLAGS.SILENT (\\Deleted)" % uids[3])
        d.ok("UID EXPUNGE %d" % uids[3])

        def vanished_now():
            _, u = c.ok("NOOP")
            self.assertFalse([x for x in u if x.endswith(b" EXPUNGE")], u)
            return [x for x in u if x.upper().startswith(b"* VANISHED ")]
        [line] = harness.wait_for(vanished_now, what="VANISHED in the QRESYNC session")
        self.assertEqual(harness.seqset_expand(imap_parse(line)[2]), [uids[3]])


if __name__ == "__main__":
    harness.main()
