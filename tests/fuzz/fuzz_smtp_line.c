/*
 * fuzz_smtp_line.c: libFuzzer harness for smtp_line_feed(). The first byte
 * picks the line bound, the second the chunking; the rest is the stream. The
 * events must be the same fed whole, byte by byte and in random chunks.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_parse.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

/* FNV-1a over N bytes of P, continuing from H. */
static uint64_t hash(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ULL;
	return h;
}

/* Checks one event and folds it into H. */
static uint64_t event(uint64_t h, const struct smtp_line_reader *r, enum smtp_line_status st,
                      const char *line, size_t len)
{
	if (st == SMTP_LINE_OK) {
		CHECK(len + 2 <= r->max);
		CHECK(line[len] == '\0');
		CHECK(memchr(line, '\r', len) == NULL && memchr(line, '\n', len) == NULL);
		h = hash(h, &len, sizeof(len));
		h = hash(h, line, len);
	}
	return hash(h, &st, sizeof(st));
}

/* Size of the next chunk: all that is LEFT (MODE 0), 1 byte (MODE 1), or
 * 1 to 7 bytes drawn from *SEED. */
static size_t next_chunk(int mode, unsigned *seed, size_t left)
{
	size_t n = mode == 0 ? left : 1;

	if (mode > 1) {
		*seed = *seed * 1103515245u + 12345u;
		n = 1 + (*seed >> 16) % 7;
	}
	return n < left ? n : left;
}

/* Feeds IN to a reader of MAX in chunks chosen by MODE and SEED; returns a
 * hash of the events. */
static uint64_t run(const char *in, size_t len, size_t max, int mode, unsigned seed)
{
	struct smtp_line_reader r;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t off = 0, rounds = 0;

	smtp_line_reader_init(&r, max);
	while (off < len) {
		size_t end = off + next_chunk(mode, &seed, len - off);

		while (off < end) {
			size_t consumed, line_len;
			const char *line;
			enum smtp_line_status st =
			    smtp_line_feed(&r, in + off, end - off, &consumed, &line, &line_len);

			CHECK(consumed <= end - off);
			CHECK(++rounds <= 2 * len + 2);
			off += consumed;
			if (st == SMTP_LINE_NEED_MORE) {
				CHECK(off == end);
				break;
			}
			h = event(h, &r, st, line, line_len);
			CHECK(r.len <= r.max);
		}
	}
	smtp_line_reader_free(&r);
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data + 2;
	size_t max;
	unsigned seed;
	uint64_t whole;

	if (size < 2)
		return 0;
	max = data[0] >= 0xf0 ? 1000 : data[0] % 80;
	seed = data[1];
	size -= 2;
	whole = run(in, size, max, 0, 0);
	CHECK(run(in, size, max, 1, 0) == whole);
	CHECK(run(in, size, max, 2, seed) == whole);
	return 0;
}
