/*
 * fuzz_proto.c: libFuzzer harness for every IPC decoder of src/proto/: the
 * first input byte picks the message (tests/proto_kinds.h), the rest is
 * its payload. A decoder must never read past the payload (ASan), and when
 * it accepts one, encoding what it decoded must give the same bytes back:
 * nothing is read that is not written, and nothing written is refused.
 */
#include "fuzz_common.h"
#include "../proto_kinds.h"

/* Large enough for any message struct. */
union proto_any {
	struct proto_queue_commit commit;
	struct proto_ctl_config config;
	struct proto_auth_check auth;
	struct proto_task task;
	char other[8192];
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct proto_kind *k;
	static union proto_any m;
	struct ipc_writer w;
	const char *why = NULL;

	if (size < 1)
		return 0;
	k = &proto_kinds[data[0] % PROTO_N_KINDS];
	CHECK(k->size <= sizeof(m));
	if (k->decode(&m, data + 1, size - 1, &why) < 0) {
		CHECK(why != NULL);
		return 0;
	}
	if (k->encode == NULL) {
		CHECK(size == 1); /* a message without payload */
		return 0;
	}
	ipc_writer_init(&w);
	k->encode(&m, &w);
	CHECK(w.len == size - 1 && memcmp(w.buf, data + 1, w.len) == 0);
	ipc_writer_free(&w);
	if (k->free != NULL)
		k->free(&m);
	return 0;
}
