/*
 * fuzz_sts_cache.c: libFuzzer harness for the MTA-STS cache file's parser
 * (sts_cache_parse, lookup/sts_cache_file.c, on sts_cache_text_parse of
 * policy/sts.c), which reads back what a restart finds in data_dir/sts/
 * and gives the queue's TLS reports the policy's lines. What is accepted stays within the bounds
 * (an id of 1 to 32 letters and digits, a mode, at most STS_MX_MAX
 * patterns, no error text); what sts_cache_format writes for it fits a
 * cache file and parses back to the same policy, and writes the same bytes
 * again. What is refused says why.
 */
#include "fuzz_common.h"
#include "lookup/sts_cache.h"
#include "policy/sts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char text[STS_CACHE_FILE_SIZE_MAX], text2[STS_CACHE_FILE_SIZE_MAX];
	struct sts_policy p, again;
	const char *why = NULL;
	int len, len2;
	size_t n;

	memset(&p, 0, sizeof(p));
	memset(&again, 0, sizeof(again));
	/* the input as it is, unterminated: the parser takes a length */
	if (sts_cache_parse((const char *)data, size, &p, &why) < 0) {
		CHECK(why != NULL && why[0] != '\0');
		return 0;
	}
	/* the policy/ parser it calls: the same policy, its body inside the input */
	{
		struct sts_policy q;
		const char *body;
		size_t body_len;

		CHECK(sts_cache_text_parse((const char *)data, size, &q, &body, &body_len, &why) ==
		      0);
		CHECK(memcmp(&p, &q, sizeof(p)) == 0);
		CHECK(body > (const char *)data && body + body_len == (const char *)data + size);
	}
	n = strnlen(p.id, sizeof(p.id));
	CHECK(n > 0 && n <= STS_TXT_ID_MAX);
	for (size_t i = 0; i < n; i++)
		CHECK((p.id[i] >= 'a' && p.id[i] <= 'z') || (p.id[i] >= 'A' && p.id[i] <= 'Z') ||
		      (p.id[i] >= '0' && p.id[i] <= '9'));
	CHECK(p.mode >= STS_MODE_NONE && p.mode <= STS_MODE_ENFORCE);
	CHECK(p.max_age <= STS_MAX_AGE_MAX);
	CHECK(p.n_mx <= STS_MX_MAX && (p.n_mx > 0 || p.mode == STS_MODE_NONE));
	CHECK(p.error[0] == '\0');
	for (uint32_t i = 0; i < p.n_mx; i++)
		CHECK(sts_mx_pattern_valid(p.mx[i]));
	len = sts_cache_format(&p, text, sizeof(text));
	CHECK(len > 0 && (size_t)len < sizeof(text));
	CHECK(sts_cache_parse(text, (size_t)len, &again, &why) == 0);
	CHECK(memcmp(&p, &again, sizeof(p)) == 0);
	len2 = sts_cache_format(&again, text2, sizeof(text2));
	CHECK(len2 == len && memcmp(text, text2, (size_t)len) == 0);
	return 0;
}
