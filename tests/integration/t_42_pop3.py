#!/usr/bin/python3
"""POP3 over TLS with poplib and a raw client, STLS ("110") and implicit TLS
("995"): USER/PASS and AUTH refused by the server before STLS; CAPA before
and after; STAT/LIST/UIDL/TOP/RETR byte for byte the Maildir file (poplib
undoes the dot-stuffing); UIDL the same across sessions and listeners; DELE
and a dropped connection delete nothing, DELE and QUIT delete (RSET undoes);
a second session on the same mailbox refused with [IN-USE].

No address of its own: everything here is on 127.0.0.1."""

import poplib
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import crlf, make_message, maildir_find, token  # noqa: E402

PW = "pop-Pw-%s" % token()[:8]
NAMES = ("pre", "read", "drop", "dele", "inuse")
USER = {n: "%s@local.test" % n for n in NAMES}
PASSWORDS = {USER[n]: PW + n for n in NAMES}


def dotty_message(tok, i):
    body = (b"line one\r\n.starts with a dot\r\n..two dots\r\n.\r\nafter the lone dot %d\r\n"
            b"token " % i) + tok.encode() + b"\r\n"
    return make_message(tok, body=body)


def capa(lines):
    return {ln.split()[0].decode().upper(): [w.decode() for w in ln.split()[1:]]
            for ln in lines if ln.split()}


class Pop3(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(**harness.mail_server_kwargs(PASSWORDS))

    def fill(self, name, n):
        toks = [token() for _ in range(n)]
        for i, t in enumerate(toks):
            harness.deliver(self.srv, USER[name], dotty_message(t, i))
        return toks

    def stored(self, name, tok):
        [path] = maildir_find(self.srv, USER[name], tok)
        with open(path, "rb") as f:
            return crlf(f.read())

    def session(self, name, listener="pop3"):
        p = harness.pop3_connect(self.srv, listener, USER[name], PASSWORDS[USER[name]])
        self.addCleanup(self.quit, p)
        return p

    @staticmethod
    def quit(p):
        try:
            p.quit()
        except Exception:
            pass

    def by_token(self, p):
        """{token: message number} of the session's maildrop (TOP n 0)."""
        out = {}
        _, listing, _ = p.list()
        for ln in listing:
            num = int(ln.split()[0])
            _, head, _ = p.top(num, 0)
            for h in head:
                if h.lower().startswith(b"x-test-token: "):
                    out[h.split(b": ", 1)[1].decode()] = num
        return out

    # -- before STLS --
    def test_login_refused_before_stls(self):
        with harness.Pop3Raw(self.srv.port("pop3")) as c:
            self.assertTrue(c.greeting.startswith(b"+OK"), c.greeting)
            r = c.cmd("CAPA")
            self.assertTrue(r.startswith(b"+OK"), r)
            caps = capa(c.multi())
            self.assertIn("STLS", caps)
            self.assertNotIn("USER", caps, "USER offered before TLS")
            self.assertNotIn("SASL", caps, "SASL offered before TLS")
            # The right credentials: the refusal is the TLS rule.
            for line in ("USER " + USER["pre"], "PASS " + PASSWORDS[USER["pre"]],
                         "AUTH PLAIN " + harness.b64("\0%s\0%s" % (USER["pre"],
                                                                   PASSWORDS[USER["pre"]]))):
                r = c.cmd(line)
                self.assertTrue(r.startswith(b"-ERR [AUTH] "),
                                "%s before STLS: %r" % (line[:4], r))
            r = c.cmd("STAT")
            self.assertTrue(r.startswith(b"-ERR"), "STAT before login: %r" % r)
            c.stls()
            r = c.cmd("CAPA")
            self.assertTrue(r.startswith(b"+OK"), r)
            caps = capa(c.multi())
            self.assertNotIn("STLS", caps)
            for k in ("USER", "UIDL", "TOP"):
                self.assertIn(k, caps)
            self.assertIn("PLAIN", [m.upper() for m in caps.get("SASL", [])])
            r = c.cmd("STLS")
            self.assertTrue(r.startswith(b"-ERR"), "a second STLS: %r" % r)
            self.assertTrue(c.cmd("USER " + USER["pre"]).startswith(b"+OK"))
            r = c.cmd("PASS " + PASSWORDS[USER["pre"]])
            self.assertTrue(r.startswith(b"+OK"), r)
            self.assertTrue(c.cmd("QUIT").startswith(b"+OK"))

    def test_stls_pipelined_plaintext_dropped(self):
        with harness.Pop3Raw(self.srv.port("pop3")) as c:
            c.send("STLS\r\nUSER %s\r\n" % USER["pre"])
            r = c.line()
            self.assertTrue(r.startswith(b"+OK"), r)
            self.assertEqual(c.buf, b"")
            c.sock = harness.client_context().wrap_socket(c.sock, server_hostname="127.0.0.1")
            # Had the injected USER run, PASS would be accepted now.
            r = c.cmd("PASS " + PASSWORDS[USER["pre"]])
            self.assertTrue(r.startswith(b"-ERR"), "the injected USER was kept: %r" % r)

    def test_wrong_password_and_auth_plain(self):
        p = harness.pop3_connect(self.srv, "pop3s", timeout=30)
        self.addCleanup(self.quit, p)
        p.user(USER["pre"])
        with self.assertRaises(poplib.error_proto) as cm:
            p.pass_("wrong-" + token())
        self.assertTrue(str(cm.exception).startswith("b'-ERR"), cm.exception)
        with harness.Pop3Raw(self.srv.port("pop3s"), implicit=True) as c:
            r = c.cmd("AUTH PLAIN " + harness.b64("\0%s\0%s" % (USER["pre"],
                                                                PASSWORDS[USER["pre"]])))
            self.assertTrue(r.startswith(b"+OK"), r)
            self.assertTrue(c.cmd("STAT").startswith(b"+OK"))
            c.cmd("QUIT")

    # -- reading --
    def test_stat_list_uidl_top_retr_byte_exact(self):
        toks = self.fill("read", 3)
        uidls = {}
        for listener in ("pop3", "pop3s"):
            p = self.session("read", listener)
            count, total = p.stat()
            self.assertEqual(count, 3)
            nums = self.by_token(p)
            self.assertEqual(set(nums), set(toks))
            sizes = {}
            _, listing, _ = p.list()
            for ln in listing:
                n, size = (int(x) for x in ln.split())
                sizes[n] = size
            want_total = 0
            for t in toks:
                n = nums[t]
                data = self.stored("read", t)
                want_total += len(data)
                self.assertEqual(sizes[n], len(data), "LIST size of %d" % n)
                self.assertEqual(int(p.list(n).split()[2]), len(data))
                _, lines, octets = p.retr(n)
                self.assertEqual(b"\r\n".join(lines) + b"\r\n", data, "RETR %d" % n)
                head, body = data.split(b"\r\n\r\n", 1)
                _, lines, _ = p.top(n, 0)
                self.assertEqual(b"\r\n".join(lines) + b"\r\n", head + b"\r\n\r\n")
                _, lines, _ = p.top(n, 2)
                self.assertEqual(b"\r\n".join(lines) + b"\r\n",
                                 head + b"\r\n\r\n" + b"\r\n".join(body.split(b"\r\n")[:2]) +
                                 b"\r\n")
            self.assertEqual(total, want_total)
            _, lines, _ = p.uidl()
            u = dict((int(a), b) for a, b in (ln.split() for ln in lines))
            self.assertEqual(len(set(u.values())), 3, "UIDL not unique: %r" % u)
            for b in u.values():
                self.assertTrue(all(0x21 <= c <= 0x7e for c in b) and 1 <= len(b) <= 70, b)
            self.assertEqual(p.uidl(nums[toks[0]]).split()[2], u[nums[toks[0]]])
            uidls[listener] = {t: u[nums[t]] for t in toks}
            p.quit()
        self.assertEqual(uidls["pop3"], uidls["pop3s"], "UIDL changed between sessions")
        # RETR does not delete, and IMAP still sees every message.
        m = harness.imap_connect(self.srv, "imaps", USER["read"], PASSWORDS[USER["read"]])
        self.addCleanup(m.logout)
        typ, data = m.select("INBOX")
        self.assertEqual(int(data[0]), 3)

    # -- deleting --
    def test_dropped_connection_deletes_nothing(self):
        toks = self.fill("drop", 2)
        p = harness.pop3_connect(self.srv, "pop3s", USER["drop"], PASSWORDS[USER["drop"]])
        p.dele(1)
        p.dele(2)
        with self.assertRaises(poplib.error_proto):
            p.retr(1)
        self.assertEqual(p.stat()[0], 0)
        p.sock.close()   # no QUIT: the connection just ends
        p.file.close()

        def fresh_stat():
            try:
                q = harness.pop3_connect(self.srv, "pop3", USER["drop"], PASSWORDS[USER["drop"]])
            except poplib.error_proto as e:
                if b"IN-USE" in e.args[0]:
                    return None  # the dropped session is not gone yet
                raise
            try:
                return q.stat()
            finally:
                q.quit()
        count, _ = harness.wait_for(fresh_stat, what="a new POP3 session")
        self.assertEqual(count, 2)
        for t in toks:
            self.assertEqual(len(maildir_find(self.srv, USER["drop"], t)), 1)

    def test_dele_quit_deletes_and_rset_undoes(self):
        toks = self.fill("dele", 3)
        p = self.session("dele")
        nums = self.by_token(p)
        p.dele(nums[toks[0]])
        p.rset()
        p.dele(nums[toks[1]])
        self.assertEqual(p.stat()[0], 2)
        r = p.quit()
        self.assertTrue(r.startswith(b"+OK"), r)
        self.assertEqual(maildir_find(self.srv, USER["dele"], toks[1]), [])
        for t in (toks[0], toks[2]):
            self.assertEqual(len(maildir_find(self.srv, USER["dele"], t)), 1)
        p = self.session("dele", "pop3s")
        self.assertEqual(set(self.by_token(p)), {toks[0], toks[2]})
        m = harness.imap_connect(self.srv, "imaps", USER["dele"], PASSWORDS[USER["dele"]])
        self.addCleanup(m.logout)
        typ, data = m.select("INBOX")
        self.assertEqual(int(data[0]), 2)

    def test_second_session_refused_in_use(self):
        self.fill("inuse", 1)
        p = self.session("inuse")
        self.assertEqual(p.stat()[0], 1)
        with harness.Pop3Raw(self.srv.port("pop3s"), implicit=True) as c:
            self.assertTrue(c.cmd("USER " + USER["inuse"]).startswith(b"+OK"))
            r = c.cmd("PASS " + PASSWORDS[USER["inuse"]])
            self.assertTrue(r.startswith(b"-ERR [IN-USE]"), r)
        p.quit()

        def second():
            try:
                q = harness.pop3_connect(self.srv, "pop3s", USER["inuse"],
                                         PASSWORDS[USER["inuse"]])
            except poplib.error_proto as e:
                if b"IN-USE" in e.args[0]:
                    return None
                raise
            n = q.stat()[0]
            q.quit()
            return ("ok", n)
        self.assertEqual(harness.wait_for(second, what="the mailbox free again"), ("ok", 1))


if __name__ == "__main__":
    harness.main()
