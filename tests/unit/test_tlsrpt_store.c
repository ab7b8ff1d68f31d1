/*
 * test_tlsrpt_store.c: the TLS-RPT counts (queue/tlsrpt_store.h) and the
 * report mail (queue/tlsrpt_mail.h): counting by day, domain, policy and
 * failure row; what is not a session; every bound; the day roll-over; the
 * file written and read back, and refused when damaged; the policy lines
 * and mx patterns of "sts" policies from the MTA-STS cache file, when its
 * id is the counted one, within the bounds; the mail's header
 * and its attachment, decompressed back to the JSON.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "lib/base64.h"
#include "lib/ipc.h"
#include "lib/util.h"
#include "queue/tlsrpt_mail.h"
#include "policy/sts.h"
#include "queue/tlsrpt_store.h"

#define DAY0 20423u /* 2025-12-01 */
#define AT(day, sec) ((uint64_t)(day)*TLSRPT_DAY_SECONDS + (sec))

/* A task result: POLICY, failure TYPE ("" = success), MX, IP, STS id. */
static struct mta_report rep(const char *policy, const char *type, const char *mx, const char *ip,
                             const char *sts_id)
{
	struct mta_report r;

	memset(&r, 0, sizeof(r));
	snprintf(r.relay, sizeof(r.relay), "%s[%s]:25", mx, ip);
	snprintf(r.rpt_policy, sizeof(r.rpt_policy), "%s", policy);
	snprintf(r.rpt_type, sizeof(r.rpt_type), "%s", type);
	snprintf(r.rpt_mx, sizeof(r.rpt_mx), "%s", mx);
	snprintf(r.rpt_ip, sizeof(r.rpt_ip), "%s", ip);
	snprintf(r.sts_id, sizeof(r.sts_id), "%s", sts_id);
	snprintf(r.rua, sizeof(r.rua), "mailto:tlsrpt@example.org");
	return r;
}

static void count(struct tlsrpt_store *s, const char *domain, uint64_t now, struct mta_report r,
                  enum tlsrpt_counted want)
{
	assert_int_equal(tlsrpt_store_count(s, domain, now, &r), want);
}

static struct tlsrpt_domain *dom_of(struct tlsrpt_store *s, uint32_t day, const char *name)
{
	struct tlsrpt_day *d = tlsrpt_store_day(s, day);

	assert_non_null(d);
	return tlsrpt_day_domain(d, name);
}

static void test_counting(void **state)
{
	struct tlsrpt_store *s = tlsrpt_store_new();
	struct tlsrpt_domain *dom;

	count(s, "Example.COM", AT(DAY0, 10), rep("sts", "", "mx1.example.com", "192.0.2.1", "id1"),
	      TLSRPT_COUNTED);
	count(s, "example.com", AT(DAY0, 20), rep("sts", "", "mx2.example.com", "192.0.2.2", "id1"),
	      TLSRPT_COUNTED);
	count(s, "example.com", AT(DAY0, 30),
	      rep("sts", "certificate-expired", "mx1.example.com", "192.0.2.1", "id1"),
	      TLSRPT_COUNTED);
	count(s, "example.com", AT(DAY0, 40),
	      rep("sts", "certificate-expired", "MX1.example.com", "192.0.2.1", "id1"),
	      TLSRPT_COUNTED);
	count(s, "example.com", AT(DAY0, 50),
	      rep("sts", "certificate-expired", "mx2.example.com", "192.0.2.2", "id1"),
	      TLSRPT_COUNTED);
	/* a new policy id is another policy */
	count(s, "example.com", AT(DAY0, 60), rep("sts", "", "mx1.example.com", "192.0.2.1", "id2"),
	      TLSRPT_COUNTED);
	/* TLSA: one policy per MX host; the STS id is not its key */
	count(s, "example.com", AT(DAY0, 70), rep("tlsa", "", "mx1.example.com", "192.0.2.1", "x"),
	      TLSRPT_COUNTED);
	dom = dom_of(s, DAY0, "EXAMPLE.com");
	assert_non_null(dom);
	assert_string_equal(dom->name, "example.com");
	assert_string_equal(dom->rua, "mailto:tlsrpt@example.org");
	assert_int_equal(dom->n_policies, 3);
	assert_string_equal(dom->policies[0].type, "sts");
	assert_string_equal(dom->policies[0].sts_id, "id1");
	assert_string_equal(dom->policies[0].mx, "");
	assert_int_equal(dom->policies[0].successful, 2);
	assert_int_equal(dom->policies[0].failed, 3);
	assert_int_equal(dom->policies[0].n_details, 2);
	assert_string_equal(dom->policies[0].details[0].result_type, "certificate-expired");
	assert_string_equal(dom->policies[0].details[0].mx, "mx1.example.com");
	assert_string_equal(dom->policies[0].details[0].ip, "192.0.2.1");
	assert_int_equal(dom->policies[0].details[0].sessions, 2);
	assert_int_equal(dom->policies[0].details[1].sessions, 1);
	assert_int_equal(dom->policies[1].successful, 1);
	assert_string_equal(dom->policies[2].type, "tlsa");
	assert_string_equal(dom->policies[2].sts_id, "");
	assert_string_equal(dom->policies[2].mx, "mx1.example.com");
	assert_int_equal(dom->policies[2].successful, 1);
	assert_true(s->dirty);
	tlsrpt_store_free(&s);
	assert_null(s);
}

static void test_not_sessions(void **state)
{
	struct tlsrpt_store *s = tlsrpt_store_new();
	struct mta_report r = rep("", "", "mx", "192.0.2.1", "");

	count(s, "example.com", AT(DAY0, 1), r, TLSRPT_NOT_SESSION); /* no policy type */
	r = rep("no-policy-found", "", "mx", "192.0.2.1", "");
	r.relay[0] = '\0';
	count(s, "example.com", AT(DAY0, 1), r, TLSRPT_NOT_SESSION); /* no host reached */
	assert_int_equal(s->n_days, 0);
	assert_false(s->dirty);
	/* a policy failure before any host was reached is a failed session */
	r = rep("sts", "sts-policy-fetch-error", "", "", "");
	r.relay[0] = '\0';
	count(s, "example.com", AT(DAY0, 1), r, TLSRPT_COUNTED);
	assert_int_equal(dom_of(s, DAY0, "example.com")->policies[0].failed, 1);
	tlsrpt_store_free(&s);
}

static void test_bounds(void **state)
{
	struct tlsrpt_store *s = tlsrpt_store_new();
	struct tlsrpt_domain *dom;
	char name[64], mx[64];
	unsigned i;

	for (i = 0; i < TLSRPT_STORE_DOMAINS_MAX; i++) {
		snprintf(name, sizeof(name), "d%u.example", i);
		count(s, name, AT(DAY0, 5), rep("no-policy-found", "", "mx", "192.0.2.1", ""),
		      TLSRPT_COUNTED);
	}
	count(s, "one-more.example", AT(DAY0, 5), rep("no-policy-found", "", "mx", "192.0.2.1", ""),
	      TLSRPT_DROPPED);
	assert_int_equal(tlsrpt_store_day(s, DAY0)->n_domains, TLSRPT_STORE_DOMAINS_MAX);
	assert_int_equal(tlsrpt_store_day(s, DAY0)->dropped, 1);
	/* a known domain still counts */
	count(s, "d7.example", AT(DAY0, 5), rep("no-policy-found", "", "mx", "192.0.2.1", ""),
	      TLSRPT_COUNTED);
	for (i = 0; i < TLSRPT_STORE_POLICIES_MAX; i++) {
		snprintf(mx, sizeof(mx), "mx%u.p.example", i);
		count(s, "p.example", AT(DAY0 + 1, 5), rep("tlsa", "", mx, "192.0.2.1", ""),
		      TLSRPT_COUNTED);
	}
	count(s, "p.example", AT(DAY0 + 1, 5), rep("tlsa", "", "mx.x", "192.0.2.1", ""),
	      TLSRPT_DROPPED);
	assert_int_equal(dom_of(s, DAY0 + 1, "p.example")->dropped, 1);
	for (i = 0; i < TLSRPT_STORE_DETAILS_MAX + 3; i++) {
		snprintf(mx, sizeof(mx), "mx%u.f.example", i);
		count(s, "f.example", AT(DAY0 + 1, 5),
		      rep("sts", "certificate-not-trusted", mx, "192.0.2.1", "id"), TLSRPT_COUNTED);
	}
	dom = dom_of(s, DAY0 + 1, "f.example");
	assert_int_equal(dom->policies[0].n_details, TLSRPT_STORE_DETAILS_MAX);
	assert_int_equal(dom->policies[0].failed, TLSRPT_STORE_DETAILS_MAX + 3);
	assert_int_equal(dom->policies[0].details_dropped, 3);
	tlsrpt_store_free(&s);
}

static void test_day_rollover(void **state)
{
	struct tlsrpt_store *s = tlsrpt_store_new();
	struct mta_report ok = rep("no-policy-found", "", "mx", "192.0.2.1", "");

	/* the last second of a day and the first of the next are two days */
	count(s, "example.com", AT(DAY0, TLSRPT_DAY_SECONDS - 1), ok, TLSRPT_COUNTED);
	count(s, "example.com", AT(DAY0 + 1, 0), ok, TLSRPT_COUNTED);
	assert_int_equal(s->n_days, 2);
	assert_int_equal(dom_of(s, DAY0, "example.com")->policies[0].successful, 1);
	assert_int_equal(dom_of(s, DAY0 + 1, "example.com")->policies[0].successful, 1);
	/* days are kept in order; a new day past the bound pushes out the oldest */
	for (uint32_t d = 2; d < TLSRPT_STORE_DAYS_MAX; d++)
		count(s, "example.com", AT(DAY0 + d, 1), ok, TLSRPT_COUNTED);
	assert_int_equal(s->n_days, TLSRPT_STORE_DAYS_MAX);
	count(s, "example.com", AT(DAY0 + 10, 1), ok, TLSRPT_COUNTED);
	assert_int_equal(s->n_days, TLSRPT_STORE_DAYS_MAX);
	assert_null(tlsrpt_store_day(s, DAY0));
	assert_int_equal(s->days[0]->day, DAY0 + 1);
	assert_int_equal(s->days[TLSRPT_STORE_DAYS_MAX - 1]->day, DAY0 + 10);
	/* a day older than every kept one, all kept: dropped */
	count(s, "example.com", AT(DAY0, 1), ok, TLSRPT_DROPPED);
	assert_int_equal(s->dropped, 1);
	/* one between two kept days, after one is forgotten, goes in order */
	tlsrpt_store_forget_day(s, DAY0 + 2);
	count(s, "example.com", AT(DAY0 + 5, 1), ok, TLSRPT_COUNTED);
	for (uint32_t i = 1; i < s->n_days; i++)
		assert_true(s->days[i - 1]->day < s->days[i]->day);
	tlsrpt_store_forget_day(s, 12345); /* not kept: nothing */
	assert_int_equal(s->n_days, TLSRPT_STORE_DAYS_MAX);
	tlsrpt_store_free(&s);
}

/* S1 and S2 hold the same counts. */
static void assert_same(const struct tlsrpt_store *a, const struct tlsrpt_store *b)
{
	struct ipc_writer wa, wb;

	ipc_writer_init(&wa);
	ipc_writer_init(&wb);
	tlsrpt_store_encode(a, &wa);
	tlsrpt_store_encode(b, &wb);
	assert_int_equal(wa.len, wb.len);
	assert_memory_equal(wa.buf, wb.buf, wa.len);
	ipc_writer_free(&wa);
	ipc_writer_free(&wb);
}

static struct tlsrpt_store *sample_store(void)
{
	struct tlsrpt_store *s = tlsrpt_store_new();

	count(s, "a.example", AT(DAY0, 1), rep("sts", "", "mx.a.example", "192.0.2.1", "id1"),
	      TLSRPT_COUNTED);
	count(s, "a.example", AT(DAY0, 2),
	      rep("sts", "validation-failure", "mx.a.example", "2001:db8::1", "id1"),
	      TLSRPT_COUNTED);
	count(s, "b.example", AT(DAY0 + 1, 2),
	      rep("no-policy-found", "starttls-not-supported", "mx.b.example", "192.0.2.3", ""),
	      TLSRPT_COUNTED);
	count(s, "b.example", AT(DAY0 + 1, 3), rep("tlsa", "", "mx.b.example", "192.0.2.3", ""),
	      TLSRPT_COUNTED);
	return s;
}

static void test_file_round_trip(void **state)
{
	char dir[] = "/tmp/test_tlsrpt_XXXXXX", path[64];
	struct tlsrpt_store *s = sample_store(), *back = tlsrpt_store_new();
	const char *why = NULL;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(tlsrpt_store_load(back, dir, &why), 0); /* no file: empty */
	assert_int_equal(back->n_days, 0);
	assert_int_equal(tlsrpt_store_save(s, dir, &why), 0);
	assert_false(s->dirty);
	snprintf(path, sizeof(path), "%s/counts.tmp", dir);
	assert_int_equal(access(path, F_OK), -1); /* renamed away */
	assert_int_equal(tlsrpt_store_load(back, dir, &why), 0);
	assert_same(s, back);
	assert_false(back->dirty);
	/* counting goes on where it was */
	count(back, "a.example", AT(DAY0, 9), rep("sts", "", "mx.a.example", "192.0.2.1", "id1"),
	      TLSRPT_COUNTED);
	assert_int_equal(dom_of(back, DAY0, "a.example")->policies[0].successful, 2);
	snprintf(path, sizeof(path), "%s/counts", dir);
	unlink(path);
	rmdir(dir);
	tlsrpt_store_free(&s);
	tlsrpt_store_free(&back);
}

static void test_decode_refuses(void **state)
{
	struct tlsrpt_store *s = sample_store(), *back = tlsrpt_store_new();
	const char *why = NULL;
	struct ipc_writer w;

	ipc_writer_init(&w);
	tlsrpt_store_encode(s, &w);
	/* every truncation and every flipped byte is refused, and leaves it empty */
	for (size_t n = 0; n < w.len; n++) {
		assert_int_equal(tlsrpt_store_decode(back, w.buf, n, &why), -1);
		assert_int_equal(back->n_days, 0);
	}
	for (size_t i = 0; i < w.len; i++) {
		w.buf[i] ^= 0x20;
		assert_int_equal(tlsrpt_store_decode(back, w.buf, w.len, &why), -1);
		assert_int_equal(back->n_days, 0);
		w.buf[i] ^= 0x20;
	}
	assert_int_equal(tlsrpt_store_decode(back, w.buf, w.len, &why), 0);
	assert_same(s, back);
	ipc_writer_free(&w);
	tlsrpt_store_free(&s);
	tlsrpt_store_free(&back);
}

static void test_fill_report(void **state)
{
	struct tlsrpt_store *s = sample_store();
	struct tlsrpt_report *r = calloc(1, sizeof(*r));
	struct evbuffer *json = evbuffer_new();
	const char *why = NULL;
	char *text;

	tlsrpt_store_fill_report(dom_of(s, DAY0, "a.example"), DAY0, r);
	assert_int_equal(r->start, AT(DAY0, 0));
	assert_int_equal(r->end, AT(DAY0, TLSRPT_DAY_SECONDS - 1));
	strcpy(r->organization_name, "Org");
	strcpy(r->contact_info, "tlsrpt-noreply@mx.test");
	strcpy(r->report_id, "20251201.abc@mx.test");
	assert_int_equal(tlsrpt_report_json(r, json, &why), 0);
	evbuffer_add(json, "", 1);
	text = (char *)evbuffer_pullup(json, -1);
	assert_string_equal(
	    text,
	    "{\"organization-name\":\"Org\",\"date-range\":{\"start-datetime\":"
	    "\"2025-12-01T00:00:00Z\",\"end-datetime\":\"2025-12-01T23:59:59Z\"},"
	    "\"contact-info\":\"tlsrpt-noreply@mx.test\",\"report-id\":\"20251201.abc@mx.test\","
	    "\"policies\":[{\"policy\":{\"policy-type\":\"sts\",\"policy-domain\":\"a.example\"},"
	    "\"summary\":{\"total-successful-session-count\":1,\"total-failure-session-count\":1},"
	    "\"failure-details\":[{\"result-type\":\"validation-failure\",\"receiving-mx-"
	    "hostname\":"
	    "\"mx.a.example\",\"receiving-ip\":\"2001:db8::1\",\"failed-session-count\":1}]}]}\n");
	evbuffer_free(json);
	free(r);
	tlsrpt_store_free(&s);
}

/* Writes TEXT as the cache file DIR/NAME. */
static void write_cache(const char *dir, const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* The JSON of the report of DOMAIN on DAY0 in S, its "sts" lines filled
 * from DIR; "policy":{...} of its first policy into OUT of SIZE. */
static void sts_filled(struct tlsrpt_store *s, const char *domain, const char *dir, uint32_t policy,
                       char *out, size_t size)
{
	struct tlsrpt_domain *dom = dom_of(s, DAY0, domain);
	struct tlsrpt_report *r = calloc(1, sizeof(*r));
	struct evbuffer *json = evbuffer_new();
	const char *why = NULL, *text, *at, *end;

	tlsrpt_store_fill_report(dom, DAY0, r);
	tlsrpt_store_fill_sts(dom, dir, r);
	strcpy(r->organization_name, "Org");
	strcpy(r->contact_info, "tlsrpt-noreply@mx.test");
	strcpy(r->report_id, "20251201.abc@mx.test");
	assert_int_equal(tlsrpt_report_json(r, json, &why), 0);
	evbuffer_add(json, "", 1);
	text = (const char *)evbuffer_pullup(json, -1);
	for (at = text; policy-- > 0; at++)
		assert_non_null(at = strstr(at, "\"policy\":{"));
	assert_non_null(at = strstr(at, "\"policy\":{"));
	assert_non_null(end = strchr(at, '}'));
	snprintf(out, size, "%.*s", (int)(end - at + 1), at);
	evbuffer_free(json);
	free(r);
}

#define STS_HEAD(id) STS_CACHE_FILE_MAGIC "id: " id "\nfetched: 1764547200\n\n"
#define STS_BODY                                                                                   \
	"version: STSv1\nmode: enforce\nmax_age: 86400\nmx: mx.a.example\nmx: *.b.a.example\n"

static void test_fill_sts(void **state)
{
	char dir[] = "/tmp/test_tlsrpt_XXXXXX", got[4096], path[64], body[8192], *o, *last = NULL;
	struct tlsrpt_store *s = sample_store();
	const char *bare = "\"policy\":{\"policy-type\":\"sts\",\"policy-domain\":\"a.example\"}";

	assert_non_null(mkdtemp(dir));
	/* no file: as before */
	sts_filled(s, "a.example", dir, 0, got, sizeof(got));
	assert_string_equal(got, bare);
	/* the counted id: each line a string (CRLF and blank lines gone), the patterns */
	write_cache(dir, "a.example",
	            STS_HEAD("id1") "version: STSv1\r\nmode: enforce\n\nmax_age: 86400\nmx: "
	                            "mx.a.example\nmx: *.b.a.example");
	sts_filled(s, "a.example", dir, 0, got, sizeof(got));
	assert_string_equal(got, "\"policy\":{\"policy-type\":\"sts\",\"policy-string\":["
	                         "\"version: STSv1\",\"mode: enforce\",\"max_age: 86400\","
	                         "\"mx: mx.a.example\",\"mx: *.b.a.example\"],"
	                         "\"policy-domain\":\"a.example\","
	                         "\"mx-host\":[\"mx.a.example\",\"*.b.a.example\"]}");
	/* another id (the policy changed since), or not a cache file: as before */
	write_cache(dir, "a.example", STS_HEAD("id2") STS_BODY);
	sts_filled(s, "a.example", dir, 0, got, sizeof(got));
	assert_string_equal(got, bare);
	write_cache(dir, "a.example", STS_HEAD("id1") "version: STSv1\n");
	sts_filled(s, "a.example", dir, 0, got, sizeof(got));
	assert_string_equal(got, bare);
	/* of two ids counted, the cached one is filled */
	count(s, "a.example", AT(DAY0, 3), rep("sts", "", "mx.a.example", "192.0.2.1", "id2"),
	      TLSRPT_COUNTED);
	write_cache(dir, "a.example", STS_HEAD("id2") STS_BODY);
	sts_filled(s, "a.example", dir, 0, got, sizeof(got));
	assert_string_equal(got, bare);
	sts_filled(s, "a.example", dir, 1, got, sizeof(got));
	assert_non_null(strstr(got, "\"policy-string\":[\"version: STSv1\","));
	/* past TLSRPT_POLICY_STRINGS_MAX lines, or a line too long: no
	 * policy-string (not a policy cut short), the mx-host patterns still */
	o = body + sprintf(body, STS_HEAD("id1") STS_BODY);
	for (int i = 0; i < TLSRPT_POLICY_STRINGS_MAX - 5 + 1; i++)
		o += sprintf(last = o, "x%d: y\n", i);
	write_cache(dir, "a.example", body);
	sts_filled(s, "a.example", dir, 0, got, sizeof(got));
	assert_null(strstr(got, "policy-string"));
	assert_non_null(strstr(got, "\"mx-host\":[\"mx.a.example\",\"*.b.a.example\"]"));
	*last = '\0'; /* one line fewer: exactly the bound */
	write_cache(dir, "a.example", body);
	sts_filled(s, "a.example", dir, 0, got, sizeof(got));
	assert_non_null(strstr(got, "\"policy-string\":["));
	o = body + sprintf(body, STS_HEAD("id1") STS_BODY "x: ");
	memset(o, 'y', TLSRPT_POLICY_STRING_MAX - 3);
	o[TLSRPT_POLICY_STRING_MAX - 3] = '\0';
	write_cache(dir, "a.example", body);
	sts_filled(s, "a.example", dir, 0, got, sizeof(got));
	assert_null(strstr(got, "policy-string"));
	assert_non_null(strstr(got, "\"mx-host\":["));
	snprintf(path, sizeof(path), "%s/a.example", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
	tlsrpt_store_free(&s);
}

/* Inflates the gzip member GZ (LEN bytes) into OUT of SIZE; its length. */
static size_t gunzip(const unsigned char *gz, size_t len, char *out, size_t size)
{
	z_stream zs;

	memset(&zs, 0, sizeof(zs));
	assert_int_equal(inflateInit2(&zs, 16 + 15), Z_OK); /* gzip only */
	zs.next_in = (Bytef *)gz;
	zs.avail_in = (uInt)len;
	zs.next_out = (Bytef *)out;
	zs.avail_out = (uInt)size;
	assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
	inflateEnd(&zs);
	return zs.total_out;
}

/* The base64 attachment of MAIL, decoded into OUT; its length. */
static size_t attachment(const char *mail, unsigned char *out)
{
	const char *p = strstr(mail, "filename=\"mx.test!a.example!1764547200!1764633599!"
	                             "u1.json.gz\"\r\n\r\n");
	char b64[65536];
	size_t n = 0;

	assert_non_null(p);
	for (p = strstr(p, "\r\n\r\n") + 4; *p != '\0' && *p != '\r'; p = strstr(p, "\r\n") + 2)
		while (*p != '\r')
			b64[n++] = *p++;
	assert_string_equal(p, "\r\n--=_tlsrpt_u1--\r\n");
	return (size_t)base64_decode(b64, n, out);
}

static void test_mail(void **state)
{
	static const char json[] = "{\"organization-name\":\"Org\"}\n";
	const char *to[] = {"tlsrpt@example.org", "second@example.net"};
	struct tlsrpt_mail m = {"tlsrpt-noreply@mx.test",
	                        to,
	                        2,
	                        "a.example",
	                        "mx.test",
	                        "Org",
	                        "20251201.u1@mx.test",
	                        "u1",
	                        AT(DAY0, 0),
	                        AT(DAY0, TLSRPT_DAY_SECONDS - 1),
	                        json,
	                        sizeof(json) - 1,
	                        (time_t)AT(DAY0 + 1, 600)};
	unsigned char gz[65536];
	char back[256], *mail;
	const char *why = NULL;
	size_t len;

	mail = tlsrpt_mail_build(&m, &len, &why);
	assert_non_null(mail);
	assert_int_equal(strlen(mail), len);
	assert_non_null(strstr(mail, "From: <tlsrpt-noreply@mx.test>\r\n"
	                             "To: <tlsrpt@example.org>,\r\n\t<second@example.net>\r\n"
	                             "Subject: Report Domain: a.example Submitter: mx.test "
	                             "Report-ID: <20251201.u1@mx.test>\r\n"));
	assert_non_null(strstr(mail, "\r\nTLS-Report-Domain: a.example\r\n"
	                             "TLS-Report-Submitter: mx.test\r\n"
	                             "TLS-Required: No\r\n"));
	assert_non_null(strstr(mail, "\r\nContent-Type: multipart/report; report-type=\"tlsrpt\";"
	                             "\r\n\tboundary=\"=_tlsrpt_u1\"\r\n\r\n"));
	assert_non_null(strstr(mail, "\r\n--=_tlsrpt_u1\r\nContent-Type: text/plain;"));
	assert_non_null(strstr(mail, "\r\n--=_tlsrpt_u1\r\nContent-Type: application/tlsrpt+gzip"
	                             "\r\nContent-Transfer-Encoding: base64\r\n"));
	len = attachment(mail, gz);
	assert_true(len > 18 && gz[0] == 0x1f && gz[1] == 0x8b); /* RFC 1952 2.3.1 */
	assert_int_equal(gunzip(gz, len, back, sizeof(back)), sizeof(json) - 1);
	assert_memory_equal(back, json, sizeof(json) - 1);
	for (const char *p = mail; *p != '\0'; p++)
		assert_true((*p >= ' ' && *p <= '~') || *p == '\r' || *p == '\n' || *p == '\t');
	free(mail);
	/* an address that cannot be written in the header is refused */
	to[1] = "bad address@example.net";
	assert_null(tlsrpt_mail_build(&m, &len, &why));
	to[1] = "second@example.net";
	m.from = "";
	assert_null(tlsrpt_mail_build(&m, &len, &why));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_counting),
	    cmocka_unit_test(test_not_sessions),
	    cmocka_unit_test(test_bounds),
	    cmocka_unit_test(test_day_rollover),
	    cmocka_unit_test(test_file_round_trip),
	    cmocka_unit_test(test_decode_refuses),
	    cmocka_unit_test(test_fill_report),
	    cmocka_unit_test(test_fill_sts),
	    cmocka_unit_test(test_mail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
