/*
 * userfile.c: see userfile.h.
 */
#include "auth/userfile.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/util.h"

#define USERFILE_MAX_SIZE (64 * 1024 * 1024)
#define USERFILE_ADDRESS_MAX 511 /* as lookup/users.c reads them */

enum userfile_op { USERFILE_ADD, USERFILE_SET_HASH, USERFILE_DELETE };

/* One change to make to the file. */
struct userfile_edit {
	enum userfile_op op;
	char address[USERFILE_ADDRESS_MAX + 1]; /* lower-cased */
	const char *hash;
	unsigned matches;    /* lines of ADDRESS seen */
	unsigned first_line; /* the first of them */
};

/* The file as read, and what it was like. */
struct userfile_text {
	char *data;
	size_t len;
	int exists;
	struct stat st; /* when it exists */
};

/* A growing output buffer. */
struct sbuf {
	char *p;
	size_t len, cap;
};

/* One line of the file. */
struct user_line {
	const char *start;
	size_t len;      /* without the '\n' */
	int has_newline; /* 1 unless it is the last line and unterminated */
	size_t content;  /* length without a final '\r' */
	size_t address;  /* length of the address; 0 when not a user line */
};

__attribute__((format(printf, 2, 3))) static int fail(char **error_r, const char *fmt, ...)
{
	va_list ap;
	if (error_r == NULL)
		return -1;
	va_start(ap, fmt);
	if (vasprintf(error_r, fmt, ap) < 0)
		*error_r = NULL;
	va_end(ap);
	return -1;
}

static void sbuf_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sbuf_add_str(struct sbuf *b, const char *s)
{
	sbuf_add(b, s, strlen(s));
}

/* Frees a buffer that held hashes, wiping it first. */
static void wipe_free(char *p, size_t len)
{
	if (p != NULL)
		explicit_bzero(p, len);
	free(p);
}

/* ---- lines -------------------------------------------------------------- */

/* Splits off the line at *P (before END) into *L; 0 at the end. A user
 * line is one that is not blank, not a '#' comment, and has "x@y:". */
static int next_line(const char **p, const char *end, struct user_line *l)
{
	const char *nl, *colon, *at;

	if (*p >= end)
		return 0;
	nl = memchr(*p, '\n', (size_t)(end - *p));
	l->start = *p;
	l->len = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
	l->has_newline = nl != NULL;
	l->content = l->len - (l->len > 0 && l->start[l->len - 1] == '\r');
	l->address = 0;
	*p += l->len + l->has_newline;
	if (l->content == 0 || l->start[0] == '#')
		return 1;
	colon = memchr(l->start, ':', l->content);
	at = colon ? memchr(l->start, '@', (size_t)(colon - l->start)) : NULL;
	if (at != NULL && at != l->start && at + 1 != colon)
		l->address = (size_t)(colon - l->start);
	return 1;
}

/* 1 when L is a line of ADDRESS (lower-cased). */
static int line_is_for(const struct user_line *l, const char *address)
{
	return l->address == strlen(address) && strncasecmp(l->start, address, l->address) == 0;
}

/* The hash of user line L, and its length in *len_r. */
static const char *line_hash(const struct user_line *l, size_t *len_r)
{
	const char *hash = l->start + l->address + 1;
	const char *end = l->start + l->content;
	const char *colon = memchr(hash, ':', (size_t)(end - hash));
	*len_r = (size_t)((colon ? colon : end) - hash);
	return hash;
}

/* Writes L to OUT with HASH in place of its own, keeping the rest. */
static void add_line_with_hash(struct sbuf *out, const struct user_line *l, const char *hash)
{
	size_t old_len;
	const char *old = line_hash(l, &old_len);
	const char *rest = old + old_len;

	sbuf_add(out, l->start, l->address + 1);
	sbuf_add_str(out, hash);
	sbuf_add(out, rest, (size_t)(l->start + l->len - rest));
	if (l->has_newline)
		sbuf_add(out, "\n", 1);
}

/* ---- checks ------------------------------------------------------------- */

/* 1 when S has no control character, no white space and no ':'. */
static int plain_token(const char *s)
{
	for (; *s; s++)
		if (*s == ':' || isspace((unsigned char)*s) || iscntrl((unsigned char)*s))
			return 0;
	return 1;
}

/* Copies ADDRESS lower-cased into E->address; -1 when it cannot be written
 * as a line of the file. */
static int set_address(struct userfile_edit *e, const char *address, char **error_r)
{
	const char *at = strrchr(address, '@');

	if (at == NULL || at == address || at[1] == '\0' || address[0] == '#' ||
	    !plain_token(address) || strlcpy_checked(e->address, address, sizeof(e->address)) < 0)
		return fail(error_r, "'%s' is not an address user@domain that fits the users file",
		            address);
	str_lower(e->address);
	return 0;
}

static int check_hash(const char *hash, char **error_r)
{
	if (hash == NULL || *hash == '\0')
		return fail(error_r, "the hash is empty (write * for a user who cannot log in)");
	if (!plain_token(hash))
		return fail(error_r, "the hash contains ':', white space or a control character");
	return 0;
}

/* ---- the edit ----------------------------------------------------------- */

/* Copies TEXT to OUT with the change E made. */
static void apply_edit(struct userfile_edit *e, const struct userfile_text *text, struct sbuf *out)
{
	const char *p = text->data, *end = text->data + text->len;
	struct user_line l;
	unsigned lineno = 0;

	while (next_line(&p, end, &l)) {
		lineno++;
		if (!line_is_for(&l, e->address)) {
			sbuf_add(out, l.start, l.len + (size_t)l.has_newline);
			continue;
		}
		if (e->matches++ == 0)
			e->first_line = lineno;
		if (e->op == USERFILE_SET_HASH)
			add_line_with_hash(out, &l, e->hash);
		else if (e->op == USERFILE_ADD)
			sbuf_add(out, l.start, l.len + (size_t)l.has_newline);
	}
	if (e->op == USERFILE_ADD && e->matches == 0) {
		if (out->len > 0 && out->p[out->len - 1] != '\n')
			sbuf_add(out, "\n", 1);
		sbuf_add_str(out, e->address);
		sbuf_add(out, ":", 1);
		sbuf_add_str(out, e->hash);
		sbuf_add(out, "\n", 1);
	}
}

/* -1 (with the reason) when E could not be made to the file at PATH. */
static int edit_result(const struct userfile_edit *e, const char *path, char **error_r)
{
	if (e->op == USERFILE_ADD && e->matches > 0)
		return fail(error_r, "%s is already a user (%s, line %u)", e->address, path,
		            e->first_line);
	if (e->op != USERFILE_ADD && e->matches == 0)
		return fail(error_r, "%s is not a user in %s", e->address, path);
	return 0;
}

/* ---- files -------------------------------------------------------------- */

/* Reads all of FD into T->data. */
static int read_fd(int fd, struct userfile_text *t)
{
	size_t cap = 4096;

	t->data = xmalloc(cap + 1);
	t->len = 0;
	for (;;) {
		ssize_t n;
		if (t->len == cap) {
			if (cap >= USERFILE_MAX_SIZE) {
				errno = EFBIG;
				return -1;
			}
			cap *= 2;
			t->data = xrealloc(t->data, cap + 1);
		}
		n = read(fd, t->data + t->len, cap - t->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		t->len += (size_t)n;
	}
	t->data[t->len] = '\0';
	return 0;
}

/* Reads PATH into *T; a missing file is empty text when MAY_BE_ABSENT. */
static int read_users(const char *path, int may_be_absent, struct userfile_text *t, char **error_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	memset(t, 0, sizeof(*t));
	if (fd < 0 && errno == ENOENT && may_be_absent) {
		t->data = xstrdup("");
		return 0;
	}
	if (fd < 0)
		return fail(error_r, "cannot open %s: %s", path, strerror(errno));
	t->exists = 1;
	if (fstat(fd, &t->st) < 0 || read_fd(fd, t) < 0) {
		int saved = errno;
		close(fd);
		return fail(error_r, "cannot read %s: %s", path, strerror(saved));
	}
	close(fd);
	if (!S_ISREG(t->st.st_mode))
		return fail(error_r, "%s is not a regular file", path);
	return 0;
}

/* Gives FD the owner and group of the file T was read from (when there
 * was one) and its mode, narrowed to USERFILE_DEFAULT_MODE: the file holds
 * password hashes, which no other user may read, nor the group change;
 * -1 with errno. */
static int copy_attributes(int fd, const struct userfile_text *t)
{
	if (!t->exists)
		return fchmod(fd, USERFILE_DEFAULT_MODE);
	if (fchmod(fd, t->st.st_mode & USERFILE_DEFAULT_MODE) < 0)
		return -1;
	/* root can always, others only when it is theirs already or a group
	 * they are in: an owner silently changed would lock the server out */
	if (geteuid() == 0 || t->st.st_uid != geteuid() || t->st.st_gid != getegid())
		return fchown(fd, t->st.st_uid, t->st.st_gid);
	return 0;
}

/* fsync of the directory PATH is in. */
static int sync_parent(const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	if (strlcpy_checked(dir, path, sizeof(dir)) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	slash = strrchr(dir, '/');
	if (slash == NULL)
		return fsync_dir(".");
	slash[slash == dir] = '\0';
	return fsync_dir(dir);
}

/* Writes DATA (LEN) to TMP with T's attributes and syncs it. */
static int write_temp(const char *tmp, const char *data, size_t len, const struct userfile_text *t)
{
	int fd, saved;

	if (unlink(tmp) < 0 && errno != ENOENT)
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	if (copy_attributes(fd, t) < 0 || write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return close(fd);
}

/* Replaces PATH with DATA (LEN octets) atomically. */
static int replace_file(const char *path, const char *data, size_t len,
                        const struct userfile_text *t, char **error_r)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	int r = 0;

	if (write_temp(tmp, data, len, t) < 0)
		r = fail(error_r, "cannot write %s: %s", tmp, strerror(errno));
	else if (rename(tmp, path) < 0)
		r = fail(error_r, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
	else if (sync_parent(path) < 0)
		r = fail(error_r, "cannot sync the directory of %s: %s", path, strerror(errno));
	if (r < 0)
		unlink(tmp);
	free(tmp);
	return r;
}

/* Takes the exclusive lock on "PATH.lock"; returns its descriptor or -1. */
static int lock_users(const char *path, char **error_r)
{
	char *lock = xasprintf("%s.lock", path);
	int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0) {
		fail(error_r, "cannot open %s: %s", lock, strerror(errno));
	} else if (flock(fd, LOCK_EX) < 0) {
		fail(error_r, "cannot lock %s: %s", lock, strerror(errno));
		close(fd);
		fd = -1;
	}
	free(lock);
	return fd;
}

/* PATH with symbolic links resolved, so that the link stays a link; PATH
 * itself when it does not exist yet. */
static char *real_path(const char *path)
{
	char *real = realpath(path, NULL);
	return real ? real : xstrdup(path);
}

/* Makes the change E to the file at PATH, under its lock. */
static int edit_file(const char *path, struct userfile_edit *e, char **error_r)
{
	struct userfile_text text;
	struct sbuf out = {0};
	char *real = real_path(path);
	int lock, r;

	if (error_r != NULL)
		*error_r = NULL;
	if ((lock = lock_users(real, error_r)) < 0) {
		free(real);
		return -1;
	}
	r = read_users(real, e->op == USERFILE_ADD, &text, error_r);
	if (r == 0) {
		apply_edit(e, &text, &out);
		r = edit_result(e, path, error_r);
	}
	if (r == 0)
		r = replace_file(real, out.p ? out.p : "", out.len, &text, error_r);
	close(lock);
	wipe_free(text.data, text.len);
	wipe_free(out.p, out.len);
	free(real);
	return r;
}

/* Prepares an edit of ADDRESS (and HASH unless deleting). */
static int edit_init(struct userfile_edit *e, enum userfile_op op, const char *address,
                     const char *hash, char **error_r)
{
	memset(e, 0, sizeof(*e));
	e->op = op;
	e->hash = hash;
	if (error_r != NULL)
		*error_r = NULL;
	if (set_address(e, address, error_r) < 0)
		return -1;
	return op == USERFILE_DELETE ? 0 : check_hash(hash, error_r);
}

int userfile_add(const char *path, const char *address, const char *hash, char **error_r)
{
	struct userfile_edit e;

	if (edit_init(&e, USERFILE_ADD, address, hash, error_r) < 0)
		return -1;
	return edit_file(path, &e, error_r);
}

int userfile_set_hash(const char *path, const char *address, const char *hash, char **error_r)
{
	struct userfile_edit e;

	if (edit_init(&e, USERFILE_SET_HASH, address, hash, error_r) < 0)
		return -1;
	return edit_file(path, &e, error_r);
}

int userfile_delete(const char *path, const char *address, char **error_r)
{
	struct userfile_edit e;

	if (edit_init(&e, USERFILE_DELETE, address, NULL, error_r) < 0)
		return -1;
	return edit_file(path, &e, error_r);
}

int userfile_list(const char *path, void (*fn)(const char *address, int can_login, void *arg),
                  void *arg, char **error_r)
{
	struct userfile_text text;
	struct user_line l;
	const char *p, *end;
	char address[USERFILE_ADDRESS_MAX + 1];

	if (error_r != NULL)
		*error_r = NULL;
	if (read_users(path, 0, &text, error_r) < 0) {
		wipe_free(text.data, text.len);
		return -1;
	}
	p = text.data;
	end = text.data + text.len;
	while (next_line(&p, end, &l)) {
		size_t hash_len;
		const char *hash;
		if (l.address == 0 || l.address >= sizeof(address))
			continue;
		memcpy(address, l.start, l.address);
		address[l.address] = '\0';
		str_lower(address);
		hash = line_hash(&l, &hash_len);
		fn(address, hash_len > 0 && hash[0] != '*' && hash[0] != '!', arg);
	}
	wipe_free(text.data, text.len);
	return 0;
}
