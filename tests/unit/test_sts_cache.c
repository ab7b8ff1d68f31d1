/*
 * test_sts_cache.c: the MTA-STS cache files (lookup/sts_cache_file.c):
 * what is written reads back the same, every cut and every damaged header
 * is refused, files are replaced whole, expired and foreign files are
 * pruned; a fetch turned into a policy; and the fetch's Content-Type
 * check (dns/sts_fetch.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dns/sts_fetch.h"
#include "lib/util.h"
#include "lookup/sts_cache.h"
#include "lookup/sts_cache_private.h"

static struct sts_policy sample(void)
{
	struct sts_policy p;

	memset(&p, 0, sizeof(p));
	p.mode = STS_MODE_ENFORCE;
	strcpy(p.id, "20261201T1");
	p.max_age = 86400;
	p.fetched = 1796119200;
	p.n_mx = 2;
	strcpy(p.mx[0], "mx.example.com");
	strcpy(p.mx[1], "*.backup.example.com");
	return p;
}

static void test_round_trip(void **state)
{
	struct sts_policy p = sample(), q;
	char buf[STS_CACHE_FILE_SIZE_MAX];
	const char *why = NULL;
	int len = sts_cache_format(&p, buf, sizeof(buf));
	uint32_t modes[] = {STS_MODE_NONE, STS_MODE_TESTING, STS_MODE_ENFORCE};

	assert_true(len > 0);
	assert_int_equal(sts_cache_parse(buf, (size_t)len, &q, &why), 0);
	assert_memory_equal(&p, &q, sizeof(p));
	for (unsigned i = 0; i < 3; i++) {
		p.mode = modes[i];
		p.n_mx = modes[i] == STS_MODE_NONE ? 0 : 1;
		memset(p.mx[1], 0, sizeof(p.mx[1]));
		memset(p.mx[0], 0, sizeof(p.mx[0]));
		if (p.n_mx == 1)
			strcpy(p.mx[0], "mx.example.com");
		len = sts_cache_format(&p, buf, sizeof(buf));
		if (sts_cache_parse(buf, (size_t)len, &q, &why) != 0)
			fail_msg("%s: %s", buf, why);
		assert_memory_equal(&p, &q, sizeof(p));
	}
}

static void test_too_small(void **state)
{
	struct sts_policy p = sample();
	char buf[64];

	assert_int_equal(sts_cache_format(&p, buf, sizeof(buf)), -1);
}

/* Every cut before the last line's end is refused or reads as less (the
 * last line may lack its LF). */
static void test_cuts(void **state)
{
	struct sts_policy p = sample(), q;
	char buf[STS_CACHE_FILE_SIZE_MAX];
	const char *why;
	int len = sts_cache_format(&p, buf, sizeof(buf));
	const char *body = strstr(buf, "\n\n");

	for (int cut = 0; cut < len - 1; cut++) {
		int r = sts_cache_parse(buf, (size_t)cut, &q, &why);
		if (buf + cut <= body + 1)
			assert_int_equal(r, -1); /* the header is incomplete */
		else if (r == 0)
			assert_memory_not_equal(&p, &q, sizeof(p));
	}
}

static void test_bad_headers(void **state)
{
	static const char *const bad[] = {
	    "",
	    "sealmail-sts-cache 2\nid: a\nfetched: 1\n\nversion: STSv1\nmode: none\nmax_age: 1\n",
	    "sealmail-sts-cache 1\nid: a-b\nfetched: 1\n\nversion: STSv1\nmode: none\nmax_age: 1\n",
	    "sealmail-sts-cache 1\nid: \nfetched: 1\n\nversion: STSv1\nmode: none\nmax_age: 1\n",
	    ("sealmail-sts-cache 1\nid: 012345678901234567890123456789012\nfetched: 1\n\n"
	     "version: STSv1\nmode: none\nmax_age: 1\n"),
	    "sealmail-sts-cache 1\nid: a\nfetched: -1\n\nversion: STSv1\nmode: none\nmax_age: 1\n",
	    "sealmail-sts-cache 1\nid: a\nfetched: 1x\n\nversion: STSv1\nmode: none\nmax_age: 1\n",
	    "sealmail-sts-cache 1\nfetched: 1\nid: a\n\nversion: STSv1\nmode: none\nmax_age: 1\n",
	    "sealmail-sts-cache 1\nid: a\nfetched: 1\nversion: STSv1\nmode: none\nmax_age: 1\n",
	    "sealmail-sts-cache 1\nid: a\nfetched: 1\n\nversion: STSv1\nmode: enforce\nmax_age: 1\n",
	};
	/* a NUL in a header value: an empty id, a time with trailing bytes */
	static const char nul_id[] = "sealmail-sts-cache 1\nid: \0a\nfetched: 1\n\n"
	                             "version: STSv1\nmode: none\nmax_age: 1\n";
	static const char nul_time[] = "sealmail-sts-cache 1\nid: a\nfetched: 1\0x\n\n"
	                               "version: STSv1\nmode: none\nmax_age: 1\n";
	struct sts_policy q;
	const char *why;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sts_cache_parse(bad[i], strlen(bad[i]), &q, &why) == 0)
			fail_msg("accepted: %s", bad[i]);
	assert_int_equal(sts_cache_parse(nul_id, sizeof(nul_id) - 1, &q, &why), -1);
	assert_int_equal(sts_cache_parse(nul_time, sizeof(nul_time) - 1, &q, &why), -1);
}

static void test_valid_at(void **state)
{
	struct sts_policy p = sample();

	assert_true(sts_policy_valid_at(&p, p.fetched));
	assert_true(sts_policy_valid_at(&p, p.fetched + p.max_age - 1));
	assert_false(sts_policy_valid_at(&p, p.fetched + p.max_age));
	p.mode = STS_MODE_ABSENT;
	assert_false(sts_policy_valid_at(&p, p.fetched));
}

static void test_from_fetch(void **state)
{
	static const char body[] = "version: STSv1\nmode: testing\nmx: mx.example.com\n"
	                           "max_age: 600\n";
	struct sts_fetch_result r = {.ok = 1, .body = body, .len = sizeof(body) - 1};
	struct sts_policy p;
	const char *why;

	(void)state;
	assert_int_equal(sts_policy_from_fetch(&r, "abc", 1000, &p, &why), 0);
	assert_int_equal(p.mode, STS_MODE_TESTING);
	assert_string_equal(p.id, "abc");
	assert_int_equal(p.fetched, 1000);
	r.len = 10; /* cut: no mode */
	assert_int_equal(sts_policy_from_fetch(&r, "abc", 1000, &p, &why), -2);
	assert_int_equal(p.mode, STS_MODE_ABSENT);
	r.ok = 0;
	strcpy(r.error, "HTTP 404");
	assert_int_equal(sts_policy_from_fetch(&r, "abc", 1000, &p, &why), -1);
	assert_string_equal(why, "HTTP 404");
}

static void test_files(void **state)
{
	char dir[] = "/tmp/test_sts_cache.XXXXXX", path[128];
	struct sts_policy p = sample(), q;
	const char *why = NULL;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(sts_cache_file_load(dir, "example.com", &q), 0);
	assert_int_equal(sts_cache_file_store(dir, "example.com", &p, &why), 0);
	assert_int_equal(sts_cache_file_load(dir, "example.com", &q), 1);
	assert_memory_equal(&p, &q, sizeof(p));
	/* replaced whole */
	strcpy(p.id, "second");
	assert_int_equal(sts_cache_file_store(dir, "example.com", &p, &why), 0);
	assert_int_equal(sts_cache_file_load(dir, "example.com", &q), 1);
	assert_string_equal(q.id, "second");
	/* a damaged file is refused and removed */
	snprintf(path, sizeof(path), "%s/broken.example", dir);
	f = fopen(path, "w");
	fputs("sealmail-sts-cache 1\nid: x\n", f);
	fclose(f);
	assert_int_equal(sts_cache_file_load(dir, "broken.example", &q), -1);
	assert_int_equal(access(path, F_OK), -1);
	/* pruning: an expired policy, a left-over temporary file, a foreign name */
	p.fetched = 1000;
	p.max_age = 10;
	assert_int_equal(sts_cache_file_store(dir, "old.example", &p, &why), 0);
	snprintf(path, sizeof(path), "%s/.x.example.tmp", dir);
	fclose(fopen(path, "w"));
	snprintf(path, sizeof(path), "%s/NOT_A_HOST", dir);
	fclose(fopen(path, "w"));
	/* a dot-file the cache did not write stays, and is no policy */
	snprintf(path, sizeof(path), "%s/.x.tmp.keep", dir);
	fclose(fopen(path, "w"));
	assert_int_equal(sts_cache_file_prune(dir, 1796119300), 1);
	assert_int_equal(sts_cache_file_load(dir, "example.com", &q), 1);
	assert_int_equal(sts_cache_file_load(dir, "old.example", &q), 0);
	snprintf(path, sizeof(path), "%s/.x.example.tmp", dir);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/.x.tmp.keep", dir);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(unlink(path), 0);
	sts_cache_file_remove(dir, "example.com");
	assert_int_equal(sts_cache_file_prune(dir, 0), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void test_content_type(void **state)
{
	assert_true(sts_fetch_type_ok("text/plain"));
	assert_true(sts_fetch_type_ok("Text/Plain"));
	assert_true(sts_fetch_type_ok("text/plain; charset=utf-8"));
	assert_true(sts_fetch_type_ok("text/plain;charset=utf-8"));
	assert_false(sts_fetch_type_ok(NULL));
	assert_false(sts_fetch_type_ok(""));
	assert_false(sts_fetch_type_ok("text/html"));
	assert_false(sts_fetch_type_ok("text/plainx"));
	assert_false(sts_fetch_type_ok("text/plai"));
	assert_false(sts_fetch_type_ok("application/octet-stream"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip), cmocka_unit_test(test_too_small),
	    cmocka_unit_test(test_cuts),       cmocka_unit_test(test_bad_headers),
	    cmocka_unit_test(test_valid_at),   cmocka_unit_test(test_files),
	    cmocka_unit_test(test_content_type),
	    cmocka_unit_test(test_from_fetch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
