#!/usr/bin/python3
"""The manual pages and the example configuration: both roff linters
(groff through man-db, and mandoc) are silent on each page; every key that
`sealmail config show --all` prints is documented in sealmail.conf(5) and
in etc/sealmail.conf.example, in its section; every subcommand of the usage
text is in sealmail(8); the example loads once the lines a server needs are
uncommented, and with every line uncommented."""

import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402

SOURCE_DIR = os.path.normpath(os.path.join(harness.HERE, "..", ".."))
MAN_DIR = os.path.join(SOURCE_DIR, "man")
PAGES = ("sealmail.8", "sealmail.conf.5", "sendmail.8")
EXAMPLE = os.path.join(SOURCE_DIR, "etc", "sealmail.conf.example")


def sealmail(*args, env=None):
    p = subprocess.run([harness.SEALMAIL_BIN] + list(args), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30, env=env)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def generic_section(title):
    """"listen mx" -> "listen NAME", "tls mail.x" -> "tls NAME"."""
    word, _, name = title.partition(" ")
    return word + " NAME" if name else word


DOMAIN_SECTIONS = ("outbound.domains", "routes")  # their keys are domains


def parse_ini_keys(text, commented_headers):
    """{(generic section, key)} of TEXT: "key = value" and "#key =" lines
    (keys of the sections whose keys are domains left out). With
    COMMENTED_HEADERS, "#[section]" opens a section too (the example's
    listeners)."""
    keys, section = set(), None
    header = r"^#?\[([^\]]+)\]\s*$" if commented_headers else r"^\[([^\]]+)\]\s*$"
    for line in text.split("\n"):
        m = re.match(header, line)
        if m:
            section = generic_section(m.group(1).strip())
            continue
        m = re.match(r"^#?([a-z_]+) =( |$)", line)
        if m and section and section not in DOMAIN_SECTIONS:
            keys.add((section, m.group(1)))
    return keys


def man_sections(page_text):
    """{.SH title: body} of a roff page."""
    parts = re.split(r'^\.SH "?([^"\n]*)"?\n', page_text, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def documented_in_page(page_text, section, key):
    """1 when the .SH of SECTION has a ".TP / .B KEY" paragraph."""
    for title, body in man_sections(page_text).items():
        if "[%s]" % section in title:
            return re.search(r"^\.TP\n\.B %s\n" % re.escape(key), body, re.M) is not None
    return False


FULL_CONFIG = """[server]
hostname = mx.local.test
local_domains = local.test
aliases = {dir}/aliases
users = {dir}/users
trusted_networks = 127.0.0.0/8

[tls]
certificate = {cert}
key = {key}

[tls mail.other.test]
certificate = {other_cert}
key = {other_key}

[listen mx]
address = 127.0.0.1:2525
client_ca = {ca}

[listen submission]
address = 127.0.0.1:2587
protocol = submission
tls = required

[listen imap]
address = 127.0.0.1:2143
protocol = imap

[listen pop3]
address = 127.0.0.1:2110
protocol = pop3

[dns]
resolver = 127.0.0.1:5353

[outbound]
relayhost = [relay.example.net]:587

[outbound.domains]
example.com = verify match=mx.example.com

[routes]
example.test = 127.0.0.1:2600
"""


class ManPages(harness.unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.man = harness.need_tool("man", "man-db")
        harness.need_tool("groff", "groff-base")
        cls.mandoc = harness.need_tool("mandoc", "mandoc")
        cls.dir = harness.new_tmpdir("man-")
        for name in ("users", "aliases"):
            open(os.path.join(cls.dir, name), "w").close()
        cert, other = harness.default_cert(), harness.other_cert()
        cls.conf = os.path.join(cls.dir, "sealmail.conf")
        with open(cls.conf, "w") as f:
            f.write(FULL_CONFIG.format(dir=cls.dir, cert=cert.cert, key=cert.key,
                                       other_cert=other.cert, other_key=other.key,
                                       ca=harness.ca().cert))
        rc, out, err = sealmail("config", "show", "--all", "-c", cls.conf)
        if rc != 0:
            raise AssertionError("config show --all failed: %s" % err)
        cls.show_all = out
        with open(os.path.join(MAN_DIR, "sealmail.conf.5")) as f:
            cls.conf_page = f.read()
        with open(EXAMPLE) as f:
            cls.example = f.read()

    def test_groff_is_silent(self):
        env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
        for page in PAGES:
            p = subprocess.run([self.man, "--warnings=w", "-l", "-Tutf8", "-Z",
                                os.path.join(MAN_DIR, page)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
            self.assertEqual(p.returncode, 0, page)
            self.assertEqual(p.stderr.decode(errors="replace"), "", page)
            self.assertGreater(len(p.stdout), 1000, page)

    def test_mandoc_is_silent(self):
        for page in PAGES:
            p = subprocess.run([self.mandoc, "-T", "lint", "-W", "all",
                                os.path.join(MAN_DIR, page)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
            self.assertEqual((p.returncode, p.stdout + p.stderr), (0, b""), page)

    def test_linters_see_a_broken_page(self):
        """The two checks above can fail: a page with an unknown macro."""
        bad = os.path.join(self.dir, "bad.8")
        with open(os.path.join(MAN_DIR, "sendmail.8")) as f:
            text = f.read()
        with open(bad, "w") as f:
            f.write(text.replace(".SH OPTIONS\n", ".SH OPTIONS\n.XY broken\n"))
        p = subprocess.run([self.mandoc, "-T", "lint", "-W", "all", bad],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertIn(b"XY", p.stdout + p.stderr)
        p = subprocess.run([self.man, "--warnings=w", "-l", "-Tutf8", "-Z", bad],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertIn(b"XY", p.stderr)

    def test_show_all_has_every_section(self):
        sections = set(re.findall(r"^\[([^\]]+)\]$", self.show_all, re.M))
        self.assertEqual(sections, {
            "server", "tls", "tls mail.other.test", "limits", "listen mx",
            "listen submission", "listen imap", "listen pop3", "submission", "dns",
            "outbound", "outbound.domains", "routes", "queue", "imap", "metrics"})

    def test_every_key_in_sealmail_conf_5(self):
        keys = parse_ini_keys(self.show_all, commented_headers=False)
        self.assertGreater(len(keys), 60)
        missing = sorted("[%s] %s" % k for k in keys
                         if not documented_in_page(self.conf_page, *k))
        self.assertEqual(missing, [], "undocumented in man/sealmail.conf.5")
        for section in DOMAIN_SECTIONS:
            self.assertIn("[%s]" % section, man_sections(self.conf_page))

    def test_every_key_in_the_example(self):
        keys = parse_ini_keys(self.show_all, commented_headers=False)
        in_example = parse_ini_keys(self.example, commented_headers=True)
        missing = sorted("[%s] %s" % k for k in keys - in_example)
        self.assertEqual(missing, [], "not in etc/sealmail.conf.example")
        # and nothing there that the server does not know
        self.assertEqual(sorted("[%s] %s" % k for k in in_example - keys), [])
        for section in DOMAIN_SECTIONS:
            self.assertIn("\n[%s]\n" % section, self.example)

    def test_every_subcommand_in_sealmail_8(self):
        rc, out, err = sealmail("--help")
        self.assertIn(rc, (0, 2))
        commands = set()
        for line in (out + err).split("\n"):
            m = re.match(r"^(?:usage:)?\s+sealmail (.*)$", line) or \
                re.match(r"^usage: sealmail (.*)$", line)
            if not m:
                continue
            first, _, rest = m.group(1).partition(" ")
            if not re.match(r"^[a-z][a-z-]*$", first):
                continue  # [-c FILE] SUBCOMMAND, --help, --version
            seconds = [alt.split()[0] for alt in rest.split("|") if alt.split()]
            seconds = [w for w in seconds if re.match(r"^[a-z][a-z-]*$", w)]
            for second in seconds or [None]:
                commands.add(first + (" " + second if second else ""))
        self.assertIn("config check", commands)
        self.assertIn("queue release", commands)
        with open(os.path.join(MAN_DIR, "sealmail.8")) as f:
            page = f.read().replace("\\-", "-")
        page = re.sub(r"\\f[BIRP]", "", page)
        missing = sorted(c for c in commands
                         if not re.search(r"^(\.B )?sealmail %s( |$)" % re.escape(c), page,
                                          re.M))
        self.assertEqual(missing, [], "not in man/sealmail.8")

    def test_every_option_in_sealmail_8(self):
        # what `--help` prints for every subcommand (init, status, stop and
        # dns-records print more than their usage line) and `mailq --help`
        helps = [sealmail("--help")[1]]
        helps += [sealmail(c, "--help")[1] for c in ("init", "status", "stop", "dns-records")]
        link = os.path.join(harness.new_tmpdir("mailq-"), "mailq")
        os.symlink(os.path.abspath(harness.SEALMAIL_BIN), link)
        helps.append(subprocess.run([link, "--help"], stdout=subprocess.PIPE,
                                    timeout=30).stdout.decode(errors="replace"))
        option = re.compile(r"(?<![\w-])(--?[a-zA-Z][a-zA-Z-]*)")
        in_help = set(option.findall("\n".join(helps)))
        self.assertIn("--tls-override", in_help)
        with open(os.path.join(MAN_DIR, "sealmail.8")) as f:
            page = re.sub(r"\\f[BIRP]", "", f.read().replace("\\-", "-"))
        in_page = set(option.findall(page))
        self.assertEqual(sorted(in_help - in_page), [], "options not in man/sealmail.8")
        # -h: the short --help; -n: `postconf -n`, which config show is like
        self.assertEqual(sorted(in_page - in_help - {"-h", "-n"}), [],
                         "options in man/sealmail.8 that no usage prints")

    def uncomment(self, text, section_header, key, value=None):
        """TEXT with the first "#KEY = ..." line after SECTION_HEADER's line
        uncommented (its value replaced by VALUE when given)."""
        lines = text.split("\n")
        start = lines.index(section_header)
        for i in range(start + 1, len(lines)):
            m = re.match(r"^#(%s) = (.*)$" % re.escape(key), lines[i])
            if m:
                lines[i] = "%s = %s" % (key, value if value is not None else m.group(2))
                return "\n".join(lines)
        raise AssertionError("no #%s after %s in the example" % (key, section_header))

    def check(self, text, name):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        rc, out, err = sealmail("config", "check", "-c", path)
        # the last line; the certificates may be described above it
        self.assertEqual((rc, out.split("\n")[-2:]), (0, ["%s: ok" % path, ""]), err)

    def test_example_loads_once_a_server_is_uncommented(self):
        cert = harness.default_cert()
        text = self.uncomment(self.example, "[server]", "hostname", harness.HOSTNAME)
        text = self.uncomment(text, "[server]", "local_domains", "local.test")
        text = self.uncomment(text, "[tls]", "certificate", cert.cert)
        text = self.uncomment(text, "[tls]", "key", cert.key)
        text = text.replace("\n#[listen mx]\n", "\n[listen mx]\n", 1)
        text = self.uncomment(text, "[listen mx]", "address")
        self.check(text, "minimal.conf")

    def test_example_loads_with_every_line_uncommented(self):
        """Every default the example shows is a value the server takes."""
        cert = harness.default_cert()
        paths = {"certificate": cert.cert, "key": cert.key, "client_ca": harness.ca().cert,
                 "trust_anchor": harness.ca().cert, "ca_file": harness.ca().cert,
                 "sts_ca_file": harness.ca().cert}
        out = []
        for line in self.example.split("\n"):
            m = re.match(r"^#(\[[^\]]+\])$", line)
            if m:
                line = m.group(1)
            m = re.match(r"^#([a-z_.]+) = (.*)$", line)
            if m:
                line = "%s = %s" % (m.group(1), paths.get(m.group(1), m.group(2)))
            out.append(line)
        self.check("\n".join(out), "everything.conf")


if __name__ == "__main__":
    harness.main()
