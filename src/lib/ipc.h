/*
 * ipc.h: typed messages between sealmail's roles over Unix socket pairs.
 *
 * A message is a fixed header (type, request id, payload length, whether a
 * file descriptor rides along) followed by its payload. File descriptors go
 * with SCM_RIGHTS and are queued in arrival order, as OpenBSD's imsg does,
 * so a stream socket can carry them. Payloads are built and read with the
 * ipc_writer / ipc_reader helpers, which bound every field.
 */
#ifndef SEALMAIL_IPC_H
#define SEALMAIL_IPC_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct ipc_channel;

#define IPC_MAX_PAYLOAD (64 * 1024 * 1024)

/* Called for each message. FD is -1 unless one came with it; the handler
 * owns it. */
typedef void ipc_handler_fn(struct ipc_channel *ch, uint32_t type, uint64_t id, const void *data,
                            size_t len, int fd, void *arg);
/* Called once when the peer went away or sent garbage; the channel is
 * unusable afterwards and the callee should free it. */
typedef void ipc_closed_fn(struct ipc_channel *ch, void *arg);

struct ipc_channel *ipc_channel_new(struct event_base *base, int fd, ipc_handler_fn *handler,
                                    ipc_closed_fn *closed, void *arg);
void ipc_channel_free(struct ipc_channel **ch);
/* The channel's socket, so a forked child can close its copy. */
int ipc_channel_fd(const struct ipc_channel *ch);

/* In a child just forked: wipes and forgets what CH has buffered either
 * way, unsent output included (the parent's users file, say), and closes
 * the descriptors queued or received on it, without touching the socket.
 * The channel is still to be freed or closed. */
void ipc_channel_forget_buffers(struct ipc_channel *ch);

/* Queues a message; FD (or -1) is sent with it and closed here once sent. */
void ipc_send(struct ipc_channel *ch, uint32_t type, uint64_t id, const void *data, size_t len,
              int fd);

/* ---- payload encoding ---------------------------------------------- */

struct ipc_writer {
	unsigned char *buf;
	size_t len, cap;
};

void ipc_writer_init(struct ipc_writer *w);
void ipc_writer_free(struct ipc_writer *w);
void ipc_put_u32(struct ipc_writer *w, uint32_t v);
void ipc_put_u64(struct ipc_writer *w, uint64_t v);
void ipc_put_str(struct ipc_writer *w, const char *s);
void ipc_put_bytes(struct ipc_writer *w, const void *p, size_t len);

struct ipc_reader {
	const unsigned char *p;
	size_t left;
	int error; /* set once anything did not fit */
};

void ipc_reader_init(struct ipc_reader *r, const void *data, size_t len);
uint32_t ipc_get_u32(struct ipc_reader *r);
uint64_t ipc_get_u64(struct ipc_reader *r);
/* Copies a string into BUF of SIZE; an over-long or NUL-containing string
 * sets r->error. */
void ipc_get_str(struct ipc_reader *r, char *buf, size_t size);
/* As ipc_get_str, into a new string of the string's own length (shorter
 * than SIZE); NULL with r->error set when it does not fit. */
char *ipc_get_strdup(struct ipc_reader *r, size_t size);
/* Takes the LEN octets that follow, without copying; NULL with r->error
 * set when fewer are left. */
const void *ipc_get_bytes(struct ipc_reader *r, size_t len);
/* 0 when every field was read and nothing is left over. */
int ipc_reader_done(const struct ipc_reader *r);

#endif
