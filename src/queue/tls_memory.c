/*
 * tls_memory.c: the queue's downgrade memory; see tls_memory.h. The table
 * and the file's format are policy/tls_seen.c's; this file moves it to
 * and from data_dir/policy/seen and applies the delivered results. Called
 * by queue.c, queue_remote.c and queue_ctl.c.
 *
 * A change is written within a second (queue.c's timer), not at once: a
 * crash loses at most that second of raised levels, never the file.
 */
#include "queue/tls_memory.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

struct tls_seen_map *tls_memory_open(void)
{
	struct tls_seen_map *m = tls_seen_map_new();
	const char *why = NULL;
	int skipped;

	if (mkdir_p(TLS_SEEN_DIR, 0700) < 0)
		log_error("event=tls-memory-error reason=\"mkdir " TLS_SEEN_DIR ": %s\"",
		          strerror(errno));
	skipped = tls_seen_load(m, TLS_SEEN_PATH, &why);
	if (skipped < 0)
		log_error("event=tls-memory-error file=" TLS_SEEN_PATH " reason=\"%s\" action=emptied",
		          why);
	else if (skipped > 0)
		log_warn("event=tls-memory-error file=" TLS_SEEN_PATH
		         " reason=\"%d malformed records skipped\"",
		         skipped);
	else
		log_info("event=tls-memory-loaded domains=%u", m->n);
	return m;
}

void tls_memory_for_task(const struct tls_seen_map *m, const char *domain, unsigned remember,
                         uint32_t *seen_level_r, uint64_t *seen_time_r)
{
	*seen_level_r = 0;
	*seen_time_r = 0;
	if (!tls_seen_get(m, domain, (uint64_t)time(NULL), remember, seen_level_r, seen_time_r)) {
		*seen_level_r = 0;
		*seen_time_r = 0;
	}
}

void tls_memory_delivered(struct tls_seen_map *m, const char *domain,
                          const struct mta_report *report, unsigned delivered, unsigned remember)
{
	int achieved = tls_seen_achieved(report->peer);

	if (delivered == 0 || remember == 0 || achieved < 0 || strcmp(report->source, "override") == 0)
		return;
	tls_seen_note(m, domain, (uint32_t)achieved, (uint64_t)time(NULL), remember);
}

/* Writes TEXT (LEN bytes) to PATH through PATH.tmp: write, fsync, rename,
 * fsync of the directory. */
static int tls_memory_write(const char *text, size_t len, const char **error_r)
{
	static const char tmp[] = TLS_SEEN_PATH ".tmp";
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	if (write_all(fd, text, len) < 0 || fsync(fd) < 0) {
		*error_r = strerror(errno);
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) < 0 || rename(tmp, TLS_SEEN_PATH) < 0) {
		*error_r = strerror(errno);
		unlink(tmp);
		return -1;
	}
	if (fsync_dir(TLS_SEEN_DIR) < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	return 0;
}

int tls_memory_save(struct tls_seen_map *m, unsigned remember)
{
	const char *why = NULL;
	char *text;
	size_t len;
	int r;

	if (remember > 0)
		tls_seen_expire(m, (uint64_t)time(NULL), remember);
	if (!m->dirty)
		return 0;
	text = tls_seen_format(m, &len);
	r = tls_memory_write(text, len, &why);
	free(text);
	if (r < 0) {
		log_error("event=tls-memory-error file=" TLS_SEEN_PATH " reason=\"%s\"", why);
		return -1;
	}
	m->dirty = 0;
	return 0;
}
