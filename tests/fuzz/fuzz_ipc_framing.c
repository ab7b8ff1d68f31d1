/*
 * fuzz_ipc_framing.c: libFuzzer harness for what a role reads from another
 * role: the message framing of lib/ipc.c (the input is written as raw bytes
 * into a channel's socket; every message handed on must lie within what
 * was sent, and garbage must close the channel, not crash it), then the
 * payload decoders of the delivery messages, IMSG_MTA_DELIVER
 * (proto_task_decode, dispatcher side) and IMSG_MTA_RESULT
 * (proto_task_result_decode, queue side), and the ipc_reader primitives.
 * fuzz_proto.c fuzzes every other decoder.
 */
#include <event2/event.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "lib/ipc.h"
#include "proto/queue.h"

struct harness {
	const uint8_t *data;
	size_t size;
	size_t delivered; /* payload octets handed on */
	unsigned sum;
	int closed;
};

static void handler(struct ipc_channel *ch, uint32_t type, uint64_t id, const void *data,
                    size_t len, int fd, void *arg)
{
	struct harness *h = arg;

	CHECK(fd == -1); /* none were sent */
	CHECK(len <= IPC_MAX_PAYLOAD && h->delivered + len <= h->size);
	h->delivered += len;
	for (size_t i = 0; i < len; i++) /* every octet is readable */
		h->sum += ((const uint8_t *)data)[i];
}

static void closed(struct ipc_channel *ch, void *arg)
{
	struct harness *h = arg;

	h->closed = 1;
}

static void fuzz_framing(const uint8_t *data, size_t size)
{
	struct harness h = {.data = data, .size = size};
	struct event_base *base = event_base_new();
	struct ipc_channel *ch;
	int sv[2];

	CHECK(base != NULL && socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	ch = ipc_channel_new(base, sv[0], handler, closed, &h);
	CHECK(size == 0 || write(sv[1], data, size) == (ssize_t)size);
	close(sv[1]);
	for (int i = 0; i < 100 && !h.closed; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	CHECK(h.closed); /* the peer hung up: the channel must say so */
	ipc_channel_free(&ch);
	event_base_free(base);
}

/* A decoded task must encode back to the same bytes. */
static void fuzz_task(const uint8_t *data, size_t size)
{
	struct proto_task t;
	struct ipc_writer w;
	const char *why;

	if (proto_task_decode(&t, data, size, &why) < 0)
		return;
	CHECK(t.n_rcpts >= 1 && t.n_rcpts <= ENVELOPE_MAX_RCPTS);
	ipc_writer_init(&w);
	proto_task_encode(&t, &w);
	CHECK(w.len == size && memcmp(w.buf, data, size) == 0);
	ipc_writer_free(&w);
	proto_task_free(&t);
}

/* A decoded result holds only outcomes the queue can store. */
static void fuzz_result(const uint8_t *data, size_t size)
{
	struct proto_task_result t;
	const char *why;

	if (proto_task_result_decode(&t, data, size, &why) < 0)
		return;
	for (unsigned i = 0; i < t.n_rcpts; i++) {
		CHECK(t.rcpts[i].outcome <= MTA_PERMFAIL);
		CHECK(t.rcpts[i].status.enhanced[0] == '\0' ||
		      delivery_enhanced_valid(t.rcpts[i].status.enhanced));
		CHECK(delivery_reply_code_valid(t.rcpts[i].status.reply_code));
		CHECK(memchr(t.rcpts[i].status.text, '\0', sizeof(t.rcpts[i].status.text)) != NULL);
	}
	CHECK(memchr(t.report.relay, '\0', sizeof(t.report.relay)) != NULL);
	proto_task_result_free(&t);
}

/* The reader primitives in any order; the input's first bytes pick them. */
static void fuzz_reader(const uint8_t *data, size_t size)
{
	struct ipc_reader r;
	char buf[16];
	size_t ops = size < 8 ? size : 8;

	ipc_reader_init(&r, data + ops, size - ops);
	for (size_t i = 0; i < ops; i++) {
		size_t before = r.left;
		if (data[i] % 3 == 0)
			(void)ipc_get_u32(&r);
		else if (data[i] % 3 == 1)
			(void)ipc_get_u64(&r);
		else
			ipc_get_str(&r, buf, 1 + data[i] % sizeof(buf));
		CHECK(r.left <= before);
		if (data[i] % 3 == 2)
			CHECK(strlen(buf) < sizeof(buf));
	}
	CHECK(ipc_reader_done(&r) == ((r.error || r.left) ? -1 : 0));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_logs();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0:
		fuzz_framing(data + 1, size - 1);
		break;
	case 1:
		fuzz_task(data + 1, size - 1);
		break;
	case 2:
		fuzz_result(data + 1, size - 1);
		break;
	default:
		fuzz_reader(data + 1, size - 1);
	}
	return 0;
}
