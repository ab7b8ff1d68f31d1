#!/usr/bin/python3
"""`sealmail config check` and refusal to start on a bad configuration: every
error is reported as FILE:LINE: key: what is wrong."""

import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402


def serve_until_exit(path):
    """Runs `sealmail serve -c PATH -f`, which must exit by itself."""
    p = subprocess.Popen([harness.SEALMAIL_BIN, "serve", "-c", path, "-f"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = p.communicate(timeout=harness.TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, 9)
        p.communicate()
        raise AssertionError("sealmail serve kept running with a bad config")
    return p.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def config_check(path):
    p = subprocess.run([harness.SEALMAIL_BIN, "config", "check", "-c", path],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


class ConfigCheck(harness.unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(harness.SEALMAIL_BIN):
            raise AssertionError("sealmail binary not found at %s" % harness.SEALMAIL_BIN)
        # A valid configuration written by the harness (not started).
        cls.srv = harness.Server(listeners={"mx": "optional", "smtps": "implicit"},
                                 limits={"message_size": "25M", "recipients": 100},
                                 start=False)
        cls.good = cls.srv.config_text

    def write(self, text, name="sealmail.conf"):
        d = harness.new_tmpdir("conf-")
        path = os.path.join(d, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def with_line_inserted(self, after_pattern, new_line):
        """GOOD config with NEW_LINE inserted after the first line matching
        AFTER_PATTERN; returns (text, 1-based line number of NEW_LINE)."""
        lines = self.good.split("\n")
        idx = next(i for i, ln in enumerate(lines) if re.match(after_pattern, ln))
        lines.insert(idx + 1, new_line)
        return "\n".join(lines), idx + 2

    def with_line_replaced(self, pattern, new_line, text=None):
        lines = (text or self.good).split("\n")
        idx = next(i for i, ln in enumerate(lines) if re.match(pattern, ln))
        lines[idx] = new_line
        return "\n".join(lines), idx + 1

    def assertError(self, stderr, path, line, key):
        rx = r"(?m)^%s:%d: %s: \S" % (re.escape(path), line, re.escape(key))
        self.assertRegex(stderr, rx, "expected an error '%s:%d: %s: ...'" % (path, line, key))

    def test_valid_config(self):
        path = self.write(self.good)
        rc, out, err = config_check(path)
        self.assertEqual(rc, 0, "valid config refused:\n%s%s\n%s" % (out, err, self.good))

    def test_unknown_key(self):
        text, line = self.with_line_inserted(r"^hostname = ", "frobnicate = yes")
        path = self.write(text)
        rc, out, err = config_check(path)
        self.assertEqual(rc, 1, err)
        self.assertError(err, path, line, "frobnicate")

    def test_unknown_key_in_listener_with_comments_and_blank_lines(self):
        text = ("; a comment\n# another comment\n\n" + self.good)
        lines = text.split("\n")
        idx = next(i for i, ln in enumerate(lines) if ln.startswith("[listen smtps]"))
        lines.insert(idx + 2, "")
        lines.insert(idx + 3, "colour = blue")
        text = "\n".join(lines)
        path = self.write(text)
        rc, out, err = config_check(path)
        self.assertEqual(rc, 1, err)
        self.assertError(err, path, idx + 4, "colour")

    def test_several_errors_all_reported(self):
        text, l1 = self.with_line_replaced(r"^tls = implicit", "tls = sometimes")
        text, l2 = self.with_line_replaced(r"^message_size = ", "message_size = lots", text)
        lines = text.split("\n")
        lines.append("bogus_key = 1")
        text = "\n".join(lines) + "\n"
        l3 = len(lines)
        path = self.write(text)
        rc, out, err = config_check(path)
        self.assertEqual(rc, 1, err)
        self.assertError(err, path, l1, "tls")
        self.assertError(err, path, l2, "message_size")
        self.assertError(err, path, l3, "bogus_key")

    def test_bad_values(self):
        cases = [
            (r"^address = ", "address = 127.0.0.1:notaport", "address"),
            (r"^address = ", "address = 127.0.0.1:70000", "address"),
            (r"^protocol = ", "protocol = gopher", "protocol"),
            (r"^recipients = ", "recipients = -5", "recipients"),
            (r"^min_version = ", "min_version = TLSv9.9", "min_version"),
            (r"^dispatchers = ", "dispatchers = many", "dispatchers"),
        ]
        for pattern, new, key in cases:
            text, line = self.with_line_replaced(pattern, new)
            path = self.write(text)
            rc, out, err = config_check(path)
            self.assertEqual(rc, 1, "%r accepted:\n%s" % (new, err))
            self.assertError(err, path, line, key)

    def test_missing_file(self):
        path = os.path.join(harness.new_tmpdir("conf-"), "absent.conf")
        rc, out, err = config_check(path)
        self.assertEqual(rc, 1)
        self.assertIn(path, err)

    def test_serve_refuses_bad_config(self):
        text, line = self.with_line_inserted(r"^users = ", "no_such_setting = 1")
        path = self.write(text)
        rc, out, err = serve_until_exit(path)
        self.assertEqual(rc, 1, err)
        self.assertError(err, path, line, "no_such_setting")
        # And it did not start listening.
        port = int(re.search(r"address = 127\.0\.0\.1:(\d+)", text).group(1))
        with self.assertRaises(OSError):
            harness.socket.create_connection(("127.0.0.1", port), timeout=2).close()

    def test_serve_refuses_missing_certificate(self):
        text, line = self.with_line_replaced(r"^certificate = ",
                                             "certificate = /nonexistent/cert.pem")
        path = self.write(text)
        rc, out, err = serve_until_exit(path)
        self.assertEqual(rc, 1, err)
        self.assertIn("/nonexistent/cert.pem", err)


if __name__ == "__main__":
    harness.main()
