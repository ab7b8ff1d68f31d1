/*
 * test_ipc.c: messages and file descriptors over a socket pair arrive in
 * order, whole, and each descriptor with its own message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/event.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/ipc.h"

#define N_MESSAGES 2000

struct received {
	struct event_base *base;
	unsigned count;
	int closed;
	int bad;
};

static void on_message(struct ipc_channel *ch, uint32_t type, uint64_t id, const void *data,
                       size_t len, int fd, void *arg)
{
	struct received *r = arg;
	char expect[64], got[64];

	if (id != r->count || type != 7 || len != (size_t)(id % 300) + 1)
		r->bad++;
	if (len > 0 && ((const unsigned char *)data)[len - 1] != (unsigned char)id)
		r->bad++;
	/* every third message carries a pipe whose content names it */
	if ((id % 3 == 0) != (fd >= 0))
		r->bad++;
	if (fd >= 0) {
		ssize_t n = read(fd, got, sizeof(got) - 1);
		got[n > 0 ? n : 0] = '\0';
		snprintf(expect, sizeof(expect), "message %u", (unsigned)id);
		if (strcmp(got, expect) != 0)
			r->bad++;
		close(fd);
	}
	if (++r->count == N_MESSAGES)
		event_base_loopexit(r->base, NULL);
}

static void on_closed(struct ipc_channel *ch, void *arg)
{
	struct received *r = arg;

	r->closed = 1;
	event_base_loopexit(r->base, NULL);
}

static void test_order_and_fds(void **state)
{
	struct event_base *base = event_base_new();
	struct received r = {.base = base};
	struct ipc_channel *a, *b;
	unsigned char payload[300];
	int sp[2];
	unsigned i;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	a = ipc_channel_new(base, sp[0], on_message, on_closed, &r);
	b = ipc_channel_new(base, sp[1], on_message, on_closed, &r);
	for (i = 0; i < N_MESSAGES; i++) {
		size_t len = i % 300 + 1;
		int fd = -1;
		memset(payload, 0, sizeof(payload));
		payload[len - 1] = (unsigned char)i;
		if (i % 3 == 0) {
			int p[2];
			char text[64];
			assert_int_equal(pipe(p), 0);
			snprintf(text, sizeof(text), "message %u", i);
			assert_int_equal(write(p[1], text, strlen(text)), (ssize_t)strlen(text));
			close(p[1]);
			fd = p[0];
		}
		ipc_send(a, 7, i, payload, len, fd);
	}
	event_base_dispatch(base);
	assert_int_equal(r.count, N_MESSAGES);
	assert_int_equal(r.bad, 0);
	assert_int_equal(r.closed, 0);
	ipc_channel_free(&a);
	ipc_channel_free(&b);
	event_base_free(base);
}

static void test_garbage_closes(void **state)
{
	struct event_base *base = event_base_new();
	struct received r = {.base = base};
	struct ipc_channel *b;
	unsigned char junk[64];
	int sp[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	b = ipc_channel_new(base, sp[1], on_message, on_closed, &r);
	/* a header announcing more than the maximum payload */
	memset(junk, 0xff, sizeof(junk));
	assert_int_equal(write(sp[0], junk, sizeof(junk)), (ssize_t)sizeof(junk));
	event_base_dispatch(base);
	assert_int_equal(r.closed, 1);
	assert_int_equal(r.count, 0);
	close(sp[0]);
	ipc_channel_free(&b);
	event_base_free(base);
}

static void test_reader_bounds(void **state)
{
	struct ipc_writer w;
	struct ipc_reader r;
	char small[4];

	ipc_writer_init(&w);
	ipc_put_str(&w, "longer than four");
	ipc_reader_init(&r, w.buf, w.len);
	ipc_get_str(&r, small, sizeof(small));
	assert_true(r.error);
	assert_string_equal(small, "");
	ipc_writer_free(&w);
}

/* A child forked while the parent's channel still queued a descriptor
 * (another child's end of a role channel, behind a full socket) must not
 * keep it open: forgetting the buffers closes it. */
static void test_forget_buffers_closes_queued_fds(void **state)
{
	struct event_base *base = event_base_new();
	struct received r = {.base = base};
	static unsigned char big[60000];
	struct ipc_channel *a;
	int sp[2], p[2], sndbuf = 4096;
	unsigned i;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	assert_int_equal(setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
	a = ipc_channel_new(base, sp[0], on_message, on_closed, &r);
	/* nobody reads sp[1]: the socket fills and the rest stays queued */
	for (i = 0; i < 40; i++)
		ipc_send(a, 7, i, big, sizeof(big), -1);
	assert_int_equal(pipe(p), 0);
	close(p[1]);
	ipc_send(a, 7, 40, "x", 1, p[0]);
	assert_int_not_equal(fcntl(p[0], F_GETFD), -1); /* still queued */
	ipc_channel_forget_buffers(a);
	assert_int_equal(fcntl(p[0], F_GETFD), -1);
	ipc_channel_free(&a);
	close(sp[1]);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_order_and_fds),
	    cmocka_unit_test(test_garbage_closes),
	    cmocka_unit_test(test_reader_bounds),
	    cmocka_unit_test(test_forget_buffers_closes_queued_fds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
