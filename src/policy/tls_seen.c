/*
 * tls_seen.c: the downgrade memory's table, its file's parser and
 * formatter (pure), and the reading of the file; see tls_seen.h. The
 * table is kept sorted by domain, so a task's lookup is a binary search.
 * Called by queue/tls_memory.c, `sealmail policy explain`, the unit tests
 * and the fuzz harness.
 */
#include "policy/tls_seen.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lib/util.h"
#include "mail/delivery.h"

static const char *const seen_words[] = {
    [TLS_SEEN_PLAINTEXT] = "plaintext",
    [TLS_SEEN_ENCRYPTED] = "encrypted",
    [TLS_SEEN_AUTHENTICATED] = "authenticated",
};

struct tls_seen_map *tls_seen_map_new(void)
{
	return xcalloc(1, sizeof(struct tls_seen_map));
}

void tls_seen_map_free(struct tls_seen_map **m)
{
	if (*m == NULL)
		return;
	free((*m)->entries);
	free(*m);
	*m = NULL;
}

/* The index of DOMAIN (lower case) in M, or where it would go: *found_r
 * says which. */
static unsigned seen_find(const struct tls_seen_map *m, const char *domain, int *found_r)
{
	unsigned lo = 0, hi = m->n;

	*found_r = 0;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		int c = strcmp(m->entries[mid].domain, domain);
		if (c == 0) {
			*found_r = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* DOMAIN in lower case into OUT (256 bytes); -1 when it is empty, too
 * long or holds a space or control character. */
static int seen_key(const char *domain, char *out)
{
	size_t n = strlen(domain);

	if (n == 0 || n > 255)
		return -1;
	for (size_t i = 0; i <= n; i++) {
		unsigned char c = (unsigned char)domain[i];
		if (i < n && (c <= 0x20 || c == 0x7f))
			return -1;
		out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	return 0;
}

/* Drops the entry last seen longest ago. */
static void seen_drop_oldest(struct tls_seen_map *m)
{
	unsigned i, oldest = 0;

	for (i = 1; i < m->n; i++)
		if (m->entries[i].time < m->entries[oldest].time)
			oldest = i;
	memmove(&m->entries[oldest], &m->entries[oldest + 1],
	        (m->n - oldest - 1) * sizeof(m->entries[0]));
	m->n--;
}

/* Sets KEY's entry (KEY already lower case) to LEVEL at TIME, making room
 * when M is full. */
static void seen_set(struct tls_seen_map *m, const char *key, uint32_t level, uint64_t time)
{
	int found;
	unsigned at = seen_find(m, key, &found);

	if (!found) {
		if (m->n >= TLS_SEEN_MAX) {
			seen_drop_oldest(m);
			at = seen_find(m, key, &found);
		}
		if (m->n == m->cap) {
			m->cap = m->cap ? m->cap * 2 : 64;
			m->entries = xrealloc(m->entries, m->cap * sizeof(m->entries[0]));
		}
		memmove(&m->entries[at + 1], &m->entries[at], (m->n - at) * sizeof(m->entries[0]));
		m->n++;
		memcpy(m->entries[at].domain, key, strlen(key) + 1);
	}
	m->entries[at].level = level;
	m->entries[at].time = time;
	m->dirty = 1;
}

/* One record "DOMAIN LEVEL TIME" (LINE, NUL-terminated) into M; -1 when
 * malformed. */
static int seen_record(struct tls_seen_map *m, char *line)
{
	char *level = strchr(line, ' '), *time, *end;
	unsigned long long t;
	char key[256];
	uint32_t l;

	if (level == NULL || (time = strchr(level + 1, ' ')) == NULL)
		return -1;
	*level++ = '\0';
	*time++ = '\0';
	for (l = 0; l <= TLS_SEEN_AUTHENTICATED && strcmp(level, seen_words[l]) != 0; l++)
		;
	if (l > TLS_SEEN_AUTHENTICATED || *time < '1' || *time > '9' || seen_key(line, key) < 0)
		return -1;
	errno = 0;
	t = strtoull(time, &end, 10);
	if (errno != 0 || *end != '\0' || t > (unsigned long long)INT64_MAX)
		return -1;
	seen_set(m, key, l, (uint64_t)t);
	return 0;
}

int tls_seen_parse(struct tls_seen_map *m, const char *buf, size_t len, const char **error_r)
{
	char line[TLS_SEEN_LINE_MAX + 1];
	size_t off = 0, n;
	int skipped = 0, first = 1;

	m->n = 0;
	if (memchr(buf, '\0', len) != NULL) {
		*error_r = "NUL in the downgrade memory file";
		return -1;
	}
	while (off < len) {
		const char *nl = memchr(buf + off, '\n', len - off);
		n = nl ? (size_t)(nl - (buf + off)) : len - off;
		if (first && (n != strlen(TLS_SEEN_MAGIC) || memcmp(buf, TLS_SEEN_MAGIC, n) != 0)) {
			*error_r = "not a downgrade memory file (or another version)";
			m->n = 0;
			return -1;
		}
		if (!first && n > 0 && buf[off] != '#') {
			if (n > TLS_SEEN_LINE_MAX || nl == NULL) {
				skipped++; /* over-long, or cut short by the end of the file */
			} else {
				memcpy(line, buf + off, n);
				line[n] = '\0';
				skipped += seen_record(m, line) < 0;
			}
		}
		first = 0;
		off += n + (nl != NULL);
	}
	if (first) {
		*error_r = "empty downgrade memory file";
		return -1;
	}
	m->dirty = 0;
	return skipped;
}

char *tls_seen_format(const struct tls_seen_map *m, size_t *len_r)
{
	size_t cap = sizeof(TLS_SEEN_MAGIC) + 1 + (size_t)m->n * (TLS_SEEN_LINE_MAX + 2), len;
	char *buf = xmalloc(cap);

	len = (size_t)snprintf(buf, cap, "%s\n", TLS_SEEN_MAGIC);
	for (unsigned i = 0; i < m->n; i++) {
		const struct tls_seen_entry *e = &m->entries[i];
		len += (size_t)snprintf(buf + len, cap - len, "%s %s %llu\n", e->domain,
		                        seen_words[e->level <= TLS_SEEN_AUTHENTICATED ? e->level : 0],
		                        (unsigned long long)e->time);
	}
	*len_r = len;
	return buf;
}

/* 1 when E is still remembered at NOW. */
static int seen_alive(const struct tls_seen_entry *e, uint64_t now, unsigned remember)
{
	return remember > 0 && e->time > 0 && (e->time >= now || now - e->time <= remember);
}

int tls_seen_get(const struct tls_seen_map *m, const char *domain, uint64_t now,
                 unsigned remember, uint32_t *level_r, uint64_t *time_r)
{
	char key[256];
	unsigned at;
	int found;

	if (remember == 0 || seen_key(domain, key) < 0)
		return 0;
	at = seen_find(m, key, &found);
	if (!found || !seen_alive(&m->entries[at], now, remember))
		return 0;
	*level_r = m->entries[at].level;
	*time_r = m->entries[at].time;
	return 1;
}

void tls_seen_note(struct tls_seen_map *m, const char *domain, uint32_t achieved, uint64_t now,
                   unsigned remember)
{
	char key[256];
	unsigned at;
	int found;

	if (achieved > TLS_SEEN_AUTHENTICATED || now == 0 || seen_key(domain, key) < 0)
		return;
	at = seen_find(m, key, &found);
	if (found && seen_alive(&m->entries[at], now, remember) &&
	    achieved < m->entries[at].level)
		return;
	if (!found && achieved == TLS_SEEN_PLAINTEXT)
		return;
	seen_set(m, key, achieved, now);
}

int tls_seen_forget(struct tls_seen_map *m, const char *domain)
{
	char key[256];
	unsigned at;
	int found;

	if (seen_key(domain, key) < 0)
		return 0;
	at = seen_find(m, key, &found);
	if (!found)
		return 0;
	memmove(&m->entries[at], &m->entries[at + 1], (m->n - at - 1) * sizeof(m->entries[0]));
	m->n--;
	m->dirty = 1;
	return 1;
}

void tls_seen_expire(struct tls_seen_map *m, uint64_t now, unsigned remember)
{
	unsigned i, kept = 0;

	for (i = 0; i < m->n; i++)
		if (seen_alive(&m->entries[i], now, remember))
			m->entries[kept++] = m->entries[i];
	if (kept != m->n)
		m->dirty = 1;
	m->n = kept;
}

const char *tls_peer_word(const char *peer)
{
	return strcmp(peer, "untrusted") == 0 ? "unchecked" : peer;
}

int tls_seen_achieved(const char *peer)
{
	if (strcmp(peer, "dane") == 0 || strcmp(peer, "sts") == 0 || strcmp(peer, "verified") == 0)
		return TLS_SEEN_AUTHENTICATED;
	if (strcmp(tls_peer_word(peer), "unchecked") == 0)
		return TLS_SEEN_ENCRYPTED;
	if (strcmp(peer, "none") == 0)
		return TLS_SEEN_PLAINTEXT;
	return -1;
}

int tls_seen_load(struct tls_seen_map *m, const char *path, const char **error_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;
	char *buf;
	ssize_t n = 0;
	size_t len = 0;

	m->n = 0;
	m->dirty = 0;
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		*error_r = strerror(errno);
		return -1;
	}
	buf = xmalloc(TLS_SEEN_FILE_MAX);
	while (len < TLS_SEEN_FILE_MAX &&
	       (n = read(fd, buf + len, TLS_SEEN_FILE_MAX - len)) > 0)
		len += (size_t)n;
	if (len < TLS_SEEN_FILE_MAX && n < 0) {
		*error_r = strerror(errno);
		close(fd);
		free(buf);
		return -1;
	}
	close(fd);
	/* past the bound: the records after it are not read (TLS_SEEN_MAX
	 * records always fit) */
	r = tls_seen_parse(m, buf, len, error_r);
	free(buf);
	return r;
}
