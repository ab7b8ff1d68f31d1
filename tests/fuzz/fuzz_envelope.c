/*
 * fuzz_envelope.c: libFuzzer harness for the envelope in its two
 * encodings: the spool file's text records (spool_envelope_parse) and
 * trailer (spool_trailer_parse) of queue/spool_file.c, and the IPC payload
 * the queue gets from a dispatcher (proto_envelope_decode, proto/queue.c). The first
 * byte picks which; the rest is the bytes. Whatever is accepted must be
 * written back and read again to the same envelope.
 */
#include "fuzz_common.h"
#include "lib/ipc.h"
#include "mail/envelope.h"
#include "proto/queue.h"
#include "queue/spool_file.h"

static void check_same(const struct envelope *a, const struct envelope *b)
{
	CHECK(strcmp(a->id, b->id) == 0 && a->time == b->time);
	CHECK(strcmp(a->sender, b->sender) == 0 && strcmp(a->helo, b->helo) == 0);
	CHECK(strcmp(a->client, b->client) == 0 && strcmp(a->tls, b->tls) == 0);
	CHECK(strcmp(a->body, b->body) == 0 && strcmp(a->ret, b->ret) == 0);
	CHECK(strcmp(a->envid, b->envid) == 0 && a->n_rcpts == b->n_rcpts);
	CHECK(a->trusted == b->trusted && a->flags == b->flags);
	CHECK(strcmp(a->listener, b->listener) == 0 && a->authenticated == b->authenticated);
	CHECK(strcmp(a->auth_user, b->auth_user) == 0);
	for (unsigned i = 0; i < a->n_rcpts; i++) {
		CHECK(strcmp(a->rcpts[i].addr, b->rcpts[i].addr) == 0);
		CHECK(strcmp(a->rcpts[i].orcpt, b->rcpts[i].orcpt) == 0);
		CHECK(a->rcpts[i].notify == b->rcpts[i].notify);
	}
}

/* An envelope that formats must parse back the same, trailer included.
 * A dispatcher's envelope has no id: the queue gives it the spool file's
 * name before storing it, and so does this check. */
static void check_spool_round_trip(const struct envelope *from_ipc)
{
	struct envelope named = *from_ipc, *env = &named, again;
	const char *why = NULL;
	size_t len, hlen;
	uint64_t body_len;
	uint32_t crc;
	char *block;

	if (named.id[0] == '\0')
		snprintf(named.id, sizeof(named.id), "%s", "0123456789ABCDEF0");
	block = spool_block_format(env, 12345, 0xdeadbeef, &len);

	if (block == NULL)
		return;
	CHECK(len >= SPOOL_TRAILER_LEN);
	CHECK(spool_trailer_parse(block + len - SPOOL_TRAILER_LEN, SPOOL_TRAILER_LEN,
	                             &body_len, &crc) == 0);
	CHECK(body_len == 12345 && crc == 0xdeadbeef);
	CHECK(spool_envelope_parse(&again, block, len - SPOOL_TRAILER_LEN, &hlen, &why) == 0);
	CHECK(hlen == len - SPOOL_TRAILER_LEN);
	check_same(env, &again);
	envelope_free(&again);
	free(block);
}

static void fuzz_spool(const char *buf, size_t len)
{
	struct envelope env;
	const char *why = NULL;
	size_t hlen = 0;

	if (spool_envelope_parse(&env, buf, len, &hlen, &why) < 0) {
		CHECK(why != NULL && why[0] != '\0' && env.rcpts == NULL);
		return;
	}
	CHECK(hlen <= len + 1 && env.n_rcpts > 0 && env.id[0] != '\0');
	check_spool_round_trip(&env);
	envelope_free(&env);
}

static void fuzz_trailer(const char *buf, size_t len)
{
	uint64_t body_len;
	uint32_t crc;

	(void)spool_trailer_parse(buf, len, &body_len, &crc);
}

static void fuzz_ipc(const uint8_t *data, size_t len)
{
	struct envelope env, again;
	struct ipc_reader r;
	struct ipc_writer w;

	ipc_reader_init(&r, data, len);
	if (proto_envelope_decode(&env, &r) < 0) {
		envelope_free(&env);
		return;
	}
	ipc_writer_init(&w);
	proto_envelope_encode(&env, &w);
	CHECK(w.len == len && memcmp(w.buf, data, len) == 0);
	ipc_reader_init(&r, w.buf, w.len);
	CHECK(proto_envelope_decode(&again, &r) == 0);
	check_same(&env, &again);
	check_spool_round_trip(&env);
	envelope_free(&again);
	envelope_free(&env);
	ipc_writer_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf;

	if (size < 1)
		return 0;
	buf = fuzz_strndup(data + 1, size - 1);
	switch (data[0] % 3) {
	case 0:
		fuzz_spool(buf, size - 1);
		break;
	case 1:
		fuzz_trailer(buf, size - 1);
		break;
	default:
		fuzz_ipc(data + 1, size - 1);
	}
	free(buf);
	return 0;
}
