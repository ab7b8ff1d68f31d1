#!/usr/bin/python3
"""`sealmail config show [--all]`: exactly what differs from the defaults
for a small configuration, values written as the file takes them; every
key with --all; both outputs load again (`config check`) to the same
configuration."""

import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402

CONFIG = """[server]
hostname = mx.local.test
local_domains = Local.Test, other.test
users = {dir}/users
trusted_networks = 192.0.2.0/24, 2001:db8::/32 127.0.0.1

[tls]
certificate = {cert}
key = {key}

[limits]
message_size = 10240k
command_timeout = 600

[listen mx]
address = 127.0.0.1:2525

[listen submission]
address = 127.0.0.1:2587
protocol = Submission
tls = implicit

[outbound]
tls = MAY
relayhost = relay.example.net

[outbound.domains]
Example.COM = verify match=MX.example.com testing
.example.org = encrypt

[routes]
.example.test = [2001:db8::25]:2526
partner.test = [mx.partner.test]

[queue]
retry = 60, 2h
"""

EXPECTED = """[server]
hostname = mx.local.test
local_domains = local.test other.test
users = {dir}/users
trusted_networks = 192.0.2.0/24 2001:db8::/32 127.0.0.1/32

[tls]
certificate = {cert}
key = {key}

[limits]
message_size = 10M
command_timeout = 10m

[listen mx]
address = 127.0.0.1:2525

[listen submission]
address = 127.0.0.1:2587
protocol = submission
tls = implicit

[outbound]
tls = may
relayhost = relay.example.net:25

[outbound.domains]
example.com = verify testing match=mx.example.com
.example.org = encrypt

[routes]
.example.test = [2001:db8::25]:2526
partner.test = [mx.partner.test]:25

[queue]
retry = 1m 2h
"""


def sealmail(*args, env=None):
    p = subprocess.run([harness.SEALMAIL_BIN] + list(args), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30, env=env)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


class ConfigShow(harness.unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = harness.new_tmpdir("show-")
        open(os.path.join(cls.dir, "users"), "w").close()
        cert = harness.default_cert()
        cls.fill = dict(dir=cls.dir, cert=cert.cert, key=cert.key)
        cls.conf = cls.write("sealmail.conf", CONFIG.format(**cls.fill))

    @classmethod
    def write(cls, name, text):
        path = os.path.join(cls.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def show(self, path, *more):
        rc, out, err = sealmail("config", "show", *more, "-c", path)
        self.assertEqual((rc, err), (0, ""))
        return out

    def check_loads(self, path):
        rc, out, err = sealmail("config", "check", "-c", path)
        # the last line; the certificates may be described above it
        self.assertEqual((rc, out.split("\n")[-2:]), (0, ["%s: ok" % path, ""]), err)

    def test_what_differs(self):
        self.assertEqual(self.show(self.conf), EXPECTED.format(**self.fill))

    def test_all(self):
        out = self.show(self.conf, "--all")
        self.assertEqual(out.count("\n[") + 1, 13, out)  # every section
        for line in ("dispatchers = 0", "recipients = 100", "data_timeout = 3m",
                     "helo = mx.local.test", "append_limit = 10M", "auth = required",
                     "auth = none", "port = 25", "remember_tls = 30d", "tls_report = yes",
                     "tls_report_from = tlsrpt-noreply@mx.local.test", "#aliases =",
                     "#resolver =", "#client_ca =", "max_lifetime = 5d", "idle_timeout = 30m",
                     "literal_before_login = 8k", "min_version = TLSv1.2"):
            self.assertIn("\n" + line + "\n", out)
        self.assertTrue(out.startswith("[server]\n"), out)

    def test_round_trip(self):
        """--all loads to the same configuration; so does the short form,
        which therefore loses nothing."""
        everything = self.show(self.conf, "--all")
        again = self.write("all.conf", everything)
        self.check_loads(again)
        self.assertEqual(self.show(again, "--all"), everything)
        self.assertEqual(self.show(again), self.show(self.conf))
        short = self.write("short.conf", self.show(self.conf))
        self.check_loads(short)
        self.assertEqual(self.show(short, "--all"), everything)

    def test_options(self):
        expected = EXPECTED.format(**self.fill)
        # -c before the subcommand, after it (the other tests) and from the
        # environment
        self.assertEqual(sealmail("-c", self.conf, "config", "show"), (0, expected, ""))
        env = dict(os.environ, SEALMAIL_CONFIG=self.conf)
        self.assertEqual(sealmail("config", "show", env=env), (0, expected, ""))
        rc, out, err = sealmail("help", "config", "show")
        self.assertEqual((rc, err), (0, ""))
        self.assertIn("usage: sealmail config show [--all] [-c FILE]", out)
        rc, out, err = sealmail("config", "show", "--help")
        self.assertEqual((rc, err), (0, ""))
        self.assertIn("usage: sealmail config show [--all] [-c FILE]", out)
        rc, out, err = sealmail("config", "show", "--bogus", "-c", self.conf)
        self.assertEqual((rc, out), (2, ""))
        self.assertIn("usage: sealmail config show", err)
        rc, out, err = sealmail("config", "show", "extra", "-c", self.conf)
        self.assertEqual((rc, out), (2, ""))

    def test_a_bad_file_is_not_shown(self):
        bad = self.write("bad.conf", CONFIG.format(**self.fill).replace(
            "recipients", "x").replace("command_timeout = 600", "command_timeout = soon"))
        rc, out, err = sealmail("config", "show", "-c", bad)
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("%s:13: command_timeout: 'soon' is not a duration" % bad, err)
        rc, out, err = sealmail("config", "show", "-c", os.path.join(self.dir, "missing"))
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("cannot open", err)


if __name__ == "__main__":
    harness.main()
