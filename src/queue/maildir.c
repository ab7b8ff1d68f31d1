/*
 * maildir.c: see maildir.h. File names follow the Maildir convention
 * "SECONDS.MUSECPPIDQN.HOST,S=SIZE" so that readers such as mutt and
 * Dovecot take them as they are.
 *
 * Fault points (lib/fault.h): queue/maildir/mkdir, queue/maildir/open,
 * queue/maildir/write, queue/maildir/rename. A copy has no fsync of its own:
 * the queue's flush makes the tmp/ files stable before they are renamed
 * (queue/commit/sync) and the renames after (queue/deliver/sync).
 */
#include "queue/maildir.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "lib/fault.h"
#include "lib/util.h"
#include "mail/maildir_name.h"

static unsigned long maildir_counter;
static pid_t maildir_pid; /* ours, asked once: the names need it, a process never changes it */

int maildir_ensure(const char *dir, const char **error_r)
{
	static const char *const subdirs[] = {"tmp", "new", "cur"};
	char path[MAILDIR_PATH_MAX];
	size_t i;

	for (i = 0; i < 3; i++) {
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, subdirs[i]);
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			continue;
		if (FAULT("queue/maildir/mkdir") || mkdir_p(path, 0700) < 0) {
			*error_r = strerror(errno);
			return -1;
		}
	}
	return 0;
}

/* Copies MSG into OUT turning each CRLF into LF; returns the new length.
 * OUT must hold LEN bytes. A CR not followed by LF stays as it is. */
static size_t maildir_crlf_to_lf(const char *msg, size_t len, char *out)
{
	size_t i = 0, o = 0;

	while (i < len) {
		const char *cr = memchr(msg + i, '\r', len - i);
		size_t n = cr != NULL ? (size_t)(cr - (msg + i)) : len - i;

		/* up to the CR as it is; the CR itself only when no LF follows */
		memcpy(out + o, msg + i, n);
		o += n;
		i += n;
		if (i == len)
			break;
		if (i + 1 >= len || msg[i + 1] != '\n')
			out[o++] = '\r';
		i++;
	}
	return o;
}

int maildir_write(const char *dir, const char *hostname, const char *prefix, const char *msg,
                  size_t len, struct maildir_copy *copy, const char **error_r)
{
	size_t plen = strlen(prefix), blen;
	char *buf = xmalloc(plen + len);
	struct timeval tv;
	char base[300];
	int fd;

	memcpy(buf, prefix, plen);
	blen = plen + maildir_crlf_to_lf(msg, len, buf + plen);
	gettimeofday(&tv, NULL);
	if (maildir_pid == 0)
		maildir_pid = getpid(); /* only the queue role writes, and never forks */
	snprintf(base, sizeof(base), "%ld.M%06ldP%dQ%lu.%s,S=%zu", (long)tv.tv_sec,
	         (long)tv.tv_usec, (int)maildir_pid, ++maildir_counter, hostname, blen);
	snprintf(copy->tmp_path, sizeof(copy->tmp_path), "%s/tmp/%s", dir, base);
	snprintf(copy->new_path, sizeof(copy->new_path), "%s/new/%s", dir, base);
	fd = FAULT("queue/maildir/open")
	         ? -1
	         : open(copy->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		*error_r = strerror(errno);
		free(buf);
		return -1;
	}
	if (FAULT("queue/maildir/write") || write_all(fd, buf, blen) < 0) {
		*error_r = strerror(errno);
		close(fd);
		unlink(copy->tmp_path);
		free(buf);
		return -1;
	}
	free(buf);
	if (close(fd) < 0) {
		*error_r = strerror(errno);
		unlink(copy->tmp_path);
		return -1;
	}
	return 0;
}

int maildir_commit(const struct maildir_copy *copy, const char **error_r)
{
	if (FAULT("queue/maildir/rename") || rename(copy->tmp_path, copy->new_path) < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	return 0;
}

void maildir_discard(const struct maildir_copy *copy)
{
	unlink(copy->tmp_path);
}

/* Skips the digits at *P; returns how many there were. */
static size_t maildir_skip_digits(const char **p)
{
	const char *start = *p;

	while (isdigit((unsigned char)**p))
		(*p)++;
	return (size_t)(*p - start);
}

int maildir_name_is_ours(const char *name, const char *hostname)
{
	const char *p = name;
	size_t hlen = strlen(hostname);

	if (maildir_skip_digits(&p) == 0 || strncmp(p, ".M", 2) != 0)
		return 0;
	p += 2;
	if (maildir_skip_digits(&p) != 6 || *p++ != 'P' || maildir_skip_digits(&p) == 0 ||
	    *p++ != 'Q' || maildir_skip_digits(&p) == 0 || *p++ != '.')
		return 0;
	if (strncmp(p, hostname, hlen) != 0 || strncmp(p + hlen, ",S=", 3) != 0)
		return 0;
	p += hlen + 3;
	return maildir_skip_digits(&p) > 0 && *p == '\0';
}

/* Removes our leftovers from DIR/tmp; returns how many. */
static unsigned maildir_clean_one(const char *dir, const char *hostname)
{
	char path[MAILDIR_PATH_MAX];
	struct dirent *de;
	unsigned n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/tmp", dir);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		char file[MAILDIR_PATH_MAX];
		if (!maildir_name_is_ours(de->d_name, hostname))
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
		if (unlink(file) == 0)
			n++;
	}
	closedir(d);
	return n;
}

unsigned maildir_clean_tmp(const char *hostname)
{
	struct dirent *dom, *user;
	unsigned n = 0;
	DIR *mail, *d;

	if ((mail = opendir("mail")) == NULL)
		return 0;
	while ((dom = readdir(mail)) != NULL) {
		char dpath[MAILDIR_PATH_MAX];
		if (!maildir_name_ok(dom->d_name, strlen(dom->d_name)))
			continue;
		snprintf(dpath, sizeof(dpath), "mail/%s", dom->d_name);
		if ((d = opendir(dpath)) == NULL)
			continue;
		while ((user = readdir(d)) != NULL) {
			char upath[MAILDIR_PATH_MAX];
			if (!maildir_name_ok(user->d_name, strlen(user->d_name)))
				continue;
			snprintf(upath, sizeof(upath), "%s/%s", dpath, user->d_name);
			n += maildir_clean_one(upath, hostname);
		}
		closedir(d);
	}
	closedir(mail);
	return n;
}
