#!/usr/bin/python3
"""`cmake --install` (what `make install` runs) of the build the tests use,
staged into an empty DESTDIR: exactly the expected files for the configured
prefix, the sendmail and mailq links, nothing written outside DESTDIR, and
the Makefile passing PREFIX, sysconfdir, localstatedir and DESTDIR on."""

import os
import re
import stat
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402

SOURCE_DIR = os.path.normpath(os.path.join(harness.HERE, "..", ".."))
BUILD_DIR = os.path.dirname(harness.SEALMAIL_BIN)


def cmake_cache():
    """The build's CMakeCache.txt as {NAME: value}."""
    path = os.path.join(BUILD_DIR, "CMakeCache.txt")
    if not os.path.exists(path):
        raise AssertionError("no CMakeCache.txt next to %s" % harness.SEALMAIL_BIN)
    cache = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"^([A-Za-z0-9_]+):[A-Z]+=(.*)$", line.rstrip("\n"))
            if m:
                cache[m.group(1)] = m.group(2)
    return cache


def full_dir(cache, name, prefix):
    """CMAKE_INSTALL_FULL_<NAME> as GNUInstallDirs computes it at configure
    time: absolute as given, else under the prefix, with its special cases
    for /usr and /opt/... (sysconfdir and localstatedir)."""
    rel = cache["CMAKE_INSTALL_" + name]
    if os.path.isabs(rel):
        return rel
    if name in ("SYSCONFDIR", "LOCALSTATEDIR"):
        if prefix == "/usr":
            return "/" + rel
        if prefix.startswith("/opt/"):
            return "/%s%s" % (rel, prefix)
    return os.path.join(prefix, rel)


def expected_layout(cache, prefix):
    """{path: ("f", source) | ("l", target) | ("d", None)} for an install
    to PREFIX of the build configured with CACHE (every directory
    included)."""
    # GNUInstallDirs caches these empty and derives them from datarootdir
    derived = {"MANDIR": "man", "DOCDIR": "doc/sealmail"}

    def under(name):
        rel = cache["CMAKE_INSTALL_" + name]
        if not rel and name in derived:
            rel = os.path.join(cache["CMAKE_INSTALL_DATAROOTDIR"], derived[name])
        return rel if os.path.isabs(rel) else os.path.join(prefix, rel)
    sbin, bindir, mandir = under("SBINDIR"), under("BINDIR"), under("MANDIR")
    docdir = under("DOCDIR")
    configured_prefix = cache["CMAKE_INSTALL_PREFIX"]
    datadir = os.path.join(full_dir(cache, "LOCALSTATEDIR", configured_prefix), "lib", "sealmail")
    entries = {
        sbin + "/sealmail": ("f", harness.SEALMAIL_BIN),
        sbin + "/sendmail": ("l", "sealmail"),
        bindir + "/mailq": ("l", os.path.relpath(sbin + "/sealmail", bindir)),
        mandir + "/man8/sealmail.8": ("f", os.path.join(SOURCE_DIR, "man", "sealmail.8")),
        mandir + "/man8/sendmail.8": ("f", os.path.join(SOURCE_DIR, "man", "sendmail.8")),
        mandir + "/man5/sealmail.conf.5": ("f", os.path.join(SOURCE_DIR, "man",
                                                             "sealmail.conf.5")),
        docdir + "/examples/sealmail.conf": ("f", os.path.join(SOURCE_DIR, "etc",
                                                               "sealmail.conf.example")),
        datadir: ("d", None),
    }
    if os.path.exists(os.path.join(SOURCE_DIR, "dist", "sealmail.service.in")):
        unitdir = cache["SEALMAIL_SYSTEMD_UNITDIR"]
        if not os.path.isabs(unitdir):
            unitdir = os.path.join(prefix, unitdir)
        entries[unitdir + "/sealmail.service"] = ("f", os.path.join(BUILD_DIR,
                                                                    "sealmail.service"))
    for path in list(entries):
        parent = os.path.dirname(path)
        while parent != "/":
            entries.setdefault(parent, ("d", None))
            parent = os.path.dirname(parent)
    return entries


def staged_layout(destdir):
    """What DESTDIR holds, in the form of expected_layout()."""
    found = {}
    for root, dirs, files in os.walk(destdir):
        for name in dirs + files:
            full = os.path.join(root, name)
            path = "/" + os.path.relpath(full, destdir)
            if os.path.islink(full):
                found[path] = ("l", os.readlink(full))
            elif os.path.isdir(full):
                found[path] = ("d", None)
            else:
                found[path] = ("f", None)
    return found


def read_manifest():
    with open(os.path.join(BUILD_DIR, "install_manifest.txt")) as f:
        return [line for line in f.read().split("\n") if line]


class Install(harness.unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        harness.need_tool("cmake", "cmake")
        cls.cache = cmake_cache()

    def install(self, prefix=None):
        """A staged install into a fresh, empty DESTDIR; returns it. Checks
        that no path the manifest lists appeared outside it."""
        destdir = harness.new_tmpdir("destdir-")
        argv = ["cmake", "--install", BUILD_DIR]
        if prefix:
            argv += ["--prefix", prefix]
        expected = expected_layout(self.cache, prefix or self.cache["CMAKE_INSTALL_PREFIX"])
        before = {p: os.path.lexists(p) for p in expected}
        env = dict(os.environ, DESTDIR=destdir)
        p = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        self.assertEqual(p.stderr, b"")
        for path, existed in before.items():
            self.assertEqual(os.path.lexists(path), existed,
                             "%s appeared outside DESTDIR" % path)
        return destdir, expected

    def check_layout(self, destdir, expected):
        """DESTDIR holds exactly EXPECTED: the same paths, kinds and link
        targets, each file as its source, the links reaching the binary."""
        found = staged_layout(destdir)
        self.assertEqual(sorted(found), sorted(expected))
        binary = destdir + [p for p in expected if p.endswith("/sbin/sealmail")][0]
        self.assertEqual(stat.S_IMODE(os.stat(binary).st_mode), 0o755)
        for path, (kind, what) in expected.items():
            self.assertEqual(found[path][0], kind, path)
            full = destdir + path
            if kind == "l":
                self.assertEqual(found[path][1], what, path)
                self.assertEqual(os.path.realpath(full), os.path.realpath(binary),
                                 "%s does not reach sealmail" % path)
            elif kind == "f" and full != binary:
                with open(full, "rb") as a, open(what, "rb") as b:
                    self.assertEqual(a.read(), b.read(), "%s differs from %s" % (path, what))

    def check_manifest(self, destdir, expected):
        manifest = read_manifest()
        self.assertEqual(sorted(manifest),
                         sorted(p for p, (k, _) in expected.items() if k != "d"))
        for path in manifest:
            self.assertTrue(os.path.isabs(path), path)
            self.assertTrue(os.path.lexists(destdir + path), "%s not under DESTDIR" % path)

    def test_configured_prefix(self):
        destdir, expected = self.install()
        self.check_layout(destdir, expected)
        self.check_manifest(destdir, expected)

    def test_prefix_at_install_time(self):
        prefix = "/opt/sealmail-test-" + harness.token()
        destdir, expected = self.install(prefix)
        self.assertIn(prefix + "/bin/mailq", expected)
        self.check_layout(destdir, expected)
        self.check_manifest(destdir, expected)
        # a second install over the first one replaces the links
        env = dict(os.environ, DESTDIR=destdir)
        p = subprocess.run(["cmake", "--install", BUILD_DIR, "--prefix", prefix], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        self.check_layout(destdir, expected)

    def test_compiled_in_paths(self):
        """The installed binary reads the configuration from the configured
        sysconfdir, as the install's layout says."""
        prefix = self.cache["CMAKE_INSTALL_PREFIX"]
        conf = full_dir(self.cache, "SYSCONFDIR", prefix) + "/sealmail/sealmail.conf"
        env = dict(os.environ)
        env.pop("SEALMAIL_CONFIG", None)
        p = subprocess.run([harness.SEALMAIL_BIN, "config", "show", "--help"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(p.returncode, 0)
        # "Default FILE: PATH" or "..., else PATH", as the usage ends
        self.assertRegex(p.stdout.decode(), r"\s%s\n$" % re.escape(conf))

    def test_makefile_passes_the_directories(self):
        """make install hands PREFIX, sysconfdir, localstatedir to the
        configure and DESTDIR to cmake --install (a dry run: nothing is
        built)."""
        harness.need_tool("make", "make")
        p = harness.run(["make", "-n", "-C", SOURCE_DIR, "install", "PREFIX=/opt/p",
                         "sysconfdir=/opt/e", "localstatedir=/opt/v", "DESTDIR=/tmp/stage"])
        out = p.stdout.decode()
        configure = [ln for ln in out.split("\n") if "cmake -S . -B build-release " in ln]
        self.assertEqual(len(configure), 1, out)
        for flag in ("-DCMAKE_INSTALL_PREFIX=/opt/p", "-DCMAKE_INSTALL_SYSCONFDIR=/opt/e",
                     "-DCMAKE_INSTALL_LOCALSTATEDIR=/opt/v", "-DBUILD_TESTING=OFF"):
            self.assertIn(flag, configure[0].split(), out)
        # what is installed is a packager's build: no fault points, no -Werror
        for flag in ("-DSEALMAIL_FAULTS=ON", "-DSEALMAIL_WERROR=ON"):
            self.assertNotIn(flag, configure[0].split(), out)
        self.assertIn("DESTDIR=/tmp/stage cmake --install build-release", out)
        p = harness.run(["make", "-n", "-C", SOURCE_DIR, "install"])
        out = p.stdout.decode()
        for flag in ("-DCMAKE_INSTALL_PREFIX=/usr/local", "-DCMAKE_INSTALL_SYSCONFDIR=/etc",
                     "-DCMAKE_INSTALL_LOCALSTATEDIR=/var"):
            self.assertIn(flag, out)


if __name__ == "__main__":
    harness.main()
