/*
 * test_tlsrpt.c: the TLS-RPT pieces (RFC 8460): the TXT record and its
 * rua= URIs (3, with RFC 6068 mailto:), the JSON report (4) checked
 * against the exact text it must be, and the report mail's names (5.3).
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

#include "policy/tlsrpt.h"

/* ---- TXT record ----------------------------------------------------- */

static void txt_ok(const char *txt, struct tlsrpt_record *r)
{
	const char *error = NULL;

	if (tlsrpt_txt_parse(txt, r, &error) != 0)
		fail_msg("\"%s\" refused: %s", txt, error);
}

static void txt_bad(const char *txt)
{
	struct tlsrpt_record r;
	const char *error = NULL;

	if (tlsrpt_txt_parse(txt, &r, &error) == 0)
		fail_msg("\"%s\" accepted", txt);
	assert_non_null(error);
	assert_true(error[0] != '\0');
	assert_int_equal(r.n_rua, 0);
	assert_string_equal(r.rua_value, "");
}

static void test_txt_rfc_examples(void **state)
{
	struct tlsrpt_record r;

	(void)state;
	/* RFC 8460 3.1 */
	txt_ok("v=TLSRPTv1;rua=mailto:reports@example.com", &r);
	assert_int_equal(r.n_rua, 1);
	assert_int_equal(r.n_mailto, 1);
	assert_int_equal(r.n_https, 0);
	assert_int_equal(r.rua[0].kind, TLSRPT_URI_MAILTO);
	assert_string_equal(r.rua[0].uri, "mailto:reports@example.com");
	assert_string_equal(r.rua[0].address, "reports@example.com");
	assert_string_equal(r.rua_value, "mailto:reports@example.com");
	txt_ok("v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt", &r);
	assert_int_equal(r.n_rua, 1);
	assert_int_equal(r.n_https, 1);
	assert_int_equal(r.rua[0].kind, TLSRPT_URI_HTTPS);
	assert_string_equal(r.rua[0].uri, "https://reporting.example.com/v1/tlsrpt");
	assert_string_equal(r.rua[0].address, "");
	txt_ok("v=TLSRPTv1; rua=mailto:tlsrpt@mydomain.com,https://tlsrpt.mydomain.com/v1", &r);
	assert_int_equal(r.n_rua, 2);
	assert_int_equal(r.n_mailto, 1);
	assert_int_equal(r.n_https, 1);
	assert_string_equal(r.rua[1].uri, "https://tlsrpt.mydomain.com/v1");
}

static void test_txt_forms(void **state)
{
	struct tlsrpt_record r;

	(void)state;
	txt_ok("v=TLSRPTv1 ; rua=mailto:a@b.example , mailto:c@d.example\t; ", &r);
	assert_int_equal(r.n_rua, 2);
	assert_string_equal(r.rua_value, "mailto:a@b.example , mailto:c@d.example");
	assert_string_equal(r.rua[1].address, "c@d.example");
	txt_ok("v=TLSRPTv1; ext=1; rua=MAILTO:a@b.example; x.y_z-1=!:<>", &r);
	assert_string_equal(r.rua[0].address, "a@b.example");
	txt_ok("v=TLSRPTv1; rua=mailto:first@b.example; rua=mailto:second@b.example", &r);
	assert_int_equal(r.n_rua, 1); /* the first rua= counts */
	assert_string_equal(r.rua[0].address, "first@b.example");
	txt_ok("v=TLSRPTv1; rua=mailto:a@b.example?subject=TLS%20report&body=x", &r);
	assert_string_equal(r.rua[0].address, "a@b.example");
	assert_string_equal(r.rua[0].uri, "mailto:a@b.example?subject=TLS%20report&body=x");
	/* RFC 6068: a comma inside a quoted local part is %-encoded */
	txt_ok("v=TLSRPTv1; rua=mailto:%22a%2Cb%22@example.com", &r);
	assert_string_equal(r.rua[0].address, "\"a,b\"@example.com");
	txt_ok("v=TLSRPTv1; rua=mailto:tls%2Breports@example.com", &r);
	assert_string_equal(r.rua[0].address, "tls+reports@example.com");
	/* unknown schemes are skipped, known ones kept */
	txt_ok("v=TLSRPTv1; rua=ftp://x.example/r,mailto:a@b.example,Https://h.example:8443", &r);
	assert_int_equal(r.n_rua, 2);
	assert_string_equal(r.rua[0].address, "a@b.example");
	assert_int_equal(r.rua[1].kind, TLSRPT_URI_HTTPS);
	txt_ok("v=TLSRPTv1; rua=https://[2001:db8::1]/r", &r);
	txt_ok("v=TLSRPTv1; rua=https://h.example?x=1#f", &r);
}

static void test_txt_invalid(void **state)
{
	(void)state;
	txt_bad("");
	txt_bad("v=TLSRPTv1");
	txt_bad("v=TLSRPTv1;");
	txt_bad("v=TLSRPTv1; ext=1"); /* no rua= */
	txt_bad("v=tlsrptv1; rua=mailto:a@b.example");
	txt_bad("v=TLSRPTv2; rua=mailto:a@b.example");
	txt_bad("v=TLSRPTv10; rua=mailto:a@b.example");
	txt_bad(" v=TLSRPTv1; rua=mailto:a@b.example");
	txt_bad("v=TLSRPTv1 rua=mailto:a@b.example");
	txt_bad("rua=mailto:a@b.example; v=TLSRPTv1");
	txt_bad("v=TLSRPTv1;; rua=mailto:a@b.example");
	txt_bad("v=TLSRPTv1; RUA=mailto:a@b.example"); /* an extension: no rua= left */
	txt_bad("v=TLSRPTv1; rua = mailto:a@b.example");
	txt_bad("v=TLSRPTv1; rua=");
	txt_bad("v=TLSRPTv1; rua=mailto:a@b.example,");
	txt_bad("v=TLSRPTv1; rua=mailto:a@b.example,,mailto:c@d.example");
	txt_bad("v=TLSRPTv1; rua=,mailto:a@b.example");
	txt_bad("v=TLSRPTv1; rua=mailto:a@b.example mailto:c@d.example");
	txt_bad("v=TLSRPTv1; rua=ftp://only.example/");
	txt_bad("v=TLSRPTv1; rua=reports@example.com"); /* not a URI */
	txt_bad("v=TLSRPTv1; rua=1mailto:a@b.example");
	txt_bad("v=TLSRPTv1; ext=; rua=mailto:a@b.example");
	txt_bad("v=TLSRPTv1; _x=1; rua=mailto:a@b.example");
	txt_bad("v=TLSRPTv1; rua=mailto:a@b.example; a2345678901234567890123456789012b=1");
	txt_bad("v=TLSRPTv1; rua=mailto:a@b.example\r\n");
}

static void test_mailto_invalid(void **state)
{
	static const char *const bad[] = {
	    "mailto:",
	    "mailto:?to=a@b.example",
	    "mailto:a@b@c.example",
	    "mailto:a%2Cb@example.com", /* two addresses, or a comma in a dot-atom */
	    "mailto:a%40b@example.com",
	    "mailto:a@-b.example",
	    "mailto:a@b_c.example",
	    "mailto:a@b..example",
	    "mailto:a@[192.0.2.1]",
	    "mailto:.a@b.example",
	    "mailto:a.@b.example",
	    "mailto:a..b@b.example",
	    "mailto:@b.example",
	    "mailto:a@",
	    "mailto:a",
	    "mailto:%zz@b.example",
	    "mailto:a%2@b.example",
	    "mailto:a%00b@b.example",
	    "mailto:a%0d%0aBcc:x@b.example",
	    "mailto:%c3%a9@b.example", /* non-ASCII: not here */
	    "mailto:%22a@b.example",
	    "mailto:%22a%5C%22@b.example",
	    ("mailto:0123456789012345678901234567890123456789012345678901234567890123"
	     "4@b.example"),
	    "https:",
	    "https:/h.example",
	    "https://",
	    "https:///r",
	    "https://h.example:123456/",
	    "https://user@h.example/",
	    "https://[]/",
	    "https://h_x.example/",
	};
	char txt[512];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(txt, sizeof(txt), "v=TLSRPTv1; rua=%s", bad[i]);
		txt_bad(txt);
	}
}

static void test_addr_spec(void **state)
{
	char local[80], addr[400];

	(void)state;
	assert_true(tlsrpt_addr_spec_valid("a@b"));
	assert_true(tlsrpt_addr_spec_valid("first.last@sub.example.com"));
	assert_true(tlsrpt_addr_spec_valid("!#$%&'*+-/=?^_`{|}~@example.com"));
	assert_true(tlsrpt_addr_spec_valid("\"a b,c@d\"@example.com"));
	assert_true(tlsrpt_addr_spec_valid("\"a\\\"b\"@example.com"));
	assert_true(tlsrpt_addr_spec_valid("\"\"@example.com"));
	assert_false(tlsrpt_addr_spec_valid(""));
	assert_false(tlsrpt_addr_spec_valid("a"));
	assert_false(tlsrpt_addr_spec_valid("a@b@c"));
	assert_false(tlsrpt_addr_spec_valid("a b@c"));
	assert_false(tlsrpt_addr_spec_valid("\"a@c"));
	assert_false(tlsrpt_addr_spec_valid("\"a\"b@c"));
	assert_false(tlsrpt_addr_spec_valid("\"a\\\"@c"));
	assert_false(tlsrpt_addr_spec_valid("a@c."));
	assert_false(tlsrpt_addr_spec_valid("a(comment)@c"));
	assert_false(tlsrpt_addr_spec_valid("a@c\n"));
	memset(local, 'l', 64);
	local[64] = '\0';
	snprintf(addr, sizeof(addr), "%s@example.com", local);
	assert_true(tlsrpt_addr_spec_valid(addr));
	snprintf(addr, sizeof(addr), "%sl@example.com", local);
	assert_false(tlsrpt_addr_spec_valid(addr));
}

static void test_rua_bounds(void **state)
{
	struct tlsrpt_record r;
	const char *error = NULL;
	char rua[1024];
	size_t n = 0;

	(void)state;
	for (int i = 0; i < TLSRPT_RUA_MAX; i++)
		n += (size_t)sprintf(rua + n, "%smailto:r%d@example.com", i ? "," : "", i);
	assert_int_equal(tlsrpt_rua_parse(rua, &r, &error), 0);
	assert_int_equal(r.n_rua, TLSRPT_RUA_MAX);
	assert_int_equal(r.n_mailto, TLSRPT_RUA_MAX);
	assert_string_equal(r.rua[7].address, "r7@example.com");
	assert_string_equal(r.rua_value, rua);
	sprintf(rua + n, ",https://one-more.example/");
	assert_int_equal(tlsrpt_rua_parse(rua, &r, &error), -1);
	assert_int_equal(r.n_rua, 0);
	/* a skipped scheme does not count against the bound */
	sprintf(rua + n, ",ftp://one-more.example/");
	assert_int_equal(tlsrpt_rua_parse(rua, &r, &error), 0);
	/* the rua= value is kept whole or refused */
	memset(rua, 0, sizeof(rua));
	strcpy(rua, "https://h.example/");
	memset(rua + 18, 'p', TLSRPT_RUA_VALUE_MAX - 1 - 18);
	assert_int_equal(tlsrpt_rua_parse(rua, &r, &error), 0);
	rua[TLSRPT_RUA_VALUE_MAX - 1] = 'p';
	assert_int_equal(tlsrpt_rua_parse(rua, &r, &error), -1);
	/* parsed in place, as the store does with the value it kept */
	strcpy(r.rua_value, "mailto:a@b.example");
	assert_int_equal(tlsrpt_rua_parse(r.rua_value, &r, &error), 0);
	assert_string_equal(r.rua[0].address, "a@b.example");
	assert_string_equal(r.rua_value, "mailto:a@b.example");
}

/* Every prefix is valid exactly when it holds "@" and a character after
 * it; the address is then the prefix's. */
static void test_txt_prefixes(void **state)
{
	const char *rec = "v=TLSRPTv1; rua=mailto:tls@example.com;";
	size_t at = (size_t)(strchr(rec, '@') - rec), len = strlen(rec);
	size_t local = (size_t)(strstr(rec, "tls@") - rec);

	(void)state;
	for (size_t n = 0; n <= len; n++) {
		struct tlsrpt_record r;
		const char *error = NULL;
		char prefix[64], want[64];
		int rc;
		size_t end = n < len ? n : len - 1;

		memcpy(prefix, rec, n);
		prefix[n] = '\0';
		rc = tlsrpt_txt_parse(prefix, &r, &error);
		if (n <= at + 1 || prefix[n - 1] == '.') {
			assert_int_equal(rc, -1);
			continue;
		}
		assert_int_equal(rc, 0);
		snprintf(want, sizeof(want), "%.*s", (int)(end - local), rec + local);
		assert_string_equal(r.rua[0].address, want);
	}
}

/* Any byte outside visible ASCII and WSP refuses the record. */
static void test_txt_bad_bytes(void **state)
{
	const char *rec = "v=TLSRPTv1; rua=mailto:tls@example.com,https://r.example/x;";
	size_t len = strlen(rec);

	(void)state;
	for (size_t i = 0; i < len; i++) {
		for (int b = 1; b < 256; b++) {
			char copy[128];
			struct tlsrpt_record r;
			const char *error = NULL;
			int rc;

			memcpy(copy, rec, len + 1);
			copy[i] = (char)b;
			rc = tlsrpt_txt_parse(copy, &r, &error);
			if ((b < 0x20 && b != '\t') || b >= 0x7f)
				assert_int_equal(rc, -1);
			else if (rc == 0)
				assert_true(r.n_rua >= 1 && r.n_rua <= 2);
		}
	}
}

static void test_txt_select(void **state)
{
	const char *error = NULL;
	const char *none[] = {"v=spf1 -all", "v=TLSRPTv10; rua=x", "v=STSv1; id=1"};
	const char *one[] = {"v=STSv1; id=1", "v=TLSRPTv1; rua=mailto:a@b.c"};
	const char *two[] = {"v=TLSRPTv1; rua=mailto:a@b.c", "v=TLSRPTv1;rua=mailto:d@e.f"};

	(void)state;
	assert_int_equal(tlsrpt_txt_select(NULL, 0, &error), -1);
	assert_int_equal(tlsrpt_txt_select(none, 3, &error), -1);
	assert_int_equal(tlsrpt_txt_select(one, 2, &error), 1);
	error = NULL;
	assert_int_equal(tlsrpt_txt_select(two, 2, &error), -1); /* RFC 8460 3: not one */
	assert_non_null(strstr(error, "more than one"));
}

static void test_rua_from_txt(void **state)
{
	const char *error = NULL;
	const char *one[] = {"v=STSv1; id=1", "v=TLSRPTv1; rua=mailto:a@b.c"};
	const size_t one_len[] = {13, 28};
	const char *two[] = {"v=TLSRPTv1; rua=mailto:a@b.c", "v=TLSRPTv1;rua=mailto:d@e.f"};
	const size_t two_len[] = {28, 27};
	const char *bad[] = {"v=TLSRPTv1; mailto:a@b.c"};
	const size_t bad_len[] = {24};
	size_t nul_len[] = {13, 40}; /* the record's octets run past a NUL */
	char rua[TLSRPT_RUA_VALUE_MAX] = "old", tiny[8];

	(void)state;
	assert_int_equal(tlsrpt_rua_from_txt(one, one_len, 2, rua, sizeof(rua), &error), 0);
	assert_string_equal(rua, "mailto:a@b.c");
	assert_int_equal(tlsrpt_rua_from_txt(NULL, NULL, 0, rua, sizeof(rua), &error), -1);
	assert_string_equal(rua, "");
	assert_int_equal(tlsrpt_rua_from_txt(two, two_len, 2, rua, sizeof(rua), &error), -1);
	assert_non_null(strstr(error, "more than one"));
	assert_int_equal(tlsrpt_rua_from_txt(bad, bad_len, 1, rua, sizeof(rua), &error), -2);
	assert_string_equal(rua, "");
	assert_int_equal(tlsrpt_rua_from_txt(one, nul_len, 2, rua, sizeof(rua), &error), -2);
	assert_non_null(strstr(error, "NUL"));
	assert_string_equal(rua, "");
	assert_int_equal(tlsrpt_rua_from_txt(one, one_len, 2, tiny, sizeof(tiny), &error), -2);
	assert_string_equal(tiny, "");
}

/* ---- JSON report ---------------------------------------------------- */

#define DAY_START 1796083200 /* 2026-12-01T00:00:00Z */

/* A report with an STS policy (two failures, one with every optional
 * field) and a no-policy-found one. */
static struct tlsrpt_report *sample_report(void)
{
	struct tlsrpt_report *r = calloc(1, sizeof(*r));
	struct sts_policy sts;
	struct tlsrpt_failure *f;

	assert_non_null(r);
	strcpy(r->organization_name, "Sealmail \"test\" \\ org\n\x01 \xc3\xa9 \xff");
	strcpy(r->contact_info, "tlsrpt-noreply@mx.sender.example");
	strcpy(r->report_id, "20261201.abc123@mx.sender.example");
	r->start = DAY_START;
	r->end = DAY_START + 86399;
	memset(&sts, 0, sizeof(sts));
	sts.mode = STS_MODE_ENFORCE;
	sts.max_age = 604800;
	sts.n_mx = 2;
	strcpy(sts.mx[0], "mail.example.com");
	strcpy(sts.mx[1], "*.example.net");
	tlsrpt_policy_from_sts(&sts, "example.com", &r->policies[0]);
	r->policies[0].total_successful_session_count = 5326;
	r->policies[0].total_failure_session_count = 303;
	r->policies[0].n_failures = 2;
	f = &r->policies[0].failures[0];
	strcpy(f->result_type, "certificate-expired");
	strcpy(f->sending_mta_ip, "2001:db8::1");
	strcpy(f->receiving_mx_hostname, "mx1.example.com");
	f->failed_session_count = 100;
	f = &r->policies[0].failures[1];
	strcpy(f->result_type, "starttls-not-supported");
	strcpy(f->sending_mta_ip, "192.0.2.1");
	strcpy(f->receiving_mx_hostname, "mail.example.com");
	strcpy(f->receiving_mx_helo, "mail.example.com");
	strcpy(f->receiving_ip, "203.0.113.56");
	f->failed_session_count = 200;
	strcpy(f->additional_information, "https://r.example/info?id=1");
	strcpy(f->failure_reason_code, "STARTTLS not offered");
	strcpy(r->policies[1].policy_type, "no-policy-found");
	strcpy(r->policies[1].policy_domain, "example.com");
	r->policies[1].total_successful_session_count = 7;
	r->n_policies = 2;
	return r;
}

static const char sample_json[] =
    "{\"organization-name\":\"Sealmail \\\"test\\\" \\\\ org\\n\\u0001 \xc3\xa9 \\ufffd\","
    "\"date-range\":{\"start-datetime\":\"2026-12-01T00:00:00Z\","
    "\"end-datetime\":\"2026-12-01T23:59:59Z\"},"
    "\"contact-info\":\"tlsrpt-noreply@mx.sender.example\","
    "\"report-id\":\"20261201.abc123@mx.sender.example\","
    "\"policies\":[{\"policy\":{\"policy-type\":\"sts\","
    "\"policy-string\":[\"version: STSv1\",\"mode: enforce\",\"mx: mail.example.com\","
    "\"mx: *.example.net\",\"max_age: 604800\"],"
    "\"policy-domain\":\"example.com\",\"mx-host\":[\"mail.example.com\",\"*.example.net\"]},"
    "\"summary\":{\"total-successful-session-count\":5326,"
    "\"total-failure-session-count\":303},"
    "\"failure-details\":[{\"result-type\":\"certificate-expired\","
    "\"sending-mta-ip\":\"2001:db8::1\",\"receiving-mx-hostname\":\"mx1.example.com\","
    "\"failed-session-count\":100},"
    "{\"result-type\":\"starttls-not-supported\",\"sending-mta-ip\":\"192.0.2.1\","
    "\"receiving-mx-hostname\":\"mail.example.com\",\"receiving-mx-helo\":\"mail.example.com\","
    "\"receiving-ip\":\"203.0.113.56\",\"failed-session-count\":200,"
    "\"additional-information\":\"https://r.example/info?id=1\","
    "\"failure-reason-code\":\"STARTTLS not offered\"}]},"
    "{\"policy\":{\"policy-type\":\"no-policy-found\",\"policy-domain\":\"example.com\"},"
    "\"summary\":{\"total-successful-session-count\":7,"
    "\"total-failure-session-count\":0}}]}\n";

/* The JSON of R as a malloc'ed string, or NULL with *ERROR_R; asserts
 * that OUT was left untouched on failure. */
static char *report_json(const struct tlsrpt_report *r, const char **error_r)
{
	struct evbuffer *b = evbuffer_new();
	char *s = NULL;
	size_t len;

	assert_non_null(b);
	evbuffer_add(b, "X", 1);
	if (tlsrpt_report_json(r, b, error_r) == 0) {
		len = evbuffer_get_length(b);
		s = malloc(len);
		assert_non_null(s);
		evbuffer_remove(b, s, 1);
		assert_int_equal(s[0], 'X');
		evbuffer_remove(b, s, len - 1);
		s[len - 1] = '\0';
	} else {
		assert_int_equal(evbuffer_get_length(b), 1);
	}
	evbuffer_free(b);
	return s;
}

static void test_json_exact(void **state)
{
	struct tlsrpt_report *r = sample_report();
	const char *error = NULL;
	char *json = report_json(r, &error);

	(void)state;
	if (json == NULL)
		fail_msg("refused: %s", error);
	assert_string_equal(json, sample_json);
	free(json);
	free(r);
}

/* Each octet of a string, and UTF-8 good and bad, as JSON writes it. */
static void test_json_escaping(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"\x01\x02\x08\x09\x0a\x0b\x0c\x0d\x1f",
	     "\\u0001\\u0002\\u0008\\t\\n\\u000b\\u000c\\r\\u001f"},
	    {"\"\\/ ~\x7f", "\\\"\\\\/ ~\x7f"},
	    {"\xc3\xa9\xe2\x82\xac\xf0\x9f\x93\xa7", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x93\xa7"},
	    {"\xc0\x80", "\\ufffd\\ufffd"},                       /* overlong */
	    {"\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd"},            /* a surrogate */
	    {"\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd"}, /* beyond U+10FFFF */
	    {"\xe0\x9f\xbf", "\\ufffd\\ufffd\\ufffd"},            /* overlong */
	    {"\x80x", "\\ufffdx"},                                /* a lone continuation */
	    {"\xc3", "\\ufffd"},                                  /* cut short */
	    {"\xe2\x82", "\\ufffd\\ufffd"},
	    {"\xf0\x9f\x93", "\\ufffd\\ufffd\\ufffd"},
	    {"\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"}, /* U+10FFFF */
	    {"\xef\xbf\xbf", "\xef\xbf\xbf"},
	    {"\xfe\xff", "\\ufffd\\ufffd"},
	};
	struct tlsrpt_report *r = calloc(1, sizeof(*r));
	const char *error = NULL;

	(void)state;
	assert_non_null(r);
	strcpy(r->contact_info, "c@example");
	strcpy(r->report_id, "id");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char want[256], *json;

		strcpy(r->organization_name, cases[i].in);
		snprintf(want, sizeof(want),
		         "{\"organization-name\":\"%s\",\"date-range\":{\"start-datetime\":"
		         "\"1970-01-01T00:00:00Z\",\"end-datetime\":\"1970-01-01T00:00:00Z\"},"
		         "\"contact-info\":\"c@example\",\"report-id\":\"id\",\"policies\":[]}\n",
		         cases[i].out);
		json = report_json(r, &error);
		assert_non_null(json);
		assert_string_equal(json, want);
		free(json);
	}
	free(r);
}

static void test_json_refused(void **state)
{
	struct tlsrpt_report *r = sample_report();
	const char *error = NULL;

	(void)state;
#define REFUSED(change, undo)                                                                      \
	do {                                                                                       \
		change;                                                                            \
		error = NULL;                                                                      \
		assert_null(report_json(r, &error));                                               \
		assert_non_null(error);                                                            \
		undo;                                                                              \
		free(report_json(r, &error));                                                      \
	} while (0)
	REFUSED(r->organization_name[0] = '\0', r->organization_name[0] = 'S');
	REFUSED(r->contact_info[0] = '\0', r->contact_info[0] = 't');
	REFUSED(r->report_id[0] = '\0', r->report_id[0] = '2');
	REFUSED(r->end = r->start - 1, r->end = r->start + 86399);
	REFUSED(r->n_policies = TLSRPT_POLICIES_MAX + 1, r->n_policies = 2);
	REFUSED(r->policies[1].policy_type[0] = '\0', r->policies[1].policy_type[0] = 'n');
	REFUSED(r->policies[1].policy_domain[0] = '\0', r->policies[1].policy_domain[0] = 'e');
	REFUSED(r->policies[0].n_strings = TLSRPT_POLICY_STRINGS_MAX + 1,
	        r->policies[0].n_strings = 5);
	REFUSED(r->policies[0].n_mx_hosts = TLSRPT_MX_HOSTS_MAX + 1, r->policies[0].n_mx_hosts = 2);
	REFUSED(r->policies[0].n_failures = TLSRPT_FAILURES_MAX + 1, r->policies[0].n_failures = 2);
	REFUSED(r->policies[0].failures[1].result_type[0] = '\0',
	        r->policies[0].failures[1].result_type[0] = 's');
	/* a string without its NUL */
	REFUSED(memset(r->policies[0].strings[4], 'x', TLSRPT_POLICY_STRING_MAX),
	        strcpy(r->policies[0].strings[4], "max_age: 604800"));
	REFUSED(memset(r->policies[0].failures[1].receiving_ip, '1', TLSRPT_IP_MAX),
	        strcpy(r->policies[0].failures[1].receiving_ip, "203.0.113.56"));
	REFUSED(memset(r->organization_name, 'o', TLSRPT_NAME_MAX),
	        strcpy(r->organization_name, "o"));
#undef REFUSED
	free(r);
}

/* The bounds are reachable: every array full, every string at its length. */
static void test_json_full(void **state)
{
	struct tlsrpt_report *r = sample_report();
	const char *error = NULL;
	char *json;

	(void)state;
	r->n_policies = TLSRPT_POLICIES_MAX;
	for (int i = 0; i < TLSRPT_POLICIES_MAX; i++) {
		struct tlsrpt_policy *p = &r->policies[i];

		*p = r->policies[0];
		p->n_strings = TLSRPT_POLICY_STRINGS_MAX;
		for (int j = 0; j < TLSRPT_POLICY_STRINGS_MAX; j++) {
			memset(p->strings[j], '"', TLSRPT_POLICY_STRING_MAX - 1);
			p->strings[j][TLSRPT_POLICY_STRING_MAX - 1] = '\0';
		}
		p->n_mx_hosts = TLSRPT_MX_HOSTS_MAX;
		p->n_failures = TLSRPT_FAILURES_MAX;
		for (int j = 0; j < TLSRPT_FAILURES_MAX; j++)
			p->failures[j] = r->policies[0].failures[1];
	}
	json = report_json(r, &error);
	assert_non_null(json);
	assert_true(strlen(json) > (size_t)TLSRPT_POLICIES_MAX * TLSRPT_POLICY_STRINGS_MAX *
	                               (TLSRPT_POLICY_STRING_MAX - 1) * 2);
	free(json);
	free(r);
}

static void test_policy_from_tlsa(void **state)
{
	struct tlsa_record t[TLSA_MAX + 1];
	struct tlsrpt_policy *p = calloc(1, sizeof(*p));
	char want[TLSRPT_POLICY_STRING_MAX];

	(void)state;
	assert_non_null(p);
	memset(t, 0, sizeof(t));
	t[0].usage = 3;
	t[0].selector = 1;
	t[0].mtype = 1;
	t[0].len = 4;
	memcpy(t[0].data, "\x00\x1f\xa0\xff", 4);
	t[1].usage = 2;
	t[1].len = TLSA_DATA_MAX; /* cut to the string's bound */
	memset(t[1].data, 0xab, TLSA_DATA_MAX);
	tlsrpt_policy_from_tlsa(t, 2, "example.com", "mx.example.com", p);
	assert_string_equal(p->policy_type, "tlsa");
	assert_string_equal(p->policy_domain, "example.com");
	assert_int_equal(p->n_mx_hosts, 1);
	assert_string_equal(p->mx_hosts[0], "mx.example.com");
	assert_int_equal(p->n_strings, 2);
	assert_string_equal(p->strings[0], "3 1 1 001FA0FF");
	strcpy(want, "2 0 0 ");
	for (size_t n = 6; n + 2 < TLSRPT_POLICY_STRING_MAX; n += 2)
		strcat(want, "AB");
	assert_string_equal(p->strings[1], want);
	tlsrpt_policy_from_tlsa(t, TLSA_MAX + 1, "example.com", "mx.example.com", p);
	assert_int_equal(p->n_strings, TLSA_MAX);
	assert_int_equal(p->total_successful_session_count, 0);
	free(p);
}

/* ---- names (RFC 8460 5.3) ------------------------------------------- */

static void test_names(void **state)
{
	char buf[TLSRPT_REPORT_ID_MAX], small[20];

	(void)state;
	assert_int_equal(
	    tlsrpt_report_id(DAY_START, "abc123", "mx.sender.example", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "20261201.abc123@mx.sender.example");
	assert_int_equal(
	    tlsrpt_report_id(DAY_START, "abc-123", "mx.sender.example", buf, sizeof(buf)), -1);
	assert_string_equal(buf, "");
	assert_int_equal(tlsrpt_report_id(DAY_START, "", "mx.sender.example", buf, sizeof(buf)),
	                 -1);
	assert_int_equal(tlsrpt_report_id(DAY_START, "0123456789abcdef0123456789abcdefX",
	                                  "mx.sender.example", buf, sizeof(buf)),
	                 -1);
	assert_int_equal(tlsrpt_report_id(DAY_START, "a", "mx sender", buf, sizeof(buf)), -1);
	assert_int_equal(tlsrpt_report_id(DAY_START, "a", "mx.sender.example", small, 10), -1);
	assert_string_equal(small, "");

	assert_int_equal(tlsrpt_subject("example.net", "mail.sender.example",
	                                "735ff.e317+bf22029@mailexample.net", buf, sizeof(buf)),
	                 0);
	assert_string_equal(buf, "Report Domain: example.net Submitter: mail.sender.example "
	                         "Report-ID: <735ff.e317+bf22029@mailexample.net>");
	assert_int_equal(tlsrpt_subject("example.net", "s.example", "a b", buf, sizeof(buf)), -1);
	assert_int_equal(tlsrpt_subject("example.net", "s.example", "a>b", buf, sizeof(buf)), -1);
	assert_int_equal(tlsrpt_subject("example.net", "s.example", "", buf, sizeof(buf)), -1);
	assert_int_equal(
	    tlsrpt_subject("example.net\r\nBcc: x", "s.example", "id", buf, sizeof(buf)), -1);
	assert_int_equal(tlsrpt_subject("example.net", "s.example", "id", small, sizeof(small)),
	                 -1);
	assert_string_equal(small, "");

	assert_int_equal(tlsrpt_filename("mail.sender.example", "recipient.example", 1013662812,
	                                 1013749130, "a1b2", 1, buf, sizeof(buf)),
	                 0);
	assert_string_equal(
	    buf, "mail.sender.example!recipient.example!1013662812!1013749130!a1b2.json.gz");
	assert_int_equal(tlsrpt_filename("s.example", "r.example", 1, 2, "u", 0, buf, sizeof(buf)),
	                 0);
	assert_string_equal(buf, "s.example!r.example!1!2!u.json");
	assert_int_equal(tlsrpt_filename("s.example", "../r", 1, 2, "u", 0, buf, sizeof(buf)), -1);
	assert_int_equal(tlsrpt_filename("s!x", "r.example", 1, 2, "u", 0, buf, sizeof(buf)), -1);
	assert_int_equal(tlsrpt_filename("s.example", "r.example", 1, 2, "u/", 0, buf, sizeof(buf)),
	                 -1);
	assert_int_equal(tlsrpt_filename("s.example", "r.example", 2, 1, "u", 0, buf, sizeof(buf)),
	                 -1);
	assert_int_equal(tlsrpt_filename("s.example", "r.example", 1, 2, "u", 1, small, 20), -1);
	assert_string_equal(small, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_txt_rfc_examples),
	    cmocka_unit_test(test_txt_forms),
	    cmocka_unit_test(test_txt_invalid),
	    cmocka_unit_test(test_mailto_invalid),
	    cmocka_unit_test(test_addr_spec),
	    cmocka_unit_test(test_rua_bounds),
	    cmocka_unit_test(test_txt_prefixes),
	    cmocka_unit_test(test_txt_bad_bytes),
	    cmocka_unit_test(test_txt_select),
	    cmocka_unit_test(test_rua_from_txt),
	    cmocka_unit_test(test_json_exact),
	    cmocka_unit_test(test_json_escaping),
	    cmocka_unit_test(test_json_refused),
	    cmocka_unit_test(test_json_full),
	    cmocka_unit_test(test_policy_from_tlsa),
	    cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
