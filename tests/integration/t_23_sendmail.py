#!/usr/bin/python3
"""`sealmail send` and the same binary run as `sendmail`: a message on stdin
handed to the running server through [server] submit_socket, delivered
locally and to a fake MX; -f, -t (To/Cc/Bcc, Bcc removed), -i/-oi (a lone
"." does not end the input), -c CONF and SEALMAIL_CONFIG; exit status and
stderr when the server is down or a recipient is refused.

Addresses of this file: 127.23.0.0/16."""

import email.utils
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
import outbound  # noqa: E402
from harness import header_fields, token  # noqa: E402
from outbound import a, mx  # noqa: E402

NET = "127.23.0."
SENDER = "sender@local.test"
USERS = harness.DEFAULT_USERS + (SENDER,)


def message(tok, to="bob@local.test", headers=(), body=None):
    """A message as a local program writes it: LF line ends."""
    lines = ["From: <%s>" % SENDER, "To: %s" % to, "Subject: send %s" % tok,
             "Date: %s" % email.utils.formatdate(),
             "Message-ID: <%s@client.test>" % tok, "X-Test-Token: %s" % tok]
    lines += list(headers)
    body = body if body is not None else "Hello from sealmail send.\ntoken %s\n" % tok
    return ("\n".join(lines) + "\n\n" + body).encode()


def assert_carries(tc, data, msg):
    """DATA (a delivered copy, LF or CRLF) carries MSG (LF): each of its
    header lines (the server may add its own) and its body, unchanged."""
    data = data.replace(b"\r\n", b"\n")
    head, body = msg.split(b"\n\n", 1)
    tc.assertTrue(data.endswith(b"\n\n" + body), "body changed:\n%r" % data[-400:])
    dhead = data.split(b"\n\n", 1)[0].split(b"\n")
    for line in head.split(b"\n"):
        tc.assertIn(line, dhead, "header line %r missing:\n%r" % (line, data[:800]))


def envelope(data):
    """(Return-Path, Delivered-To) of a delivered copy: its first two lines.
    (Whether a locally submitted message gets a Received: header is not
    asserted.)"""
    lines = data.split(b"\n")
    if not lines[0].startswith(b"Return-Path: ") or not lines[1].startswith(b"Delivered-To: "):
        raise AssertionError("no Return-Path/Delivered-To lines at the top: %r" % data[:300])
    return (lines[0][len(b"Return-Path: "):].decode(errors="replace"),
            lines[1][len(b"Delivered-To: "):].decode(errors="replace"))


def binary_mentions(needle):
    with open(harness.SEALMAIL_BIN, "rb") as f:
        return needle.encode() in f.read()


class Send(outbound.OutboundTestCase):

    @classmethod
    def setUpClass(cls):
        outbound.need_peers()
        cls.mxport = outbound.common_port([NET + "1"])
        cls.dns = cls.start_unbound(mx("remote.test", (10, "mx.remote.test")) +
                                    a("mx.remote.test", NET + "1"))
        cls.mx = cls.fake(NET + "1", cls.mxport, name="mx.remote.test")
        srv = harness.Server(listeners={"mx": "optional"}, users=USERS, submit_socket=True,
                             server_options={"trusted_networks": "192.0.2.0/24"},
                             extra_config=outbound.outbound_config(cls.dns.resolver(),
                                                                   cls.mxport))
        cls.addClassCleanup(srv.close)
        cls.srv = srv

    def send_ok(self, *args, **kw):
        rc, out, err = self.srv.send(*args, **kw)
        self.assertEqual(rc, 0, "sealmail send %s: rc=%d\nstdout:\n%s\nstderr:\n%s\nlog:\n%s"
                         % (" ".join(args), rc, out, err, self.srv.log_tail()))
        return out, err

    def copies(self, user, tok):
        return [m for m in self.srv.messages(user) if tok.encode() in m]

    def wait_copy(self, user, tok):
        harness.wait_for(lambda: self.copies(user, tok), what="a copy for %s" % user)
        [data] = self.copies(user, tok)
        return data

    def test_socket_exists(self):
        self.assertTrue(os.path.exists(self.srv.submit_socket),
                        "no %s; log:\n%s" % (self.srv.submit_socket, self.srv.log_tail()))

    def test_local_delivery(self):
        tok = token()
        msg = message(tok)
        self.send_ok("bob@local.test", input=msg)
        data = self.wait_copy("bob@local.test", tok)
        rp, dt = envelope(data)
        self.assertEqual(dt, "bob@local.test")
        assert_carries(self, data, msg)

    def test_f_sets_envelope_sender(self):
        tok = token()
        self.send_ok("-f", SENDER, "carol@local.test", input=message(tok, to="carol@local.test"))
        rp, dt = envelope(self.wait_copy("carol@local.test", tok))
        self.assertEqual((rp, dt), ("<%s>" % SENDER, "carol@local.test"))

    def test_received_names_the_submitting_uid(self):
        # -f chooses any sender: the message must still say who submitted it
        tok = token()
        self.send_ok("-f", "someone@elsewhere.test", "carol@local.test",
                     input=message(tok, to="carol@local.test"))
        received = harness.first_received(self.wait_copy("carol@local.test", tok))
        # the words themselves: t_83_send_headers.py
        self.assertIn("(sealmail, from userid %d, user " % os.getuid(), received)
        self.assertNotIn("[127.0.0.1]", received)

    def test_remote_delivery(self):
        tok = token()
        rcpt = "far-%s@remote.test" % token()[:8]
        msg = message(tok, to=rcpt)
        self.send_ok("-f", SENDER, rcpt, input=msg)
        [tx] = self.mx.wait_message(tok, server=self.srv)
        self.assertEqual(tx.sender, SENDER)
        self.assertEqual(tx.rcpt_addresses(), [rcpt])
        assert_carries(self, tx.data, msg)
        self.check_fakes_healthy(self.mx)

    def test_local_and_remote_in_one_call(self):
        tok = token()
        rcpt = "far-%s@remote.test" % token()[:8]
        self.send_ok("-f", SENDER, "dave@local.test", rcpt, input=message(tok))
        self.wait_copy("dave@local.test", tok)
        [tx] = self.mx.wait_message(tok, server=self.srv)
        self.assertEqual(tx.rcpt_addresses(), [rcpt])

    def test_t_takes_recipients_from_headers_and_drops_bcc(self):
        tok = token()
        far = "far-%s@remote.test" % token()[:8]
        msg = message(tok, to="Bob <bob@local.test>",
                      headers=["Cc: carol@local.test, %s" % far,
                               "Bcc: Dave <dave@local.test>"])
        self.send_ok("-t", "-f", SENDER, input=msg)
        for user in ("bob@local.test", "carol@local.test", "dave@local.test"):
            data = self.wait_copy(user, tok)
            names = [n.lower() for n, v in header_fields(data)]
            self.assertNotIn("bcc", names, "Bcc: left in %s's copy:\n%s"
                             % (user, data[:800].decode(errors="replace")))
            self.assertNotIn(b"Dave <dave@local.test>", data)
            self.assertIn("to", names)
            self.assertIn("cc", names)
        [tx] = self.mx.wait_message(tok, server=self.srv)
        self.assertEqual(tx.rcpt_addresses(), [far])
        self.assertNotIn(b"\r\nBcc:", tx.data)
        self.assertFalse(tx.data.lower().startswith(b"bcc:"))
        self.assertEqual(self.copies("erin@other.test", tok), [])

    def test_t_drops_bcc_written_with_space_before_colon(self):
        # "Bcc :" is read as a Bcc when the recipients are taken, so it must
        # be removed as one too, or every recipient sees the blind copy
        tok = token()
        msg = message(tok, to="bob@local.test", headers=["bcc\t: Dave <dave@local.test>"])
        self.send_ok("-t", "-f", SENDER, input=msg)
        for user in ("bob@local.test", "dave@local.test"):
            data = self.wait_copy(user, tok)
            self.assertNotIn(b"dave@local.test>", data.split(b"\n\n", 1)[0],
                             "Bcc left in %s's copy" % user)

    def test_i_and_oi_keep_lone_dot_lines(self):
        for flag in ("-i", "-oi"):
            with self.subTest(flag):
                tok = token()
                body = "before the dot\n.\nafter-dot %s\n..two dots\n" % tok
                msg = message(tok, body=body)
                self.send_ok(flag, "-f", SENDER, "bob@local.test", input=msg)
                data = self.wait_copy("bob@local.test", tok)
                self.assertIn(("\n.\nafter-dot %s\n..two dots\n" % tok).encode(), data)
                assert_carries(self, data, msg)

    def test_sendmail_symlink_with_c(self):
        tok = token()
        rcpt = "far-%s@remote.test" % token()[:8]
        rc, out, err = self.srv.send("-c", self.srv.conf, "-oi", "-f", SENDER,
                                     "bob@local.test", rcpt, input=message(tok),
                                     program="sendmail", config=False)
        self.assertEqual(rc, 0, "sendmail: rc=%d\n%s%s" % (rc, out, err))
        rp, dt = envelope(self.wait_copy("bob@local.test", tok))
        self.assertEqual(rp, "<%s>" % SENDER)
        [tx] = self.mx.wait_message(tok, server=self.srv)
        self.assertEqual((tx.sender, tx.rcpt_addresses()), (SENDER, [rcpt]))

    def test_sendmail_symlink_t(self):
        tok = token()
        msg = message(tok, to="carol@local.test", headers=["Bcc: dave@local.test"])
        rc, out, err = self.srv.send("-c", self.srv.conf, "-t", "-i", input=msg,
                                     program="sendmail", config=False)
        self.assertEqual(rc, 0, "sendmail -t: rc=%d\n%s%s" % (rc, out, err))
        for user in ("carol@local.test", "dave@local.test"):
            data = self.wait_copy(user, tok)
            self.assertNotIn("bcc", [n.lower() for n, v in header_fields(data)])

    def test_sealmail_config_environment(self):
        self.assertTrue(binary_mentions("SEALMAIL_CONFIG"),
                        "%s does not read SEALMAIL_CONFIG (an old or foreign build?)"
                        % harness.SEALMAIL_BIN)
        for program in (None, "sendmail"):
            with self.subTest(program=program):
                tok = token()
                rc, out, err = self.srv.send("-f", SENDER, "-oi", "bob@local.test",
                                             input=message(tok), program=program,
                                             config=False,
                                             env={"SEALMAIL_CONFIG": self.srv.conf})
                self.assertEqual(rc, 0, "rc=%d\n%s%s" % (rc, out, err))
                self.wait_copy("bob@local.test", tok)

    def test_refused_recipient(self):
        toks = []
        for program in (None, "sendmail"):
            with self.subTest(program=program):
                tok = token()
                toks.append(tok)
                nobody = "nobody-%s@local.test" % token()[:8]
                if program:
                    rc, out, err = self.srv.send("-c", self.srv.conf, "-f", SENDER, nobody,
                                                 input=message(tok, to=nobody),
                                                 program=program, config=False)
                else:
                    rc, out, err = self.srv.send("-f", SENDER, nobody,
                                                 input=message(tok, to=nobody))
                self.assertEqual(rc, 1, "refused recipient:\n%s%s" % (out, err))
                # The command and the server's refusal, as the server gave it,
                # then what to add for a local address (no aliases file here).
                self.assertEqual(err, "sealmail send: RCPT TO:<%s>: 550 5.1.1 <%s>: Recipient "
                                 "address rejected: User unknown\n"
                                 "sealmail send: no user or alias %s: add the user (`sealmail "
                                 "user add %s`) or a line \"%s: ADDRESS\" to the aliases file "
                                 "([server] aliases, unset)\n"
                                 % (nobody, nobody, nobody, nobody, nobody))
        # Nothing went anywhere: a later message arrives alone.
        tok2 = token()
        self.send_ok("-f", SENDER, "bob@local.test", input=message(tok2))
        self.wait_copy("bob@local.test", tok2)
        for tok in toks:
            self.assertEqual(self.srv.messages_with(tok), [])


class SendServerDown(harness.ServerTestCase):

    def test_server_not_running(self):
        srv = self.server_for(listeners={"mx": "optional"}, users=USERS, submit_socket=True,
                              start=False)
        for program in (None, "sendmail"):
            with self.subTest(program=program):
                tok = token()
                if program:
                    rc, out, err = srv.send("-c", srv.conf, "bob@local.test",
                                            input=message(tok), program=program,
                                            config=False, timeout=60)
                else:
                    rc, out, err = srv.send("bob@local.test", input=message(tok), timeout=60)
                self.assertEqual(rc, 1, "server down:\n%s%s" % (out, err))
                self.assertEqual(err.count("cannot reach the server"), 1, err)
                self.assertIn("sealmail send: cannot reach the server at %s" % srv.submit_socket,
                              err)
        # Nothing was left behind for a later start to deliver: the message
        # was refused, not queued by the client.
        srv.start()
        tok2 = token()
        rc, out, err = srv.send("-f", SENDER, "bob@local.test", input=message(tok2))
        self.assertEqual(rc, 0, err)
        harness.wait_for(lambda: srv.messages_with(tok2), what="delivery after the start")
        self.assertEqual(srv.messages_with(tok), [])


class LocalSessionsAndLimits(harness.ServerTestCase):
    """Local submissions take no connection slot, so they must not give one
    back either: ten network sessions were once open at connections = 5."""

    def test_local_sessions_do_not_free_network_slots(self):
        srv = self.server_for(listeners={"mx": "optional"}, users=USERS, submit_socket=True,
                              dispatchers=1, limits={"connections": 2})
        held = [srv.dialog() for _ in range(2)]
        try:
            for d in held:
                d.ehlo()
            for _ in range(3):
                tok = token()
                rc, out, err = srv.send("bob@local.test", input=message(tok))
                self.assertEqual(rc, 0, err)
                harness.wait_for(lambda: srv.messages_with(tok), what="local delivery")
            # two network sessions are open: a third is refused
            with srv.dialog(greeting=False) as d:
                r = d.read_reply()
                self.assertEqual(r.code, 421, r)
                self.assertIn("Too many connections", r.text)
        finally:
            for d in held:
                d.close()


if __name__ == "__main__":
    harness.main()
