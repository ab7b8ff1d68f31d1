#!/usr/bin/python3
"""Descriptors handed down by whoever starts sealmail never reach its
roles: a directory descriptor inherited by a chrooted dispatcher would let
it out of its chroot (fchdir, openat). The server is started with two extra
descriptors open, one on "/" and one on a marker file, and no sealmail
process may hold either once it serves."""

import os
import sys
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import make_message, token  # noqa: E402


def group_pids(pgid):
    """Every process of process group PGID."""
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            pids.append(int(name))
    return pids


def open_targets(pid):
    out = {}
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            out[int(fd)] = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            pass
    return out


class InheritedDescriptors(harness.ServerTestCase):

    def test_inherited_descriptors_are_closed(self):
        srv = self.server_for(listeners={"mx": "optional"}, start=False)
        marker = os.path.join(srv.dir, "inherited-marker")
        with open(marker, "w") as f:
            f.write("x")
        root_fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
        file_fd = os.open(marker, os.O_RDONLY)
        try:
            srv.pass_fds = (root_fd, file_fd)
            srv.start()
        finally:
            os.close(root_fd)
            os.close(file_fd)
        # A delivered message: every role has started and done its work.
        tok = token()
        with srv.dialog() as d:
            d.ehlo()
            d.mail_transaction(harness.SENDER, ["bob@local.test"], make_message(tok))
            d.quit()
        harness.wait_for(lambda: srv.messages_with(tok), what="delivery")
        pids = group_pids(srv.pgid)
        self.assertGreaterEqual(len(pids), 4, "parent, queue, lookup and a dispatcher")
        for pid in pids:
            for fd, target in open_targets(pid).items():
                self.assertNotEqual(target, "/", "pid %d holds a descriptor on / (fd %d)"
                                    % (pid, fd))
                self.assertNotEqual(target, marker, "pid %d holds the inherited file (fd %d)"
                                    % (pid, fd))


if __name__ == "__main__":
    unittest.main(verbosity=2)
