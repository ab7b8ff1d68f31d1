/*
 * mailbox_file.c: Maildir file names, the uidvalidity file, and reading
 * and writing message files, for the mailbox*.c files.
 *
 * A name in cur/ is "BASE:2,FLAGS". BASE is the queue's
 * "SECONDS.MUSECPPIDQN.HOST,S=SIZE" (or another tool's), to which the
 * store adds ",U=uid,W=size-with-CRLF" when it hands out the UID: the UID
 * so that a lost index is rebuilt with the same UIDs, W as Dovecot does so
 * that the rebuild need not read every file. FLAGS are letters in ASCII
 * order (Maildir's rule): D draft, F flagged, P passed (kept, not ours), R
 * replied, S seen, T trashed (\Deleted); lowercase letters are Dovecot's
 * keywords and are kept as they are.
 */
#include "store/mailbox_private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "lib/fault.h"
#include "lib/util.h"

#define MAILBOX_READ_CHUNK (64 * 1024)

static const struct {
	char letter;
	uint32_t flag;
} mailbox_letters[] = {
    {'D', MAILBOX_FLAG_DRAFT}, {'F', MAILBOX_FLAG_FLAGGED}, {'R', MAILBOX_FLAG_ANSWERED},
    {'S', MAILBOX_FLAG_SEEN},  {'T', MAILBOX_FLAG_DELETED},
};
#define MAILBOX_LETTERS (sizeof(mailbox_letters) / sizeof(mailbox_letters[0]))

int mailbox_path(const struct mailbox *mb, char *buf, const char *sub, const char *name)
{
	int n;

	if (sub != NULL && name != NULL)
		n = snprintf(buf, MAILBOX_PATH_MAX, "%s/%s/%s", mb->dir, sub, name);
	else
		n = snprintf(buf, MAILBOX_PATH_MAX, "%s/%s", mb->dir, sub != NULL ? sub : name);
	return n < 0 || n >= MAILBOX_PATH_MAX ? -1 : 0;
}

/* The flag of LETTER, 0 when it is not one of ours. */
static uint32_t letter_flag(char letter)
{
	size_t i;

	for (i = 0; i < MAILBOX_LETTERS; i++)
		if (mailbox_letters[i].letter == letter)
			return mailbox_letters[i].flag;
	return 0;
}

uint32_t mailbox_name_flags(const char *name)
{
	const char *info = strstr(name, ":2,");
	uint32_t flags = 0;

	if (info == NULL)
		return 0;
	for (info += 3; *info != '\0'; info++)
		flags |= letter_flag(*info);
	return flags;
}

int mailbox_name_make(char out[MAILBOX_FILE_NAME_MAX + 1], const char *base, size_t len,
                      uint32_t flags, const char *old_name)
{
	const char *info = old_name == NULL ? NULL : strstr(old_name, ":2,");
	int have[128] = {0};
	size_t o, i;
	int c;

	if (len + 3 > MAILBOX_FILE_NAME_MAX)
		return -1;
	for (i = 0; i < MAILBOX_LETTERS; i++)
		have[(int)mailbox_letters[i].letter] = (flags & mailbox_letters[i].flag) != 0;
	for (info = info == NULL ? NULL : info + 3; info != NULL && *info != '\0'; info++)
		if ((unsigned char)*info < 128 && *info > ' ' && *info != '/' &&
		    letter_flag(*info) == 0)
			have[(int)*info] = 1;
	memcpy(out, base, len);
	memcpy(out + len, ":2,", 3);
	o = len + 3;
	for (c = 0; c < 128; c++) {
		if (!have[c])
			continue;
		if (o >= MAILBOX_FILE_NAME_MAX)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

int mailbox_name_field(const char *name, size_t len, char key, uint64_t *value_r)
{
	size_t i;

	for (i = 0; i + 3 < len; i++) {
		uint64_t v = 0;
		size_t j;
		if (name[i] != ',' || name[i + 1] != key || name[i + 2] != '=')
			continue;
		for (j = i + 3; j < len && name[j] >= '0' && name[j] <= '9' && j < i + 23; j++)
			v = v * 10 + (uint64_t)(name[j] - '0');
		if (j == i + 3 || (j < len && name[j] != ',') || v > UINT64_MAX / 10)
			continue;
		*value_r = v;
		return 0;
	}
	return -1;
}

/* Whether NAME[I..] starts a ",U=" or ",W=" field; its length then. */
static size_t our_field_len(const char *name, size_t len, size_t i)
{
	size_t j;

	if (i + 3 > len || name[i] != ',' || (name[i + 1] != 'U' && name[i + 1] != 'W') ||
	    name[i + 2] != '=')
		return 0;
	for (j = i + 3; j < len && name[j] != ','; j++)
		;
	return j - i;
}

int mailbox_name_with_uid(char *out, size_t size, const char *name, size_t len, uint32_t uid,
                          uint64_t vsize)
{
	size_t i, o = 0;
	int n;

	for (i = 0; i < len;) {
		size_t skip = our_field_len(name, len, i);
		if (skip > 0) {
			i += skip;
			continue;
		}
		if (o + 1 >= size)
			return -1;
		out[o++] = name[i++];
	}
	n = snprintf(out + o, size - o, ",U=%u,W=%llu", uid, (unsigned long long)vsize);
	return n < 0 || (size_t)n >= size - o ? -1 : 0;
}

void mailbox_name_fresh(char *out, size_t size, const char *hostname, uint64_t file_size)
{
	static unsigned long counter;
	struct timeval tv;

	gettimeofday(&tv, NULL);
	snprintf(out, size, "%ld.M%06ldP%dQ%lu.%s,S=%llu", (long)tv.tv_sec, (long)tv.tv_usec,
	         (int)getpid(), ++counter, hostname, (unsigned long long)file_size);
}

int mailbox_uidv_read(const char *dir, uint32_t *uidvalidity_r, uint32_t *uidnext_r,
                      uint64_t *modseq_r)
{
	char path[MAILBOX_PATH_MAX], *text;
	unsigned long long modseq = 0;
	unsigned uv, next;
	size_t len;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, MAILBOX_UIDVALIDITY_FILE);
	if ((text = read_file(path, 256, &len)) == NULL)
		return -1;
	ok = sscanf(text, "%u %u %llu", &uv, &next, &modseq) >= 2 && uv != 0 && next != 0;
	free(text);
	if (!ok)
		return -1;
	*uidvalidity_r = uv;
	*uidnext_r = next;
	*modseq_r = modseq;
	return 0;
}

int mailbox_uidv_write(const char *dir, uint32_t uidvalidity, uint32_t uidnext, uint64_t modseq,
                       const char **error_r)
{
	char path[MAILBOX_PATH_MAX], tmp[MAILBOX_PATH_MAX + 8], text[80];
	int fd, n;

	snprintf(path, sizeof(path), "%s/%s", dir, MAILBOX_UIDVALIDITY_FILE);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	n = snprintf(text, sizeof(text), "%u %u %llu\n", uidvalidity, uidnext,
	             (unsigned long long)modseq);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, text, (size_t)n) < 0 || fsync(fd) < 0) {
		*error_r = strerror(errno);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) < 0 || fsync_dir(dir) < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	return 0;
}

int mailbox_reserve_uids(struct mailbox *mb, uint32_t need, int force, const char **error_r)
{
	uint32_t next = mb->uid_reserved;

	if (need <= mb->uid_reserved && !force)
		return 0;
	if (need > mb->uid_reserved)
		next = need > UINT32_MAX - MAILBOX_UID_RESERVE ? UINT32_MAX
		                                               : need + MAILBOX_UID_RESERVE;
	if (mailbox_uidv_write(mb->dir, mb->img.uidvalidity, next, mb->img.highestmodseq, error_r) <
	    0)
		return -1;
	mb->uid_reserved = next;
	mb->modseq_saved = mb->img.highestmodseq;
	return 0;
}

/* Counts the LFs of BUF not preceded by CR (*CR: the previous octet was CR). */
static uint64_t count_bare_lf(const char *buf, size_t len, int *cr)
{
	const char *p = buf, *end = buf + len, *lf;
	uint64_t n = 0;

	if (len == 0)
		return 0;
	while (p < end && (lf = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n += lf == buf ? !*cr : lf[-1] != '\r';
		p = lf + 1;
	}
	*cr = end[-1] == '\r';
	return n;
}

int mailbox_file_sizes(int fd, uint64_t *file_size_r, uint64_t *size_r)
{
	char *buf = xmalloc(MAILBOX_READ_CHUNK);
	uint64_t total = 0, bare = 0;
	int cr = 0;
	ssize_t n;

	while ((n = read(fd, buf, MAILBOX_READ_CHUNK)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			return -1;
		}
		total += (uint64_t)n;
		bare += count_bare_lf(buf, (size_t)n, &cr);
	}
	free(buf);
	*file_size_r = total;
	*size_r = total + bare;
	return 0;
}

/* Turns each CRLF of IN (LEN octets) into LF in OUT; *CR carries a CR that
 * ended the previous chunk. Returns the octets written to OUT. */
static size_t crlf_to_lf(const char *in, size_t len, char *out, int *cr)
{
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		if (*cr && in[i] != '\n')
			out[o++] = '\r';
		*cr = in[i] == '\r';
		if (!*cr)
			out[o++] = in[i];
	}
	return o;
}

int mailbox_file_copy_lf(int in, uint64_t size, int out, uint64_t *file_size_r, uint64_t *vsize_r,
                         const char **error_r)
{
	char *buf = xmalloc(2 * MAILBOX_READ_CHUNK + 1), *lf = buf + MAILBOX_READ_CHUNK;
	uint64_t left = size, written = 0, bare = 0;
	int cr = 0, lfcr = 0;

	while (left > 0) {
		size_t want = left < MAILBOX_READ_CHUNK ? (size_t)left : MAILBOX_READ_CHUNK, o;
		ssize_t n = read(in, buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error_r =
			    n == 0 ? "the message is shorter than announced" : strerror(errno);
			free(buf);
			return -1;
		}
		left -= (uint64_t)n;
		o = crlf_to_lf(buf, (size_t)n, lf, &cr);
		if (left == 0 && cr)
			lf[o++] = '\r';
		bare += count_bare_lf(lf, o, &lfcr);
		if (FAULT("store/append/write") || write_all(out, lf, o) < 0) {
			*error_r = strerror(errno);
			free(buf);
			return -1;
		}
		written += o;
	}
	free(buf);
	*file_size_r = written;
	*vsize_r = written + bare;
	return 0;
}

int32_t mailbox_local_tz(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL)
		return 0;
	return (int32_t)(tm.tm_gmtoff / 60);
}

char *mailbox_read_whole(int fd, size_t max, size_t *len_r)
{
	struct stat st;
	size_t len = 0, size;
	char *buf;

	if (fstat(fd, &st) < 0)
		return NULL;
	if (st.st_size < 0 || (uint64_t)st.st_size > max) {
		errno = EFBIG;
		return NULL;
	}
	size = (size_t)st.st_size;
	buf = xmalloc(size + 1);
	while (len < size) {
		ssize_t n = pread(fd, buf + len, size - len, (off_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* shorter than it was: take what is there */
		len += (size_t)n;
	}
	buf[len] = '\0';
	*len_r = len;
	return buf;
}
