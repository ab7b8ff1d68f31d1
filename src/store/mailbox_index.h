/*
 * mailbox_index.h: the in-memory image of one folder's index and its two
 * on-disk forms, pure (no disk: buffers in, buffers out), so the fuzz
 * harness can feed it anything. Used by the mailbox*.c files only.
 *
 * sealmail.index (little-endian, one CRC-32C over the whole file, last):
 *   "SMBXIDX1", u32 generation, uidvalidity, uidnext, first_recent, count,
 *   n_vanished, u64 highestmodseq, vanished_floor, 2 x (i64 sec, u32 nsec)
 *   stamps of cur/ and new/; COUNT messages (u32 uid, flags, u64 modseq,
 *   i64 internaldate (INT64_MIN: not looked at yet), i32 tz, u64 size (all ones: not counted yet),
 *   file_size, 5 x u64 cache offsets,
 *   u16 name_len, u16 kw_len, name, keywords); N_VANISHED (u32 uid, u64
 *   modseq); u32 crc.
 * sealmail.index.log: "SMBXLOG1", u32 uidvalidity, u32 generation (of the
 *   index it follows), u32 crc of those; then records u32 len, u32 crc of
 *   the payload, payload (u8 type, fields). A record that does not fit or
 *   whose CRC fails ends the log: what follows is ignored.
 */
#ifndef SEALMAIL_STORE_MAILBOX_INDEX_H
#define SEALMAIL_STORE_MAILBOX_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "store/mailbox.h"

#define MAILBOX_INDEX_MAGIC "SMBXIDX1"
#define MAILBOX_LOG_MAGIC "SMBXLOG1"
#define MAILBOX_LOG_HEADER_SIZE 20
/* One log record's payload: a message with its longest name and keywords. */
#define MAILBOX_LOG_RECORD_MAX (128 + MAILBOX_FILE_NAME_MAX + MAILBOX_KEYWORDS_MAX)
/* Expunged UIDs remembered for QRESYNC. */
#define MAILBOX_VANISHED_MAX MAILBOX_MESSAGES_MAX

/* A directory's mtime as last scanned; sec 0 = unknown (scan again). */
struct mailbox_stamp {
	int64_t sec;
	uint32_t nsec;
};

struct mailbox_entry {
	struct mailbox_msg msg;                        /* first: mailbox_get() returns it */
	uint64_t cache_off[MAILBOX_CACHE_FIELD_COUNT]; /* record offset + 1, 0 = none */
	char *cache_val[MAILBOX_CACHE_FIELD_COUNT];    /* set in this process */
	uint8_t cache_ok;                              /* bit f: record verified */
	uint8_t seen;                                  /* scratch of sync */
	uint8_t dead;                                  /* removed, until compacted */
	uint16_t base_len;                             /* BASE of msg.file */
};

struct mailbox_vanished {
	uint32_t uid;
	uint64_t modseq;
};

struct mailbox_image {
	uint32_t generation, uidvalidity, uidnext, first_recent;
	uint64_t highestmodseq;
	uint64_t vanished_floor; /* expunges below this modseq are not known */
	struct mailbox_stamp cur, new;
	struct mailbox_entry *msgs;
	unsigned count, alloc;
	struct mailbox_vanished *vanished; /* ascending modseq */
	unsigned n_vanished, vanished_alloc;
};

/* A growable byte buffer. */
struct mailbox_buf {
	uint8_t *data;
	size_t len, size;
};
void mailbox_buf_put(struct mailbox_buf *b, const void *data, size_t len);
/* Makes room for MORE octets after B's content (one allocation instead of
 * doubling steps when the size is known roughly). */
void mailbox_buf_reserve(struct mailbox_buf *b, size_t more);
/* Rough sizes of an encoded index, for mailbox_buf_reserve(). */
#define MAILBOX_INDEX_HEADER_GUESS 128
#define MAILBOX_INDEX_MSG_GUESS 160 /* fixed fields, cache offsets, a usual name */
void mailbox_buf_free(struct mailbox_buf *b);

/* Log record types. */
enum mailbox_log_type {
	MAILBOX_LOG_NEW = 1,     /* a message: every field but the cache */
	MAILBOX_LOG_CHANGE = 2,  /* uid, flags, modseq, name, keywords */
	MAILBOX_LOG_EXPUNGE = 3, /* uid, modseq */
	MAILBOX_LOG_STATE = 4,   /* uidnext, first_recent, highestmodseq, stamps */
	MAILBOX_LOG_CACHE = 5,   /* uid, field, offset */
	MAILBOX_LOG_SIZE = 6,    /* uid, size, file_size: a size counted on first need */
	MAILBOX_LOG_DATE = 7,    /* uid, internaldate, tz: an mtime looked at on first need */
};

void mailbox_image_free(struct mailbox_image *img);
/* Empties IMG's messages and vanished list, keeps nothing else. */
void mailbox_image_clear(struct mailbox_image *img);
/* Appends a copy of MSG (strings copied) as the last message. */
struct mailbox_entry *mailbox_image_add(struct mailbox_image *img, const struct mailbox_msg *msg);
/* Marks message INDEX removed (dead), remembering it as vanished at
 * MODSEQ; mailbox_image_compact() then drops the dead ones at once, so a
 * thousand expunges cost one pass. */
void mailbox_image_remove(struct mailbox_image *img, unsigned index, uint64_t modseq);
void mailbox_image_compact(struct mailbox_image *img);
/* Binary search by UID: the index, or -1. */
int mailbox_image_find(const struct mailbox_image *img, uint32_t uid);
/* Replaces the name (and BASE length) of E; NAME must be valid. */
void mailbox_entry_set_file(struct mailbox_entry *e, const char *name);
void mailbox_entry_set_keywords(struct mailbox_entry *e, const char *keywords);
/* Frees the strings of E. */
void mailbox_entry_free(struct mailbox_entry *e);

/* The length of NAME's BASE: what comes before ":2," (all of it without). */
size_t mailbox_name_base_len(const char *name);
/* Whether NAME (LEN octets) may be a message file name of ours. */
int mailbox_name_valid(const char *name, size_t len);
/* Whether KW may be keywords (bounded, printable, no leading or double spaces needed). */
int mailbox_keywords_valid(const char *kw, size_t len);

/* Parses a whole index file into IMG (which must be zeroed). 0, or -1 with
 * *error_r (IMG then holds what it should be freed with). */
int mailbox_index_parse(const void *data, size_t len, struct mailbox_image *img,
                        const char **error_r);
/* Writes IMG as an index file into OUT (appended). */
void mailbox_index_encode(const struct mailbox_image *img, struct mailbox_buf *out);

/* Checks the log header: 0 when it belongs to UIDVALIDITY and GENERATION. */
int mailbox_log_header_check(const void *data, size_t len, uint32_t uidvalidity,
                             uint32_t generation);
void mailbox_log_header_encode(uint32_t uidvalidity, uint32_t generation, struct mailbox_buf *out);
/* Applies the records of DATA (after the header) to IMG, stopping at the
 * first torn, corrupt or inconsistent one. Returns how many octets were
 * good (the log continues there). */
size_t mailbox_log_apply(struct mailbox_image *img, const void *data, size_t len);

/* Record encoders: append one framed record to OUT. */
void mailbox_log_new(struct mailbox_buf *out, const struct mailbox_entry *e);
void mailbox_log_change(struct mailbox_buf *out, const struct mailbox_entry *e);
void mailbox_log_expunge(struct mailbox_buf *out, uint32_t uid, uint64_t modseq);
void mailbox_log_state(struct mailbox_buf *out, const struct mailbox_image *img);
void mailbox_log_cache(struct mailbox_buf *out, uint32_t uid, unsigned field, uint64_t off);
void mailbox_log_size(struct mailbox_buf *out, uint32_t uid, uint64_t size, uint64_t file_size);
void mailbox_log_date(struct mailbox_buf *out, uint32_t uid, int64_t internaldate, int32_t tz);
/* Whether SIZE (MAILBOX_SIZE_UNKNOWN, or with CRLF) fits FILE_SIZE (LF). */
int mailbox_sizes_consistent(uint64_t file_size, uint64_t size);

/* Little-endian u32 at P: the byte order of every sealmail.* file. */
void mailbox_le32_put(uint8_t *p, uint32_t v);
uint32_t mailbox_le32_get(const uint8_t *p);

#endif
