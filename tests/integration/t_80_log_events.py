#!/usr/bin/python3
"""The log's words (README, "Log events"): the table lists every event the
code logs, with its levels and fields, and nothing it no longer logs; every
mail address in a log line is in angle brackets and no login name is;
users-loaded and aliases-loaded give counts; reloaded says what changed.

Addresses of this file: none (local delivery only)."""

import os
import re
import sys
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import make_message, token  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
LEVELS = {"log_info": "info", "log_warn": "warning", "log_error": "error", "fatal": "fatal"}
CALL_RE = re.compile(r"\b(log_info|log_warn|log_error|fatal)\s*\(")
STRING_RE = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
EVENT_RE = re.compile(r"event=([a-z0-9-]+)")
FIELD_RE = re.compile(r"(?:^|\s)([a-z_]+)=")
COMMENT_RE = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)


def call_text(src, start):
    """The arguments of the call whose '(' ends at START, up to its ')'."""
    depth, i = 1, start
    while depth:
        c = src[i]
        if c == '"':
            m = STRING_RE.match(src, i)
            i = m.end()
            continue
        depth += {"(": 1, ")": -1}.get(c, 0)
        i += 1
    return src[start:i - 1]


def code_events():
    """{event: ({levels}, {fields}, {files})} from every log call in src/,
    and the events named anywhere else in src/ outside comments (which no
    log call carries literally: those fail the test too)."""
    events, loose = {}, {}
    for folder, _, files in os.walk(os.path.join(ROOT, "src")):
        for name in sorted(files):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, ROOT)
            with open(path, encoding="utf-8") as f:
                src = COMMENT_RE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), f.read())
            for m in CALL_RE.finditer(src):
                args = call_text(src, m.end())
                # a format may be a choice between literals: each one that
                # names an event starts a format of its own
                formats = []
                for lit in STRING_RE.findall(args):
                    if "event=" in lit or not formats:
                        formats.append(lit)
                    else:
                        formats[-1] += lit
                for fmt in formats:
                    ev = EVENT_RE.search(fmt)
                    if ev is None:
                        continue
                    levels, fields, where = events.setdefault(ev.group(1), (set(), set(), set()))
                    levels.add(LEVELS[m.group(1)])
                    fields.update(FIELD_RE.findall(fmt[ev.end():]))
                    where.add(rel)
            for ev in EVENT_RE.finditer(src):
                loose.setdefault(ev.group(1), set()).add(rel)
    return events, {k: v for k, v in loose.items() if k not in events}


def readme_events():
    """{event: ({levels}, {fields})} from the README's "Log events" table."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"^## Log events\n(.*?)(?=^## )", text, re.S | re.M)
    if m is None:
        raise AssertionError("README.md has no \"## Log events\" section")
    rows = {}
    for line in m.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not cells[0].startswith("`"):
            continue
        name = cells[0].strip("`")
        if name in rows:
            raise AssertionError("README lists event %s twice" % name)
        rows[name] = (set(re.findall(r"`([a-z]+)`", cells[1])),
                      set(re.findall(r"`([a-z_]+)`", cells[2])))
    return rows


def readme_row(name, levels, fields):
    return "| `%s` | %s | %s | ... |" % (name, ", ".join("`%s`" % x for x in sorted(levels)),
                                         " ".join("`%s`" % x for x in sorted(fields))
                                         or "(none)")


class EventList(unittest.TestCase):
    """No server: the code against the README."""

    def test_readme_lists_every_event(self):
        code, loose = code_events()
        readme = readme_events()
        self.assertGreater(len(code), 80, "the log calls of src/ were not found")
        problems = []
        for name in sorted(set(code) - set(readme)):
            problems.append("logged by %s, missing from README \"Log events\"; add:\n  %s"
                            % (", ".join(sorted(code[name][2])),
                               readme_row(name, code[name][0], code[name][1])))
        for name in sorted(set(readme) - set(code)):
            problems.append("README \"Log events\" lists %s, which src/ no longer logs" % name)
        for name in sorted(set(code) & set(readme)):
            (levels, fields, where), (rlevels, rfields) = code[name], readme[name]
            if levels != rlevels or fields != rfields:
                problems.append("%s: the code logs it as\n  %s\nthe README says\n  %s"
                                % (name, readme_row(name, levels, fields),
                                   readme_row(name, rlevels, rfields)))
        for name in sorted(loose):
            problems.append("event=%s appears in %s but in no log call this test can read "
                            "(write the event's name literally in the format)"
                            % (name, ", ".join(sorted(loose[name]))))
        self.assertEqual(problems, [], "\n".join(problems))


# Fields whose value is a mail address; (event, field) pairs where the same
# name means something else.
ADDRESS_FIELDS = ("from", "to", "alias", "target", "address")
NOT_ADDRESSES = {("listening", "address"), ("listen-error", "address")}
LOGIN_FIELDS = ("user", "identity")
ONE_ADDRESS = re.compile(r"^<[^<>]*>$")
ADDRESS_LIST = re.compile(r"^<[^<>]*>(,<[^<>]*>)*$")

USERS = ("bob@local.test", "carol@local.test", "dave@other.test")
ALIASES = ["list@local.test: bob@local.test, carol@local.test",
           "@other.test: dave@other.test",
           "ghost@local.test: nobody@local.test"]


class LogWords(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.srv = cls.class_server(listeners={"mx": "optional"}, users=USERS, aliases=ALIASES,
                                   server_options={"trusted_networks": "192.0.2.0/24"})

    def send(self, sender, rcpts, tok):
        msg = make_message(tok, sender=sender or "x@sender.test", to=rcpts[0])
        with self.srv.dialog("mx") as d:
            d.ehlo()
            d.mail_transaction(sender, rcpts, msg)
            d.quit()

    def refused(self, rcpt):
        with self.srv.dialog("mx") as d:
            d.ehlo()
            d.expect("MAIL FROM:<x@sender.test>", 250)
            r = d.cmd("RCPT TO:<%s>" % rcpt)
            d.quit()
        self.assertGreaterEqual(r.code, 500, str(r))

    def test_addresses_are_bracketed_and_logins_are_not(self):
        mark = self.srv.log_mark()
        tok = token()
        self.send("alice@sender.test", ["bob@local.test", "list@local.test"], tok)
        self.send("", ["someone@other.test"], token())  # the null sender, a catch-all
        self.refused("nobody-%s@local.test" % token()[:6])  # unknown user
        self.refused("far@remote.test")  # relaying
        self.refused("ghost@local.test")  # an alias to no user
        harness.wait_for(lambda: [m for m in self.srv.messages("carol@local.test")
                                  if tok.encode() in m], what="carol's copy")
        for event, n in (("queued", 2), ("delivered", 3), ("rcpt-refused", 3),
                         ("alias-expanded", 2), ("alias-error", 1)):
            harness.wait_for(lambda: len(self.srv.events(event, mark)) >= n,
                             what="%d %s events" % (n, event))
        [null] = [e for e in self.srv.events("queued", mark) if e["from"] == "<>"]
        seen, problems = 0, []
        for line in self.srv.log().splitlines():
            kv = harness.parse_kv(line)
            event = kv.get("event")
            for field in ADDRESS_FIELDS:
                if field not in kv or (event, field) in NOT_ADDRESSES:
                    continue
                seen += 1
                rx = ADDRESS_LIST if (event, field) == ("alias-expanded", "to") else ONE_ADDRESS
                if not rx.match(kv[field]):
                    problems.append("%s= not <bracketed>: %s" % (field, line))
            for field in LOGIN_FIELDS:
                if kv.get(field, "").startswith("<"):
                    problems.append("%s= is a login name, not an address: %s" % (field, line))
        self.assertEqual(problems, [], "\n".join(problems))
        self.assertGreater(seen, 12, self.srv.log_tail(40))

    def test_loaded_lines_give_counts(self):
        [users] = self.srv.wait_event("users-loaded")
        self.assertEqual((users.get("users"), users.get("domains")), ("3", "2"), users["_line"])
        [aliases] = self.srv.wait_event("aliases-loaded")
        self.assertEqual((aliases.get("aliases"), aliases.get("catch_alls")), ("2", "1"),
                         aliases["_line"])

    def reload(self, srv):
        mark = srv.log_mark()
        srv.reload()
        [ev] = srv.wait_event("reloaded", since=mark)
        return ev

    def test_reloaded_says_what_changed(self):
        srv = self.server_for(listeners={"mx": "optional"}, users=USERS[:1],
                              aliases=ALIASES[:1])
        ev = self.reload(srv)
        self.assertEqual(ev.get("changed"), "unchanged", ev["_line"])
        srv.write_users(list(USERS[:2]))
        srv.write_aliases(ALIASES[:2])
        with open(srv.conf, "a") as f:
            f.write("# a comment is a change of the file\n")
        ev2 = self.reload(srv)
        self.assertEqual(ev2.get("changed"), "config,users,aliases", ev2["_line"])
        self.assertEqual(int(ev2["generation"]), int(ev["generation"]) + 1, ev2["_line"])
        srv.install_cert(harness.issue_cert([harness.HOSTNAME], ips=["127.0.0.1"]))
        ev3 = self.reload(srv)
        self.assertEqual(ev3.get("changed"), "certificates", ev3["_line"])
        ev4 = self.reload(srv)
        self.assertEqual(ev4.get("changed"), "unchanged", ev4["_line"])


if __name__ == "__main__":
    harness.main()
