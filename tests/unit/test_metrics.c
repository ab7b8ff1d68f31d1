/*
 * test_metrics.c: the metrics (proto/metrics.h, metrics/metrics_render.h):
 * label values escaped for every byte, cut at their bound; the page summed
 * from several blocks, histograms cumulative, the queue's gauges; blocks
 * full of any bytes (a compromised role's) summed without wrapping and a
 * header's row count bounded; a role keeping only its own block; the
 * handshake failure kinds, protection labels and policy rows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf/config.h"
#include "metrics/metrics_render.h"
#include "proto/metrics.h"

/* Every byte alone: printable ASCII as itself, \ " and newline escaped,
 * the rest '?'. */
static void test_label_value_every_byte(void **state)
{
	char in[2], out[8], want[8];

	for (int c = 1; c < 256; c++) {
		in[0] = (char)c;
		in[1] = '\0';
		metrics_label_value(in, sizeof(in), out, sizeof(out));
		if (c == '\\' || c == '"')
			snprintf(want, sizeof(want), "\\%c", c);
		else if (c == '\n')
			snprintf(want, sizeof(want), "\\n");
		else if (c < 0x20 || c > 0x7e)
			snprintf(want, sizeof(want), "?");
		else
			snprintf(want, sizeof(want), "%c", c);
		assert_string_equal(out, want);
	}
}

/* No NUL within MAX: MAX octets are read, no more; a small OUT cuts
 * between escapes, never inside one. */
static void test_label_value_bounds(void **state)
{
	char name[4] = {'a', 'b', 'c', 'd'}, out[16];

	metrics_label_value(name, 3, out, sizeof(out));
	assert_string_equal(out, "abc");
	metrics_label_value("\"\"\"", 3, out, 6);
	assert_string_equal(out, "\\\"\\\"");
	metrics_label_value("abcdef", 6, out, 4); /* room kept for an escape and the NUL */
	assert_string_equal(out, "ab");
}

/* A page from a header with NAMES rows and the blocks given. */
static char *render(const struct metrics_header *h, const struct metrics_block *const *blocks,
                    unsigned n, const struct metrics_block *queue, uint64_t now)
{
	struct metrics_view v = {.header = h,
	                         .blocks = blocks,
	                         .n_blocks = n,
	                         .queue = queue,
	                         .now = now,
	                         .version = "1.2.3"};
	size_t len;
	char *page = metrics_render(&v, &len);

	assert_non_null(page);
	assert_int_equal(strlen(page), len);
	return page;
}

static void test_render_sums_blocks(void **state)
{
	struct metrics_header h = {.start_time = 1700000000, .n_names = 2};
	struct metrics_block *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	const struct metrics_block *blocks[] = {a, NULL, b};
	char *page;

	snprintf(h.names[0].name, sizeof(h.names[0].name), "local");
	snprintf(h.names[0].protocol, sizeof(h.names[0].protocol), "submission");
	snprintf(h.names[1].name, sizeof(h.names[1].name), "m\"x");
	snprintf(h.names[1].protocol, sizeof(h.names[1].protocol), "smtp");
	a->listeners[1].sessions = 3;
	b->listeners[1].sessions = 4;
	b->listeners[1].tls_failures[IO_TLS_FAIL_PROTOCOL] = 2;
	a->outbound_tls_handshakes = 1;
	b->outbound_tls_handshakes = 2;
	b->outbound_tls_failures[IO_TLS_FAIL_CERTIFICATE] = 4;
	b->received = 7;
	b->recipients[METRICS_RELAY_REMOTE][METRICS_DEFERRED] = 5;
	b->protection[METRICS_PROT_DANE] = 1;
	b->policy[METRICS_POLICIES - 1][METRICS_BOUNCED] = 9;
	b->queue_messages = 2;
	b->queue_oldest_arrival = 1000;
	metrics_observe(&a->commit_batch, metrics_batch_bounds, METRICS_BATCH_BUCKETS, 1);
	metrics_observe(&b->commit_batch, metrics_batch_bounds, METRICS_BATCH_BUCKETS, 3);
	metrics_observe(&b->commit_batch, metrics_batch_bounds, METRICS_BATCH_BUCKETS, 100000);
	metrics_observe(&b->commit_latency, metrics_latency_bounds_usec, METRICS_LATENCY_BUCKETS,
	                1500);
	page = render(&h, blocks, 3, b, 1060);
	assert_non_null(
	    strstr(page, "\nsealmail_sessions_total{listener=\"m\\\"x\",protocol=\"smtp\"} 7\n"));
	assert_non_null(strstr(
	    page, "\nsealmail_sessions_total{listener=\"local\",protocol=\"submission\"} 0\n"));
	assert_non_null(
	    strstr(page, "{listener=\"m\\\"x\",protocol=\"smtp\",reason=\"protocol\"} 2\n"));
	assert_non_null(strstr(page, "\nsealmail_outbound_tls_handshakes_total 3\n"));
	assert_non_null(strstr(
	    page, "\nsealmail_outbound_tls_handshake_failures_total{reason=\"certificate\"} 4\n"));
	assert_non_null(strstr(
	    page, "\nsealmail_outbound_tls_handshake_failures_total{reason=\"closed\"} 0\n"));
	assert_non_null(strstr(page, "\nsealmail_messages_received_total 7\n"));
	assert_non_null(strstr(page, "\nsealmail_messages_deferred_total{relay=\"remote\"} 5\n"));
	assert_non_null(
	    strstr(page, "\nsealmail_remote_deliveries_total{protection=\"dane\"} 1\n"));
	assert_non_null(strstr(page, "{policy=\"other\",result=\"bounced\"} 9\n"));
	assert_non_null(strstr(page, "\nsealmail_queue_messages 2\n"));
	assert_non_null(strstr(page, "\nsealmail_queue_oldest_message_age_seconds 60\n"));
	assert_non_null(
	    strstr(page, "\nsealmail_queue_commit_batch_messages_bucket{le=\"1\"} 1\n"));
	assert_non_null(
	    strstr(page, "\nsealmail_queue_commit_batch_messages_bucket{le=\"2\"} 1\n"));
	assert_non_null(
	    strstr(page, "\nsealmail_queue_commit_batch_messages_bucket{le=\"4\"} 2\n"));
	assert_non_null(
	    strstr(page, "\nsealmail_queue_commit_batch_messages_bucket{le=\"512\"} 2\n"));
	assert_non_null(
	    strstr(page, "\nsealmail_queue_commit_batch_messages_bucket{le=\"+Inf\"} 3\n"));
	assert_non_null(strstr(page, "\nsealmail_queue_commit_batch_messages_sum 100004\n"));
	assert_non_null(strstr(page, "\nsealmail_queue_commit_batch_messages_count 3\n"));
	assert_non_null(
	    strstr(page, "\nsealmail_queue_commit_duration_seconds_bucket{le=\"0.001\"} 0\n"));
	assert_non_null(
	    strstr(page, "\nsealmail_queue_commit_duration_seconds_bucket{le=\"0.0025\"} 1\n"));
	assert_non_null(strstr(page, "\nsealmail_queue_commit_duration_seconds_sum 0.001500\n"));
	assert_non_null(strstr(page, "\nsealmail_build_info{version=\"1.2.3\"} 1\n"));
	assert_non_null(strstr(page, "\nsealmail_start_time_seconds 1700000000\n"));
	/* a family's HELP and TYPE come before its samples */
	assert_true(strstr(page, "# TYPE sealmail_sessions_total counter\n") <
	            strstr(page, "sealmail_sessions_total{"));
	free(page);
	free(a);
	free(b);
}

/* Blocks of 0xff, a header whose row count and names are garbage: the
 * totals saturate, the rows stop at METRICS_LISTENERS, nothing is read
 * past a name's bound, no line holds a raw control or quote. */
static void test_render_untrusted_blocks(void **state)
{
	struct metrics_header *h = malloc(sizeof(*h));
	struct metrics_block *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	const struct metrics_block *blocks[] = {a, b};
	char *page, *line;
	unsigned rows = 0;

	memset(h, 0xff, sizeof(*h));
	memset(a, 0xff, sizeof(*a));
	memset(b, 0x7f, sizeof(*b));
	page = render(h, blocks, 2, a, 5);
	assert_non_null(strstr(page, "\nsealmail_messages_received_total 18446744073709551615\n"));
	assert_non_null(strstr(page, "\nsealmail_queue_oldest_message_age_seconds 0\n"));
	for (line = strtok(page, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		for (const char *c = line; *c; c++)
			assert_true(*c >= 0x20 && *c < 0x7f);
		if (strncmp(line, "sealmail_sessions_total{", 24) == 0)
			rows++;
	}
	assert_int_equal(rows, METRICS_LISTENERS);
	free(page);
	free(h);
	free(a);
	free(b);
}

/* metrics_enter(): only the role's block stays mapped, as metrics_self. */
static void test_enter_keeps_one_block(void **state)
{
	size_t stride = metrics_block_stride(), size = metrics_region_size();
	char *region = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	unsigned char v;

	assert_true(region != MAP_FAILED);
	assert_int_equal(stride % (size_t)sysconf(_SC_PAGESIZE), 0);
	metrics_enter(region, 3);
	assert_ptr_equal(metrics_self, region + stride * 4);
	METRICS_COUNT(received, 2);
	METRICS_LISTENER_COUNT(METRICS_LISTENERS + 5, sessions); /* bounded to the last row */
	assert_int_equal(metrics_self->received, 2);
	assert_int_equal(metrics_self->listeners[METRICS_LISTENERS - 1].sessions, 1);
	/* mincore() fails with ENOMEM on what is not mapped */
	assert_int_equal(mincore(region, stride, &v), -1);
	assert_int_equal(errno, ENOMEM);
	assert_int_equal(mincore(region + stride * 3, stride, &v), -1);
	assert_int_equal(mincore(region + stride * 5, stride, &v), -1);
	assert_int_equal(mincore(region + size - stride, stride, &v), -1);
	munmap(metrics_self, stride);
	metrics_self = NULL;
	METRICS_COUNT(received, 1); /* no metrics: nothing, no crash */
}

static void test_histogram_edges(void **state)
{
	struct metrics_histogram h;

	memset(&h, 0, sizeof(h));
	metrics_observe(&h, metrics_batch_bounds, METRICS_BATCH_BUCKETS, 0);
	metrics_observe(&h, metrics_batch_bounds, METRICS_BATCH_BUCKETS, 1);
	metrics_observe(&h, metrics_batch_bounds, METRICS_BATCH_BUCKETS, 2);
	metrics_observe(&h, metrics_batch_bounds, METRICS_BATCH_BUCKETS, 512);
	metrics_observe(&h, metrics_batch_bounds, METRICS_BATCH_BUCKETS, 513);
	assert_int_equal(h.buckets[0], 2); /* le 1 */
	assert_int_equal(h.buckets[1], 1); /* le 2 */
	assert_int_equal(h.buckets[METRICS_BATCH_BUCKETS - 1], 1);
	assert_int_equal(h.buckets[METRICS_BATCH_BUCKETS], 1); /* +Inf */
	assert_int_equal(h.sum, 1028);
}

static unsigned long ssl_error(int reason)
{
	return ERR_PACK(ERR_LIB_SSL, 0, reason);
}

static void test_tls_failure_kinds(void **state)
{
	assert_int_equal(io_tls_failure_of_error(ssl_error(SSL_R_WRONG_VERSION_NUMBER)),
	                 IO_TLS_FAIL_PROTOCOL);
	assert_int_equal(io_tls_failure_of_error(ssl_error(SSL_R_HTTP_REQUEST)),
	                 IO_TLS_FAIL_PROTOCOL);
	assert_int_equal(io_tls_failure_of_error(ssl_error(SSL_R_UNSUPPORTED_PROTOCOL)),
	                 IO_TLS_FAIL_VERSION);
	assert_int_equal(io_tls_failure_of_error(ssl_error(SSL_R_NO_SHARED_CIPHER)),
	                 IO_TLS_FAIL_CIPHER);
	assert_int_equal(
	    io_tls_failure_of_error(ssl_error(SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)),
	    IO_TLS_FAIL_CERTIFICATE);
	assert_int_equal(io_tls_failure_of_error(ssl_error(SSL_R_TLSV1_ALERT_UNKNOWN_CA)),
	                 IO_TLS_FAIL_ALERT);
	assert_int_equal(io_tls_failure_of_error(ssl_error(SSL_R_SSLV3_ALERT_BAD_CERTIFICATE)),
	                 IO_TLS_FAIL_ALERT);
	assert_int_equal(io_tls_failure_of_error(0), IO_TLS_FAIL_OTHER);
	assert_int_equal(io_tls_failure_of_error(ERR_PACK(ERR_LIB_X509, 0, 1)), IO_TLS_FAIL_OTHER);
	for (unsigned k = 0; k < IO_TLS_FAILURES; k++)
		assert_non_null(io_tls_failure_words[k]);
}

static void test_protection_and_policy(void **state)
{
	assert_int_equal(metrics_protection_of("", "none"), METRICS_PROT_NONE);
	assert_int_equal(metrics_protection_of("none", "dane"), METRICS_PROT_NONE);
	assert_int_equal(metrics_protection_of("TLSv1.3/X", "dane"), METRICS_PROT_DANE);
	assert_int_equal(metrics_protection_of("TLSv1.3/X", "sts"), METRICS_PROT_STS);
	assert_int_equal(metrics_protection_of("TLSv1.3/X", "verified"), METRICS_PROT_PKIX);
	assert_int_equal(metrics_protection_of("TLSv1.3/X", "untrusted"), METRICS_PROT_ENCRYPTED);
	assert_int_equal(metrics_protection_of("TLSv1.3/X", "unchecked"), METRICS_PROT_ENCRYPTED);
	for (unsigned i = 0; i < CONFIG_TLS_LEVELS; i++)
		assert_int_equal(metrics_policy_row(config_tls_level_words[i],
		                                    config_tls_level_words, CONFIG_TLS_LEVELS),
		                 i);
	assert_int_equal(metrics_policy_row("", config_tls_level_words, CONFIG_TLS_LEVELS),
	                 METRICS_POLICIES - 1);
	assert_int_equal(metrics_policy_row(NULL, config_tls_level_words, CONFIG_TLS_LEVELS),
	                 METRICS_POLICIES - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_label_value_every_byte),
	    cmocka_unit_test(test_label_value_bounds),
	    cmocka_unit_test(test_render_sums_blocks),
	    cmocka_unit_test(test_render_untrusted_blocks),
	    cmocka_unit_test(test_enter_keeps_one_block),
	    cmocka_unit_test(test_histogram_edges),
	    cmocka_unit_test(test_tls_failure_kinds),
	    cmocka_unit_test(test_protection_and_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
