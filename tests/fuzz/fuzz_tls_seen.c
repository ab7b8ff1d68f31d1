/*
 * fuzz_tls_seen.c: libFuzzer harness for the downgrade memory file's parser
 * (tls_seen_parse, policy/tls_seen.c). What is accepted stays within the
 * bounds (at most TLS_SEEN_MAX domains, sorted, lower case, levels 0..2,
 * times > 0); what tls_seen_format writes for it parses back to the same
 * bytes; lookups of every entry find it.
 */
#include "fuzz_common.h"
#include "mail/delivery.h"
#include "policy/tls_seen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tls_seen_map *m = tls_seen_map_new(), *again = tls_seen_map_new();
	const char *why = NULL;
	char *text, *text2;
	size_t len, len2;
	uint32_t level;
	uint64_t t;

	if (tls_seen_parse(m, (const char *)data, size, &why) < 0) {
		CHECK(why != NULL && m->n == 0);
		goto done;
	}
	CHECK(m->n <= TLS_SEEN_MAX);
	for (unsigned i = 0; i < m->n; i++) {
		const struct tls_seen_entry *e = &m->entries[i];
		CHECK(e->level <= TLS_SEEN_AUTHENTICATED && e->time > 0);
		CHECK(i == 0 || strcmp(m->entries[i - 1].domain, e->domain) < 0);
		for (const char *c = e->domain; *c; c++)
			CHECK(!(*c >= 'A' && *c <= 'Z') && (unsigned char)*c > 0x20);
		CHECK(tls_seen_get(m, e->domain, e->time, 1, &level, &t) == 1);
		CHECK(level == e->level && t == e->time);
	}
	text = tls_seen_format(m, &len);
	CHECK(tls_seen_parse(again, text, len, &why) == 0);
	text2 = tls_seen_format(again, &len2);
	CHECK(len == len2 && memcmp(text, text2, len) == 0);
	free(text);
	free(text2);
done:
	tls_seen_map_free(&m);
	tls_seen_map_free(&again);
	return 0;
}
