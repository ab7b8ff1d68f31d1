/*
 * mailbox_private.h: what the mailbox*.c files share: the handle, and the
 * helpers of each file. Not for the store role (it uses mailbox.h).
 *
 *   mailbox.c         open, close, accessors, flags, expunge, commit, compaction
 *   mailbox_sync.c    directory scans: new/ -> cur/, external changes, rebuild
 *   mailbox_file.c    file names (BASE, ",U=", ",W=", ":2,FLAGS"), the
 *                     uidvalidity file, reading and writing message files
 *   mailbox_append.c  APPEND and COPY
 *   mailbox_cache.c   sealmail.cache
 *   mailbox_index.c   the index and log formats (pure)
 */
#ifndef SEALMAIL_STORE_MAILBOX_PRIVATE_H
#define SEALMAIL_STORE_MAILBOX_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "store/mailbox.h"
#include "store/mailbox_index.h"

#define MAILBOX_INDEX_FILE "sealmail.index"
#define MAILBOX_LOG_FILE "sealmail.index.log"
#define MAILBOX_CACHE_FILE "sealmail.cache"
#define MAILBOX_UIDVALIDITY_FILE "sealmail.uidvalidity"
#define MAILBOX_PATH_MAX (MAILBOX_DIR_MAX + 32 + MAILBOX_FILE_NAME_MAX)
/* UIDs reserved in the uidvalidity file at a time, so that a sync or an
 * append rarely has to rewrite it; a rebuild starts above them. */
#define MAILBOX_UID_RESERVE 256
/* A rebuilt index starts its modseqs this far above the last compaction's,
 * more than the log between two compactions can hold, so HIGHESTMODSEQ
 * never goes back (RFC 7162 3.1.2.1). */
#define MAILBOX_MODSEQ_REBUILD_JUMP (1ull << 32)
/* The log is folded into a new index when it is larger than this ... */
#define MAILBOX_LOG_COMPACT_MIN (64 * 1024)
/* ... and than the index, or always above this. */
#define MAILBOX_LOG_COMPACT_MAX (4 * 1024 * 1024)
/* The largest index file read. */
#define MAILBOX_INDEX_FILE_MAX ((size_t)MAILBOX_MESSAGES_MAX * 2048)

struct mailbox {
	char *dir, *hostname;
	struct mailbox_image img;
	uint32_t uid_reserved;      /* the uidnext written in the uidvalidity file */
	uint64_t modseq_saved;      /* the modseq written there */
	int log_fd;                 /* -1 before the log is opened */
	uint64_t log_size;          /* octets on disk */
	struct mailbox_buf pending; /* log records not yet written */
	size_t index_size;
	int cur_dirty, new_dirty; /* renames or unlinks not yet fsynced */
	int appending;            /* in mailbox_append's commit (its fault points) */
	int rebuilding;           /* in mailbox_rebuild: a compaction follows, so the
	                             messages found are not logged */
	int log_broken;           /* a compaction failed: the log on disk may not
	                             follow the index; commit by compacting */
	int cache_fd;
	const uint8_t *cache_map; /* the cache file as it was at open */
	size_t cache_map_len;
	uint64_t cache_end; /* where the next cache record goes */
	struct mailbox_stats stats;
};

/* mailbox_file.c */

/* DIR/SUB/NAME (SUB or NAME may be NULL) into BUF; -1 when too long. */
int mailbox_path(const struct mailbox *mb, char *buf, const char *sub, const char *name);
/* The STORE flags of NAME's ":2," part (P and unknown letters ignored). */
uint32_t mailbox_name_flags(const char *name);
/* BASE (LEN octets) + ":2," + the letters of FLAGS merged with the letters of
 * OLD_NAME's info that are not ours (P, Dovecot's keyword letters), sorted.
 * -1 when it would be longer than MAILBOX_FILE_NAME_MAX. */
int mailbox_name_make(char out[MAILBOX_FILE_NAME_MAX + 1], const char *base, size_t len,
                      uint32_t flags, const char *old_name);
/* The value of the ",KEY=digits" field in the first LEN octets (BASE) of
 * NAME; -1 when absent. */
int mailbox_name_field(const char *name, size_t len, char key, uint64_t *value_r);
/* BASE without its ",U=" and ",W=" fields, then ",U=UID,W=SIZE", into OUT. */
int mailbox_name_with_uid(char *out, size_t size, const char *name, size_t len, uint32_t uid,
                          uint64_t vsize);
/* A fresh BASE "SECONDS.MUSECPPIDQN.HOST,S=FILE_SIZE". */
void mailbox_name_fresh(char *out, size_t size, const char *hostname, uint64_t file_size);

/* sealmail.uidvalidity: "UIDVALIDITY UIDNEXT MODSEQ\n". 0, or -1 when absent or bad. */
int mailbox_uidv_read(const char *dir, uint32_t *uidvalidity_r, uint32_t *uidnext_r,
                      uint64_t *modseq_r);
/* Writes it stably (temporary file, fsync, rename, fsync of DIR). */
int mailbox_uidv_write(const char *dir, uint32_t uidvalidity, uint32_t uidnext, uint64_t modseq,
                       const char **error_r);
/* Makes sure the uidvalidity file covers UIDs below NEED (and saves the
 * current modseq when asked by FORCE). */
int mailbox_reserve_uids(struct mailbox *mb, uint32_t need, int force, const char **error_r);

/* Reads FD to its end: its size and its size with CRLF line ends. */
int mailbox_file_sizes(int fd, uint64_t *file_size_r, uint64_t *size_r);
/* Copies SIZE octets of IN into OUT turning CRLF into LF; the sizes of
 * what was written as mailbox_file_sizes() counts them. */
int mailbox_file_copy_lf(int in, uint64_t size, int out, uint64_t *file_size_r, uint64_t *vsize_r,
                         const char **error_r);
/* The whole file FD (at most MAX octets, else NULL with EFBIG), allocated
 * and NUL-terminated; NULL with errno. */
char *mailbox_read_whole(int fd, size_t max, size_t *len_r);
/* Minutes east of UTC of local time at T. */
int32_t mailbox_local_tz(int64_t t);

/* mailbox_sync.c */

/* Scans the directories when their stamps say they changed. FLOOR: a file
 * in cur/ unknown to the index keeps the UID of its ",U=" field when it is
 * at least FLOOR, below the reserved UIDs and not in use (the rebuild
 * passes 1, a sync the index's uidnext). Returns the number of changes. */
int mailbox_sync_dirs(struct mailbox *mb, uint32_t floor, const char **error_r);
/* Starts IMG afresh from the uidvalidity file and the directories; logs
 * no record of the messages found: the caller compacts next. */
int mailbox_rebuild(struct mailbox *mb, const char **error_r);

/* mailbox.c */

/* A new modseq for a change. */
uint64_t mailbox_next_modseq(struct mailbox *mb);
/* Writes the pending log records, fsyncs them (and the directories first). */
int mailbox_flush(struct mailbox *mb, const char **error_r);
/* Writes a new index, then empties the log. */
int mailbox_compact(struct mailbox *mb, const char **error_r);

/* mailbox_cache.c */

int mailbox_cache_open(struct mailbox *mb, int reset);
void mailbox_cache_close(struct mailbox *mb);

#endif
