/*
 * users.c: see users.h.
 */
#include "lookup/users.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"

#define USERS_ADDRESS_MAX 512

static int users_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Takes the address part of one line; returns NULL (and *why) if bad. */
static char *users_line_address(const char *line, size_t len, const char **why)
{
	const char *colon = memchr(line, ':', len);
	const char *at;
	char *addr;
	size_t alen;

	if (colon == NULL) {
		*why = "expected user@domain:HASH";
		return NULL;
	}
	alen = (size_t)(colon - line);
	at = memchr(line, '@', alen);
	if (at == NULL || at == line || at + 1 == colon || alen >= USERS_ADDRESS_MAX) {
		*why = "the address must be user@domain";
		return NULL;
	}
	addr = xmalloc(alen + 1);
	memcpy(addr, line, alen);
	addr[alen] = '\0';
	str_lower(addr);
	return addr;
}

int users_db_parse(struct users_db *db, const char *text,
                   void (*warn)(unsigned line, const char *reason, void *arg), void *arg)
{
	size_t cap = 16;
	unsigned lineno = 0;
	const char *p = text;

	db->addresses = xcalloc(cap, sizeof(char *));
	db->n = 0;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		const char *why;
		char *addr;

		lineno++;
		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (len > 0 && p[0] != '#') {
			addr = users_line_address(p, len, &why);
			if (addr == NULL) {
				if (warn)
					warn(lineno, why, arg);
			} else {
				if (db->n == cap) {
					cap *= 2;
					db->addresses =
					    xrealloc(db->addresses, cap * sizeof(char *));
				}
				db->addresses[db->n++] = addr;
			}
		}
		p += nl ? len + (p[len] == '\r') + 1 : len;
	}
	qsort(db->addresses, db->n, sizeof(char *), users_cmp);
	return 0;
}

int users_db_contains(const struct users_db *db, const char *address)
{
	char key[USERS_ADDRESS_MAX];
	const char *k = key;

	if (strlcpy_checked(key, address, sizeof(key)) < 0 || db->n == 0)
		return 0;
	str_lower(key);
	return bsearch(&k, db->addresses, db->n, sizeof(char *), users_cmp) != NULL;
}

void users_db_free(struct users_db *db)
{
	size_t i;

	for (i = 0; i < db->n; i++)
		free(db->addresses[i]);
	free(db->addresses);
	memset(db, 0, sizeof(*db));
}
