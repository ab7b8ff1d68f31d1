/*
 * fuzz_queue_state.c: libFuzzer harness for the queue's state file parser
 * (queue_state_parse, queue/queue_state.c). The first byte picks where the
 * input is cut in two; both feedings must agree with the whole. What is
 * accepted must be within bounds, and what queue_state_format writes for
 * it must parse back to the same and format to the same bytes.
 */
#include "fuzz_common.h"
#include "queue/queue_state.h"

static void check_bounds(const struct queue_state *st)
{
	CHECK(st->n_rcpts <= ENVELOPE_MAX_RCPTS);
	CHECK(st->warned <= 1 && st->held <= 1 && st->warned >= 0 && st->held >= 0);
	CHECK(st->tls_warned == 0 || st->tls_warned == 1);
	for (unsigned i = 0; i < st->n_rcpts; i++) {
		const struct queue_rcpt *r = &st->rcpts[i];
		CHECK(r->status <= RCPT_FAILED && r->reported <= 1 && r->inflight == 0);
		CHECK(memchr(r->last.text, '\0', sizeof(r->last.text)) != NULL);
		CHECK(r->last.enhanced[0] == '\0' || delivery_enhanced_valid(r->last.enhanced));
		CHECK(delivery_reply_code_valid(r->last.reply_code));
	}
}

static void check_same(const struct queue_state *a, const struct queue_state *b)
{
	CHECK(a->attempts == b->attempts && a->not_before == b->not_before);
	CHECK(a->warned == b->warned && a->held == b->held && a->n_rcpts == b->n_rcpts);
	for (unsigned i = 0; i < a->n_rcpts; i++) {
		CHECK(a->rcpts[i].status == b->rcpts[i].status);
		CHECK(a->rcpts[i].reported == b->rcpts[i].reported);
		CHECK(strcmp(a->rcpts[i].last.enhanced, b->rcpts[i].last.enhanced) == 0);
		CHECK(a->rcpts[i].last.reply_code == b->rcpts[i].last.reply_code);
		CHECK((a->rcpts[i].via == NULL) == (b->rcpts[i].via == NULL));
		if (a->rcpts[i].via != NULL) {
			const struct queue_rcpt_record *x = a->rcpts[i].via, *y = b->rcpts[i].via;
			CHECK(x->when == y->when && x->held == y->held);
			CHECK(strcmp(x->relay, y->relay) == 0 && strcmp(x->tls, y->tls) == 0);
			CHECK(strcmp(x->peer, y->peer) == 0 && strcmp(x->policy, y->policy) == 0);
			CHECK(strcmp(x->source, y->source) == 0);
		}
	}
	CHECK(a->tls_warned == b->tls_warned);
}

/* Feeds DATA cut at CUT; returns what the parser said. */
static int parse_cut(const char *data, size_t size, size_t cut, struct queue_state *st)
{
	struct queue_state_parser p;
	const char *why = NULL;

	queue_state_parser_init(&p, st);
	if (queue_state_parser_feed(&p, data, cut, &why) < 0 ||
	    queue_state_parser_feed(&p, data + cut, size - cut, &why) < 0 ||
	    queue_state_parser_finish(&p, &why) < 0) {
		CHECK(why != NULL && why[0] != '\0' && st->rcpts == NULL && st->n_rcpts == 0);
		return -1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct queue_state st, cut, again;
	const char *in, *why = NULL;
	char *text, *text2;
	size_t len, len2;
	int ok;

	if (size < 1)
		return 0;
	in = (const char *)data + 1;
	size--;
	ok = queue_state_parse(in, size, &st, &why) == 0;
	CHECK(parse_cut(in, size, size ? data[0] % (size + 1) : 0, &cut) == (ok ? 0 : -1));
	if (!ok)
		return 0;
	check_bounds(&st);
	check_same(&st, &cut);
	text = queue_state_format(&st, &len);
	CHECK(queue_state_parse(text, len, &again, &why) == 0);
	check_same(&st, &again);
	text2 = queue_state_format(&again, &len2);
	CHECK(len == len2 && memcmp(text, text2, len) == 0);
	free(text);
	free(text2);
	queue_state_free(&st);
	queue_state_free(&cut);
	queue_state_free(&again);
	return 0;
}
