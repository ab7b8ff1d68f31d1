/*
 * mailbox.c: see mailbox.h. Opening, the accessors, flag changes,
 * expunges, and the durability of the index.
 *
 * Durability: a change is made on disk first (rename or unlink in cur/),
 * then written as a log record; mailbox_commit() fsyncs cur/ (and new/),
 * then writes and fsyncs the log. A crash between the two loses only the
 * record, and the next sync finds the change again in the file names. The
 * log is folded into a new index (written to a temporary file, fsynced,
 * renamed, directory fsynced) whose generation the emptied log then
 * carries; a log whose generation is not the index's is ignored, so a
 * crash between the rename and the truncation replays nothing twice.
 *
 * Fault points (lib/fault.h): store/append/dirsync (the fsync of cur/),
 * store/append/logwrite, store/append/logsync (in an APPEND's commit only,
 * so that a test can aim at it), store/flags/rename, store/compact/write
 * (the new index).
 */
#include "store/mailbox_private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/fault.h"
#include "lib/log.h"
#include "lib/util.h"

uint64_t mailbox_next_modseq(struct mailbox *mb)
{
	return ++mb->img.highestmodseq;
}

/* Creates DIR/cur, new and tmp when missing. */
static int mailbox_ensure_dirs(const char *dir, const char **error_r)
{
	static const char *const subdirs[] = {"cur", "new", "tmp"};
	char path[MAILBOX_PATH_MAX];
	size_t i;

	if (mkdir_p(dir, 0700) < 0 && errno != EEXIST) {
		*error_r = strerror(errno);
		return -1;
	}
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, subdirs[i]);
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			*error_r = strerror(errno);
			return -1;
		}
	}
	return 0;
}

/* Opens the log and applies what of it belongs to the index just read;
 * a log that does not is started again, a torn tail cut off. */
static int mailbox_load_log(struct mailbox *mb)
{
	char path[MAILBOX_PATH_MAX];
	struct mailbox_buf head = {NULL, 0, 0};
	size_t len = 0, good = 0;
	char *data;

	mailbox_path(mb, path, MAILBOX_LOG_FILE, NULL);
	if ((mb->log_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return -1;
	data = mailbox_read_whole(mb->log_fd, MAILBOX_INDEX_FILE_MAX, &len);
	if (data != NULL &&
	    mailbox_log_header_check(data, len, mb->img.uidvalidity, mb->img.generation) == 0)
		good = MAILBOX_LOG_HEADER_SIZE + mailbox_log_apply(&mb->img,
		                                                   data + MAILBOX_LOG_HEADER_SIZE,
		                                                   len - MAILBOX_LOG_HEADER_SIZE);
	free(data);
	if (good == 0) {
		mailbox_log_header_encode(mb->img.uidvalidity, mb->img.generation, &head);
		if (ftruncate(mb->log_fd, 0) < 0 ||
		    pwrite(mb->log_fd, head.data, head.len, 0) != (ssize_t)head.len) {
			mailbox_buf_free(&head);
			return -1;
		}
		good = head.len;
		mailbox_buf_free(&head);
	} else if (good < len && ftruncate(mb->log_fd, (off_t)good) < 0) {
		return -1;
	}
	mb->log_size = good;
	return lseek(mb->log_fd, (off_t)good, SEEK_SET) < 0 ? -1 : 0;
}

/* Reads the index and its log; -1 when they must be rebuilt. */
static int mailbox_load(struct mailbox *mb, const char **error_r)
{
	char path[MAILBOX_PATH_MAX], *data;
	uint32_t uidvalidity, reserved;
	int fd, have_uidv, ret;
	uint64_t modseq;
	size_t len;

	have_uidv = mailbox_uidv_read(mb->dir, &uidvalidity, &reserved, &modseq) == 0;
	mailbox_path(mb, path, MAILBOX_INDEX_FILE, NULL);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	data = mailbox_read_whole(fd, MAILBOX_INDEX_FILE_MAX, &len);
	close(fd);
	if (data == NULL)
		return -1;
	ret = mailbox_index_parse(data, len, &mb->img, error_r);
	free(data);
	mb->index_size = len;
	if (ret < 0 || (have_uidv && uidvalidity != mb->img.uidvalidity))
		return -1;
	mb->uid_reserved = have_uidv ? reserved : 0;
	mb->modseq_saved = have_uidv ? modseq : 0;
	if (mailbox_load_log(mb) < 0)
		return -1;
	return mailbox_reserve_uids(mb, mb->img.uidnext, !have_uidv, error_r);
}

/* A fresh log file for the current generation (after a rebuild): the old
 * one is emptied first, as its generation might be the new one's. */
static int mailbox_reset_log(struct mailbox *mb)
{
	char path[MAILBOX_PATH_MAX];

	if (mb->log_fd >= 0)
		close(mb->log_fd);
	mb->log_fd = -1;
	mailbox_path(mb, path, MAILBOX_LOG_FILE, NULL);
	if (truncate(path, 0) < 0 && errno != ENOENT)
		return -1;
	return mailbox_load_log(mb);
}

int mailbox_open(const char *dir, const char *hostname, struct mailbox **mb_r, const char **error_r)
{
	struct mailbox *mb;
	int rebuilt = 0;

	if (strlen(dir) >= MAILBOX_DIR_MAX) {
		*error_r = "folder path too long";
		return -1;
	}
	if (mailbox_ensure_dirs(dir, error_r) < 0)
		return -1;
	mb = xcalloc(1, sizeof(*mb));
	mb->dir = xstrdup(dir);
	mb->hostname = xstrdup(hostname);
	mb->log_fd = mb->cache_fd = -1;
	if (mailbox_load(mb, error_r) < 0) {
		rebuilt = 1;
		if (mailbox_rebuild(mb, error_r) < 0 || mailbox_compact(mb, error_r) < 0 ||
		    mailbox_reset_log(mb) < 0)
			goto fail;
	} else if (mailbox_sync_dirs(mb, mb->img.uidnext, error_r) < 0 ||
	           mailbox_flush(mb, error_r) < 0) {
		goto fail;
	}
	mailbox_cache_open(mb, rebuilt);
	*mb_r = mb;
	return 0;
fail:
	if (*error_r == NULL)
		*error_r = strerror(errno);
	mailbox_close(&mb);
	return -1;
}

void mailbox_close(struct mailbox **mbp)
{
	struct mailbox *mb = *mbp;
	const char *error;

	if (mb == NULL)
		return;
	*mbp = NULL;
	if (mb->log_fd >= 0)
		(void)mailbox_flush(mb, &error);
	if (mb->log_fd >= 0)
		close(mb->log_fd);
	mailbox_cache_close(mb);
	mailbox_image_free(&mb->img);
	mailbox_buf_free(&mb->pending);
	free(mb->dir);
	free(mb->hostname);
	free(mb);
}

int mailbox_sync(struct mailbox *mb, const char **error_r)
{
	int changes = mailbox_sync_dirs(mb, mb->img.uidnext, error_r);

	if (changes < 0 || mailbox_flush(mb, error_r) < 0)
		return -1;
	return changes;
}

unsigned mailbox_count(const struct mailbox *mb)
{
	return mb->img.count;
}

const struct mailbox_msg *mailbox_get(const struct mailbox *mb, unsigned index)
{
	return index < mb->img.count ? &mb->img.msgs[index].msg : NULL;
}

int mailbox_find(const struct mailbox *mb, uint32_t uid)
{
	return mailbox_image_find(&mb->img, uid);
}

uint32_t mailbox_uidvalidity(const struct mailbox *mb)
{
	return mb->img.uidvalidity;
}

uint32_t mailbox_uidnext(const struct mailbox *mb)
{
	return mb->img.uidnext;
}

uint64_t mailbox_highestmodseq(const struct mailbox *mb)
{
	return mb->img.highestmodseq;
}

uint32_t mailbox_first_recent(const struct mailbox *mb)
{
	return mb->img.first_recent;
}

void mailbox_claim_recent(struct mailbox *mb)
{
	if (mb->img.first_recent == mb->img.uidnext)
		return;
	mb->img.first_recent = mb->img.uidnext;
	mailbox_log_state(&mb->pending, &mb->img);
}

const char *mailbox_dir(const struct mailbox *mb)
{
	return mb->dir;
}

void mailbox_get_stats(const struct mailbox *mb, struct mailbox_stats *stats_r)
{
	*stats_r = mb->stats;
}

uint64_t mailbox_vanished_floor(const struct mailbox *mb)
{
	return mb->img.vanished_floor;
}

uint64_t mailbox_msg_size(struct mailbox *mb, unsigned index)
{
	struct mailbox_entry *e;
	uint64_t file_size, size;
	int fd;

	if (index >= mb->img.count)
		return 0;
	e = &mb->img.msgs[index];
	if (e->msg.size != MAILBOX_SIZE_UNKNOWN)
		return e->msg.size;
	if ((fd = mailbox_open_file(mb, index)) < 0)
		return e->msg.file_size;
	mb->stats.file_opens++;
	if (mailbox_file_sizes(fd, &file_size, &size) < 0) {
		close(fd);
		return e->msg.file_size;
	}
	close(fd);
	e->msg.size = size;
	e->msg.file_size = file_size;
	mailbox_log_size(&mb->pending, e->msg.uid, size, file_size);
	return size;
}

int64_t mailbox_msg_date(struct mailbox *mb, unsigned index, int32_t *tz_r)
{
	char path[MAILBOX_PATH_MAX];
	struct mailbox_entry *e;
	struct stat st;

	*tz_r = 0;
	if (index >= mb->img.count)
		return 0;
	e = &mb->img.msgs[index];
	if (e->msg.internaldate == MAILBOX_DATE_UNKNOWN) {
		mb->stats.file_stats++;
		if (mailbox_path(mb, path, "cur", e->msg.file) < 0 || stat(path, &st) < 0) {
			int64_t now = (int64_t)time(NULL);
			*tz_r = mailbox_local_tz(now);
			return now;
		}
		e->msg.internaldate = (int64_t)st.st_mtim.tv_sec;
		e->msg.tz_minutes = mailbox_local_tz(e->msg.internaldate);
		mailbox_log_date(&mb->pending, e->msg.uid, e->msg.internaldate, e->msg.tz_minutes);
	}
	*tz_r = e->msg.tz_minutes;
	return e->msg.internaldate;
}

/* The BASE of message E's next name into OUT: its own, with ",U=uid,W=size"
 * added when it has no ",U=" yet (a file found in cur/), so that a rebuild
 * keeps its UID from then on. Its length, or -1 when too long. */
static int mailbox_base_for(struct mailbox *mb, unsigned index, char out[MAILBOX_FILE_NAME_MAX + 1])
{
	struct mailbox_entry *e = &mb->img.msgs[index];
	uint64_t u, size;

	if (mailbox_name_field(e->msg.file, e->base_len, 'U', &u) == 0 && u == e->msg.uid) {
		memcpy(out, e->msg.file, e->base_len);
		return (int)e->base_len;
	}
	size = mailbox_msg_size(mb, index);
	e = &mb->img.msgs[index];
	if (mailbox_name_with_uid(out, MAILBOX_FILE_NAME_MAX + 1, e->msg.file, e->base_len,
	                          e->msg.uid, size) < 0)
		return -1;
	return (int)strlen(out);
}

/* Renames message INDEX's file for FLAGS. */
static int mailbox_rename_for(struct mailbox *mb, unsigned index, uint32_t flags,
                              const char **error_r)
{
	char name[MAILBOX_FILE_NAME_MAX + 1], from[MAILBOX_PATH_MAX], to[MAILBOX_PATH_MAX];
	char base[MAILBOX_FILE_NAME_MAX + 1];
	struct mailbox_entry *e = &mb->img.msgs[index];
	int blen = mailbox_base_for(mb, index, base);

	if (blen < 0 || mailbox_name_make(name, base, (size_t)blen, flags, e->msg.file) < 0) {
		*error_r = "file name too long";
		return -1;
	}
	mailbox_path(mb, from, "cur", e->msg.file);
	mailbox_path(mb, to, "cur", name);
	if (FAULT("store/flags/rename") || rename(from, to) < 0) {
		*error_r = errno == ENOENT ? "the message file is gone" : strerror(errno);
		return -1;
	}
	mb->cur_dirty = 1;
	mb->img.cur.sec = 0;
	mailbox_entry_set_file(e, name);
	return 0;
}

int mailbox_set_flags(struct mailbox *mb, unsigned index, uint32_t flags, const char *keywords,
                      const char **error_r)
{
	struct mailbox_entry *e;

	if (index >= mb->img.count) {
		*error_r = "no such message";
		return -1;
	}
	e = &mb->img.msgs[index];
	flags &= MAILBOX_FLAGS_SETTABLE;
	if (keywords == NULL)
		keywords = e->msg.keywords;
	if (!mailbox_keywords_valid(keywords, strlen(keywords))) {
		*error_r = "keywords too long or invalid";
		return -1;
	}
	if (flags == e->msg.flags && strcmp(keywords, e->msg.keywords) == 0)
		return 0;
	if (flags != e->msg.flags && mailbox_rename_for(mb, index, flags, error_r) < 0)
		return -1;
	e->msg.flags = flags;
	if (keywords != e->msg.keywords)
		mailbox_entry_set_keywords(e, keywords);
	e->msg.modseq = mailbox_next_modseq(mb);
	mailbox_log_change(&mb->pending, e);
	return 0;
}

/* Unlinks message INDEX and marks it removed (compaction is the caller's). */
static int mailbox_remove(struct mailbox *mb, unsigned index, const char **error_r)
{
	struct mailbox_entry *e = &mb->img.msgs[index];
	char path[MAILBOX_PATH_MAX];
	uint64_t modseq;

	mailbox_path(mb, path, "cur", e->msg.file);
	if (unlink(path) < 0 && errno != ENOENT) {
		*error_r = strerror(errno);
		return -1;
	}
	mb->cur_dirty = 1;
	mb->img.cur.sec = 0;
	modseq = mailbox_next_modseq(mb);
	mailbox_log_expunge(&mb->pending, e->msg.uid, modseq);
	mailbox_image_remove(&mb->img, index, modseq);
	return 0;
}

int mailbox_expunge(struct mailbox *mb, unsigned index, const char **error_r)
{
	int ret;

	if (index >= mb->img.count) {
		*error_r = "no such message";
		return -1;
	}
	ret = mailbox_remove(mb, index, error_r);
	mailbox_image_compact(&mb->img);
	return ret;
}

int mailbox_expunge_uids(struct mailbox *mb, const uint32_t *uids, unsigned n, const char **error_r)
{
	unsigned i;
	int done = 0;

	for (i = 0; i < n; i++) {
		int index = mailbox_image_find(&mb->img, uids[i]);
		if (index < 0)
			continue;
		if (mailbox_remove(mb, (unsigned)index, error_r) < 0) {
			mailbox_image_compact(&mb->img);
			return -1;
		}
		done++;
	}
	mailbox_image_compact(&mb->img);
	return done;
}

int mailbox_open_file(const struct mailbox *mb, unsigned index)
{
	char path[MAILBOX_PATH_MAX];

	if (index >= mb->img.count ||
	    mailbox_path(mb, path, "cur", mb->img.msgs[index].msg.file) < 0)
		return -1;
	return open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
}

static int vanished_uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

unsigned mailbox_vanished_since(const struct mailbox *mb, uint64_t modseq, uint32_t **uids_r)
{
	unsigned i, n = 0;
	uint32_t *uids;

	for (i = 0; i < mb->img.n_vanished; i++)
		n += mb->img.vanished[i].modseq > modseq;
	uids = xmalloc((n == 0 ? 1 : n) * sizeof(*uids));
	n = 0;
	for (i = 0; i < mb->img.n_vanished; i++)
		if (mb->img.vanished[i].modseq > modseq)
			uids[n++] = mb->img.vanished[i].uid;
	qsort(uids, n, sizeof(*uids), vanished_uid_cmp);
	*uids_r = uids;
	return n;
}

/* fsync of the directories our renames and unlinks touched. */
static int mailbox_sync_dirs_to_disk(struct mailbox *mb, const char **error_r)
{
	char path[MAILBOX_PATH_MAX];

	if (mb->cur_dirty) {
		mailbox_path(mb, path, "cur", NULL);
		if ((mb->appending && FAULT("store/append/dirsync")) || fsync_dir(path) < 0) {
			*error_r = strerror(errno);
			return -1;
		}
		mb->cur_dirty = 0;
	}
	if (mb->new_dirty) {
		mailbox_path(mb, path, "new", NULL);
		if (fsync_dir(path) < 0) {
			*error_r = strerror(errno);
			return -1;
		}
		mb->new_dirty = 0;
	}
	return 0;
}

int mailbox_flush(struct mailbox *mb, const char **error_r)
{
	const char *why;

	if (mailbox_sync_dirs_to_disk(mb, error_r) < 0)
		return -1;
	if (mb->log_broken)
		return mailbox_compact(mb, error_r);
	if (mb->pending.len > 0) {
		if ((mb->appending && FAULT("store/append/logwrite")) ||
		    write_all(mb->log_fd, mb->pending.data, mb->pending.len) < 0 ||
		    (mb->appending && FAULT("store/append/logsync")) || fdatasync(mb->log_fd) < 0) {
			*error_r = strerror(errno);
			/* what was not written is found again by the next sync */
			if (ftruncate(mb->log_fd, (off_t)mb->log_size) < 0)
				mb->log_broken = 1; /* the next commit rewrites the index */
			(void)lseek(mb->log_fd, (off_t)mb->log_size, SEEK_SET);
			mb->pending.len = 0;
			return -1;
		}
		mb->log_size += mb->pending.len;
		mb->pending.len = 0;
	}
	/* the changes are stable in the log now: a failed compaction does not
	 * undo that (the next commit compacts again, log_broken) */
	if ((mb->log_size > MAILBOX_LOG_COMPACT_MAX ||
	     (mb->log_size > MAILBOX_LOG_COMPACT_MIN && mb->log_size > mb->index_size)) &&
	    mailbox_compact(mb, &why) < 0)
		log_error("event=store-error folder=%s reason=\"compaction: %s\"", mb->dir, why);
	return 0;
}

int mailbox_commit(struct mailbox *mb, const char **error_r)
{
	return mailbox_flush(mb, error_r);
}

/* Writes BUF as DIR/NAME stably: temporary file, fsync, rename, fsync DIR. */
static int mailbox_write_stable(struct mailbox *mb, const char *name, const struct mailbox_buf *buf,
                                const char **error_r)
{
	char path[MAILBOX_PATH_MAX], tmp[MAILBOX_PATH_MAX + 8];
	int fd;

	mailbox_path(mb, path, name, NULL);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, buf->data, buf->len) < 0 || fsync(fd) < 0) {
		*error_r = strerror(errno);
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) < 0 || fsync_dir(mb->dir) < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	return 0;
}

int mailbox_compact(struct mailbox *mb, const char **error_r)
{
	struct mailbox_buf buf = {NULL, 0, 0};
	int fault;

	if (mailbox_sync_dirs_to_disk(mb, error_r) < 0)
		return -1;
	/* from here until the emptied log is stable, what is on disk may be
	 * a new index with the old log: nothing may be logged before a
	 * compaction succeeds (records after an ignored header are lost) */
	mb->log_broken = 1;
	mb->img.generation++;
	mailbox_index_encode(&mb->img, &buf);
	fault = FAULT("store/compact/write");
	if (fault)
		*error_r = strerror(errno);
	if (fault || mailbox_write_stable(mb, MAILBOX_INDEX_FILE, &buf, error_r) < 0) {
		mailbox_buf_free(&buf);
		return -1;
	}
	mb->index_size = buf.len;
	buf.len = 0;
	mb->pending.len = 0;
	if (mb->log_fd >= 0) {
		mailbox_log_header_encode(mb->img.uidvalidity, mb->img.generation, &buf);
		if (ftruncate(mb->log_fd, 0) < 0 ||
		    pwrite(mb->log_fd, buf.data, buf.len, 0) != (ssize_t)buf.len ||
		    lseek(mb->log_fd, (off_t)buf.len, SEEK_SET) < 0 || fdatasync(mb->log_fd) < 0) {
			*error_r = strerror(errno);
			mailbox_buf_free(&buf);
			return -1;
		}
		mb->log_size = buf.len;
	}
	mailbox_buf_free(&buf);
	mb->log_broken = 0;
	return mailbox_reserve_uids(mb, mb->img.uidnext, 1, error_r);
}
