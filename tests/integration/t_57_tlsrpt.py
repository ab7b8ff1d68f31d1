#!/usr/bin/python3
"""TLS-RPT (RFC 8460) on the sending side: the counts the queue keeps of
its remote deliveries, `sealmail tls-report show [DOMAIN]`, the report
mails `sealmail tls-report send [--today]` and the daily timer queue, as
they land in a local Maildir: their header (5.3), the gzip attachment and
the JSON inside (4.4) with its counts, policy types, result types and
dates; the policy-string and mx-host of an "sts" policy taken from the
lookup role's MTA-STS cache file at report time; the counts file read
back at start and written after a send; `[outbound] tls_report = no`.

Two parts. `SeededCounts` starts servers on a counts file written here
(the store's file format: magic, version, days, CRC-32C), so the report
path is tested whatever fills the counts. `Deliveries` counts real
deliveries to fake MX servers (a success, and an `encrypt` domain whose
MX offers no STARTTLS: starttls-not-supported): it needs the SMTP client
to fill the TLS-RPT fields of its task results.

Addresses of this file: 127.57.0.0/16."""

import datetime
import email
import email.policy
import gzip
import json
import os
import pwd
import re
import struct
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
import outbound  # noqa: E402
from harness import make_message, token  # noqa: E402
from outbound import a, mx  # noqa: E402

NET = "127.57.0."
DAY = 86400
RUA = "tlsrpt@local.test"
RUA2 = "tlsrpt2@local.test"
USERS = outbound.USERS + (RUA, RUA2)

# ---------------------------------------------------------------------------
# The counts file, as src/queue/tlsrpt_store.c writes it
# ---------------------------------------------------------------------------


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = (c >> 8) ^ _CRC_TABLE[(c ^ b) & 0xFF]
    return c ^ 0xFFFFFFFF


def _s(text):
    b = text.encode()
    return struct.pack("<I", len(b)) + b


def counts_file(days):
    """DAYS: [(day, [(domain, rua, [(type, sts_id, mx, ok, failed,
    [(result_type, mx, ip, sessions)])])])] -> the file's bytes."""
    out = struct.pack("<IIQI", 0x54525054, 1, 0, len(days))
    for day, domains in days:
        out += struct.pack("<IQI", day, 0, len(domains))
        for name, rua, policies in domains:
            out += _s(name) + _s(rua) + struct.pack("<QI", 0, len(policies))
            for ptype, sts_id, pmx, ok, failed, rows in policies:
                out += _s(ptype) + _s(sts_id) + _s(pmx)
                out += struct.pack("<QQQI", ok, failed, 0, len(rows))
                for rtype, rmx, rip, n in rows:
                    out += _s(rtype) + _s(rmx) + _s(rip) + struct.pack("<Q", n)
    return out + struct.pack("<I", crc32c(out))


def today():
    return int(time.time()) // DAY


def away_from_midnight():
    """Waits (polling) while the UTC day ends within two minutes, so that
    "today" stays the same day for the test."""
    harness.wait_for(lambda: DAY - time.time() % DAY > 120, timeout=130,
                     what="the UTC day to turn")


def day_text(day):
    return datetime.datetime.fromtimestamp(day * DAY, datetime.timezone.utc).strftime("%Y-%m-%d")


# ---------------------------------------------------------------------------
# The report mails
# ---------------------------------------------------------------------------


def reports(srv, address):
    """The report mails in ADDRESS's Maildir: {TLS-Report-Domain: message}."""
    out = {}
    for raw in srv.messages(address):
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        if msg["TLS-Report-Domain"]:
            out[str(msg["TLS-Report-Domain"])] = msg
    return out


def wait_report(srv, address, domain):
    harness.wait_for(lambda: domain in reports(srv, address),
                     what="the TLS report about %s for %s" % (domain, address))
    return reports(srv, address)[domain]


class ReportChecks:
    """Checks of a report mail shared by both parts."""

    def check_report(self, msg, domain, day):
        """Checks MSG's header and parts (RFC 8460 5.3); returns the JSON."""
        subject = str(msg["Subject"])
        m = re.fullmatch(r"Report Domain: (\S+) Submitter: (\S+) Report-ID: <(\S+)>", subject)
        self.assertIsNotNone(m, subject)
        self.assertEqual(m.group(1), domain)
        self.assertEqual(m.group(2), harness.HOSTNAME)
        report_id = m.group(3)
        self.assertEqual(str(msg["TLS-Report-Domain"]), domain)
        self.assertEqual(str(msg["TLS-Report-Submitter"]), harness.HOSTNAME)
        self.assertEqual(str(msg["From"]), "tlsrpt-noreply@%s" % harness.HOSTNAME)
        self.assertEqual(str(msg["TLS-Required"]), "No")
        # the null reverse-path: a failed report bounces to no one
        self.assertEqual(str(msg["Return-Path"]), "<>")
        self.assertEqual(msg.get_content_type(), "multipart/report")
        self.assertEqual(msg.get_param("report-type"), "tlsrpt")
        parts = list(msg.iter_parts())
        self.assertEqual([p.get_content_type() for p in parts],
                         ["text/plain", "application/tlsrpt+gzip"])
        self.assertIn(report_id, parts[0].get_content())
        start, end = day * DAY, day * DAY + DAY - 1
        name = parts[1].get_filename()
        m = re.fullmatch(r"(\S+)!(\S+)!(\d+)!(\d+)!([A-Za-z0-9]+)\.json\.gz", name or "")
        self.assertIsNotNone(m, name)
        self.assertEqual(m.groups()[:4], (harness.HOSTNAME, domain, str(start), str(end)))
        self.assertTrue(report_id.startswith("%s.%s@" % (
            datetime.datetime.fromtimestamp(start, datetime.timezone.utc).strftime("%Y%m%d"),
            m.group(5))), report_id)
        data = gzip.decompress(parts[1].get_content())
        report = json.loads(data)
        self.assertEqual(report["organization-name"], harness.HOSTNAME)
        self.assertEqual(report["contact-info"], "tlsrpt-noreply@%s" % harness.HOSTNAME)
        self.assertEqual(report["report-id"], report_id)
        self.assertEqual(report["date-range"], {
            "start-datetime": day_text(day) + "T00:00:00Z",
            "end-datetime": day_text(day) + "T23:59:59Z"})
        return report


def policies_of(report):
    """{(policy-type, mx-host tuple): (successful, failed, {(result-type,
    mx, ip): n})} of a report."""
    out = {}
    for p in report["policies"]:
        self_domain = p["policy"]["policy-domain"]
        rows = {(f["result-type"], f.get("receiving-mx-hostname"), f.get("receiving-ip")):
                f["failed-session-count"] for f in p.get("failure-details", [])}
        key = (p["policy"]["policy-type"], tuple(p["policy"].get("mx-host", ())), self_domain)
        out[key] = (p["summary"]["total-successful-session-count"],
                    p["summary"]["total-failure-session-count"], rows)
    return out


# ---------------------------------------------------------------------------
# Part 1: counts given, reports sent
# ---------------------------------------------------------------------------

TODAY_DOMAINS = [
    ("report.test", "mailto:" + RUA, [
        ("sts", "2026id1", "", 3, 2,
         [("certificate-expired", "mx.report.test", NET + "1", 2)]),
        ("tlsa", "", "mx2.report.test", 1, 1,
         [("tlsa-invalid", "mx2.report.test", NET + "2", 1)]),
        ("no-policy-found", "", "", 4, 0, [])]),
    ("two.test", "mailto:%s, mailto:%s" % (RUA, RUA2), [
        ("no-policy-found", "", "", 0, 1,
         [("starttls-not-supported", "mx.two.test", NET + "3", 1)])]),
    ("norua.test", "", [("no-policy-found", "", "", 5, 0, [])]),
    ("https.test", "https://reports.example/tlsrpt", [("no-policy-found", "", "", 1, 0, [])]),
]

REPORT_TEST_SHOW = """domain: report.test
rua: mailto:tlsrpt@local.test
policy: sts id=2026id1
successful: 3
failed: 2
failure: certificate-expired mx=mx.report.test ip=127.57.0.1 sessions=2
policy: tlsa mx=mx2.report.test
successful: 1
failed: 1
failure: tlsa-invalid mx=mx2.report.test ip=127.57.0.2 sessions=1
policy: no-policy-found
successful: 4
failed: 0
"""


# report.test's MTA-STS policy as the lookup role's cache keeps it
# (src/lookup/sts_cache_file.c), for the id its "sts" counts were made with
STS_LINES = ["version: STSv1", "mode: enforce", "max_age: 604800", "mx: mx.report.test",
             "mx: *.backup.report.test"]


def sts_cache_file(sts_id, lines):
    return ("sealmail-sts-cache 1\nid: %s\nfetched: %d\n\n%s\n"
            % (sts_id, int(time.time()), "\n".join(lines))).encode()


def seeded_server(test_dns, days, sts=None, **kw):
    """A server started on the counts DAYS, with the MTA-STS cache files
    STS ({domain: bytes}) in data_dir/sts/."""
    srv = outbound.outbound_server(test_dns.resolver(), 25, users=USERS,
                                   server={"start": False}, check_greeting=False, **kw)
    d = os.path.join(srv.data_dir, "tlsrpt")
    os.mkdir(d, 0o700)
    paths = [d, os.path.join(d, "counts")]
    with open(paths[1], "wb") as f:
        f.write(counts_file(days))
    if sts:
        paths.append(os.path.join(srv.data_dir, "sts"))
        os.mkdir(paths[-1], 0o700)
        for domain, text in sts.items():
            paths.append(os.path.join(srv.data_dir, "sts", domain))
            with open(paths[-1], "wb") as f:
                f.write(text)
    if os.geteuid() == 0:
        # the queue runs as the server's user (sealmail when it exists)
        try:
            pw = pwd.getpwnam("sealmail")
        except KeyError:
            pw = pwd.getpwnam("nobody")
        for path in paths:
            os.chown(path, pw.pw_uid, pw.pw_gid)
    srv.start()
    outbound.wait_greeting(srv)
    return srv


class SeededCounts(outbound.OutboundTestCase, ReportChecks):

    @classmethod
    def setUpClass(cls):
        outbound.need_peers()
        away_from_midnight()
        cls.today = today()
        cls.old = cls.today - 3
        cls.dns = cls.start_unbound([("probe.test", "A", "127.0.0.1")])
        days = [(cls.old, [("old.test", "mailto:" + RUA, [("no-policy-found", "", "", 7, 0, [])])]),
                (cls.today, TODAY_DOMAINS)]
        cls.srv = seeded_server(cls.dns, days,
                                sts={"report.test": sts_cache_file("2026id1", STS_LINES)})
        cls.addClassCleanup(cls.srv.close)

    def test_1_old_day_sent(self):
        """A day before today goes out by itself once its random delay after
        midnight UTC (at most an hour) has passed; before that, `send`
        sends it, and only it."""
        if time.time() % DAY > 3600 + 60:
            msg = wait_report(self.srv, RUA, "old.test")
        else:
            out = self.srv.ctl_ok("tls-report", "send")
            self.assertRegex(out, r"(?m)^old\.test: queued \S+ report-id \S+$")
            self.assertRegex(out, r"(?m)^1 report queued$")
            msg = wait_report(self.srv, RUA, "old.test")
        report = self.check_report(msg, "old.test", self.old)
        self.assertEqual(policies_of(report),
                         {("no-policy-found", (), "old.test"): (7, 0, {})})
        self.assertNotIn("report.test", reports(self.srv, RUA))

    def test_2_show(self):
        harness.wait_for(lambda: "unsent-day" not in self.srv.ctl_ok("tls-report", "show"),
                         what="the old day to be sent")
        out = self.srv.ctl_ok("tls-report", "show")
        head = "tls-report: on\nday: %s\ndomains: 4\n\n" % day_text(self.today)
        self.assertTrue(out.startswith(head), out)
        self.assertIn("\n" + REPORT_TEST_SHOW + "\n", out)
        self.assertEqual(self.srv.ctl_ok("tls-report", "show", "REPORT.test"),
                         "tls-report: on\nday: %s\n\n%s" % (day_text(self.today),
                                                           REPORT_TEST_SHOW))
        rc, out, err = self.srv.ctl("tls-report", "show", "unknown.test")
        self.assertEqual((rc, out, err), (1, "", "unknown.test: no sessions counted today\n"))
        rc, out, err = self.srv.ctl("tls-report", "frobnicate")
        self.assertEqual(rc, 2)

    def test_3_send_today(self):
        mark = self.srv.log_mark()
        out = self.srv.ctl_ok("tls-report", "send", "--today")
        self.assertRegex(out, r"(?m)^report\.test: queued \S+ report-id \S+$")
        self.assertRegex(out, r"(?m)^two\.test: queued \S+ report-id \S+$")
        self.assertRegex(out, r"(?m)^https\.test: skipped: rua: .*https.*$")
        self.assertNotIn("norua.test", out)
        self.assertRegex(out, r"(?m)^2 reports queued$")
        msg = wait_report(self.srv, RUA, "report.test")
        report = self.check_report(msg, "report.test", self.today)
        self.assertEqual(policies_of(report), {
            ("sts", ("mx.report.test", "*.backup.report.test"), "report.test"): (3, 2, {
                ("certificate-expired", "mx.report.test", NET + "1"): 2}),
            ("tlsa", ("mx2.report.test",), "report.test"): (1, 1, {
                ("tlsa-invalid", "mx2.report.test", NET + "2"): 1}),
            ("no-policy-found", (), "report.test"): (4, 0, {})})
        # the "sts" policy's lines and patterns come from the cached policy
        # of the id counted (RFC 8460 4.4); the others have none
        strings = {p["policy"]["policy-type"]: p["policy"].get("policy-string")
                   for p in report["policies"]}
        self.assertEqual(strings["sts"], STS_LINES)
        self.assertEqual(strings["no-policy-found"], None)
        # one mail to both addresses of the rua
        for address in (RUA, RUA2):
            msg = wait_report(self.srv, address, "two.test")
            self.assertEqual(sorted(a.addr_spec for a in msg["To"].addresses),
                             sorted([RUA, RUA2]))
            report = self.check_report(msg, "two.test", self.today)
            self.assertEqual(policies_of(report), {("no-policy-found", (), "two.test"): (0, 1, {
                ("starttls-not-supported", "mx.two.test", NET + "3"): 1})})
        self.assertNotIn("norua.test", reports(self.srv, RUA))
        self.assertTrue(self.srv.events("tls-report-skipped", since=mark))
        # the report mails' own sessions (local here) are not counted
        self.assertEqual(self.srv.ctl_ok("tls-report", "show"),
                         "tls-report: on\nday: %s\ndomains: 0\n" % day_text(self.today))

    def test_4_sent_stays_sent(self):
        """After a restart the counts file says what is left: nothing sent
        twice."""
        self.srv.restart()
        outbound.wait_greeting(self.srv)
        self.assertEqual(self.srv.ctl_ok("tls-report", "show"),
                         "tls-report: on\nday: %s\ndomains: 0\n" % day_text(self.today))
        out = self.srv.ctl_ok("tls-report", "send", "--today")
        self.assertEqual(out, "0 reports queued\n")


class ReportsOff(outbound.OutboundTestCase):

    def test_off(self):
        outbound.need_peers()
        away_from_midnight()
        dns = self.start_unbound([("probe.test", "A", "127.0.0.1")])
        srv = seeded_server(dns, [(today(), TODAY_DOMAINS)],
                            outbound_extra=[("tls_report", "no")])
        self.addCleanup(srv.close)
        out = srv.ctl_ok("tls-report", "show", "report.test")
        self.assertTrue(out.startswith("tls-report: off\n"), out)
        self.assertIn(REPORT_TEST_SHOW, out)
        rc, out, err = srv.ctl("tls-report", "send", "--today")
        self.assertEqual((rc, out, err),
                         (1, "", "TLS reports are off ([outbound] tls_report = no)\n"))
        self.assertIn("domain: report.test", srv.ctl_ok("tls-report", "show"))


# ---------------------------------------------------------------------------
# Part 2: counts made by deliveries
# ---------------------------------------------------------------------------


class Deliveries(outbound.OutboundTestCase, ReportChecks):

    @classmethod
    def setUpClass(cls):
        outbound.need_peers()
        away_from_midnight()
        cls.port = outbound.common_port([NET + "11", NET + "12"])
        cls.ok = cls.fake(NET + "11", cls.port, name="mx.ok.test")
        cls.plain = cls.fake(NET + "12", cls.port, name="mx.enc.test", starttls=False)
        records = (mx("ok.test", (10, "mx.ok.test")) + a("mx.ok.test", NET + "11") +
                   mx("enc.test", (10, "mx.enc.test")) + a("mx.enc.test", NET + "12"))
        for domain in ("ok.test", "enc.test"):
            records.append(("_smtp._tls." + domain, "TXT",
                            '"v=TLSRPTv1; rua=mailto:%s"' % RUA))
        cls.dns = cls.start_unbound(records)
        # one attempt each: the retry comes long after the test
        cls.srv = cls.outbound_class_server(cls.dns.resolver(), cls.port, tls="may",
                                            users=USERS, domains=[("enc.test", "encrypt")],
                                            retry="1h", max_lifetime="2h")

    def test_counts_and_report(self):
        sender = "sender1@local.test"
        day = today()
        for rcpt in ("a@ok.test", "b@ok.test"):
            outbound.submit(self.srv, sender, [rcpt],
                            make_message(token(), sender=sender, to=rcpt))
            self.srv.wait_event("delivered", to=rcpt)
        outbound.submit(self.srv, sender, ["c@enc.test"],
                        make_message(token(), sender=sender, to="c@enc.test"))
        self.srv.wait_event("deferred", to="c@enc.test")
        harness.wait_for(lambda: "domain: enc.test" in self.srv.ctl_ok("tls-report", "show"),
                         what="the enc.test session counted")
        self.assertEqual(self.srv.ctl_ok("tls-report", "show", "ok.test"),
                         "tls-report: on\nday: %s\n\ndomain: ok.test\nrua: mailto:%s\n"
                         "policy: no-policy-found\nsuccessful: 2\nfailed: 0\n"
                         % (day_text(day), RUA))
        self.assertEqual(self.srv.ctl_ok("tls-report", "show", "enc.test"),
                         "tls-report: on\nday: %s\n\ndomain: enc.test\nrua: mailto:%s\n"
                         "policy: no-policy-found\nsuccessful: 0\nfailed: 1\n"
                         "failure: starttls-not-supported mx=mx.enc.test ip=%s sessions=1\n"
                         % (day_text(day), RUA, NET + "12"))
        # the counts reach the disk within a few seconds, not per message
        path = os.path.join(self.srv.data_dir, "tlsrpt", "counts")
        harness.wait_for(lambda: os.path.exists(path), what="the counts file")
        out = self.srv.ctl_ok("tls-report", "send", "--today")
        self.assertRegex(out, r"(?m)^2 reports queued$")
        report = self.check_report(wait_report(self.srv, RUA, "ok.test"), "ok.test", day)
        self.assertEqual(policies_of(report), {("no-policy-found", (), "ok.test"): (2, 0, {})})
        report = self.check_report(wait_report(self.srv, RUA, "enc.test"), "enc.test", day)
        self.assertEqual(policies_of(report), {("no-policy-found", (), "enc.test"): (0, 1, {
            ("starttls-not-supported", "mx.enc.test", NET + "12"): 1})})


if __name__ == "__main__":
    harness.main()
