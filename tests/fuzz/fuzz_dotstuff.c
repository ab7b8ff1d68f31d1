/*
 * fuzz_dotstuff.c: libFuzzer harness for smtp_dotstuff_feed() and
 * smtp_dotstuff_finish(). The first byte picks the chunking seed; the rest is
 * a stored message. Fed whole, byte by byte and in random chunks, the output
 * must be the same, hold no bare CR or LF, and decode (as a server reads
 * DATA) back to the input with every line end made CRLF.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/dotstuff.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

/* Size of the next chunk: all that is LEFT (MODE 0), 1 byte (MODE 1), or
 * 1 to 31 bytes drawn from *SEED. */
static size_t next_chunk(int mode, unsigned *seed, size_t left)
{
	size_t n = mode == 0 ? left : 1;

	if (mode > 1) {
		*seed = *seed * 1103515245u + 12345u;
		n = 1 + (*seed >> 16) % 31;
	}
	return n < left ? n : left;
}

/* Encodes IN in chunks into OUT (2 * LEN + 8 bytes); each call gets an output
 * buffer of exactly the documented size, so ASan catches any overrun. */
static size_t encode(const char *in, size_t len, int mode, unsigned seed, char *out)
{
	struct smtp_dotstuff d;
	size_t off = 0, n = 0, got;
	char *tail = malloc(8);

	CHECK(tail != NULL);
	smtp_dotstuff_init(&d);
	while (off < len) {
		size_t chunk = next_chunk(mode, &seed, len - off);
		char *buf = malloc(2 * chunk + 2);

		CHECK(buf != NULL);
		got = smtp_dotstuff_feed(&d, in + off, chunk, buf);
		CHECK(got <= 2 * chunk);
		memcpy(out + n, buf, got);
		n += got;
		off += chunk;
		free(buf);
	}
	got = smtp_dotstuff_finish(&d, tail);
	CHECK(got >= 3 && got <= 5);
	memcpy(out + n, tail, got);
	free(tail);
	CHECK(d.at_line_start == 1 && d.pending_cr == 0);
	return n + got;
}

/* IN with every line end made CRLF and a final CRLF when it has none. */
static size_t normalise(const char *in, size_t len, char *out)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if (in[i] != '\r' && in[i] != '\n') {
			out[n++] = in[i];
			continue;
		}
		if (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n')
			i++;
		out[n++] = '\r';
		out[n++] = '\n';
	}
	if (n > 0 && out[n - 1] != '\n') {
		out[n++] = '\r';
		out[n++] = '\n';
	}
	return n;
}

/* What a server reads from IN (RFC 5321 4.5.2); -1 unless IN ends with the
 * one line "." and has no bare CR or LF. */
static long decode(const char *in, size_t len, char *out)
{
	size_t n = 0, pos = 0;

	for (size_t i = 0; i < len; i++) {
		if (in[i] == '\r')
			CHECK(i + 1 < len && in[i + 1] == '\n');
		if (in[i] == '\n')
			CHECK(i > 0 && in[i - 1] == '\r');
	}
	while (pos < len) {
		const char *crlf = memmem(in + pos, len - pos, "\r\n", 2);
		size_t line_len;

		if (crlf == NULL)
			return -1;
		line_len = (size_t)(crlf - (in + pos));
		if (line_len == 1 && in[pos] == '.')
			return pos + 3 == len ? (long)n : -1;
		if (in[pos] == '.') {
			pos++;
			line_len--;
		}
		memcpy(out + n, in + pos, line_len + 2);
		n += line_len + 2;
		pos += line_len + 2;
	}
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data + 1;
	size_t len, first_len, n;
	char *first, *again, *normal, *decoded;
	long decoded_len;

	if (size < 1)
		return 0;
	len = size - 1;
	first = malloc(2 * len + 8);
	again = malloc(2 * len + 8);
	normal = malloc(2 * len + 8);
	decoded = malloc(2 * len + 8);
	CHECK(first && again && normal && decoded);
	first_len = encode(in, len, 0, data[0], first);
	for (int mode = 1; mode < 3; mode++) {
		n = encode(in, len, mode, data[0], again);
		CHECK(n == first_len && memcmp(first, again, n) == 0);
	}
	decoded_len = decode(first, first_len, decoded);
	n = normalise(in, len, normal);
	CHECK(decoded_len >= 0 && (size_t)decoded_len == n && memcmp(decoded, normal, n) == 0);
	free(first);
	free(again);
	free(normal);
	free(decoded);
	return 0;
}
