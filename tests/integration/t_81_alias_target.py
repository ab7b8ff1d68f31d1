#!/usr/bin/python3
"""An alias (a catch-all too) whose target is a local address that is not a
user: the load names the aliases file, the line and the target; a lookup
logs "alias target is not a user" (never "alias loop or too deep"); the
client gets what an unknown user gets, `550 5.1.1`, as Postfix gives
`5.1.1 User unknown` for an alias to an unknown local user (README,
"Aliases whose target is not a user"); the alias's other targets still get
their copy; and once the user exists, the same alias delivers.

Addresses of this file: none (local delivery only)."""

import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import make_message, token  # noqa: E402

USERS = ("bob@local.test", "carol@local.test")
ALIASES = [
    "# line 1 is this comment",
    "@other.test: postmaster@other.test",  # 2: the catch-all's target is no user
    "info@local.test: bob@local.test, ghost@local.test",  # 3: one of two is no user
    "nobody@local.test: ghost2@local.test",  # 4: its only target is no user
    "far@local.test: someone@remote.test",  # 5: remote: not ours to judge
    "team@local.test: info@local.test, carol@local.test",  # 6: through an alias
]
NOT_A_USER = "alias target is not a user"


class AliasTarget(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(listeners={"mx": "optional"}, users=USERS,
                                   aliases=ALIASES)

    def rcpt(self, rcpt):
        with self.srv.dialog("mx") as d:
            d.ehlo()
            d.expect("MAIL FROM:<someone@sender.test>", 250)
            r = d.cmd("RCPT TO:<%s>" % rcpt)
            d.quit()
        return r

    def send(self, rcpt, tok):
        msg = make_message(tok, sender="someone@sender.test", to=rcpt)
        with self.srv.dialog("mx") as d:
            d.ehlo()
            d.mail_transaction("someone@sender.test", [rcpt], msg)
            d.quit()

    def file_warnings(self, since=0):
        return [e for e in self.srv.events("aliases-file-error", since)
                if "is not a user" in e.get("reason", "")]

    def wait_file_warnings(self, n, since=0):
        try:
            return harness.wait_for(lambda: len(self.file_warnings(since)) >= n and
                                    self.file_warnings(since), what="%d alias warnings" % n)
        except AssertionError:
            raise AssertionError("expected %d warnings about alias targets; log:\n%s"
                                 % (n, self.srv.log_tail(80)))

    def assert_no_loop_word(self):
        self.assertNotIn("alias loop or too deep", self.srv.log())

    def test_load_names_file_line_and_target(self):
        got = {e["line"]: e for e in self.wait_file_warnings(3)}
        self.assertEqual(sorted(got), ["2", "3", "4"], [e["_line"] for e in got.values()])
        for line, target, alias in (("2", "postmaster@other.test", "@other.test"),
                                    ("3", "ghost@local.test", "info@local.test"),
                                    ("4", "ghost2@local.test", "nobody@local.test")):
            e = got[line]
            self.assertIn(" level=warning ", e["_line"])
            self.assertEqual(e["file"], self.srv.aliases_path, e["_line"])
            self.assertIn("alias target <%s> of <%s> is not a user" % (target, alias),
                          e["reason"], e["_line"])
        self.assertNotIn("remote.test", "\n".join(e["_line"] for e in self.file_warnings()))

    def test_catch_all_to_no_user_is_unknown_user(self):
        mark = self.srv.log_mark()
        anyone = "anyone-%s@other.test" % token()[:8]
        r = self.rcpt(anyone)
        self.assertEqual((r.code, r.enhanced), (550, "5.1.1"), str(r))
        [ev] = self.srv.wait_event("alias-error", since=mark, address="<%s>" % anyone)
        self.assertEqual(ev.get("reason"), NOT_A_USER, ev["_line"])
        self.assertIn(" level=warning ", ev["_line"])
        self.assertEqual((ev.get("alias"), ev.get("target"), ev.get("line"), ev.get("file")),
                         ("<@other.test>", "<postmaster@other.test>", "2",
                          self.srv.aliases_path), ev["_line"])
        self.assertEqual((ev.get("skipped"), ev.get("delivered")), ("1", "0"), ev["_line"])
        self.srv.wait_event("rcpt-refused", since=mark, to=anyone, reason="unknown-user")
        self.assert_no_loop_word()

    def test_alias_to_no_user_is_unknown_user(self):
        mark = self.srv.log_mark()
        r = self.rcpt("nobody@local.test")
        self.assertEqual((r.code, r.enhanced), (550, "5.1.1"), str(r))
        [ev] = self.srv.wait_event("alias-error", since=mark, address="<nobody@local.test>")
        self.assertEqual((ev.get("reason"), ev.get("target"), ev.get("line")),
                         (NOT_A_USER, "<ghost2@local.test>", "4"), ev["_line"])
        self.assert_no_loop_word()

    def test_other_targets_still_get_their_copy(self):
        """info has bob and ghost: bob's copy arrives, ghost is named; team
        reaches ghost through info and still delivers to bob and carol."""
        for rcpt, users, alias in (("info@local.test", ["bob@local.test"], "info@local.test"),
                                   ("team@local.test", ["bob@local.test", "carol@local.test"],
                                    "info@local.test")):
            mark = self.srv.log_mark()
            tok = token()
            self.send(rcpt, tok)
            for u in users:
                harness.wait_for(lambda: [m for m in self.srv.messages(u) if tok.encode() in m],
                                 what="a copy for %s" % u)
            [ev] = self.srv.wait_event("alias-error", since=mark, address="<%s>" % rcpt)
            self.assertEqual((ev.get("alias"), ev.get("target"), ev.get("skipped"),
                              ev.get("delivered")),
                             ("<%s>" % alias, "<ghost@local.test>", "1", str(len(users))),
                             ev["_line"])
        self.assert_no_loop_word()

    def test_user_added_later_receives(self):
        """The cause named at load goes away when the user appears: the
        catch-all then delivers, and the warning for line 2 is not repeated."""
        anyone = "later-%s@other.test" % token()[:8]
        self.assertEqual(self.rcpt(anyone).code, 550)
        mark = self.srv.log_mark()
        self.srv.write_users(list(USERS) + ["postmaster@other.test"])
        self.addCleanup(self.srv.write_users, list(USERS))
        self.srv.wait_event("users-loaded", since=mark)
        harness.wait_for(lambda: self.rcpt(anyone).code == 250,
                         what="the catch-all to accept once postmaster exists")
        lines = sorted(e["line"] for e in self.wait_file_warnings(2, since=mark))
        self.assertEqual(lines, ["3", "4"], self.srv.log_tail(40))
        tok = token()
        self.send(anyone, tok)
        harness.wait_for(lambda: [m for m in self.srv.messages("postmaster@other.test")
                                  if tok.encode() in m], what="the catch-all's copy")


if __name__ == "__main__":
    harness.main()
