/*
 * sts_cache_file.c: one file per domain in data_dir/sts/, named by the
 * domain (a valid host name: letters, digits, hyphens and dots, so a safe
 * file name), holding the policy as it was fetched:
 *
 *   sealmail-sts-cache 1
 *   id: 2026120101
 *   fetched: 1796119200
 *
 *   version: STSv1
 *   mode: enforce
 *   max_age: 86400
 *   mx: mx.example.com
 *
 * The file is read back by sts_cache_text_parse() (policy/sts.h), whose
 * policy part is the parser of a fetched policy; the queue's TLS reports
 * read it too, for the policy's lines. Written as a temporary file, fsync'ed, renamed over the
 * old one and the directory fsync'ed, so a crash leaves the old policy or
 * the new one, never a mix. Called by sts_cache.c; `policy explain` reads
 * the files and turns a fetch into a policy with the same functions.
 */
#include "lookup/sts_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns/sts_fetch.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lookup/sts_cache_private.h"
#include "policy/sts.h"

#define STS_CACHE_PATH_MAX 4400
/* a policy is written to "." DOMAIN ".tmp", then renamed to DOMAIN */
#define STS_CACHE_TMP_PREFIX "."
#define STS_CACHE_TMP_SUFFIX ".tmp"

int sts_policy_valid_at(const struct sts_policy *p, uint64_t now)
{
	return p->mode != STS_MODE_ABSENT && now < p->fetched + p->max_age;
}

int sts_policy_from_fetch(const struct sts_fetch_result *r, const char *id, uint64_t now,
                          struct sts_policy *p, const char **error_r)
{
	memset(p, 0, sizeof(*p));
	if (!r->ok) {
		*error_r = r->error;
		return -1;
	}
	if (sts_policy_parse(r->body, r->len, p, error_r) < 0)
		return -2;
	strlcpy_checked(p->id, id, sizeof(p->id));
	p->fetched = now;
	return 0;
}

int sts_cache_format(const struct sts_policy *p, char *buf, size_t size)
{
	size_t o;
	int n;
	unsigned i;

	n = snprintf(buf, size,
	             STS_CACHE_FILE_MAGIC "id: %s\nfetched: %llu\n\nversion: STSv1\n"
	                                  "mode: %s\nmax_age: %u\n",
	             p->id, (unsigned long long)p->fetched, sts_mode_name(p->mode), p->max_age);
	if (n < 0 || (size_t)n >= size)
		return -1;
	o = (size_t)n;
	for (i = 0; i < p->n_mx && i < STS_MX_MAX; i++) {
		n = snprintf(buf + o, size - o, "mx: %s\n", p->mx[i]);
		if (n < 0 || (size_t)n >= size - o)
			return -1;
		o += (size_t)n;
	}
	return (int)o;
}

int sts_cache_parse(const char *text, size_t len, struct sts_policy *p, const char **error_r)
{
	const char *body;
	size_t body_len;

	return sts_cache_text_parse(text, len, p, &body, &body_len, error_r);
}

static void sts_cache_path(char *buf, size_t size, const char *dir, const char *prefix,
                           const char *domain, const char *suffix)
{
	snprintf(buf, size, "%s/%s%s%s", dir, prefix, domain, suffix);
}

int sts_cache_file_load(const char *dir, const char *domain, struct sts_policy *p)
{
	char path[STS_CACHE_PATH_MAX], v[300];
	const char *why = NULL;
	size_t len;
	char *text;
	int r;

	sts_cache_path(path, sizeof(path), dir, "", domain, "");
	text = read_file(path, STS_CACHE_FILE_SIZE_MAX, &len);
	if (text == NULL && errno == ENOENT)
		return 0;
	if (text == NULL)
		why = strerror(errno);
	r = text != NULL ? sts_cache_parse(text, len, p, &why) : -1;
	free(text);
	if (r == 0)
		return 1;
	memset(p, 0, sizeof(*p));
	log_warn("event=sts-cache-error file=%s reason=\"%s; removed\"",
	         log_value(path, v, sizeof(v)), why);
	(void)unlink(path);
	return -1;
}

int sts_cache_file_store(const char *dir, const char *domain, const struct sts_policy *p,
                         const char **error_r)
{
	char path[STS_CACHE_PATH_MAX], tmp[STS_CACHE_PATH_MAX], text[STS_CACHE_FILE_SIZE_MAX];
	int len = sts_cache_format(p, text, sizeof(text)), fd, failed;

	if (len < 0) {
		*error_r = "policy too large for its file";
		return -1;
	}
	/* a domain never starts with a dot: ".DOMAIN.tmp" is no domain's file */
	sts_cache_path(path, sizeof(path), dir, "", domain, "");
	sts_cache_path(tmp, sizeof(tmp), dir, STS_CACHE_TMP_PREFIX, domain, STS_CACHE_TMP_SUFFIX);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	failed = write_all(fd, text, (size_t)len) < 0 || fsync(fd) < 0;
	failed = close(fd) < 0 || failed;
	if (failed || rename(tmp, path) < 0) {
		*error_r = strerror(errno);
		(void)unlink(tmp);
		return -1;
	}
	if (fsync_dir(dir) < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	return 0;
}

void sts_cache_file_remove(const char *dir, const char *domain)
{
	char path[STS_CACHE_PATH_MAX];

	sts_cache_path(path, sizeof(path), dir, "", domain, "");
	(void)unlink(path);
}

/* 1 when NAME is what sts_cache_file_store() writes before its rename. */
static int sts_cache_file_is_tmp(const char *name)
{
	const size_t pre = sizeof(STS_CACHE_TMP_PREFIX) - 1, suf = sizeof(STS_CACHE_TMP_SUFFIX) - 1;
	size_t len = strlen(name);
	char domain[STS_HOST_MAX + 1];

	if (len <= pre + suf || len - pre - suf > STS_HOST_MAX ||
	    strncmp(name, STS_CACHE_TMP_PREFIX, pre) != 0 ||
	    strcmp(name + len - suf, STS_CACHE_TMP_SUFFIX) != 0)
		return 0;
	memcpy(domain, name + pre, len - pre - suf);
	domain[len - pre - suf] = '\0';
	return sts_host_valid(domain);
}

/* What the prune does with the file NAME in DIR at NOW: 1 remove it, 0
 * keep it (a policy file), -1 leave it and not count it (a dot-file the
 * cache did not write). */
static int sts_cache_file_stale(const char *dir, const char *name, uint64_t now)
{
	struct sts_policy p;

	if (sts_cache_file_is_tmp(name))
		return 1; /* a write cut short */
	if (name[0] == '.')
		return -1;
	if (!sts_host_valid(name))
		return 1;
	return sts_cache_file_load(dir, name, &p) != 1 || !sts_policy_valid_at(&p, now);
}

unsigned sts_cache_file_prune(const char *dir, uint64_t now)
{
	char path[STS_CACHE_PATH_MAX];
	struct dirent *de;
	unsigned left = 0;
	DIR *d = opendir(dir);

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		int stale;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		stale = sts_cache_file_stale(dir, de->d_name, now);
		if (stale <= 0) {
			left += stale == 0;
			continue;
		}
		sts_cache_path(path, sizeof(path), dir, "", de->d_name, "");
		(void)unlink(path);
	}
	closedir(d);
	return left;
}
