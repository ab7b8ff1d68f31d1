#!/usr/bin/python3
"""The operator's view of the queue: `sealmail queue show ID` explains the
envelope in words and names the SMTP AUTH login; `queue list` and `queue
show` give messages and recipients the same state words (pending, active,
deferred, held, delivered, bounced); a manual `queue flush` or `queue
release` is an extra attempt that leaves the retry schedule where it was;
`mailq` (sealmail run by that name) and `sealmail queue mailq` print the
sendmail/Postfix layout.

Remote mail goes to a [routes] entry where nothing listens, so every
attempt fails at once with the same reason. The retry schedule is "10m 1h":
a failed scheduled attempt moves the next one an hour on, a failed manual
one must not.

Addresses of this file: 127.82.0.0/16."""

import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
import outbound  # noqa: E402
from harness import token  # noqa: E402

ALICE = "alice@local.test"
ALICE_PW = "alice-Pw-%s" % token()[:8]
DEAD = "127.82.0.9"
SUBMISSION = {"protocol": "submission", "tls": "required"}
ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def dead_port():
    """A port on DEAD where nothing listens (bound once, then closed)."""
    return outbound.free_udp_tcp_port(DEAD)


def message(tok, to):
    return ("From: <%s>\r\nTo: <%s>\r\nSubject: q %s\r\nX-Test-Token: %s\r\n\r\n"
            "hello %s\r\n" % (ALICE, to, tok, tok, tok)).encode()


def queue_id(reply):
    m = re.search(r"queued as (\S+)", reply.text)
    if not m:
        raise AssertionError("no queue id in %s" % reply)
    return m.group(1)


def iso_seconds(text):
    return int(time.mktime(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone)


class QueueCase(outbound.OutboundTestCase):

    @classmethod
    def make_server(cls, retry="10m 1h"):
        dns = cls.start_unbound(outbound.a("probe.dead.test", DEAD))
        return outbound.outbound_server(
            dns.resolver(), 25, routes=(("dead.test", "%s:%d" % (DEAD, dead_port())),),
            retry=retry, max_lifetime="1d", delay_warning="0",
            server=dict(listeners={"mx": "optional", "sub": SUBMISSION},
                        passwords={ALICE: ALICE_PW},
                        users=harness.DEFAULT_USERS + (ALICE,)))

    def submit_as_alice(self, rcpts, tok=None):
        """Submits a message from alice, logged in, to RCPTS; returns
        (token, queue id) once every remote recipient was tried once."""
        tok = tok or token()
        with self.srv.login("sub", ALICE, ALICE_PW) as d:
            qid = queue_id(d.mail_transaction(ALICE, rcpts, message(tok, rcpts[0])))
            d.quit()
        for r in rcpts:
            if r.endswith("@dead.test"):
                outbound.wait_deferred(self.srv, qid, r)
        return tok, qid

    def deferred_count(self, qid):
        return len(outbound.events_for(self.srv, "deferred", qid))

    def show(self, qid):
        return self.srv.ctl_ok("queue", "show", qid)

    def next_attempt(self, qid):
        m = re.search(r"^next attempt: (%s)$" % ISO, self.show(qid), re.M)
        self.assertTrue(m, self.show(qid))
        return m.group(1)


def template_regex(template, fields):
    """TEMPLATE with each {NAME} replaced by the pattern FIELDS[NAME] (a
    group of that name), the rest matched literally."""
    out, pos = [], 0
    for m in re.finditer(r"\{(\w+)\}", template):
        out.append(re.escape(template[pos:m.start()]))
        name = m.group(1)
        out.append("(?P<%s>%s)" % (name, fields[name]))
        pos = m.end()
    out.append(re.escape(template[pos:]))
    return re.compile("".join(out))


# `queue show` of a message alice submitted (logged in) to a remote
# recipient tried once and a local one delivered, up to the header.
SHOW = """{qid} age={age} size={size} from=<alice@local.test> state=deferred attempts=1 next={next}
    to=<{far}> state=deferred dsn=4.4.1 last_error="4.4.1 connect to {relay}: Connection refused"
{record}    to=<bob@local.test> state=delivered
arrived: {arrived}
next attempt: {next_at}
client: 127.0.0.1 helo=client.test tls={tls} listener=sub
auth: alice@local.test (logged in with SMTP AUTH)
body: 7bit (no BODY= given)
ret: not requested (a bounce returns the headers only)
envid: none (no ENVID= given)

Received: from client.test ([127.0.0.1])\r
"""
SHOW_FIELDS = {"qid": r"[0-9A-Za-z]{18}", "age": r"\d+s", "size": r"\d+", "next": r"10m|9m",
               "far": r"far-[0-9a-f]{6}@dead\.test", "relay": r"127\.82\.0\.9\[127\.82\.0\.9\]:\d+",
               # the attempt's record, as t_55_record.py checks it
               "record": r"(?:        attempted: [^\n]*\n)(?:        [a-z-]+: [^\n]*\n)*",
               "arrived": ISO, "next_at": ISO, "tls": r"TLSv1\.3/\S+"}

# the same lines for a client that did not log in but gave every parameter
PARAMS = """client: 127.0.0.1 helo=client.test tls=none listener=mx
auth: none (the client did not log in)
body: 8bitmime (BODY=8BITMIME)
ret: full (RET=FULL: a bounce returns the whole message)
envid: t82+2Bid (ENVID=, as given)

"""


class QueueShowAndStates(QueueCase):

    @classmethod
    def setUpClass(cls):
        outbound.need_unbound()
        cls.srv = cls.make_server()
        cls.addClassCleanup(cls.srv.close)

    def test_1_show_exact(self):
        far = "far-%s@dead.test" % token()[:6]
        tok, qid = self.submit_as_alice([far, "bob@local.test"])
        outbound.wait_delivered(self.srv, qid, "bob@local.test")
        out = self.show(qid)
        m = template_regex(SHOW, SHOW_FIELDS).match(out)
        self.assertTrue(m, "queue show is not as documented:\n%s" % out)
        self.assertEqual((m.group("qid"), m.group("far")), (qid, far), out)
        # the next attempt is one step of the schedule (10m) after the first
        arrived, next_at = iso_seconds(m.group("arrived")), iso_seconds(m.group("next_at"))
        self.assertTrue(600 <= next_at - arrived <= 605, out)
        self.assertIn("\r\nX-Test-Token: %s\r\n" % tok, out)
        self.assertTrue(out.endswith("\r\n"), out[-200:])

    def test_2_show_parameters_in_words(self):
        far = "p-%s@dead.test" % token()[:6]
        qid = outbound.submit(self.srv, ALICE, [far], message(token(), far),
                              mail_params="BODY=8BITMIME RET=FULL ENVID=t82+2Bid")
        outbound.wait_deferred(self.srv, qid, far)
        out = self.show(qid)
        self.assertIn("\n" + PARAMS, out)

    def test_3_old_spool_file_without_the_login_name(self):
        # A file queued before the name was kept: "auth 1" alone. It loads,
        # and show says the name is not known.
        far = "old-%s@dead.test" % token()[:6]
        tok, qid = self.submit_as_alice([far])
        # the spool file, not the state file queue/state/ID
        [path] = [p for p in self.srv.queue_files()
                  if os.path.basename(p) == qid and "/state/" not in p]
        self.srv.stop()
        with open(path, "rb") as f:
            data = f.read()
        self.assertEqual(data.count(b"\nauth-user alice@local.test\n"), 1, data[-600:])
        with open(path, "wb") as f:
            f.write(data.replace(b"\nauth-user alice@local.test\n", b"\n"))
        self.srv.start()
        outbound.wait_greeting(self.srv)
        out = self.show(qid)
        self.assertIn("\nauth: logged in, name not recorded (queued by a version that did "
                      "not keep it)\n", out)
        self.srv.ctl_ok("queue", "delete", qid)

    def test_4_list_and_show_share_the_state_words(self):
        far = "st-%s@dead.test" % token()[:6]
        tok, qid = self.submit_as_alice([far, "carol@local.test"])
        outbound.wait_delivered(self.srv, qid, "carol@local.test")
        block = outbound.queue_list(self.srv)[qid]
        first, *rcpts = block.splitlines()
        self.assertRegex(first, r" state=deferred attempts=1 next=(10m|9m)$")
        # a delivered recipient is not listed, only shown
        self.assertEqual(len(rcpts), 1, block)
        self.assertRegex(rcpts[0], r"^    to=<%s> state=deferred dsn=4\.4\.1 last_error=" % far)
        self.assertIn("\n    to=<carol@local.test> state=delivered\n", self.show(qid))
        # held: the message and its recipients not yet delivered
        self.srv.ctl_ok("queue", "hold", qid)
        block = outbound.queue_list(self.srv)[qid]
        first, *rcpts = block.splitlines()
        self.assertRegex(first, r" state=held attempts=1$")
        self.assertRegex(rcpts[0], r"^    to=<%s> state=held dsn=4\.4\.1 last_error=" % far)
        show = self.show(qid)
        self.assertNotIn("\nnext attempt: ", show)
        self.assertIn("\n    to=<carol@local.test> state=delivered\n", show)
        self.srv.ctl_ok("queue", "delete", qid)

    def test_5_manual_flush_and_release_keep_the_schedule(self):
        far = "fl-%s@dead.test" % token()[:6]
        tok, qid = self.submit_as_alice([far])
        self.assertEqual(self.deferred_count(qid), 1)
        before = self.next_attempt(qid)
        out = self.srv.ctl_ok("queue", "flush", qid)
        self.assertEqual(out, "%s: scheduled for delivery now\n" % qid)
        harness.wait_for(lambda: self.deferred_count(qid) == 2, what="the flushed attempt")
        # the extra attempt failed: the next one is where it was (10m after
        # the first, not 1h after this one), and it is not counted
        self.assertEqual(self.next_attempt(qid), before, self.show(qid))
        self.assertRegex(self.show(qid).splitlines()[0], r" attempts=1 next=(10m|9m)$")
        # the same for a release, which attempts delivery at once
        self.srv.ctl_ok("queue", "hold", qid)
        out = self.srv.ctl_ok("queue", "release", qid)
        self.assertEqual(out, "%s: released, scheduled for delivery now\n" % qid)
        harness.wait_for(lambda: self.deferred_count(qid) == 3, what="the released attempt")
        self.assertEqual(self.next_attempt(qid), before, self.show(qid))
        self.srv.ctl_ok("queue", "delete", qid)

    def test_6_help_says_what_release_does(self):
        rc, out, err = self.srv.ctl("queue", "--help")
        self.assertEqual((rc, err), (0, ""), out)
        self.assertIn("\n       sealmail queue release ID [--tls-override] [-c FILE]   (ends the "
                      "hold; delivery is attempted at once)\n", out)
        self.assertIn("\n       sealmail queue flush [ID] [-c FILE]   (an extra attempt now: the "
                      "retry schedule stays)\n", out)
        self.assertIn("\n       sealmail queue mailq [-c FILE]   (the layout of mailq)\n", out)


class ScheduleTimePassed(QueueCase):
    """A manual attempt after the scheduled time has passed (the message
    was held meanwhile): when it fails, the next attempt is one current
    step (5s) after it, not the next step (1h)."""

    @classmethod
    def setUpClass(cls):
        outbound.need_unbound()
        cls.srv = cls.make_server(retry="5s 1h")
        cls.addClassCleanup(cls.srv.close)

    def test_release_after_the_scheduled_time(self):
        far = "late-%s@dead.test" % token()[:6]
        tok, qid = self.submit_as_alice([far])
        self.srv.ctl_ok("queue", "hold", qid)  # before its 5s are over: not tried again
        self.assertEqual(self.deferred_count(qid), 1)
        m = re.search(r"^        attempted: (%s)$" % ISO, self.show(qid), re.M)
        due = iso_seconds(m.group(1)) + 5
        harness.wait_for(lambda: time.time() > due + 1, timeout=15, what="the due time to pass")
        self.assertEqual(self.deferred_count(qid), 1, "a held message was attempted")
        self.srv.ctl_ok("queue", "release", qid)
        harness.wait_for(lambda: self.deferred_count(qid) == 2, what="the released attempt")
        show = self.show(qid)
        attempted = iso_seconds(re.search(r"^        attempted: (%s)$" % ISO, show,
                                          re.M).group(1))
        next_at = iso_seconds(re.search(r"^next attempt: (%s)$" % ISO, show, re.M).group(1))
        self.assertGreater(attempted, due, show)
        self.assertTrue(4 <= next_at - attempted <= 6, "not one 5s step on:\n%s" % show)
        self.assertRegex(show.splitlines()[0], r" attempts=1 ", show)
        self.srv.ctl_ok("queue", "delete", qid)


def run_mailq(srv, *args):
    """`mailq -c CONF` through a link named mailq; (rc, stdout, stderr)."""
    linkdir = harness.new_tmpdir("bin-")
    exe = os.path.join(linkdir, "mailq")
    os.symlink(os.path.abspath(harness.SEALMAIL_BIN), exe)
    p = subprocess.run([exe] + list(args) + ["-c", srv.conf], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=30)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


class Mailq(QueueCase):

    @classmethod
    def setUpClass(cls):
        outbound.need_unbound()
        cls.srv = cls.make_server()
        cls.addClassCleanup(cls.srv.close)

    def facts(self, qid):
        """(size, asctime of the arrival without the year, last reason) of QID."""
        block = outbound.queue_list(self.srv)[qid]
        size = int(re.search(r" size=(\d+) ", block).group(1))
        reason = re.search(r' last_error="([^"]*)"', block).group(1)
        arrived = re.search(r"^arrived: (%s)$" % ISO, self.show(qid), re.M).group(1)
        return size, time.asctime(time.localtime(iso_seconds(arrived)))[:19], reason

    def test_mailq(self):
        self.assertEqual(run_mailq(self.srv), (0, "Mail queue is empty\n", ""))
        far1, far2, far3 = ("m%d-%s@dead.test" % (n, token()[:6]) for n in (1, 2, 3))
        _, a = self.submit_as_alice([far1, "bob@local.test", far2])
        outbound.wait_delivered(self.srv, a, "bob@local.test")
        _, b = self.submit_as_alice([far3])
        self.srv.ctl_ok("queue", "hold", b)
        size_a, when_a, why_a = self.facts(a)
        size_b, when_b, why_b = self.facts(b)
        self.assertEqual(why_a, why_b.replace(far3, far1))
        expected = (
            "-----Queue ID------ --Size-- ---Arrival Time---- --Sender/Recipient------\n"
            "%s  %8d %s alice@local.test\n"
            "%s(%s)\n"
            "%s%s\n"
            "%s%s\n"
            "\n"
            "%s! %8d %s alice@local.test\n"
            "%s(%s)\n"
            "%s%s\n"
            "\n"
            "-- %d Kbytes in 2 Requests.\n"
            % (a, size_a, when_a, " " * max(0, 76 - len(why_a)), why_a, " " * 49, far1,
               " " * 49, far2,
               b, size_b, when_b, " " * max(0, 76 - len(why_b)), why_b, " " * 49, far3,
               (size_a + size_b) // 1024))
        rc, out, err = run_mailq(self.srv)
        self.assertEqual((rc, err), (0, ""), out)
        self.assertEqual(out, expected)
        self.assertEqual(self.srv.ctl_ok("queue", "mailq"), expected)
        for qid in (a, b):
            self.srv.ctl_ok("queue", "delete", qid)
        self.assertEqual(run_mailq(self.srv), (0, "Mail queue is empty\n", ""))

    def test_mailq_help(self):
        rc, out, err = run_mailq(self.srv, "--help")
        self.assertEqual((rc, err), (0, ""), out)
        self.assertTrue(out.startswith("usage: mailq [-c FILE] [-v]\n"), out)


if __name__ == "__main__":
    harness.main()
