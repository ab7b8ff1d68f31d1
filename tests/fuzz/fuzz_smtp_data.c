/*
 * fuzz_smtp_data.c: libFuzzer harness for smtp_data_feed(). The first byte
 * picks max_line, the second the chunking; the rest is the DATA stream. Fed
 * whole, byte by byte and in random chunks, the machine must agree with
 * itself and with a line-based reference: a line starts at the input start
 * and after each real "\r\n"; a '.' there is dropped, ".\r\n" there ends.
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

struct result {
	int done;
	size_t consumed;
	char *out;
	size_t out_len;
	size_t line_len;
	int line_too_long;
	int bare_lf;
	int bare_cr;
};

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

/* Feeds IN in chunks; each call gets an output buffer of exactly its length
 * + 2, so ASan catches any overrun. R->out must hold LEN + 2 bytes. */
static void run(const char *in, size_t len, size_t max_line, int mode, unsigned seed,
                struct result *r)
{
	struct smtp_data_parser p;
	size_t off = 0;

	smtp_data_init(&p, max_line);
	r->done = 0;
	r->out_len = 0;
	while (off < len && !r->done) {
		size_t n = next_chunk(mode, &seed, len - off), out_len, consumed;
		char *out = malloc(n + 2);

		CHECK(out != NULL);
		r->done = smtp_data_feed(&p, in + off, n, out, &out_len, &consumed);
		CHECK(out_len <= n + 1 && consumed <= n && (r->done || consumed == n));
		memcpy(r->out + r->out_len, out, out_len);
		r->out_len += out_len;
		off += consumed;
		free(out);
	}
	CHECK(r->done == (p.state == SMTP_DATA_DONE) && p.size == r->out_len);
	r->consumed = off;
	r->line_len = p.line_len;
	r->line_too_long = p.line_too_long;
	r->bare_lf = p.bare_lf;
	r->bare_cr = p.bare_cr;
}

/* Counts N octets of the reference's current line. */
static void ref_count(struct result *r, size_t n, size_t max_line)
{
	r->line_len += n;
	if (r->line_len > max_line)
		r->line_too_long = 1;
}

/* Handles a '.' at a line start at IN[I]: 1 if it ends the scan. */
static int ref_dot(const char *in, size_t len, size_t i, size_t max_line, struct result *r)
{
	if (i + 2 == len && in[i + 1] == '\r') {
		ref_count(r, 1, max_line); /* the CR is held back */
		return 1;
	}
	if (i + 2 < len && in[i + 1] == '\r' && in[i + 2] == '\n') {
		ref_count(r, 2, max_line);
		r->done = 1;
		r->consumed = i + 3;
		return 1;
	}
	return 0;
}

/* The reference machine, written as a plain scan over the whole input. */
static void reference(const char *in, size_t len, size_t max_line, struct result *r)
{
	char *out = r->out;
	int line_start = 1;

	memset(r, 0, sizeof(*r));
	r->out = out;
	r->consumed = len;
	for (size_t i = 0; i < len; i++) {
		ref_count(r, 1, max_line);
		if (line_start && in[i] == '.') {
			line_start = 0;
			if (ref_dot(in, len, i, max_line, r))
				break;
			continue;
		}
		line_start = in[i] == '\n' && i > 0 && in[i - 1] == '\r';
		if (line_start)
			r->line_len = 0;
		r->bare_lf |= in[i] == '\n' && !line_start;
		r->bare_cr |= in[i] == '\r' && i + 1 < len && in[i + 1] != '\n';
		r->out[r->out_len++] = in[i];
	}
}

static void check_same(const struct result *a, const struct result *b)
{
	CHECK(a->done == b->done && a->consumed == b->consumed);
	CHECK(a->out_len == b->out_len && memcmp(a->out, b->out, a->out_len) == 0);
	CHECK(a->line_len == b->line_len && a->line_too_long == b->line_too_long);
	CHECK(a->bare_lf == b->bare_lf && a->bare_cr == b->bare_cr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct result ref, got;
	const char *in = (const char *)data + 2;
	size_t max_line;
	unsigned seed;

	if (size < 2)
		return 0;
	max_line = data[0] >= 0xf0 ? 1000 : data[0] % 40;
	seed = data[1];
	size -= 2;
	ref.out = malloc(size + 2);
	got.out = malloc(size + 2);
	CHECK(ref.out != NULL && got.out != NULL);
	reference(in, size, max_line, &ref);
	for (int mode = 0; mode < 3; mode++) {
		run(in, size, max_line, mode, seed, &got);
		check_same(&got, &ref);
	}
	free(ref.out);
	free(got.out);
	return 0;
}
