/*
 * mailbox_sync.c: brings the index in line with new/ and cur/, and builds
 * it afresh from them.
 *
 * A directory is read only when its mtime differs from the one stored at
 * the last scan. A stored mtime is trusted only when it is older than the
 * clock tick the scan began in: a file added in that same tick would leave
 * the mtime as it was, so such a stamp is stored as "unknown" and the next
 * sync reads the directory again. Our own renames into cur/ make its stamp
 * unknown too (another tool may have written in the same tick).
 *
 * Files are matched to the index by BASE (the name before ":2,"), so a
 * flag change by mutt keeps the UID. A file unknown to the index gets a
 * UID: the one of its ",U=" field when that UID was reserved but is not in
 * the index (our rename whose log record a crash lost), else the next one.
 * A new/ file moves to cur/ renamed to carry ",U=uid,W=size"; a cur/ file
 * keeps its name (renaming 100,000 files of a folder opened for the first
 * time cost seconds), so its UID lives in the index until a flag change
 * renames it, and its CRLF size is counted when first asked for.
 * Order: the UIDs are reserved in the uidvalidity file (fsynced) before
 * any rename names them; the log records follow the renames; commit
 * fsyncs cur/ before the log.
 */
#include "store/mailbox_private.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/hash.h"
#include "lib/util.h"

/* A file the index does not know yet. */
struct sync_file {
	char *name;
	size_t blen;     /* mailbox_name_base_len(name), found once */
	uint64_t key[2]; /* name's first 16 octets, big-endian (NUL-padded): most
	                    comparisons of the sort by name end there */
	int from_new;
	uint32_t uid;
	uint64_t file_size, size;
	int64_t mtime;
	int moved; /* renamed by us */
};

struct sync_files {
	struct sync_file *v;
	unsigned n, alloc;
};

/* Index entries by BASE, for one scan of cur/. */
struct base_table {
	int32_t *slot; /* entry index, -1 empty */
	size_t mask;
};

/* The first 16 octets of NAME as two big-endian numbers, zeros after its
 * end: they compare as strcmp() compares those octets. */
static void sync_name_key(const char *name, uint64_t key[2])
{
	unsigned i;
	int end = 0;

	key[0] = key[1] = 0;
	for (i = 0; i < 16; i++) {
		unsigned char c = end ? 0 : (unsigned char)name[i];
		end |= c == 0;
		key[i / 8] = key[i / 8] << 8 | c;
	}
}

static void sync_files_add(struct sync_files *files, const char *name, size_t blen,
                           int from_new)
{
	if (files->n == files->alloc) {
		files->alloc = files->alloc < 64 ? 64 : files->alloc * 2;
		files->v = xrealloc(files->v, files->alloc * sizeof(*files->v));
	}
	memset(&files->v[files->n], 0, sizeof(files->v[0]));
	files->v[files->n].name = xstrdup(name);
	files->v[files->n].blen = blen;
	sync_name_key(name, files->v[files->n].key);
	files->v[files->n].from_new = from_new;
	files->n++;
}

static void sync_files_free(struct sync_files *files)
{
	unsigned i;

	for (i = 0; i < files->n; i++)
		free(files->v[i].name);
	free(files->v);
}

static int stamp_equal(const struct mailbox_stamp *s, const struct stat *st)
{
	return s->sec != 0 && s->sec == (int64_t)st->st_mtim.tv_sec &&
	       s->nsec == (uint32_t)st->st_mtim.tv_nsec;
}

/* The stamp to keep for ST, scanned in the tick T0: unknown unless older. */
static struct mailbox_stamp stamp_for(const struct stat *st, const struct timespec *t0)
{
	struct mailbox_stamp s = {0, 0};

	if (st->st_mtim.tv_sec < t0->tv_sec ||
	    (st->st_mtim.tv_sec == t0->tv_sec && st->st_mtim.tv_nsec < t0->tv_nsec)) {
		s.sec = (int64_t)st->st_mtim.tv_sec;
		s.nsec = (uint32_t)st->st_mtim.tv_nsec;
	}
	return s;
}

static void base_table_build(struct base_table *t, const struct mailbox_image *img)
{
	size_t size = 16, i;

	while (size < (size_t)img->count * 2)
		size *= 2;
	t->slot = xmalloc(size * sizeof(*t->slot));
	memset(t->slot, 0xff, size * sizeof(*t->slot));
	t->mask = size - 1;
	for (i = 0; i < img->count; i++) {
		const struct mailbox_entry *e = &img->msgs[i];
		size_t h = (size_t)hash_bytes(0, e->msg.file, e->base_len) & t->mask;
		while (t->slot[h] >= 0)
			h = (h + 1) & t->mask;
		t->slot[h] = (int32_t)i;
	}
}

/* The unmatched entry whose BASE is NAME's, or -1. */
static int base_table_find(const struct base_table *t, const struct mailbox_image *img,
                           const char *name, size_t len)
{
	size_t h = (size_t)hash_bytes(0, name, len) & t->mask;

	for (; t->slot[h] >= 0; h = (h + 1) & t->mask) {
		const struct mailbox_entry *e = &img->msgs[t->slot[h]];
		if (e->base_len == len && !e->seen && memcmp(e->msg.file, name, len) == 0)
			return t->slot[h];
	}
	return -1;
}

/* A file of cur/ that matched entry E: takes its name and flags. */
static int sync_take_name(struct mailbox *mb, struct mailbox_entry *e, const char *name)
{
	uint32_t flags = mailbox_name_flags(name);

	if (strcmp(e->msg.file, name) == 0)
		return 0;
	if (flags != e->msg.flags) {
		e->msg.flags = flags;
		e->msg.modseq = mailbox_next_modseq(mb);
	}
	mailbox_entry_set_file(e, name);
	mailbox_log_change(&mb->pending, e);
	return 1;
}

/* Calls FN on each entry name of DIR/SUB (not dot files). */
static int sync_readdir(struct mailbox *mb, const char *sub,
                        void (*fn)(struct mailbox *, const char *, void *), void *ctx,
                        const char **error_r)
{
	char path[MAILBOX_PATH_MAX];
	struct dirent *de;
	DIR *d;

	mailbox_path(mb, path, sub, NULL);
	if ((d = opendir(path)) == NULL) {
		*error_r = strerror(errno);
		return -1;
	}
	mb->stats.dir_scans++;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (de->d_name[0] == '.' || !mailbox_name_valid(de->d_name, len))
			continue;
		fn(mb, de->d_name, ctx);
	}
	closedir(d);
	return 0;
}

struct cur_scan {
	struct base_table table;
	struct sync_files *files;
	int changes;
};

static void sync_cur_one(struct mailbox *mb, const char *name, void *ctx)
{
	struct cur_scan *scan = ctx;
	size_t blen = mailbox_name_base_len(name);
	int i = base_table_find(&scan->table, &mb->img, name, blen);

	if (i < 0) {
		sync_files_add(scan->files, name, blen, 0);
		return;
	}
	mb->img.msgs[i].seen = 1;
	scan->changes += sync_take_name(mb, &mb->img.msgs[i], name);
}

static void sync_new_one(struct mailbox *mb, const char *name, void *ctx)
{
	sync_files_add(ctx, name, mailbox_name_base_len(name), 1);
}

/* Reads cur/: matches, flag changes, expunges; unknown files into FILES. */
static int sync_scan_cur(struct mailbox *mb, struct sync_files *files, const char **error_r)
{
	struct cur_scan scan = {{NULL, 0}, files, 0};
	unsigned i;

	base_table_build(&scan.table, &mb->img);
	for (i = 0; i < mb->img.count; i++)
		mb->img.msgs[i].seen = 0;
	if (sync_readdir(mb, "cur", sync_cur_one, &scan, error_r) < 0) {
		free(scan.table.slot);
		return -1;
	}
	free(scan.table.slot);
	for (i = 0; i < mb->img.count; i++) {
		uint64_t modseq;
		if (mb->img.msgs[i].seen)
			continue;
		modseq = mailbox_next_modseq(mb);
		mailbox_log_expunge(&mb->pending, mb->img.msgs[i].msg.uid, modseq);
		mailbox_image_remove(&mb->img, i, modseq);
		scan.changes++;
	}
	mailbox_image_compact(&mb->img);
	return scan.changes;
}

/* First sight of F in cur/: its file size from a ",S=" field (the mtime,
 * its internal date, then looked at on first need: a folder of 100,000
 * files opens without 100,000 stats), else one stat for size and mtime;
 * the CRLF size from a ",W=" field that fits, else counted on first need. */
static int sync_look_cur(struct mailbox *mb, struct sync_file *f)
{
	char path[MAILBOX_PATH_MAX];
	size_t blen = f->blen;
	struct stat st;
	uint64_t w, s;

	if (mailbox_name_field(f->name, blen, 'S', &s) == 0 && s != MAILBOX_SIZE_UNKNOWN) {
		f->file_size = s;
		f->mtime = MAILBOX_DATE_UNKNOWN;
	} else {
		mb->stats.file_stats++;
		if (mailbox_path(mb, path, "cur", f->name) < 0 || stat(path, &st) < 0 ||
		    !S_ISREG(st.st_mode))
			return -1;
		f->file_size = (uint64_t)st.st_size;
		f->mtime = (int64_t)st.st_mtim.tv_sec;
	}
	f->size = MAILBOX_SIZE_UNKNOWN;
	if (mailbox_name_field(f->name, blen, 'W', &w) == 0 && w != MAILBOX_SIZE_UNKNOWN &&
	    mailbox_sizes_consistent(f->file_size, w))
		f->size = w;
	return 0;
}

/* First sight of F: its sizes and mtime. A file of new/ is read (it is
 * renamed with its CRLF size); one of cur/ is only looked at. -1 when it
 * is gone. */
static int sync_look(struct mailbox *mb, struct sync_file *f)
{
	char path[MAILBOX_PATH_MAX];
	struct stat st;
	int fd;

	if (!f->from_new)
		return sync_look_cur(mb, f);
	if (mailbox_path(mb, path, "new", f->name) < 0)
		return -1;
	mb->stats.file_opens++;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    mailbox_file_sizes(fd, &f->file_size, &f->size) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	f->mtime = (int64_t)st.st_mtim.tv_sec;
	return 0;
}

static int sync_file_cmp_name(const void *a, const void *b)
{
	const struct sync_file *x = a, *y = b;

	if (x->key[0] != y->key[0])
		return x->key[0] < y->key[0] ? -1 : 1;
	if (x->key[1] != y->key[1])
		return x->key[1] < y->key[1] ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int sync_file_cmp_uid(const void *a, const void *b)
{
	uint32_t x = ((const struct sync_file *const *)a)[0]->uid;
	uint32_t y = ((const struct sync_file *const *)b)[0]->uid;
	return x < y ? -1 : x > y;
}

static int entry_cmp_uid(const void *a, const void *b)
{
	uint32_t x = ((const struct mailbox_entry *)a)->msg.uid;
	uint32_t y = ((const struct mailbox_entry *)b)->msg.uid;
	return x < y ? -1 : x > y;
}

/* Gives the files of cur/ whose ",U=" may be kept that UID (FLOOR: see
 * mailbox_sync_dirs); the first of duplicates wins. */
static void sync_keep_uids(struct mailbox *mb, struct sync_files *files, uint32_t floor)
{
	struct sync_file **keep = xcalloc(files->n + 1, sizeof(*keep));
	unsigned i, n = 0;

	for (i = 0; i < files->n; i++) {
		struct sync_file *f = &files->v[i];
		uint64_t u;
		if (f->from_new ||
		    mailbox_name_field(f->name, f->blen, 'U', &u) < 0)
			continue;
		if (u < floor || u >= mb->uid_reserved ||
		    mailbox_image_find(&mb->img, (uint32_t)u) >= 0)
			continue;
		f->uid = (uint32_t)u;
		keep[n++] = f;
	}
	qsort(keep, n, sizeof(*keep), sync_file_cmp_uid);
	for (i = 1; i < n; i++)
		if (keep[i]->uid == keep[i - 1]->uid)
			keep[i]->uid = 0;
	free(keep);
}

/* Moves F from new/ to its name in cur/ for its UID into NAME. */
static int sync_move_new(struct mailbox *mb, struct sync_file *f,
                         char name[MAILBOX_FILE_NAME_MAX + 1])
{
	char from[MAILBOX_PATH_MAX], to[MAILBOX_PATH_MAX], base[MAILBOX_FILE_NAME_MAX + 1];

	if (mailbox_name_with_uid(base, sizeof(base), f->name, f->blen,
	                          f->uid, f->size) < 0 ||
	    mailbox_name_make(name, base, strlen(base), mailbox_name_flags(f->name), f->name) < 0)
		return -1; /* a foreign name too long to carry its UID: left alone */
	mailbox_path(mb, from, "new", f->name);
	mailbox_path(mb, to, "cur", name);
	if (rename(from, to) < 0)
		return -1;
	f->moved = 1;
	mb->cur_dirty = 1;
	mb->new_dirty = 1;
	return 0;
}

/* Adds F to the index: a file of new/ moved to cur/ with ",U=" in its
 * name, one of cur/ under its name (its UID in the index only). */
static int sync_place(struct mailbox *mb, struct sync_file *f)
{
	char name[MAILBOX_FILE_NAME_MAX + 1];
	uint32_t flags = mailbox_name_flags(f->name);
	struct mailbox_msg m;

	if (f->from_new) {
		if (sync_move_new(mb, f, name) < 0)
			return -1;
	} else {
		strlcpy_checked(name, f->name, sizeof(name));
	}
	memset(&m, 0, sizeof(m));
	m.uid = f->uid;
	m.flags = flags;
	m.keywords = "";
	m.modseq = mailbox_next_modseq(mb);
	m.internaldate = f->mtime;
	m.tz_minutes = f->mtime == MAILBOX_DATE_UNKNOWN ? 0 : mailbox_local_tz(f->mtime);
	m.size = f->size;
	m.file_size = f->file_size;
	m.file = name;
	if (mb->rebuilding)
		(void)mailbox_image_add(&mb->img, &m); /* the compaction writes them */
	else
		mailbox_log_new(&mb->pending, mailbox_image_add(&mb->img, &m));
	return 0;
}

/* Gives FILES UIDs and places them; returns how many were added. */
static int sync_add_files(struct mailbox *mb, struct sync_files *files, uint32_t floor,
                          const char **error_r)
{
	uint32_t need = mb->img.uidnext, max_kept = 0;
	unsigned i, added = 0;

	if (files->n == 0)
		return 0;
	qsort(files->v, files->n, sizeof(*files->v), sync_file_cmp_name);
	sync_keep_uids(mb, files, floor);
	for (i = 0; i < files->n; i++) {
		if (files->v[i].uid == 0 && mb->img.count + i >= MAILBOX_MESSAGES_MAX)
			break;
		if (files->v[i].uid == 0)
			files->v[i].uid = need++;
		else if (files->v[i].uid > max_kept)
			max_kept = files->v[i].uid;
	}
	if (mailbox_reserve_uids(mb, need > max_kept ? need : max_kept + 1, 0, error_r) < 0)
		return -1;
	for (i = 0; i < files->n; i++) {
		if (files->v[i].uid == 0 || sync_look(mb, &files->v[i]) < 0 ||
		    sync_place(mb, &files->v[i]) < 0)
			continue;
		added++;
	}
	if (max_kept >= need)
		need = max_kept + 1;
	mb->img.uidnext = need > mb->img.uidnext ? need : mb->img.uidnext;
	for (i = 1; i < mb->img.count && mb->img.msgs[i - 1].msg.uid < mb->img.msgs[i].msg.uid; i++)
		;
	if (i < mb->img.count) /* new UIDs follow the names: usually in order already */
		qsort(mb->img.msgs, mb->img.count, sizeof(*mb->img.msgs), entry_cmp_uid);
	return (int)added;
}

/* Reads the directories whose stamps changed; returns how many changes. */
static int sync_scan(struct mailbox *mb, uint32_t floor, const struct stat *st_cur,
                     const struct stat *st_new, const struct timespec *t0, const char **error_r)
{
	int scan_cur = !stamp_equal(&mb->img.cur, st_cur);
	int scan_new = !stamp_equal(&mb->img.new, st_new);
	struct sync_files files = {NULL, 0, 0};
	int changes = 0, added, moved_cur = 0, moved_new = 0;
	unsigned i;

	if (scan_cur && (changes = sync_scan_cur(mb, &files, error_r)) < 0)
		goto fail;
	if (scan_new && sync_readdir(mb, "new", sync_new_one, &files, error_r) < 0)
		goto fail;
	if ((added = sync_add_files(mb, &files, floor, error_r)) < 0)
		goto fail;
	changes += added;
	for (i = 0; i < files.n; i++) {
		moved_cur |= files.v[i].moved;
		moved_new |= files.v[i].moved && files.v[i].from_new;
	}
	if (scan_cur)
		mb->img.cur = stamp_for(st_cur, t0);
	if (scan_new)
		mb->img.new = stamp_for(st_new, t0);
	if (moved_cur)
		mb->img.cur.sec = 0;
	if (moved_new)
		mb->img.new.sec = 0;
	mailbox_log_state(&mb->pending, &mb->img);
	sync_files_free(&files);
	return changes;
fail:
	sync_files_free(&files);
	return -1;
}

int mailbox_sync_dirs(struct mailbox *mb, uint32_t floor, const char **error_r)
{
	char cur[MAILBOX_PATH_MAX], new[MAILBOX_PATH_MAX];
	struct stat st_cur, st_new;
	struct timespec t0;

	clock_gettime(CLOCK_REALTIME_COARSE, &t0);
	mailbox_path(mb, cur, "cur", NULL);
	mailbox_path(mb, new, "new", NULL);
	if (stat(cur, &st_cur) < 0 || stat(new, &st_new) < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	if (stamp_equal(&mb->img.cur, &st_cur) && stamp_equal(&mb->img.new, &st_new))
		return 0;
	return sync_scan(mb, floor, &st_cur, &st_new, &t0, error_r);
}

int mailbox_rebuild(struct mailbox *mb, const char **error_r)
{
	uint32_t uidvalidity, reserved, floor = 1, generation = mb->img.generation + 1;
	uint64_t modseq;
	int ret;

	mailbox_image_free(&mb->img);
	mb->stats.rebuilds++;
	if (mailbox_uidv_read(mb->dir, &uidvalidity, &reserved, &modseq) < 0) {
		uidvalidity = (uint32_t)time(NULL);
		reserved = 1;
		modseq = 0;
		floor = UINT32_MAX; /* a new UIDVALIDITY: no old UID is kept */
	} else {
		modseq += MAILBOX_MODSEQ_REBUILD_JUMP;
	}
	mb->img.generation = generation;
	mb->img.uidvalidity = uidvalidity;
	mb->img.uidnext = mb->img.first_recent = reserved;
	mb->img.highestmodseq = modseq;
	mb->img.vanished_floor = floor == 1 ? modseq + 1 : 0;
	mb->uid_reserved = reserved;
	if (mailbox_reserve_uids(mb, reserved, 1, error_r) < 0)
		return -1;
	mb->pending.len = 0;
	mb->rebuilding = 1;
	ret = mailbox_sync_dirs(mb, floor, error_r);
	mb->rebuilding = 0;
	return ret;
}
