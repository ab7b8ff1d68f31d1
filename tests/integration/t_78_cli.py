#!/usr/bin/python3
"""The sealmail command line, as src/main.c's command table answers it:

  * `sealmail --help`, `-h` and `help` print the general usage (every
    subcommand named) on stdout and exit 0; `--version` prints
    `sealmail VERSION` (the project's version in CMakeLists.txt).
  * Every subcommand (each queue, user, policy and tls-report verb too)
    answers `--help` and `-h` with its own usage on stdout, exit 0, and
    nothing on stderr; a word it does not know after the subcommand word
    lists that subcommand's verbs.
  * An unknown option is a usage error: the subcommand's usage on stderr,
    nothing on stdout, exit 2; so are an unknown subcommand and an unknown
    global option, and a queue verb given too few or too many words (a
    missing ID).
  * The configuration is named the same way for every subcommand that
    reads one: `sealmail -c FILE SUBCOMMAND`, `SUBCOMMAND ... -c FILE`, and
    $SEALMAIL_CONFIG each reach it (seen in the error that names a file
    which does not exist, a distinctive path per case), with -c after the
    subcommand over -c before it over the environment. Against a running
    server, `sealmail -c FILE queue list` and SEALMAIL_CONFIG reach its
    control socket.
"""

import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

# Every subcommand's words, as its usage line starts after "sealmail ".
SUBCOMMANDS = [
    ["serve"], ["config", "check"],
    ["queue", "list"], ["queue", "mailq"], ["queue", "show"], ["queue", "flush"],
    ["queue", "hold"], ["queue", "release"], ["queue", "delete"],
    ["policy", "forget"], ["policy", "explain"],
    ["tls-check"], ["tls-report", "show"], ["tls-report", "send"],
    ["user", "add"], ["user", "passwd"], ["user", "del"], ["user", "list"],
    ["send"], ["dns-records"], ["init"],
]
# First words with several verbs: `NAME --help` lists them all.
GROUPS = {"queue": ["list", "mailq", "show", "flush", "hold", "release", "delete"],
          "policy": ["forget", "explain"], "tls-report": ["show", "send"],
          "user": ["add", "passwd", "del", "list"], "config": ["check"]}

# Each subcommand that reads the configuration, with the arguments that get
# it that far (the file named does not exist: the error says its path).
READS_CONFIG = [
    ["serve", "-f"], ["config", "check"],
    ["queue", "list"], ["queue", "mailq"], ["queue", "show", "X1"], ["queue", "flush"],
    ["queue", "hold", "X1"], ["queue", "release", "X1", "--tls-override"],
    ["queue", "delete", "X1"],
    ["policy", "forget", "example.org"], ["policy", "explain", "example.org", "--offline"],
    ["tls-check", "--self"], ["tls-check", "example.org"],
    ["tls-report", "show"], ["tls-report", "send", "--today"],
    ["user", "add", "new@local.test", "--stdin"], ["user", "passwd", "bob@local.test",
                                                  "--stdin"],
    ["user", "del", "bob@local.test"], ["user", "list"],
    ["send", "bob@local.test"], ["dns-records", "local.test"],
]


def project_version():
    with open(os.path.join(HERE, "..", "..", "CMakeLists.txt")) as f:
        m = re.search(r"^project\(sealmail VERSION (\d+\.\d+\.\d+)", f.read(), re.M)
    if not m:
        raise AssertionError("no project(sealmail VERSION x.y.z) in CMakeLists.txt")
    return m.group(1)


def sealmail(args, env_config=None, stdin=b""):
    """Runs sealmail ARGS; SEALMAIL_CONFIG is ENV_CONFIG or unset."""
    env = dict(os.environ)
    env.pop("SEALMAIL_CONFIG", None)
    if env_config is not None:
        env["SEALMAIL_CONFIG"] = env_config
    p = subprocess.run([harness.SEALMAIL_BIN] + args, input=stdin, capture_output=True,
                       env=env, timeout=60)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


class Help(harness.unittest.TestCase):

    def test_general_help(self):
        for args in (["--help"], ["-h"], ["help"]):
            rc, out, err = sealmail(args)
            self.assertEqual((rc, err), (0, ""), args)
            self.assertTrue(out.startswith("usage: sealmail [-c FILE] SUBCOMMAND"), out)
            for words in SUBCOMMANDS:
                self.assertRegex(out, r"(?m)^ +sealmail %s( |$)" % re.escape(" ".join(words)),
                                 "%s: %s not listed" % (args, words))
            self.assertIn("SEALMAIL_CONFIG", out)

    def test_version(self):
        rc, out, err = sealmail(["--version"])
        self.assertEqual((rc, out, err), (0, "sealmail %s\n" % project_version(), ""))

    def test_every_subcommand_help(self):
        for words in SUBCOMMANDS:
            for flag in ("--help", "-h"):
                rc, out, err = sealmail(words + [flag])
                self.assertEqual((rc, err), (0, ""), words + [flag])
                self.assertRegex(out, r"^usage: sealmail %s( |\n)" % re.escape(" ".join(words)),
                                 words + [flag])
                # its own usage, not the general one
                self.assertNotIn("sealmail [-c FILE] SUBCOMMAND", out, words + [flag])
            # help NAME SUB says the same
            self.assertEqual(sealmail(["help"] + words)[1], sealmail(words + ["--help"])[1])

    def test_help_after_other_options(self):
        rc, out, err = sealmail(["serve", "-f", "--help"])
        self.assertEqual((rc, err), (0, ""))
        self.assertTrue(out.startswith("usage: sealmail serve "), out)
        rc, out, err = sealmail(["queue", "show", "X1", "-c", "/nonexistent", "--help"])
        self.assertEqual((rc, err), (0, ""))
        self.assertTrue(out.startswith("usage: sealmail queue show "), out)

    def test_group_help_lists_every_verb(self):
        for name, verbs in GROUPS.items():
            rc, out, err = sealmail([name, "--help"])
            self.assertEqual((rc, err), (0, ""), name)
            for verb in verbs:
                self.assertRegex(out, r"(?m)^(usage:| +) sealmail %s %s( |$)" % (name, verb),
                                 name)


class UsageErrors(harness.unittest.TestCase):

    def test_unknown_option_of_each_subcommand(self):
        for words in SUBCOMMANDS:
            rc, out, err = sealmail(words + ["--no-such-option"])
            self.assertEqual((rc, out), (2, ""), "%s: %s" % (words, err))
            self.assertIn("usage: sealmail %s" % words[0], err, words)

    def test_queue_verbs_count_their_words(self):
        # a missing ID is a usage error before any server is asked (the
        # configuration does not even exist), not "unknown request"
        cases = (["show"], ["hold"], ["release"], ["delete"], ["show", "A1", "A2"],
                 ["list", "A1"], ["mailq", "A1"], ["flush", "A1", "A2"],
                 ["hold", "A1", "--tls-override"])
        for words in cases:
            rc, out, err = sealmail(["queue"] + words + ["-c", "/nonexistent/q.conf"])
            self.assertEqual((rc, out), (2, ""), "%s: %s" % (words, err))
            self.assertTrue(err.startswith("usage: sealmail queue %s " % words[0]),
                            "%s: %s" % (words, err))
        for words in (["list"], ["flush"], ["flush", "A1"], ["show", "A1"],
                      ["release", "A1", "--tls-override"]):
            rc, out, err = sealmail(["queue"] + words + ["-c", "/nonexistent/q.conf"])
            self.assertEqual(rc, 1, "%s: %s" % (words, err))
            self.assertIn("/nonexistent/q.conf", err, words)

    def test_unknown_verb_lists_the_verbs(self):
        for name, verbs in GROUPS.items():
            for args in ([name], [name, "frobnicate"]):
                rc, out, err = sealmail(args)
                self.assertEqual((rc, out), (2, ""), args)
                for verb in verbs:
                    self.assertIn("sealmail %s %s" % (name, verb), err, args)

    def test_unknown_subcommand_and_global_option(self):
        for args in (["frobnicate"], [], ["--frobnicate", "serve"], ["-c"]):
            rc, out, err = sealmail(args)
            self.assertEqual((rc, out), (2, ""), args)
            self.assertIn("usage: sealmail [-c FILE] SUBCOMMAND", err, args)

    def test_serve_names_the_option(self):
        rc, out, err = sealmail(["serve", "--no-such-option"])
        self.assertEqual(rc, 2)
        self.assertTrue(err.startswith("sealmail: serve: unknown option '--no-such-option'\n"),
                        err)


class ConfigPath(harness.unittest.TestCase):
    """-c before, -c after, SEALMAIL_CONFIG: the same file, for everyone."""

    @classmethod
    def setUpClass(cls):
        cls.dir = harness.new_tmpdir("cli-")

    def path(self, how, words):
        return os.path.join(self.dir, "%s-%s.conf" % (how, "-".join(words)))

    def assertReached(self, result, path, what):
        rc, out, err = result
        self.assertEqual(rc, 1, "%s: %s%s" % (what, out, err))
        self.assertIn("%s: cannot open: No such file or directory" % path, err, what)

    def test_each_way_reaches_every_subcommand(self):
        for args in READS_CONFIG:
            n = 1 + (len(args) > 1 and not args[1].startswith("-"))
            before, after, env = (self.path(h, args[:n]) for h in ("before", "after", "env"))
            self.assertReached(sealmail(["-c", before] + args), before, "-c before %s" % args)
            self.assertReached(sealmail(["-c" + before] + args), before, "-cFILE %s" % args)
            self.assertReached(sealmail(args + ["-c", after]), after, "-c after %s" % args)
            self.assertReached(sealmail(args, env_config=env), env, "env %s" % args)

    def test_precedence(self):
        before, after, env = (self.path(h, ["order"]) for h in ("before", "after", "env"))
        for args in (["queue", "list"], ["user", "list"], ["send", "bob@local.test"],
                     ["config", "check"]):
            self.assertReached(sealmail(["-c", before] + args + ["-c", after], env_config=env),
                               after, "after wins: %s" % args)
            self.assertReached(sealmail(["-c", before] + args, env_config=env), before,
                               "before over env: %s" % args)


class RunningServer(harness.ServerTestCase):

    def test_global_c_and_env_reach_the_control_socket(self):
        srv = self.server_for()
        for args, env in ((["-c", srv.conf, "queue", "list"], None),
                          (["queue", "list", "-c", srv.conf], None),
                          (["queue", "list"], srv.conf)):
            rc, out, err = sealmail(args, env_config=env)
            self.assertEqual((rc, err), (0, ""), "%s: %s" % (args, err))


if __name__ == "__main__":
    harness.main()
