/*
 * check_conn.c: see check_conn.h.
 */
#include "ctl/check_conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/util.h"

/* Waits for EVENTS on C's socket until its deadline. Returns 0 or -1. */
static int check_conn_wait(struct check_conn *c, short events)
{
	struct pollfd pfd = {.fd = c->fd, .events = events};
	uint64_t now = now_usec();
	int r;

	if (now >= c->deadline_usec)
		return -1;
	do
		r = poll(&pfd, 1, (int)((c->deadline_usec - now) / 1000 + 1));
	while (r < 0 && errno == EINTR);
	return r > 0 ? 0 : -1;
}

/* ADDR:PORT as a socket address. Returns its length, or 0. */
static socklen_t check_conn_addr(const char *addr, unsigned port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		return sizeof(*sin);
	}
	if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		return sizeof(*sin6);
	}
	return 0;
}

int check_conn_open(struct check_conn *c, const char *addr, unsigned port, unsigned seconds,
                    const char **error_r)
{
	static char err[300];
	struct sockaddr_storage ss;
	socklen_t len = check_conn_addr(addr, port, &ss);
	int soerr = 0;
	socklen_t soerr_len = sizeof(soerr);

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	smtp_reply_parser_init(&c->parser);
	if (len == 0) {
		*error_r = "not an IP address";
		return -1;
	}
	c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	check_conn_deadline(c, seconds);
	if (c->fd < 0 || (connect(c->fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS))
		goto fail;
	if (check_conn_wait(c, POLLOUT) < 0) {
		errno = ETIMEDOUT;
		goto fail;
	}
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &soerr_len) < 0 || soerr != 0) {
		errno = soerr ? soerr : errno;
		goto fail;
	}
	return 0;
fail:
	snprintf(err, sizeof(err), "%s", strerror(errno));
	*error_r = err;
	check_conn_close(c);
	return -1;
}

void check_conn_deadline(struct check_conn *c, unsigned seconds)
{
	c->deadline_usec = now_usec() + (uint64_t)seconds * 1000000;
	if (c->tls != NULL)
		tls_probe_deadline(c->tls, c->deadline_usec);
}

/* Reads more input into C. Returns 0, or -1 with *error_r. */
static int check_conn_fill(struct check_conn *c, const char **error_r)
{
	long n;

	if (c->len == sizeof(c->in)) {
		*error_r = "reply too long";
		return -1;
	}
	if (c->tls != NULL) {
		n = tls_probe_read(c->tls, c->in + c->len, sizeof(c->in) - c->len);
	} else {
		do {
			n = read(c->fd, c->in + c->len, sizeof(c->in) - c->len);
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				break;
		} while (n < 0 && check_conn_wait(c, POLLIN) == 0);
	}
	if (n <= 0) {
		*error_r = n == 0 ? "connection closed by the server" : "timed out or read error";
		return -1;
	}
	c->len += (size_t)n;
	return 0;
}

int check_conn_reply(struct check_conn *c, struct smtp_reply *reply, const char **error_r)
{
	for (;;) {
		size_t used = 0;
		enum smtp_reply_status st =
		    smtp_reply_feed(&c->parser, c->in, c->len, &used, reply, error_r);
		memmove(c->in, c->in + used, c->len - used);
		c->len -= used;
		if (st == SMTP_REPLY_OK)
			return 0;
		if (st == SMTP_REPLY_ERROR)
			return -1;
		if (check_conn_fill(c, error_r) < 0)
			return -1;
	}
}

int check_conn_send(struct check_conn *c, const char *line, const char **error_r)
{
	char buf[SMTP_REPLY_LINE_MAX + 2];
	int n = snprintf(buf, sizeof(buf), "%s\r\n", line);
	size_t done = 0;

	if (n < 0 || (size_t)n >= sizeof(buf)) {
		*error_r = "command too long";
		return -1;
	}
	if (c->tls != NULL) {
		if (tls_probe_write(c->tls, buf, (size_t)n) == 0)
			return 0;
		*error_r = "write failed or timed out";
		return -1;
	}
	while (done < (size_t)n) {
		ssize_t w = write(c->fd, buf + done, (size_t)n - done);
		if (w > 0)
			done += (size_t)w;
		else if ((w < 0 && errno != EAGAIN && errno != EINTR) ||
		         check_conn_wait(c, POLLOUT) < 0) {
			*error_r = "write failed or timed out";
			return -1;
		}
	}
	return 0;
}

int check_conn_starttls(struct check_conn *c, struct tls_client *client,
                        const struct tls_probe_params *params, struct tls_probe_result *result,
                        size_t *dropped_r, const char **error_r)
{
	struct tls_probe_params p = *params;

	/* RFC 3207 5: there must not be any pending plaintext */
	*dropped_r = c->len;
	c->len = 0;
	smtp_reply_parser_init(&c->parser);
	p.deadline_usec = c->deadline_usec;
	c->tls = tls_probe_start(client, c->fd, &p, result, error_r);
	return c->tls != NULL ? 0 : -1;
}

void check_conn_close(struct check_conn *c)
{
	tls_probe_free(&c->tls);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}
