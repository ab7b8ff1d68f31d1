#!/usr/bin/python3
"""The code layout DESIGN promises, checked on every `make check`:

  * no file outside src/lib/ calls OpenSSL (SSL_*, X509_*): TLS lives behind
    src/lib/io.h and its TLS contexts;
  * each folder includes only the folders it may (the table in README.md,
    "How it is built");
  * no source file over 900 lines, no function over 60 lines.

Prints every violation and exits 1 when there is one."""

import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SRC = os.path.join(ROOT, "src")

# folder -> folders of src/ it may include (its own always allowed)
MAY_INCLUDE = {
    "lib": set(),
    "mail": {"lib"},
    "proto": {"lib", "mail"},
    "policy": {"lib", "mail"},
    "conf": {"lib"},
    "smtp": {"lib", "mail", "proto", "conf", "policy"},
    "imap": {"lib", "mail", "proto", "conf", "policy"},
    "pop3": {"lib", "mail", "proto", "conf", "policy"},
    "queue": {"lib", "mail", "proto", "conf", "policy"},
    "store": {"lib", "mail", "proto", "conf", "policy"},
    "lookup": {"lib", "mail", "proto", "conf", "policy", "auth", "dns"},
    "auth": {"lib", "mail", "proto", "conf"},
    "dns": {"lib", "mail", "proto", "conf"},
    "metrics": {"lib", "mail", "proto", "conf"},
    "ctl": {"lib", "mail", "proto", "conf", "policy", "auth", "dns"},
    "daemon": None,  # wires everything
    ".": None,       # src/main.c
}
# Single headers a folder may include beyond its table row: `sealmail send`
# speaks SMTP and `sealmail user` checks addresses, with the SMTP code's pure
# parsers (no session, no socket); `policy explain` and `tls-check` build the
# policy view from the configuration as the SMTP client does (mta_policy.h)
# and read the lookup role's MTA-STS cache files with its parser (sts_cache.h);
# `config check` reads the certificates as serve does (tls_settings.h);
# `sealmail send` reads the aliases file to say what a refused local
# recipient needs (aliases.h, a pure parser).
ALSO_ALLOWED = {
    "ctl": {"smtp/smtp_parse.h", "smtp/smtp_reply.h", "smtp/mta_policy.h",
            "lookup/sts_cache.h", "daemon/tls_settings.h", "lookup/aliases.h"},
}
FILE_MAX = 900
FUNCTION_MAX = 60

INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"(([^"/]+)/[^"]+)"', re.M)
OPENSSL_RE = re.compile(r"\b(SSL|X509)_[A-Za-z0-9_]+")
FUNC_START_RE = re.compile(r"^[A-Za-z_][^;{}()]*\([^;]*\)\s*$")


def sources():
    for dirpath, _, files in os.walk(SRC):
        for name in sorted(files):
            if name.endswith((".c", ".h")):
                yield os.path.join(dirpath, name)


def folder_of(path):
    rel = os.path.relpath(path, SRC)
    return rel.split(os.sep)[0] if os.sep in rel else "."


def strip_comments(text):
    return re.sub(r"/\*.*?\*/|//[^\n]*", lambda m: "\n" * m.group(0).count("\n"), text,
                  flags=re.S)


def long_functions(lines):
    """(name line, length) of each function body longer than FUNCTION_MAX:
    a definition's header line followed by a line holding only "{", to the
    next line holding only "}"."""
    out = []
    i = 0
    while i < len(lines):
        if lines[i] == "{" and i > 0 and FUNC_START_RE.match(lines[i - 1]):
            start = i - 1
            j = i + 1
            while j < len(lines) and lines[j] != "}":
                j += 1
            length = j - start + 1
            if length > FUNCTION_MAX:
                out.append((lines[start].strip(), length))
            i = j
        i += 1
    return out


def main():
    problems = []
    for path in sources():
        rel = os.path.relpath(path, ROOT)
        folder = folder_of(path)
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        code = strip_comments(text)
        lines = text.split("\n")
        if folder != "lib":
            for m in OPENSSL_RE.finditer(code):
                problems.append("%s: calls OpenSSL (%s) outside src/lib/" % (rel, m.group(0)))
                break
        allowed = MAY_INCLUDE.get(folder, set())
        if folder not in MAY_INCLUDE:
            problems.append("%s: folder src/%s/ is not in the layout table" % (rel, folder))
        if allowed is not None:
            for header, inc in sorted(set(INCLUDE_RE.findall(code))):
                if inc == folder or inc in allowed or header in ALSO_ALLOWED.get(folder, ()):
                    continue
                problems.append("%s: src/%s/ may not include %s" % (rel, folder, header))
        if path.endswith(".c") and len(lines) > FILE_MAX:
            problems.append("%s: %d lines (at most %d)" % (rel, len(lines), FILE_MAX))
        for name, length in long_functions(code.split("\n")):
            problems.append("%s: %s: %d lines (at most %d)" % (rel, name, length,
                                                               FUNCTION_MAX))
    for p in problems:
        print(p)
    print("layout: %d problems" % len(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
