#!/usr/bin/python3
"""Real mail clients against the IMAP and POP3 listeners, each verifying the
server certificate against the test CA: curl (imap:// --ssl-reqd, imaps://,
pop3:// --ssl-reqd, pop3s://), fetchmail (POP3 with STLS, IMAPS, POP3S;
into an MDA that writes files; byte for byte the Maildir files), mbsync
(isync: server to a local Maildir and back, both directions byte for byte,
flags both ways) and mutt in batch mode on a pseudo-terminal reading a folder
over IMAPS and piping a message to a file. A missing tool fails naming its
Debian package.

No address of its own: everything here is on 127.0.0.1."""

import os
import re
import shlex
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import crlf, make_message, maildir_find, maildir_flags, token  # noqa: E402

PW = "cli-Pw-%s" % token()[:8]
NAMES = ("curl", "fetchpop", "fetchimap", "fetchpops", "sync", "mutt")
USER = {n: "%s@local.test" % n for n in NAMES}
PASSWORDS = {USER[n]: PW + n for n in NAMES}
TOOL_TIMEOUT = 120

MDA = """import os, sys, uuid
data = sys.stdin.buffer.read()
with open(os.path.join(sys.argv[1], uuid.uuid4().hex + ".eml"), "wb") as f:
    f.write(data)
"""


def body_message(tok, i=0):
    body = (b"line one\r\n.starts with a dot\r\n.\r\nutf-8 \xc3\xa9\r\nmessage %d token " % i +
            tok.encode() + b"\r\n")
    return make_message(tok, body=body)


class MailClients(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(**harness.mail_server_kwargs(PASSWORDS))

    # -- helpers --
    def tool(self, argv, env=None, timeout=TOOL_TIMEOUT, ok=True, input=None):
        e = dict(os.environ)
        e.update(env or {})
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL if input is None else None, input=input,
                           timeout=timeout, env=e)
        if ok and p.returncode != 0:
            self.fail("%s exited %d\nstdout:\n%s\nstderr:\n%s\nserver log:\n%s" % (
                " ".join(shlex.quote(a) for a in argv), p.returncode,
                p.stdout.decode(errors="replace")[-3000:],
                p.stderr.decode(errors="replace")[-3000:], self.srv.log_tail(30)))
        return p

    def stored(self, name, tok, folder="INBOX"):
        found = maildir_find(self.srv, USER[name], tok, folder=folder)
        self.assertEqual(len(found), 1, "%s in %s: %r" % (tok, folder, found))
        with open(found[0], "rb") as f:
            return found[0], f.read()

    def fill(self, name, n):
        toks = [token() for _ in range(n)]
        for i, t in enumerate(toks):
            harness.deliver(self.srv, USER[name], body_message(t, i))
        return toks

    def imap(self, name, box="INBOX"):
        m = harness.imap_connect(self.srv, "imaps", USER[name], PASSWORDS[USER[name]])
        self.addCleanup(lambda: m.logout())
        typ, data = m.select(box)
        self.assertEqual(typ, "OK", data)
        return m

    def uid_of(self, m, tok):
        typ, data = m.uid("SEARCH", "HEADER", "X-Test-Token", tok)
        self.assertEqual(typ, "OK", data)
        uids = data[0].split()
        self.assertEqual(len(uids), 1, (tok, data))
        return int(uids[0])

    # -- curl --
    def test_curl_imap_and_pop3(self):
        curl = harness.need_tool("curl", "curl")
        toks = self.fill("curl", 2)
        user = "%s:%s" % (USER["curl"], PASSWORDS[USER["curl"]])
        base = [curl, "-sS", "--cacert", harness.ca().cert, "-u", user, "--max-time", "60"]
        m = self.imap("curl")
        for tok in toks:
            _, data = self.stored("curl", tok)
            uid = self.uid_of(m, tok)
            for url, extra in (("imap://127.0.0.1:%d/INBOX;UID=%d" % (self.srv.port("imap"), uid),
                                ["--ssl-reqd"]),
                               ("imaps://127.0.0.1:%d/INBOX;UID=%d" % (self.srv.port("imaps"), uid),
                                [])):
                out = self.tool(base + extra + [url]).stdout
                self.assertEqual(out, crlf(data), "curl %s" % url)
            # A search through the URL's query.
            out = self.tool(base + ["imaps://127.0.0.1:%d/INBOX?HEADER%%20X-Test-Token%%20%s"
                                    % (self.srv.port("imaps"), tok)]).stdout
            self.assertEqual(out.strip(), b"* SEARCH %d" % uid)
        # POP3: LIST, then RETR of each message (curl undoes the dot-stuffing).
        for url_base, extra in (("pop3://127.0.0.1:%d/" % self.srv.port("pop3"), ["--ssl-reqd"]),
                                ("pop3s://127.0.0.1:%d/" % self.srv.port("pop3s"), [])):
            listing = self.tool(base + extra + [url_base]).stdout
            lines = [ln.split() for ln in listing.splitlines() if ln.strip()]
            self.assertEqual(len(lines), 2, listing)
            got = set()
            for num, size in lines:
                out = self.tool(base + extra + [url_base + num.decode()]).stdout
                self.assertEqual(len(out), int(size), "RETR %s size" % num)
                got.add(out)
            want = {crlf(self.stored("curl", t)[1]) for t in toks}
            self.assertEqual(got, want, "curl %s RETR" % url_base)

    # -- fetchmail --
    def fetchmail(self, name, protocol, listener, keep):
        fm = harness.need_tool("fetchmail", "fetchmail")
        home = harness.new_tmpdir("fetchmail-")
        out = os.path.join(home, "out")
        os.mkdir(out)
        mda = os.path.join(home, "mda.py")
        with open(mda, "w") as f:
            f.write(MDA)
        implicit = self.srv.listener_tls(listener) == "implicit"
        rc = os.path.join(home, "fetchmailrc")
        with open(rc, "w") as f:
            f.write("set no syslog\nset invisible\nset no bouncemail\n"
                    "poll %s via 127.0.0.1 protocol %s port %d\n"
                    "  user \"%s\" there with password \"%s\"\n"
                    "  %s sslcertck sslcertfile \"%s\" sslcommonname \"%s\"\n"
                    "  mda \"/usr/bin/python3 %s %s\"\n"
                    "  no rewrite fetchall %s\n"
                    % (harness.HOSTNAME, protocol, self.srv.port(listener), USER[name],
                       PASSWORDS[USER[name]], "ssl" if implicit else "sslproto 'TLS1.2+'",
                       harness.ca().cert, harness.HOSTNAME, mda, out,
                       "keep" if keep else "no keep"))
        os.chmod(rc, 0o600)
        self.tool([fm, "-f", rc, "-i", os.path.join(home, "fetchids"), "--pidfile",
                   os.path.join(home, "fetchmail.pid"), "-v", "--nodetach"],
                  env={"HOME": home, "FETCHMAILHOME": home})
        got = []
        for n in sorted(os.listdir(out)):
            with open(os.path.join(out, n), "rb") as f:
                got.append(f.read())
        return got

    def check_fetchmail(self, name, protocol, listener, keep):
        toks = self.fill(name, 2)
        want = {self.stored(name, t)[1] for t in toks}
        got = self.fetchmail(name, protocol, listener, keep)
        self.assertEqual(len(got), 2, "fetchmail delivered %d messages" % len(got))
        self.assertEqual(set(got), want, "fetchmail %s: not the Maildir files" % protocol)
        left = [maildir_find(self.srv, USER[name], t) for t in toks]
        if keep:
            self.assertTrue(all(len(x) == 1 for x in left), left)
        else:
            self.assertEqual(left, [[], []], "fetchmail did not delete")

    def test_fetchmail_pop3_stls_deletes(self):
        self.check_fetchmail("fetchpop", "POP3", "pop3", keep=False)

    def test_fetchmail_pop3s_keeps(self):
        self.check_fetchmail("fetchpops", "POP3", "pop3s", keep=True)

    def test_fetchmail_imaps(self):
        self.check_fetchmail("fetchimap", "IMAP", "imaps", keep=True)
        # fetchmail marks what it fetched \Seen.
        for path in harness.maildir_find(self.srv, USER["fetchimap"], b"X-Test-Token"):
            self.assertIn("S", maildir_flags(path) or "", path)

    # -- mbsync --
    def test_mbsync_both_ways(self):
        mbsync = harness.need_tool("mbsync", "isync")
        toks = self.fill("sync", 2)
        m = self.imap("sync")
        typ, data = m.uid("STORE", str(self.uid_of(m, toks[0])), "+FLAGS", "(\\Flagged \\Seen)")
        self.assertEqual(typ, "OK", data)
        home = harness.new_tmpdir("mbsync-")
        local = os.path.join(home, "mail")
        os.mkdir(local)
        rc = os.path.join(home, "mbsyncrc")
        # mbsync matches only DNS names, never an IP address, against the
        # certificate: it is given the server's own certificate (a "host"
        # certificate in its terms, trusted when it is exactly the one the
        # server presents) besides the CA.
        certs = self.srv.cert.cert
        for listener, ssltype in (("imaps", "IMAPS"), ("imap", "STARTTLS")):
            with open(rc, "w") as f:
                f.write("IMAPAccount sm\nHost 127.0.0.1\nPort %d\nUser %s\nPass %s\n"
                        "SSLType %s\nCertificateFile %s\n\n"
                        "IMAPStore sm-far\nAccount sm\n\n"
                        "MaildirStore sm-near\nPath %s/\nInbox %s/INBOX\nSubFolders Verbatim\n\n"
                        "Channel sm\nFar :sm-far:\nNear :sm-near:\nPatterns INBOX Archive\n"
                        "Create Both\nExpunge Both\nSyncState *\nSync All\n"
                        % (self.srv.port(listener), USER["sync"], PASSWORDS[USER["sync"]],
                           ssltype, certs, local, local))
            self.tool([mbsync, "-c", rc, "-a"], env={"HOME": home})

            def local_files(box="INBOX"):
                d = os.path.join(local, box)
                out = {}
                for sub in ("new", "cur"):
                    for n in os.listdir(os.path.join(d, sub)):
                        with open(os.path.join(d, sub, n), "rb") as f:
                            out[os.path.join(d, sub, n)] = f.read()
                return out
            files = local_files()
            if listener == "imaps":
                # Server -> local: the bytes, and the flags in the names.
                self.assertEqual(len(files), 2, files.keys())
                for tok in toks:
                    _, data = self.stored("sync", tok)
                    [(path, got)] = [(p, d) for p, d in files.items() if tok.encode() in d]
                    # mbsync marks the copies it writes with an X-TUID header
                    # of its own (its way to find them again).
                    self.assertEqual(re.sub(rb"\nX-TUID: \S+\n", b"\n", got), data,
                                     "mbsync copy of %s" % tok)
                    self.assertEqual(maildir_flags(path) or "",
                                     "FS" if tok == toks[0] else "", path)
                # Local -> server: a new message in INBOX and one in Archive, a
                # flag set locally.
                t_new, t_arch = token(), token()
                for tok, box in ((t_new, "INBOX"), (t_arch, "Archive")):
                    d = os.path.join(local, box)
                    for sub in ("new", "cur", "tmp"):
                        os.makedirs(os.path.join(d, sub), exist_ok=True)
                    name = "%d.M1P%d.client%s" % (time.time(), os.getpid(), tok[:6])
                    with open(os.path.join(d, "tmp", name), "wb") as f:
                        f.write(body_message(tok).replace(b"\r\n", b"\n"))
                    os.rename(os.path.join(d, "tmp", name), os.path.join(d, "cur", name + ":2,S"))
                [p2] = [p for p, d in files.items() if toks[1].encode() in d]
                base = p2.rsplit(":2,", 1)[0] if ":2," in p2 else p2
                os.rename(p2, base + ":2,RS")
        # After the second run (STARTTLS): what the client made is on the server.
        for tok, box in ((t_new, "INBOX"), (t_arch, "Archive")):
            path, data = self.stored("sync", tok, folder=box)
            self.assertEqual(re.sub(rb"\nX-TUID: \S+\n", b"\n", data),
                             body_message(tok).replace(b"\r\n", b"\n"),
                             "the message mbsync uploaded to %s" % box)
            mm = self.imap("sync", box)
            uid = self.uid_of(mm, tok)
            [it] = harness.imaplib_fetch(mm, str(uid), "(FLAGS BODY.PEEK[])").values()
            self.assertEqual(it["BODY[]"], crlf(data))
            self.assertIn("\\Seen", it["FLAGS"])
        m = self.imap("sync")
        [it] = harness.imaplib_fetch(m, str(self.uid_of(m, toks[1])), "(FLAGS)").values()
        self.assertEqual(set(it["FLAGS"]) - {"\\Recent"}, {"\\Seen", "\\Answered"})
        path, _ = self.stored("sync", toks[1])
        self.assertEqual(maildir_flags(path), "RS")

    # -- mutt --
    def test_mutt_reads_over_imaps(self):
        mutt = harness.need_tool("mutt", "mutt")
        script = harness.need_tool("script", "util-linux")
        toks = self.fill("mutt", 2)
        home = harness.new_tmpdir("mutt-")
        out = os.path.join(home, "piped.eml")
        rc = os.path.join(home, "muttrc")
        with open(rc, "w") as f:
            f.write('set ssl_ca_certificates_file="%s"\nset ssl_force_tls=yes\n'
                    'set ssl_verify_host=yes\nset certificate_file="%s/certs"\n'
                    'set imap_user="%s"\nset imap_pass="%s"\n'
                    'set folder="imaps://127.0.0.1:%d/"\nset spoolfile="+INBOX"\n'
                    'set header_cache=""\nset message_cachedir=""\nset mail_check=60\n'
                    'set pipe_decode=no\nset wait_key=no\nset quit=yes\nset move=no\n'
                    'set mark_old=no\nset record=""\nset confirmappend=no\n'
                    'set sort=date-sent\nset index_format="%%s"\n'
                    % (harness.ca().cert, home, USER["mutt"], PASSWORDS[USER["mutt"]],
                       self.srv.port("imaps")))
        keys = '<limit>~h X-Test-Token:.%s<enter><pipe-message>cat > %s<enter><quit>' % (
            toks[1], out)
        # mutt needs a terminal: script(1) gives it one.
        cmd = "%s -n -F %s -e %s" % (mutt, shlex.quote(rc),
                                     shlex.quote('push "%s"' % keys.replace('"', '\\"')))
        self.tool([script, "-qec", cmd, "/dev/null"],
                  env={"HOME": home, "TERM": "xterm"}, timeout=TOOL_TIMEOUT)
        self.assertTrue(os.path.exists(out), "mutt piped nothing (log:\n%s)" % self.srv.log_tail())
        with open(out, "rb") as f:
            piped = f.read()
        _, data = self.stored("mutt", toks[1])
        self.assertEqual(piped, data, "the message mutt piped is not the Maildir file")


if __name__ == "__main__":
    harness.main()
