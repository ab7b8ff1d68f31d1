/*
 * users.c: see users.h.
 */
#include "lookup/users.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"
#include "mail/maildir_name.h"

#define USERS_ADDRESS_MAX 512

/* A parsed line, while the file is read: sorted by address, then by line,
 * so that the first line of an address comes first. */
struct users_record {
	char *entry; /* "addr\0hash\0" */
	unsigned line;
};

static int users_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int users_record_cmp(const void *a, const void *b)
{
	const struct users_record *ra = a, *rb = b;
	int c = strcmp(ra->entry, rb->entry);

	return c != 0 ? c : (ra->line > rb->line) - (ra->line < rb->line);
}

/* Makes the "addr\0hash\0" entry of one line; returns NULL (and *why) if
 * bad. The address is lower-cased; the hash ends at the next ':'. */
static char *users_line_entry(const char *line, size_t len, const char **why)
{
	const char *colon = memchr(line, ':', len);
	const char *at, *hash, *hash_end;
	char *entry;
	size_t alen, hlen;

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
	hash = colon + 1;
	{
		char address[USERS_ADDRESS_MAX];
		memcpy(address, line, alen);
		address[alen] = '\0';
		if ((*why = maildir_address_problem(address)) != NULL)
			return NULL; /* its mail could never be delivered */
	}
	hash_end = memchr(hash, ':', len - alen - 1);
	hlen = hash_end ? (size_t)(hash_end - hash) : len - alen - 1;
	entry = xmalloc(alen + hlen + 2);
	memcpy(entry, line, alen);
	entry[alen] = '\0';
	str_lower(entry);
	memcpy(entry + alen + 1, hash, hlen);
	entry[alen + 1 + hlen] = '\0';
	return entry;
}

/* Frees an entry, wiping its hash. */
static void users_entry_free(char *entry)
{
	size_t alen;

	if (entry == NULL)
		return;
	alen = strlen(entry);
	explicit_bzero(entry, alen + 1 + strlen(entry + alen + 1));
	free(entry);
}

/* Moves the sorted RECORDS (N) into DB, dropping later lines of an address
 * already taken. */
static void users_db_fill(struct users_db *db, struct users_record *records, size_t n,
                          void (*warn)(unsigned line, const char *reason, void *arg), void *arg)
{
	size_t i;

	db->addresses = xcalloc(n ? n : 1, sizeof(char *));
	db->n = 0;
	for (i = 0; i < n; i++) {
		if (db->n > 0 && strcmp(db->addresses[db->n - 1], records[i].entry) == 0) {
			if (warn)
				warn(records[i].line,
				     "the address is listed on an earlier line; this line is "
				     "ignored",
				     arg);
			users_entry_free(records[i].entry);
			continue;
		}
		db->addresses[db->n++] = records[i].entry;
	}
}

int users_db_parse(struct users_db *db, const char *text,
                   void (*warn)(unsigned line, const char *reason, void *arg), void *arg)
{
	size_t cap = 16, n = 0;
	unsigned lineno = 0;
	const char *p = text;
	struct users_record *records = xcalloc(cap, sizeof(*records));

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		const char *next = nl ? nl + 1 : p + len;
		const char *why;
		char *entry;

		lineno++;
		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (len > 0 && p[0] != '#') {
			entry = users_line_entry(p, len, &why);
			if (entry == NULL) {
				if (warn)
					warn(lineno, why, arg);
			} else {
				if (n == cap) {
					cap *= 2;
					records = xrealloc(records, cap * sizeof(*records));
				}
				records[n].entry = entry;
				records[n++].line = lineno;
			}
		}
		p = next;
	}
	qsort(records, n, sizeof(*records), users_record_cmp);
	users_db_fill(db, records, n, warn, arg);
	free(records);
	return 0;
}

/* The entry of ADDRESS (any case), or NULL. */
static const char *users_db_find(const struct users_db *db, const char *address)
{
	char key[USERS_ADDRESS_MAX];
	const char *k = key;
	char *const *found;

	if (address == NULL || db->n == 0 || strlcpy_checked(key, address, sizeof(key)) < 0)
		return NULL;
	str_lower(key);
	found = bsearch(&k, db->addresses, db->n, sizeof(char *), users_cmp);
	return found ? *found : NULL;
}

int users_db_contains(const struct users_db *db, const char *address)
{
	return users_db_find(db, address) != NULL;
}

const char *users_db_hash(const struct users_db *db, const char *address)
{
	const char *entry = users_db_find(db, address);

	return entry ? entry + strlen(entry) + 1 : NULL;
}

void users_db_free(struct users_db *db)
{
	size_t i;

	for (i = 0; i < db->n; i++)
		users_entry_free(db->addresses[i]);
	free(db->addresses);
	memset(db, 0, sizeof(*db));
}
