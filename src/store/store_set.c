/*
 * store_set.c: sequence sets and UID sets resolved against a session's
 * view (RFC 9051 9: "*" is the last message, or the highest UID the
 * session knows; a UID set that names nothing is no error), as intervals
 * of view indexes; and the cursor that lets FETCH and STORE go in batches.
 * Called by store_fetch.c, store_flags.c, store_search.c, store_copy.c.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/hash.h"
#include "lib/util.h"
#include "store/store_private.h"

uint32_t store_view_max_uid(const struct store_view *v)
{
	return v->n > 0 ? v->v[v->n - 1].uid : 0;
}

/* The first view index whose UID is at least UID. */
static unsigned store_view_lower(const struct store_view *v, uint32_t uid)
{
	unsigned lo = 0, hi = v->n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (v->v[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void store_matches_add(struct store_matches *m, unsigned a, unsigned b)
{
	if (a >= b)
		return;
	m->r = xrealloc(m->r, (m->n + 1) * sizeof(*m->r));
	m->r[m->n].a = a;
	m->r[m->n].b = b;
	m->n++;
	m->total += b - a;
}

int store_set_resolve(const struct store_view *v, const char *text, int uid,
                      struct store_matches *m, const char **error_r)
{
	struct seqset set = {0};
	unsigned i;

	memset(m, 0, sizeof(*m));
	if (seqset_parse(text, &set, error_r) < 0)
		return -1;
	seqset_resolve(&set, uid ? store_view_max_uid(v) : v->n);
	for (i = 0; i < set.n; i++) {
		uint32_t lo = set.r[i].lo, hi = set.r[i].hi;
		if (uid) {
			unsigned b = hi == UINT32_MAX ? v->n : store_view_lower(v, hi + 1);
			store_matches_add(m, store_view_lower(v, lo), b);
		} else if (lo >= 1 && lo <= v->n) {
			store_matches_add(m, lo - 1, hi < v->n ? hi : v->n);
		}
	}
	seqset_free(&set);
	return 0;
}

void store_match_seek(struct store_match_iter *it, const struct store_matches *m, unsigned k)
{
	it->m = m;
	for (it->range = 0; it->range < m->n; it->range++) {
		unsigned size = m->r[it->range].b - m->r[it->range].a;
		if (k < size)
			break;
		k -= size;
	}
	it->index = it->range < m->n ? m->r[it->range].a + k : 0;
}

int store_match_next(struct store_match_iter *it, unsigned *i_r)
{
	if (it->range >= it->m->n)
		return 0;
	*i_r = it->index++;
	if (it->index >= it->m->r[it->range].b && ++it->range < it->m->n)
		it->index = it->m->r[it->range].a;
	return 1;
}

void store_matches_free(struct store_matches *m)
{
	free(m->r);
	memset(m, 0, sizeof(*m));
}

static uint64_t store_cursor_key(uint32_t type, int uid, const char *set)
{
	uint64_t key = ((uint64_t)type << 1) | (uid != 0);

	return hash_bytes(key, set, strlen(set));
}

unsigned store_cursor_begin(struct store_session *s, uint32_t type, int uid, const char *set,
                            uint32_t start)
{
	if (start == 0)
		return 0;
	if (s->cursor.key == store_cursor_key(type, uid, set) && s->cursor.next_start == start)
		return s->cursor.pos;
	return start;
}

void store_cursor_end(struct store_session *s, uint32_t type, int uid, const char *set,
                      uint32_t next_start, unsigned pos)
{
	s->cursor.key = store_cursor_key(type, uid, set);
	s->cursor.next_start = next_start;
	s->cursor.pos = pos;
}
