/*
 * fuzz_pop3.c: libFuzzer harness for the POP3 parsers (pop3/pop3_parse.h):
 * the input is a client's stream, fed to the line reader whole and in
 * chunks of a size the first octet picks; both feedings must give the same
 * events, every line within the bound and free of CR and LF, and every
 * line goes through the command parser, whose arguments must lie inside
 * the line.
 */
#include "fuzz_common.h"
#include "pop3/pop3_parse.h"

#define EVENTS_MAX 8192

struct events {
	uint32_t hash[EVENTS_MAX];
	unsigned n;
};

/* One event, as a hash of its kind and line. */
static void record(struct events *e, enum pop3_line_status st, const char *line, size_t len)
{
	uint32_t h = 2166136261u ^ (uint32_t)st;
	struct pop3_command cmd;
	char copy[POP3_AUTH_LINE_MAX];
	const char *why;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)line[i]) * 16777619u;
	if (e->n < EVENTS_MAX)
		e->hash[e->n++] = h;
	if (st != POP3_LINE_OK)
		return;
	CHECK(len + 2 <= POP3_LINE_MAX && line[len] == '\0');
	CHECK(memchr(line, '\r', len) == NULL && memchr(line, '\n', len) == NULL);
	memcpy(copy, line, len + 1);
	if (pop3_command_parse(copy, len, &cmd, &why) < 0) {
		CHECK(why != NULL);
		return;
	}
	CHECK(cmd.n_args <= POP3_ARGS_MAX && strlen(cmd.keyword) <= POP3_KEYWORD_MAX);
	for (unsigned i = 0; i < cmd.n_args; i++)
		CHECK(cmd.args[i] > copy && cmd.args[i] + cmd.arg_len[i] <= copy + len);
}

static void feed(const uint8_t *data, size_t size, size_t step, struct events *e)
{
	static struct pop3_line_reader r;
	size_t off = 0;

	pop3_line_reader_init(&r, POP3_LINE_MAX);
	while (off < size) {
		size_t chunk = size - off < step ? size - off : step, used = 0, consumed, len;
		const char *line;

		while (used < chunk) {
			enum pop3_line_status st =
			    pop3_line_feed(&r, (const char *)data + off + used, chunk - used,
			                   &consumed, &line, &len);

			CHECK(consumed <= chunk - used);
			used += consumed;
			if (st == POP3_LINE_MORE)
				break;
			record(e, st, line, len);
		}
		off += chunk;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct events whole, split;

	if (size < 1)
		return 0;
	memset(&whole, 0, sizeof(whole));
	memset(&split, 0, sizeof(split));
	feed(data + 1, size - 1, size, &whole);
	feed(data + 1, size - 1, (size_t)data[0] % 17 + 1, &split);
	CHECK(whole.n == split.n && memcmp(whole.hash, split.hash, whole.n * 4) == 0);
	return 0;
}
