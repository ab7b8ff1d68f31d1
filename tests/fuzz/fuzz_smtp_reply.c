/*
 * fuzz_smtp_reply.c: libFuzzer harness for smtp_reply_feed() and
 * smtp_reply_has_extension(). The first byte picks the chunking seed; the
 * rest is what a server sends. Fed whole, byte by byte and in random chunks,
 * the parser must agree with itself, and each reply must match the bytes it
 * consumed, read line by line: the code and separator of every line, its
 * text in lines[], the joined text, the enhanced code.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_reply.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

struct log {
	char *text;
	size_t len;
	size_t cap;
};

static void log_add(struct log *l, const char *s, size_t n)
{
	if (l->len + n + 1 > l->cap) {
		l->cap = (l->len + n + 1) * 2;
		l->text = realloc(l->text, l->cap);
		CHECK(l->text != NULL);
	}
	memcpy(l->text + l->len, s, n);
	l->len += n;
	l->text[l->len] = '\0';
}

static void log_puts(struct log *l, const char *s)
{
	log_add(l, s, strlen(s));
}

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

/* Checks line K of reply R against the raw LINE (LEN octets, no line end). */
static void check_line(const struct smtp_reply *r, unsigned k, const char *line, size_t len)
{
	int last = k + 1 == r->n_lines;

	CHECK(len >= 3 && len <= SMTP_REPLY_LINE_MAX - 2);
	CHECK((unsigned)((line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0')) ==
	      r->code);
	if (len == 3) {
		CHECK(last && r->lines[k][0] == '\0');
		return;
	}
	CHECK(line[3] == (last ? ' ' : '-'));
	CHECK(strlen(r->lines[k]) == len - 4 && memcmp(r->lines[k], line + 4, len - 4) == 0);
}

/* The text R should have: the lines joined, the enhanced code taken off the
 * first, cut at SMTP_REPLY_TEXT_MAX - 1. */
static void check_text(const struct smtp_reply *r)
{
	static char expected[SMTP_REPLY_MAX_LINES * SMTP_REPLY_LINE_MAX + SMTP_REPLY_MAX_LINES];
	size_t n = 0, elen = strlen(r->enhanced);
	const char *first = r->lines[0];

	if (elen > 0) {
		CHECK(strncmp(first, r->enhanced, elen) == 0);
		CHECK(first[elen] == ' ' || first[elen] == '\0');
		CHECK(r->enhanced[0] == (char)('0' + r->code / 100));
		first += elen;
		while (*first == ' ')
			first++;
	}
	for (unsigned k = 0; k < r->n_lines; k++) {
		const char *s = k == 0 ? first : r->lines[k];

		if (k > 0)
			expected[n++] = '\n';
		memcpy(expected + n, s, strlen(s));
		n += strlen(s);
	}
	if (n > SMTP_REPLY_TEXT_MAX - 1)
		n = SMTP_REPLY_TEXT_MAX - 1;
	expected[n] = '\0';
	CHECK(strcmp(expected, r->text) == 0);
}

/* Checks the extension lookup with the first word of line 1 and of line 0. */
static void check_extensions(const struct smtp_reply *r)
{
	char word[SMTP_REPLY_LINE_MAX];
	const char *param = NULL;

	if (r->n_lines > 1) {
		size_t n = strcspn(r->lines[1], " ");

		memcpy(word, r->lines[1], n);
		word[n] = '\0';
		CHECK(smtp_reply_has_extension(r, word, &param) == (n > 0));
		if (n > 0)
			CHECK(param >= r->lines[1] &&
			      param < (const char *)(r->lines + r->n_lines) && *param != ' ');
	}
	snprintf(word, sizeof(word), "%.*s", (int)strcspn(r->lines[0], " "), r->lines[0]);
	(void)smtp_reply_has_extension(r, word, NULL);
}

/* Checks reply R against IN (LEN octets), the bytes it was made of. */
static void check_reply(const struct smtp_reply *r, const char *in, size_t len)
{
	unsigned k = 0;

	CHECK(r->code >= 200 && r->code <= 599);
	CHECK(r->n_lines >= 1 && r->n_lines <= SMTP_REPLY_MAX_LINES);
	CHECK(len > 0 && in[len - 1] == '\n');
	for (size_t pos = 0; pos < len; k++) {
		const char *nl = memchr(in + pos, '\n', len - pos);
		size_t end = (size_t)(nl - in), line_len = end - pos;

		if (line_len > 0 && in[end - 1] == '\r')
			line_len--;
		CHECK(k < r->n_lines);
		CHECK(memchr(in + pos, '\r', line_len) == NULL);
		CHECK(memchr(in + pos, '\0', line_len) == NULL);
		check_line(r, k, in + pos, line_len);
		pos = end + 1;
	}
	CHECK(k == r->n_lines);
	check_text(r);
	check_extensions(r);
}

/* Feeds IN in chunks, logging every reply and the error; stops at an error. */
static void run(const char *in, size_t len, int mode, unsigned seed, struct log *log)
{
	static struct smtp_reply_parser p;
	static struct smtp_reply reply;
	size_t off = 0, reply_start = 0;
	char line[64];

	smtp_reply_parser_init(&p);
	log->len = 0;
	while (off < len) {
		size_t n = next_chunk(mode, &seed, len - off), chunk_end = off + n;

		while (off < chunk_end) {
			const char *error = NULL;
			size_t consumed = SIZE_MAX;
			enum smtp_reply_status st = smtp_reply_feed(&p, in + off, chunk_end - off,
			                                            &consumed, &reply, &error);

			CHECK(consumed <= chunk_end - off);
			off += consumed;
			if (st == SMTP_REPLY_NEED_MORE) {
				CHECK(off == chunk_end);
				break;
			}
			CHECK(consumed > 0);
			if (st == SMTP_REPLY_ERROR) {
				CHECK(error != NULL);
				snprintf(line, sizeof(line), "ERR@%zu:", off);
				log_puts(log, line);
				log_puts(log, error);
				return;
			}
			check_reply(&reply, in + reply_start, off - reply_start);
			snprintf(line, sizeof(line), "OK@%zu:%u[%s]", off, reply.code,
			         reply.enhanced);
			log_puts(log, line);
			log_puts(log, reply.text);
			reply_start = off;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct log first = {0}, again = {0};
	const char *in = (const char *)data + 1;

	if (size < 1)
		return 0;
	run(in, size - 1, 0, data[0], &first);
	for (int mode = 1; mode < 3; mode++) {
		run(in, size - 1, mode, data[0], &again);
		CHECK(first.len == again.len);
		CHECK(first.len == 0 || memcmp(first.text, again.text, first.len) == 0);
	}
	free(first.text);
	free(again.text);
	return 0;
}
