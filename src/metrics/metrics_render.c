/*
 * metrics_render.c: see metrics_render.h. The blocks are first summed
 * into one (saturating: a block full of 0xff cannot wrap a total back
 * to small numbers), then written out family by family; every label
 * index is a loop bound of this file, and every name comes from the
 * parent's header, bounded and escaped.
 */
#include "metrics/metrics_render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"

_Static_assert(sizeof(struct metrics_block) % sizeof(uint64_t) == 0,
               "a block is an array of counters");
_Static_assert(METRICS_POLICIES == CONFIG_TLS_LEVELS + 1, "a policy row per level, and other");

/* One listener row's labels, escaped. */
struct render_listener {
	char name[METRICS_NAME_MAX * 2 + 1];
	char protocol[40];
};

struct render {
	FILE *out;
	struct metrics_block total;
	struct metrics_block queue; /* its gauges */
	struct render_listener rows[METRICS_LISTENERS];
	unsigned n_rows;
};

void metrics_label_value(const char *s, size_t max, char *out, size_t size)
{
	size_t i, o = 0;

	for (i = 0; i < max && s[i] != '\0' && o + 3 <= size; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '\\' || ch == '"' || ch == '\n') {
			out[o++] = '\\';
			out[o++] = ch == '\n' ? 'n' : (char)ch;
		} else {
			out[o++] = ch < 0x20 || ch > 0x7e ? '?' : (char)ch;
		}
	}
	out[o] = '\0';
}

/* TOTAL += B, counter by counter, saturating. */
static void render_add_block(struct metrics_block *total, const struct metrics_block *b)
{
	uint64_t *t = (uint64_t *)total;
	const uint64_t *v = (const uint64_t *)b;

	for (size_t i = 0; i < sizeof(*total) / sizeof(uint64_t); i++) {
		uint64_t x = __atomic_load_n(&v[i], __ATOMIC_RELAXED);
		t[i] = t[i] + x < t[i] ? UINT64_MAX : t[i] + x;
	}
}

static void render_rows(struct render *r, const struct metrics_header *h)
{
	uint32_t n = h != NULL ? __atomic_load_n(&h->n_names, __ATOMIC_ACQUIRE) : 0;

	r->n_rows = n < METRICS_LISTENERS ? n : METRICS_LISTENERS;
	for (unsigned i = 0; i < r->n_rows; i++) {
		metrics_label_value(h->names[i].name, sizeof(h->names[i].name), r->rows[i].name,
		                    sizeof(r->rows[i].name));
		metrics_label_value(h->names[i].protocol, sizeof(h->names[i].protocol),
		                    r->rows[i].protocol, sizeof(r->rows[i].protocol));
	}
}

static void render_family(struct render *r, const char *name, const char *type, const char *help)
{
	fprintf(r->out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The listener counters: FIELD's offset within metrics_listener_counts. */
static void render_listener_family(struct render *r, const char *name, const char *help,
                                   size_t field)
{
	render_family(r, name, "counter", help);
	for (unsigned i = 0; i < r->n_rows; i++) {
		const char *row = (const char *)&r->total.listeners[i];
		uint64_t v;
		memcpy(&v, row + field, sizeof(v));
		fprintf(r->out, "%s{listener=\"%s\",protocol=\"%s\"} %llu\n", name, r->rows[i].name,
		        r->rows[i].protocol, (unsigned long long)v);
	}
}

static void render_listeners(struct render *r)
{
	render_listener_family(r, "sealmail_connections_total",
	                       "Connections accepted, by listener.",
	                       offsetof(struct metrics_listener_counts, connections));
	render_listener_family(r, "sealmail_connections_refused_total",
	                       "Connections closed at once by the connection limits.",
	                       offsetof(struct metrics_listener_counts, refused));
	render_listener_family(r, "sealmail_sessions_total", "Protocol sessions started.",
	                       offsetof(struct metrics_listener_counts, sessions));
	render_listener_family(r, "sealmail_tls_handshakes_total",
	                       "TLS handshakes completed with clients.",
	                       offsetof(struct metrics_listener_counts, tls_handshakes));
	render_listener_family(r, "sealmail_auth_successes_total",
	                       "Logins (SMTP AUTH, IMAP, POP3) that succeeded.",
	                       offsetof(struct metrics_listener_counts, auth_successes));
	render_listener_family(r, "sealmail_auth_failures_total",
	                       "Logins (SMTP AUTH, IMAP, POP3) refused.",
	                       offsetof(struct metrics_listener_counts, auth_failures));
	render_family(r, "sealmail_tls_handshake_failures_total", "counter",
	              "TLS handshakes with clients that failed, by reason.");
	for (unsigned i = 0; i < r->n_rows; i++)
		for (unsigned k = 0; k < IO_TLS_FAILURES; k++)
			fprintf(
			    r->out,
			    "sealmail_tls_handshake_failures_total{listener=\"%s\",protocol=\"%s\","
			    "reason=\"%s\"} %llu\n",
			    r->rows[i].name, r->rows[i].protocol, io_tls_failure_words[k],
			    (unsigned long long)r->total.listeners[i].tls_failures[k]);
}

/* Sealmail as the SMTP client: no listener, so families of their own
 * (the inbound ones keep their labels; a sum over one family stays one
 * direction). */
static void render_outbound_tls(struct render *r)
{
	render_family(r, "sealmail_outbound_tls_handshakes_total", "counter",
	              "TLS handshakes completed with servers mail was delivered to (STARTTLS), "
	              "the peer as the policy requires.");
	fprintf(r->out, "sealmail_outbound_tls_handshakes_total %llu\n",
	        (unsigned long long)r->total.outbound_tls_handshakes);
	render_family(r, "sealmail_outbound_tls_handshake_failures_total", "counter",
	              "TLS handshakes with servers mail was delivered to that failed, by reason.");
	for (unsigned k = 0; k < IO_TLS_FAILURES; k++)
		fprintf(
		    r->out, "sealmail_outbound_tls_handshake_failures_total{reason=\"%s\"} %llu\n",
		    io_tls_failure_words[k], (unsigned long long)r->total.outbound_tls_failures[k]);
}

static void render_deliveries(struct render *r)
{
	static const char *const names[METRICS_RESULTS] = {"sealmail_messages_delivered_total",
	                                                   "sealmail_messages_deferred_total",
	                                                   "sealmail_messages_bounced_total"};
	static const char *const helps[METRICS_RESULTS] = {
	    "Deliveries, one per recipient, by relay.",
	    "Delivery attempts deferred, one per recipient, by relay.",
	    "Recipients given up on (a DSN goes to the sender), by relay."};

	render_family(r, "sealmail_messages_received_total", "counter",
	              "Messages committed to the queue.");
	fprintf(r->out, "sealmail_messages_received_total %llu\n",
	        (unsigned long long)r->total.received);
	for (unsigned k = 0; k < METRICS_RESULTS; k++) {
		render_family(r, names[k], "counter", helps[k]);
		for (unsigned j = 0; j < METRICS_RELAYS; j++)
			fprintf(r->out, "%s{relay=\"%s\"} %llu\n", names[k], metrics_relay_words[j],
			        (unsigned long long)r->total.recipients[j][k]);
	}
	render_family(r, "sealmail_remote_deliveries_total", "counter",
	              "Remote deliveries by how TLS protected them.");
	for (unsigned k = 0; k < METRICS_PROTECTIONS; k++)
		fprintf(r->out, "sealmail_remote_deliveries_total{protection=\"%s\"} %llu\n",
		        metrics_protection_words[k], (unsigned long long)r->total.protection[k]);
	render_family(r, "sealmail_remote_policy_outcomes_total", "counter",
	              "Remote delivery attempts, one per recipient, by TLS policy level and "
	              "result.");
	for (unsigned p = 0; p < METRICS_POLICIES; p++)
		for (unsigned k = 0; k < METRICS_RESULTS; k++)
			fprintf(
			    r->out,
			    "sealmail_remote_policy_outcomes_total{policy=\"%s\",result=\"%s\"} "
			    "%llu\n",
			    p < CONFIG_TLS_LEVELS ? config_tls_level_words[p] : "other",
			    metrics_result_words[k], (unsigned long long)r->total.policy[p][k]);
}

/* A histogram of N bounds, in microseconds when SECONDS (written as
 * seconds), else as they are. */
static void render_histogram(struct render *r, const char *name, const char *help,
                             const struct metrics_histogram *h, const uint64_t *bounds, unsigned n,
                             int seconds)
{
	uint64_t cum = 0;

	render_family(r, name, "histogram", help);
	for (unsigned i = 0; i <= n; i++) {
		cum = cum + h->buckets[i] < cum ? UINT64_MAX : cum + h->buckets[i];
		if (i == n)
			fprintf(r->out, "%s_bucket{le=\"+Inf\"} %llu\n", name,
			        (unsigned long long)cum);
		else if (seconds)
			fprintf(r->out, "%s_bucket{le=\"%g\"} %llu\n", name,
			        (double)bounds[i] / 1e6, (unsigned long long)cum);
		else
			fprintf(r->out, "%s_bucket{le=\"%llu\"} %llu\n", name,
			        (unsigned long long)bounds[i], (unsigned long long)cum);
	}
	if (seconds)
		fprintf(r->out, "%s_sum %.6f\n", name, (double)h->sum / 1e6);
	else
		fprintf(r->out, "%s_sum %llu\n", name, (unsigned long long)h->sum);
	fprintf(r->out, "%s_count %llu\n", name, (unsigned long long)cum);
}

static void render_queue(struct render *r, uint64_t now)
{
	uint64_t oldest = r->queue.queue_oldest_arrival;

	render_family(r, "sealmail_queue_messages", "gauge", "Messages in the queue.");
	fprintf(r->out, "sealmail_queue_messages %llu\n",
	        (unsigned long long)r->queue.queue_messages);
	render_family(r, "sealmail_queue_oldest_message_age_seconds", "gauge",
	              "Age of the oldest message in the queue; 0 when it is empty.");
	fprintf(r->out, "sealmail_queue_oldest_message_age_seconds %llu\n",
	        (unsigned long long)(oldest != 0 && oldest < now ? now - oldest : 0));
	render_histogram(r, "sealmail_queue_commit_batch_messages",
	                 "Messages made durable by one commit (one fsync round).",
	                 &r->total.commit_batch, metrics_batch_bounds, METRICS_BATCH_BUCKETS, 0);
	render_histogram(r, "sealmail_queue_commit_duration_seconds",
	                 "Time one group commit took: its sync, renames and answers.",
	                 &r->total.commit_latency, metrics_latency_bounds_usec,
	                 METRICS_LATENCY_BUCKETS, 1);
}

static void render_process(struct render *r, const struct metrics_view *v)
{
	char version[64];

	metrics_label_value(v->version != NULL ? v->version : "", 32, version, sizeof(version));
	render_family(r, "sealmail_build_info", "gauge", "Always 1; the version as a label.");
	fprintf(r->out, "sealmail_build_info{version=\"%s\"} 1\n", version);
	render_family(r, "sealmail_start_time_seconds", "gauge",
	              "When the server started, in seconds since the Unix epoch.");
	fprintf(r->out, "sealmail_start_time_seconds %llu\n",
	        (unsigned long long)(v->header != NULL ? v->header->start_time : 0));
}

char *metrics_render(const struct metrics_view *v, size_t *len_r)
{
	struct render *r = calloc(1, sizeof(*r));
	char *page = NULL;
	size_t len = 0;

	if (r == NULL || (r->out = open_memstream(&page, &len)) == NULL) {
		free(r);
		return NULL;
	}
	for (unsigned i = 0; i < v->n_blocks; i++)
		if (v->blocks[i] != NULL)
			render_add_block(&r->total, v->blocks[i]);
	if (v->queue != NULL)
		render_add_block(&r->queue, v->queue);
	render_rows(r, v->header);
	render_process(r, v);
	render_listeners(r);
	render_outbound_tls(r);
	render_deliveries(r);
	render_queue(r, v->now);
	if (fclose(r->out) != 0) {
		free(page);
		page = NULL;
	}
	free(r);
	*len_r = len;
	return page;
}
