/*
 * fuzz_mime.c: libFuzzer harness for the MIME parser and the IMAP texts
 * made from it. The first byte picks options (LF input through
 * mail_to_crlf(), which sections to fetch); the rest is a message. The
 * tree must stay inside the input and within the bounds; ENVELOPE, BODY
 * and BODYSTRUCTURE (of the message and of every part) must have balanced
 * parentheses outside quoted strings and literals, with literal lengths
 * that match; sections must come from the input; the search helpers, the
 * word decoder and the date parser must not crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "mail/mime.h"

#define FUZZ_PARTS_VISITED 64 /* parts whose sections and texts are checked */

/* Whether S has balanced parentheses outside quoted strings and literals. */
static int balanced(const char *s)
{
	size_t i, len = strlen(s);
	long depth = 0;

	for (i = 0; i < len; i++) {
		if (s[i] == '"') {
			for (i++; i < len && s[i] != '"'; i++) {
				CHECK(s[i] != '\r' && s[i] != '\n' && (unsigned char)s[i] < 0x80);
				if (s[i] == '\\')
					i++;
			}
			if (i >= len)
				return 0;
		} else if (s[i] == '{') {
			char *end;
			unsigned long n = strtoul(s + i + 1, &end, 10);
			if (*end != '}' || end[1] != '\r' || end[2] != '\n')
				return 0;
			i = (size_t)(end - s) + 2 + n;
			if (i >= len)
				return 0;
		} else if (s[i] == '(') {
			depth++;
		} else if (s[i] == ')' && --depth < 0) {
			return 0;
		}
	}
	return depth == 0;
}

static void check_text(char *s)
{
	CHECK(s != NULL);
	CHECK(balanced(s));
	free(s);
}

/* P and its children inside [lo, hi), nested at most MIME_DEPTH_MAX;
 * returns how many parts. */
static unsigned check_tree(const struct mime_part *p, size_t lo, size_t hi, unsigned depth)
{
	unsigned i, n = 1;

	CHECK(depth <= MIME_DEPTH_MAX);
	CHECK(lo <= p->header_start && p->header_start <= p->header_end);
	CHECK(p->header_end <= p->body_start && p->body_start <= p->body_end && p->body_end <= hi);
	CHECK(p->type != NULL && p->subtype != NULL);
	for (i = 0; i < p->n_children; i++)
		n += check_tree(&p->children[i], p->body_start, p->body_end, depth + 1);
	return n;
}

/* Fetches every kind of section at part path S. */
static void fetch_all_kinds(const struct mime_message *m, struct mime_section *s)
{
	static char *fields[] = {"Subject", "FROM", "content-type"};
	size_t len;
	int what;

	for (what = MIME_SECTION_ALL; what <= MIME_SECTION_MIME; what++) {
		char *got;
		s->what = (enum mime_section_what)what;
		s->fields = fields;
		s->n_fields = 3;
		got = mime_section_get(m, s, &len);
		CHECK(got != NULL && got[len] == '\0');
		CHECK(len <= 2 * m->len + 2);
		free(got);
	}
}

/* Visits parts depth-first, fetching their sections and texts. */
static void visit(const struct mime_message *m, const struct mime_part *p, struct mime_section *s,
                  unsigned *budget)
{
	unsigned i;

	if (*budget == 0)
		return;
	(*budget)--;
	fetch_all_kinds(m, s);
	check_text(mime_part_envelope(m, p));
	check_text(mime_part_bodystructure(m, p, *budget % 2));
	if (s->n_part == 32)
		return;
	for (i = 0; i < p->n_children && i < 4; i++) {
		s->part[s->n_part++] = i + 1;
		visit(m, &p->children[i], s, budget);
		s->n_part--;
	}
}

/* The search helpers with needles taken from the input. */
static void search(const struct mime_message *m, const uint8_t *data, size_t size)
{
	char needle[8] = {0};
	char *subject, *date, *words;
	int64_t t;
	int tz;
	size_t len;

	if (size >= 4)
		memcpy(needle, data + size - 4, 4);
	(void)mime_header_contains(m, NULL, needle);
	(void)mime_header_contains(m, "Subject", needle);
	(void)mime_header_contains(m, "From", "");
	(void)mime_body_contains(m, needle);
	(void)mime_body_contains(m, "e");
	subject = mime_header_get(m, "Subject");
	if (subject != NULL) {
		words = mime_decode_words(subject, strlen(subject), &len);
		CHECK(words[len] == '\0');
		free(words);
	}
	free(subject);
	date = mime_header_get(m, "Date");
	if (date != NULL && mime_date_parse(date, &t, &tz) == 0)
		CHECK(tz > -24 * 60 && tz < 24 * 60);
	free(date);
	(void)utf8_contains_ci((const char *)data, size, needle);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_section s = {0};
	struct mime_message *m;
	char *msg, *crlf = NULL;
	size_t len;
	unsigned budget = FUZZ_PARTS_VISITED;
	uint8_t opts;

	if (size == 0)
		return 0;
	opts = data[0];
	msg = fuzz_strndup(data + 1, size - 1);
	len = size - 1;
	if (opts & 1) {
		crlf = mail_to_crlf(msg, len, &len);
		free(msg);
		msg = crlf;
	}
	m = mime_parse(msg, len);
	CHECK(check_tree(&m->root, 0, len, 0) <= MIME_PARTS_MAX);
	check_text(mime_envelope(m));
	check_text(mime_bodystructure(m, 1));
	check_text(mime_bodystructure(m, 0));
	visit(m, &m->root, &s, &budget);
	s.n_part = 3;
	s.part[0] = opts >> 5;
	s.part[1] = (opts >> 2) & 7;
	s.part[2] = 1;
	fetch_all_kinds(m, &s);
	search(m, data + 1, size - 1);
	mime_free(&m);
	free(msg);
	return 0;
}
