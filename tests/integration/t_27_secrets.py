#!/usr/bin/python3
"""Secrets only where they are needed: the users file's password hashes are
held by the lookup role (and the parent that reads the file), never by a
dispatcher or the queue; a password given to AUTH is gone from the
dispatcher and the lookup role once the login is answered. Checked by
reading each process's memory (/proc/PID/mem, as root) for the bytes."""

import os
import re
import sys
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import token  # noqa: E402

ALICE = "alice@local.test"
PASSWORD = "Secret-%s-pw" % token()
LISTENERS = {"sub": {"protocol": "submission", "tls": "required"}, "mx": "optional"}


def roles(srv):
    """{role: [pid, ...]} of the live sealmail processes, from the log."""
    out = {}
    for pid, role in set(re.findall(r"sealmail\[(\d+)\] role=(\w+) ", srv.log())):
        if os.path.exists("/proc/%s" % pid):
            out.setdefault(role, []).append(int(pid))
    return out


# A sanitizer build reserves terabytes of shadow and allocator space as
# writable mappings; reading them would take hours. Mappings above this size
# are not read (a normal build has none: its heap and stacks are far smaller).
MAPPING_MAX = 1 << 30
CHUNK = 1 << 20


def memory_holds(pid, needle):
    """Whether any readable, writable mapping of PID (up to MAPPING_MAX)
    holds NEEDLE; read in chunks that overlap by len(NEEDLE)."""
    with open("/proc/%d/maps" % pid) as maps, open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            fields = line.split()
            if "r" not in fields[1] or "w" not in fields[1]:
                continue
            if len(fields) > 5 and fields[5] in ("[vvar]", "[vsyscall]"):
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if end - start > MAPPING_MAX:
                continue
            at = start
            while at < end:
                try:
                    mem.seek(at)
                    data = mem.read(min(CHUNK + len(needle), end - at))
                except (OSError, ValueError, OverflowError):
                    break
                if needle in data:
                    return True
                at += CHUNK
    return False


class Secrets(harness.ServerTestCase):

    def setUp(self):
        if os.geteuid() != 0:
            self.fail("reading another process's memory needs root (run the tests as root)")
        self.srv = self.server_for(listeners=LISTENERS, passwords={ALICE: PASSWORD})
        with open(self.srv.users_path) as f:
            [self.hash] = [ln.split(":", 1)[1].strip().encode() for ln in f
                           if ln.startswith(ALICE + ":")]
        # every role has started and answered once
        with self.srv.login("sub", ALICE, PASSWORD) as d:
            d.quit()
        harness.wait_for(lambda: {"dispatcher", "queue", "lookup"} <= set(roles(self.srv)),
                         what="every role in the log")

    def test_hashes_not_in_dispatchers_or_queue(self):
        r = roles(self.srv)
        self.assertTrue(memory_holds(r["lookup"][0], self.hash),
                        "control: the lookup role must hold the hash")
        for role in ("dispatcher", "queue"):
            for pid in r[role]:
                self.assertFalse(memory_holds(pid, self.hash),
                                 "%s %d holds alice's password hash" % (role, pid))

    def test_password_gone_after_login(self):
        mark = self.srv.log_mark()
        with self.srv.login("sub", ALICE, PASSWORD) as d:
            self.srv.wait_log(r"event=auth session=\S+ user=alice@local.test", since=mark)
            r = roles(self.srv)
            for role in ("dispatcher", "lookup"):
                for pid in r[role]:
                    self.assertFalse(memory_holds(pid, PASSWORD.encode()),
                                     "%s %d still holds the password" % (role, pid))
            d.quit()


class LargeUsersFile(harness.ServerTestCase):
    """A users file larger than a socket buffer is still being sent to the
    lookup role when the dispatchers are forked: what was unsent must not
    reach them."""

    def test_hash_at_the_end_of_a_large_file_not_in_dispatchers(self):
        if os.geteuid() != 0:
            self.fail("reading another process's memory needs root (run the tests as root)")
        srv = self.server_for(listeners=LISTENERS, passwords={ALICE: PASSWORD}, start=False)
        with open(srv.users_path) as f:
            lines = f.read().splitlines()
        [mine] = [ln for ln in lines if ln.startswith(ALICE + ":")]
        filler = ["filler%05d@local.test:$y$j9T$%s$%s" % (i, "s" * 22, "h" * 43)
                  for i in range(40000)]  # about 4 MB, the hash last
        with open(srv.users_path, "w") as f:
            f.write("\n".join([ln for ln in lines if ln != mine] + filler + [mine]) + "\n")
        srv.start()
        with srv.login("sub", ALICE, PASSWORD) as d:  # the lookup role has it all
            d.quit()
        needle = mine.split(":", 1)[1].encode()
        r = roles(srv)
        self.assertTrue(memory_holds(r["lookup"][0], needle), "control: lookup holds it")
        for pid in r["dispatcher"]:
            self.assertFalse(memory_holds(pid, needle),
                             "dispatcher %d holds the hash at the end of the users file" % pid)


if __name__ == "__main__":
    unittest.main(verbosity=2)
