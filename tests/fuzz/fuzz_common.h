/*
 * fuzz_common.h: what the libFuzzer harnesses share: CHECK (abort, so the
 * fuzzer records the input), a copy of the input as a C string, and quiet
 * logs for harnesses that run code which logs.
 */
#ifndef SEALMAIL_FUZZ_COMMON_H
#define SEALMAIL_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

/* DATA (SIZE bytes) as a malloc'ed NUL-terminated string; embedded NULs stay. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	CHECK(s != NULL);
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Sends the log lines of the code under test (fprintf to stderr) nowhere;
 * sanitizer and libFuzzer reports still reach file descriptor 2. */
static inline void fuzz_quiet_logs(void)
{
	static FILE *null;

	if (null == NULL)
		null = fopen("/dev/null", "w");
	if (null != NULL)
		stderr = null;
}

#endif
