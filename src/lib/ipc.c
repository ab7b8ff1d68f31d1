/*
 * ipc.c: see ipc.h.
 */
#include "lib/ipc.h"

#include <errno.h>
#include <fcntl.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"

#define IPC_MAX_FDS_QUEUED 64
#define IPC_READ_CHUNK 65536

struct ipc_header {
	uint32_t type;
	uint32_t len;
	uint64_t id;
	uint32_t has_fd;
	uint32_t pad;
};

struct ipc_pending_fd {
	int fd;
	size_t offset; /* position in the output stream of its message */
};

struct ipc_channel {
	int fd;
	struct event *ev_read, *ev_write, *ev_closed;
	ipc_handler_fn *handler;
	ipc_closed_fn *closed;
	void *arg;

	unsigned char *in;
	size_t in_len, in_cap;
	int in_fds[IPC_MAX_FDS_QUEUED];
	unsigned n_in_fds;

	unsigned char *out;
	size_t out_head;       /* queued output is out[out_head .. out_head + out_len) */
	size_t out_len, out_cap;
	size_t out_sent_total; /* bytes sent since creation, for fd offsets */
	struct ipc_pending_fd *out_fds;
	unsigned n_out_fds, cap_out_fds;

	int dead;
};

static void ipc_read_cb(evutil_socket_t fd, short what, void *arg);

/* Grows *BUF (of *CAP octets, LEN in use from HEAD, moved to the front) to
 * at least NEED without leaving a copy behind: what passes through a
 * channel can be a password or a users file, so old buffers are wiped
 * before they are freed. */
static void ipc_grow_from(unsigned char **buf, size_t *cap, size_t head, size_t len, size_t need)
{
	unsigned char *bigger = xmalloc(need);

	if (len > 0)
		memcpy(bigger, *buf + head, len);
	if (*buf != NULL) {
		explicit_bzero(*buf, *cap);
		free(*buf);
	}
	*buf = bigger;
	*cap = need;
}

static void ipc_grow(unsigned char **buf, size_t *cap, size_t len, size_t need)
{
	ipc_grow_from(buf, cap, 0, len, need);
}

static void ipc_closed_cb(evutil_socket_t fd, short what, void *arg);
static void ipc_write_cb(evutil_socket_t fd, short what, void *arg);

struct ipc_channel *ipc_channel_new(struct event_base *base, int fd, ipc_handler_fn *handler,
                                    ipc_closed_fn *closed, void *arg)
{
	struct ipc_channel *ch = xcalloc(1, sizeof(*ch));

	evutil_make_socket_nonblocking(fd);
	evutil_make_socket_closeonexec(fd);
	ch->fd = fd;
	ch->handler = handler;
	ch->closed = closed;
	ch->arg = arg;
	ch->ev_read = event_new(base, fd, EV_READ | EV_PERSIST, ipc_read_cb, ch);
	ch->ev_write = event_new(base, fd, EV_WRITE, ipc_write_cb, ch);
	ch->ev_closed = event_new(base, -1, 0, ipc_closed_cb, ch);
	event_add(ch->ev_read, NULL);
	return ch;
}

void ipc_channel_free(struct ipc_channel **chp)
{
	struct ipc_channel *ch = *chp;
	unsigned i;

	if (ch == NULL)
		return;
	*chp = NULL;
	event_free(ch->ev_read);
	event_free(ch->ev_write);
	event_free(ch->ev_closed);
	close(ch->fd);
	for (i = 0; i < ch->n_in_fds; i++)
		close(ch->in_fds[i]);
	for (i = 0; i < ch->n_out_fds; i++)
		close(ch->out_fds[i].fd);
	free(ch->out_fds);
	free(ch->in);
	free(ch->out);
	free(ch);
}

int ipc_channel_fd(const struct ipc_channel *ch)
{
	return ch->fd;
}

static void ipc_closed_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_channel *ch = arg;

	ch->closed(ch, ch->arg);
}

/* Marks the channel dead and tells the owner once, from the event loop:
 * never from inside ipc_send(), whose caller may still use the channel. */
static void ipc_fail(struct ipc_channel *ch)
{
	if (ch->dead)
		return;
	ch->dead = 1;
	event_del(ch->ev_read);
	event_del(ch->ev_write);
	event_active(ch->ev_closed, 0, 0);
}

static void ipc_take_fds(struct ipc_channel *ch, struct msghdr *msg)
{
	struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
		size_t n, i;
		int *fds;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		fds = (int *)CMSG_DATA(c);
		for (i = 0; i < n; i++) {
			if (ch->n_in_fds < IPC_MAX_FDS_QUEUED)
				ch->in_fds[ch->n_in_fds++] = fds[i];
			else
				close(fds[i]);
		}
	}
}

/* Delivers every complete message in the input buffer. Returns -1 when the
 * peer broke the protocol. */
static int ipc_dispatch(struct ipc_channel *ch)
{
	size_t off = 0;

	while (!ch->dead && ch->in_len - off >= sizeof(struct ipc_header)) {
		struct ipc_header h;
		int fd = -1;

		memcpy(&h, ch->in + off, sizeof(h));
		if (h.len > IPC_MAX_PAYLOAD)
			return -1;
		if (ch->in_len - off < sizeof(h) + h.len)
			break;
		if (h.has_fd) {
			if (ch->n_in_fds == 0)
				return -1;
			fd = ch->in_fds[0];
			memmove(ch->in_fds, ch->in_fds + 1, --ch->n_in_fds * sizeof(int));
		}
		off += sizeof(h) + h.len;
		ch->handler(ch, h.type, h.id, ch->in + off - h.len, h.len, fd, ch->arg);
	}
	if (off > 0) {
		memmove(ch->in, ch->in + off, ch->in_len - off);
		ch->in_len -= off;
		explicit_bzero(ch->in + ch->in_len, off); /* handled: forget it */
	}
	return 0;
}

static void ipc_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_channel *ch = arg;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 8)];
	} cbuf;
	struct msghdr msg;
	struct iovec iov;
	ssize_t n;

	if (ch->in_cap - ch->in_len < IPC_READ_CHUNK)
		ipc_grow(&ch->in, &ch->in_cap, ch->in_len,
		         ch->in_len + IPC_READ_CHUNK > 2 * ch->in_cap ? ch->in_len + IPC_READ_CHUNK
		                                                      : 2 * ch->in_cap);
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = ch->in + ch->in_len;
	iov.iov_len = ch->in_cap - ch->in_len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf.buf;
	msg.msg_controllen = sizeof(cbuf.buf);
	n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		ipc_fail(ch);
		return;
	}
	ipc_take_fds(ch, &msg);
	ch->in_len += (size_t)n;
	if (ipc_dispatch(ch) < 0) {
		log_error("event=ipc-error reason=\"malformed message from peer\"");
		ipc_fail(ch);
	}
}

/* Sends as much queued output as the socket takes. Returns -1 on a hard
 * error. */
static int ipc_write_some(struct ipc_channel *ch)
{
	while (ch->out_len > 0) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int))];
		} cbuf;
		struct msghdr msg;
		struct iovec iov;
		size_t limit = ch->out_len;
		int with_fd = 0;
		ssize_t n;

		if (ch->n_out_fds > 0) {
			size_t at = ch->out_fds[0].offset - ch->out_sent_total;
			if (at == 0)
				with_fd = 1;
			if (ch->n_out_fds > (unsigned)with_fd)
				limit = ch->out_fds[with_fd].offset - ch->out_sent_total;
			else if (!with_fd)
				limit = at;
		}
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = ch->out + ch->out_head;
		iov.iov_len = limit;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		if (with_fd) {
			struct cmsghdr *c;
			msg.msg_control = cbuf.buf;
			msg.msg_controllen = sizeof(cbuf.buf);
			c = CMSG_FIRSTHDR(&msg);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(c), &ch->out_fds[0].fd, sizeof(int));
		}
		n = sendmsg(ch->fd, &msg, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return -1;
		if (with_fd) {
			close(ch->out_fds[0].fd);
			memmove(ch->out_fds, ch->out_fds + 1,
			        --ch->n_out_fds * sizeof(ch->out_fds[0]));
		}
		/* sent: forget it; the rest stays where it is (moving it after
		 * every write made a large queue cost its square) */
		explicit_bzero(ch->out + ch->out_head, (size_t)n);
		ch->out_head += (size_t)n;
		ch->out_len -= (size_t)n;
		ch->out_sent_total += (size_t)n;
		if (ch->out_len == 0)
			ch->out_head = 0;
	}
	return 0;
}

static void ipc_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_channel *ch = arg;

	if (ipc_write_some(ch) < 0) {
		ipc_fail(ch);
		return;
	}
	if (ch->out_len > 0)
		event_add(ch->ev_write, NULL);
}

/* Makes room for NEED octets of queued output from out_head: the queue is
 * moved to the front only when the space sent before it is at least as
 * large as it (so each octet is moved about once), else the buffer grows. */
static void ipc_out_room(struct ipc_channel *ch, size_t need)
{
	if (ch->out_head + need <= ch->out_cap)
		return;
	if (ch->out_head >= ch->out_len && need <= ch->out_cap) {
		memmove(ch->out, ch->out + ch->out_head, ch->out_len);
		explicit_bzero(ch->out + ch->out_len, ch->out_head);
		ch->out_head = 0;
		return;
	}
	ipc_grow_from(&ch->out, &ch->out_cap, ch->out_head, ch->out_len, need * 2);
	ch->out_head = 0;
}

void ipc_send(struct ipc_channel *ch, uint32_t type, uint64_t id, const void *data, size_t len,
              int fd)
{
	struct ipc_header h = {.type = type, .len = (uint32_t)len, .id = id, .has_fd = fd >= 0};
	size_t need = ch->out_len + sizeof(h) + len;
	unsigned char *tail;

	if (ch->dead || len > IPC_MAX_PAYLOAD) {
		if (fd >= 0)
			close(fd);
		return;
	}
	ipc_out_room(ch, need);
	if (fd >= 0) {
		if (ch->n_out_fds == ch->cap_out_fds) {
			ch->cap_out_fds = ch->cap_out_fds ? ch->cap_out_fds * 2 : 8;
			ch->out_fds =
			    xrealloc(ch->out_fds, ch->cap_out_fds * sizeof(ch->out_fds[0]));
		}
		ch->out_fds[ch->n_out_fds].fd = fd;
		ch->out_fds[ch->n_out_fds].offset = ch->out_sent_total + ch->out_len;
		ch->n_out_fds++;
	}
	tail = ch->out + ch->out_head + ch->out_len;
	memcpy(tail, &h, sizeof(h));
	if (len > 0)
		memcpy(tail + sizeof(h), data, len);
	ch->out_len += sizeof(h) + len;
	/* Write at once when the socket takes it: saves a loop iteration on
	 * the request/reply paths that sessions wait on. */
	if (ipc_write_some(ch) < 0) {
		ipc_fail(ch);
		return;
	}
	if (ch->out_len > 0)
		event_add(ch->ev_write, NULL);
}

void ipc_writer_init(struct ipc_writer *w)
{
	memset(w, 0, sizeof(*w));
}

void ipc_writer_free(struct ipc_writer *w)
{
	if (w->buf != NULL)
		explicit_bzero(w->buf, w->cap);
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

void ipc_put_bytes(struct ipc_writer *w, const void *p, size_t len)
{
	if (w->len + len > w->cap)
		ipc_grow(&w->buf, &w->cap, w->len, (w->len + len) * 2 + 64);
	memcpy(w->buf + w->len, p, len);
	w->len += len;
}

void ipc_put_u32(struct ipc_writer *w, uint32_t v)
{
	ipc_put_bytes(w, &v, sizeof(v));
}

void ipc_put_u64(struct ipc_writer *w, uint64_t v)
{
	ipc_put_bytes(w, &v, sizeof(v));
}

void ipc_put_str(struct ipc_writer *w, const char *s)
{
	size_t n = strlen(s);

	ipc_put_u32(w, (uint32_t)n);
	ipc_put_bytes(w, s, n);
}

void ipc_reader_init(struct ipc_reader *r, const void *data, size_t len)
{
	r->p = data;
	r->left = len;
	r->error = 0;
}

static int ipc_get_raw(struct ipc_reader *r, void *out, size_t len)
{
	if (r->error || r->left < len) {
		r->error = 1;
		memset(out, 0, len);
		return -1;
	}
	memcpy(out, r->p, len);
	r->p += len;
	r->left -= len;
	return 0;
}

uint32_t ipc_get_u32(struct ipc_reader *r)
{
	uint32_t v;

	ipc_get_raw(r, &v, sizeof(v));
	return v;
}

uint64_t ipc_get_u64(struct ipc_reader *r)
{
	uint64_t v;

	ipc_get_raw(r, &v, sizeof(v));
	return v;
}

void ipc_get_str(struct ipc_reader *r, char *buf, size_t size)
{
	uint32_t n = ipc_get_u32(r);

	buf[0] = '\0';
	if (r->error || n >= size || n > r->left || memchr(r->p, '\0', n) != NULL) {
		r->error = 1;
		return;
	}
	memcpy(buf, r->p, n);
	buf[n] = '\0';
	r->p += n;
	r->left -= n;
}

char *ipc_get_strdup(struct ipc_reader *r, size_t size)
{
	uint32_t n = ipc_get_u32(r);
	char *s;

	if (r->error || n >= size || n > r->left || memchr(r->p, '\0', n) != NULL) {
		r->error = 1;
		return NULL;
	}
	s = xmalloc((size_t)n + 1);
	memcpy(s, r->p, n);
	s[n] = '\0';
	r->p += n;
	r->left -= n;
	return s;
}

const void *ipc_get_bytes(struct ipc_reader *r, size_t len)
{
	const void *p = r->p;

	if (r->error || r->left < len) {
		r->error = 1;
		return NULL;
	}
	r->p += len;
	r->left -= len;
	return p;
}

int ipc_reader_done(const struct ipc_reader *r)
{
	return r->error || r->left != 0 ? -1 : 0;
}

void ipc_channel_forget_buffers(struct ipc_channel *ch)
{
	if (ch->in != NULL)
		explicit_bzero(ch->in, ch->in_cap);
	if (ch->out != NULL)
		explicit_bzero(ch->out, ch->out_cap);
	ch->in_len = ch->out_len = ch->out_head = 0;
	/* descriptors still queued (another child's end of its channel to a
	 * role, waiting for a full socket to drain) or received and not yet
	 * handled are the parent's, not this child's to hold open */
	for (unsigned i = 0; i < ch->n_out_fds; i++)
		close(ch->out_fds[i].fd);
	for (unsigned i = 0; i < ch->n_in_fds; i++)
		close(ch->in_fds[i]);
	ch->n_out_fds = ch->n_in_fds = 0;
}
