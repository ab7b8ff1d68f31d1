/*
 * test_mailbox.c: one Maildir folder and its index (src/store/mailbox*.c):
 * delivery as the queue does it, UIDs, flags in file names, other tools'
 * renames and drops, expunges and QRESYNC's vanished UIDs, reopening,
 * rebuilding, a log cut at every octet of its last record, a corrupt
 * index, APPEND's internal date, COPY as a hard link, the cache, and a
 * large folder opened without scanning.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define _XOPEN_SOURCE_EXTENDED 1
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/util.h"
#include "store/mailbox.h"
#include "store/mailbox_private.h"

#define HOST "test.example"

static char root[256];
static char folder[300];
static unsigned deliveries;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup(void **state)
{
	snprintf(root, sizeof(root), "%s/mbtest.XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(root));
	snprintf(folder, sizeof(folder), "%s/Maildir", root);
	deliveries = 0;
	return 0;
}

static int teardown(void **state)
{
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* Writes TEXT into DIR/SUB/NAME (via tmp/ for new/, as the queue does). */
static void put_file(const char *dir, const char *sub, const char *name, const char *text)
{
	char tmp[1024], path[1024];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s/tmp/%s", dir, name);
	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, text, strlen(text)), 0);
	close(fd);
	assert_int_equal(rename(tmp, path), 0);
}

/* Delivers TEXT into DIR/new/ under a queue-style name. */
static void deliver(const char *dir, const char *text)
{
	char name[256];

	snprintf(name, sizeof(name), "1700000000.M%06uP42Q%u.%s,S=%zu", deliveries, deliveries,
	         HOST, strlen(text));
	deliveries++;
	put_file(dir, "new", name, text);
}

static void make_maildir(const char *dir)
{
	char path[1024];

	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/tmp", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/new", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/cur", dir);
	mkdir(path, 0700);
}

static struct mailbox *open_ok(const char *dir)
{
	struct mailbox *mb = NULL;
	const char *error = NULL;

	if (mailbox_open(dir, HOST, &mb, &error) < 0)
		fail_msg("open: %s", error);
	return mb;
}

static unsigned count_dir(const char *dir, const char *sub)
{
	char path[1024];
	struct dirent *de;
	unsigned n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	assert_non_null(d = opendir(path));
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static char *slurp(const char *path, size_t *len_r)
{
	char *data = read_file(path, 1u << 30, len_r);
	assert_non_null(data);
	return data;
}

static void spit(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, data, len), 0);
	close(fd);
}

/* Sets the mtimes of cur/ and new/ AGO seconds back, as if time passed. */
static void age_dirs(const char *dir, int ago)
{
	struct timespec t[2];
	char path[1024];

	clock_gettime(CLOCK_REALTIME, &t[0]);
	t[0].tv_sec -= ago;
	t[1] = t[0];
	snprintf(path, sizeof(path), "%s/cur", dir);
	assert_int_equal(utimensat(AT_FDCWD, path, t, 0), 0);
	snprintf(path, sizeof(path), "%s/new", dir);
	assert_int_equal(utimensat(AT_FDCWD, path, t, 0), 0);
}

static void test_names(void **state)
{
	char out[MAILBOX_FILE_NAME_MAX + 1];
	uint64_t v;

	assert_int_equal(
	    mailbox_name_make(out, "b", 1,
	                      MAILBOX_FLAG_SEEN | MAILBOX_FLAG_DRAFT | MAILBOX_FLAG_DELETED,
	                      "b:2,Pa"),
	    0);
	assert_string_equal(out, "b:2,DPSTa");
	assert_int_equal(mailbox_name_flags("x:2,DFPRST"),
	                 MAILBOX_FLAG_DRAFT | MAILBOX_FLAG_FLAGGED | MAILBOX_FLAG_ANSWERED |
	                     MAILBOX_FLAG_SEEN | MAILBOX_FLAG_DELETED);
	assert_int_equal(mailbox_name_flags("x"), 0);
	assert_int_equal(mailbox_name_with_uid(out, sizeof(out), "a,S=5,U=3,W=9", 13, 7, 11), 0);
	assert_string_equal(out, "a,S=5,U=7,W=11");
	assert_int_equal(mailbox_name_field("a,S=5,U=7", 9, 'U', &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(mailbox_name_field("a,S=5,U=7x", 10, 'U', &v), -1);
	assert_int_equal(mailbox_name_base_len("abc:2,S"), 3);
	assert_false(mailbox_name_valid(".hidden", 7));
	assert_false(mailbox_name_valid("a/b", 3));
}

static void test_deliver_and_sync(void **state)
{
	struct mailbox *mb;
	const struct mailbox_msg *m;

	make_maildir(folder);
	deliver(folder, "Subject: one\n\nbody\n");
	deliver(folder, "Subject: two\n\nbody\r\nmore\n");
	mb = open_ok(folder);
	assert_int_equal(mailbox_count(mb), 2);
	assert_true(mailbox_uidvalidity(mb) != 0);
	assert_int_equal(mailbox_uidnext(mb), 3);
	m = mailbox_get(mb, 0);
	assert_int_equal(m->uid, 1);
	assert_int_equal(m->file_size, 19);
	assert_int_equal(m->size, 19 + 3);
	assert_non_null(strstr(m->file, ",U=1,W=22:2,"));
	m = mailbox_get(mb, 1);
	assert_int_equal(m->size, m->file_size + 3); /* the CRLF is not counted twice */
	assert_int_equal(count_dir(folder, "new"), 0);
	assert_int_equal(count_dir(folder, "cur"), 2);
	assert_int_equal(mailbox_find(mb, 2), 1);
	assert_int_equal(mailbox_find(mb, 3), -1);
	assert_int_equal(mailbox_first_recent(mb), 1);
	mailbox_claim_recent(mb);
	assert_int_equal(mailbox_first_recent(mb), 3);
	deliver(folder, "Subject: three\n\n");
	assert_int_equal(mailbox_sync(mb, &(const char *){NULL}), 1);
	assert_int_equal(mailbox_get(mb, 2)->uid, 3);
	mailbox_close(&mb);
	assert_null(mb);
}

static void test_flags_round_trip(void **state)
{
	struct mailbox *mb;
	const char *error = NULL;
	char path[1024];
	uint64_t modseq;

	make_maildir(folder);
	deliver(folder, "a\n");
	mb = open_ok(folder);
	modseq = mailbox_highestmodseq(mb);
	assert_int_equal(mailbox_set_flags(
	                     mb, 0, MAILBOX_FLAG_SEEN | MAILBOX_FLAG_FLAGGED | MAILBOX_FLAG_DELETED,
	                     "$Junk work", &error),
	                 0);
	assert_true(mailbox_highestmodseq(mb) > modseq);
	assert_int_equal(mailbox_get(mb, 0)->modseq, mailbox_highestmodseq(mb));
	assert_non_null(strstr(mailbox_get(mb, 0)->file, ":2,FST"));
	snprintf(path, sizeof(path), "%s/cur/%s", folder, mailbox_get(mb, 0)->file);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(mailbox_commit(mb, &error), 0);
	mailbox_close(&mb);
	mb = open_ok(folder);
	assert_int_equal(mailbox_get(mb, 0)->flags,
	                 MAILBOX_FLAG_SEEN | MAILBOX_FLAG_FLAGGED | MAILBOX_FLAG_DELETED);
	assert_string_equal(mailbox_get(mb, 0)->keywords, "$Junk work");
	assert_int_equal(mailbox_set_flags(mb, 0, MAILBOX_FLAG_ANSWERED, "", &error), 0);
	assert_non_null(strstr(mailbox_get(mb, 0)->file, ":2,R"));
	assert_string_equal(mailbox_get(mb, 0)->keywords, "");
	mailbox_close(&mb);
}

static void test_external_changes(void **state)
{
	struct mailbox *mb;
	const char *error = NULL;
	char from[1024], to[1024];
	uint32_t uid;
	int i;

	make_maildir(folder);
	deliver(folder, "a\n");
	deliver(folder, "b\n");
	mb = open_ok(folder);
	uid = mailbox_get(mb, 0)->uid;
	/* mutt marks the first replied and seen, keeping P */
	snprintf(from, sizeof(from), "%s/cur/%s", folder, mailbox_get(mb, 0)->file);
	snprintf(to, sizeof(to), "%.*sPRS", (int)(strlen(from)), from);
	assert_int_equal(rename(from, to), 0);
	put_file(folder, "cur", "dropped-by-script:2,F", "c\n");
	put_file(folder, "new", "mutt-new", "d\n");
	assert_int_equal(mailbox_sync(mb, &error), 3);
	assert_int_equal(mailbox_count(mb), 4);
	assert_int_equal(mailbox_get(mb, 0)->uid, uid);
	assert_int_equal(mailbox_get(mb, 0)->flags, MAILBOX_FLAG_ANSWERED | MAILBOX_FLAG_SEEN);
	assert_non_null(strstr(mailbox_get(mb, 0)->file, ":2,PRS"));
	i = mailbox_find(mb, 3);
	assert_true(i >= 0);
	/* the dropped files got UIDs 3 and 4, in name order; flags kept. The
	 * one dropped into cur/ keeps its name (its UID is in the index only)
	 * and its CRLF size is counted when asked for; the one of new/ moved
	 * to cur/ with its UID in its name. */
	assert_int_equal(mailbox_get(mb, 2)->flags, MAILBOX_FLAG_FLAGGED);
	assert_string_equal(mailbox_get(mb, 2)->file, "dropped-by-script:2,F");
	assert_true(mailbox_get(mb, 2)->size == MAILBOX_SIZE_UNKNOWN);
	assert_int_equal(mailbox_msg_size(mb, 2), 3);
	assert_int_equal(mailbox_get(mb, 2)->size, 3);
	assert_non_null(strstr(mailbox_get(mb, 3)->file, "mutt-new,U=4"));
	assert_int_equal(mailbox_sync(mb, &error), 0);
	/* a flag change renames it: from then on its name carries the UID */
	assert_int_equal(mailbox_set_flags(mb, 2, MAILBOX_FLAG_SEEN, NULL, &error), 0);
	assert_string_equal(mailbox_get(mb, 2)->file, "dropped-by-script,U=3,W=3:2,S");
	assert_int_equal(mailbox_sync(mb, &error), 0);
	mailbox_close(&mb);
}

/* A rebuild keeps UIDs where the file names allow: the files the store
 * named (moved from new/, renamed for a flag change) keep theirs; a file
 * found in cur/ and never renamed gets a new UID above uidnext. */
static void test_rebuild_cur_files(void **state)
{
	char path[1024];
	struct mailbox *mb;
	const char *error = NULL;
	uint32_t uidnext;

	make_maildir(folder);
	deliver(folder, "a\n");
	put_file(folder, "cur", "by-tool-1:2,", "b\nb\n");
	put_file(folder, "cur", "by-tool-2:2,", "c\n");
	mb = open_ok(folder);
	assert_int_equal(mailbox_count(mb), 3);
	assert_int_equal(mailbox_get(mb, 1)->uid, 2);
	assert_int_equal(mailbox_get(mb, 2)->uid, 3);
	assert_int_equal(mailbox_set_flags(mb, 1, MAILBOX_FLAG_FLAGGED, NULL, &error), 0);
	assert_string_equal(mailbox_get(mb, 1)->file, "by-tool-1,U=2,W=6:2,F");
	assert_string_equal(mailbox_get(mb, 2)->file, "by-tool-2:2,");
	/* the size counted on first need survives a reopen (logged) */
	assert_int_equal(mailbox_msg_size(mb, 2), 3);
	uidnext = mailbox_uidnext(mb);
	mailbox_close(&mb);
	mb = open_ok(folder);
	assert_int_equal(mailbox_get(mb, 2)->size, 3);
	mailbox_close(&mb);
	snprintf(path, sizeof(path), "%s/%s", folder, MAILBOX_INDEX_FILE);
	assert_int_equal(unlink(path), 0);
	mb = open_ok(folder);
	assert_int_equal(mailbox_count(mb), 3);
	assert_int_equal(mailbox_get(mb, 0)->uid, 1);
	assert_int_equal(mailbox_get(mb, 1)->uid, 2);
	assert_true(mailbox_get(mb, 2)->uid >= uidnext);
	assert_string_equal(mailbox_get(mb, 2)->file, "by-tool-2:2,");
	mailbox_close(&mb);
}

static void test_expunge_and_vanished(void **state)
{
	struct mailbox *mb;
	const char *error = NULL;
	uint32_t *uids;
	uint64_t modseq;
	unsigned n;

	make_maildir(folder);
	deliver(folder, "a\n");
	deliver(folder, "b\n");
	deliver(folder, "c\n");
	deliver(folder, "d\n");
	mb = open_ok(folder);
	modseq = mailbox_highestmodseq(mb);
	assert_int_equal(mailbox_expunge(mb, 2, &error), 0); /* UID 3 */
	{
		char path[1024];
		snprintf(path, sizeof(path), "%s/cur/%s", folder, mailbox_get(mb, 0)->file);
		assert_int_equal(unlink(path), 0); /* another tool removes UID 1 */
	}
	assert_int_equal(mailbox_sync(mb, &error), 1);
	assert_int_equal(mailbox_count(mb), 2);
	assert_int_equal(mailbox_get(mb, 0)->uid, 2);
	assert_int_equal(mailbox_get(mb, 1)->uid, 4);
	n = mailbox_vanished_since(mb, modseq, &uids);
	assert_int_equal(n, 2);
	assert_int_equal(uids[0], 1);
	assert_int_equal(uids[1], 3);
	free(uids);
	assert_int_equal(mailbox_expunge_uids(mb, (uint32_t[]){4, 9, 2}, 3, &error), 2);
	assert_int_equal(mailbox_count(mb), 0);
	assert_int_equal(mailbox_commit(mb, &error), 0);
	mailbox_close(&mb);
	mb = open_ok(folder);
	n = mailbox_vanished_since(mb, modseq, &uids);
	assert_int_equal(n, 4);
	assert_int_equal(uids[3], 4);
	free(uids);
	assert_int_equal(count_dir(folder, "cur"), 0);
	deliver(folder, "e\n");
	assert_int_equal(mailbox_sync(mb, &error), 1);
	assert_int_equal(mailbox_get(mb, 0)->uid, 5); /* never reused */
	mailbox_close(&mb);
}

/* The whole visible state of MB, one line per message. */
static char *state_of(struct mailbox *mb, int with_modseq)
{
	struct mailbox_buf b = {NULL, 0, 0};
	char line[1600];
	unsigned i;

	snprintf(line, sizeof(line), "%u %u\n", mailbox_uidvalidity(mb), mailbox_count(mb));
	mailbox_buf_put(&b, line, strlen(line));
	for (i = 0; i < mailbox_count(mb); i++) {
		int32_t tz;
		int64_t date = mailbox_msg_date(mb, i, &tz); /* looked at on first need */
		const struct mailbox_msg *m = mailbox_get(mb, i);
		snprintf(line, sizeof(line), "%u %u [%s] %llu %lld %llu %llu %s\n", m->uid,
		         m->flags, m->keywords, with_modseq ? (unsigned long long)m->modseq : 0ull,
		         (long long)date, (unsigned long long)m->size,
		         (unsigned long long)m->file_size, m->file);
		mailbox_buf_put(&b, line, strlen(line));
	}
	mailbox_buf_put(&b, "", 1);
	return (char *)b.data;
}

static void test_reopen_and_rebuild(void **state)
{
	struct mailbox *mb;
	struct mailbox_stats st;
	const char *error = NULL;
	char *before, *after, path[1024];
	uint64_t modseq;

	make_maildir(folder);
	deliver(folder, "a\n");
	deliver(folder, "b\n");
	deliver(folder, "c\n");
	mb = open_ok(folder);
	assert_int_equal(mailbox_set_flags(mb, 1, MAILBOX_FLAG_SEEN, NULL, &error), 0);
	assert_int_equal(mailbox_expunge(mb, 0, &error), 0);
	before = state_of(mb, 1);
	modseq = mailbox_highestmodseq(mb);
	mailbox_close(&mb);
	mb = open_ok(folder);
	after = state_of(mb, 1);
	assert_string_equal(before, after);
	assert_int_equal(mailbox_highestmodseq(mb), modseq);
	free(after);
	mailbox_close(&mb);
	free(before);
	before = NULL;
	mb = open_ok(folder);
	before = state_of(mb, 0);
	mailbox_close(&mb);
	/* the index and its log are lost: the file names give back the UIDs */
	snprintf(path, sizeof(path), "%s/%s", folder, MAILBOX_INDEX_FILE);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/%s", folder, MAILBOX_LOG_FILE);
	unlink(path);
	mb = open_ok(folder);
	mailbox_get_stats(mb, &st);
	assert_int_equal(st.rebuilds, 1);
	after = state_of(mb, 0);
	assert_string_equal(before, after);
	assert_true(mailbox_highestmodseq(mb) > modseq);
	assert_true(mailbox_uidnext(mb) >= 4);
	assert_true(mailbox_vanished_floor(mb) > modseq);
	deliver(folder, "d\n");
	assert_int_equal(mailbox_sync(mb, &error), 1);
	assert_true(mailbox_get(mb, 2)->uid >= 4);
	free(before);
	free(after);
	mailbox_close(&mb);
}

/* Offsets of the records of the log file DATA. */
static size_t last_record(const char *data, size_t len)
{
	size_t pos = MAILBOX_LOG_HEADER_SIZE, last = pos;

	while (pos + 8 <= len) {
		uint32_t plen =
		    (uint32_t)(uint8_t)data[pos] | (uint32_t)(uint8_t)data[pos + 1] << 8 |
		    (uint32_t)(uint8_t)data[pos + 2] << 16 | (uint32_t)(uint8_t)data[pos + 3] << 24;
		last = pos;
		pos += 8 + plen;
	}
	assert_int_equal(pos, len);
	return last;
}

static void test_log_cut_everywhere(void **state)
{
	char index_path[1024], log_path[1024], *index, *log, *want, *got;
	size_t index_len, log_len, cut, last;
	const char *error = NULL;
	struct mailbox *mb;

	make_maildir(folder);
	deliver(folder, "a\n");
	deliver(folder, "b\n");
	mb = open_ok(folder);
	mailbox_close(&mb);
	mb = open_ok(folder);
	assert_int_equal(mailbox_set_flags(mb, 0, MAILBOX_FLAG_FLAGGED, "kw", &error), 0);
	assert_int_equal(mailbox_set_flags(mb, 1, MAILBOX_FLAG_SEEN, NULL, &error), 0);
	assert_int_equal(mailbox_commit(mb, &error), 0);
	want = state_of(mb, 0);
	/* keep the state as a crash would: no close */
	snprintf(index_path, sizeof(index_path), "%s/%s", folder, MAILBOX_INDEX_FILE);
	snprintf(log_path, sizeof(log_path), "%s/%s", folder, MAILBOX_LOG_FILE);
	index = slurp(index_path, &index_len);
	log = slurp(log_path, &log_len);
	mailbox_close(&mb);
	last = last_record(log, log_len);
	for (cut = last; cut <= log_len; cut++) {
		spit(index_path, index, index_len);
		spit(log_path, log, cut);
		mb = open_ok(folder);
		got = state_of(mb, 0);
		/* the cut record's change is found again in the names (keywords
		 * are not in names: only the last record, a flag change, is cut) */
		assert_string_equal(want, got);
		free(got);
		mailbox_close(&mb);
	}
	free(want);
	free(index);
	free(log);
}

static void test_corrupt_index(void **state)
{
	char path[1024], *index, *want, *got;
	struct mailbox_stats st;
	struct mailbox *mb;
	size_t len, i;

	make_maildir(folder);
	deliver(folder, "a\n");
	deliver(folder, "b\n");
	mb = open_ok(folder);
	want = state_of(mb, 0);
	mailbox_close(&mb);
	snprintf(path, sizeof(path), "%s/%s", folder, MAILBOX_INDEX_FILE);
	index = slurp(path, &len);
	for (i = 0; i < len; i += 7) {
		index[i] ^= 0x20;
		spit(path, index, len);
		index[i] ^= 0x20;
		mb = open_ok(folder);
		mailbox_get_stats(mb, &st);
		assert_int_equal(st.rebuilds, 1);
		got = state_of(mb, 0);
		assert_string_equal(want, got);
		free(got);
		mailbox_close(&mb);
	}
	free(index);
	free(want);
}

/* A file descriptor holding TEXT, at offset 0. */
static int text_fd(const char *text)
{
	int fd = memfd_create("msg", 0);
	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, text, strlen(text)), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

static void test_append_keeps_date(void **state)
{
	static const char text[] = "Subject: x\r\n\r\nline\r\nbare\nend\r\n";
	const char *error = NULL;
	struct mailbox *mb;
	struct stat st;
	char path[1024], *data;
	size_t len;
	uint32_t uid;
	int32_t tz;
	int fd;

	make_maildir(folder);
	mb = open_ok(folder);
	fd = text_fd(text);
	assert_int_equal(mailbox_append(mb, fd, strlen(text), MAILBOX_FLAG_SEEN, "$Sent",
	                                1000000000, 120, &uid, &error),
	                 0);
	close(fd);
	assert_int_equal(uid, 1);
	assert_int_equal(mailbox_get(mb, 0)->internaldate, 1000000000);
	assert_int_equal(mailbox_get(mb, 0)->tz_minutes, 120);
	assert_int_equal(mailbox_get(mb, 0)->size, strlen(text) + 1);
	assert_int_equal(mailbox_get(mb, 0)->file_size, strlen(text) - 4);
	snprintf(path, sizeof(path), "%s/cur/%s", folder, mailbox_get(mb, 0)->file);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mtime, 1000000000);
	data = slurp(path, &len);
	assert_string_equal(data, "Subject: x\n\nline\nbare\nend\n");
	free(data);
	fd = mailbox_open_file(mb, 0);
	assert_true(fd >= 0);
	close(fd);
	mailbox_close(&mb);
	snprintf(path, sizeof(path), "%s/%s", folder, MAILBOX_INDEX_FILE);
	unlink(path);
	mb = open_ok(folder);
	assert_int_equal(mailbox_get(mb, 0)->uid, 1);
	assert_int_equal(mailbox_get(mb, 0)->internaldate, MAILBOX_DATE_UNKNOWN); /* no stat yet */
	assert_int_equal(mailbox_msg_date(mb, 0, &tz), 1000000000);
	assert_int_equal(mailbox_get(mb, 0)->internaldate, 1000000000);
	mailbox_close(&mb);
	mb = open_ok(folder); /* the date looked at was logged */
	assert_int_equal(mailbox_get(mb, 0)->internaldate, 1000000000);
	assert_int_equal(mailbox_get(mb, 0)->flags, MAILBOX_FLAG_SEEN);
	assert_int_equal(mailbox_get(mb, 0)->size, strlen(text) + 1);
	mailbox_close(&mb);
}

static void test_copy_hard_link(void **state)
{
	char other[400], a[1024], b[1024];
	const char *error = NULL;
	struct mailbox *src, *dst;
	struct stat sa, sb;
	uint32_t uid;

	make_maildir(folder);
	snprintf(other, sizeof(other), "%s/.Archive", folder);
	make_maildir(other);
	deliver(folder, "a\n");
	deliver(other, "x\n");
	deliver(other, "y\n");
	src = open_ok(folder);
	dst = open_ok(other);
	assert_int_equal(mailbox_set_flags(src, 0, MAILBOX_FLAG_FLAGGED, NULL, &error), 0);
	assert_int_equal(mailbox_cache_set(src, 0, MAILBOX_CACHE_ENVELOPE, "(NIL)"), 0);
	assert_int_equal(mailbox_copy(src, 0, dst, &uid, &error), 0);
	assert_int_equal(mailbox_commit(dst, &error), 0);
	assert_int_equal(uid, 3);
	assert_int_equal(mailbox_get(dst, 2)->uid, 3);
	assert_int_equal(mailbox_get(dst, 2)->flags, MAILBOX_FLAG_FLAGGED);
	assert_int_equal(mailbox_get(dst, 2)->internaldate, mailbox_get(src, 0)->internaldate);
	assert_string_equal(mailbox_cache_get(dst, 2, MAILBOX_CACHE_ENVELOPE), "(NIL)");
	snprintf(a, sizeof(a), "%s/cur/%s", folder, mailbox_get(src, 0)->file);
	snprintf(b, sizeof(b), "%s/cur/%s", other, mailbox_get(dst, 2)->file);
	assert_int_equal(stat(a, &sa), 0);
	assert_int_equal(stat(b, &sb), 0);
	assert_int_equal(sa.st_ino, sb.st_ino);
	/* a copy within the folder gets a UID of its own too */
	assert_int_equal(mailbox_copy(dst, 0, dst, &uid, &error), 0);
	assert_int_equal(uid, 4);
	assert_int_equal(mailbox_count(dst), 4);
	mailbox_close(&src);
	mailbox_close(&dst);
	dst = open_ok(other);
	assert_int_equal(mailbox_count(dst), 4);
	assert_string_equal(mailbox_cache_get(dst, 2, MAILBOX_CACHE_ENVELOPE), "(NIL)");
	mailbox_close(&dst);
}

static void test_cache(void **state)
{
	char big[600], path[1024], *value;
	struct mailbox *mb;
	size_t len;

	make_maildir(folder);
	deliver(folder, "a\n");
	deliver(folder, "b\n");
	mb = open_ok(folder);
	assert_null(mailbox_cache_get(mb, 0, MAILBOX_CACHE_BODYSTRUCTURE));
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(mailbox_cache_set(mb, 0, MAILBOX_CACHE_BODYSTRUCTURE, big), 0);
	assert_int_equal(mailbox_cache_set(mb, 1, MAILBOX_CACHE_HEADERS, "Subject: b\r\n"), 0);
	assert_string_equal(mailbox_cache_get(mb, 0, MAILBOX_CACHE_BODYSTRUCTURE), big);
	value = xmalloc(MAILBOX_CACHE_VALUE_MAX + 2);
	memset(value, 'v', MAILBOX_CACHE_VALUE_MAX + 1);
	value[MAILBOX_CACHE_VALUE_MAX + 1] = '\0';
	assert_int_equal(mailbox_cache_set(mb, 1, MAILBOX_CACHE_FIELDS, value), -1);
	free(value);
	mailbox_close(&mb);
	mb = open_ok(folder);
	assert_string_equal(mailbox_cache_get(mb, 0, MAILBOX_CACHE_BODYSTRUCTURE), big);
	assert_string_equal(mailbox_cache_get(mb, 1, MAILBOX_CACHE_HEADERS), "Subject: b\r\n");
	mailbox_close(&mb);
	/* a damaged record is not believed */
	snprintf(path, sizeof(path), "%s/%s", folder, MAILBOX_CACHE_FILE);
	value = slurp(path, &len);
	value[40] ^= 1;
	spit(path, value, len);
	free(value);
	mb = open_ok(folder);
	assert_null(mailbox_cache_get(mb, 0, MAILBOX_CACHE_BODYSTRUCTURE));
	assert_string_equal(mailbox_cache_get(mb, 1, MAILBOX_CACHE_HEADERS), "Subject: b\r\n");
	mailbox_close(&mb);
}

static void test_lost_log_keeps_uids(void **state)
{
	char index_path[1024], log_path[1024], *index, *log;
	const char *error = NULL;
	size_t index_len, log_len;
	struct mailbox *mb;

	make_maildir(folder);
	deliver(folder, "a\n");
	mb = open_ok(folder);
	mailbox_close(&mb);
	snprintf(index_path, sizeof(index_path), "%s/%s", folder, MAILBOX_INDEX_FILE);
	snprintf(log_path, sizeof(log_path), "%s/%s", folder, MAILBOX_LOG_FILE);
	index = slurp(index_path, &index_len);
	log = slurp(log_path, &log_len);
	mb = open_ok(folder);
	deliver(folder, "b\n");
	deliver(folder, "c\n");
	assert_int_equal(mailbox_sync(mb, &error), 2);
	mailbox_close(&mb);
	/* a crash after the renames, before their records were stable */
	spit(index_path, index, index_len);
	spit(log_path, log, log_len);
	mb = open_ok(folder);
	assert_int_equal(mailbox_count(mb), 3);
	assert_int_equal(mailbox_get(mb, 1)->uid, 2);
	assert_int_equal(mailbox_get(mb, 2)->uid, 3);
	assert_int_equal(mailbox_uidnext(mb), 4);
	mailbox_close(&mb);
	free(index);
	free(log);
}

#define LARGE_COUNT 20000

static void test_large_folder_not_scanned(void **state)
{
	struct mailbox_stats st;
	struct mailbox *mb;
	unsigned i;

	make_maildir(folder);
	for (i = 0; i < LARGE_COUNT; i++)
		deliver(folder, "Subject: many\n\nbody\n");
	mb = open_ok(folder);
	assert_int_equal(mailbox_count(mb), LARGE_COUNT);
	mailbox_close(&mb);
	/* time passes: the directories were last changed seconds ago */
	age_dirs(folder, 10);
	mb = open_ok(folder);
	mailbox_get_stats(mb, &st);
	/* cur/ was renamed into by the first open: read once more, but no
	 * message file is opened or looked at */
	assert_int_equal(st.file_opens, 0);
	assert_int_equal(st.file_stats, 0);
	assert_int_equal(st.rebuilds, 0);
	mailbox_close(&mb);
	mb = open_ok(folder);
	mailbox_get_stats(mb, &st);
	assert_int_equal(st.dir_scans, 0);
	assert_int_equal(st.file_opens, 0);
	assert_int_equal(st.file_stats, 0);
	assert_int_equal(mailbox_count(mb), LARGE_COUNT);
	for (i = 0; i < LARGE_COUNT; i += 97)
		assert_int_equal(mailbox_find(mb, i + 1), (int)i);
	assert_int_equal(mailbox_sync(mb, &(const char *){NULL}), 0);
	mailbox_get_stats(mb, &st);
	assert_int_equal(st.dir_scans, 0);
	/* a delivery changes new/ only: cur/ is not read */
	deliver(folder, "Subject: late\n\n");
	assert_int_equal(mailbox_sync(mb, &(const char *){NULL}), 1);
	mailbox_get_stats(mb, &st);
	assert_int_equal(st.dir_scans, 1);
	assert_int_equal(mailbox_count(mb), LARGE_COUNT + 1);
	mailbox_close(&mb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test_setup_teardown(test_deliver_and_sync, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flags_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_external_changes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rebuild_cur_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_expunge_and_vanished, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reopen_and_rebuild, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_log_cut_everywhere, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_index, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_append_keeps_date, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_copy_hard_link, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cache, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lost_log_keeps_uids, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_large_folder_not_scanned, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
