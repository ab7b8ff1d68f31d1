/*
 * fuzz_role_title.c: libFuzzer harness for role_title_name(), which reads
 * the process titles of the server's children, set by roles that could be
 * taken over. The name is always a whole string of printable ASCII, and a
 * known name only for a title of a known shape, shown as it was.
 */
#include "fuzz_common.h"

#include "ctl/role_title.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data, *nul = memchr(data, '\0', size);
	size_t title = nul != NULL ? (size_t)(nul - in) : size, i;
	char out[ROLE_TITLE_NAME_MAX];

	memset(out, 'X', sizeof(out));
	int r = role_title_name(in, size, out, sizeof(out));
	CHECK(memchr(out, '\0', sizeof(out)) != NULL);
	for (i = 0; out[i] != '\0'; i++)
		CHECK(out[i] >= 0x20 && out[i] <= 0x7e);
	if (r < 0) {
		CHECK(strncmp(out, "(unknown) \"", 11) == 0);
		return 0;
	}
	CHECK(r == 0 && title > 10 && memcmp(in, "sealmail: ", 10) == 0);
	if (strcmp(out, "(starting)") == 0)
		CHECK(title == 16 && memcmp(in + 10, "parent", 6) == 0);
	else
		CHECK(strlen(out) == title - 10 && memcmp(out, in + 10, title - 10) == 0);
	return 0;
}
