"""The one table bench/run prints: every row, sealmail against its peer and
the machine's ceiling, medians over the rounds (standard library only).

bench/run and its suites append one JSON object per measurement to a
results file: {"tag", "who", "round", <metrics>...}, where who is sealmail,
postfix or ceiling (the no-disk sink measured in the same rounds). ROWS says
which tag and metric each row shows; a row whose tag has no measurement at
all (its suite did not run) is left out, a missing figure of a row that ran
is shown as "-", and a peer that cannot be measured is "n/a". The IMAP rows
come from bench/imap's saved table.
"""
import json
import statistics

# (label, tag, metric, unit, options). Options: "peer": "n/a" when Postfix
# cannot be measured for the row; "tags": {who: tag} when one who's figure
# lives under another tag; "ceil_metric" when the ceiling is another metric.
ROWS = (
    ("inbound plain, reused (smtp-source -d): accepted", "inbound-reused",
     "accepted_rate", "msg/s", {}),
    ("inbound plain, reused: end-to-end into Maildir", "inbound-reused",
     "e2e_rate", "msg/s", {"ceil_metric": "accepted_rate"}),
    ("inbound plain, new connection per message: accepted", "inbound-new",
     "accepted_rate", "msg/s", {}),
    ("inbound plain, new connection: end-to-end into Maildir", "inbound-new",
     "e2e_rate", "msg/s", {"ceil_metric": "accepted_rate"}),
    ("disk: create + write 4 KiB + fsync", "disk", "fsync_rate", "/s",
     {"only": "ceiling"}),
    ("disk: the same + rename + directory fsync", "disk", "rename_rate", "/s",
     {"only": "ceiling"}),
    ("inbound STARTTLS, reused (smtpload -T starttls)", "tls-starttls-reused",
     "accepted_rate", "msg/s", {}),
    ("inbound STARTTLS, new connection per message (-N)", "tls-starttls-new",
     "accepted_rate", "msg/s", {}),
    ("inbound STARTTLS, new connection, resumption (-N -R)", "tls-starttls-resume",
     "accepted_rate", "msg/s", {}),
    ("inbound implicit TLS, new connection per message (-N)", "tls-implicit-new",
     "accepted_rate", "msg/s", {}),
    ("relay plain ([outbound] tls = may): into the sink", "relay-may",
     "e2e_rate", "msg/s", {"ceil_metric": "accepted_rate"}),
    ("relay STARTTLS (tls = encrypt): into the sink", "relay-encrypt",
     "e2e_rate", "msg/s", {"ceil_metric": "accepted_rate"}),
    ("latency p50 DATA-to-250 at 50% of own max", "latency-50", "p50_ms", "ms", {}),
    ("latency p99 DATA-to-250 at 50% of own max", "latency-50", "p99_ms", "ms", {}),
    ("latency p50 DATA-to-250 at 90% of own max", "latency-90", "p50_ms", "ms", {}),
    ("latency p99 DATA-to-250 at 90% of own max", "latency-90", "p99_ms", "ms", {}),
    # the rate the open loop reached: below the target, the percentiles
    # above were taken at a lighter load than their label says
    ("latency at 50% of own max: rate reached", "latency-50", "accepted_rate", "msg/s", {}),
    ("latency at 90% of own max: rate reached", "latency-90", "accepted_rate", "msg/s", {}),
    ("memory: {connections} idle connections, RSS of all sealmail processes", "memory",
     "rss_total_mib", "MiB", {"peer": "n/a"}),
    ("memory per idle connection (all)", "memory", "per_conn_kib", "KiB",
     {"peer": "n/a"}),
    ("memory per idle plain connection", "memory", "per_plain_kib", "KiB",
     {"peer": "n/a"}),
    ("memory per idle TLS connection", "memory", "per_tls_kib", "KiB",
     {"peer": "n/a"}),
    ("inbound accepted, [server] dispatchers = 1", "dispatchers-1",
     "accepted_rate", "msg/s", {"tags": {"postfix": "dispatchers", "ceiling": "dispatchers"}}),
    ("inbound accepted, [server] dispatchers = 2", "dispatchers-2",
     "accepted_rate", "msg/s", {"tags": {"postfix": "dispatchers", "ceiling": "dispatchers"}}),
    ("instructions per message, inbound (callgrind, all processes)", "instructions",
     "ir_per_msg", "Ir", {"peer": "n/a"}),
)
LOWER_IS_BETTER = {"ms", "MiB", "KiB", "Ir", "s"}


def load(path):
    """{tag: {who: [record, ...]}} from the results file."""
    out = {}
    try:
        with open(path) as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    out.setdefault(r["tag"], {}).setdefault(r["who"], []).append(r)
    except FileNotFoundError:
        pass
    return out


def values(res, tag, who, metric):
    return [r[metric] for r in res.get(tag, {}).get(who, []) if r.get(metric) is not None]


def handshakes(rec):
    """" (H TLS, U resumed)" for a round that made TLS handshakes."""
    c = rec.get("client") or {}
    if not c.get("tls"):
        return ""
    return f" ({c['tls']} TLS, {c.get('resumed', 0)} resumed)"


def med(vals):
    return statistics.median(vals) if vals else None


def fmt(x, unit):
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    if unit == "ms":
        return f"{x:.2f}" if x < 100 else f"{x:,.0f}"
    if unit == "s":
        return f"{x:.3f}"
    if unit in ("KiB", "MiB"):
        return f"{x:,.1f}" if x < 1000 else f"{x:,.0f}"
    return f"{x:,.0f}"


def ratio(a, b, fmt_str="{:.2f}x"):
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or not b:
        return "-"
    return fmt_str.format(a / b)


def smtp_rows(res):
    """[(label, unit, sealmail, postfix, ceiling, detail)] for the rows that ran."""
    rows = []
    for label, tag, metric, unit, opt in ROWS:
        tags = {w: opt.get("tags", {}).get(w, tag) for w in ("sealmail", "postfix", "ceiling")}
        if not any(tags[w] in res for w in tags):
            continue
        cell, detail = {}, {}
        for who in ("sealmail", "postfix", "ceiling"):
            m = opt.get("ceil_metric", metric) if who == "ceiling" else metric
            v = values(res, tags[who], who, m)
            detail[who] = [(x, handshakes(r)) for x, r in zip(v, res.get(tags[who], {}).get(who, []))]
            cell[who] = med(v)
        if opt.get("only") == "ceiling":
            cell["sealmail"] = cell["postfix"] = ""
        elif opt.get("peer") == "n/a" and cell["postfix"] is None:
            cell["postfix"] = "n/a"
        recs = [r for w in tags for r in res.get(tags[w], {}).get(w, [])]
        if "{connections}" in label:
            n = recs[0].get("connections", 0) if recs else 0
            label = label.format(connections=f"{n:,.0f}")
        rows.append((f"{label} ({unit})", unit, cell["sealmail"], cell["postfix"],
                     cell["ceiling"], detail))
    return rows


def imap_rows(path):
    """Rows from bench/imap's saved table: "%-40s" operation, "%14s" per
    server (dovecot first), then the ratio."""
    rows = []
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except (FileNotFoundError, TypeError):
        return rows
    head = next((ln for ln in lines if ln.startswith("operation")), None)
    if head is None:
        return rows
    servers = [head[40 + 14 * i:54 + 14 * i].strip() for i in range(2)]
    servers = [s for s in servers if s in ("dovecot", "sealmail")]
    for ln in lines[lines.index(head) + 1:]:
        if not ln[:40].strip() or ln.startswith(("dovecot", "sealmail", "cold =")):
            continue
        cells = {s: ln[40 + 14 * i:54 + 14 * i].strip() for i, s in enumerate(servers)}
        nums, unit = {}, "s"
        for s, c in cells.items():
            num, _, u = c.partition(" ")
            try:
                nums[s] = float(num)
                unit = u or unit
            except ValueError:
                nums[s] = None
        rows.append((f"imap {ln[:40].strip()} ({unit}; peer Dovecot)", unit,
                     nums.get("sealmail"), nums.get("dovecot"), None,
                     {"sealmail": [], "postfix": [], "ceiling": []}))
    return rows


def render(rows):
    head = ("figure", "sealmail", "Postfix", "ratio", "ceiling", "sealmail/ceiling")
    body = []
    for label, unit, s, p, c, _ in rows:
        body.append((label, fmt(s, unit), fmt(p, unit), ratio(s, p), fmt(c, unit),
                     ratio(s, c, "{:.0%}")))
    w = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]

    def line(cells):
        return "| " + " | ".join(
            c.ljust(w[i]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(cells)) + " |"
    out = [line(head), "|" + "|".join(("-" * (w[i] + 1)) + (":" if i else "-")
                                       for i in range(len(head))) + "|"]
    return out + [line(b) for b in body]


def rounds(rows):
    out = ["rounds (every figure, in order):"]
    for label, unit, _s, _p, _c, detail in rows:
        parts = [f"{who} {', '.join(fmt(v, unit) + h for v, h in vals)}"
                 for who, vals in detail.items() if vals]
        if parts:
            out.append(f"  {label}: " + "; ".join(parts))
    return out


def main(args):
    res = load(args.results)
    rows = smtp_rows(res) + imap_rows(args.imap)
    notes = args.note + [
        "ratio = sealmail / Postfix (Dovecot for imap rows), sealmail/ceiling = sealmail / "
        "ceiling; higher is better for msg/s and /s, lower for " +
        ", ".join(sorted(LOWER_IS_BETTER)) +
        ". n/a: the peer cannot be measured this way; -: not measured."]
    # notes as a Markdown list, so RESULTS.md shows them one per line
    table = [args.header, ""] + render(rows) + [""] + ["- " + n for n in notes]
    text = "\n".join(table)
    print(text)
    print()
    print("\n".join(rounds(rows)))
    if args.table_out:
        with open(args.table_out, "w") as f:
            f.write(text + "\n")
    return 0
