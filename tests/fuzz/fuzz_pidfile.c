/*
 * fuzz_pidfile.c: libFuzzer harness for pidfile_parse(), which reads a file
 * in the data directory, where a role could have written anything. A pid
 * accepted must be what the input's digits say, written back the same.
 */
#include "fuzz_common.h"

#include "lib/pidfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char back[16];
	pid_t pid = 0;
	size_t len;

	if (pidfile_parse((const char *)data, size, &pid) < 0) {
		CHECK(pid == 0);
		return 0;
	}
	CHECK(pid > 0);
	len = (size_t)snprintf(back, sizeof(back), "%d", (int)pid);
	CHECK(len == size || (len + 1 == size && data[len] == '\n'));
	CHECK(memcmp(back, data, len) == 0);
	return 0;
}
