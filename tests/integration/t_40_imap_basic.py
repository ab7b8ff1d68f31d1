#!/usr/bin/python3
"""IMAP over TLS with imaplib and a raw client, STARTTLS ("143") and implicit
TLS ("993"): before TLS only STARTTLS (LOGINDISABLED; LOGIN and AUTHENTICATE
refused by the server itself), STARTTLS offered once and pipelined plaintext
after it dropped; LOGIN and AUTHENTICATE PLAIN after TLS, a wrong password
NO [AUTHENTICATIONFAILED]; LIST with INBOX and the special-use folders;
SELECT; the bytes delivered by SMTP are byte for byte the bytes of BODY[]
(RFC822.SIZE agrees); ENVELOPE, BODYSTRUCTURE and part sections of a nested
multipart; STORE flags in the Maildir file names and seen by a second
session; APPEND with flags and a date; COPY and MOVE with COPYUID consistent
with UID SEARCH in the destination; EXPUNGE and new mail seen by a
concurrent session; SEARCH on headers, body, flags and dates; an oversized
literal refused before login.

No address of its own: everything here is on 127.0.0.1."""

import base64
import datetime
import os
import re
import socket
import ssl
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import crlf, imap_parse, make_message, maildir_find, maildir_flags, token  # noqa: E402

PW = "imap-Pw-%s" % token()[:8]
NAMES = ("basic", "plain", "fetch", "multi", "flags", "append", "copy", "expunge", "search",
         "literal", "badpw", "limit", "together")
USER = {n: "%s@local.test" % n for n in NAMES}
PASSWORDS = {USER[n]: PW + n for n in NAMES}
SLOW_TIMEOUT = 30  # failed logins are answered after a delay
# The CAPABILITY lists the server gives in each state (src/imap: before TLS,
# after TLS before login, after login; APPENDLIMIT= carries a number).
CAPS_BEFORE_TLS = {"IMAP4REV1", "IMAP4REV2", "STARTTLS", "LOGINDISABLED", "LITERAL-", "ID"}
CAPS_BEFORE_LOGIN = {"IMAP4REV1", "IMAP4REV2", "SASL-IR", "LITERAL-", "ENABLE", "IDLE", "ID",
                     "AUTH=PLAIN"}
CAPS_AFTER_LOGIN = {"IMAP4REV1", "IMAP4REV2", "SASL-IR", "LITERAL+", "ENABLE", "IDLE",
                    "NAMESPACE", "UNSELECT", "UIDPLUS", "MOVE", "CONDSTORE", "QRESYNC",
                    "ESEARCH", "SEARCHRES", "LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE",
                    "CHILDREN", "STATUS=SIZE", "APPENDLIMIT=", "ID"}
SPECIAL = {"Sent": "\\Sent", "Drafts": "\\Drafts", "Trash": "\\Trash", "Junk": "\\Junk",
           "Archive": "\\Archive"}


def pw(name):
    return PASSWORDS[USER[name]]


def tricky_message(tok):
    """A message with what a careless store or server mangles: lines that
    start with dots (SMTP dot-stuffing), a line of a lone dot, UTF-8, tabs,
    trailing spaces, a long line, an empty line at the end."""
    body = (b"first line\r\n"
            b".a line starting with a dot\r\n"
            b"..two dots\r\n"
            b".\r\n"
            b"tab\there and trailing spaces   \r\n"
            b"utf-8: \xc3\xa9t\xc3\xa9 \xe2\x82\xac\r\n"
            + b"x" * 900 + b"\r\n"
            b"token " + tok.encode() + b"\r\n"
            b"\r\n")
    return make_message(tok, body=body, extra_headers=[
        "Date: Tue, 02 Jan 2024 03:04:05 +0000", "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"])


def multipart_message(tok):
    """A multipart/mixed holding a multipart/alternative (text/plain in
    quoted-printable, text/html) and a base64 attachment. Returns (message,
    {part name: its body octets as served})."""
    plain = b"caf=C3=A9 plain body\r\nsecond line\r\n"  # 2 lines however counted
    html = b"<p>html body</p>"
    raw = bytes(range(256)) * 3
    b64 = base64.encodebytes(raw).replace(b"\n", b"\r\n").rstrip(b"\r\n")
    outer, inner = "outer-" + tok, "inner-" + tok
    msg = ("From: \"Alice Example\" <alice@sender.test>\r\n"
           "To: bob@local.test, \"Carol C\" <carol@local.test>\r\n"
           "Subject: =?UTF-8?Q?caf=C3=A9?= multipart %s\r\n"
           "Date: Mon, 1 Jan 2024 10:00:00 +0100\r\n"
           "Message-ID: <%s@client.test>\r\n"
           "In-Reply-To: <parent-%s@client.test>\r\n"
           "X-Test-Token: %s\r\n"
           "MIME-Version: 1.0\r\n"
           "Content-Type: multipart/mixed; boundary=\"%s\"\r\n"
           "\r\n"
           "This is the preamble.\r\n"
           "--%s\r\n"
           "Content-Type: multipart/alternative; boundary=\"%s\"\r\n"
           "\r\n"
           "--%s\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n"
           "Content-Transfer-Encoding: quoted-printable\r\n"
           "\r\n" % (tok, tok, tok, tok, outer, outer, inner, inner)).encode()
    msg += plain + ("\r\n--%s\r\n"
                    "Content-Type: text/html; charset=utf-8\r\n"
                    "\r\n" % inner).encode()
    msg += html + ("\r\n--%s--\r\n"
                   "--%s\r\n"
                   "Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
                   "Content-Disposition: attachment; filename=\"data.bin\"\r\n"
                   "Content-Transfer-Encoding: base64\r\n"
                   "\r\n" % (inner, outer)).encode()
    msg += b64 + ("\r\n--%s--\r\nepilogue\r\n" % outer).encode()
    return msg, {"plain": plain, "html": html, "b64": b64}


def internaldate(text):
    """An INTERNALDATE ("01-Feb-2024 10:20:30 +0200") as a Unix time."""
    if isinstance(text, bytes):
        text = text.decode()
    return datetime.datetime.strptime(text.strip(), "%d-%b-%Y %H:%M:%S %z").timestamp()


def lower(v):
    return v.lower() if isinstance(v, (bytes, str)) else v


def flags_of(value):
    return {f for f in value if f != "\\Recent"}


class ImapBasic(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        # More connections per client address than sessions per user, so the
        # sessions bound is the one that answers.
        cls.srv = cls.class_server(**harness.mail_server_kwargs(
            PASSWORDS, limits={"connections_per_client": 100}))

    # -- helpers --
    def session(self, name, listener="imap"):
        m = harness.imap_connect(self.srv, listener, USER[name], pw(name))
        self.addCleanup(self.logout, m)
        return m

    @staticmethod
    def logout(m):
        try:
            m.logout()
        except Exception:
            pass

    def raw(self, name=None, listener="imap", **kw):
        c = harness.imap_raw(self.srv, listener, USER[name] if name else None,
                             pw(name) if name else None, **kw)
        self.addCleanup(c.close)
        return c

    def uid_search(self, m, *criteria):
        typ, data = m.uid("SEARCH", *criteria)
        self.assertEqual(typ, "OK", data)
        return [int(x) for x in b" ".join(d for d in data if d).split()]

    def uid_of(self, m, tok):
        uids = self.uid_search(m, "HEADER", "X-Test-Token", tok)
        self.assertEqual(len(uids), 1, "UID SEARCH HEADER X-Test-Token %s: %r" % (tok, uids))
        return uids[0]

    def select(self, m, box="INBOX"):
        typ, data = m.select(box)
        self.assertEqual(typ, "OK", "SELECT %s: %r" % (box, data))
        return int(data[0])

    # -- before TLS --
    def test_capability_before_tls_and_login_refused_by_the_server(self):
        with harness.ImapRaw(self.srv.port("imap")) as c:
            self.assertTrue(c.greeting.startswith(b"* OK"), c.greeting)
            caps = c.capabilities()
            self.assertEqual(set(caps), CAPS_BEFORE_TLS, "CAPABILITY before TLS")
            self.assertNotIn("AUTH=PLAIN", caps, "a plaintext mechanism offered before TLS")
            # The right password: a refusal is the TLS rule, not a failed login.
            status, text, _ = c.command("LOGIN %s %s" % (USER["basic"], pw("basic")))
            self.assertEqual((status, harness.response_code(text)), ("NO", ["PRIVACYREQUIRED"]),
                             "LOGIN before TLS: %s %s" % (status, text))
            # AUTHENTICATE must not even ask for the credentials.
            c.send(b"a1 AUTHENTICATE PLAIN\r\n")
            r = c.read_response()
            self.assertFalse(r.startswith(b"+"), "AUTHENTICATE before TLS got a challenge: %r" % r)
            self.assertTrue(r.startswith(b"a1 NO"), r)
            status, text, _ = c.command("SELECT INBOX")
            self.assertEqual(status, "BAD", "SELECT before login: %s %s" % (status, text))
            c.ok("NOOP")
            _, untagged = c.ok("LOGOUT")
            self.assertTrue(any(u.startswith(b"* BYE") for u in untagged), untagged)

    def test_starttls_once_and_pipelined_plaintext_dropped(self):
        with harness.ImapRaw(self.srv.port("imap")) as c:
            # One write: STARTTLS and a LOGIN injected behind it.
            c.send(b"s1 STARTTLS\r\ns2 LOGIN %s %s\r\n" % (USER["basic"].encode(),
                                                         pw("basic").encode()))
            r = c.read_response()
            self.assertTrue(r.startswith(b"s1 OK"), r)
            self.assertEqual(c.buf, b"", "plaintext after the STARTTLS OK: %r" % c.buf)
            c.sock = harness.client_context().wrap_socket(c.sock, server_hostname="127.0.0.1")
            status, text, untagged = c.command("CAPABILITY")
            self.assertEqual(status, "OK", text)
            self.assertFalse([u for u in untagged if u.startswith(b"s2 ")],
                             "the injected LOGIN was answered: %r" % untagged)
            caps = [u for u in untagged if u.upper().startswith(b"* CAPABILITY ")]
            self.assertEqual(len(caps), 1, untagged)
            caps = caps[0].decode().upper().split()[2:]
            self.assertEqual(set(caps), CAPS_BEFORE_LOGIN, "CAPABILITY after STARTTLS")
            status, text, _ = c.command("STARTTLS")
            self.assertEqual(status, "BAD", "a second STARTTLS: %s %s" % (status, text))
            # Had the injected LOGIN run, this one would be refused.
            c.login(USER["basic"], pw("basic"))
            c.ok("SELECT INBOX")
            c.ok("LOGOUT")

    def test_implicit_tls_capabilities_and_login(self):
        m = harness.imap_connect(self.srv, "imaps")
        self.addCleanup(self.logout, m)
        self.assertEqual(m.sock.version(), "TLSv1.3")
        caps = {c.upper() for c in m.capabilities}
        self.assertEqual(caps, CAPS_BEFORE_LOGIN, "CAPABILITY on the implicit TLS listener")
        typ, data = m.login(USER["basic"], pw("basic"))
        self.assertEqual(typ, "OK", data)
        # Once logged in: every extension served (the list README.md gives).
        typ, data = m.capability()
        self.assertEqual(typ, "OK", data)
        caps = data[0].decode().upper().split()
        limits = [c for c in caps if c.startswith("APPENDLIMIT=")]
        self.assertEqual(len(limits), 1, caps)
        self.assertRegex(limits[0], r"^APPENDLIMIT=[1-9][0-9]*$")
        self.assertEqual({"APPENDLIMIT=" if c in limits else c for c in caps}, CAPS_AFTER_LOGIN)

    def test_authenticate_plain_after_starttls(self):
        m = harness.imap_connect(self.srv, "imap")
        self.addCleanup(self.logout, m)
        cred = ("\0%s\0%s" % (USER["plain"], pw("plain"))).encode()
        typ, data = m.authenticate("PLAIN", lambda challenge: cred)
        self.assertEqual(typ, "OK", data)
        self.assertEqual(self.select(m), 0)
        # SASL-IR: the initial response on the command line.
        with self.raw() as c:
            c.ok("AUTHENTICATE PLAIN " + base64.b64encode(cred).decode())
            c.ok("SELECT INBOX")

    def test_wrong_password_and_unknown_user(self):
        for user, password in ((USER["badpw"], "wrong-" + token()),
                               ("nobody-%s@local.test" % token()[:6], pw("badpw"))):
            with harness.imap_raw(self.srv, "imap", timeout=SLOW_TIMEOUT) as c:
                status, text, _ = c.command("LOGIN %s %s" % (harness.imap_quote(user),
                                                             harness.imap_quote(password)))
                self.assertEqual((status, harness.response_code(text)),
                                 ("NO", ["AUTHENTICATIONFAILED"]),
                                 "LOGIN %s: %s %s" % (user, status, text))
                status, text, _ = c.command("SELECT INBOX")
                self.assertEqual(status, "BAD", "SELECT after a failed login: %s" % text)

    # -- sessions per user --
    def test_sessions_per_user_bounded(self):
        limit = harness.IMAP_DEFAULTS["sessions_per_user"]
        sessions = [self.raw("limit", ("imap", "imaps")[i % 2]) for i in range(limit)]
        for c in sessions:
            c.ok("NOOP")
        with self.raw(None, "imaps") as c:
            status, text, _ = c.command("LOGIN %s %s" % (USER["limit"], pw("limit")))
            self.assertEqual((status, harness.response_code(text)), ("NO", ["LIMIT"]),
                             "LOGIN beyond sessions_per_user: %s %s" % (status, text))
        sessions.pop().ok("LOGOUT")

        def login():
            with self.raw(None, "imaps") as c:
                status, text, _ = c.command("LOGIN %s %s" % (USER["limit"], pw("limit")))
            if status == "OK":
                return True
            # NO [LIMIT] until the store has seen the LOGOUT; nothing else
            self.assertEqual((status, harness.response_code(text)), ("NO", ["LIMIT"]), text)
            return False
        harness.wait_for(login, what="a session slot after a LOGOUT")

    def test_simultaneous_logins_from_one_address(self):
        # A mail client opens several connections at once when it starts
        # (Thunderbird: up to 5 by default); every one must log in.
        sessions = [self.raw(None, "imaps") for _ in range(5)]
        for i, c in enumerate(sessions):
            c.send("p%d LOGIN %s %s\r\n" % (i, USER["together"], pw("together")))
        for i, c in enumerate(sessions):
            status, text, _ = c.read_tagged("p%d" % i)
            self.assertEqual(status, "OK", "login %d of 5 sent at once: %s %s" % (i + 1, status,
                                                                                 text))

    # -- folders --
    def test_list_inbox_and_special_use(self):
        m = self.session("basic")
        typ, data = m.list('""', "*")
        self.assertEqual(typ, "OK", data)
        boxes = {}
        for line in data:
            attrs, delim, name = imap_parse(line)
            self.assertEqual(delim, b"/", line)
            name = name.decode() if isinstance(name, bytes) else name
            boxes[name] = {a.lower() for a in attrs}
        self.assertIn("INBOX", boxes, boxes)
        for name, use in SPECIAL.items():
            self.assertIn(name, boxes, boxes)
            self.assertIn(use.lower(), boxes[name], "%s: %r" % (name, boxes[name]))
        # RETURN (SPECIAL-USE) as a selection option lists only them.
        typ, data = m._simple_command("LIST", "(SPECIAL-USE)", '""', "*")
        self.assertEqual(typ, "OK", data)
        _, data = m._untagged_response(typ, data, "LIST")
        names = {imap_parse(line)[2].decode() if isinstance(imap_parse(line)[2], bytes)
                 else imap_parse(line)[2] for line in data}
        self.assertEqual(names, set(SPECIAL), data)

    # -- SELECT and the bytes --
    def test_select_and_body_byte_exact_both_listeners(self):
        tok = token()
        msg = tricky_message(tok)
        path = harness.deliver(self.srv, USER["fetch"], msg)
        for listener in ("imap", "imaps"):
            m = self.session("fetch", listener)
            n = self.select(m)
            self.assertGreaterEqual(n, 1)
            for code in ("UIDVALIDITY", "UIDNEXT"):
                typ, v = m.response(code)
                self.assertTrue(v and v[0] and int(v[0]) > 0, "%s: %r" % (code, v))
            typ, flags = m.response("FLAGS")
            for f in ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"):
                self.assertIn(f.encode(), flags[0])
            uid = self.uid_of(m, tok)
            [item] = harness.imaplib_fetch(m, str(uid), "(UID RFC822.SIZE BODY.PEEK[] FLAGS)"
                                           ).values()
            [path] = maildir_find(self.srv, USER["fetch"], tok)
            with open(path, "rb") as f:
                stored = f.read()
            body = item["BODY[]"]
            self.assertEqual(body, crlf(stored), "BODY[] is not the Maildir file")
            self.assertTrue(body.endswith(msg), "BODY[] does not end with the SMTP message")
            self.assertTrue(body.startswith(b"Return-Path: "), body[:100])
            self.assertEqual(int(item["RFC822.SIZE"]), len(body))
            self.assertEqual(int(item["UID"]), uid)
            self.assertNotIn("\\Seen", item["FLAGS"], "BODY.PEEK set \\Seen")
        # BODY[] (not PEEK) sets \Seen, answered in the same FETCH.
        [item] = harness.imaplib_fetch(m, str(uid), "(BODY[])").values()
        self.assertEqual(item["BODY[]"], crlf(stored))
        self.assertIn("\\Seen", item.get("FLAGS", ()),
                      "no FLAGS (\\Seen) in the FETCH of BODY[]: %r" % item.keys())
        [item] = harness.imaplib_fetch(m, str(uid), "(FLAGS)").values()
        self.assertIn("\\Seen", item["FLAGS"])
        # Partial: BODY.PEEK[]<10.20>
        [item] = harness.imaplib_fetch(m, str(uid), "(BODY.PEEK[]<10.20>)").values()
        self.assertEqual(item["BODY[]<10>"], crlf(stored)[10:30])

    def test_envelope_bodystructure_and_sections_of_a_multipart(self):
        tok = token()
        msg, parts = multipart_message(tok)
        harness.deliver(self.srv, USER["multi"], msg)
        m = self.session("multi")
        self.select(m)
        uid = self.uid_of(m, tok)
        [it] = harness.imaplib_fetch(
            m, str(uid), "(ENVELOPE BODYSTRUCTURE BODY.PEEK[1.1] BODY.PEEK[1.2] BODY.PEEK[2] "
            "BODY.PEEK[2.MIME] BODY.PEEK[HEADER.FIELDS (Subject)] BODY.PEEK[3])").values()
        env = it["ENVELOPE"]
        self.assertEqual(len(env), 10, env)
        date, subject, frm, sender, reply_to, to, cc, bcc, in_reply_to, message_id = env
        self.assertEqual(date, b"Mon, 1 Jan 2024 10:00:00 +0100")
        self.assertEqual(subject, ("=?UTF-8?Q?caf=C3=A9?= multipart %s" % tok).encode())
        self.assertEqual(frm, [[b"Alice Example", None, b"alice", b"sender.test"]])
        self.assertEqual(sender, frm, "Sender defaults to From")
        self.assertEqual(reply_to, frm, "Reply-To defaults to From")
        self.assertEqual(to, [[None, None, b"bob", b"local.test"],
                              [b"Carol C", None, b"carol", b"local.test"]])
        self.assertEqual((cc, bcc), (None, None))
        self.assertEqual(in_reply_to, ("<parent-%s@client.test>" % tok).encode())
        self.assertEqual(message_id, ("<%s@client.test>" % tok).encode())

        bs = it["BODYSTRUCTURE"]
        # (alternative-part attachment "mixed" (boundary ...) disposition language location)
        alt, att = bs[0], bs[1]
        self.assertEqual(lower(bs[2]), b"mixed", bs)
        self.assertEqual([lower(bs[3][0]), bs[3][1]], [b"boundary", ("outer-" + tok).encode()])
        plain, html = alt[0], alt[1]
        self.assertEqual(lower(alt[2]), b"alternative")
        self.assertEqual([lower(alt[3][0]), alt[3][1]], [b"boundary", ("inner-" + tok).encode()])
        self.assertEqual([lower(x) for x in plain[:2]] + [[lower(plain[2][0]), plain[2][1]]],
                         [b"text", b"plain", [b"charset", b"utf-8"]])
        self.assertEqual((plain[3], plain[4], lower(plain[5])),
                         (None, None, b"quoted-printable"))
        self.assertEqual(int(plain[6]), len(parts["plain"]))
        self.assertEqual(int(plain[7]), 2, "body lines of the text/plain part")
        self.assertEqual([lower(x) for x in html[:2]], [b"text", b"html"])
        self.assertEqual(lower(html[5]), b"7bit")
        self.assertEqual(int(html[6]), len(parts["html"]))
        self.assertEqual([lower(x) for x in att[:2]], [b"application", b"octet-stream"])
        self.assertEqual([lower(att[2][0]), att[2][1]], [b"name", b"data.bin"])
        self.assertEqual(lower(att[5]), b"base64")
        self.assertEqual(int(att[6]), len(parts["b64"]))
        # non-text single part: size, then md5, disposition, language, location
        self.assertEqual(lower(att[8][0]), b"attachment", att)
        self.assertEqual([lower(att[8][1][0]), att[8][1][1]], [b"filename", b"data.bin"])

        self.assertEqual(it["BODY[1.1]"], parts["plain"])
        self.assertEqual(it["BODY[1.2]"], parts["html"])
        self.assertEqual(it["BODY[2]"], parts["b64"])
        self.assertEqual(base64.b64decode(it["BODY[2]"]), bytes(range(256)) * 3)
        self.assertEqual(it["BODY[2.MIME]"],
                         b"Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
                         b"Content-Disposition: attachment; filename=\"data.bin\"\r\n"
                         b"Content-Transfer-Encoding: base64\r\n\r\n")
        self.assertEqual(it["BODY[HEADER.FIELDS (SUBJECT)]"],
                         ("Subject: =?UTF-8?Q?caf=C3=A9?= multipart %s\r\n\r\n" % tok).encode())
        self.assertEqual(it["BODY[3]"], b"", "a part that does not exist is empty")

    # -- flags --
    def test_store_flags_in_maildir_names_and_second_session(self):
        tok = token()
        harness.deliver(self.srv, USER["flags"], make_message(tok))
        m = self.session("flags")
        self.select(m)
        uid = self.uid_of(m, tok)
        other = self.raw("flags")
        other.ok("SELECT INBOX")

        def file_flags():
            found = maildir_find(self.srv, USER["flags"], tok)
            return found and maildir_flags(found[0])

        steps = (("+FLAGS", "(\\Seen \\Flagged)", "FS"), ("+FLAGS", "(\\Answered)", "FRS"),
                 ("+FLAGS", "(\\Draft)", "DFRS"), ("-FLAGS", "(\\Flagged)", "DRS"),
                 ("+FLAGS", "(\\Deleted)", "DRST"))
        for op, flags, letters in steps:
            typ, data = m.uid("STORE", str(uid), op, flags)
            self.assertEqual(typ, "OK", data)
            found = maildir_find(self.srv, USER["flags"], tok)
            self.assertEqual(len(found), 1, found)
            self.assertEqual(os.path.basename(os.path.dirname(found[0])), "cur", found)
            self.assertEqual(maildir_flags(found[0]), letters,
                             "after STORE %s %s: %s" % (op, flags, found[0]))
        want = {"\\Seen", "\\Answered", "\\Draft", "\\Deleted"}
        # The other session is told with an untagged FETCH.
        _, untagged = other.ok("NOOP")
        fetches = [harness.fetch_items(u)[1] for u in untagged if re.match(rb"\* \d+ FETCH", u)]
        self.assertTrue(fetches, "no untagged FETCH in the second session: %r" % untagged)
        self.assertEqual(flags_of(fetches[-1]["FLAGS"]), want, fetches)
        _, untagged = other.ok("UID FETCH %d (FLAGS)" % uid)
        self.assertEqual(flags_of(harness.fetch_items(untagged[-1])[1]["FLAGS"]), want)
        # Another tool renames the file: a new SELECT takes its flags.
        [path] = maildir_find(self.srv, USER["flags"], tok)
        os.rename(path, path.rsplit(":2,", 1)[0] + ":2,S")
        m2 = self.session("flags", "imaps")
        self.select(m2)
        [it] = harness.imaplib_fetch(m2, str(uid), "(FLAGS)").values()
        self.assertEqual(flags_of(it["FLAGS"]), {"\\Seen"})

    # -- APPEND --
    def test_append_with_flags_and_date(self):
        tok = token()
        msg = tricky_message(tok)
        m = self.session("append")
        date = '"01-Feb-2024 10:20:30 +0200"'
        typ, data = m.append("INBOX", "(\\Seen \\Flagged)", date, msg)
        self.assertEqual(typ, "OK", data)
        code = harness.response_code(data[0])
        self.assertEqual(code[0], "APPENDUID", data)
        uidvalidity, uid = int(code[1]), int(code[2])
        self.select(m)
        typ, v = m.response("UIDVALIDITY")
        self.assertEqual(int(v[0]), uidvalidity)
        [it] = harness.imaplib_fetch(m, str(uid),
                                     "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])").values()
        self.assertEqual(it["BODY[]"], msg)
        self.assertEqual(int(it["RFC822.SIZE"]), len(msg))
        self.assertEqual(flags_of(it["FLAGS"]), {"\\Seen", "\\Flagged"})
        # The instant given (RFC 9051 6.3.12; the zone it is written in may differ).
        self.assertEqual(internaldate(it["INTERNALDATE"]), internaldate(date.strip('"')),
                         it["INTERNALDATE"])
        [path] = maildir_find(self.srv, USER["append"], tok)
        self.assertEqual(maildir_flags(path), "FS", path)
        with open(path, "rb") as f:
            self.assertEqual(crlf(f.read()), msg)
        # Into another folder, and into one that does not exist.
        typ, data = m.append("Drafts", "(\\Draft)", None, make_message(tok + "d"))
        self.assertEqual(typ, "OK", data)
        [path] = maildir_find(self.srv, USER["append"], tok + "d", folder="Drafts")
        self.assertEqual(maildir_flags(path), "D")
        typ, data = m.append("NoSuchFolder-" + tok, None, None, make_message(tok + "x"))
        self.assertEqual(typ, "NO", data)
        self.assertEqual(harness.response_code(data[0]), ["TRYCREATE"], data)

    # -- COPY / MOVE --
    def test_copy_and_move_with_copyuid(self):
        toks = [token() for _ in range(3)]
        for t in toks:
            harness.deliver(self.srv, USER["copy"], make_message(t))
        c = self.raw("copy")
        c.ok("SELECT INBOX")
        src = []
        for t in toks:
            _, u = c.ok("UID SEARCH HEADER X-Test-Token %s" % t)
            [line] = [x for x in u if x.startswith(b"* SEARCH")]
            src.append(int(line.split()[2]))
        text, _ = c.ok("UID COPY %s Archive" % ",".join(map(str, src)))
        code = harness.response_code(text)
        self.assertEqual(code[0], "COPYUID", text)
        validity, s_uids, d_uids = int(code[1]), harness.seqset_expand(code[2]), \
            harness.seqset_expand(code[3])
        self.assertEqual(sorted(s_uids), sorted(src))
        self.assertEqual(len(d_uids), 3)
        copied = dict(zip(s_uids, d_uids))
        # MOVE the second one to Trash: untagged COPYUID before the EXPUNGE.
        status, text, untagged = c.command("UID MOVE %d Trash" % src[1])
        self.assertEqual(status, "OK", text)
        oks = [u for u in untagged if u.startswith(b"* OK [COPYUID ")]
        self.assertEqual(len(oks), 1, untagged)
        mcode = harness.response_code(oks[0][len(b"* OK "):])
        self.assertEqual(harness.seqset_expand(mcode[2]), [src[1]])
        moved_uid = harness.seqset_expand(mcode[3])[0]
        exp = [u for u in untagged if re.match(rb"\* \d+ EXPUNGE$", u)]
        self.assertEqual(len(exp), 1, untagged)
        self.assertLess(untagged.index(oks[0]), untagged.index(exp[0]))
        _, u = c.ok("UID SEARCH HEADER X-Test-Token %s" % toks[1])
        self.assertEqual([x for x in u if x.startswith(b"* SEARCH")], [b"* SEARCH"])
        # The destinations agree with the answers.
        for box, want in (("Archive", {t: copied[s] for t, s in zip(toks, src)}),
                          ("Trash", {toks[1]: moved_uid})):
            _, u = c.ok("STATUS %s (UIDVALIDITY MESSAGES)" % box)
            st = imap_parse([x for x in u if x.startswith(b"* STATUS")][0])[3]
            st = dict(zip(st[::2], st[1::2]))
            if box == "Archive":
                self.assertEqual(int(st["UIDVALIDITY"]), validity)
            self.assertEqual(int(st["MESSAGES"]), len(want))
            c.ok("SELECT %s" % box)
            for t, uid in want.items():
                _, u = c.ok("UID SEARCH HEADER X-Test-Token %s" % t)
                self.assertIn(b"* SEARCH %d" % uid, u, (box, t))
                self.assertEqual(len(maildir_find(self.srv, USER["copy"], t, folder=box)), 1)
        self.assertEqual(maildir_find(self.srv, USER["copy"], toks[1]), [])
        self.assertEqual(len(maildir_find(self.srv, USER["copy"], toks[0])), 1)

    # -- EXPUNGE and new mail in a concurrent session --
    def test_expunge_and_new_mail_seen_by_concurrent_session(self):
        toks = [token() for _ in range(3)]
        for t in toks:
            harness.deliver(self.srv, USER["expunge"], make_message(t))
        a, b = self.raw("expunge"), self.raw("expunge", "imaps")
        _, ua = a.ok("SELECT INBOX")
        self.assertIn(b"* 3 EXISTS", ua)
        b.ok("SELECT INBOX")
        a.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
        _, u = a.ok("EXPUNGE")
        self.assertEqual([x for x in u if x.endswith(b"EXPUNGE")], [b"* 2 EXPUNGE"])
        self.assertEqual(maildir_find(self.srv, USER["expunge"], toks[1]), [])
        _, u = b.ok("NOOP")
        self.assertIn(b"* 2 EXPUNGE", u)
        _, u = b.ok("FETCH 1:* (UID)")
        self.assertEqual(len([x for x in u if b" FETCH " in x]), 2, u)
        # UID EXPUNGE removes only the UIDs named.
        _, u = a.ok("UID SEARCH ALL")
        uids = [int(x) for x in u[-1].split()[2:]]
        a.ok("STORE 1:2 +FLAGS.SILENT (\\Deleted)")
        _, u = a.ok("UID EXPUNGE %d" % uids[1])
        self.assertEqual([x for x in u if x.endswith(b"EXPUNGE")], [b"* 2 EXPUNGE"])
        self.assertEqual(len(maildir_find(self.srv, USER["expunge"], toks[0])), 1)
        # New mail reaches the other session.
        t4 = token()
        harness.deliver(self.srv, USER["expunge"], make_message(t4))

        def exists():
            _, u = b.ok("NOOP")
            return [x for x in u if x.endswith(b" EXISTS")]
        got = harness.wait_for(exists, what="EXISTS in the concurrent session")
        self.assertEqual(got, [b"* 2 EXISTS"])
        _, u = b.ok("UID SEARCH HEADER X-Test-Token %s" % t4)
        self.assertRegex(u[-1], rb"^\* SEARCH \d+$")

    # -- SEARCH --
    def test_search_headers_body_flags_dates(self):
        m = self.session("search")
        toks = [token() for _ in range(3)]
        body2 = base64.encodebytes(b"a hidden needle in base64\n").decode().strip()
        msgs = [
            make_message(toks[0], subject="Quarterly report alpha",
                         body="the zebra crossing\r\n",
                         extra_headers=["Date: Fri, 10 Mar 2023 12:00:00 +0000"]),
            make_message(toks[1], subject="Lunch plans", sender="bernard@lunch.test",
                         body=body2 + "\r\n",
                         extra_headers=["Date: Thu, 15 Jun 2023 12:00:00 +0000",
                                        "MIME-Version: 1.0", "Content-Type: text/plain",
                                        "Content-Transfer-Encoding: base64",
                                        "X-Padding: " + "p" * 6000]),
            make_message(toks[2], subject="=?UTF-8?Q?R=C3=A9union?= beta",
                         body="nothing to see, zebr a\r\n",
                         extra_headers=["Date: Fri, 05 Jan 2024 12:00:00 +0000"]),
        ]
        flags = ["(\\Seen)", "(\\Flagged)", None]
        dates = ['"10-Mar-2023 12:00:00 +0000"', '"15-Jun-2023 12:00:00 +0000"',
                 '"05-Jan-2024 12:00:00 +0000"']
        uids = []
        for msg, fl, dt in zip(msgs, flags, dates):
            typ, data = m.append("INBOX", fl, dt, msg)
            self.assertEqual(typ, "OK", data)
            uids.append(int(harness.response_code(data[0])[2]))
        self.select(m)
        u1, u2, u3 = uids
        cases = [
            (("SUBJECT", "report"), {u1}),
            (("FROM", "bernard@lunch"), {u2}),
            (("HEADER", "X-Test-Token", toks[0]), {u1}),
            (("HEADER", "X-Padding", '""'), {u2}),
            (("BODY", "zebra"), {u1}),
            (("BODY", "needle"), {u2}),
            (("TEXT", "alpha"), {u1}),
            (("SEEN",), {u1}),
            (("UNSEEN",), {u2, u3}),
            (("FLAGGED",), {u2}),
            (("NOT", "FLAGGED"), {u1, u3}),
            (("OR", "FLAGGED", "SEEN"), {u1, u2}),
            (("SINCE", "1-Jun-2023"), {u2, u3}),
            (("BEFORE", "1-Jun-2023"), {u1}),
            (("ON", "15-Jun-2023"), {u2}),
            (("SENTSINCE", "1-Jan-2024"), {u3}),
            (("SENTBEFORE", "1-Apr-2023"), {u1}),
            (("SENTON", "10-Mar-2023"), {u1}),
            (("LARGER", "5000"), {u2}),
            (("SMALLER", "5000"), {u1, u3}),
            (("UID", "%d:%d" % (u2, u3)), {u2, u3}),
            (("SUBJECT", "beta", "UNSEEN"), {u3}),
        ]
        for criteria, want in cases:
            got = set(self.uid_search(m, *criteria))
            self.assertEqual(got, want, "UID SEARCH %s" % " ".join(criteria))
        # Sequence numbers without UID.
        typ, data = m.search(None, "SUBJECT", "report")
        self.assertEqual((typ, data), ("OK", [b"1"]))
        # UTF-8: an encoded word decoded, case folded (a literal carries the UTF-8).
        c = self.raw("search")
        c.ok("SELECT INBOX")
        for needle in ("r\u00e9union".encode(), "R\u00c9UNION".encode()):
            c.send(b"u1 UID SEARCH CHARSET UTF-8 SUBJECT {%d}\r\n" % len(needle))
            r = c.read_response()
            self.assertTrue(r.startswith(b"+"), r)
            c.send(needle + b"\r\n")
            status, text, untagged = c.read_tagged("u1")
            self.assertEqual(status, "OK", text)
            self.assertIn(b"* SEARCH %d" % u3, untagged, needle)
        # ESEARCH (RFC 4731)
        _, u = c.ok("UID SEARCH RETURN (MIN MAX COUNT) OR SEEN FLAGGED")
        es = [x for x in u if x.startswith(b"* ESEARCH")]
        self.assertEqual(len(es), 1, u)
        v = imap_parse(es[0])[2:]
        self.assertEqual(str(v[0][0]).upper(), "TAG", es)
        self.assertEqual(str(v[1]).upper(), "UID", es)
        data = {str(k).upper(): str(x) for k, x in zip(v[2::2], v[3::2])}
        self.assertEqual(data, {"MIN": str(u1), "MAX": str(u2), "COUNT": "2"}, es)

    # -- literals before login --
    def test_oversized_literal_refused_before_login(self):
        limit = harness.IMAP_DEFAULTS["literal_before_login"]
        for tls in (False, True):
            with harness.ImapRaw(self.srv.port("imap")) as c:
                if tls:
                    c.starttls()
                c.send(b"l1 LOGIN {%d}\r\n" % (limit + 1000))
                r = c.read_response()
                self.assertFalse(r.startswith(b"+"), "an oversized literal was invited: %r" % r)
                self.assertTrue(r.startswith(b"l1 BAD"), r)
                c.ok("NOOP")
        # Within the limit, literals before login work.
        with harness.ImapRaw(self.srv.port("imap")) as c:
            c.starttls()
            user, password = USER["literal"].encode(), pw("literal").encode()
            c.send(b"l2 LOGIN {%d}\r\n" % len(user))
            self.assertTrue(c.read_response().startswith(b"+"))
            c.send(user + b" {%d}\r\n" % len(password))
            self.assertTrue(c.read_response().startswith(b"+"))
            c.send(password + b"\r\n")
            status, text, _ = c.read_tagged("l2")
            self.assertEqual(status, "OK", text)
        # A non-synchronising one too large: BAD, the literal's octets are
        # stepped over (nothing of them runs as a command) and the session
        # goes on.
        with harness.ImapRaw(self.srv.port("imap")) as c:
            c.starttls()
            junk = b"x" * (limit + 1000)
            c.send(b"l3 LOGIN {%d+}\r\n" % len(junk) + junk[:limit // 2] + b"\r\nl4 NOOP\r\n" +
                   junk[limit // 2:] + b" pw\r\n")
            r = c.read_response()
            self.assertTrue(r.startswith(b"l3 BAD"), r)
            c.send(b"l5 NOOP\r\n")
            status, text, untagged = c.read_tagged("l5")
            self.assertEqual(status, "OK", text)
            self.assertEqual(untagged, [], "literal data answered as commands")

class ConnectionLimit(harness.ServerTestCase):
    """A connection over [limits] connections_per_client is refused in the
    listener's own protocol: "* BYE [UNAVAILABLE]" on IMAP, "-ERR [SYS/TEMP]"
    on POP3, and on an implicit TLS listener nothing in plaintext: the
    connection is closed before a byte of TLS."""

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(**harness.mail_server_kwargs(
            PASSWORDS, limits={"connections_per_client": 2}))

    def test_refusal_speaks_the_protocol(self):
        for listener, word in (("imap", b"* BYE [UNAVAILABLE] "), ("imaps", None),
                               ("pop3", b"-ERR [SYS/TEMP] "), ("pop3s", None)):
            with self.subTest(listener=listener):
                self.one_refusal(listener, word)

    def one_refusal(self, listener, word):
        """Connects until the server refuses (the limit is 2; how many it
        lets in is not the question here) and checks the refusal."""
        implicit = self.srv.listener_tls(listener) == "implicit"
        greeting = b"+OK" if listener.startswith("pop3") else b"* OK"
        held = []
        try:
            for _ in range(5):
                raw = socket.create_connection(("127.0.0.1", self.srv.port(listener)),
                                               timeout=harness.TIMEOUT)
                held.append(raw)
                if implicit:
                    # A ClientHello, then the first bytes back decide: a TLS
                    # record (0x16) from an admitted connection, the end of
                    # the connection from a refused one, never plaintext.
                    first = self.after_client_hello(raw)
                    if first.startswith(b"\x16"):
                        continue
                    self.assertEqual(first, b"", "%s over the limit wrote plaintext: %r"
                                     % (listener, first))
                    return
                line = raw.recv(200)
                if line.startswith(greeting):
                    continue
                self.assertTrue(line.startswith(word), "%s over the limit: %r" % (listener, line))
                return
            self.fail("%s: 5 connections and no refusal (limit 2)" % listener)
        finally:
            for s in held:
                s.close()
            harness.wait_for(self._free, what="the held connections gone")

    @staticmethod
    def after_client_hello(raw):
        """Sends a TLS ClientHello on RAW; the first octets the server sends
        back (b"" when it closed the connection)."""
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = harness.client_context().wrap_bio(incoming, outgoing,
                                                server_hostname="127.0.0.1")
        try:
            tls.do_handshake()
        except ssl.SSLWantReadError:
            pass
        try:
            raw.sendall(outgoing.read())
            return raw.recv(200)
        except (BrokenPipeError, ConnectionResetError):
            return b""  # closed before the ClientHello arrived

    def _free(self):
        s = socket.create_connection(("127.0.0.1", self.srv.port("imap")),
                                     timeout=harness.TIMEOUT)
        try:
            return s.recv(100).startswith(b"* OK")
        finally:
            s.close()


if __name__ == "__main__":
    harness.main()
