/*
 * imap_fetch.c: the FETCH / UID FETCH argument parser (RFC 9051 6.4.5,
 * RFC 3501 6.4.5 RFC822.*, RFC 3516 BINARY, RFC 7162 3.1.4.1 CHANGEDSINCE
 * and 3.2.6 VANISHED). Called by the IMAP session; the rendering of what
 * the store answers is in imap_fetch_render.c.
 *
 * A section item arrives as one atom ("BODY.PEEK[HEADER.FIELDS (A B)]<0.9>",
 * see imap_parse.h), so the bracketed part is parsed here.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap_fetch.h"
#include "lib/util.h"

/* Partial origins and lengths are number64 (RFC 9051 9): 63 bits. */
#define FETCH_NUMBER_MAX ((uint64_t)INT64_MAX)
/* Section part numbers are nz-number (32 bits); far fewer parts exist. */
#define FETCH_PART_NUMBER_MAX 1000000u

/* The cursor over one section atom while it is parsed. */
struct section_cursor {
	const char *p;
	const char **error_r;
};

struct simple_item {
	const char *name;
	enum imap_fetch_kind kind;
	uint32_t want;
};

/* The items without a section, with what the store must send for them. */
static const struct simple_item simple_items[] = {
	{"FLAGS", IMAP_FETCH_FLAGS, STORE_WANT_FLAGS},
	{"UID", IMAP_FETCH_UID, 0},
	{"INTERNALDATE", IMAP_FETCH_INTERNALDATE, STORE_WANT_INTERNALDATE},
	{"RFC822.SIZE", IMAP_FETCH_RFC822_SIZE, STORE_WANT_SIZE},
	{"ENVELOPE", IMAP_FETCH_ENVELOPE, STORE_WANT_ENVELOPE},
	{"BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE, STORE_WANT_BODYSTRUCTURE},
	{"BODY", IMAP_FETCH_BODY_SHAPE, STORE_WANT_BODY},
	{"RFC822", IMAP_FETCH_RFC822, STORE_WANT_FILE | STORE_WANT_MARK_SEEN},
	{"RFC822.HEADER", IMAP_FETCH_RFC822_HEADER,
	 STORE_WANT_FILE_UNLESS_HEADERS | STORE_WANT_HEADERS},
	{"RFC822.TEXT", IMAP_FETCH_RFC822_TEXT, STORE_WANT_FILE | STORE_WANT_MARK_SEEN},
	{"MODSEQ", IMAP_FETCH_MODSEQ, STORE_WANT_MODSEQ},
};

/* The macros of RFC 9051 6.4.5, allowed only alone. */
static const struct {
	const char *name;
	const char *items[5];
} fetch_macros[] = {
	{"ALL", {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", NULL}},
	{"FAST", {"FLAGS", "INTERNALDATE", "RFC822.SIZE", NULL}},
	{"FULL", {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"}},
};

/* Appends a zeroed item to REQ; NULL with *error_r when it is full. */
static struct imap_fetch_item *request_add(struct imap_fetch_request *req, const char **error_r)
{
	struct imap_fetch_item *it;

	if (req->n_items >= IMAP_FETCH_ITEMS_MAX) {
		*error_r = "Too many FETCH items";
		return NULL;
	}
	req->items = xrealloc(req->items, (req->n_items + 1) * sizeof(*req->items));
	it = &req->items[req->n_items++];
	memset(it, 0, sizeof(*it));
	return it;
}

/* 1 when REQ already has an item of KIND (simple kinds are printed once). */
static int request_has(const struct imap_fetch_request *req, enum imap_fetch_kind kind)
{
	for (unsigned i = 0; i < req->n_items; i++)
		if (req->items[i].kind == kind)
			return 1;
	return 0;
}

/* Adds the simple item KIND named NAME unless REQ has it; WANT to the store. */
static int add_simple(struct imap_fetch_request *req, enum imap_fetch_kind kind, const char *name,
                      uint32_t want, const char **error_r)
{
	struct imap_fetch_item *it;

	req->want |= want;
	if (request_has(req, kind))
		return 0;
	if ((it = request_add(req, error_r)) == NULL)
		return -1;
	it->kind = kind;
	strlcpy_checked(it->name, name, sizeof(it->name));
	return 0;
}

/* Reads a decimal number of at most MAX at C; -1 when there is none. */
static int read_number(struct section_cursor *c, uint64_t max, uint64_t *v_r)
{
	uint64_t v = 0;

	if (!isdigit((unsigned char)*c->p)) {
		*c->error_r = "Number expected in FETCH item";
		return -1;
	}
	while (isdigit((unsigned char)*c->p)) {
		unsigned d = (unsigned)(*c->p++ - '0');
		if (v > (max - d) / 10) {
			*c->error_r = "Number too large in FETCH item";
			return -1;
		}
		v = v * 10 + d;
	}
	*v_r = v;
	return 0;
}

/* Reads section-part ("1.2.3") into S; stops before ".TEXT" and the like. */
static int read_part_numbers(struct section_cursor *c, struct mime_section *s)
{
	while (isdigit((unsigned char)*c->p)) {
		uint64_t v;

		if (read_number(c, FETCH_PART_NUMBER_MAX, &v) < 0)
			return -1;
		if (v == 0 || s->n_part >= MIME_SECTION_PARTS_MAX) {
			*c->error_r = v == 0 ? "Part numbers start at 1" : "Section nested too deep";
			return -1;
		}
		s->part[s->n_part++] = (unsigned)v;
		if (c->p[0] != '.' || !isdigit((unsigned char)c->p[1]))
			break;
		c->p++;
	}
	return 0;
}

/* 1 when C is at WORD (case-insensitive) not followed by more of a word; moves past it. */
static int take_word(struct section_cursor *c, const char *word)
{
	size_t n = strlen(word);

	if (strncasecmp(c->p, word, n) != 0)
		return 0;
	if (isalnum((unsigned char)c->p[n]) || c->p[n] == '.')
		return 0;
	c->p += n;
	return 1;
}

/* One header-fld-name (astring: atom or quoted string) of a HEADER.FIELDS list. */
static int read_field_name(struct section_cursor *c, char *out, size_t size)
{
	size_t n = 0;

	if (*c->p == '"') {
		for (c->p++; *c->p != '"'; c->p++) {
			if (*c->p == '\\' && (c->p[1] == '"' || c->p[1] == '\\'))
				c->p++;
			if (*c->p == '\0' || *c->p == '\r' || *c->p == '\n' || n + 1 >= size)
				goto bad;
			out[n++] = *c->p;
		}
		c->p++;
	} else {
		while (*c->p > ' ' && *c->p < 0x7f && strchr("()[]{}\"\\%*", *c->p) == NULL) {
			if (n + 1 >= size)
				goto bad;
			out[n++] = *c->p++;
		}
	}
	out[n] = '\0';
	if (n == 0)
		goto bad;
	return 0;
bad:
	*c->error_r = "Bad header field name in FETCH section";
	return -1;
}

/* " (name name ...)" after HEADER.FIELDS[.NOT] into S->fields. */
static int read_field_list(struct section_cursor *c, struct mime_section *s)
{
	char name[IMAP_FETCH_FIELD_MAX];

	if (c->p[0] != ' ' || c->p[1] != '(') {
		*c->error_r = "HEADER.FIELDS needs a list of field names";
		return -1;
	}
	c->p += 2;
	for (;;) {
		if (read_field_name(c, name, sizeof(name)) < 0)
			return -1;
		if (s->n_fields >= IMAP_FETCH_FIELDS_MAX) {
			*c->error_r = "Too many header fields in FETCH section";
			return -1;
		}
		s->fields = xrealloc(s->fields, (s->n_fields + 1) * sizeof(*s->fields));
		s->fields[s->n_fields++] = xstrdup(name);
		if (*c->p == ')')
			break;
		if (*c->p++ != ' ') {
			*c->error_r = "Bad header field list in FETCH section";
			return -1;
		}
	}
	c->p++;
	return 0;
}

/* section-msgtext / section-text after the part numbers (and their "."). */
static int read_section_text(struct section_cursor *c, struct mime_section *s)
{
	if (take_word(c, "HEADER.FIELDS.NOT")) {
		s->what = MIME_SECTION_HEADER_FIELDS_NOT;
		return read_field_list(c, s);
	}
	if (take_word(c, "HEADER.FIELDS")) {
		s->what = MIME_SECTION_HEADER_FIELDS;
		return read_field_list(c, s);
	}
	if (take_word(c, "HEADER"))
		s->what = MIME_SECTION_HEADER;
	else if (take_word(c, "TEXT"))
		s->what = MIME_SECTION_TEXT;
	else if (s->n_part > 0 && take_word(c, "MIME"))
		s->what = MIME_SECTION_MIME;
	else {
		*c->error_r = "Unknown FETCH section";
		return -1;
	}
	return 0;
}

/* The inside of "[...]" at C (C is past '['), up to and past ']'. BINARY
 * sections have part numbers only (RFC 3516 section-binary). */
static int read_section(struct section_cursor *c, struct mime_section *s, int binary)
{
	s->what = MIME_SECTION_ALL;
	if (read_part_numbers(c, s) < 0)
		return -1;
	if (!binary && *c->p != ']') {
		if (s->n_part > 0 && *c->p++ != '.') {
			*c->error_r = "Bad FETCH section";
			return -1;
		}
		if (read_section_text(c, s) < 0)
			return -1;
	}
	if (*c->p++ != ']') {
		*c->error_r = "Bad FETCH section";
		return -1;
	}
	return 0;
}

/* The optional "<start.count>" after the section (count nz-number). */
static int read_partial(struct section_cursor *c, struct imap_fetch_item *it)
{
	if (*c->p != '<')
		return 0;
	c->p++;
	if (read_number(c, FETCH_NUMBER_MAX, &it->partial_start) < 0)
		return -1;
	if (*c->p++ != '.' || read_number(c, FETCH_NUMBER_MAX, &it->partial_len) < 0 ||
	    it->partial_len == 0 || *c->p++ != '>') {
		*c->error_r = "Bad partial in FETCH item";
		return -1;
	}
	it->has_partial = 1;
	return 0;
}

/* Appends one header field name for the echo: atom when it can be, else quoted. */
static void echo_field(char *name, size_t size, const char *field)
{
	size_t len = strlen(name);
	int atom = 1;

	for (const char *p = field; *p != '\0'; p++)
		if (*p <= ' ' || *p >= 0x7f || strchr("()[]{}\"\\%*", *p) != NULL)
			atom = 0;
	if (atom) {
		snprintf(name + len, size - len, "%s", field);
		return;
	}
	for (const char *p = field; *p != '\0' && len + 3 < size; p++) {
		if (p == field)
			name[len++] = '"';
		if (*p == '"' || *p == '\\')
			name[len++] = '\\';
		name[len++] = *p;
	}
	snprintf(name + len, size - len, "\"");
}

/* The echoed name (RFC 9051 7.5.2): PEEK dropped, partial as <start>. */
static int make_echo_name(struct imap_fetch_item *it, const char *prefix, const char **error_r)
{
	static const char *const what_names[] = {"", "HEADER", "HEADER.FIELDS",
	                                         "HEADER.FIELDS.NOT", "TEXT", "MIME"};
	const struct mime_section *s = &it->section;
	char *name = it->name;
	size_t size = sizeof(it->name), len;

	snprintf(name, size, "%s[", prefix);
	for (unsigned i = 0; i < s->n_part; i++) {
		len = strlen(name);
		snprintf(name + len, size - len, "%s%u", i > 0 ? "." : "", s->part[i]);
	}
	len = strlen(name);
	snprintf(name + len, size - len, "%s%s", s->n_part > 0 && s->what != MIME_SECTION_ALL ? "." : "",
	         what_names[s->what]);
	for (unsigned i = 0; i < s->n_fields; i++) {
		len = strlen(name);
		snprintf(name + len, size - len, "%s", i == 0 ? " (" : " ");
		echo_field(name, size, s->fields[i]);
	}
	len = strlen(name);
	snprintf(name + len, size - len, "%s]", s->n_fields > 0 ? ")" : "");
	if (it->has_partial) {
		len = strlen(name);
		snprintf(name + len, size - len, "<%llu>", (unsigned long long)it->partial_start);
	}
	if (strlen(name) + 1 >= size) {
		*error_r = "FETCH item too long";
		return -1;
	}
	return 0;
}

/* 1 when S can be served from the header block alone (top-level header). */
static int section_header_only(const struct mime_section *s)
{
	return s->n_part == 0 &&
	       (s->what == MIME_SECTION_HEADER || s->what == MIME_SECTION_HEADER_FIELDS ||
	        s->what == MIME_SECTION_HEADER_FIELDS_NOT);
}

/* The store's want bits for the section item IT. */
static uint32_t section_want(const struct imap_fetch_item *it)
{
	uint32_t want = 0;

	if (!it->peek && !it->binary_size)
		want |= STORE_WANT_MARK_SEEN;
	if (!it->binary && section_header_only(&it->section))
		want |= STORE_WANT_HEADERS | STORE_WANT_FILE_UNLESS_HEADERS;
	else
		want |= STORE_WANT_FILE;
	return want;
}

/* One section item: WORD is "BODY", "BODY.PEEK", "BINARY", ... and
 * REST points at its '['. */
static int add_section(struct imap_fetch_request *req, const char *word, const char *rest,
                       const char **error_r)
{
	struct section_cursor c = {rest + 1, error_r};
	struct imap_fetch_item *it;
	const char *prefix;

	if ((it = request_add(req, error_r)) == NULL)
		return -1;
	it->kind = IMAP_FETCH_SECTION;
	it->peek = strcasecmp(word, "BODY.PEEK") == 0 || strcasecmp(word, "BINARY.PEEK") == 0;
	it->binary_size = strcasecmp(word, "BINARY.SIZE") == 0;
	it->binary = it->binary_size || strncasecmp(word, "BINARY", 6) == 0;
	prefix = it->binary_size ? "BINARY.SIZE" : it->binary ? "BINARY" : "BODY";
	if (read_section(&c, &it->section, it->binary) < 0)
		return -1;
	if (!it->binary_size && read_partial(&c, it) < 0)
		return -1;
	if (*c.p != '\0') {
		*error_r = "Junk after FETCH item";
		return -1;
	}
	if (make_echo_name(it, prefix, error_r) < 0)
		return -1;
	req->want |= section_want(it);
	return 0;
}

/* One fetch-att atom (not a macro). */
static int add_item(struct imap_fetch_request *req, const struct imap_arg *a, const char **error_r)
{
	static const char *const section_words[] = {"BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK",
	                                            "BINARY.SIZE"};
	const char *bracket;
	char word[16];
	size_t len;

	if (a->type != IMAP_ARG_ATOM) {
		*error_r = "FETCH items are atoms";
		return -1;
	}
	bracket = strchr(a->str, '[');
	if (bracket == NULL) {
		for (size_t i = 0; i < sizeof(simple_items) / sizeof(simple_items[0]); i++)
			if (strcasecmp(a->str, simple_items[i].name) == 0)
				return add_simple(req, simple_items[i].kind, simple_items[i].name,
				                  simple_items[i].want, error_r);
		*error_r = "Unknown FETCH item";
		return -1;
	}
	len = (size_t)(bracket - a->str);
	if (len < sizeof(word)) {
		memcpy(word, a->str, len);
		word[len] = '\0';
		for (size_t i = 0; i < sizeof(section_words) / sizeof(section_words[0]); i++)
			if (strcasecmp(word, section_words[i]) == 0)
				return add_section(req, word, bracket, error_r);
	}
	*error_r = "Unknown FETCH item";
	return -1;
}

/* A macro name: expands it and returns 1; 0 when A is not one. */
static int add_macro(struct imap_fetch_request *req, const struct imap_arg *a, const char **error_r)
{
	for (size_t i = 0; i < sizeof(fetch_macros) / sizeof(fetch_macros[0]); i++) {
		if (a->type != IMAP_ARG_ATOM || strcasecmp(a->str, fetch_macros[i].name) != 0)
			continue;
		for (size_t j = 0; j < 5 && fetch_macros[i].items[j] != NULL; j++) {
			struct imap_arg one = {.type = IMAP_ARG_ATOM};

			one.str = (char *)fetch_macros[i].items[j];
			one.len = strlen(one.str);
			if (add_item(req, &one, error_r) < 0)
				return -1;
		}
		return 1;
	}
	return 0;
}

/* The fetch modifiers list (RFC 7162 3.1.4.1, 3.2.6). */
static int parse_modifiers(struct imap_fetch_request *req, const struct imap_arg *list,
                           unsigned mode, const char **error_r)
{
	if (list->type != IMAP_ARG_LIST || list->n == 0) {
		*error_r = "FETCH modifiers must be a list";
		return -1;
	}
	for (unsigned i = 0; i < list->n; i++) {
		const struct imap_arg *a = &list->list[i];
		struct section_cursor c = {NULL, error_r};

		if (a->type != IMAP_ARG_ATOM)
			goto bad;
		if (strcasecmp(a->str, "VANISHED") == 0 && (mode & IMAP_FETCH_MODE_UID) &&
		    !req->vanished) {
			req->vanished = 1;
			continue;
		}
		if (strcasecmp(a->str, "CHANGEDSINCE") != 0 || req->changedsince != 0 ||
		    i + 1 >= list->n || list->list[i + 1].type != IMAP_ARG_ATOM)
			goto bad;
		c.p = list->list[++i].str;
		if (read_number(&c, FETCH_NUMBER_MAX, &req->changedsince) < 0 || *c.p != '\0' ||
		    req->changedsince == 0)
			goto bad;
	}
	if (req->vanished && req->changedsince == 0) {
		*error_r = "VANISHED needs CHANGEDSINCE";
		return -1;
	}
	return 0;
bad:
	*error_r = "Bad FETCH modifier";
	return -1;
}

/* The item or item list (the first argument). */
static int parse_items(struct imap_fetch_request *req, const struct imap_arg *a,
                       const char **error_r)
{
	int r;

	if (a->type != IMAP_ARG_LIST) {
		if ((r = add_macro(req, a, error_r)) != 0)
			return r < 0 ? -1 : 0;
		return add_item(req, a, error_r);
	}
	if (a->n == 0) {
		*error_r = "Empty FETCH item list";
		return -1;
	}
	for (unsigned i = 0; i < a->n; i++)
		if (add_item(req, &a->list[i], error_r) < 0)
			return -1;
	return 0;
}

/* Puts UID first when it is implied (UID FETCH, CONDSTORE). */
static int ensure_uid_first(struct imap_fetch_request *req, const char **error_r)
{
	struct imap_fetch_item uid;

	if (request_has(req, IMAP_FETCH_UID))
		return 0;
	if (add_simple(req, IMAP_FETCH_UID, "UID", 0, error_r) < 0)
		return -1;
	uid = req->items[req->n_items - 1];
	memmove(&req->items[1], &req->items[0], (req->n_items - 1) * sizeof(*req->items));
	req->items[0] = uid;
	return 0;
}

int imap_fetch_parse(const struct imap_arg *args, unsigned n, unsigned mode,
                     struct imap_fetch_request *req, const char **error_r)
{
	memset(req, 0, sizeof(*req));
	if (n < 1 || n > 2) {
		*error_r = n < 1 ? "FETCH needs items" : "Too many FETCH arguments";
		return -1;
	}
	if (parse_items(req, &args[0], error_r) < 0)
		return -1;
	if (n == 2 && parse_modifiers(req, &args[1], mode, error_r) < 0)
		return -1;
	if ((mode & (IMAP_FETCH_MODE_UID | IMAP_FETCH_MODE_CONDSTORE)) &&
	    ensure_uid_first(req, error_r) < 0)
		return -1;
	if (req->want & STORE_WANT_FILE) /* the fd comes anyway */
		req->want &= ~(uint32_t)STORE_WANT_FILE_UNLESS_HEADERS;
	/* RFC 9051 6.4.5: the \Seen flag set implicitly is reported. */
	if (req->want & STORE_WANT_MARK_SEEN) {
		req->want |= STORE_WANT_FLAGS;
		req->implicit_flags = !request_has(req, IMAP_FETCH_FLAGS);
	}
	/* RFC 7162 3.1.4.1: CHANGEDSINCE implies MODSEQ; 3.1: with CONDSTORE
	 * enabled, FETCH answers that carry FLAGS carry MODSEQ too. */
	if (req->changedsince != 0 || ((mode & IMAP_FETCH_MODE_CONDSTORE) &&
	                               (req->want & STORE_WANT_FLAGS))) {
		if (add_simple(req, IMAP_FETCH_MODSEQ, "MODSEQ", STORE_WANT_MODSEQ, error_r) < 0)
			return -1;
	}
	return 0;
}

void imap_fetch_request_free(struct imap_fetch_request *req)
{
	for (unsigned i = 0; i < req->n_items; i++) {
		struct mime_section *s = &req->items[i].section;

		for (unsigned j = 0; j < s->n_fields; j++)
			free(s->fields[j]);
		free(s->fields);
	}
	free(req->items);
	memset(req, 0, sizeof(*req));
}
