#!/usr/bin/python3
"""Fault injection (libfiu's fiu-run and the named points of src/lib/fault.h):
a failure while a message is written or committed gives the client a 4xx,
never a 250, and leaves nothing that would be delivered later; the server
goes on serving; a failure while delivering defers the message, which is
then delivered exactly once."""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import SENDER, crlf_to_lf, make_message, split_delivered, token

EIO, ENOSPC = 5, 28
BOB, CAROL = "bob@local.test", "carol@local.test"
QUEUE_CONFIG = "[queue]\nretry = 1s\n"


def flush_queue(srv):
    """`sealmail queue flush`, once the restarted queue role listens on its
    control socket (which comes up after the SMTP listeners)."""
    harness.wait_for(lambda: srv.ctl("queue", "flush")[0] == 0,
                     what="`sealmail queue flush` to reach the queue")


class Faults(harness.ServerTestCase):

    # -- helpers --
    def start(self, *points, extra_config=QUEUE_CONFIG):
        """A server (one dispatcher, so a onetime point fires for the first
        message) with POINTS enabled."""
        return self.server_for(dispatchers=1, wrapper=harness.fault_wrapper(*points),
                               extra_config=extra_config)

    def transaction(self, d, tok, rcpts=(BOB,), body=None):
        """MAIL, RCPT, DATA and the message; returns (message, final reply)."""
        msg = make_message(tok, to=rcpts[0], body=body)
        return msg, d.mail_transaction(SENDER, list(rcpts), msg, expect_code=None)

    def assert_refused(self, reply, code, enhanced, d):
        if reply.code != code or reply.enhanced != enhanced:
            self.fail("expected %d %s, got %s\ntranscript:\n%s"
                      % (code, enhanced, reply, d.format_transcript()))

    def assert_accepted(self, reply, d):
        if reply.code != 250:
            self.fail("expected 250, got %s\ntranscript:\n%s" % (reply, d.format_transcript()))

    def assert_delivered_once(self, srv, tok, msg, rcpts=(BOB,)):
        """Each of RCPTS holds exactly one copy of MSG, byte for byte."""
        for rcpt in rcpts:
            harness.wait_for(lambda: [m for m in srv.messages(rcpt) if tok.encode() in m],
                             what="message %s for %s" % (tok, rcpt))
        srv.wait_queue_empty()
        for rcpt in rcpts:
            mine = [m for m in srv.messages(rcpt) if tok.encode() in m]
            self.assertEqual(len(mine), 1, "%s: %d copies of %s" % (rcpt, len(mine), tok))
            rp, dt, received, rest = split_delivered(mine[0])
            self.assertEqual((rp, dt), ("<%s>" % SENDER, rcpt))
            self.assertEqual(rest, crlf_to_lf(msg), "copy of %s for %s damaged" % (tok, rcpt))
        self.assertEqual(len(srv.messages_with(tok)), len(rcpts),
                         "copies of %s elsewhere" % tok)

    def assert_nowhere(self, srv, tok):
        """TOK is in no Maildir file (new, cur, tmp) and no spool file."""
        for path, data in srv.all_maildir_files(("new", "cur", "tmp")).items():
            self.assertNotIn(tok.encode(), data, "refused message found in %s" % path)
        for sub in ("pool", "queue"):
            for dirpath, _, files in os.walk(os.path.join(srv.data_dir, sub)):
                for n in files:
                    with open(os.path.join(dirpath, n), "rb") as f:
                        self.assertNotIn(tok.encode(), f.read(),
                                         "refused message left in %s/%s" % (dirpath, n))

    def assert_no_tmp_files(self, srv):
        self.assertEqual(sorted(srv.all_maildir_files(("tmp",))), [],
                         "files left in Maildir tmp/")

    # -- a failure while the message is written or committed --
    def check_commit_fault(self, point, errno, code, enhanced):
        """POINT fails once with ERRNO for the first message: the client gets
        CODE ENHANCED; the next message on the same session and on a new one
        is accepted; after a restart without faults the refused message is
        still delivered nowhere."""
        srv = self.start("%s,failinfo=%d,onetime" % (point, errno))
        bad, good1, good2 = token(), token(), token()
        with srv.dialog() as d:
            d.ehlo()
            _, r = self.transaction(d, bad)
            self.assert_refused(r, code, enhanced, d)
            msg1, r = self.transaction(d, good1)
            self.assert_accepted(r, d)
            d.quit()
        with srv.dialog() as d:
            d.ehlo()
            msg2, r = self.transaction(d, good2)
            self.assert_accepted(r, d)
            d.quit()
        self.assert_delivered_once(srv, good1, msg1)
        self.assert_delivered_once(srv, good2, msg2)
        self.assert_nowhere(srv, bad)
        # What recovery finds must not bring the refused message back.
        srv.stop()
        srv.wrapper = None
        srv.start()
        after = token()
        with srv.dialog() as d:
            d.ehlo()
            msg3, r = self.transaction(d, after)
            self.assert_accepted(r, d)
            d.quit()
        self.assert_delivered_once(srv, after, msg3)
        self.assert_nowhere(srv, bad)
        self.assert_delivered_once(srv, good1, msg1)
        self.assert_no_tmp_files(srv)

    def test_dispatcher_write_eio(self):
        self.check_commit_fault("smtp/data/write", EIO, 451, "4.3.0")

    def test_dispatcher_write_enospc(self):
        self.check_commit_fault("smtp/data/write", ENOSPC, 452, "4.3.1")

    def test_envelope_pwrite_eio(self):
        self.check_commit_fault("queue/commit/pwrite", EIO, 451, "4.3.0")

    def test_envelope_pwrite_enospc(self):
        self.check_commit_fault("queue/commit/pwrite", ENOSPC, 452, "4.3.1")

    def test_batch_sync_eio(self):
        self.check_commit_fault("queue/commit/sync", EIO, 451, "4.3.0")

    def test_batch_sync_enospc(self):
        self.check_commit_fault("queue/commit/sync", ENOSPC, 452, "4.3.1")

    def test_batch_sync_fails_for_every_message_of_the_batch(self):
        """Sessions whose commits share the failed flush all get 451; none
        gets 250; all of them can send again."""
        srv = self.start("queue/commit/sync,failinfo=%d,onetime" % EIO)
        dialogs = [srv.dialog() for _ in range(6)]
        toks = [token() for _ in dialogs]
        try:
            for d, tok in zip(dialogs, toks):
                d.ehlo()
                d.expect("MAIL FROM:<%s>" % SENDER, 250)
                d.expect("RCPT TO:<%s>" % BOB, 250)
                d.expect("DATA", 354)
                d.send(harness.dot_stuff(make_message(tok)))
            for d in dialogs:
                harness.wait_peer_consumed(d.raw)
            # The final dots at once, so that the commits can share a flush.
            for d in dialogs:
                d.send(b".\r\n")
            replies = [d.read_reply() for d in dialogs]
            codes = [r.code for r in replies]
            self.assertIn(451, codes, "no commit met the failed flush: %r" % replies)
            for d, tok, r in zip(dialogs, toks, replies):
                self.assertIn(r.code, (250, 451), r)
                if r.code == 451:
                    self.assertEqual(r.enhanced, "4.3.0", r)
                    msg, r2 = self.transaction(d, token())
                    self.assert_accepted(r2, d)
            harness.wait_for(lambda: not srv.queue_files(), what="empty queue")
            for tok, r in zip(toks, replies):
                if r.code == 451:
                    self.assert_nowhere(srv, tok)
                else:
                    self.assertEqual(len(srv.messages_with(tok)), 1, tok)
        finally:
            for d in dialogs:
                d.close()

    def test_pool_file_creation_fails(self):
        """Every spool file creation fails (a file system out of inodes):
        DATA gets 452 4.3.1 each time, and the session goes on."""
        srv = self.start("queue/pool/open,failinfo=%d" % ENOSPC)
        with srv.dialog() as d:
            d.ehlo()
            for _ in range(3):
                d.expect("MAIL FROM:<%s>" % SENDER, 250)
                d.expect("RCPT TO:<%s>" % BOB, 250)
                r = d.cmd("DATA")
                self.assert_refused(r, 452, "4.3.1", d)
                d.expect("NOOP", 250)
            d.expect("RSET", 250)
            d.quit()
        self.assertEqual(os.listdir(os.path.join(srv.data_dir, "pool")), [])
        self.assertEqual(sorted(srv.all_maildir_files()), [])

    def test_pool_file_creation_eio(self):
        srv = self.start("queue/pool/open,failinfo=%d" % EIO)
        with srv.dialog() as d:
            d.ehlo()
            d.expect("MAIL FROM:<%s>" % SENDER, 250)
            d.expect("RCPT TO:<%s>" % BOB, 250)
            self.assert_refused(d.cmd("DATA"), 451, "4.3.0", d)
            d.expect("RSET", 250)
            d.quit()

    def test_rename_into_active_fails_after_the_flush(self):
        """The flush made the message stable before the rename failed: it is
        stored (a 451 now would have the client send it twice), so 250, and
        it is delivered once, served from pool/, and not again after a
        restart."""
        srv = self.start("queue/commit/rename,failinfo=%d,onetime" % EIO)
        tok, tok2 = token(), token()
        with srv.dialog() as d:
            d.ehlo()
            msg, r = self.transaction(d, tok, rcpts=(BOB, CAROL))
            self.assert_accepted(r, d)
            msg2, r = self.transaction(d, tok2)
            self.assert_accepted(r, d)
            d.quit()
        srv.wait_log(r"event=spool-error .*rename")
        self.assert_delivered_once(srv, tok, msg, rcpts=(BOB, CAROL))
        self.assert_delivered_once(srv, tok2, msg2)
        pool = os.path.join(srv.data_dir, "pool")
        for n in os.listdir(pool):
            self.assertEqual(os.path.getsize(os.path.join(pool, n)), 0,
                             "the delivered message is still in pool/%s" % n)
        srv.stop()
        srv.wrapper = None
        srv.start()
        after = token()
        with srv.dialog() as d:
            d.ehlo()
            msg3, r = self.transaction(d, after)
            self.assert_accepted(r, d)
            d.quit()
        self.assert_delivered_once(srv, after, msg3)
        self.assert_delivered_once(srv, tok, msg, rcpts=(BOB, CAROL))

    def test_rename_fails_then_restart_before_delivery(self):
        """A message kept in pool/ after a failed rename is recovered at the
        next start (sealed, its checksum holds) and delivered once."""
        srv = self.start("queue/commit/rename,failinfo=%d,onetime" % EIO,
                         "queue/maildir/open,failinfo=%d" % EIO,
                         extra_config="[queue]\nretry = 1h\n")
        tok = token()
        with srv.dialog() as d:
            d.ehlo()
            msg, r = self.transaction(d, tok)
            self.assert_accepted(r, d)
            d.quit()
        srv.wait_event("deferred", to=BOB)
        srv.kill()
        srv.wrapper = None
        srv.start()
        flush_queue(srv)
        self.assert_delivered_once(srv, tok, msg)

    def test_spool_directories_cannot_be_made(self):
        srv = self.server_for(dispatchers=1, start=False,
                              wrapper=harness.fault_wrapper("queue/dirs/mkdir,failinfo=%d"
                                                            % ENOSPC))
        srv.start(wait=False)
        harness.wait_for(lambda: srv.proc.poll() is not None,
                         what="sealmail to exit without its spool directories")
        self.assertNotEqual(srv.proc.returncode, 0)
        self.assertRegex(srv.log(), r"cannot create spool directories: No space left")

    # -- a failure while delivering --
    def check_delivery_fault(self, point, rcpts=(BOB,), more=()):
        """POINT fails once while the message is delivered: it was accepted,
        is deferred, and then delivered exactly once to each of RCPTS."""
        srv = self.start("%s,failinfo=%d,onetime" % (point, EIO), *more)
        tok = token()
        mark = srv.log_mark()
        with srv.dialog() as d:
            d.ehlo()
            msg, r = self.transaction(d, tok, rcpts=rcpts)
            self.assert_accepted(r, d)
            d.quit()
        self.assert_delivered_once(srv, tok, msg, rcpts=rcpts)
        self.assert_no_tmp_files(srv)
        return srv, mark

    def test_maildir_mkdir(self):
        srv, mark = self.check_delivery_fault("queue/maildir/mkdir")
        srv.wait_event("deferred", since=mark, to=BOB)

    def test_maildir_open(self):
        srv, mark = self.check_delivery_fault("queue/maildir/open")
        srv.wait_event("deferred", since=mark, to=BOB)

    def test_maildir_write(self):
        srv, mark = self.check_delivery_fault("queue/maildir/write")
        srv.wait_event("deferred", since=mark, to=BOB)

    def test_delivery_copies_sync(self):
        """The syncfs of the copies in tmp/ fails after the commit's own
        succeeded: the message was accepted, nothing is renamed into new/
        then, and it is delivered once by a later attempt."""
        srv, mark = self.check_delivery_fault("queue/deliver/copies")
        srv.wait_log(r"event=sync-error", since=mark)
        deferred = srv.wait_event("deferred", since=mark, to=BOB)
        self.assertEqual(len(deferred), 1)
        self.assertIn("the file system could not be synced", deferred[0]["reason"])
        self.assertEqual(len(srv.events("delivered", since=mark)), 1)

    def test_maildir_rename(self):
        srv, mark = self.check_delivery_fault("queue/maildir/rename", rcpts=(BOB, CAROL))
        self.assertEqual(len(srv.events("delivered", since=mark)), 2)

    def test_delivery_sync_after_rename(self):
        """The syncfs after the renames into new/ fails: the copies are there
        already, so they count as delivered (not written again), and the
        spool file stays until a later flush succeeds."""
        srv, mark = self.check_delivery_fault("queue/deliver/sync", rcpts=(BOB, CAROL))
        srv.wait_log(r"event=sync-error", since=mark)

    def test_delivery_sync_keeps_failing(self):
        """Every syncfs after the renames into new/ fails: the copy is there
        (delivered once), but the spool file stays, since the rename is not
        known to be stable. The attempts that follow have no copy left to
        write, and still must not remove the file without a syncfs."""
        srv = self.start("queue/deliver/sync,failinfo=%d" % EIO)
        tok = token()
        mark = srv.log_mark()
        with srv.dialog() as d:
            d.ehlo()
            _, r = self.transaction(d, tok)
            self.assert_accepted(r, d)
            d.quit()
        harness.wait_for(lambda: srv.messages_with(tok), what="the copy of " + tok)

        def settled():
            if srv.events("removed", since=mark):
                return "removed"
            return len(srv.events("sync-error", since=mark)) >= 3 and "kept"
        self.assertEqual(harness.wait_for(settled, what="three failed syncs or a removal"),
                         "kept", "spool file removed without a syncfs after the rename; "
                         "log:\n" + srv.log_tail())
        self.assertEqual(len(srv.messages_with(tok)), 1)
        self.assertEqual(len(os.listdir(os.path.join(srv.data_dir, "queue", "active"))), 1)
        self.assert_no_tmp_files(srv)

    def test_state_file_faults(self):
        """One recipient fails once (so the message waits with its state)
        while the state file cannot be written: the other recipient is not
        delivered again, and no temporary state file stays behind."""
        for point in ("queue/state/open", "queue/state/write", "queue/state/rename"):
            with self.subTest(point=point):
                srv, mark = self.check_delivery_fault(
                    "queue/maildir/open", rcpts=(BOB, CAROL),
                    more=("%s,failinfo=%d,onetime" % (point, EIO),))
                srv.wait_log(r"event=spool-error .*state file", since=mark)

    def test_state_file_never_renamed_leaves_no_temporary_file(self):
        """Every rename of a state file fails: the message is still delivered
        once, and its temporary state files go with it."""
        srv, mark = self.check_delivery_fault(
            "queue/maildir/open", rcpts=(BOB, CAROL),
            more=("queue/state/rename,failinfo=%d" % EIO,))
        srv.wait_log(r"event=spool-error .*state file", since=mark)

    def test_state_file_written_again_before_a_restart(self):
        """The state file that could not be written is written on a later
        tick, so a restart does not deliver the delivered recipient again."""
        srv = self.start("queue/maildir/open,failinfo=%d,onetime" % EIO,
                         "queue/state/write,failinfo=%d,onetime" % EIO,
                         extra_config="[queue]\nretry = 1h\n")
        tok = token()
        with srv.dialog() as d:
            d.ehlo()
            msg, r = self.transaction(d, tok, rcpts=(BOB, CAROL))
            self.assert_accepted(r, d)
            d.quit()
        srv.wait_log(r"event=spool-error .*state file")
        state_dir = os.path.join(srv.data_dir, "queue", "state")

        def state_written():
            for n in os.listdir(state_dir):
                with open(os.path.join(state_dir, n)) as f:
                    if "attempts 1" in f.read():
                        return n
            return None
        harness.wait_for(state_written, what="the state file written again")
        srv.stop()
        srv.wrapper = None
        srv.start()
        flush_queue(srv)
        self.assert_delivered_once(srv, tok, msg, rcpts=(BOB, CAROL))


if __name__ == "__main__":
    harness.main()
