/*
 * util.h: small helpers every role uses: allocation that aborts on
 * out-of-memory, bounded string copies, hex digits, random identifiers,
 * time, peer addresses as text.
 */
#ifndef SEALMAIL_UTIL_H
#define SEALMAIL_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
/* printf into a new string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Copies SRC into DST of SIZE bytes, always NUL-terminating. Returns 0, or -1
 * when SRC did not fit (DST then holds a truncated copy). */
int strlcpy_checked(char *dst, const char *src, size_t size);

/* Lower-cases S in place (ASCII only). */
void str_lower(char *s);

/* The octet the two hex digits (either case) at S spell, or -1 when S does
 * not start with two; reads S[1] only when S[0] is a digit, so a NUL
 * stops it. For %XX (RFC 2231), =XX (RFC 2045) and +XX (RFC 3461). */
int hex_pair_value(const char *s);

/* LEN octets at DATA as lower-case hex, NUL-terminated, into BUF of SIZE
 * bytes; cut at a whole octet when it does not fit. */
void hex_lower(const void *data, size_t len, char *buf, size_t size);

/* Fills BUF with LEN random bytes from the kernel; aborts when it cannot. */
void random_bytes(void *buf, size_t len);
/* Fills BUF (SIZE bytes, at most 65) with random lower-case hex digits and
 * a NUL: the identifier a session's log lines carry. */
void random_hex_id(char *buf, size_t size);

/* Writes all of BUF to FD, retrying on EINTR and short writes. */
int write_all(int fd, const void *buf, size_t len);

/* Reads a whole (small, <= MAX bytes) file into a NUL-terminated buffer.
 * Returns NULL with errno set on failure; *len_r gets the length. */
char *read_file(const char *path, size_t max, size_t *len_r);

/* Seconds and microseconds since the epoch. */
uint64_t now_usec(void);

struct sockaddr;
/* The peer SA as the logs and Received: fields show it: its address into
 * ADDR and its port into PORT; a local peer (AF_UNIX, or SA NULL) is
 * "127.0.0.1" port "local". */
void sockaddr_describe(const struct sockaddr *sa, char *addr, size_t addr_size, char *port,
                       size_t port_size);

/* RFC 5322 date-time for T (local time with numeric zone) into BUF. */
void rfc5322_date(time_t t, char *buf, size_t size);

/* What a file looked like, to notice that it changed. */
struct file_stamp {
	dev_t dev;
	ino_t ino;
	off_t size;
	time_t mtime_sec;
	long mtime_nsec;
};

/* 1 when PATH differs from *STAMP (which is updated), 0 when not, -1 with
 * errno when it cannot be looked at. */
int file_changed(const char *path, struct file_stamp *stamp);

/* fsync of the directory at PATH. */
int fsync_dir(const char *path);

/* mkdir -p with MODE for each component created. */
int mkdir_p(const char *path, mode_t mode);

#endif
