/*
 * fuzz_imap_parse.c: libFuzzer harness for the IMAP command parser, the
 * sequence set parser and modified UTF-7. The first byte picks a split
 * point, the second the literal limits; the rest is the client's stream.
 * The commands must be the same fed whole, split at that point and byte by
 * byte. The same bytes are also a sequence set (parsed, resolved, formatted
 * and parsed back to the same set), a folder name (modified UTF-7 and UTF-8
 * both ways), a LIST pattern and name, and an astring the writer must write
 * so that the parser reads it back.
 */
#include "fuzz_common.h"

#include "imap/imap_parse.h"
#include "mail/mutf7.h"
#include "mail/seqset.h"

/* FNV-1a over N bytes of P, continuing from H. */
static uint64_t hash(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ULL;
	return h;
}

/* Checks N arguments at V (at DEPTH) and folds them into H; *COUNT counts
 * them all. */
static uint64_t hash_args(uint64_t h, const struct imap_arg *v, unsigned n, unsigned depth,
                          unsigned *count)
{
	CHECK(depth <= IMAP_DEPTH_MAX);
	for (unsigned i = 0; i < n; i++) {
		(*count)++;
		h = hash(h, &v[i].type, sizeof(v[i].type));
		if (v[i].type == IMAP_ARG_LIST) {
			CHECK(v[i].str == NULL);
			h = hash_args(h, v[i].list, v[i].n, depth + 1, count);
			continue;
		}
		CHECK(v[i].str != NULL && v[i].str[v[i].len] == '\0');
		if (v[i].type != IMAP_ARG_LITERAL)
			CHECK(strlen(v[i].str) == v[i].len &&
			      memchr(v[i].str, '\r', v[i].len) == NULL);
		if (v[i].type == IMAP_ARG_LITERAL && !v[i].literal8)
			CHECK(memchr(v[i].str, '\0', v[i].len) == NULL);
		h = hash(h, &v[i].len, sizeof(v[i].len));
		h = hash(h, v[i].str, v[i].len);
		h = hash(h, &v[i].literal8, sizeof(v[i].literal8));
	}
	return h;
}

/* Checks one event and folds it into H. */
static uint64_t event(uint64_t h, enum imap_parse_result r, const struct imap_command *cmd,
                      const char *error)
{
	h = hash(h, &r, sizeof(r));
	if (r == IMAP_PARSE_COMMAND) {
		unsigned count = 0;

		CHECK(cmd->tag[0] != '\0' && cmd->name[0] != '\0');
		h = hash(h, cmd->tag, strlen(cmd->tag));
		h = hash(h, cmd->name, strlen(cmd->name));
		h = hash_args(h, cmd->args, cmd->n_args, 0, &count);
		CHECK(count <= IMAP_ARGS_MAX);
	} else if (r == IMAP_PARSE_ERROR || r == IMAP_PARSE_FATAL) {
		CHECK(error != NULL && cmd->tag[0] != '\0');
		h = hash(h, cmd->tag, strlen(cmd->tag));
		h = hash(h, error, strlen(error));
	}
	return h;
}

/* Feeds IN with LIMITS in chunks of CHUNK bytes (0: all at once, and the
 * rest after the first SPLIT bytes); returns a hash of the events. */
static uint64_t run(const char *in, size_t len, const struct imap_parser_limits *limits,
                    size_t split, size_t chunk)
{
	struct imap_parser *p = imap_parser_new(limits);
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t off = 0, rounds = 0, end;
	int fatal = 0;

	while (off < len && !fatal) {
		end = chunk > 0 ? off + chunk : off < split ? split : len;
		if (end > len)
			end = len;
		while (off < end && !fatal) {
			struct imap_command *cmd;
			const char *error;
			size_t consumed;
			enum imap_parse_result r =
			    imap_parser_feed(p, in + off, end - off, &consumed, &cmd, &error);

			CHECK(consumed <= end - off);
			CHECK(++rounds <= 2 * len + 2);
			off += consumed;
			if (r == IMAP_PARSE_MORE) {
				CHECK(off == end);
				break;
			}
			h = event(h, r, cmd, error);
			fatal = r == IMAP_PARSE_FATAL;
		}
	}
	imap_parser_free(&p);
	return h;
}

/* A set parsed, resolved, formatted and parsed again is the same set. */
static void check_seqset(const char *text, uint32_t star)
{
	struct seqset set, again;
	const char *error;
	uint32_t *v;
	unsigned n = 0;
	char *s;

	if (seqset_parse(text, &set, &error) < 0)
		return;
	seqset_resolve(&set, star);
	v = malloc(1001 * sizeof(*v));
	for (unsigned i = 0; i < set.n; i++) {
		CHECK(set.r[i].lo <= set.r[i].hi);
		CHECK(i == 0 || set.r[i].lo > set.r[i - 1].hi + 1);
		/* 0 is no number: "*" of an empty folder */
		for (uint64_t x = set.r[i].lo > 0 ? set.r[i].lo : 1; x <= set.r[i].hi && n < 1000;
		     x++)
			v[n++] = (uint32_t)x;
	}
	s = seqset_format(v, n);
	if (n > 0 && n < 1000) {
		CHECK(seqset_parse(s, &again, &error) == 0);
		seqset_resolve(&again, star);
		CHECK(again.n == set.n - (set.r[0].lo == 0 && set.r[0].hi == 0));
		for (unsigned i = 0; i < n; i++)
			CHECK(seqset_contains(&again, v[i]) && seqset_contains(&set, v[i]));
		seqset_free(&again);
	}
	free(s);
	free(v);
	seqset_free(&set);
}

/* Strict modified UTF-7 has one spelling per name: both ways round trip. */
static void check_mutf7(const char *text, size_t len)
{
	size_t size = len * 4 + 16;
	char *a = malloc(size), *b = malloc(size);

	if (mutf7_to_utf8(text, a, size) == 0) {
		CHECK(utf8_is_valid(a, strlen(a)));
		CHECK(utf8_to_mutf7(a, b, size) == 0);
		CHECK(strcmp(b, text) == 0);
	}
	if (utf8_is_valid(text, len) && memchr(text, '\0', len) == NULL) {
		CHECK(utf8_to_mutf7(text, a, size) == 0);
		CHECK(mutf7_to_utf8(a, b, size) == 0);
		CHECK(strcmp(b, text) == 0);
	}
	free(a);
	free(b);
}

/* What imap_out_astring writes, the parser reads back as that string. */
static void check_astring(const char *text, size_t len)
{
	static const struct imap_parser_limits limits = {1 << 20, 4096};
	struct imap_out o = {0};
	struct imap_parser *p;
	struct imap_command *cmd;
	const char *error;
	size_t off = 0, consumed;
	enum imap_parse_result r;

	if (memchr(text, '\0', len) != NULL)
		return;
	imap_out_printf(&o, "a1 X ");
	imap_out_astring(&o, text, len);
	imap_out_append(&o, "\r\n", 2);
	p = imap_parser_new(&limits);
	do {
		r = imap_parser_feed(p, o.buf + off, o.len - off, &consumed, &cmd, &error);
		off += consumed;
	} while (r == IMAP_PARSE_CONTINUE);
	CHECK(r == IMAP_PARSE_COMMAND && off == o.len && cmd->n_args == 1);
	CHECK(cmd->args[0].len == len && memcmp(cmd->args[0].str, text, len) == 0);
	imap_parser_free(&p);
	free(o.buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser_limits limits;
	const char *in = (const char *)data + 2;
	size_t len, split;
	uint64_t whole;
	char *text;

	if (size < 2)
		return 0;
	len = size - 2;
	split = len == 0 ? 0 : data[0] % (len + 1);
	limits.literal_max = (size_t)(data[1] & 0x0f) * 16;
	limits.literal_plus_max = (size_t)(data[1] >> 4) * 4;
	whole = run(in, len, &limits, len, 0);
	CHECK(run(in, len, &limits, split, 0) == whole);
	CHECK(run(in, len, &limits, 0, 1) == whole);

	text = fuzz_strndup((const uint8_t *)in, len);
	check_seqset(text, data[0]);
	check_mutf7(text, strlen(text));
	(void)imap_match(text, text + strlen(text) / 2, '/');
	check_astring(text, strlen(text));
	free(text);
	return 0;
}
