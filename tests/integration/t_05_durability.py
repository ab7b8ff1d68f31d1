#!/usr/bin/python3
"""Durability: a 250 after DATA survives SIGKILL of every sealmail process; a
transaction killed in the middle of DATA leaves nothing behind; many
concurrent sessions deliver every message exactly once."""

import os
import sys
import threading

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import SENDER, crlf_to_lf, make_message, split_delivered, token

RCPTS = ["bob@local.test", "carol@local.test", "dave@local.test", "erin@other.test"]


class Durability(harness.ServerTestCase):

    def test_sigkill_after_250_then_restart_delivers(self):
        srv = self.server_for(listeners={"mx": "optional"})
        sent = []
        with srv.dialog() as d:
            d.ehlo()
            for i in range(5):
                tok = token()
                msg = make_message(tok, to=RCPTS[i % len(RCPTS)],
                                   body=b"durable %d %s\r\n" % (i, tok.encode()) +
                                   b"line\r\n" * 200)
                d.mail_transaction(SENDER, [RCPTS[i % len(RCPTS)]], msg)
                sent.append((tok, RCPTS[i % len(RCPTS)], msg))
            # The last 250 is in: kill everything at once, no goodbye.
            srv.kill()
        srv.start()
        for tok, rcpt, msg in sent:
            harness.wait_for(lambda: srv.messages_with(tok),
                             what="message %s after restart" % tok)
        srv.wait_queue_empty()
        for tok, rcpt, msg in sent:
            msgs = srv.messages_with(tok)
            self.assertGreaterEqual(len(msgs), 1)
            for m in msgs:
                rp, dt, received, rest = split_delivered(m)
                self.assertEqual(rp, "<%s>" % SENDER)
                self.assertEqual(dt, rcpt)
                self.assertEqual(rest, crlf_to_lf(msg), "message %s damaged" % tok)

    def test_sigkill_after_250_over_tls_multi_rcpt(self):
        srv = self.server_for(listeners={"mx": "optional"})
        tok = token()
        msg = make_message(tok)
        s = harness.smtp_starttls(srv.port())
        self.assertEqual(s.sendmail(SENDER, RCPTS, msg), {})
        srv.kill()
        s.close()
        srv.start()
        for r in RCPTS:
            harness.wait_for(lambda: [m for m in srv.messages(r) if tok.encode() in m],
                             what="copy for %s after restart" % r)
        srv.wait_queue_empty()
        for r in RCPTS:
            mine = [m for m in srv.messages(r) if tok.encode() in m]
            self.assertGreaterEqual(len(mine), 1, r)
            self.assertEqual(split_delivered(mine[0])[3], crlf_to_lf(msg))

    def test_sigkill_mid_data_leaves_nothing(self):
        srv = self.server_for(listeners={"mx": "optional"})
        done_tok, partial_tok, after_tok = token(), token(), token()
        done_msg = make_message(done_tok)
        with srv.dialog() as d:
            d.ehlo()
            d.mail_transaction(SENDER, ["bob@local.test"], done_msg)
            d.expect("MAIL FROM:<%s>" % SENDER, 250)
            d.expect("RCPT TO:<bob@local.test>", 250)
            d.expect("RCPT TO:<carol@local.test>", 250)
            d.expect("DATA", 354)
            partial = make_message(partial_tok, body=b"partial " + partial_tok.encode() +
                                   b"\r\n" + (b"p" * 76 + b"\r\n") * 4000)
            d.send(harness.dot_stuff(partial))       # no final dot
            harness.wait_peer_consumed(d.raw)        # sealmail has read it all
            srv.kill()
        srv.start()
        # A fresh message through the restarted server: once it is delivered
        # and the queue is empty, recovery has had its chance.
        with srv.dialog() as d:
            d.ehlo()
            d.mail_transaction(SENDER, ["carol@local.test"], make_message(after_tok))
            d.quit()
        harness.wait_for(lambda: srv.messages_with(after_tok), what="message after restart")
        harness.wait_for(lambda: srv.messages_with(done_tok), what="message accepted before kill")
        srv.wait_queue_empty()
        for path, data in srv.all_maildir_files(("new", "cur", "tmp")).items():
            self.assertNotIn(partial_tok.encode(), data,
                             "partial message found in %s" % path)
        for path in srv.queue_files():
            self.fail("left in the queue: %s" % path)

    def test_recovery_removes_only_our_interrupted_copies(self):
        srv = self.server_for(listeners={"mx": "optional"})
        tok = token()
        with srv.dialog() as d:  # bob's Maildir exists
            d.ehlo()
            d.mail_transaction(SENDER, ["bob@local.test"], make_message(tok))
            d.quit()
        harness.wait_for(lambda: srv.messages_with(tok), what="first delivery")
        srv.stop()
        tmp = os.path.join(srv.data_dir, "mail", "local.test", "bob", "tmp")
        ours = os.path.join(tmp, "1764580000.M123456P42Q7.%s,S=10" % harness.HOSTNAME)
        theirs = os.path.join(tmp, "1764580000.M1P2.other-tool")
        for path in (ours, theirs):
            with open(path, "w") as f:
                f.write("half a message\n")
        mark = srv.log_mark()
        srv.start()
        [ev] = harness.wait_for(lambda: srv.events("recovered", since=mark), what="recovery")
        self.assertEqual(ev["maildir_tmp_removed"], "1")
        self.assertFalse(os.path.exists(ours), "an interrupted copy of ours was kept")
        self.assertTrue(os.path.exists(theirs), "another tool's file was removed")

    def test_sigterm_keeps_accepted_messages(self):
        srv = self.server_for(listeners={"mx": "optional"})
        toks = []
        with srv.dialog() as d:
            d.ehlo()
            for i in range(3):
                tok = token()
                d.mail_transaction(SENDER, ["dave@local.test"], make_message(tok))
                toks.append(tok)
            d.quit()
        srv.stop()
        srv.start()
        for tok in toks:
            harness.wait_for(lambda: srv.messages_with(tok), what="message %s" % tok)
        srv.wait_queue_empty()
        for tok in toks:
            self.assertEqual(len(srv.messages_with(tok)), 1, tok)

    def test_concurrent_sessions(self):
        srv = self.server_for(listeners={"mx": "optional"})
        threads_n, per_thread = 10, 20
        run_id = token()
        errors = []
        mark = srv.log_mark()

        def tok_for(t, i):
            return "%s-%02d-%02d" % (run_id, t, i)

        def one_session_tls(t):
            s = harness.smtp_starttls(srv.port())
            for i in range(per_thread):
                rcpt = RCPTS[(t + i) % len(RCPTS)]
                refused = s.sendmail(SENDER, [rcpt], make_message(tok_for(t, i), to=rcpt))
                if refused:
                    raise AssertionError("refused: %r" % refused)
            s.quit()

        def session_per_message(t):
            for i in range(per_thread):
                rcpt = RCPTS[(t + i) % len(RCPTS)]
                with srv.dialog() as d:
                    d.ehlo()
                    d.mail_transaction(SENDER, [rcpt], make_message(tok_for(t, i), to=rcpt))
                    d.quit()

        def worker(t):
            try:
                (one_session_tls if t % 2 == 0 else session_per_message)(t)
            except BaseException as e:  # noqa: B902 - reported below
                errors.append("thread %d: %r" % (t, e))

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(threads_n)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(120)
        self.assertEqual(errors, [])
        total = threads_n * per_thread

        def count():
            return len(srv.messages_with(run_id))
        try:
            harness.wait_for(lambda: count() >= total, timeout=30, what="all messages")
        except AssertionError:
            self.fail("%d of %d messages delivered; log:\n%s" % (count(), total, srv.log_tail()))
        srv.wait_queue_empty()
        seen = {}
        for data in srv.messages_with(run_id):
            rest = split_delivered(data)[3]
            for line in rest.split(b"\n"):
                if line.startswith(b"X-Test-Token: "):
                    t = line.split(b": ", 1)[1].decode()
                    seen[t] = seen.get(t, 0) + 1
        expected = {tok_for(t, i) for t in range(threads_n) for i in range(per_thread)}
        self.assertEqual(set(seen), expected)
        dups = {k: v for k, v in seen.items() if v != 1}
        self.assertEqual(dups, {}, "delivered more than once")
        queued = srv.events("queued", mark)
        ids = [e.get("id") for e in queued]
        self.assertEqual(len(ids), total, "event=queued lines")
        self.assertEqual(len(set(ids)), total, "queue ids are not unique")
        delivered_ids = {e.get("id") for e in srv.events("delivered", mark)}
        self.assertEqual(set(ids) - delivered_ids, set(), "queued ids never delivered")


if __name__ == "__main__":
    harness.main()
