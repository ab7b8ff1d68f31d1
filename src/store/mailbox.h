/*
 * mailbox.h: one Maildir folder (DIR holds cur/ new/ tmp/) and the store's
 * index of it. Only the store role calls this.
 *
 * Files in cur/ are named "BASE:2,FLAGS" (flags D F P R S T in ASCII
 * order, as Maildir tools expect); new/ files get moved to cur/ and a UID
 * at sync, the UID written into BASE as a ",U=uid" field (with ",W=size",
 * the size with CRLF line ends, as Dovecot does) so that a rebuilt index
 * keeps UIDs. Files found in cur/ without a UID keep their names (a first
 * open of a large folder renames nothing): their UID is in the index only
 * (a rebuild gives them new ones) until the store renames them for a flag
 * change, and their CRLF size is counted on first need. The index files live in DIR: "sealmail.index" (a snapshot),
 * "sealmail.index.log" (the changes since, append-only, checksummed),
 * "sealmail.cache" (cached ENVELOPE, BODYSTRUCTURE, ...) and
 * "sealmail.uidvalidity" (UIDVALIDITY and the UIDs handed out, written
 * before any UID is used).
 *
 * Not thread-safe; one process (the store role) owns a folder's index.
 */
#ifndef SEALMAIL_STORE_MAILBOX_H
#define SEALMAIL_STORE_MAILBOX_H

#include <stddef.h>
#include <stdint.h>

/* proto/store.h does not compile yet (enum and struct proto_store_status
 * share a tag), so its values are repeated here; they must stay equal to
 * STORE_FLAG_*, PROTO_STORE_KEYWORDS_MAX and PROTO_STORE_CACHE_MAX. */
#define MAILBOX_FLAG_SEEN (1u << 0)     /* STORE_FLAG_SEEN */
#define MAILBOX_FLAG_ANSWERED (1u << 1) /* STORE_FLAG_ANSWERED */
#define MAILBOX_FLAG_FLAGGED (1u << 2)  /* STORE_FLAG_FLAGGED */
#define MAILBOX_FLAG_DELETED (1u << 3)  /* STORE_FLAG_DELETED */
#define MAILBOX_FLAG_DRAFT (1u << 4)    /* STORE_FLAG_DRAFT */
#define MAILBOX_FLAGS_SETTABLE 0x1fu    /* STORE_FLAGS_SETTABLE */

/* Bounds (a corrupt index or a hostile Maildir cannot exceed them). */
#define MAILBOX_MESSAGES_MAX 10000000u       /* messages in one folder */
#define MAILBOX_FILE_NAME_MAX 255            /* one file name in cur/ */
#define MAILBOX_KEYWORDS_MAX 1024            /* PROTO_STORE_KEYWORDS_MAX, with the NUL */
#define MAILBOX_CACHE_VALUE_MAX (256 * 1024) /* PROTO_STORE_CACHE_MAX: one cached value */
#define MAILBOX_DIR_MAX 1024                 /* the folder's path */

/* mailbox_msg.size of a file found in cur/ whose lines were not counted yet. */
#define MAILBOX_SIZE_UNKNOWN UINT64_MAX
/* mailbox_msg.internaldate of a file found in cur/ whose mtime was not
 * looked at yet (its tz_minutes is then 0). */
#define MAILBOX_DATE_UNKNOWN INT64_MIN

struct mailbox;
struct mailbox_msg {
	uint32_t uid;
	uint32_t flags;       /* STORE_FLAG_* of proto/store.h (SEEN ... DRAFT) */
	const char *keywords; /* space-separated, "" for none */
	uint64_t modseq;
	int64_t internaldate; /* MAILBOX_DATE_UNKNOWN until looked at: read it
	                         with mailbox_msg_date() */
	int32_t tz_minutes;
	uint64_t size; /* RFC822.SIZE: with CRLF line ends; MAILBOX_SIZE_UNKNOWN
	                  until counted: read it with mailbox_msg_size() */
	uint64_t file_size;
	const char *file; /* name in cur/ */
};
enum mailbox_cache_field {
	MAILBOX_CACHE_ENVELOPE,
	MAILBOX_CACHE_BODYSTRUCTURE,
	MAILBOX_CACHE_BODY,
	MAILBOX_CACHE_HEADERS,
	MAILBOX_CACHE_FIELDS,
};
#define MAILBOX_CACHE_FIELD_COUNT 5

/* Opens (creating cur/ new/ tmp/ and the index when missing) and syncs the
 * folder: a valid index whose recorded cur/ and new/ times still hold costs
 * no directory scan. A missing or corrupt index is rebuilt from the file
 * names. HOSTNAME names the files APPEND writes. */
int mailbox_open(const char *dir, const char *hostname, struct mailbox **mb_r,
                 const char **error_r);
/* Commits, compacts the log when it grew, frees; *MB becomes NULL. */
void mailbox_close(struct mailbox **mb);
/* Looks at new/ and cur/: new files get UIDs (in the order of their names), files gone are
 * expunged, flags changed by other tools are taken. Returns how many changes, -1 on error. */
int mailbox_sync(struct mailbox *mb, const char **error_r);
unsigned mailbox_count(const struct mailbox *mb); /* messages, UID order */
const struct mailbox_msg *mailbox_get(const struct mailbox *mb, unsigned index);
int mailbox_find(const struct mailbox *mb, uint32_t uid); /* index, or -1 */
/* RFC822.SIZE of message INDEX: the index's, or counted from the file on
 * first need (then kept in the index, logged at the next commit); the file
 * size when the file cannot be read (it went away). */
uint64_t mailbox_msg_size(struct mailbox *mb, unsigned index);
/* The internal date of message INDEX (and its zone in *TZ_R): the index's,
 * or the file's mtime on first need (then kept, logged at the next commit);
 * the current time when the file cannot be looked at (it went away). */
int64_t mailbox_msg_date(struct mailbox *mb, unsigned index, int32_t *tz_r);
uint32_t mailbox_uidvalidity(const struct mailbox *mb);
uint32_t mailbox_uidnext(const struct mailbox *mb);
uint64_t mailbox_highestmodseq(const struct mailbox *mb);
uint32_t mailbox_first_recent(const struct mailbox *mb); /* UIDs >= this are \Recent */
void mailbox_claim_recent(struct mailbox *mb);           /* uidnext becomes first_recent */
/* Sets FLAGS (MAILBOX_FLAGS_SETTABLE bits) and KEYWORDS (NULL: unchanged);
 * renames the file; new modseq. Nothing happens when nothing changes. */
int mailbox_set_flags(struct mailbox *mb, unsigned index, uint32_t flags, const char *keywords,
                      const char **error_r);
/* Appends a message read from FD (SIZE octets, CRLF; stored with LF as the queue does), on
 * stable storage when it returns. INTERNALDATE 0 = now; it becomes the file's mtime. */
int mailbox_append(struct mailbox *mb, int fd, uint64_t size, uint32_t flags, const char *keywords,
                   int64_t internaldate, int32_t tz_minutes, uint32_t *uid_r, const char **error_r);
/* Copies message INDEX of SRC into DST (a hard link when possible), flags kept. Stable when
 * mailbox_commit(DST) returns. */
int mailbox_copy(struct mailbox *src, unsigned index, struct mailbox *dst, uint32_t *uid_r,
                 const char **error_r);
/* Where a group of copies into a folder begins (its message count and its
 * records not yet written), so that the group can be taken back. */
struct mailbox_mark {
	unsigned count;
	size_t pending;
};
void mailbox_mark(const struct mailbox *mb, struct mailbox_mark *mark_r);
/* Takes back the messages appended or copied into MB since MARK and not
 * committed: their files leave cur/ (stable with the next commit), their
 * records the pending log, the messages the index; their UIDs stay used.
 * A failed COPY leaves the destination as it was (RFC 9051 6.4.7). Nothing
 * but appends and copies may have changed MB since MARK. */
void mailbox_rollback(struct mailbox *mb, const struct mailbox_mark *mark);
/* Removes the file and the message (indexes above INDEX move down by one). */
int mailbox_expunge(struct mailbox *mb, unsigned index, const char **error_r);
/* Makes every change since the last commit stable (fsync of the log and directories). */
int mailbox_commit(struct mailbox *mb, const char **error_r);
int mailbox_open_file(const struct mailbox *mb, unsigned index); /* O_RDONLY fd, or -1 */
/* The cache: NULL when not filled yet. */
const char *mailbox_cache_get(const struct mailbox *mb, unsigned index, enum mailbox_cache_field f);
/* Stores VALUE (at most MAILBOX_CACHE_VALUE_MAX octets); 0, or -1 when refused. */
int mailbox_cache_set(struct mailbox *mb, unsigned index, enum mailbox_cache_field f,
                      const char *value);
/* QRESYNC: the UIDs expunged with a modseq above MODSEQ (ascending, allocated). */
unsigned mailbox_vanished_since(const struct mailbox *mb, uint64_t modseq, uint32_t **uids_r);

/* Additions to the plan's API. */

/* The folder's directory as given to mailbox_open(). */
const char *mailbox_dir(const struct mailbox *mb);
/* What this handle did to the disk, for tests and the benchmark: directory
 * scans (readdir of new/ or cur/) and message files opened or stat'ed. */
struct mailbox_stats {
	unsigned dir_scans;
	unsigned file_opens;
	unsigned file_stats;
	unsigned rebuilds; /* the index was missing or corrupt */
};
void mailbox_get_stats(const struct mailbox *mb, struct mailbox_stats *stats_r);
/* Expunges the messages of UIDS (any order; UIDs not there are skipped) in
 * one pass, where a loop of mailbox_expunge() would move the array each
 * time. Returns how many were removed, -1 on error. */
int mailbox_expunge_uids(struct mailbox *mb, const uint32_t *uids, unsigned n,
                         const char **error_r);
/* mailbox_vanished_since() knows every expunge with a modseq at least this
 * (0 normally; a rebuilt index forgot the earlier ones: QRESYNC must then
 * report every known UID not in the folder). */
uint64_t mailbox_vanished_floor(const struct mailbox *mb);

#endif
