/*
 * tlsrpt_report.c: the RFC 8460 4 JSON aggregate report, built from the
 * plain struct tlsrpt_report the queue's report store fills from its
 * counters, and the names of the report mail (5.3). Pure but for the
 * evbuffer it appends to; see tlsrpt.h.
 */
#include "policy/tlsrpt.h"

#include <event2/buffer.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/util.h"
#include "policy/sts.h"

/* 1 when the char array S of SIZE holds its NUL. */
#define TERMINATED(s) (strnlen((s), sizeof(s)) < sizeof(s))

/* The length of the well-formed UTF-8 sequence at S (AVAIL octets left,
 * first octet >= 0x80), or 0 when it is not one (RFC 3629 4). */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (n > avail || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/* S (up to its NUL, at most MAX octets) as a JSON string (RFC 8259 7). */
static void json_string(struct evbuffer *b, const char *s, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t len = strnlen(s, max);

	evbuffer_add(b, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		size_t n;

		if (u[i] == '"' || u[i] == '\\')
			evbuffer_add_printf(b, "\\%c", u[i]);
		else if (u[i] == '\n')
			evbuffer_add(b, "\\n", 2);
		else if (u[i] == '\r')
			evbuffer_add(b, "\\r", 2);
		else if (u[i] == '\t')
			evbuffer_add(b, "\\t", 2);
		else if (u[i] < 0x20)
			evbuffer_add_printf(b, "\\u%04x", u[i]);
		else if (u[i] < 0x80)
			evbuffer_add(b, &u[i], 1);
		else if ((n = utf8_len(u + i, len - i)) > 0) {
			evbuffer_add(b, &u[i], n);
			i += n - 1;
		} else
			evbuffer_add(b, "\\ufffd", 6);
	}
	evbuffer_add(b, "\"", 1);
}

/* ,"KEY":"VALUE", left out when VALUE is "" and OPTIONAL. */
#define JSON_FIELD(b, key, value, optional)                                                        \
	do {                                                                                       \
		if (!(optional) || (value)[0] != '\0') {                                           \
			evbuffer_add_printf((b), ",\"%s\":", (key));                               \
			json_string((b), (value), sizeof(value));                                  \
		}                                                                                  \
	} while (0)

/* T as RFC 3339 UTC "2026-12-01T00:00:00Z" into BUF of at least 21. */
static void rfc3339(uint64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		strlcpy_checked(buf, "1970-01-01T00:00:00Z", size);
}

static void json_failure(struct evbuffer *b, const struct tlsrpt_failure *f)
{
	evbuffer_add_printf(b, "{\"result-type\":");
	json_string(b, f->result_type, sizeof(f->result_type));
	JSON_FIELD(b, "sending-mta-ip", f->sending_mta_ip, 1);
	JSON_FIELD(b, "receiving-mx-hostname", f->receiving_mx_hostname, 1);
	JSON_FIELD(b, "receiving-mx-helo", f->receiving_mx_helo, 1);
	JSON_FIELD(b, "receiving-ip", f->receiving_ip, 1);
	evbuffer_add_printf(b, ",\"failed-session-count\":%" PRIu64, f->failed_session_count);
	JSON_FIELD(b, "additional-information", f->additional_information, 1);
	JSON_FIELD(b, "failure-reason-code", f->failure_reason_code, 1);
	evbuffer_add(b, "}", 1);
}

/* ,"KEY":["S0","S1",...] from N strings of the rows of ROWS. */
#define JSON_ARRAY(b, key, rows, n)                                                                \
	do {                                                                                       \
		evbuffer_add_printf((b), ",\"%s\":[", (key));                                      \
		for (uint32_t i_ = 0; i_ < (n); i_++) {                                            \
			if (i_ > 0)                                                                \
				evbuffer_add((b), ",", 1);                                         \
			json_string((b), (rows)[i_], sizeof((rows)[i_]));                          \
		}                                                                                  \
		evbuffer_add((b), "]", 1);                                                         \
	} while (0)

static void json_policy(struct evbuffer *b, const struct tlsrpt_policy *p)
{
	evbuffer_add_printf(b, "{\"policy\":{\"policy-type\":");
	json_string(b, p->policy_type, sizeof(p->policy_type));
	if (p->n_strings > 0)
		JSON_ARRAY(b, "policy-string", p->strings, p->n_strings);
	JSON_FIELD(b, "policy-domain", p->policy_domain, 0);
	if (p->n_mx_hosts > 0)
		JSON_ARRAY(b, "mx-host", p->mx_hosts, p->n_mx_hosts);
	evbuffer_add_printf(b,
	                    "},\"summary\":{\"total-successful-session-count\":%" PRIu64
	                    ",\"total-failure-session-count\":%" PRIu64 "}",
	                    p->total_successful_session_count, p->total_failure_session_count);
	if (p->n_failures > 0) {
		evbuffer_add_printf(b, ",\"failure-details\":[");
		for (uint32_t i = 0; i < p->n_failures; i++) {
			if (i > 0)
				evbuffer_add(b, ",", 1);
			json_failure(b, &p->failures[i]);
		}
		evbuffer_add(b, "]", 1);
	}
	evbuffer_add(b, "}", 1);
}

static int failure_check(const struct tlsrpt_failure *f, const char **error_r)
{
	if (!TERMINATED(f->result_type) || !TERMINATED(f->sending_mta_ip) ||
	    !TERMINATED(f->receiving_mx_hostname) || !TERMINATED(f->receiving_mx_helo) ||
	    !TERMINATED(f->receiving_ip) || !TERMINATED(f->additional_information) ||
	    !TERMINATED(f->failure_reason_code)) {
		*error_r = "a failure-details string is not terminated";
		return -1;
	}
	if (f->result_type[0] == '\0') {
		*error_r = "a failure-details element has no result-type";
		return -1;
	}
	return 0;
}

/* The bounds and required fields of one policy (4.3, 4.4). */
static int policy_check(const struct tlsrpt_policy *p, const char **error_r)
{
	if (p->n_strings > TLSRPT_POLICY_STRINGS_MAX || p->n_mx_hosts > TLSRPT_MX_HOSTS_MAX ||
	    p->n_failures > TLSRPT_FAILURES_MAX) {
		*error_r = "a policy has more strings, mx hosts or failures than the bounds";
		return -1;
	}
	if (!TERMINATED(p->policy_type) || !TERMINATED(p->policy_domain) ||
	    p->policy_type[0] == '\0' || p->policy_domain[0] == '\0') {
		*error_r = "a policy has no policy-type or policy-domain";
		return -1;
	}
	for (uint32_t i = 0; i < p->n_strings; i++)
		if (!TERMINATED(p->strings[i]))
			goto unterminated;
	for (uint32_t i = 0; i < p->n_mx_hosts; i++)
		if (!TERMINATED(p->mx_hosts[i]))
			goto unterminated;
	for (uint32_t i = 0; i < p->n_failures; i++)
		if (failure_check(&p->failures[i], error_r) < 0)
			return -1;
	return 0;
unterminated:
	*error_r = "a policy-string or mx-host is not terminated";
	return -1;
}

static int report_check(const struct tlsrpt_report *r, const char **error_r)
{
	if (!TERMINATED(r->organization_name) || !TERMINATED(r->contact_info) ||
	    !TERMINATED(r->report_id) || r->organization_name[0] == '\0' ||
	    r->contact_info[0] == '\0' || r->report_id[0] == '\0') {
		*error_r = "the report has no organization-name, contact-info or report-id";
		return -1;
	}
	if (r->end < r->start || r->end > (uint64_t)INT64_MAX / 2) {
		*error_r = "the report's date range is not valid";
		return -1;
	}
	if (r->n_policies > TLSRPT_POLICIES_MAX) {
		*error_r = "the report has more policies than the bound";
		return -1;
	}
	for (uint32_t i = 0; i < r->n_policies; i++)
		if (policy_check(&r->policies[i], error_r) < 0)
			return -1;
	return 0;
}

/* The field order is RFC 8460 4.4's. */
int tlsrpt_report_json(const struct tlsrpt_report *r, struct evbuffer *out, const char **error_r)
{
	struct evbuffer *b;
	char start[32], end[32];

	if (report_check(r, error_r) < 0)
		return -1;
	b = evbuffer_new();
	if (b == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	rfc3339(r->start, start, sizeof(start));
	rfc3339(r->end, end, sizeof(end));
	evbuffer_add_printf(b, "{\"organization-name\":");
	json_string(b, r->organization_name, sizeof(r->organization_name));
	evbuffer_add_printf(
	    b, ",\"date-range\":{\"start-datetime\":\"%s\",\"end-datetime\":\"%s\"}", start, end);
	JSON_FIELD(b, "contact-info", r->contact_info, 0);
	JSON_FIELD(b, "report-id", r->report_id, 0);
	evbuffer_add_printf(b, ",\"policies\":[");
	for (uint32_t i = 0; i < r->n_policies; i++) {
		if (i > 0)
			evbuffer_add(b, ",", 1);
		json_policy(b, &r->policies[i]);
	}
	evbuffer_add(b, "]}\n", 3);
	if (evbuffer_add_buffer(out, b) < 0) {
		evbuffer_free(b);
		*error_r = "out of memory";
		return -1;
	}
	evbuffer_free(b);
	return 0;
}

/* ---- policies from what delivery saw -------------------------------- */

void tlsrpt_policy_from_sts(const struct sts_policy *p, const char *domain,
                            struct tlsrpt_policy *out)
{
	uint32_t n_mx = p->n_mx < STS_MX_MAX ? p->n_mx : STS_MX_MAX;
	uint32_t n = 0;

	memset(out, 0, sizeof(*out));
	strlcpy_checked(out->policy_type, "sts", sizeof(out->policy_type));
	strlcpy_checked(out->policy_domain, domain, sizeof(out->policy_domain));
	snprintf(out->strings[n++], TLSRPT_POLICY_STRING_MAX, "version: STSv1");
	snprintf(out->strings[n++], TLSRPT_POLICY_STRING_MAX, "mode: %s", sts_mode_name(p->mode));
	for (uint32_t i = 0; i < n_mx; i++) {
		snprintf(out->strings[n++], TLSRPT_POLICY_STRING_MAX, "mx: %.*s",
		         (int)strnlen(p->mx[i], sizeof(p->mx[i])), p->mx[i]);
		snprintf(out->mx_hosts[i], TLSRPT_NAME_MAX, "%.*s",
		         (int)strnlen(p->mx[i], sizeof(p->mx[i])), p->mx[i]);
	}
	snprintf(out->strings[n++], TLSRPT_POLICY_STRING_MAX, "max_age: %" PRIu32, p->max_age);
	out->n_strings = n;
	out->n_mx_hosts = n_mx;
}

/* The lines of BODY (LEN bytes) that are not blank into OUT's strings;
 * -1 (OUT's strings then partly written) when they break a bound. */
static int policy_lines(struct tlsrpt_policy *out, const char *body, size_t len)
{
	size_t pos = 0;
	uint32_t n = 0;

	while (pos < len) {
		const char *line = body + pos, *lf = memchr(line, '\n', len - pos);
		size_t line_len = lf != NULL ? (size_t)(lf - line) : len - pos, blank = 0;

		pos += line_len + (lf != NULL);
		if (lf != NULL && line_len > 0 && line[line_len - 1] == '\r')
			line_len--;
		while (blank < line_len && (line[blank] == ' ' || line[blank] == '\t'))
			blank++;
		if (blank == line_len)
			continue;
		if (n >= TLSRPT_POLICY_STRINGS_MAX || line_len >= TLSRPT_POLICY_STRING_MAX ||
		    memchr(line, '\0', line_len) != NULL)
			return -1;
		memcpy(out->strings[n], line, line_len);
		out->strings[n++][line_len] = '\0';
	}
	out->n_strings = n;
	return 0;
}

void tlsrpt_policy_fill_sts(struct tlsrpt_policy *out, const struct sts_policy *p, const char *body,
                            size_t len)
{
	uint32_t n_mx = p->n_mx < TLSRPT_MX_HOSTS_MAX ? p->n_mx : TLSRPT_MX_HOSTS_MAX;

	memset(out->strings, 0, sizeof(out->strings));
	out->n_strings = 0;
	if (policy_lines(out, body, len) < 0) {
		memset(out->strings, 0, sizeof(out->strings));
		out->n_strings = 0;
	}
	memset(out->mx_hosts, 0, sizeof(out->mx_hosts));
	for (uint32_t i = 0; i < n_mx; i++)
		snprintf(out->mx_hosts[i], TLSRPT_NAME_MAX, "%.*s",
		         (int)strnlen(p->mx[i], sizeof(p->mx[i])), p->mx[i]);
	out->n_mx_hosts = n_mx;
}

void tlsrpt_policy_from_tlsa(const struct tlsa_record *records, uint32_t n, const char *domain,
                             const char *mx_host, struct tlsrpt_policy *out)
{
	static const char hex[] = "0123456789ABCDEF";

	memset(out, 0, sizeof(*out));
	strlcpy_checked(out->policy_type, "tlsa", sizeof(out->policy_type));
	strlcpy_checked(out->policy_domain, domain, sizeof(out->policy_domain));
	strlcpy_checked(out->mx_hosts[0], mx_host, sizeof(out->mx_hosts[0]));
	out->n_mx_hosts = 1;
	n = n < TLSA_MAX ? n : TLSA_MAX;
	for (uint32_t i = 0; i < n; i++) {
		const struct tlsa_record *t = &records[i];
		char *s = out->strings[i];
		size_t len = (size_t)snprintf(s, TLSRPT_POLICY_STRING_MAX, "%u %u %u ", t->usage,
		                              t->selector, t->mtype);
		uint16_t dlen = t->len < TLSA_DATA_MAX ? t->len : TLSA_DATA_MAX;

		for (uint16_t j = 0; j < dlen && len + 2 < TLSRPT_POLICY_STRING_MAX; j++) {
			s[len++] = hex[t->data[j] >> 4];
			s[len++] = hex[t->data[j] & 0xf];
		}
		s[len] = '\0';
	}
	out->n_strings = n;
}

/* ---- the report mail's names (RFC 8460 5.3) ------------------------- */

/* 1 when S is 1-TLSRPT_UNIQUE_MAX letters and digits (5.3 unique-id). */
static int unique_valid(const char *s)
{
	size_t n = 0;

	while ((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
	       (s[n] >= '0' && s[n] <= '9'))
		n++;
	return n > 0 && n <= TLSRPT_UNIQUE_MAX && s[n] == '\0';
}

/* Ends a names function: 0, or -1 with BUF "" when N did not fit. */
static int name_done(int n, char *buf, size_t size)
{
	if (n < 0 || (size_t)n >= size) {
		if (size > 0)
			buf[0] = '\0';
		return -1;
	}
	return 0;
}

int tlsrpt_report_id(uint64_t start, const char *unique, const char *submitter, char *buf,
                     size_t size)
{
	time_t t = (time_t)start;
	struct tm tm;
	char day[16];

	if (size > 0)
		buf[0] = '\0';
	if (!unique_valid(unique) || !sts_host_valid(submitter) ||
	    start > (uint64_t)INT64_MAX / 2 || gmtime_r(&t, &tm) == NULL ||
	    strftime(day, sizeof(day), "%Y%m%d", &tm) == 0)
		return -1;
	return name_done(snprintf(buf, size, "%s.%s@%s", day, unique, submitter), buf, size);
}

/* 1 when ID is a report-id we put between "<" and ">": printable ASCII,
 * no space, no angle bracket. */
static int report_id_valid(const char *id)
{
	size_t n = 0;

	for (; id[n] != '\0' && n < TLSRPT_REPORT_ID_MAX; n++)
		if (id[n] <= ' ' || id[n] >= 0x7f || id[n] == '<' || id[n] == '>')
			return 0;
	return n > 0 && n < TLSRPT_REPORT_ID_MAX;
}

int tlsrpt_subject(const char *domain, const char *submitter, const char *report_id, char *buf,
                   size_t size)
{
	if (size > 0)
		buf[0] = '\0';
	if (!sts_host_valid(domain) || !sts_host_valid(submitter) || !report_id_valid(report_id))
		return -1;
	return name_done(snprintf(buf, size, "Report Domain: %s Submitter: %s Report-ID: <%s>",
	                          domain, submitter, report_id),
	                 buf, size);
}

int tlsrpt_filename(const char *submitter, const char *domain, uint64_t begin, uint64_t end,
                    const char *unique, int gzip, char *buf, size_t size)
{
	if (size > 0)
		buf[0] = '\0';
	if (!sts_host_valid(submitter) || !sts_host_valid(domain) || !unique_valid(unique) ||
	    end < begin)
		return -1;
	return name_done(snprintf(buf, size, "%s!%s!%" PRIu64 "!%" PRIu64 "!%s.json%s", submitter,
	                          domain, begin, end, unique, gzip ? ".gz" : ""),
	                 buf, size);
}
