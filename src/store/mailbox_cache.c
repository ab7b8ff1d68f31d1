/*
 * mailbox_cache.c: sealmail.cache, what the store role computed once per
 * message (ENVELOPE, BODYSTRUCTURE, BODY, the header block, common
 * fields), so that a FETCH or a header SEARCH of a large folder opens no
 * message file. Filled on first use by mailbox_cache_set().
 *
 * The file is "SMBXCAC1", u32 uidvalidity, u32 crc; then records u32 len
 * (of the value with its NUL), u32 crc (of uid, field and value), u32
 * uid, u8 field, 3 octets of padding, the value. The index keeps each
 * message's record offsets. Records are written without fsync: a record
 * lost or torn by a crash fails its check and is computed again; the
 * file is mapped at open, values set since are kept in memory.
 */
#include "store/mailbox_private.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/crc32c.h"
#include "lib/util.h"

#define CACHE_MAGIC "SMBXCAC1"
#define CACHE_HEADER_SIZE 16
#define CACHE_RECORD_HEAD 16
/* The largest cache file mapped. */
#define CACHE_FILE_MAX ((uint64_t)1 << 40)

/* The record's CRC: over uid, field and the value. */
static uint32_t cache_crc(const uint8_t *head, const void *value, size_t len)
{
	return crc32c(crc32c(0, head + 8, 8), value, len);
}

/* Starts the file afresh with its header. */
static int cache_reset(struct mailbox *mb)
{
	uint8_t head[CACHE_HEADER_SIZE];

	memcpy(head, CACHE_MAGIC, 8);
	mailbox_le32_put(head + 8, mb->img.uidvalidity);
	mailbox_le32_put(head + 12, crc32c(0, head, 12));
	if (ftruncate(mb->cache_fd, 0) < 0 ||
	    pwrite(mb->cache_fd, head, sizeof(head), 0) != (ssize_t)sizeof(head))
		return -1;
	mb->cache_end = CACHE_HEADER_SIZE;
	return 0;
}

/* Whether the mapped header belongs to this folder. */
static int cache_header_ok(const struct mailbox *mb, const uint8_t *p, size_t len)
{
	return len >= CACHE_HEADER_SIZE && memcmp(p, CACHE_MAGIC, 8) == 0 &&
	       mailbox_le32_get(p + 8) == mb->img.uidvalidity &&
	       mailbox_le32_get(p + 12) == crc32c(0, p, 12);
}

int mailbox_cache_open(struct mailbox *mb, int reset)
{
	char path[MAILBOX_PATH_MAX];
	struct stat st;
	void *map;

	mailbox_path(mb, path, MAILBOX_CACHE_FILE, NULL);
	if ((mb->cache_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return -1;
	if (reset || fstat(mb->cache_fd, &st) < 0 || st.st_size < CACHE_HEADER_SIZE ||
	    (uint64_t)st.st_size > CACHE_FILE_MAX)
		return cache_reset(mb);
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, mb->cache_fd, 0);
	if (map == MAP_FAILED)
		return cache_reset(mb);
	if (!cache_header_ok(mb, map, (size_t)st.st_size)) {
		munmap(map, (size_t)st.st_size);
		return cache_reset(mb);
	}
	mb->cache_map = map;
	mb->cache_map_len = (size_t)st.st_size;
	mb->cache_end = (uint64_t)st.st_size;
	return 0;
}

void mailbox_cache_close(struct mailbox *mb)
{
	if (mb->cache_map != NULL)
		munmap((void *)mb->cache_map, mb->cache_map_len);
	mb->cache_map = NULL;
	if (mb->cache_fd >= 0)
		close(mb->cache_fd);
	mb->cache_fd = -1;
}

/* The value of the record at OFF for UID and FIELD in the map, or NULL
 * when it is outside, torn or another's. */
static const char *cache_record(const struct mailbox *mb, uint64_t off, uint32_t uid,
                                unsigned field)
{
	const uint8_t *head;
	uint32_t len;

	if (mb->cache_map == NULL || off < CACHE_HEADER_SIZE ||
	    off > mb->cache_map_len - CACHE_RECORD_HEAD)
		return NULL;
	head = mb->cache_map + off;
	len = mailbox_le32_get(head);
	if (len == 0 || len > MAILBOX_CACHE_VALUE_MAX + 1 ||
	    len > mb->cache_map_len - off - CACHE_RECORD_HEAD)
		return NULL;
	if (mailbox_le32_get(head + 8) != uid || head[12] != field ||
	    head[CACHE_RECORD_HEAD + len - 1] != '\0' ||
	    memchr(head + CACHE_RECORD_HEAD, '\0', len - 1) != NULL ||
	    cache_crc(head, head + CACHE_RECORD_HEAD, len) != mailbox_le32_get(head + 4))
		return NULL;
	return (const char *)head + CACHE_RECORD_HEAD;
}

const char *mailbox_cache_get(const struct mailbox *mb, unsigned index, enum mailbox_cache_field f)
{
	struct mailbox_entry *e;
	const char *value;

	if (index >= mb->img.count || (unsigned)f >= MAILBOX_CACHE_FIELD_COUNT)
		return NULL;
	e = &mb->img.msgs[index];
	if (e->cache_val[f] != NULL)
		return e->cache_val[f];
	if (e->cache_off[f] == 0)
		return NULL;
	if (e->cache_ok & (1u << f))
		return (const char *)mb->cache_map + e->cache_off[f] - 1 + CACHE_RECORD_HEAD;
	value = cache_record(mb, e->cache_off[f] - 1, e->msg.uid, f);
	if (value == NULL)
		e->cache_off[f] = 0; /* computed and set again */
	else
		e->cache_ok |= (uint8_t)(1u << f);
	return value;
}

/* Appends VALUE's record to the file; its offset + 1, or 0 when not written. */
static uint64_t cache_write(struct mailbox *mb, uint32_t uid, unsigned f, const char *value,
                            size_t len)
{
	uint8_t *rec;
	uint64_t off = mb->cache_end;
	size_t total = CACHE_RECORD_HEAD + len + 1;

	if (mb->cache_fd < 0 || off + total > CACHE_FILE_MAX)
		return 0;
	rec = xcalloc(1, total);
	mailbox_le32_put(rec, (uint32_t)(len + 1));
	mailbox_le32_put(rec + 8, uid);
	rec[12] = (uint8_t)f;
	memcpy(rec + CACHE_RECORD_HEAD, value, len);
	mailbox_le32_put(rec + 4, cache_crc(rec, rec + CACHE_RECORD_HEAD, len + 1));
	if (pwrite(mb->cache_fd, rec, total, (off_t)off) != (ssize_t)total) {
		free(rec);
		return 0;
	}
	free(rec);
	mb->cache_end += total;
	return off + 1;
}

int mailbox_cache_set(struct mailbox *mb, unsigned index, enum mailbox_cache_field f,
                      const char *value)
{
	size_t len = strlen(value);
	struct mailbox_entry *e;
	uint64_t off;

	if (index >= mb->img.count || (unsigned)f >= MAILBOX_CACHE_FIELD_COUNT ||
	    len > MAILBOX_CACHE_VALUE_MAX)
		return -1;
	e = &mb->img.msgs[index];
	free(e->cache_val[f]);
	e->cache_val[f] = xstrdup(value);
	e->cache_ok &= (uint8_t) ~(1u << f);
	off = cache_write(mb, e->msg.uid, f, value, len);
	e->cache_off[f] = off;
	if (off != 0)
		mailbox_log_cache(&mb->pending, e->msg.uid, f, off);
	return 0;
}
