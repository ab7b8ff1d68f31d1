/*
 * fuzz_base64.c: libFuzzer harness for base64_decode(). Whatever it
 * accepts must be canonical (base64.h): encoding the result gives back the
 * input exactly; and every encoding must decode to what was encoded.
 */
#include "fuzz_common.h"
#include "lib/base64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = fuzz_strndup(data, size);
	unsigned char *out = malloc(size * 3 / 4 + 1);
	char *again = malloc(4 * ((size + 2) / 3) + 1);
	long n;

	CHECK(out != NULL && again != NULL);
	n = base64_decode(in, size, out);
	CHECK(n >= -1 && n <= (long)(size * 3 / 4));
	if (n >= 0) {
		CHECK(out[n] == '\0');
		base64_encode(out, (size_t)n, again);
		CHECK(strlen(again) == size && memcmp(again, in, size) == 0);
	}
	/* the other way round: any bytes encode to what decodes back */
	base64_encode(data, size, again);
	free(out);
	out = malloc(strlen(again) * 3 / 4 + 1);
	CHECK(out != NULL);
	n = base64_decode(again, strlen(again), out);
	CHECK(n == (long)size && (size == 0 || memcmp(out, data, size) == 0));
	free(in);
	free(out);
	free(again);
	return 0;
}
