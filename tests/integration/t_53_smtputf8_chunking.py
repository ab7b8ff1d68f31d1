#!/usr/bin/python3
"""SMTPUTF8 (RFC 6531) and CHUNKING/BDAT (RFC 3030), inbound and outbound.

Inbound: UTF-8 addresses only with the SMTPUTF8 parameter (553 5.6.7
without it), invalid UTF-8 and C1 controls refused; BDAT chunks read
exactly (split at every boundary, one byte per read, pipelined, BDAT 0
LAST), dropped chunks still read to their end (no MAIL, no recipient, over
message_size: the session goes on), DATA and BDAT not mixed, a bare LF or
CR in a BDAT message refused after LAST, the LAST reply only after the
durable commit (a failed flush answers 451), and the message byte-exact in
the Maildir. Outbound: to a peer offering CHUNKING the message goes as
BDAT chunks pipelined with the RCPTs, byte-exact; to one without it as
DATA; an SMTPUTF8 message carries SMTPUTF8 on MAIL, and to a peer that
does not offer it fails at once with 5.6.7 (a DSN to the local sender).

swaks has no BDAT option (swaks --help names none), so BDAT is spoken over
raw sockets. The peers are outbound.FakeMX with its chunking and smtputf8
options (each BDAT chunk recorded as received).

Addresses of this file: 127.53.0.0/16."""

import errno
import smtplib
import sys
from email.message import EmailMessage

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
import outbound  # noqa: E402
from harness import SENDER, crlf_to_lf, make_message, split_delivered, token  # noqa: E402

BOB = "bob@local.test"
NET = "127.53.0."
MESSAGE_SIZE = 20000


# ---- helpers ----------------------------------------------------------------

def bdat_stream(message, sizes):
    """MESSAGE cut into chunks of SIZES (the rest goes in the last one) as
    the bytes of BDAT commands, the last one with LAST."""
    out, off = b"", 0
    cuts = list(sizes) + [len(message)]
    for i, size in enumerate(cuts):
        chunk = message[off:off + size] if i < len(sizes) else message[off:]
        off += len(chunk)
        last = i == len(cuts) - 1
        out += b"BDAT %d%s\r\n" % (len(chunk), b" LAST" if last else b"") + chunk
    return out


def delivered_body(srv, tok, rcpt=BOB):
    """The message part (after Return-Path, Delivered-To, Received) of the
    one delivered copy holding TOK."""
    mine = harness.wait_for(lambda: [m for m in srv.messages(rcpt) if tok.encode() in m],
                            what="message %s for %s" % (tok, rcpt))
    if len(mine) != 1:
        raise AssertionError("%d copies of %s" % (len(mine), tok))
    return split_delivered(mine[0])


class Inbound(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(limits={"message_size": MESSAGE_SIZE})

    def dialog(self):
        d = self.srv.dialog()
        self.addCleanup(d.close)
        d.ehlo()
        return d

    def assert_reply(self, r, code, enhanced, d):
        if r.code != code or (enhanced and r.enhanced != enhanced):
            self.fail("expected %d %s, got %s\ntranscript:\n%s"
                      % (code, enhanced, r, d.format_transcript()))

    def assert_exact(self, tok, message):
        """The Maildir copy is MESSAGE, byte for byte (Maildir files keep LF)."""
        rp, dt, received, rest = delivered_body(self.srv, tok)
        self.assertEqual(rest, crlf_to_lf(message))
        return rp, received

    # -- EHLO --
    def test_ehlo_keywords(self):
        d = self.dialog()
        kw = d.cmd("EHLO client.test").keywords
        for k in ("CHUNKING", "SMTPUTF8", "8BITMIME", "PIPELINING"):
            self.assertIn(k, kw)
        self.assertNotIn("REQUIRETLS", kw)  # before TLS: t_54

    # -- SMTPUTF8 --
    def test_smtputf8_smtplib_send_message(self):
        tok = token()
        msg = EmailMessage()
        msg["From"] = "José <jösé@exämple.test>"
        msg["To"] = BOB
        msg["Subject"] = "grüße " + tok
        msg.set_content("Grüße, token %s\n" % tok)
        with harness.SMTP(self.srv.port()) as c:
            c.ehlo()
            self.assertTrue(c.has_extn("smtputf8"))
            c.send_message(msg, from_addr="jösé@exämple.test", to_addrs=[BOB],
                           mail_options=["SMTPUTF8"])
        rp, dt, received, rest = delivered_body(self.srv, tok)
        self.assertEqual(rp, "<jösé@exämple.test>")
        self.assertIn("with UTF8SMTP", received)
        self.assertIn("grüße %s" % tok, rest.decode())

    def test_utf8_addresses_need_smtputf8(self):
        d = self.dialog()
        r = d.cmd("MAIL FROM:<jösé@exämple.test>".encode())
        self.assert_reply(r, 553, "5.6.7", d)
        d.expect("MAIL FROM:<%s>" % SENDER, 250)
        r = d.cmd("RCPT TO:<bøb@local.test>".encode())
        self.assert_reply(r, 553, "5.6.7", d)

    def test_utf8_domain_u_labels_and_ascii_case(self):
        d = self.dialog()
        d.expect("MAIL FROM:<a@ExÄmple.TEST> SMTPUTF8".encode(), 250)
        d.expect("RSET", 250)

    def test_invalid_utf8_and_c1_refused(self):
        d = self.dialog()
        for bad in (b"j\xc3(s@x.test", b"j\xc2\x85s@x.test", b"j\xc0\xafs@x.test",
                    b"j@x\xed\xa0\x80.test", b"j@\xff.test"):
            r = d.cmd(b"MAIL FROM:<" + bad + b"> SMTPUTF8")
            self.assert_reply(r, 501, "5.1.7", d)

    # -- BDAT --
    def test_bdat_split_at_every_boundary(self):
        """The same message cut into two chunks at every offset, one session:
        each copy arrives byte for byte."""
        d = self.dialog()
        base = make_message("X" * 16, body=b"line one\r\n.dot line\r\nend\r\n")
        for k in range(len(base) + 1):
            tok = token()
            msg = base.replace(b"X" * 16, tok.encode())
            d.expect("MAIL FROM:<%s>" % SENDER, 250)
            d.expect("RCPT TO:<%s>" % BOB, 250)
            d.send(bdat_stream(msg, [k]))
            replies = d.read_replies(2)
            self.assertEqual([r.code for r in replies], [250, 250], d.format_transcript())
            self.assertIn("queued as", replies[1].text)
            self.assert_exact(tok, msg)

    def test_bdat_one_byte_per_read(self):
        """Every byte of a pipelined BDAT transaction in its own read."""
        d = self.dialog()
        tok = token()
        msg = make_message(tok)
        data = (b"MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\n" % (SENDER.encode(), BOB.encode()) +
                bdat_stream(msg, [7, 0, 30]))
        for i in range(len(data)):
            d.send(data[i:i + 1])
            harness.wait_peer_consumed(d.raw)
        codes = [r.code for r in d.read_replies(6)]
        self.assertEqual(codes, [250] * 6, d.format_transcript())
        self.assert_exact(tok, msg)

    def test_bdat_pipelined_with_envelope_and_bdat_0_last(self):
        d = self.dialog()
        tok = token()
        msg = make_message(tok)
        d.send(b"MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nBDAT %d\r\n%sBDAT 0 LAST\r\nNOOP\r\n"
               % (SENDER.encode(), BOB.encode(), len(msg), msg))
        r = d.read_replies(5)
        self.assertEqual([x.code for x in r], [250] * 5, d.format_transcript())
        self.assertIn("%d octets" % len(msg), r[2].text)
        self.assertIn("queued as", r[3].text)
        self.assert_exact(tok, msg)

    def test_bdat_binary_octets_kept(self):
        """NUL, 8-bit octets and a lone '.' line pass as they are: nothing
        is unstuffed."""
        d = self.dialog()
        tok = token()
        msg = make_message(tok, body=b"\x00\xff\x80 binary\r\n.\r\n..two\r\n")
        d.expect("MAIL FROM:<%s> BODY=8BITMIME" % SENDER, 250)
        d.expect("RCPT TO:<%s>" % BOB, 250)
        d.send(bdat_stream(msg, [len(msg) // 2]))
        self.assertEqual([x.code for x in d.read_replies(2)], [250, 250])
        self.assert_exact(tok, msg)

    def test_bdat_bare_lf_and_cr_refused_after_last(self):
        for bare in (b"\n", b"\r"):
            d = self.dialog()
            tok = token()
            msg = make_message(tok, body=b"one" + bare + b".\r\nQUIT\r\n")
            d.expect("MAIL FROM:<%s>" % SENDER, 250)
            d.expect("RCPT TO:<%s>" % BOB, 250)
            d.send(bdat_stream(msg, [40]))
            first, last = d.read_replies(2)
            self.assertEqual(first.code, 250)
            self.assert_reply(last, 554, "5.6.0", d)
            self.assertIn("bare <%s>" % ("LF" if bare == b"\n" else "CR"), last.text)
            d.expect("NOOP", 250)  # the session goes on
            self.srv.wait_queue_empty()
            self.assertEqual([m for m in self.srv.messages(BOB) if tok.encode() in m], [])

    def test_bdat_chunk_over_message_size_refused_session_goes_on(self):
        d = self.dialog()
        tok = token()
        d.expect("MAIL FROM:<%s>" % SENDER, 250)
        d.expect("RCPT TO:<%s>" % BOB, 250)
        big = b"x" * (MESSAGE_SIZE + 1)
        d.send(b"BDAT %d LAST\r\n" % len(big) + big)
        self.assert_reply(d.read_reply(), 552, "5.3.4", d)
        # the transaction is over, the session is not
        d.send(b"BDAT 6 LAST\r\nQUIT\r\n")
        self.assert_reply(d.read_reply(), 503, "5.5.1", d)
        d.expect("NOOP", 250)
        msg = make_message(tok)
        d.expect("MAIL FROM:<%s>" % SENDER, 250)
        d.expect("RCPT TO:<%s>" % BOB, 250)
        d.send(bdat_stream(msg, [MESSAGE_SIZE // 2]) if len(msg) > MESSAGE_SIZE // 2 else
               bdat_stream(msg, []))
        self.assertEqual(d.read_reply().code, 250, d.format_transcript())
        self.assert_exact(tok, msg)

    def test_bdat_total_over_message_size_refused(self):
        d = self.dialog()
        d.expect("MAIL FROM:<%s>" % SENDER, 250)
        d.expect("RCPT TO:<%s>" % BOB, 250)
        half = b"y" * (MESSAGE_SIZE // 2 + 1)
        d.send(b"BDAT %d\r\n%sBDAT %d LAST\r\n%s" % (len(half), half, len(half), half))
        self.assertEqual(d.read_reply().code, 250)
        self.assert_reply(d.read_reply(), 552, "5.3.4", d)
        d.expect("NOOP", 250)

    def test_bdat_without_mail_or_rcpt_reads_and_drops_the_chunk(self):
        d = self.dialog()
        smuggled = b"MAIL FROM:<evil@x.test>\r\n"
        d.send(b"BDAT %d LAST\r\n%s" % (len(smuggled), smuggled))
        self.assert_reply(d.read_reply(), 503, "5.5.1", d)
        d.expect("MAIL FROM:<%s>" % SENDER, 250)  # not nested: the chunk was dropped
        r = d.cmd("RCPT TO:<nobody@local.test>")
        self.assertEqual(r.code, 550)
        d.send(b"BDAT %d LAST\r\n%s" % (len(smuggled), smuggled))
        self.assert_reply(d.read_reply(), 554, "5.5.1", d)
        d.expect("NOOP", 250)

    def test_bdat_and_data_not_mixed(self):
        d = self.dialog()
        d.expect("MAIL FROM:<%s>" % SENDER, 250)
        d.expect("RCPT TO:<%s>" % BOB, 250)
        d.send(b"BDAT 5\r\nabcde")
        self.assertEqual(d.read_reply().code, 250)
        self.assert_reply(d.cmd("DATA"), 503, "5.5.1", d)
        self.assert_reply(d.cmd("RCPT TO:<%s>" % BOB), 503, "5.5.1", d)
        d.expect("RSET", 250)
        self.srv.wait_queue_empty()

    def test_bdat_bad_size_closes(self):
        for arg in (b"BDAT", b"BDAT x", b"BDAT 12 FIRST", b"BDAT 99999999999999999999",
                    b"BDAT -1"):
            d = self.dialog()
            d.send(arg + b"\r\nNOOP\r\n")
            replies = d.replies_until_close()
            self.assertEqual([r.code for r in replies], [501], (arg, replies))


class Commit(harness.ServerTestCase):
    """BDAT LAST is answered 250 only once the queue's flush succeeded."""

    def test_failed_flush_answers_451_to_last(self):
        srv = self.server_for(dispatchers=1, wrapper=harness.fault_wrapper(
            "queue/commit/sync,failinfo=%d,onetime" % errno.EIO))
        d = srv.dialog()
        self.addCleanup(d.close)
        d.ehlo()
        tok = token()
        msg = make_message(tok)
        d.expect("MAIL FROM:<%s>" % SENDER, 250)
        d.expect("RCPT TO:<%s>" % BOB, 250)
        d.send(bdat_stream(msg, [10]))
        r = d.read_replies(2)
        self.assertEqual(r[0].code, 250)
        self.assertEqual((r[1].code, r[1].enhanced), (451, "4.3.0"), d.format_transcript())
        srv.wait_queue_empty()
        self.assertEqual([m for m in srv.messages(BOB) if tok.encode() in m], [])
        # and the next one goes through
        tok = token()
        msg = make_message(tok)
        d.expect("MAIL FROM:<%s>" % SENDER, 250)
        d.expect("RCPT TO:<%s>" % BOB, 250)
        d.send(bdat_stream(msg, []))
        self.assertEqual(d.read_reply().code, 250)
        harness.wait_for(lambda: [m for m in srv.messages(BOB) if tok.encode() in m])


PEERS = {
    "chunky.test": (1, {"chunking": True, "smtputf8": True}),
    "chunky-nopipe.test": (2, {"chunking": True, "pipelining": False}),
    "plain.test": (3, {}),
}


class Outbound(outbound.OutboundTestCase):

    @classmethod
    def setUpClass(cls):
        outbound.need_peers()
        records = cls.start_peers(NET, PEERS)
        cls.dns = cls.start_unbound(records)
        cls.srv = cls.outbound_class_server(cls.dns.resolver(), cls.port, tls="may")
        cls.sender_n = 0

    def sender(self):
        Outbound.sender_n += 1
        return outbound.LOCAL_SENDERS[Outbound.sender_n]

    def submit_bdat(self, sender, rcpts, msg, mail_params=""):
        d = self.srv.dialog()
        self.addCleanup(d.close)
        d.ehlo()
        d.expect(("MAIL FROM:<%s> %s" % (sender, mail_params)).rstrip().encode(), 250)
        for r in rcpts:
            d.expect(("RCPT TO:<%s>" % r).encode(), 250)
        d.send(bdat_stream(msg, [50, 1]))
        self.assertEqual([r.code for r in d.read_replies(3)], [250] * 3, d.format_transcript())

    def test_bdat_in_bdat_out_byte_exact_pipelined(self):
        f = self.mx["chunky.test"]
        tok = token()
        msg = make_message(tok, body=b"\x00\xff binary\r\n.\r\n..two\r\nend\r\n")
        self.submit_bdat(self.sender(), ["u-%s@chunky.test" % tok[:6]], msg)
        [tx] = f.wait_message(tok, server=self.srv)
        self.assertTrue(tx.data.startswith(b"Received: "), tx.data[:200])
        self.assertTrue(tx.data.endswith(b"\r\n\r\n" + msg.split(b"\r\n\r\n", 1)[1]))
        self.assertEqual(tx.data[-len(msg):], msg)
        self.assertTrue(tx.bdat, f.describe())
        verbs = [c for c in f.commands() if c.verb in ("RCPT", "BDAT", "DATA")]
        self.assertNotIn("DATA", [c.verb for c in verbs])
        # RFC 3030 4.2: the first chunk went with the RCPT, not after its reply
        self.assertTrue([c for c in verbs if c.verb == "RCPT"][-1].pipelined, f.describe())
        # each BDAT line's size is its chunk's; LAST on the last one only
        bdats = [c.line.split() for c in verbs if c.verb == "BDAT"]
        self.assertEqual([int(b[1]) for b in bdats], [len(c) for c in tx.bdat_chunks],
                         f.describe())
        self.assertEqual([b[2:] for b in bdats], [[]] * (len(bdats) - 1) + [["LAST"]],
                         f.describe())

    def test_bdat_without_pipelining_one_chunk_at_a_time(self):
        f = self.mx["chunky-nopipe.test"]
        tok = token()
        msg = make_message(tok, body=(b"z" * 70 + b"\r\n") * 3000)
        outbound.submit(self.srv, self.sender(), ["u-%s@chunky-nopipe.test" % tok[:6]], msg)
        [tx] = f.wait_message(tok, server=self.srv)
        self.assertEqual(tx.data[-len(msg):], msg)
        self.assertGreater(len(tx.bdat_chunks), 1)
        # each BDAT line went out only after the reply to the chunk before
        [sess] = [x for x in f.all_sessions() if any(c.verb == "BDAT" for c in x.commands)]
        waiting = False
        for who, data in sess.transcript:
            if who == "S" and b"octets received" in data:
                waiting = False
            for _ in range(data.count(b"BDAT ") if who == "C" else 0):
                self.assertFalse(waiting, "a chunk sent before the last one's reply")
                waiting = True

    def test_no_chunking_peer_gets_data(self):
        f = self.mx["plain.test"]
        tok = token()
        msg = make_message(tok, body=b".dot\r\nend\r\n")
        self.submit_bdat(self.sender(), ["u-%s@plain.test" % tok[:6]], msg)
        [tx] = f.wait_message(tok, server=self.srv)
        self.assertEqual(tx.data[-len(msg):], msg)
        self.assertFalse(f.saw("BDAT"))

    def test_smtputf8_relayed_with_parameter(self):
        f = self.mx["chunky.test"]
        tok = token()
        rcpt = "ü-%s@chunky.test" % tok[:6]
        msg = make_message(tok, subject="grüße")
        self.submit_bdat(self.sender(), [rcpt], msg, mail_params="SMTPUTF8")
        [tx] = f.wait_message(tok, server=self.srv)
        self.assertIn("SMTPUTF8", tx.mail_from.split())
        self.assertEqual(tx.rcpt_addresses(), [rcpt])

    def test_smtputf8_to_peer_without_it_fails_5_6_7(self):
        f = self.mx["plain.test"]
        sender = self.sender()
        tok = token()
        rcpt = "ü-%s@plain.test" % tok[:6]
        self.submit_bdat(sender, [rcpt], make_message(tok), mail_params="SMTPUTF8")
        [dsn] = outbound.wait_dsn(self.srv, sender, tok[:6])
        self.assertIn(b"5.6.7", dsn.raw)
        self.assertIn(b"SMTPUTF8", dsn.raw)
        self.assertFalse([t for t in f.transactions(complete=False)
                          if tok[:6] in " ".join(t.rcpts)], f.describe())


if __name__ == "__main__":
    harness.main()
