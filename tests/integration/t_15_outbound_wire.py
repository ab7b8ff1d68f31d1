#!/usr/bin/python3
"""Outbound delivery, part 6: what goes on the wire. A stored message with
bare LF or bare CR (received inside DATA as data) leaves with every line end
as CRLF and nothing else; dot-stuffing is exact, also for a dot that
follows a bare line end (the SMTP smuggling shape: it must not end DATA at
the next hop); large messages keep both properties across buffer
boundaries. Then interoperation with a real peer, Postfix's smtp-sink,
through a [routes] entry.

Addresses of this file: 127.15.0.0/16."""

import random
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
import outbound  # noqa: E402
from harness import make_message, token  # noqa: E402
from outbound import a, bare_line_ends, mx, to_crlf  # noqa: E402

NET = "127.15.0."


def raw_data(msg):
    """MSG as sent inside DATA to sealmail: only CRLF ends a line there, so
    only a dot after CRLF (or at the start) is doubled."""
    return harness.dot_stuff(msg) + b".\r\n"


class LineEnds(outbound.OutboundTestCase):

    @classmethod
    def setUpClass(cls):
        outbound.need_peers()
        cls.port = outbound.common_port([NET + "1", NET + "2"])
        cls.mxf = cls.fake(NET + "1", cls.port, name="mx.crlf.test")
        cls.plain = cls.fake(NET + "2", cls.port, name="mx.crlf-plain.test", starttls=False)
        cls.dns = cls.start_unbound(mx("crlf.test", (10, "mx.crlf.test")) +
                                    a("mx.crlf.test", NET + "1") +
                                    mx("crlf-plain.test", (10, "mx.crlf-plain.test")) +
                                    a("mx.crlf-plain.test", NET + "2"))
        cls.srv = cls.outbound_class_server(cls.dns.resolver(), cls.port, tls="may")

    def roundtrip(self, body, domain="crlf.test", fake=None):
        fake = fake or self.mxf
        tok = token()
        rcpt = "u-%s@%s" % (tok[:6], domain)
        msg = make_message(tok, sender="sender1@local.test", to=rcpt, body=body)
        qid = outbound.submit(self.srv, "sender1@local.test", [rcpt], msg, raw_data=raw_data(msg))
        [tx] = fake.wait_message(tok, server=self.srv)
        outbound.wait_delivered(self.srv, qid, rcpt)
        bad = bare_line_ends(tx.data_raw)
        self.assertEqual(bad, [], "bare line ends on the wire at %r; raw DATA:\n%r"
                         % (bad[:10], tx.data_raw[:2000]))
        expected = to_crlf(msg)
        self.assertTrue(tx.data.endswith(expected),
                        "message differs at the peer.\nexpected end:\n%r\ngot:\n%r"
                        % (expected[-1500:], tx.data[-1500:]))
        head = tx.data[:len(tx.data) - len(expected)]
        self.assertTrue(head.startswith(b"Received: "), head)
        self.assertEqual(len(fake.messages_with(tok)), 1, "message split in two")
        self.check_fakes_healthy(fake)
        return tx

    def test_bare_lf(self):
        self.roundtrip(b"bare LF\nline two\nline three\r\nCRLF line\r\n")

    def test_bare_cr(self):
        self.roundtrip(b"bare CR\rline two\rline three\r\nCRLF line\r\n")

    def test_mixed_line_ends(self):
        self.roundtrip(b"a\r\r\nb\n\rc\n\nd\r\re\r\n\n\r\n\r\rend\r\n")

    def test_mixed_line_ends_plaintext(self):
        self.roundtrip(b"a\r\r\nb\n\rc\n\nd\r\re\r\n", domain="crlf-plain.test",
                       fake=self.plain)

    def test_dot_stuffing_exact(self):
        tx = self.roundtrip(b".\r\n"
                            b".x\r\n"
                            b"..\r\n"
                            b"...\r\n"
                            b". \r\n"
                            b"x.\r\n"
                            b"last\r\n")
        for line in (b"\r\n.\r\n.x\r\n..\r\n...\r\n. \r\nx.\r\nlast\r\n",):
            self.assertIn(line, tx.data)
        self.assertIn(b"\r\n..\r\n..x\r\n...\r\n....\r\n.. \r\nx.\r\n", tx.data_raw)

    def test_dot_after_bare_line_end_is_stuffed(self):
        # "\n.\n" and "\r.\r" are data here; once each bare end becomes CRLF,
        # the dot starts a line and must be doubled, or the next hop would
        # see the end of DATA and then the smuggled commands.
        smuggle = (b"ok\n.\nMAIL FROM:<evil@evil.test>\nRCPT TO:<victim@crlf.test>\nDATA\n"
                   b"\nsmuggled\n.\n"
                   b"cr\r.\rQUIT\r"
                   b"end\r\n")
        tx = self.roundtrip(smuggle)
        self.assertIn(b"\r\n.\r\nMAIL FROM:<evil@evil.test>\r\n", tx.data)
        self.assertIn(b"\r\n..\r\nMAIL FROM:<evil@evil.test>\r\n", tx.data_raw)
        self.assertFalse(any("evil@evil.test" in c.line for c in self.mxf.commands()
                             if c.verb == "MAIL"), self.mxf.describe())

    def test_large_message_random_line_ends(self):
        rnd = random.Random(1234)
        parts = []
        size = 0
        while size < 400 * 1024:
            # A CRLF line (under the 1000-octet limit of sealmail's receiver)
            # made of pieces joined by bare CR or bare LF, some starting with a dot.
            pieces = []
            for _ in range(rnd.randint(1, 8)):
                n = rnd.randint(0, 100)
                text = bytes(rnd.choice(b"abcdefghijklmnopqrstuvwxyz .") for _ in range(n))
                if rnd.random() < 0.2:
                    text = b"." + text
                pieces.append(text)
            line = pieces[0]
            for p in pieces[1:]:
                line += rnd.choice((b"\r", b"\n", b"\r\r", b"\n\n", b"\n\r")) + p
            line += b"\r\n"
            parts.append(line)
            size += len(line)
        self.roundtrip(b"".join(parts))


class SmtpSinkInterop(outbound.OutboundTestCase):
    """Delivery to Postfix's smtp-sink (a real SMTP server implementation)
    through [routes]. smtp-sink has no TLS (the Debian build links no TLS
    library into it), so these deliveries are in plaintext at "may"."""

    @classmethod
    def setUpClass(cls):
        outbound.need_peers()
        cls.sink = outbound.SmtpSink(NET + "50", name="sink.test")
        cls.addClassCleanup(cls.sink.stop)
        cls.soft = outbound.SmtpSink(NET + "51", name="soft.test", args=["-r", "RCPT"])
        cls.addClassCleanup(cls.soft.stop)
        cls.hard = outbound.SmtpSink(NET + "52", name="hard.test", args=["-f", "RCPT"])
        cls.addClassCleanup(cls.hard.stop)
        cls.port = outbound.common_port([NET + "60"])
        cls.dns = cls.start_unbound(mx("sink.test", (10, "mx.sink.test")) +
                                    a("mx.sink.test", NET + "60"))
        cls.srv = cls.outbound_class_server(
            cls.dns.resolver(), cls.port, tls="may",
            routes=(("sink.test", "%s:%d" % (cls.sink.addr, cls.sink.port)),
                    ("soft.test", "%s:%d" % (cls.soft.addr, cls.soft.port)),
                    ("hard.test", "%s:%d" % (cls.hard.addr, cls.hard.port))))

    def test_route_to_smtp_sink(self):
        sent = []
        for i in range(3):
            tok = token()
            rcpt = "u%d-%s@sink.test" % (i, tok[:6])
            # A dot after a bare LF: if it were not stuffed once the LF became
            # CRLF, smtp-sink would end the message there.
            body = b"line one\r\n.\r\n.dot\r\nbare\nlf\r\nbare\n.\nafter the dot\r\n"
            msg = make_message(tok, sender="sender2@local.test", to=rcpt, body=body)
            qid = outbound.submit(self.srv, "sender2@local.test", [rcpt], msg,
                                  raw_data=raw_data(msg))
            sent.append((tok, qid, rcpt, msg))
        for tok, qid, rcpt, msg in sent:
            [dump] = harness.wait_for(lambda: self.sink.dumps_with(tok), outbound.SLOW,
                                      what="smtp-sink dump of %s" % tok)
            self.assertIn(b"X-Mail-Args: <sender2@local.test>", dump)
            self.assertIn(b"X-Rcpt-Args: <%s>" % rcpt.encode(), dump)
            # The dump has LF line ends; smtp-sink removed the dot-stuffing.
            self.assertIn(harness.crlf_to_lf(to_crlf(msg)), dump)
            ev = outbound.wait_delivered(self.srv, qid, rcpt)
            self.assertEqual(outbound.relay_of(ev)[1:], (self.sink.addr, self.sink.port),
                             ev["_line"])
            self.assertEqual(ev.get("peer"), "none", ev["_line"])
            outbound.wait_queue_gone(self.srv, qid)
        self.assertEqual(len([d for t, _, _, _ in sent for d in self.sink.dumps_with(t)]), 3)

    def test_smtp_sink_soft_reject_defers(self):
        tok = token()
        rcpt = "u-%s@soft.test" % tok[:6]
        qid = outbound.submit(self.srv, "sender3@local.test", [rcpt],
                              make_message(tok, sender="sender3@local.test", to=rcpt))
        ev = outbound.wait_deferred(self.srv, qid, rcpt)
        self.assertIn("450", ev.get("reason", ""), ev["_line"])
        self.assertEqual(self.soft.dumps_with(tok), [])

    def test_smtp_sink_hard_reject_bounces(self):
        sender = "sender4@local.test"
        tok = token()
        rcpt = "u-%s@hard.test" % tok[:6]
        qid = outbound.submit(self.srv, sender, [rcpt], make_message(tok, sender=sender, to=rcpt))
        outbound.wait_bounced(self.srv, qid, rcpt)
        [dsn] = outbound.wait_dsn(self.srv, sender, tok)
        outbound.assert_failure_dsn(self, dsn, rcpt, "5.3.0")
        outbound.wait_queue_gone(self.srv, qid)


if __name__ == "__main__":
    harness.main()
