/*
 * queue_tlsrpt.c: TLS-RPT in the queue role (see queue_tlsrpt.h).
 *
 * Counting costs a hash lookup per task result; the counts reach the disk
 * in one file written by the timer at most every QUEUE_TLSRPT_SAVE_SECONDS
 * (and at exit), never per message. A crash loses at most those seconds of
 * counts; a crash between a report's queueing and the next save can send
 * that report twice (its report-id lets the receiver see it).
 *
 * The report mail (RFC 8460 5.3) is queued with the null reverse-path, as
 * a DSN is: it is automatic mail to an address taken from DNS, so a
 * failure to deliver it must not come back as a bounce to anyone (RFC 5321
 * 4.5.5; the queue sends no DSN about null-sender mail) and no recipient
 * asks for one (NOTIFY=NEVER). Its From: is [outbound] tls_report_from.
 * It carries ENVELOPE_TLS_OPTIONAL (and "TLS-Required: No"): RFC 8460 3
 * says a report MUST be delivered despite any TLS failure, and SHOULD NOT
 * count in the next report, so the sessions of the report mails queued
 * by this process are not counted. https: rua URIs (RFC 8460 5.4) are
 * not sent to: logged and skipped.
 */
#include "queue/queue_tlsrpt.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "lib/util.h"
#include "policy/tlsrpt.h"
#include "queue/tlsrpt_mail.h"
#include "queue/tlsrpt_store.h"

static struct queue_tlsrpt {
	struct queue *q;
	struct tlsrpt_store *store;
	struct event *ev_tick;
	uint32_t due_day; /* the day whose send time DUE_AT is */
	uint64_t due_at;  /* when the days before DUE_DAY are sent */
	char own[QUEUE_TLSRPT_OWN_MAX][32];
	unsigned own_next;
} qt;

/* "2026-12-01" for DAY (days since the epoch). */
static void day_text(uint32_t day, char *buf, size_t size)
{
	time_t t = (time_t)day * TLSRPT_DAY_SECONDS;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, size, "%Y-%m-%d", &tm) == 0)
		snprintf(buf, size, "day %" PRIu32, day);
}

/* Writes the counts when they changed since the last write. */
static void queue_tlsrpt_save(void)
{
	const char *why;

	if (qt.store == NULL || !qt.store->dirty)
		return;
	if (tlsrpt_store_save(qt.store, QUEUE_TLSRPT_DIR, &why) < 0)
		log_error("event=tls-report-error reason=\"cannot save the counts: %s\"", why);
}

/* 1 when ID is a report mail this process queued. */
static int queue_tlsrpt_own(const char *id)
{
	for (unsigned i = 0; i < QUEUE_TLSRPT_OWN_MAX; i++)
		if (qt.own[i][0] != '\0' && strcmp(qt.own[i], id) == 0)
			return 1;
	return 0;
}

void queue_tlsrpt_task_result(const struct queue_msg *m, const char *domain,
                              const struct mta_report *report)
{
	if (qt.store == NULL || queue_tlsrpt_own(m->id))
		return;
	if (tlsrpt_store_count(qt.store, domain, (uint64_t)time(NULL), report) == TLSRPT_DROPPED)
		log_warn("event=tls-report-dropped domain=%s reason=\"a bound of the counts\"",
		         domain);
}

/* ---- sending ------------------------------------------------------------ */

/* The mailto: addresses of RUA into REC; -1 (logged, and said to OUT)
 * when the domain gets no mail report. */
static int queue_tlsrpt_rua(const struct tlsrpt_domain *dom, struct tlsrpt_record *rec,
                            struct evbuffer *out)
{
	const char *why = "no mailto: URI (https: is not supported)";

	if (tlsrpt_rua_parse(dom->rua, rec, &why) < 0 || rec->n_mailto == 0) {
		log_info("event=tls-report-skipped domain=%s reason=\"rua: %s\"", dom->name, why);
		evbuffer_add_printf(out, "%s: skipped: rua: %s\n", dom->name, why);
		return -1;
	}
	for (uint32_t i = 0; i < rec->n_rua; i++)
		if (rec->rua[i].kind == TLSRPT_URI_HTTPS)
			log_info("event=tls-report-skipped domain=%s uri=%s reason=\"https: rua "
			         "is not supported\"",
			         dom->name, rec->rua[i].uri);
	return 0;
}

/* Queues the report mail TEXT (LEN bytes) to the mailto: addresses of
 * REC; its id into ID_R. Returns 0 or -1 (logged by queue_inject). */
static int queue_tlsrpt_inject(const struct tlsrpt_record *rec, const char *text, size_t len,
                               char *id_r)
{
	struct queue *q = qt.q;
	struct envelope env;
	int r;

	envelope_init(&env);
	env.time = (uint64_t)time(NULL);
	env.flags = ENVELOPE_TLS_OPTIONAL;
	strlcpy_checked(env.helo, q->cfg.hostname, sizeof(env.helo));
	strlcpy_checked(env.client, "127.0.0.1", sizeof(env.client));
	for (uint32_t i = 0; i < rec->n_rua; i++)
		if (rec->rua[i].kind == TLSRPT_URI_MAILTO)
			envelope_add_rcpt(&env, rec->rua[i].address, NOTIFY_NEVER, NULL);
	r = queue_inject(q, &env, text, len, id_r);
	envelope_free(&env);
	if (r == 0) {
		strlcpy_checked(qt.own[qt.own_next], id_r, sizeof(qt.own[0]));
		qt.own_next = (qt.own_next + 1) % QUEUE_TLSRPT_OWN_MAX;
	}
	return r;
}

/* The report mail of R about DOM to REC's addresses; NULL with *ERROR_R. */
static char *queue_tlsrpt_mail(const struct tlsrpt_report *r, const char *unique,
                               const struct tlsrpt_domain *dom, const struct tlsrpt_record *rec,
                               size_t *len_r, const char **error_r)
{
	const struct config *cfg = &qt.q->cfg;
	const char *to[TLSRPT_RUA_MAX];
	struct tlsrpt_mail m = {0};
	struct evbuffer *json = evbuffer_new();
	char *text = NULL;

	for (uint32_t i = 0; i < rec->n_rua; i++)
		if (rec->rua[i].kind == TLSRPT_URI_MAILTO)
			to[m.n_to++] = rec->rua[i].address;
	m.from = cfg->outbound_tls_report_from;
	m.to = to;
	m.domain = dom->name;
	m.submitter = cfg->hostname;
	m.organization = cfg->outbound_tls_report_org;
	m.report_id = r->report_id;
	m.unique = unique;
	m.begin = r->start;
	m.end = r->end;
	m.now = time(NULL);
	if (tlsrpt_report_json(r, json, error_r) == 0) {
		m.json_len = evbuffer_get_length(json);
		m.json = (const char *)evbuffer_pullup(json, -1);
		text = tlsrpt_mail_build(&m, len_r, error_r);
	}
	evbuffer_free(json);
	return text;
}

/* Sends DOM its report for DAY (R: room for it). Returns 1 when queued,
 * 0 when the domain gets none, -1 on an error; each said to OUT. */
static int queue_tlsrpt_send_domain(const struct tlsrpt_domain *dom, uint32_t day,
                                    struct tlsrpt_report *r, struct evbuffer *out)
{
	const struct config *cfg = &qt.q->cfg;
	struct tlsrpt_record rec;
	const char *why = "the report-id does not fit";
	char unique[17], id[32], *text = NULL;
	size_t len;

	if (dom->rua[0] == '\0' || queue_tlsrpt_rua(dom, &rec, out) < 0)
		return 0;
	memset(r, 0, sizeof(*r));
	random_hex_id(unique, sizeof(unique));
	strlcpy_checked(r->organization_name, cfg->outbound_tls_report_org,
	                sizeof(r->organization_name));
	strlcpy_checked(r->contact_info, cfg->outbound_tls_report_from, sizeof(r->contact_info));
	tlsrpt_store_fill_report(dom, day, r);
	tlsrpt_store_fill_sts(dom, QUEUE_TLSRPT_STS_DIR, r); /* at report time, not per delivery */
	if (tlsrpt_report_id(r->start, unique, cfg->hostname, r->report_id, sizeof(r->report_id)) ==
	    0)
		text = queue_tlsrpt_mail(r, unique, dom, &rec, &len, &why);
	if (text == NULL || queue_tlsrpt_inject(&rec, text, len, id) < 0) {
		log_error("event=tls-report-error domain=%s reason=\"%s\"", dom->name,
		          text == NULL ? why : "cannot queue the report");
		evbuffer_add_printf(out, "%s: error: %s\n", dom->name,
		                    text == NULL ? why : "cannot queue the report");
		free(text);
		return -1;
	}
	free(text);
	log_info("event=tls-report-queued domain=%s id=%s report_id=%s rua=%s", dom->name, id,
	         r->report_id, dom->rua);
	evbuffer_add_printf(out, "%s: queued %s report-id %s\n", dom->name, id, r->report_id);
	return 1;
}

/* Sends the reports of every kept day up to LAST (inclusive) and forgets
 * those days; with reports off, only forgets them. Returns how many were
 * queued; says what it did to OUT. */
static unsigned queue_tlsrpt_send_days(uint32_t last, struct evbuffer *out)
{
	struct tlsrpt_report *r = xcalloc(1, sizeof(*r));
	struct tlsrpt_day *d;
	unsigned sent = 0;
	char when[32];

	while (qt.store->n_days > 0 && (d = qt.store->days[0])->day <= last) {
		day_text(d->day, when, sizeof(when));
		if (!qt.q->cfg.outbound_tls_report)
			log_info("event=tls-report-skipped day=%s domains=%" PRIu32
			         " reason=\"tls_report = no\"",
			         when, d->n_domains);
		for (uint32_t i = 0; i < d->n_domains && qt.q->cfg.outbound_tls_report; i++)
			sent += queue_tlsrpt_send_domain(d->domains[i], d->day, r, out) > 0;
		tlsrpt_store_forget_day(qt.store, d->day);
	}
	free(r);
	queue_tlsrpt_save(); /* what was sent is not sent again after a restart */
	return sent;
}

/* Once the days before today are due (a random while after midnight UTC,
 * RFC 8460 5.1), sends them. */
static void queue_tlsrpt_daily(uint64_t now)
{
	uint32_t today = (uint32_t)(now / TLSRPT_DAY_SECONDS);
	struct evbuffer *out;
	uint32_t spread;

	if (qt.store->n_days == 0 || qt.store->days[0]->day >= today)
		return;
	if (qt.due_day != today) {
		random_bytes(&spread, sizeof(spread));
		qt.due_day = today;
		qt.due_at = (uint64_t)today * TLSRPT_DAY_SECONDS + QUEUE_TLSRPT_DELAY_MIN +
		            spread % (QUEUE_TLSRPT_DELAY_MAX - QUEUE_TLSRPT_DELAY_MIN + 1);
	}
	if (now < qt.due_at)
		return;
	out = evbuffer_new();
	queue_tlsrpt_send_days(today - 1, out);
	evbuffer_free(out);
}

static void queue_tlsrpt_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	queue_tlsrpt_daily((uint64_t)time(NULL));
	queue_tlsrpt_save();
}

void queue_tlsrpt_start(struct queue *q)
{
	struct timeval every = {QUEUE_TLSRPT_SAVE_SECONDS, 0};
	const char *why;

	qt.q = q;
	qt.store = tlsrpt_store_new();
	if (tlsrpt_store_load(qt.store, QUEUE_TLSRPT_DIR, &why) < 0)
		log_error("event=tls-report-error reason=\"counts not read back: %s; starting "
		          "afresh\"",
		          why);
	qt.ev_tick = event_new(q->base, -1, EV_PERSIST, queue_tlsrpt_tick_cb, NULL);
	event_add(qt.ev_tick, &every);
}

void queue_tlsrpt_stop(void)
{
	queue_tlsrpt_save();
	if (qt.ev_tick != NULL)
		event_free(qt.ev_tick);
	tlsrpt_store_free(&qt.store);
	memset(&qt, 0, sizeof(qt));
}

/* ---- `sealmail tls-report` -------------------------------------------------- */

/* One policy's lines of `tls-report show`. */
static void queue_tlsrpt_show_policy(const struct tlsrpt_counts *p, struct evbuffer *out)
{
	evbuffer_add_printf(out, "policy: %s", p->type);
	if (p->sts_id[0] != '\0')
		evbuffer_add_printf(out, " id=%s", p->sts_id);
	if (p->mx[0] != '\0')
		evbuffer_add_printf(out, " mx=%s", p->mx);
	evbuffer_add_printf(out, "\nsuccessful: %" PRIu64 "\nfailed: %" PRIu64 "\n", p->successful,
	                    p->failed);
	for (uint32_t i = 0; i < p->n_details; i++)
		evbuffer_add_printf(
		    out, "failure: %s mx=%s ip=%s sessions=%" PRIu64 "\n",
		    p->details[i].result_type, p->details[i].mx[0] ? p->details[i].mx : "-",
		    p->details[i].ip[0] ? p->details[i].ip : "-", p->details[i].sessions);
	if (p->details_dropped > 0)
		evbuffer_add_printf(out, "failures-dropped: %" PRIu64 "\n", p->details_dropped);
}

static void queue_tlsrpt_show_domain(const struct tlsrpt_domain *dom, struct evbuffer *out)
{
	evbuffer_add_printf(out, "\ndomain: %s\nrua: %s\n", dom->name,
	                    dom->rua[0] ? dom->rua : "-");
	if (dom->dropped > 0)
		evbuffer_add_printf(out, "dropped: %" PRIu64 "\n", dom->dropped);
	for (uint32_t i = 0; i < dom->n_policies; i++)
		queue_tlsrpt_show_policy(&dom->policies[i], out);
}

/* `tls-report show [DOMAIN]`: today's counts, of DOMAIN or of all. */
static int queue_tlsrpt_show(const char *domain, struct evbuffer *out)
{
	uint32_t today = (uint32_t)((uint64_t)time(NULL) / TLSRPT_DAY_SECONDS);
	struct tlsrpt_day *d = tlsrpt_store_day(qt.store, today);
	struct tlsrpt_domain *dom = NULL;
	char when[32];

	if (domain != NULL && (d == NULL || (dom = tlsrpt_day_domain(d, domain)) == NULL)) {
		evbuffer_add_printf(out, "%s: no sessions counted today\n", domain);
		return 1;
	}
	day_text(today, when, sizeof(when));
	evbuffer_add_printf(out, "tls-report: %s\nday: %s\n",
	                    qt.q->cfg.outbound_tls_report ? "on" : "off", when);
	for (uint32_t i = 0; i < qt.store->n_days; i++)
		if (qt.store->days[i]->day != today) {
			day_text(qt.store->days[i]->day, when, sizeof(when));
			evbuffer_add_printf(out, "unsent-day: %s\n", when);
		}
	if (dom != NULL) {
		queue_tlsrpt_show_domain(dom, out);
		return 0;
	}
	evbuffer_add_printf(out, "domains: %" PRIu32 "\n", d ? d->n_domains : 0);
	if (d != NULL && d->dropped > 0)
		evbuffer_add_printf(out, "dropped: %" PRIu64 "\n", d->dropped);
	for (uint32_t i = 0; d != NULL && i < d->n_domains; i++)
		queue_tlsrpt_show_domain(d->domains[i], out);
	return 0;
}

/* `tls-report send [--today]`: the reports of the days before today (and
 * of today with --today) now. */
static int queue_tlsrpt_send_now(int today_too, struct evbuffer *out)
{
	uint32_t today = (uint32_t)((uint64_t)time(NULL) / TLSRPT_DAY_SECONDS);
	unsigned n;

	if (!qt.q->cfg.outbound_tls_report) {
		evbuffer_add_printf(out, "TLS reports are off ([outbound] tls_report = no)\n");
		return 1;
	}
	n = queue_tlsrpt_send_days(today_too ? today : today - 1, out);
	evbuffer_add_printf(out, "%u report%s queued\n", n, n == 1 ? "" : "s");
	return 0;
}

int queue_tlsrpt_ctl(char **argv, int argc, struct evbuffer *out)
{
	if (qt.store == NULL) {
		evbuffer_add_printf(out, "TLS reporting is not running\n");
		return 1;
	}
	if ((argc == 2 || argc == 3) && strcmp(argv[1], "show") == 0)
		return queue_tlsrpt_show(argc == 3 ? argv[2] : NULL, out);
	if (argc == 2 && strcmp(argv[1], "send") == 0)
		return queue_tlsrpt_send_now(0, out);
	if (argc == 3 && strcmp(argv[1], "send") == 0 && strcmp(argv[2], "--today") == 0)
		return queue_tlsrpt_send_now(1, out);
	evbuffer_add_printf(out, "usage: tls-report show [DOMAIN] | send [--today]\n");
	return 1;
}
