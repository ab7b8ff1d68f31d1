/*
 * tlsrpt_store.c: the TLS-RPT counts in memory, as bytes and in their file
 * (see tlsrpt_store.h). Called by queue_tlsrpt.c and the unit tests; calls
 * lib/ (hash, ipc codec, crc32c, util) and, for the lines of an MTA-STS
 * policy, the pure parsers of policy/.
 *
 * Fault points (lib/fault.h): queue/tlsrpt/write, queue/tlsrpt/rename.
 */
#include "queue/tlsrpt_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lib/crc32c.h"
#include "lib/fault.h"
#include "lib/hash.h"
#include "lib/ipc.h"
#include "lib/util.h"
#include "policy/sts.h"

#define TLSRPT_STORE_MAGIC 0x54525054u /* "TPRT" read as little-endian */
#define TLSRPT_STORE_VERSION 1

/* ---- memory ------------------------------------------------------------ */

struct tlsrpt_store *tlsrpt_store_new(void)
{
	return xcalloc(1, sizeof(struct tlsrpt_store));
}

static void tlsrpt_domain_free(struct tlsrpt_domain *dom)
{
	for (uint32_t i = 0; i < dom->n_policies; i++)
		free(dom->policies[i].details);
	free(dom->policies);
	free(dom);
}

static void tlsrpt_day_free(struct tlsrpt_day *d)
{
	for (uint32_t i = 0; i < d->n_domains; i++)
		tlsrpt_domain_free(d->domains[i]);
	free(d->domains);
	free(d);
}

/* Empties S (its drop counter too). */
static void tlsrpt_store_clear(struct tlsrpt_store *s)
{
	for (uint32_t i = 0; i < s->n_days; i++)
		tlsrpt_day_free(s->days[i]);
	memset(s, 0, sizeof(*s));
}

void tlsrpt_store_free(struct tlsrpt_store **s)
{
	if (*s == NULL)
		return;
	tlsrpt_store_clear(*s);
	free(*s);
	*s = NULL;
}

struct tlsrpt_day *tlsrpt_store_day(const struct tlsrpt_store *s, uint32_t day)
{
	for (uint32_t i = 0; i < s->n_days; i++)
		if (s->days[i]->day == day)
			return s->days[i];
	return NULL;
}

void tlsrpt_store_forget_day(struct tlsrpt_store *s, uint32_t day)
{
	for (uint32_t i = 0; i < s->n_days; i++)
		if (s->days[i]->day == day) {
			tlsrpt_day_free(s->days[i]);
			memmove(&s->days[i], &s->days[i + 1],
			        (s->n_days - i - 1) * sizeof(s->days[0]));
			s->n_days--;
			s->dirty = 1;
			return;
		}
}

/* The kept day DAY, made when there is none: in date order, pushing out
 * the oldest when full; NULL when DAY is older than every kept full set. */
static struct tlsrpt_day *tlsrpt_day_get(struct tlsrpt_store *s, uint32_t day)
{
	struct tlsrpt_day *d = tlsrpt_store_day(s, day);
	uint32_t at;

	if (d != NULL)
		return d;
	for (at = 0; at < s->n_days && s->days[at]->day < day; at++)
		;
	if (s->n_days == TLSRPT_STORE_DAYS_MAX) {
		if (at == 0)
			return NULL;
		tlsrpt_store_forget_day(s, s->days[0]->day);
		at--;
	}
	memmove(&s->days[at + 1], &s->days[at], (s->n_days - at) * sizeof(s->days[0]));
	d = xcalloc(1, sizeof(*d));
	d->day = day;
	s->days[at] = d;
	s->n_days++;
	return d;
}

/* The hash chain of NAME (lower case) on a day. */
static unsigned tlsrpt_bucket(const char *name)
{
	return (unsigned)(hash_str(0, name) % TLSRPT_STORE_BUCKETS);
}

struct tlsrpt_domain *tlsrpt_day_domain(const struct tlsrpt_day *d, const char *name)
{
	char lower[TLSRPT_NAME_MAX];
	struct tlsrpt_domain *dom;

	if (strlcpy_checked(lower, name, sizeof(lower)) < 0)
		return NULL;
	str_lower(lower);
	for (dom = d->buckets[tlsrpt_bucket(lower)]; dom != NULL; dom = dom->hash_next)
		if (strcmp(dom->name, lower) == 0)
			return dom;
	return NULL;
}

/* The domain NAME on day D, made when there is none; NULL past the bound
 * or when NAME does not fit. */
static struct tlsrpt_domain *tlsrpt_domain_get(struct tlsrpt_day *d, const char *name)
{
	struct tlsrpt_domain *dom = tlsrpt_day_domain(d, name);
	unsigned b;

	if (dom != NULL)
		return dom;
	if (d->n_domains >= TLSRPT_STORE_DOMAINS_MAX || name[0] == '\0' ||
	    strlen(name) >= TLSRPT_NAME_MAX)
		return NULL;
	dom = xcalloc(1, sizeof(*dom));
	strlcpy_checked(dom->name, name, sizeof(dom->name));
	str_lower(dom->name);
	b = tlsrpt_bucket(dom->name);
	dom->hash_next = d->buckets[b];
	d->buckets[b] = dom;
	if (d->n_domains == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 16;
		d->domains = xrealloc(d->domains, d->cap * sizeof(d->domains[0]));
	}
	d->domains[d->n_domains++] = dom;
	return dom;
}

/* The policy (TYPE, STS_ID, MX) of DOM, made when there is none; NULL past
 * the bound. */
static struct tlsrpt_counts *tlsrpt_policy_get(struct tlsrpt_domain *dom, const char *type,
                                               const char *sts_id, const char *mx)
{
	struct tlsrpt_counts *p;

	for (uint32_t i = 0; i < dom->n_policies; i++) {
		p = &dom->policies[i];
		if (strcmp(p->type, type) == 0 && strcmp(p->sts_id, sts_id) == 0 &&
		    strcasecmp(p->mx, mx) == 0)
			return p;
	}
	if (dom->n_policies >= TLSRPT_STORE_POLICIES_MAX)
		return NULL;
	dom->policies = xrealloc(dom->policies, (dom->n_policies + 1) * sizeof(*p));
	p = &dom->policies[dom->n_policies++];
	memset(p, 0, sizeof(*p));
	strlcpy_checked(p->type, type, sizeof(p->type));
	strlcpy_checked(p->sts_id, sts_id, sizeof(p->sts_id));
	strlcpy_checked(p->mx, mx, sizeof(p->mx));
	str_lower(p->mx);
	return p;
}

/* The failure row (TYPE, MX, IP) of P, made when there is none; NULL past
 * the bound. */
static struct tlsrpt_detail *tlsrpt_detail_get(struct tlsrpt_counts *p, const char *type,
                                               const char *mx, const char *ip)
{
	struct tlsrpt_detail *f;

	for (uint32_t i = 0; i < p->n_details; i++) {
		f = &p->details[i];
		if (strcmp(f->result_type, type) == 0 && strcasecmp(f->mx, mx) == 0 &&
		    strcmp(f->ip, ip) == 0)
			return f;
	}
	if (p->n_details >= TLSRPT_STORE_DETAILS_MAX)
		return NULL;
	p->details = xrealloc(p->details, (p->n_details + 1) * sizeof(*f));
	f = &p->details[p->n_details++];
	memset(f, 0, sizeof(*f));
	strlcpy_checked(f->result_type, type, sizeof(f->result_type));
	strlcpy_checked(f->mx, mx, sizeof(f->mx));
	strlcpy_checked(f->ip, ip, sizeof(f->ip));
	str_lower(f->mx);
	return f;
}

/* Adds SUCCESSFUL and FAILED sessions to a policy, FAILED also to the row
 * (RESULT_TYPE, MX, IP) when RESULT_TYPE is not "". */
static void tlsrpt_policy_add(struct tlsrpt_counts *p, uint64_t successful, uint64_t failed,
                              const char *result_type, const char *mx, const char *ip)
{
	struct tlsrpt_detail *f;

	p->successful += successful;
	p->failed += failed;
	if (failed == 0 || result_type[0] == '\0')
		return;
	if ((f = tlsrpt_detail_get(p, result_type, mx, ip)) != NULL)
		f->sessions += failed;
	else
		p->details_dropped += failed;
}

/* 1 when REPORT describes a TLS session to count (see the header). */
static int tlsrpt_is_session(const struct mta_report *report)
{
	return report->rpt_policy[0] != '\0' &&
	       (report->relay[0] != '\0' || report->rpt_type[0] != '\0');
}

enum tlsrpt_counted tlsrpt_store_count(struct tlsrpt_store *s, const char *domain, uint64_t now,
                                       const struct mta_report *report)
{
	const char *mx = strcmp(report->rpt_policy, "tlsa") == 0 ? report->rpt_mx : "";
	const char *sts_id = strcmp(report->rpt_policy, "sts") == 0 ? report->sts_id : "";
	int failed = report->rpt_type[0] != '\0';
	struct tlsrpt_domain *dom;
	struct tlsrpt_counts *p;
	struct tlsrpt_day *d;

	if (!tlsrpt_is_session(report))
		return TLSRPT_NOT_SESSION;
	s->dirty = 1;
	if ((d = tlsrpt_day_get(s, (uint32_t)(now / TLSRPT_DAY_SECONDS))) == NULL) {
		s->dropped++;
		return TLSRPT_DROPPED;
	}
	if ((dom = tlsrpt_domain_get(d, domain)) == NULL) {
		d->dropped++;
		return TLSRPT_DROPPED;
	}
	strlcpy_checked(dom->rua, report->rua, sizeof(dom->rua));
	if ((p = tlsrpt_policy_get(dom, report->rpt_policy, sts_id, mx)) == NULL) {
		dom->dropped++;
		return TLSRPT_DROPPED;
	}
	tlsrpt_policy_add(p, !failed, failed, report->rpt_type, report->rpt_mx, report->rpt_ip);
	return TLSRPT_COUNTED;
}

/* ---- the report's policies ----------------------------------------------- */

void tlsrpt_store_fill_report(const struct tlsrpt_domain *dom, uint32_t day,
                              struct tlsrpt_report *r)
{
	r->start = (uint64_t)day * TLSRPT_DAY_SECONDS;
	r->end = r->start + TLSRPT_DAY_SECONDS - 1;
	r->n_policies = 0;
	for (uint32_t i = 0; i < dom->n_policies && i < TLSRPT_POLICIES_MAX; i++) {
		const struct tlsrpt_counts *c = &dom->policies[i];
		struct tlsrpt_policy *p = &r->policies[r->n_policies++];

		memset(p, 0, sizeof(*p));
		strlcpy_checked(p->policy_type, c->type, sizeof(p->policy_type));
		strlcpy_checked(p->policy_domain, dom->name, sizeof(p->policy_domain));
		if (c->mx[0] != '\0') {
			strlcpy_checked(p->mx_hosts[0], c->mx, sizeof(p->mx_hosts[0]));
			p->n_mx_hosts = 1;
		}
		p->total_successful_session_count = c->successful;
		p->total_failure_session_count = c->failed;
		for (uint32_t j = 0; j < c->n_details && j < TLSRPT_FAILURES_MAX; j++) {
			struct tlsrpt_failure *f = &p->failures[p->n_failures++];
			strlcpy_checked(f->result_type, c->details[j].result_type,
			                sizeof(f->result_type));
			strlcpy_checked(f->receiving_mx_hostname, c->details[j].mx,
			                sizeof(f->receiving_mx_hostname));
			strlcpy_checked(f->receiving_ip, c->details[j].ip, sizeof(f->receiving_ip));
			f->failed_session_count = c->details[j].sessions;
		}
	}
}

/* 1 when one of the first N counted policies of DOM is an "sts" one. */
static int tlsrpt_domain_has_sts(const struct tlsrpt_domain *dom, uint32_t n)
{
	for (uint32_t i = 0; i < n && i < dom->n_policies; i++)
		if (strcmp(dom->policies[i].type, "sts") == 0)
			return 1;
	return 0;
}

void tlsrpt_store_fill_sts(const struct tlsrpt_domain *dom, const char *dir,
                           struct tlsrpt_report *r)
{
	char path[4200];
	struct sts_policy sts;
	const char *body, *why;
	size_t len, body_len;
	char *text;

	if (!tlsrpt_domain_has_sts(dom, r->n_policies) || !sts_host_valid(dom->name))
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, dom->name);
	text = read_file(path, STS_CACHE_FILE_SIZE_MAX, &len);
	if (text == NULL)
		return; /* not cached (or unreadable): the lines stay out */
	if (sts_cache_text_parse(text, len, &sts, &body, &body_len, &why) == 0)
		for (uint32_t i = 0; i < r->n_policies && i < dom->n_policies; i++)
			if (strcmp(dom->policies[i].type, "sts") == 0 &&
			    strcmp(dom->policies[i].sts_id, sts.id) == 0)
				tlsrpt_policy_fill_sts(&r->policies[i], &sts, body, body_len);
	free(text);
}

/* ---- bytes ----------------------------------------------------------------- */

static void tlsrpt_domain_encode(const struct tlsrpt_domain *dom, struct ipc_writer *w)
{
	ipc_put_str(w, dom->name);
	ipc_put_str(w, dom->rua);
	ipc_put_u64(w, dom->dropped);
	ipc_put_u32(w, dom->n_policies);
	for (uint32_t i = 0; i < dom->n_policies; i++) {
		const struct tlsrpt_counts *p = &dom->policies[i];
		ipc_put_str(w, p->type);
		ipc_put_str(w, p->sts_id);
		ipc_put_str(w, p->mx);
		ipc_put_u64(w, p->successful);
		ipc_put_u64(w, p->failed);
		ipc_put_u64(w, p->details_dropped);
		ipc_put_u32(w, p->n_details);
		for (uint32_t j = 0; j < p->n_details; j++) {
			ipc_put_str(w, p->details[j].result_type);
			ipc_put_str(w, p->details[j].mx);
			ipc_put_str(w, p->details[j].ip);
			ipc_put_u64(w, p->details[j].sessions);
		}
	}
}

void tlsrpt_store_encode(const struct tlsrpt_store *s, struct ipc_writer *w)
{
	size_t start = w->len;

	ipc_put_u32(w, TLSRPT_STORE_MAGIC);
	ipc_put_u32(w, TLSRPT_STORE_VERSION);
	ipc_put_u64(w, s->dropped);
	ipc_put_u32(w, s->n_days);
	for (uint32_t i = 0; i < s->n_days; i++) {
		const struct tlsrpt_day *d = s->days[i];
		ipc_put_u32(w, d->day);
		ipc_put_u64(w, d->dropped);
		ipc_put_u32(w, d->n_domains);
		for (uint32_t j = 0; j < d->n_domains; j++)
			tlsrpt_domain_encode(d->domains[j], w);
	}
	ipc_put_u32(w, crc32c(0, w->buf + start, w->len - start));
}

/* One policy of DOM from R: through the same paths as counting, so the
 * bounds and the uniqueness of keys hold for what is read back. */
static void tlsrpt_policy_decode(struct ipc_reader *r, struct tlsrpt_domain *dom)
{
	char type[TLSRPT_TYPE_MAX], sts_id[STS_ID_MAX], mx[TLSRPT_NAME_MAX], ip[TLSRPT_IP_MAX];
	struct tlsrpt_counts *p;
	uint32_t n;

	ipc_get_str(r, type, sizeof(type));
	ipc_get_str(r, sts_id, sizeof(sts_id));
	ipc_get_str(r, mx, sizeof(mx));
	if (r->error || type[0] == '\0' || (p = tlsrpt_policy_get(dom, type, sts_id, mx)) == NULL ||
	    p->successful + p->failed != 0) {
		r->error = 1;
		return;
	}
	p->successful = ipc_get_u64(r);
	p->failed = ipc_get_u64(r);
	p->details_dropped = ipc_get_u64(r);
	n = ipc_get_u32(r);
	for (uint32_t j = 0; j < n && !r->error; j++) {
		struct tlsrpt_detail *f;
		ipc_get_str(r, type, sizeof(type));
		ipc_get_str(r, mx, sizeof(mx));
		ipc_get_str(r, ip, sizeof(ip));
		if (r->error || type[0] == '\0' ||
		    (f = tlsrpt_detail_get(p, type, mx, ip)) == NULL || f->sessions != 0) {
			r->error = 1;
			return;
		}
		f->sessions = ipc_get_u64(r);
	}
}

static void tlsrpt_domain_decode(struct ipc_reader *r, struct tlsrpt_day *d)
{
	char name[TLSRPT_NAME_MAX];
	struct tlsrpt_domain *dom;
	uint32_t n;

	ipc_get_str(r, name, sizeof(name));
	if (r->error || tlsrpt_day_domain(d, name) != NULL ||
	    (dom = tlsrpt_domain_get(d, name)) == NULL) {
		r->error = 1;
		return;
	}
	ipc_get_str(r, dom->rua, sizeof(dom->rua));
	dom->dropped = ipc_get_u64(r);
	n = ipc_get_u32(r);
	if (n > TLSRPT_STORE_POLICIES_MAX)
		r->error = 1;
	for (uint32_t i = 0; i < n && !r->error; i++)
		tlsrpt_policy_decode(r, dom);
}

/* The days of R into S (empty). */
static void tlsrpt_days_decode(struct ipc_reader *r, struct tlsrpt_store *s)
{
	uint32_t n_days = ipc_get_u32(r);

	if (n_days > TLSRPT_STORE_DAYS_MAX)
		r->error = 1;
	for (uint32_t i = 0; i < n_days && !r->error; i++) {
		uint32_t day = ipc_get_u32(r), n;
		struct tlsrpt_day *d;
		if (r->error || (i > 0 && day <= s->days[i - 1]->day)) {
			r->error = 1; /* strictly in date order, so none is pushed out */
			return;
		}
		d = tlsrpt_day_get(s, day);
		d->dropped = ipc_get_u64(r);
		n = ipc_get_u32(r);
		if (n > TLSRPT_STORE_DOMAINS_MAX)
			r->error = 1;
		for (uint32_t j = 0; j < n && !r->error; j++)
			tlsrpt_domain_decode(r, d);
	}
}

int tlsrpt_store_decode(struct tlsrpt_store *s, const void *data, size_t len, const char **error_r)
{
	struct ipc_reader r;
	uint32_t crc;

	tlsrpt_store_clear(s);
	if (len < 4) {
		*error_r = "the TLS-RPT counts file is truncated";
		return -1;
	}
	memcpy(&crc, (const unsigned char *)data + len - 4, 4);
	ipc_reader_init(&r, data, len - 4);
	if (ipc_get_u32(&r) != TLSRPT_STORE_MAGIC || ipc_get_u32(&r) != TLSRPT_STORE_VERSION) {
		*error_r = "not a TLS-RPT counts file of this version";
		return -1;
	}
	s->dropped = ipc_get_u64(&r);
	tlsrpt_days_decode(&r, s);
	if (ipc_reader_done(&r) < 0 || crc != crc32c(0, data, len - 4)) {
		tlsrpt_store_clear(s);
		*error_r = "the TLS-RPT counts file is damaged";
		return -1;
	}
	s->dirty = 0;
	return 0;
}

/* ---- the file ---------------------------------------------------------------- */

/* Writes LEN bytes DATA to PATH made anew, and makes them stable. */
static int tlsrpt_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), err;

	if (fd < 0)
		return -1;
	if (FAULT("queue/tlsrpt/write") || write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return close(fd);
}

int tlsrpt_store_save(struct tlsrpt_store *s, const char *dir, const char **error_r)
{
	char path[4096], tmp[4096 + 8];
	struct ipc_writer w;
	int r;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, TLSRPT_STORE_FILE) >= sizeof(path)) {
		*error_r = "the directory name is too long";
		return -1;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	ipc_writer_init(&w);
	tlsrpt_store_encode(s, &w);
	r = mkdir_p(dir, 0700) < 0 || tlsrpt_write_file(tmp, w.buf, w.len) < 0 ||
	            FAULT("queue/tlsrpt/rename") || rename(tmp, path) < 0 || fsync_dir(dir) < 0
	        ? -1
	        : 0;
	ipc_writer_free(&w);
	if (r < 0) {
		*error_r = strerror(errno);
		unlink(tmp);
		return -1;
	}
	s->dirty = 0;
	return 0;
}

int tlsrpt_store_load(struct tlsrpt_store *s, const char *dir, const char **error_r)
{
	char path[4096];
	size_t len;
	char *data;
	int r;

	tlsrpt_store_clear(s);
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, TLSRPT_STORE_FILE) >= sizeof(path)) {
		*error_r = "the directory name is too long";
		return -1;
	}
	if ((data = read_file(path, TLSRPT_STORE_FILE_MAX, &len)) == NULL) {
		if (errno == ENOENT)
			return 0;
		*error_r = strerror(errno);
		return -1;
	}
	r = tlsrpt_store_decode(s, data, len, error_r);
	free(data);
	return r;
}
