#!/usr/bin/python3
"""A full disk: data_dir on a small tmpfs. A message that cannot be stored is
answered 452 4.3.1, never 250; the server goes on answering; a message
accepted before the disk filled waits (its Maildir copy hit ENOSPC) and is
delivered once when there is room again, as is the next message. Needs root
(to mount the tmpfs); without it the test fails, it does not skip."""

import errno
import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import SENDER, crlf_to_lf, make_message, split_delivered, token

BOB, CAROL = "bob@local.test", "carol@local.test"
FS_SIZE = 4 * 1024 * 1024
BIG = 256 * 1024  # octets of a big message's body


def big_body(tok):
    line = b"x" * 76 + b"\r\n"
    return b"big " + tok.encode() + b"\r\n" + line * (BIG // len(line))


class FullDisk(harness.ServerTestCase):

    def setUp(self):
        if os.geteuid() != 0:
            self.fail("this test needs root: it mounts a tmpfs as the server's data_dir")
        for tool, package in (("mount", "mount"), ("umount", "mount")):
            harness.need_tool(tool, package)
        self.srv = harness.Server(dispatchers=1, start=False,
                                  extra_config="[queue]\nretry = 1s\n")
        self.filler = os.path.join(self.srv.data_dir, "filler")
        harness.run(["mount", "-t", "tmpfs", "-o", "size=%d,mode=0777" % FS_SIZE,
                     "sealmail-test", self.srv.data_dir])
        self.addCleanup(self.unmount)
        self.srv.start()

    def unmount(self):
        try:
            self.srv.close()
        finally:
            p = subprocess.run(["umount", self.srv.data_dir], stderr=subprocess.PIPE)
            if p.returncode != 0:
                # Still busy (a process of a failed start): detach it anyway.
                subprocess.run(["umount", "-l", self.srv.data_dir])

    # -- helpers --
    def free_bytes(self):
        st = os.statvfs(self.srv.data_dir)
        return st.f_bavail * st.f_frsize

    def fill(self, leave=0):
        """Grows the filler file until at most LEAVE octets are free. The
        queue's reaper thread closes delivered spool files after they are
        unlinked, so their blocks may come free while this fills: it keeps
        topping up until the free space stays within a page of LEAVE."""
        with open(self.filler, "ab", buffering=0) as f:
            def filled():
                while self.free_bytes() > leave:
                    try:
                        f.write(b"\0" * min(self.free_bytes() - leave, 1 << 20))
                    except OSError as e:
                        if e.errno != errno.ENOSPC:
                            raise
                        break
                return self.free_bytes() <= leave + 4096
            harness.wait_for(filled, what="the data directory filled to %d free" % leave)

    def send(self, d, tok, body=None, rcpts=(BOB,)):
        msg = make_message(tok, to=rcpts[0], body=body)
        return msg, d.mail_transaction(SENDER, list(rcpts), msg, expect_code=None)

    def expect(self, reply, code, enhanced, d):
        if reply.code != code or (enhanced and reply.enhanced != enhanced):
            self.fail("expected %d %s, got %s\ntranscript:\n%s\nlog:\n%s"
                      % (code, enhanced or "", reply, d.format_transcript(),
                         self.srv.log_tail()))

    def assert_delivered_once(self, tok, msg, rcpts=(BOB,)):
        for rcpt in rcpts:
            mine = [m for m in self.srv.messages(rcpt) if tok.encode() in m]
            self.assertEqual(len(mine), 1, "%s: %d copies of %s" % (rcpt, len(mine), tok))
            self.assertEqual(split_delivered(mine[0])[3], crlf_to_lf(msg),
                             "copy of %s for %s damaged" % (tok, rcpt))

    def assert_nowhere(self, tok):
        for path, data in self.srv.all_maildir_files(("new", "cur", "tmp")).items():
            self.assertNotIn(tok.encode(), data, "refused message found in %s" % path)
        for sub in ("pool", "queue"):
            for dirpath, _, files in os.walk(os.path.join(self.srv.data_dir, sub)):
                for n in files:
                    with open(os.path.join(dirpath, n), "rb") as f:
                        self.assertNotIn(tok.encode(), f.read(),
                                         "refused message left in %s/%s" % (dirpath, n))

    # -- the test --
    def test_full_disk(self):
        srv = self.srv
        first, waiting, refused, small, after = (token() for _ in range(5))
        with srv.dialog() as d:
            d.ehlo()
            first_msg, r = self.send(d, first)
            self.expect(r, 250, None, d)
            srv.wait_messages(BOB, 1)
            srv.wait_queue_empty()

            # Room for the spool file of a big message, not for its Maildir
            # copies as well: accepted, then deferred.
            mark = srv.log_mark()
            self.fill(leave=BIG + BIG // 2)
            waiting_msg, r = self.send(d, waiting, body=big_body(waiting))
            self.expect(r, 250, None, d)
            deferred = srv.wait_event("deferred", since=mark, to=BOB)
            self.assertIn("No space left on device", deferred[0]["_line"])

            # Another big one does not fit: 452, and the session goes on.
            _, r = self.send(d, refused, body=big_body(refused))
            self.expect(r, 452, "4.3.1", d)
            self.assertEqual(r.text, "4.3.1 Insufficient system storage")
            d.expect("NOOP", 250)
            d.expect("RSET", 250)

            # Completely full: even a small message is refused.
            self.fill(leave=0)
            _, r = self.send(d, small)
            self.expect(r, 452, "4.3.1", d)
            d.ehlo()
            d.expect("MAIL FROM:<%s>" % SENDER, 250)
            d.expect("RCPT TO:<%s>" % CAROL, 250)
            d.expect("RSET", 250)
        with srv.dialog() as d2:
            d2.ehlo()
            d2.expect("NOOP", 250)
            d2.quit()
        self.assertTrue(srv.running(), "sealmail exited on a full disk:\n" + srv.log_tail())
        self.assertEqual(srv.messages_with(waiting), [])

        # Room again: the waiting message is delivered, the next is accepted.
        os.unlink(self.filler)
        harness.wait_for(lambda: srv.messages_with(waiting),
                         what="the message accepted before the disk filled")
        with srv.dialog() as d:
            d.ehlo()
            after_msg, r = self.send(d, after, rcpts=(BOB, CAROL))
            self.expect(r, 250, None, d)
            d.quit()
        harness.wait_for(lambda: len(srv.messages_with(after)) == 2, what="message after")
        srv.wait_queue_empty()
        self.assert_delivered_once(first, first_msg)
        self.assert_delivered_once(waiting, waiting_msg)
        self.assert_delivered_once(after, after_msg, rcpts=(BOB, CAROL))
        self.assert_nowhere(refused)
        self.assert_nowhere(small)
        self.assertEqual(sorted(srv.all_maildir_files(("tmp",))), [], "files left in Maildir tmp/")


if __name__ == "__main__":
    harness.main()
