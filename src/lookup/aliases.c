/*
 * aliases.c: see aliases.h.
 */
#include "lookup/aliases.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"

#define ALIASES_ADDRESS_MAX 512
#define ALIASES_SEPARATORS ", \t"

typedef void aliases_warn_fn(unsigned line, const char *reason, void *arg);

/* ---- parsing ------------------------------------------------------------ */

/* 1 when the LEN octets at S are local@domain (CATCH_ALL: "@domain"): one
 * '@', both sides non-empty (the local part empty for a catch-all), no
 * control character, white space, ':', '<', '>', '"' or '\\' (no quoted
 * local parts). */
static int address_ok(const char *s, size_t len, int catch_all)
{
	const char *at = memchr(s, '@', len);
	size_t i;

	if (at == NULL || len >= ALIASES_ADDRESS_MAX || at + 1 == s + len ||
	    memchr(at + 1, '@', len - (size_t)(at - s) - 1) != NULL)
		return 0;
	if ((at == s) != catch_all)
		return 0;
	for (i = 0; i < len; i++)
		if (iscntrl((unsigned char)s[i]) || isspace((unsigned char)s[i]) ||
		    strchr(":<>\"\\", s[i]) != NULL)
			return 0;
	return 1;
}

static char *copy_lower(const char *s, size_t len)
{
	char *copy = xmalloc(len + 1);

	memcpy(copy, s, len);
	copy[len] = '\0';
	str_lower(copy);
	return copy;
}

static void alias_clear(struct alias *al)
{
	unsigned i;

	for (i = 0; i < al->n_targets; i++)
		free(al->targets[i]);
	free(al->targets);
	free(al->address);
	memset(al, 0, sizeof(*al));
}

/* Reads the targets in the LEN octets at S into AL; NULL, or what is wrong
 * (in WHY of SIZE). */
static const char *parse_targets(struct alias *al, const char *s, size_t len, char *why,
                                 size_t size)
{
	const char *end = s + len;
	size_t n;

	for (;; s += n) {
		s += strspn(s, ALIASES_SEPARATORS);
		if (s >= end)
			break;
		n = strcspn(s, ALIASES_SEPARATORS);
		if (s + n > end)
			n = (size_t)(end - s);
		if (!address_ok(s, n, 0)) {
			snprintf(why, size, "target '%.*s' is not an address local@domain",
			         (int)(n < 100 ? n : 100), s);
			return why;
		}
		al->targets = xrealloc(al->targets, (al->n_targets + 1) * sizeof(char *));
		al->targets[al->n_targets] = xmalloc(n + 1);
		memcpy(al->targets[al->n_targets], s, n);
		al->targets[al->n_targets++][n] = '\0';
	}
	return al->n_targets ? NULL : "no target after ':'";
}

/* Parses one line of LEN octets (no line end) into AL; NULL, or what is
 * wrong. */
static const char *parse_line(struct alias *al, const char *line, size_t len, char *why,
                              size_t size)
{
	const char *colon = memchr(line, ':', len);
	size_t key_len;

	if (isspace((unsigned char)line[0]))
		return "a line starting with white space (a continuation line) is not supported; "
		       "put all targets on one line";
	if (colon == NULL)
		return "expected alias@domain: target, ...";
	key_len = (size_t)(colon - line);
	while (key_len > 0 && isspace((unsigned char)line[key_len - 1]))
		key_len--;
	if (!address_ok(line, key_len, line[0] == '@'))
		return "the alias must be local@domain, or @domain for a catch-all";
	al->address = copy_lower(line, key_len);
	return parse_targets(al, colon + 1, len - (size_t)(colon - line) - 1, why, size);
}

/* 1 when the LEN octets at LINE are only white space, or a comment. */
static int line_is_blank(const char *line, size_t len)
{
	size_t i = 0;

	while (i < len && isspace((unsigned char)line[i]))
		i++;
	return i == len || line[i] == '#';
}

static int alias_cmp(const void *x, const void *y)
{
	const struct alias *a = x, *b = y;
	int c = strcmp(a->address, b->address);

	return c != 0 ? c : (a->line > b->line) - (a->line < b->line);
}

/* Sorts A and drops later lines of an alias given twice. */
static void drop_duplicates(struct aliases *a, aliases_warn_fn *warn, void *arg)
{
	char why[200];
	size_t i, n = 0;

	if (a->n == 0)
		return;
	qsort(a->entries, a->n, sizeof(*a->entries), alias_cmp);
	for (i = 0; i < a->n; i++) {
		struct alias *prev = n ? &a->entries[n - 1] : NULL;
		if (prev != NULL && strcmp(prev->address, a->entries[i].address) == 0) {
			snprintf(why, sizeof(why),
			         "%s was already given at line %u; this line is ignored",
			         prev->address, prev->line);
			if (warn)
				warn(a->entries[i].line, why, arg);
			alias_clear(&a->entries[i]);
			continue;
		}
		a->entries[n++] = a->entries[i];
	}
	a->n = n;
}

int aliases_parse(struct aliases *a, const char *text, aliases_warn_fn *warn, void *arg)
{
	size_t cap = 0;
	unsigned lineno = 0;
	char why[200];

	memset(a, 0, sizeof(*a));
	while (*text) {
		size_t len = strcspn(text, "\n"), content = len;
		struct alias al = {0};
		const char *problem;

		lineno++;
		if (content > 0 && text[content - 1] == '\r')
			content--;
		if (!line_is_blank(text, content)) {
			problem = parse_line(&al, text, content, why, sizeof(why));
			if (problem != NULL) {
				if (warn)
					warn(lineno, problem, arg);
				alias_clear(&al);
			} else {
				if (a->n == cap) {
					cap = cap ? cap * 2 : 16;
					a->entries =
					    xrealloc(a->entries, cap * sizeof(*a->entries));
				}
				al.line = lineno;
				a->entries[a->n++] = al;
			}
		}
		text += len + (text[len] == '\n');
	}
	drop_duplicates(a, warn, arg);
	return 0;
}

void aliases_free(struct aliases *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		alias_clear(&a->entries[i]);
	free(a->entries);
	memset(a, 0, sizeof(*a));
}

/* ---- expansion ---------------------------------------------------------- */

struct expansion {
	const struct aliases *a;
	int (*is_user)(const char *addr, void *arg);
	/* aliases_expand_local(): which targets are in a local domain, so that
	 * one that is neither a user nor an alias is left out (else NULL) */
	int (*is_local)(const char *addr, void *arg);
	void *arg;
	struct aliases_skipped *skipped; /* where they are noted, or NULL */
	/* for aliases_owned_by(), where only one user is known: catch-alls
	 * are not followed, and an address met again inside its own expansion
	 * is kept instead of failing (it may be a user keeping a copy) */
	int owner_mode;
	const struct alias *stack[ALIASES_MAX_DEPTH]; /* being expanded */
	unsigned depth;
	unsigned steps;
	char **out;
	unsigned n_out;
};

/* The alias whose address is KEY (lower-cased), or NULL. */
static const struct alias *find_alias(const struct aliases *a, const char *key)
{
	size_t lo = 0, hi = a->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(key, a->entries[mid].address);
		if (c == 0)
			return &a->entries[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* The alias that takes mail for ADDRESS (lower-cased): its own, or when it
 * is not a user, its domain's catch-all; NULL when none does. */
static const struct alias *alias_for(const struct expansion *x, const char *address)
{
	const struct alias *al = find_alias(x->a, address);
	const char *at = strrchr(address, '@');

	if (al != NULL || x->owner_mode || at == NULL || x->is_user(address, x->arg))
		return al;
	return find_alias(x->a, at);
}

static int on_stack(const struct expansion *x, const struct alias *al)
{
	unsigned i;

	for (i = 0; i < x->depth; i++)
		if (x->stack[i] == al)
			return 1;
	return 0;
}

/* Adds TARGET to the final recipients unless it is there already. */
static int add_recipient(struct expansion *x, const char *target)
{
	unsigned i;

	for (i = 0; i < x->n_out; i++)
		if (strcasecmp(x->out[i], target) == 0)
			return 0;
	if (x->n_out == ALIASES_MAX_TARGETS)
		return -1;
	x->out = xrealloc(x->out, (x->n_out + 1) * sizeof(char *));
	x->out[x->n_out++] = xstrdup(target);
	return 0;
}

static int expand_alias(struct expansion *x, const struct alias *al);

/* Notes TARGET (lower-cased KEY), named by the alias being expanded, as
 * left out: a local address that is neither a user nor an alias. */
static int skip_target(struct expansion *x, const char *target)
{
	struct aliases_skipped *s = x->skipped;

	if (s != NULL && s->n++ == 0) {
		const struct alias *by = x->stack[x->depth - 1];
		strlcpy_checked(s->target, target, sizeof(s->target));
		strlcpy_checked(s->alias, by->address, sizeof(s->alias));
		s->line = by->line;
	}
	return 0;
}

/* 1 when expanding KEY (a target, lower-cased) to AL cannot reach a
 * mailbox: no user and no alias of its own, and either no alias takes it
 * or the catch-all being expanded takes it back ("@x: postmaster@x" while
 * postmaster@x is no user). */
static int dead_end(const struct expansion *x, const char *key, const struct alias *al)
{
	if (x->is_local == NULL || x->owner_mode || !x->is_local(key, x->arg) ||
	    x->is_user(key, x->arg) || find_alias(x->a, key) != NULL)
		return 0;
	return al == NULL || (al->address[0] == '@' && on_stack(x, al));
}

/* Expands one TARGET of an alias being expanded. */
static int expand_target(struct expansion *x, const char *target)
{
	char key[ALIASES_ADDRESS_MAX];
	const struct alias *al;

	if (++x->steps > ALIASES_MAX_STEPS || strlcpy_checked(key, target, sizeof(key)) < 0)
		return -1;
	str_lower(key);
	al = alias_for(x, key);
	if (dead_end(x, key, al))
		return skip_target(x, target);
	if (al == NULL)
		return add_recipient(x, target);
	if (on_stack(x, al))
		return x->owner_mode || x->is_user(key, x->arg) ? add_recipient(x, target) : -1;
	return expand_alias(x, al);
}

/* Expands every target of AL, one level below the current one. */
static int expand_alias(struct expansion *x, const struct alias *al)
{
	unsigned i;

	if (x->depth == ALIASES_MAX_DEPTH)
		return -1;
	x->stack[x->depth++] = al;
	for (i = 0; i < al->n_targets; i++)
		if (expand_target(x, al->targets[i]) < 0)
			return -1;
	x->depth--;
	return 0;
}

static void free_strings(char **list, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

/* Expands AL into X->out; 0, or -1 (X->out freed). */
static int expansion_run(struct expansion *x, const struct alias *al)
{
	if (expand_alias(x, al) == 0)
		return 0;
	free_strings(x->out, x->n_out);
	x->out = NULL;
	x->n_out = 0;
	return -1;
}

int aliases_expand(const struct aliases *a, const char *address,
                   int (*is_user)(const char *addr, void *arg), void *arg, char ***targets_r,
                   unsigned *n_r)
{
	return aliases_expand_local(a, address, is_user, NULL, arg, targets_r, n_r, NULL);
}

int aliases_expand_local(const struct aliases *a, const char *address,
                         int (*is_user)(const char *addr, void *arg),
                         int (*is_local)(const char *addr, void *arg), void *arg, char ***targets_r,
                         unsigned *n_r, struct aliases_skipped *skipped_r)
{
	struct expansion x = {
	    .a = a, .is_user = is_user, .is_local = is_local, .arg = arg, .skipped = skipped_r};
	char key[ALIASES_ADDRESS_MAX];
	const struct alias *al;
	int r;

	*targets_r = NULL;
	*n_r = 0;
	if (skipped_r != NULL)
		memset(skipped_r, 0, sizeof(*skipped_r));
	if (address == NULL || strlcpy_checked(key, address, sizeof(key)) < 0)
		return 1;
	str_lower(key);
	if ((al = alias_for(&x, key)) == NULL)
		return 1;
	r = expansion_run(&x, al);
	*targets_r = x.out;
	*n_r = x.n_out;
	return r;
}

void aliases_check_targets(const struct aliases *a, int (*is_user)(const char *addr, void *arg),
                           int (*is_local)(const char *addr, void *arg), void *arg,
                           void (*warn)(const struct alias *al, const char *target, void *arg))
{
	struct expansion x = {.a = a, .is_user = is_user, .is_local = is_local, .arg = arg};
	char key[ALIASES_ADDRESS_MAX];
	size_t i;
	unsigned j;

	for (i = 0; i < a->n; i++) {
		x.stack[0] = &a->entries[i];
		x.depth = 1;
		for (j = 0; j < a->entries[i].n_targets; j++) {
			const char *target = a->entries[i].targets[j];
			if (strlcpy_checked(key, target, sizeof(key)) < 0)
				continue;
			str_lower(key);
			if (dead_end(&x, key, alias_for(&x, key)))
				warn(&a->entries[i], target, arg);
		}
	}
}

/* For aliases_owned_by(): only the user asked about is a user. */
static int is_the_user(const char *addr, void *arg)
{
	return strcmp(addr, arg) == 0;
}

/* 1 when the expansion of AL reaches USER (lower-cased). */
static int alias_reaches(const struct aliases *a, const struct alias *al, char *user)
{
	struct expansion x = {.a = a, .is_user = is_the_user, .arg = user, .owner_mode = 1};
	int found = 0;
	unsigned i;

	if (expansion_run(&x, al) < 0)
		return 0;
	for (i = 0; i < x.n_out && !found; i++)
		found = strcasecmp(x.out[i], user) == 0;
	free_strings(x.out, x.n_out);
	return found;
}

unsigned aliases_owned_by(const struct aliases *a, const char *user, char ***addresses_r)
{
	char key[ALIASES_ADDRESS_MAX];
	unsigned n = 0;
	size_t i;

	*addresses_r = NULL;
	if (user == NULL || strlcpy_checked(key, user, sizeof(key)) < 0)
		return 0;
	str_lower(key);
	for (i = 0; i < a->n; i++) {
		const struct alias *al = &a->entries[i];
		if (al->address[0] == '@' || strcmp(al->address, key) == 0 ||
		    !alias_reaches(a, al, key))
			continue;
		*addresses_r = xrealloc(*addresses_r, (n + 1) * sizeof(char *));
		(*addresses_r)[n++] = xstrdup(al->address);
	}
	return n;
}
