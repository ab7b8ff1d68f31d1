/*
 * config_text.c: the configuration as text. The parent reads the file once
 * (config_load_file()), parses that text and keeps it; on reload it sends
 * the text with its path (config_message()) and the queue and lookup roles
 * parse it with the same reader (config_reload_message()), so every role
 * runs the very configuration the parent checked, and no struct crosses a
 * process boundary as raw bytes.
 */
#include "conf/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

/* Sets *errors_r to "NAME: WHAT: strerror(ERR)"; returns -1. */
static int file_error(const char *name, const char *what, int err, char **errors_r)
{
	if (errors_r && asprintf(errors_r, "%s: %s: %s", name, what, strerror(err)) < 0)
		*errors_r = NULL;
	return -1;
}

/* Reads all of FD, at most CONFIG_MAX_TEXT octets, into a NUL-terminated
 * buffer; NULL with errno set (EFBIG when too large). */
static char *read_all(int fd, size_t *len_r)
{
	size_t len = 0, size = 4096;
	char *buf = xmalloc(size);
	for (;;) {
		if (len > CONFIG_MAX_TEXT) {
			free(buf);
			errno = EFBIG;
			return NULL;
		}
		if (len + 1 == size)
			buf = xrealloc(buf, size *= 2);
		ssize_t n = read(fd, buf + len, size - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;
			free(buf);
			errno = err;
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*len_r = len;
	return buf;
}

int config_load_file(struct config *cfg, const char *path, char **text_r, size_t *len_r,
                     char **errors_r)
{
	size_t len;
	config_defaults(cfg);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return file_error(path, "cannot open", errno, errors_r);
	char *text = read_all(fd, &len);
	int err = errno;
	close(fd);
	if (!text && err == EFBIG) {
		if (errors_r && asprintf(errors_r, "%s: too large (more than %d octets)", path,
		                         CONFIG_MAX_TEXT) < 0)
			*errors_r = NULL;
		return -1;
	}
	if (!text)
		return file_error(path, "cannot read", err, errors_r);
	int r = config_load_text(cfg, path, text, len, errors_r);
	if (r == 0 && text_r) {
		*text_r = text;
		*len_r = len;
	} else {
		free(text);
	}
	return r;
}

const char *config_default_path(void)
{
	const char *env = getenv("SEALMAIL_CONFIG");

	return env != NULL && *env != '\0' ? env : CONFIG_DEFAULT_PATH;
}

int config_load(struct config *cfg, const char *path, char **errors_r)
{
	return config_load_file(cfg, path, NULL, NULL, errors_r);
}

void *config_message(const char *path, const char *text, size_t len, size_t *len_r)
{
	size_t path_len = strlen(path);
	char *msg = xmalloc(path_len + 1 + len);
	memcpy(msg, path, path_len + 1);
	memcpy(msg + path_len + 1, text, len);
	*len_r = path_len + 1 + len;
	return msg;
}

int config_load_message(struct config *cfg, const void *data, size_t len, char **errors_r)
{
	const char *nul = data ? memchr(data, '\0', len) : NULL;
	size_t path_len = nul ? (size_t)(nul - (const char *)data) : 0;
	if (!nul || path_len == 0 || path_len >= sizeof cfg->path) {
		if (errors_r)
			*errors_r = xstrdup("malformed configuration message: no path");
		return -1;
	}
	return config_load_text(cfg, data, nul + 1, len - path_len - 1, errors_r);
}

/* Logs each line of ERRORS as a config-error of the reload. */
static void log_reload_errors(const char *errors)
{
	char line[1024], v[2048];
	for (const char *p = errors; p && *p;) {
		size_t n = strcspn(p, "\n");
		snprintf(line, sizeof line, "%.*s", (int)n, p);
		log_error("event=reload-failed reason=%s", log_value(line, v, sizeof v));
		p += n + (p[n] == '\n');
	}
}

/* Keeps NEXT in RUNNING when R is 0, else logs ERRORS; frees both. */
static int reload_keep(struct config *running, struct config *next, int r, char *errors)
{
	if (r < 0) {
		log_reload_errors(errors ? errors : "out of memory");
	} else {
		/* the role works in data_dir since it started (chdir, chroot) */
		memcpy(next->data_dir, running->data_dir, sizeof next->data_dir);
		memcpy(running, next, sizeof *running);
	}
	free(errors);
	free(next);
	return r;
}

int config_reload_message(struct config *running, const void *data, size_t len)
{
	struct config *next = xmalloc(sizeof *next);
	char *errors = NULL;
	int r = config_load_message(next, data, len, &errors);

	return reload_keep(running, next, r, errors);
}

int config_reload_text(struct config *running, const char *path, const char *text, size_t len)
{
	struct config *next = xmalloc(sizeof *next);
	char *errors = NULL;
	int r = config_load_text(next, path, text, len, &errors);

	return reload_keep(running, next, r, errors);
}
