#!/usr/bin/python3
"""The queue role's loop never makes the last close of a delivered spool
file: that close frees the file's blocks (on a file system mounted with
discard, it waits for the device), so it belongs to the role's reaper
thread. Seen in the system calls: under strace, every close of a
descriptor whose file is gone from queue/active/ comes from a thread of the
queue role other than its first, and the unlink came first."""

import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import SENDER, make_message, token

MESSAGES = 12
# "TID name(args) = ret", or "TID name(args <unfinished ...>" when the
# call was interrupted by another thread's
LINE_RE = re.compile(r"^(\d+)\s+(\w+)\((.*)$")
ACTIVE_RE = re.compile(r"queue/active/([0-9A-Za-z]+)")


class SpoolReaper(harness.ServerTestCase):

    def test_last_close_of_delivered_files_is_not_the_loops(self):
        strace = harness.need_tool("strace", "strace")
        trace = os.path.join(harness.new_tmpdir("strace-"), "trace")
        srv = self.server_for(dispatchers=1, wrapper=[
            strace, "-f", "-yy", "-o", trace, "-e", "trace=close,unlink,unlinkat"])
        toks = []
        with srv.dialog() as d:
            d.ehlo()
            for _ in range(MESSAGES):
                tok = token()
                d.mail_transaction(SENDER, ["bob@local.test"], make_message(tok))
                toks.append(tok)
            d.quit()
        for tok in toks:
            harness.wait_for(lambda: srv.messages_with(tok), what="delivery of " + tok)
        srv.wait_queue_empty()
        srv.stop()

        queue_pid = int(srv.events("recovered")[0]["_line"].split("sealmail[")[1].split("]")[0])
        unlinked, closes = {}, []
        with open(trace) as f:
            for n, line in enumerate(f):
                m = LINE_RE.match(line)
                if not m:
                    continue
                tid, name, args = int(m.group(1)), m.group(2), m.group(3)
                a = ACTIVE_RE.search(args)
                if a is None:
                    continue
                if name in ("unlink", "unlinkat"):
                    unlinked[a.group(1)] = n
                elif name == "close" and "(deleted)" in args:
                    closes.append((n, tid, a.group(1)))
        self.assertEqual(len(unlinked), MESSAGES, "every spool file unlinked once")
        self.assertEqual(len(closes), MESSAGES, "the last close of each was seen")
        for n, tid, qid in closes:
            self.assertLess(unlinked[qid], n, "%s closed before it was unlinked" % qid)
            self.assertNotEqual(tid, queue_pid,
                                "the queue's loop made the last close of %s" % qid)


if __name__ == "__main__":
    harness.main()
