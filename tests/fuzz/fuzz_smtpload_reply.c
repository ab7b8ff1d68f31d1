/*
 * fuzz_smtpload_reply.c: libFuzzer harness for smtpload's reply parser
 * (bench/smtpload/reply.c). The first byte picks the chunking seed; the rest
 * is what a server sends. Fed whole, byte by byte and in random chunks, the
 * parser must agree with itself, and every reply must match the bytes it
 * consumed, read again here line by line: one code on every line, '-' on
 * all but the last, CRLF line ends, the bounds, the kept text, the EHLO
 * keywords.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../bench/smtpload/reply.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

#define LOG_MAX (1 << 20)

struct log {
	char text[LOG_MAX];
	size_t len;
};

/* Logs a reply (CODE, LINES) or, with CODE 0, an error, ending at POS. */
static void log_add(struct log *l, unsigned code, unsigned lines, size_t pos)
{
	if (l->len + 64 < LOG_MAX)
		l->len += (size_t)snprintf(l->text + l->len, LOG_MAX - l->len, "%u/%u@%zu;", code,
		                           lines, pos);
}

/* 1 when the first word of LINE (after the code and separator, LEN octets
 * in all) is KEYWORD, case-insensitive. */
static int first_word_is(const char *line, size_t len, const char *keyword)
{
	size_t k = strlen(keyword), n = 0;

	while (4 + n < len && line[4 + n] != ' ')
		n++;
	return n == k && strncasecmp(line + 4, keyword, k) == 0;
}

/* Reads the reply R (which consumed IN[0..LEN)) again, line by line. */
static void check_reply(const struct smtpload_reply *r, const char *in, size_t len)
{
	unsigned lines = 0, ext = 0;
	size_t pos = 0;

	CHECK(len >= 5 && in[len - 2] == '\r' && in[len - 1] == '\n');
	while (pos < len) {
		const char *line = in + pos;
		size_t n = 0;
		while (line[n] != '\r')
			n++;
		CHECK(line[n + 1] == '\n' && n + 2 <= SMTPLOAD_REPLY_LINE_MAX && n >= 3);
		CHECK(memchr(line, '\n', n) == NULL && memchr(line, '\0', n) == NULL);
		CHECK(line[0] >= '2' && line[0] <= '5' && line[1] >= '0' && line[1] <= '5' &&
		      line[2] >= '0' && line[2] <= '9');
		CHECK((unsigned)((line[0] - '0') * 100 + (line[1] - '0') * 10 + line[2] - '0') ==
		      r->code);
		pos += n + 2;
		CHECK(pos == len ? n == 3 || line[3] == ' ' : n > 3 && line[3] == '-');
		if (lines > 0 && n > 3 && first_word_is(line, n, "PIPELINING"))
			ext |= SMTPLOAD_EXT_PIPELINING;
		if (lines > 0 && n > 3 && first_word_is(line, n, "STARTTLS"))
			ext |= SMTPLOAD_EXT_STARTTLS;
		lines++;
	}
	CHECK(lines == r->n_lines && lines <= SMTPLOAD_REPLY_LINES_MAX);
	CHECK(ext == r->extensions);
	CHECK(r->text_len == strlen(r->text) && r->text_len < SMTPLOAD_REPLY_TEXT_MAX);
	CHECK(r->truncated ? r->text_len == SMTPLOAD_REPLY_TEXT_MAX - 1 && len - 2 > r->text_len
	                   : r->text_len == len - 2);
	CHECK(memcmp(r->text, in, r->text_len) == 0);
}

/* Size of the next chunk: all that is LEFT (MODE 0), 1 (MODE 1), or 1 to
 * 31 octets drawn from *SEED. */
static size_t next_chunk(int mode, unsigned *seed, size_t left)
{
	size_t n = mode == 0 ? left : 1;

	if (mode > 1) {
		*seed = *seed * 1103515245u + 12345u;
		n = 1 + (*seed >> 16) % 31;
	}
	return n < left ? n : left;
}

/* Feeds IN in chunks of MODE into a fresh parser, logging every result. */
static void feed_all(const char *in, size_t len, int mode, unsigned seed, struct log *l)
{
	static struct smtpload_reply_parser p;
	size_t pos = 0, reply_start = 0;

	l->len = 0;
	smtpload_reply_parser_init(&p);
	while (pos < len) {
		size_t n = next_chunk(mode, &seed, len - pos), used = 0;
		const char *error = NULL;
		enum smtpload_reply_status st = smtpload_reply_feed(&p, in + pos, n, &used, &error);
		CHECK(used > 0 && used <= n);
		pos += used;
		if (st == SMTPLOAD_REPLY_MORE) {
			CHECK(used == n);
			continue;
		}
		if (st == SMTPLOAD_REPLY_ERROR) {
			CHECK(error != NULL);
			log_add(l, 0, 0, pos);
			reply_start = pos;
			continue;
		}
		check_reply(&p.reply, in + reply_start, pos - reply_start);
		log_add(l, p.reply.code, p.reply.n_lines, pos);
		reply_start = pos;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct log whole, other;

	if (size < 1)
		return 0;
	feed_all((const char *)data + 1, size - 1, 0, 0, &whole);
	feed_all((const char *)data + 1, size - 1, 1, 0, &other);
	CHECK(whole.len == other.len && memcmp(whole.text, other.text, whole.len) == 0);
	feed_all((const char *)data + 1, size - 1, 2, data[0], &other);
	CHECK(whole.len == other.len && memcmp(whole.text, other.text, whole.len) == 0);
	return 0;
}
