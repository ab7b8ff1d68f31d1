/*
 * fuzz_tlsrpt_txt.c: libFuzzer harness for tlsrpt_txt_parse(),
 * tlsrpt_rua_parse() and tlsrpt_addr_spec_valid(). The input is one TXT
 * record; what parses must be within the bounds, each mailto: must hold
 * a valid address, and its rua= value alone must parse to the same URIs.
 */
#include "fuzz_common.h"

#include <strings.h>

#include "policy/tlsrpt.h"

static void check_parsed(const char *txt, const struct tlsrpt_record *r)
{
	static struct tlsrpt_record again;
	const char *error = NULL;

	CHECK(strncmp(txt, "v=TLSRPTv1", 10) == 0);
	CHECK(r->n_rua >= 1 && r->n_rua <= TLSRPT_RUA_MAX);
	CHECK(r->n_mailto + r->n_https == r->n_rua);
	CHECK(strstr(txt, r->rua_value) != NULL);
	for (uint32_t i = 0; i < r->n_rua; i++) {
		const struct tlsrpt_uri *u = &r->rua[i];

		CHECK(strstr(r->rua_value, u->uri) != NULL);
		if (u->kind == TLSRPT_URI_MAILTO) {
			CHECK(strncasecmp(u->uri, "mailto:", 7) == 0);
			CHECK(tlsrpt_addr_spec_valid(u->address));
		} else {
			CHECK(u->kind == TLSRPT_URI_HTTPS);
			CHECK(strncasecmp(u->uri, "https://", 8) == 0 && u->address[0] == '\0');
		}
	}
	memset(&again, 0xa5, sizeof(again));
	CHECK(tlsrpt_rua_parse(r->rua_value, &again, &error) == 0);
	CHECK(memcmp(r, &again, sizeof(again)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tlsrpt_record r;
	char *s = fuzz_strndup(data, size);
	const char *error = NULL;

	if (tlsrpt_txt_parse(s, &r, &error) == 0) {
		check_parsed(s, &r);
	} else {
		CHECK(error != NULL && error[0] != '\0' && r.n_rua == 0);
	}
	if (tlsrpt_rua_parse(s, &r, &error) == 0)
		CHECK(r.n_rua >= 1 && strcmp(r.rua_value, s) == 0);
	(void)tlsrpt_addr_spec_valid(s);
	free(s);
	return 0;
}
