/*
 * fuzz_ipc_store.c: libFuzzer harness for the store messages of
 * src/proto/store.h: the first input byte picks the message
 * (tests/proto_store_kinds.h), the rest is its payload. A decoder must
 * never read past the payload (ASan) and must leave nothing to free when
 * it refuses; when it accepts, encoding what it decoded must give the same
 * bytes back, and those must decode again.
 */
#include "fuzz_common.h"
#include "../proto_store_kinds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct proto_store_kind *k;
	static union proto_store_any m, again;
	struct ipc_writer w;
	const char *why = NULL;

	if (size < 1)
		return 0;
	k = &proto_store_kinds[data[0] % PROTO_STORE_N_KINDS];
	CHECK(k->size <= sizeof(m));
	if (k->decode(&m, data + 1, size - 1, &why) < 0) {
		CHECK(why != NULL);
		return 0;
	}
	ipc_writer_init(&w);
	k->encode(&m, &w);
	CHECK(w.len == size - 1 && memcmp(w.buf, data + 1, w.len) == 0);
	CHECK(k->decode(&again, w.buf, w.len, &why) == 0);
	ipc_writer_free(&w);
	if (k->free != NULL) {
		k->free(&m);
		k->free(&again);
	}
	return 0;
}
