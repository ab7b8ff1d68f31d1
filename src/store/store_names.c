/*
 * store_names.c: IMAP folder names and the Maildir++ directories that hold
 * them, as Dovecot lays them out: INBOX is the user's Maildir, folder
 * "A/B" is USER/.A.B, each level in modified UTF-7 (RFC 3501 5.1.3), a
 * maildirfolder file in each. Since "." separates levels on disk, a level
 * may not hold one; empty levels, control characters, the wildcards "*"
 * and "%" and invalid UTF-8 are refused too. Pure but for the Maildir
 * creation at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/util.h"
#include "mail/mutf7.h"
#include "store/store_private.h"

#define STORE_LEVEL_MAX 255 /* octets of a directory name */

/* Why level S (LEN octets) cannot be part of a name, or NULL. */
static const char *store_level_problem(const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return "Empty level in folder name";
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return "Control character in folder name";
		if (c == '.')
			return "Folder names may not contain \".\"";
		if (c == '*' || c == '%')
			return "Folder names may not contain wildcards";
	}
	return NULL;
}

const char *store_name_check(const char *name, char *canon, size_t size)
{
	size_t len = strlen(name), start = 0, i;
	const char *why;

	if (len == 0)
		return "Empty folder name";
	if (!utf8_is_valid(name, len))
		return "Folder name is not valid UTF-8";
	if (strlcpy_checked(canon, name, size) < 0)
		return "Folder name too long";
	for (i = 0; i <= len; i++) {
		if (i < len && name[i] != '/')
			continue;
		if ((why = store_level_problem(name + start, i - start)) != NULL)
			return why;
		start = i + 1;
	}
	/* RFC 9051 5.1: INBOX is case-insensitive, and so is its use as a parent */
	if (strncasecmp(canon, "INBOX", 5) == 0 && (canon[5] == '\0' || canon[5] == '/'))
		memcpy(canon, "INBOX", 5);
	return NULL;
}

int store_name_dir(const char *user_dir, const char *canon, char *buf, size_t size)
{
	char level[PROTO_STORE_NAME_MAX], enc[STORE_LEVEL_MAX + 1];
	size_t o, start = 0, i, len = strlen(canon);
	int n;

	if (strcmp(canon, "INBOX") == 0)
		return strlcpy_checked(buf, user_dir, size);
	n = snprintf(buf, size, "%s/", user_dir);
	if (n < 0 || (size_t)n >= size || len >= sizeof(level))
		return -1;
	o = (size_t)n;
	for (i = 0; i <= len; i++) {
		if (i < len && canon[i] != '/')
			continue;
		memcpy(level, canon + start, i - start);
		level[i - start] = '\0';
		if (utf8_to_mutf7(level, enc, sizeof(enc)) < 0)
			return -1;
		n = snprintf(buf + o, size - o, ".%s", enc);
		if (n < 0 || (size_t)n >= size - o)
			return -1;
		o += (size_t)n;
		start = i + 1;
	}
	/* the directory's own name must fit a file name */
	return o - strlen(user_dir) - 1 <= STORE_LEVEL_MAX ? 0 : -1;
}

int store_dir_name(const char *entry, char *buf, size_t size)
{
	char level[STORE_LEVEL_MAX + 1], dec[PROTO_STORE_NAME_MAX];
	const char *p, *dot;
	size_t o = 0, n;

	if (entry[0] != '.' || entry[1] == '\0' || entry[1] == '.')
		return -1;
	for (p = entry + 1;; p = dot + 1) {
		dot = strchr(p, '.');
		n = dot != NULL ? (size_t)(dot - p) : strlen(p);
		if (n == 0 || n >= sizeof(level))
			return -1;
		memcpy(level, p, n);
		level[n] = '\0';
		if (mutf7_to_utf8(level, dec, sizeof(dec)) < 0 || strchr(dec, '/') != NULL)
			return -1;
		n = strlen(dec);
		if (o + n + 2 > size)
			return -1;
		if (o > 0)
			buf[o++] = '/';
		memcpy(buf + o, dec, n);
		o += n;
		buf[o] = '\0';
		if (dot == NULL)
			break;
	}
	return 0;
}

int store_maildir_exists(const char *dir)
{
	char path[STORE_PATH_MAX + 8];
	struct stat st;

	snprintf(path, sizeof(path), "%s/cur", dir);
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int store_maildir_make(const char *dir, int subfolder, const char **error_r)
{
	static const char *const subdirs[] = {"cur", "new", "tmp"};
	char path[STORE_PATH_MAX + 32];
	size_t i;
	int fd;

	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, subdirs[i]);
		if (mkdir_p(path, 0700) < 0) {
			*error_r = strerror(errno);
			return -1;
		}
	}
	if (!subfolder)
		return 0;
	snprintf(path, sizeof(path), "%s/maildirfolder", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	close(fd);
	return 0;
}

uint32_t store_name_special(const char *canon)
{
	static const struct {
		const char *name;
		uint32_t attr;
	} specials[] = {
	    {"Sent", STORE_ATTR_SENT}, {"Drafts", STORE_ATTR_DRAFTS},   {"Trash", STORE_ATTR_TRASH},
	    {"Junk", STORE_ATTR_JUNK}, {"Archive", STORE_ATTR_ARCHIVE},
	};
	size_t i;

	for (i = 0; i < sizeof(specials) / sizeof(specials[0]); i++)
		if (strcmp(canon, specials[i].name) == 0)
			return specials[i].attr;
	return 0;
}
