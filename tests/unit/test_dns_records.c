/*
 * test_dns_records.c: the rdata decoders of TLSA (RFC 6698 2.1) and TXT
 * (RFC 1035 3.3.14) records: exact values, every bound, every truncation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"

static void test_tlsa_decodes_fields_and_data(void **state)
{
	const unsigned char rd[] = {3, 1, 1, 0xde, 0xad, 0xbe, 0xef};
	struct tlsa_record t;

	assert_int_equal(dns_tlsa_rdata_decode(rd, sizeof(rd), &t), 0);
	assert_int_equal(t.usage, 3);
	assert_int_equal(t.selector, 1);
	assert_int_equal(t.mtype, 1);
	assert_int_equal(t.len, 4);
	assert_memory_equal(t.data, rd + 3, 4);
}

static void test_tlsa_too_short(void **state)
{
	const unsigned char rd[] = {2, 0, 1, 7};
	struct tlsa_record t;

	/* every prefix shorter than the three fields and one octet of data */
	for (size_t n = 0; n < sizeof(rd); n++)
		assert_int_equal(dns_tlsa_rdata_decode(rd, n, &t), -1);
	assert_int_equal(dns_tlsa_rdata_decode(rd, sizeof(rd), &t), 0);
	assert_int_equal(t.len, 1);
}

static void test_tlsa_data_bound(void **state)
{
	unsigned char *rd = calloc(1, 3 + TLSA_DATA_MAX + 1);
	struct tlsa_record t;

	assert_non_null(rd);
	rd[0] = 3;
	rd[3 + TLSA_DATA_MAX - 1] = 0x5a;
	assert_int_equal(dns_tlsa_rdata_decode(rd, 3 + TLSA_DATA_MAX, &t), 0);
	assert_int_equal(t.len, TLSA_DATA_MAX);
	assert_int_equal(t.data[TLSA_DATA_MAX - 1], 0x5a);
	/* a full certificate larger than the bound is skipped, not cut */
	assert_int_equal(dns_tlsa_rdata_decode(rd, 3 + TLSA_DATA_MAX + 1, &t), -1);
	free(rd);
}

static void test_txt_joins_strings(void **state)
{
	const unsigned char rd[] = {5, 'v', '=', 'S', 'T', 'S', 0, 4, 'v', '1', ';', ' '};
	char out[64];
	size_t len;

	assert_int_equal(dns_txt_rdata_decode(rd, sizeof(rd), out, sizeof(out), &len), 0);
	assert_int_equal(len, 9);
	assert_string_equal(out, "v=STSv1; ");
}

static void test_txt_keeps_nul(void **state)
{
	const unsigned char rd[] = {3, 'a', 0, 'b'};
	char out[8];
	size_t len;

	assert_int_equal(dns_txt_rdata_decode(rd, sizeof(rd), out, sizeof(out), &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(out, "a\0b", 4);
}

static void test_txt_empty(void **state)
{
	const unsigned char rd[] = {0};
	char out[4] = "x";
	size_t len = 9;

	assert_int_equal(dns_txt_rdata_decode(rd, sizeof(rd), out, sizeof(out), &len), 0);
	assert_int_equal(len, 0);
	assert_string_equal(out, "");
	assert_int_equal(dns_txt_rdata_decode(rd, 0, out, sizeof(out), &len), 0);
	assert_int_equal(len, 0);
}

static void test_txt_string_past_the_end(void **state)
{
	const unsigned char rd[] = {2, 'o', 'k', 3, 'a', 'b'};
	char out[16];
	size_t len;

	for (size_t n = 1; n <= sizeof(rd); n++) {
		int r = dns_txt_rdata_decode(rd, n, out, sizeof(out), &len);
		/* whole strings only: after "ok" (3 octets) or nothing else */
		assert_int_equal(r, n == 3 ? 0 : -1);
	}
}

static void test_txt_output_bound(void **state)
{
	const unsigned char rd[] = {4, 'a', 'b', 'c', 'd'};
	char out[5];
	size_t len;

	assert_int_equal(dns_txt_rdata_decode(rd, sizeof(rd), out, 5, &len), 0);
	assert_string_equal(out, "abcd");
	for (size_t size = 0; size < 5; size++)
		assert_int_equal(dns_txt_rdata_decode(rd, sizeof(rd), out, size, &len), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tlsa_decodes_fields_and_data),
	    cmocka_unit_test(test_tlsa_too_short),
	    cmocka_unit_test(test_tlsa_data_bound),
	    cmocka_unit_test(test_txt_joins_strings),
	    cmocka_unit_test(test_txt_keeps_nul),
	    cmocka_unit_test(test_txt_empty),
	    cmocka_unit_test(test_txt_string_past_the_end),
	    cmocka_unit_test(test_txt_output_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
