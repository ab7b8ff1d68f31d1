/*
 * seqset.c: IMAP sequence sets (RFC 9051 9); see seqset.h. Pure. Called by
 * the IMAP session (FETCH, STORE, COPY, MOVE, SEARCH, EXPUNGE, QRESYNC sets)
 * and the store (formatting UID lists).
 */
#include "mail/seqset.h"

#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

/* Appends [LO, HI] to SET (capacity *CAP), growing it geometrically. */
static void seqset_push(struct seqset *set, unsigned *cap, uint32_t lo, uint32_t hi)
{
	if (set->n == *cap) {
		*cap = *cap == 0 ? 8 : *cap * 2;
		set->r = xrealloc(set->r, *cap * sizeof(*set->r));
	}
	set->r[set->n].lo = lo;
	set->r[set->n].hi = hi;
	set->n++;
}

/* Reads one seq-number (nz-number or "*") at *S and moves *S past it.
 * nz-number = digit-nz *DIGIT, so "0" and leading zeros are refused, and
 * values above 2^32-1 do not fit. Returns 0 or -1 with *ERROR_R. */
static int seqset_number(const char **s, uint32_t *v_r, const char **error_r)
{
	const char *p = *s;
	uint64_t v = 0;

	if (*p == '*') {
		*v_r = UINT32_MAX;
		*s = p + 1;
		return 0;
	}
	if (*p < '0' || *p > '9') {
		*error_r = *p == ',' || *p == ':' || *p == '\0'
		               ? "Empty part in sequence set"
		               : "Invalid character in sequence set";
		return -1;
	}
	if (*p == '0') {
		*error_r = "Sequence numbers start at 1";
		return -1;
	}
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX) {
			*error_r = "Sequence number too large";
			return -1;
		}
	}
	*v_r = (uint32_t)v;
	*s = p;
	return 0;
}

/* Parses "a" or "a:b" at *S (normalised so lo <= hi; "*" is the largest
 * number of all, so "*:4" is 4:*). */
static int seqset_part(const char **s, struct seqset_range *r, const char **error_r)
{
	uint32_t a, b;

	if (seqset_number(s, &a, error_r) < 0)
		return -1;
	b = a;
	if (**s == ':') {
		(*s)++;
		if (seqset_number(s, &b, error_r) < 0)
			return -1;
	}
	r->lo = a < b ? a : b;
	r->hi = a < b ? b : a;
	return 0;
}

int seqset_parse(const char *text, struct seqset *set, const char **error_r)
{
	unsigned cap = 0;
	const char *s = text;

	set->r = NULL;
	set->n = 0;
	if (strnlen(text, SEQSET_TEXT_MAX + 1) > SEQSET_TEXT_MAX) {
		*error_r = "Sequence set too long";
		return -1;
	}
	for (;;) {
		struct seqset_range r;

		if (set->n == SEQSET_MAX_RANGES) {
			*error_r = "Too many ranges in sequence set";
			break;
		}
		if (seqset_part(&s, &r, error_r) < 0)
			break;
		seqset_push(set, &cap, r.lo, r.hi);
		if (*s == '\0')
			return 0;
		if (*s != ',') {
			*error_r = "Invalid character in sequence set";
			break;
		}
		s++;
	}
	seqset_free(set);
	return -1;
}

/* qsort order of ranges: by lo, then hi. */
static int seqset_cmp(const void *a, const void *b)
{
	const struct seqset_range *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	return 0;
}

void seqset_resolve(struct seqset *set, uint32_t star)
{
	unsigned out = 0;

	for (unsigned i = 0; i < set->n; i++) {
		struct seqset_range *r = &set->r[i];
		uint32_t lo = r->lo == UINT32_MAX ? star : r->lo;
		uint32_t hi = r->hi == UINT32_MAX ? star : r->hi;

		r->lo = lo < hi ? lo : hi;
		r->hi = lo < hi ? hi : lo;
	}
	if (set->n == 0)
		return;
	qsort(set->r, set->n, sizeof(*set->r), seqset_cmp);
	for (unsigned i = 1; i < set->n; i++) {
		struct seqset_range *last = &set->r[out];

		/* overlapping or adjacent (hi + 1 cannot wrap: lo <= hi here) */
		if (set->r[i].lo <= last->hi || set->r[i].lo - 1 == last->hi) {
			if (set->r[i].hi > last->hi)
				last->hi = set->r[i].hi;
		} else {
			set->r[++out] = set->r[i];
		}
	}
	set->n = out + 1;
}

int seqset_contains(const struct seqset *set, uint32_t v)
{
	unsigned lo = 0, hi = set->n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (v < set->r[mid].lo)
			hi = mid;
		else if (v > set->r[mid].hi)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

void seqset_free(struct seqset *set)
{
	free(set->r);
	set->r = NULL;
	set->n = 0;
}

/* Writes V in decimal at P; returns the length. */
static size_t seqset_put_number(char *p, uint32_t v)
{
	char tmp[10];
	size_t n = 0, len;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	len = n;
	while (n > 0)
		*p++ = tmp[--n];
	return len;
}

char *seqset_format(const uint32_t *v, unsigned n)
{
	/* at most "4294967295:4294967295," per number */
	char *out = xmalloc((size_t)n * 22 + 1), *p = out;
	unsigned i = 0;

	while (i < n) {
		unsigned j = i;

		/* a run of consecutive (or repeated) numbers */
		while (j + 1 < n && v[j] != UINT32_MAX &&
		       (v[j + 1] == v[j] || v[j + 1] == v[j] + 1))
			j++;
		if (p != out)
			*p++ = ',';
		p += seqset_put_number(p, v[i]);
		if (v[j] != v[i]) {
			*p++ = ':';
			p += seqset_put_number(p, v[j]);
		}
		i = j + 1;
	}
	*p = '\0';
	return out;
}
