/*
 * tls_seen.h: the table of downgrade memory and its file. Per destination domain, the best
 * protection a delivery to it has achieved (enum tls_seen of
 * mail/delivery.h: plaintext < encrypted < authenticated) and when it was
 * last achieved at that level. The queue fills it from delivered results,
 * forgets what is older than [outbound] remember_tls, and puts the entry in
 * every task (struct proto_task seen_level, seen_time), so that the SMTP
 * client refuses a delivery below it (policy/decide.c). The table and its
 * parser and formatter are pure; tls_seen_load() reads a file. Used by the
 * queue (queue/tls_memory.c keeps the table, saves it and answers `policy
 * forget`), by `sealmail policy explain` to read the file, and by the unit
 * tests and the fuzz harness.
 *
 * The file, data_dir/policy/seen, is text, one record a line ended by "\n":
 *
 *   sealmail-tls-seen 1                 the first line: format and version
 *   DOMAIN LEVEL TIME                   one per domain, in no set order
 *
 * DOMAIN is the destination domain in lower case (at most 255 octets, no
 * spaces), LEVEL one of "plaintext", "encrypted", "authenticated" (enum
 * tls_seen 0, 1, 2), TIME the Unix time (UTC seconds) it was last achieved
 * at that level, a decimal number > 0. A line starting with '#' and an empty
 * line are skipped; so is a record that is malformed (a damaged line loses
 * that domain, not the others) and a domain given again (the later record
 * wins). A file without the first line, or of another version, is not
 * read. At most TLS_SEEN_MAX domains are kept: the entry last seen
 * longest ago goes first. The queue replaces the file whole (temporary
 * file, fsync, rename, fsync of the directory), so a reader sees the old
 * or the new file, never a mix.
 */
#ifndef SEALMAIL_TLS_SEEN_H
#define SEALMAIL_TLS_SEEN_H

#include <stddef.h>
#include <stdint.h>

#define TLS_SEEN_PATH "policy/seen" /* relative to data_dir */
#define TLS_SEEN_DIR "policy"
#define TLS_SEEN_MAGIC "sealmail-tls-seen 1"
#define TLS_SEEN_MAX 10000      /* domains remembered */
#define TLS_SEEN_LINE_MAX 320   /* a record: a 255-octet domain, a level, a time */
#define TLS_SEEN_FILE_MAX (TLS_SEEN_MAX * 300 + 64) /* bytes read of a file */

struct tls_seen_entry {
	char domain[256];
	uint32_t level; /* enum tls_seen */
	uint64_t time;  /* last seen at that level, UTC seconds */
};

struct tls_seen_map {
	struct tls_seen_entry *entries;
	unsigned n, cap;
	int dirty; /* changed since the last save */
};

struct tls_seen_map *tls_seen_map_new(void);
/* Frees *M and sets it to NULL; NULL is fine. */
void tls_seen_map_free(struct tls_seen_map **m);

/* Replaces M's contents by the file's BUF of LEN bytes. Returns the number
 * of records skipped as malformed (0 or more), or -1 with *error_r when
 * the file is not one (no first line, another version, a NUL). */
int tls_seen_parse(struct tls_seen_map *m, const char *buf, size_t len, const char **error_r);
/* The file for M, malloc'ed; *len_r its length. */
char *tls_seen_format(const struct tls_seen_map *m, size_t *len_r);

/* What M remembers of DOMAIN (any case) at NOW when entries older than
 * REMEMBER seconds are forgotten: 1 with *level_r and *time_r, or 0 when
 * nothing (REMEMBER 0: memory is off). */
int tls_seen_get(const struct tls_seen_map *m, const char *domain, uint64_t now,
                   unsigned remember, uint32_t *level_r, uint64_t *time_r);
/* A delivery to DOMAIN achieved ACHIEVED (enum tls_seen) at NOW: the entry
 * rises to it (or its time moves on at the same level); a lower level
 * leaves it as it is, unless it had expired (older than REMEMBER). A
 * plaintext delivery to a domain without an entry makes none. */
void tls_seen_note(struct tls_seen_map *m, const char *domain, uint32_t achieved, uint64_t now,
                     unsigned remember);
/* Forgets DOMAIN; returns 1 when it had an entry. */
int tls_seen_forget(struct tls_seen_map *m, const char *domain);
/* Drops the entries older than REMEMBER seconds at NOW. */
void tls_seen_expire(struct tls_seen_map *m, uint64_t now, unsigned remember);

/* The peer word of a delivery ("dane", "sts", "verified", "unchecked",
 * "none") as enum tls_seen; -1 for anything else. The word before 0.13,
 * "untrusted", still counts as "unchecked". */
int tls_seen_achieved(const char *peer);
/* PEER in today's words: "untrusted", which state files written before
 * 0.13 hold, becomes "unchecked" (nothing was checked, so nothing failed);
 * every other word is returned as it is. */
const char *tls_peer_word(const char *peer);

/* Reads PATH into M (an absent file is an empty memory). Returns the
 * records skipped, or -1 with *error_r (M is then empty). */
int tls_seen_load(struct tls_seen_map *m, const char *path, const char **error_r);

#endif
