/*
 * test_proto.c: every IPC message of src/proto/ survives a round trip
 * (encode a filled struct, decode, compare the fields and the bytes
 * encoded again), and every decoder refuses each truncation of a valid
 * payload, trailing bytes, and counts the payload cannot hold.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../proto_kinds.h"
#include "lib/util.h"

union proto_any {
	struct proto_lookup_rcpt lookup_rcpt;
	struct proto_lookup_rcpt_result rcpt_result;
	struct proto_auth_check auth_check;
	struct proto_auth_result auth_result;
	struct proto_lookup_hosts hosts;
	struct proto_lookup_hosts_result hosts_result;
	struct proto_queue_pool pool;
	struct proto_queue_pool_file pool_file;
	struct proto_queue_commit commit;
	struct proto_queue_commit_result commit_result;
	struct proto_queue_abort abort_msg;
	struct proto_task task;
	struct proto_task_result task_result;
	struct proto_ctl_config config;
	struct proto_ctl_file file;
};

static char *strings3[] = {"a@local.test", "b@local.test", "list@other.test"};
static struct proto_host hosts2[] = {
    {.name = "mx1.remote.test",
     .pref = 10,
     .addr = "192.0.2.10",
     .secure = DNSSEC_SECURE,
     .tlsa_status = DNSSEC_SECURE,
     .n_tlsa = 2,
     .tlsa = {{.usage = 3, .selector = 1, .mtype = 1, .len = 3, .data = {1, 2, 3}},
              {.usage = 2, .selector = 0, .mtype = 0, .len = 1, .data = {9}}}},
    {.name = "mx2.remote.test", .pref = 20, .addr = "2001:db8::25"}};
static struct envelope_rcpt env_rcpts[] = {{"a@remote.test", "rfc822;a@remote.test", 6},
                                           {"b@remote.test", "", 0}};
static struct proto_task_rcpt task_rcpts[] = {{{"a@remote.test", "", 2}, 0},
                                              {{"c@remote.test", "rfc822;c@x", 15}, 7}};
static struct proto_task_outcome outcomes[2];
static const char config_text[] = "[server]\nhostname = mx.local.test\n";

/* A filled message of kind NAME into M. */
static void fill(const char *name, union proto_any *m)
{
	memset(m, 0, sizeof(*m));
	if (strcmp(name, "lookup_rcpt") == 0) {
		strcpy(m->lookup_rcpt.address, "alice@local.test");
	} else if (strcmp(name, "lookup_rcpt_result") == 0) {
		m->rcpt_result.result = LOOKUP_OK;
		m->rcpt_result.targets = (struct proto_strings){strings3, 3};
	} else if (strcmp(name, "auth_check") == 0) {
		strcpy(m->auth_check.user, "alice@local.test");
		m->auth_check.has_password = 1;
		strcpy(m->auth_check.password, "secret");
		strcpy(m->auth_check.client, "192.0.2.1");
	} else if (strcmp(name, "auth_result") == 0) {
		m->auth_result.ok = 1;
		strcpy(m->auth_result.user, "alice@local.test");
		m->auth_result.owned = (struct proto_strings){strings3, 2};
	} else if (strcmp(name, "lookup_hosts") == 0) {
		strcpy(m->hosts.name, "remote.test");
		m->hosts.mx_lookup = 1;
		m->hosts.port = 25;
		m->hosts.policy = PROTO_LOOKUP_TLSA | PROTO_LOOKUP_DOMAIN;
	} else if (strcmp(name, "lookup_hosts_result") == 0) {
		m->hosts_result.status = LOOKUP_HOSTS_OK;
		strcpy(m->hosts_result.error, "none");
		m->hosts_result.secure = 1;
		m->hosts_result.hosts = hosts2;
		m->hosts_result.n_hosts = 2;
		m->hosts_result.sts.mode = STS_MODE_ENFORCE;
		strcpy(m->hosts_result.sts.id, "20261201");
		m->hosts_result.sts.max_age = 86400;
		m->hosts_result.sts.fetched = 1764547200;
		m->hosts_result.sts.n_mx = 2;
		strcpy(m->hosts_result.sts.mx[0], "mx1.remote.test");
		strcpy(m->hosts_result.sts.mx[1], "*.remote.test");
		strcpy(m->hosts_result.rua, "mailto:tlsrpt@remote.test");
	} else if (strcmp(name, "queue_pool") == 0) {
		m->pool.count = 32;
	} else if (strcmp(name, "queue_pool_file") == 0) {
		m->pool_file.result = QUEUE_RESULT_OK;
		strcpy(m->pool_file.id, "0123456789ABCDEF0");
	} else if (strcmp(name, "queue_commit") == 0) {
		strcpy(m->commit.queue_id, "0123456789ABCDEF0");
		m->commit.size = 1234;
		m->commit.crc = 0xdeadbeef;
		strcpy(m->commit.env.sender, "s@remote.test");
		strcpy(m->commit.env.helo, "client.test");
		strcpy(m->commit.env.envid, "QQ+2B");
		strcpy(m->commit.env.listener, "submission");
		m->commit.env.authenticated = 1;
		m->commit.env.trusted = 1;
		m->commit.env.time = 1700000000;
		m->commit.env.rcpts = env_rcpts;
		m->commit.env.n_rcpts = 2;
	} else if (strcmp(name, "queue_commit_result") == 0) {
		m->commit_result.result = QUEUE_RESULT_NO_SPACE;
		strcpy(m->commit_result.text, "No space left on device");
	} else if (strcmp(name, "queue_abort") == 0) {
		strcpy(m->abort_msg.queue_id, "0123456789ABCDEF0");
	} else if (strcmp(name, "task") == 0) {
		strcpy(m->task.queue_id, "0123456789ABCDEF0");
		strcpy(m->task.domain, "remote.test");
		strcpy(m->task.sender, "s@local.test");
		strcpy(m->task.body, "8bitmime");
		strcpy(m->task.ret, "hdrs");
		m->task.header_len = 10;
		m->task.body_len = 99;
		m->task.flags = 0x103;
		m->task.seen_level = 2;
		m->task.seen_time = 1764547200;
		m->task.rcpts = task_rcpts;
		m->task.n_rcpts = 2;
	} else if (strcmp(name, "task_result") == 0) {
		strcpy(m->task_result.report.relay, "mx[192.0.2.1]:25");
		strcpy(m->task_result.report.peer, "verified");
		m->task_result.report.peer_dsn = 1;
		strcpy(m->task_result.report.source, "dane");
		strcpy(m->task_result.report.evidence, "TLSA _25._tcp.mx (DNSSEC secure)");
		strcpy(m->task_result.report.rpt_policy, "tlsa");
		strcpy(m->task_result.report.rua, "mailto:r@remote.test");
		m->task_result.report.policy_blocked = 1;
		m->task_result.report.peer_requiretls = 1;
		outcomes[0] = (struct proto_task_outcome){.index = 0, .outcome = MTA_DELIVERED};
		delivery_status_set(&outcomes[0].status, "2.0.0", 250, "250 2.0.0 ok");
		outcomes[1] = (struct proto_task_outcome){.index = 7, .outcome = MTA_PERMFAIL};
		delivery_status_set(&outcomes[1].status, "5.1.1", 550, "550 5.1.1 no");
		m->task_result.rcpts = outcomes;
		m->task_result.n_rcpts = 2;
	} else if (strcmp(name, "ctl_config") == 0) {
		strcpy(m->config.path, "/etc/sealmail/sealmail.conf");
		m->config.text = config_text;
		m->config.text_len = sizeof(config_text) - 1;
	} else if (strcmp(name, "ctl_file") == 0) {
		m->file.readable = 1;
		m->file.text = config_text;
		m->file.len = sizeof(config_text) - 1;
	} else {
		fail_msg("no filler for %s", name);
	}
}

/* A few fields of each decoded message, beyond the bytes encoded again. */
static void check_fields(const char *name, const union proto_any *a, const union proto_any *b)
{
	if (strcmp(name, "lookup_rcpt_result") == 0) {
		assert_int_equal(b->rcpt_result.targets.n, 3);
		assert_string_equal(b->rcpt_result.targets.v[2], "list@other.test");
	} else if (strcmp(name, "auth_check") == 0) {
		assert_string_equal(b->auth_check.password, a->auth_check.password);
		assert_string_equal(b->auth_check.client, a->auth_check.client);
	} else if (strcmp(name, "lookup_hosts_result") == 0) {
		assert_int_equal(b->hosts_result.n_hosts, 2);
		assert_string_equal(b->hosts_result.hosts[1].addr, "2001:db8::25");
		assert_int_equal(b->hosts_result.hosts[1].pref, 20);
	} else if (strcmp(name, "queue_commit") == 0) {
		assert_int_equal(b->commit.size, 1234);
		assert_int_equal(b->commit.crc, 0xdeadbeef);
		assert_int_equal(b->commit.env.n_rcpts, 2);
		assert_string_equal(b->commit.env.rcpts[0].orcpt, "rfc822;a@remote.test");
		assert_string_equal(b->commit.env.listener, "submission");
		assert_int_equal(b->commit.env.authenticated, 1);
		assert_int_equal(b->commit.env.trusted, 1);
	} else if (strcmp(name, "task") == 0) {
		assert_int_equal(b->task.n_rcpts, 2);
		assert_int_equal(b->task.rcpts[1].index, 7);
		assert_int_equal(b->task.rcpts[1].r.notify, 15);
	} else if (strcmp(name, "task_result") == 0) {
		assert_int_equal(b->task_result.n_rcpts, 2);
		assert_string_equal(b->task_result.rcpts[1].status.enhanced, "5.1.1");
		assert_int_equal(b->task_result.rcpts[1].status.reply_code, 550);
	} else if (strcmp(name, "ctl_config") == 0) {
		assert_string_equal(b->config.path, a->config.path);
		assert_int_equal(b->config.text_len, a->config.text_len);
		assert_memory_equal(b->config.text, config_text, b->config.text_len);
	}
}

static void kind_free(const struct proto_kind *k, union proto_any *m)
{
	if (k->free != NULL)
		k->free(m);
}

static void test_round_trip_every_message(void **state)
{
	for (size_t i = 0; i < PROTO_N_KINDS; i++) {
		const struct proto_kind *k = &proto_kinds[i];
		union proto_any a, b;
		struct ipc_writer w, again;
		const char *why = NULL;

		if (k->encode == NULL)
			continue;
		fill(k->name, &a);
		ipc_writer_init(&w);
		k->encode(&a, &w);
		if (k->decode(&b, w.buf, w.len, &why) != 0)
			fail_msg("%s: %s", k->name, why);
		check_fields(k->name, &a, &b);
		ipc_writer_init(&again);
		k->encode(&b, &again);
		assert_int_equal(again.len, w.len);
		assert_memory_equal(again.buf, w.buf, w.len);
		ipc_writer_free(&again);
		kind_free(k, &b);
		ipc_writer_free(&w);
	}
}

/* Every cut of a valid payload, and one octet more, is refused with a
 * reason; the decoder copies the payload first, so ASan sees any read
 * past its end. */
static void test_truncations_and_trailing_bytes_refused(void **state)
{
	for (size_t i = 0; i < PROTO_N_KINDS; i++) {
		const struct proto_kind *k = &proto_kinds[i];
		union proto_any a, b;
		struct ipc_writer w;
		unsigned char *copy;

		if (k->encode == NULL)
			continue;
		fill(k->name, &a);
		ipc_writer_init(&w);
		k->encode(&a, &w);
		for (size_t cut = 0; cut < w.len; cut++) {
			const char *why = NULL;
			copy = xmalloc(cut ? cut : 1);
			memcpy(copy, w.buf, cut);
			if (k->decode(&b, copy, cut, &why) != -1)
				fail_msg("%s: a payload cut at %zu of %zu was taken", k->name, cut,
				         w.len);
			assert_non_null(why);
			free(copy);
		}
		copy = xmalloc(w.len + 1);
		memcpy(copy, w.buf, w.len);
		copy[w.len] = 'x';
		{
			const char *why = NULL;
			if (k->decode(&b, copy, w.len + 1, &why) != -1)
				fail_msg("%s: a trailing octet was taken", k->name);
			assert_non_null(why);
		}
		free(copy);
		ipc_writer_free(&w);
	}
}

static void test_messages_without_payload(void **state)
{
	for (size_t i = 0; i < PROTO_N_KINDS; i++) {
		const struct proto_kind *k = &proto_kinds[i];
		const char *why = NULL;

		if (k->encode != NULL)
			continue;
		assert_int_equal(k->decode(NULL, "", 0, &why), 0);
		assert_int_equal(k->decode(NULL, "x", 1, &why), -1);
		assert_non_null(why);
	}
}

/* A count that the payload cannot hold is refused before anything is
 * allocated for it (it was 10,000 x 512 octets from a 4-octet count). */
static void test_counts_bounded_by_payload(void **state)
{
	struct proto_lookup_rcpt_result r;
	struct proto_lookup_hosts_result h;
	struct proto_task_result t;
	struct ipc_writer w;
	const char *why;

	ipc_writer_init(&w);
	ipc_put_u32(&w, LOOKUP_OK);
	ipc_put_u32(&w, ENVELOPE_MAX_RCPTS);
	ipc_put_str(&w, "a@local.test");
	assert_int_equal(proto_lookup_rcpt_result_decode(&r, w.buf, w.len, &why), -1);
	assert_null(r.targets.v);
	ipc_writer_free(&w);

	ipc_writer_init(&w);
	ipc_put_u32(&w, LOOKUP_HOSTS_OK);
	ipc_put_str(&w, "");
	ipc_put_u32(&w, 0);
	ipc_put_u32(&w, 0xffffffffu);
	assert_int_equal(proto_lookup_hosts_result_decode(&h, w.buf, w.len, &why), -1);
	assert_null(h.hosts);
	ipc_writer_free(&w);

	ipc_writer_init(&w);
	for (int i = 0; i < 4; i++)
		ipc_put_str(&w, "");
	ipc_put_u32(&w, 0);
	ipc_put_u32(&w, 5000);
	assert_int_equal(proto_task_result_decode(&t, w.buf, w.len, &why), -1);
	assert_null(t.rcpts);
	ipc_writer_free(&w);
}

/* Values the receiving role could not act on are refused, not passed on. */
static void test_out_of_range_values_refused(void **state)
{
	union proto_any a, b;
	struct ipc_writer w;
	const char *why;

	fill("queue_pool", &a);
	a.pool.count = PROTO_QUEUE_POOL_MAX + 1;
	ipc_writer_init(&w);
	proto_queue_pool_encode(&a.pool, &w);
	assert_int_equal(proto_queue_pool_decode(&b.pool, w.buf, w.len, &why), -1);
	ipc_writer_free(&w);

	fill("task_result", &a);
	outcomes[1].outcome = MTA_PERMFAIL + 1;
	ipc_writer_init(&w);
	proto_task_result_encode(&a.task_result, &w);
	assert_int_equal(proto_task_result_decode(&b.task_result, w.buf, w.len, &why), -1);
	ipc_writer_free(&w);

	fill("queue_commit", &a);
	env_rcpts[1].notify = 1u << 27; /* what the spool file cannot hold */
	ipc_writer_init(&w);
	proto_queue_commit_encode(&a.commit, &w);
	assert_int_equal(proto_queue_commit_decode(&b.commit, w.buf, w.len, &why), -1);
	env_rcpts[1].notify = 0;
	ipc_writer_free(&w);

	/* "authenticated" is 0 or 1 on the wire; the encoder writes no other,
	 * so patch the u32 that follows the listener's name */
	fill("queue_commit", &a);
	ipc_writer_init(&w);
	proto_queue_commit_encode(&a.commit, &w);
	{
		char *p = memmem(w.buf, w.len, "submission", 10);
		uint32_t two = 2;
		assert_non_null(p);
		memcpy(p + 10, &two, sizeof(two));
	}
	assert_int_equal(proto_queue_commit_decode(&b.commit, w.buf, w.len, &why), -1);
	ipc_writer_free(&w);

	/* an ORCPT the envelope would drop does not round-trip: refused */
	fill("queue_commit", &a);
	{
		char saved[sizeof(env_rcpts[1].orcpt)];
		memcpy(saved, env_rcpts[1].orcpt, sizeof(saved));
		strcpy(env_rcpts[1].orcpt, "no type");
		ipc_writer_init(&w);
		proto_queue_commit_encode(&a.commit, &w);
		assert_int_equal(proto_queue_commit_decode(&b.commit, w.buf, w.len, &why), -1);
		memcpy(env_rcpts[1].orcpt, saved, sizeof(saved));
		ipc_writer_free(&w);
	}

	fill("ctl_config", &a);
	a.config.path[0] = '\0';
	ipc_writer_init(&w);
	proto_ctl_config_encode(&a.config, &w);
	assert_int_equal(proto_ctl_config_decode(&b.config, w.buf, w.len, &why), -1);
	ipc_writer_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip_every_message),
	    cmocka_unit_test(test_truncations_and_trailing_bytes_refused),
	    cmocka_unit_test(test_messages_without_payload),
	    cmocka_unit_test(test_counts_bounded_by_payload),
	    cmocka_unit_test(test_out_of_range_values_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
