/*
 * mailbox_append.c: APPEND (a message from a file descriptor) and COPY (a
 * hard link into another folder), for the store role through mailbox.h.
 *
 * An appended message is written to tmp/ with LF line ends (as the queue
 * delivers), its mtime set to the internal date (so a rebuilt index keeps
 * it), fsynced, its UID reserved, renamed into cur/ under its final name
 * "BASE,U=uid,W=size:2,FLAGS", cur/ fsynced, then logged and the log
 * fsynced: stable before APPENDUID is answered. A failed commit takes the
 * message back (mailbox_rollback), so a NO is never followed by the
 * message; a failed COPY takes back every copy it made the same way.
 *
 * Fault points (lib/fault.h): store/append/write, store/append/fsync,
 * store/append/rename; those of its commit (store/append/dirsync,
 * logwrite, logsync) in mailbox.c.
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

/* The name in cur/ for a new message of MB with UID, sizes and flags. */
static int append_name(struct mailbox *mb, char name[MAILBOX_FILE_NAME_MAX + 1], uint32_t uid,
                       uint64_t file_size, uint64_t size, uint32_t flags, const char *old_name)
{
	char fresh[MAILBOX_FILE_NAME_MAX + 1], base[MAILBOX_FILE_NAME_MAX + 1];

	mailbox_name_fresh(fresh, sizeof(fresh), mb->hostname, file_size);
	if (mailbox_name_with_uid(base, sizeof(base), fresh, strlen(fresh), uid, size) < 0 ||
	    mailbox_name_make(name, base, strlen(base), flags, old_name) < 0 ||
	    !mailbox_name_valid(name, strlen(name)))
		return -1;
	return 0;
}

/* Writes SIZE octets of IN (CRLF) into a new file of tmp/ with LF line
 * ends and mtime MTIME, fsynced; its path into TMP. */
static int append_write_tmp(struct mailbox *mb, int in, uint64_t size, int64_t mtime,
                            char tmp[MAILBOX_PATH_MAX], uint64_t *file_size_r, uint64_t *vsize_r,
                            const char **error_r)
{
	char name[MAILBOX_FILE_NAME_MAX + 1];
	struct timespec times[2];
	int fd;

	mailbox_name_fresh(name, sizeof(name), mb->hostname, 0);
	if (mailbox_path(mb, tmp, "tmp", name) < 0 ||
	    (fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	if (mailbox_file_copy_lf(in, size, fd, file_size_r, vsize_r, error_r) < 0)
		goto fail;
	times[0].tv_sec = time(NULL);
	times[0].tv_nsec = 0;
	times[1].tv_sec = (time_t)mtime;
	times[1].tv_nsec = 0;
	if (futimens(fd, times) < 0 || FAULT("store/append/fsync") || fsync(fd) < 0) {
		*error_r = strerror(errno);
		goto fail;
	}
	if (close(fd) < 0) {
		*error_r = strerror(errno);
		unlink(tmp);
		return -1;
	}
	return 0;
fail:
	close(fd);
	unlink(tmp);
	return -1;
}

/* Adds the message M (its file already in cur/) to MB's index. */
static struct mailbox_entry *append_index(struct mailbox *mb, struct mailbox_msg *m)
{
	struct mailbox_entry *e;

	m->modseq = mailbox_next_modseq(mb);
	e = mailbox_image_add(&mb->img, m);
	mb->img.uidnext = m->uid + 1;
	mb->img.cur.sec = 0;
	mb->cur_dirty = 1;
	mailbox_log_new(&mb->pending, e);
	return e;
}

/* Checks what APPEND and COPY need of the destination. */
static int append_check(struct mailbox *mb, const char *keywords, const char **error_r)
{
	if (keywords != NULL && !mailbox_keywords_valid(keywords, strlen(keywords))) {
		*error_r = "keywords too long or invalid";
		return -1;
	}
	if (mb->img.count >= MAILBOX_MESSAGES_MAX || mb->img.uidnext == UINT32_MAX) {
		*error_r = "the folder is full";
		return -1;
	}
	return mailbox_reserve_uids(mb, mb->img.uidnext + 1, 0, error_r);
}

void mailbox_mark(const struct mailbox *mb, struct mailbox_mark *mark_r)
{
	mark_r->count = mb->img.count;
	mark_r->pending = mb->pending.len;
}

void mailbox_rollback(struct mailbox *mb, const struct mailbox_mark *mark)
{
	char path[MAILBOX_PATH_MAX];

	if (mb->pending.len > mark->pending)
		mb->pending.len = mark->pending;
	while (mb->img.count > mark->count) {
		struct mailbox_entry *e = &mb->img.msgs[mb->img.count - 1];
		if (mailbox_path(mb, path, "cur", e->msg.file) == 0 && unlink(path) < 0 &&
		    errno != ENOENT)
			log_error("event=store-error file=%s reason=\"undo append: %s\"", path,
			          strerror(errno));
		mailbox_entry_free(e);
		mb->img.count--;
		mb->cur_dirty = 1;
		mb->img.cur.sec = 0;
	}
}

int mailbox_append(struct mailbox *mb, int fd, uint64_t size, uint32_t flags, const char *keywords,
                   int64_t internaldate, int32_t tz_minutes, uint32_t *uid_r, const char **error_r)
{
	char tmp[MAILBOX_PATH_MAX], to[MAILBOX_PATH_MAX], name[MAILBOX_FILE_NAME_MAX + 1];
	uint64_t file_size, vsize;
	struct mailbox_msg m;
	struct mailbox_mark mark;
	int ret;

	if (append_check(mb, keywords, error_r) < 0)
		return -1;
	if (internaldate == 0) {
		internaldate = (int64_t)time(NULL);
		tz_minutes = mailbox_local_tz(internaldate);
	}
	if (append_write_tmp(mb, fd, size, internaldate, tmp, &file_size, &vsize, error_r) < 0)
		return -1;
	memset(&m, 0, sizeof(m));
	m.uid = mb->img.uidnext;
	m.flags = flags & MAILBOX_FLAGS_SETTABLE;
	if (append_name(mb, name, m.uid, file_size, vsize, m.flags, NULL) < 0 ||
	    mailbox_path(mb, to, "cur", name) < 0) {
		*error_r = "file name too long";
		unlink(tmp);
		return -1;
	}
	if (FAULT("store/append/rename") || rename(tmp, to) < 0) {
		*error_r = strerror(errno);
		unlink(tmp);
		return -1;
	}
	m.keywords = keywords != NULL ? keywords : "";
	m.internaldate = internaldate;
	m.tz_minutes = tz_minutes;
	m.size = vsize;
	m.file_size = file_size;
	m.file = name;
	mailbox_mark(mb, &mark);
	append_index(mb, &m);
	mb->appending = 1;
	ret = mailbox_flush(mb, error_r);
	mb->appending = 0;
	if (ret < 0) {
		/* taken back, so that the NO it gets is true */
		mailbox_rollback(mb, &mark);
		return -1;
	}
	*uid_r = m.uid;
	return 0;
}

/* Copies SRC_PATH's bytes into a new file of DST's tmp/ (when a hard link
 * cannot be made), then renames it to TO. */
static int copy_bytes(struct mailbox *dst, const char *src_path, const struct mailbox_msg *m,
                      const char *to, const char **error_r)
{
	char tmp[MAILBOX_PATH_MAX];
	uint64_t file_size, vsize;
	int in = open(src_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;

	if (in < 0 || fstat(in, &st) < 0) {
		*error_r = errno == ENOENT ? "the message file is gone" : strerror(errno);
		if (in >= 0)
			close(in);
		return -1;
	}
	/* the source has LF line ends already: nothing for copy_lf to change */
	if (append_write_tmp(dst, in, (uint64_t)st.st_size, m->internaldate, tmp, &file_size,
	                     &vsize, error_r) < 0) {
		close(in);
		return -1;
	}
	close(in);
	if (rename(tmp, to) < 0) {
		*error_r = strerror(errno);
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Gives the destination's copy the source's cached values. */
static void copy_cache(struct mailbox *src, unsigned index, struct mailbox *dst)
{
	unsigned f;

	for (f = 0; f < MAILBOX_CACHE_FIELD_COUNT; f++) {
		const char *v = mailbox_cache_get(src, index, (enum mailbox_cache_field)f);
		if (v != NULL)
			(void)mailbox_cache_set(dst, dst->img.count - 1,
			                        (enum mailbox_cache_field)f, v);
	}
}

int mailbox_copy(struct mailbox *src, unsigned index, struct mailbox *dst, uint32_t *uid_r,
                 const char **error_r)
{
	char from[MAILBOX_PATH_MAX], to[MAILBOX_PATH_MAX], name[MAILBOX_FILE_NAME_MAX + 1];
	struct mailbox_msg m;

	if (index >= src->img.count) {
		*error_r = "no such message";
		return -1;
	}
	if (append_check(dst, NULL, error_r) < 0)
		return -1;
	(void)mailbox_msg_size(src, index); /* counted now if it was not yet */
	(void)mailbox_msg_date(src, index, &m.tz_minutes); /* looked at now if not yet */
	m = src->img.msgs[index].msg;       /* by value: DST may be SRC, its array moves */
	m.uid = dst->img.uidnext;
	if (append_name(dst, name, m.uid, m.file_size, m.size, m.flags, m.file) < 0 ||
	    mailbox_path(src, from, "cur", m.file) < 0 || mailbox_path(dst, to, "cur", name) < 0) {
		*error_r = "file name too long";
		return -1;
	}
	if (link(from, to) < 0) {
		if (errno == ENOENT) {
			*error_r = "the message file is gone";
			return -1;
		}
		if (copy_bytes(dst, from, &m, to, error_r) < 0)
			return -1;
	}
	m.file = name;
	append_index(dst, &m);
	copy_cache(src, index, dst);
	*uid_r = m.uid;
	return 0;
}
