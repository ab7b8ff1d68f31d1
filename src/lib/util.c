/*
 * util.c: see util.h.
 */
#include "lib/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static void oom(void)
{
	static const char msg[] = "sealmail: out of memory\n";
	(void)!write(2, msg, sizeof(msg) - 1);
	abort();
}

void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (p == NULL)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (p == NULL)
		oom();
	return p;
}

void *xrealloc(void *p, size_t size)
{
	p = realloc(p, size ? size : 1);
	if (p == NULL)
		oom();
	return p;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (p == NULL)
		oom();
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) < 0)
		oom();
	va_end(ap);
	return p;
}

int strlcpy_checked(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size == 0)
		return -1;
	if (n >= size) {
		memcpy(dst, src, size - 1);
		dst[size - 1] = '\0';
		return -1;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

void str_lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s += 'a' - 'A';
}

/* The value of the hex digit C, or -1. */
static int hex_digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int hex_pair_value(const char *s)
{
	int hi = hex_digit_value(s[0]), lo = hi < 0 ? -1 : hex_digit_value(s[1]);

	return lo < 0 ? -1 : hi * 16 + lo;
}

void random_bytes(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			abort();
		}
		p += n;
		len -= (size_t)n;
	}
}

static const char hex_digits[] = "0123456789abcdef";

void hex_lower(const void *data, size_t len, char *buf, size_t size)
{
	const unsigned char *p = data;
	size_t i;

	if (size == 0)
		return;
	for (i = 0; i < len && 2 * i + 2 < size; i++) {
		buf[2 * i] = hex_digits[p[i] >> 4];
		buf[2 * i + 1] = hex_digits[p[i] & 0xf];
	}
	buf[2 * i] = '\0';
}

void random_hex_id(char *buf, size_t size)
{
	unsigned char rnd[32];
	size_t n = size > 0 ? size - 1 : 0;

	if (size == 0)
		return;
	if (n > 2 * sizeof(rnd))
		n = 2 * sizeof(rnd);
	random_bytes(rnd, (n + 1) / 2);
	for (size_t i = 0; i < n; i++)
		buf[i] = hex_digits[i % 2 == 0 ? rnd[i / 2] >> 4 : rnd[i / 2] & 0xf];
	buf[n] = '\0';
}

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

char *read_file(const char *path, size_t max, size_t *len_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0, cap = 4096;
	char *buf;

	if (fd < 0)
		return NULL;
	buf = xmalloc(cap + 1);
	for (;;) {
		ssize_t n;
		if (len == cap) {
			if (cap >= max) {
				free(buf);
				close(fd);
				errno = EFBIG;
				return NULL;
			}
			/* grown by hand, so no copy of what was read (a users
			 * file's hashes) is left in freed memory */
			char *bigger = xmalloc(cap * 2 + 1);
			memcpy(bigger, buf, len);
			explicit_bzero(buf, cap + 1);
			free(buf);
			buf = bigger;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;
			free(buf);
			close(fd);
			errno = saved;
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	if (len_r)
		*len_r = len;
	return buf;
}

uint64_t now_usec(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec;
}

void sockaddr_describe(const struct sockaddr *sa, char *addr, size_t addr_size, char *port,
                       size_t port_size)
{
	if (sa == NULL || sa->sa_family == AF_UNIX) {
		snprintf(addr, addr_size, "127.0.0.1");
		snprintf(port, port_size, "local");
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, addr, (socklen_t)addr_size);
		snprintf(port, port_size, "%u", ntohs(in6->sin6_port));
	} else {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, addr, (socklen_t)addr_size);
		snprintf(port, port_size, "%u", ntohs(in->sin_port));
	}
}

void rfc5322_date(time_t t, char *buf, size_t size)
{
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(buf, size, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

int mkdir_p(const char *path, mode_t mode)
{
	char buf[4096];
	char *p;

	if (strlcpy_checked(buf, path, sizeof(buf)) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

int file_changed(const char *path, struct file_stamp *stamp)
{
	struct file_stamp now;
	struct stat st;

	if (stat(path, &st) < 0)
		return -1;
	memset(&now, 0, sizeof(now));
	now.dev = st.st_dev;
	now.ino = st.st_ino;
	now.size = st.st_size;
	now.mtime_sec = st.st_mtim.tv_sec;
	now.mtime_nsec = st.st_mtim.tv_nsec;
	if (memcmp(&now, stamp, sizeof(now)) == 0)
		return 0;
	*stamp = now;
	return 1;
}
