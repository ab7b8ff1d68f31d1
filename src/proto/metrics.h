/*
 * metrics.h: the counters every role keeps for the metrics role, and
 * their layout in the memory the parent shares with the roles.
 *
 * The parent maps one region before it forks: a header it alone writes
 * (its start time, the listener names) and one block per role instance
 * (each dispatcher slot, the queue). After the fork a role unmaps every
 * block but its own (metrics_enter()), so it can write nothing else; the
 * metrics role maps the region read-only. A dispatcher's block belongs to
 * its slot, not its process, so its counts survive a restart.
 *
 * Counting is one relaxed atomic add to the process's own block: no
 * system call, no message, no lock. Nothing here is read back by the role
 * that writes it; the metrics role treats every block as written by an
 * enemy (numbers only, no lengths, no indexes: the names come from the
 * header).
 */
#ifndef SEALMAIL_PROTO_METRICS_H
#define SEALMAIL_PROTO_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "lib/io.h" /* enum io_tls_failure: the handshake failure reasons */

/* Listener rows: 0 is the local submission socket; the parent gives each
 * listener name it has seen a row, for the server's whole life, so that
 * a reload that reorders listeners does not move their counts. The last
 * row takes the names that find no row left. */
#define METRICS_LISTENERS 48
#define METRICS_LISTENER_LOCAL 0
#define METRICS_NAME_MAX 64
#define METRICS_DISPATCHER_SLOTS 160 /* daemon/limits.h's CONN_LIMITS_SLOTS */
#define METRICS_BLOCK_QUEUE METRICS_DISPATCHER_SLOTS
#define METRICS_BLOCKS (METRICS_DISPATCHER_SLOTS + 1)

/* How a remote delivery was protected (the labels of the contract). */
enum metrics_protection {
	METRICS_PROT_NONE,      /* no TLS */
	METRICS_PROT_ENCRYPTED, /* TLS, the peer not authenticated */
	METRICS_PROT_PKIX,      /* the certificate verified against a CA */
	METRICS_PROT_DANE,
	METRICS_PROT_STS,
	METRICS_PROTECTIONS
};

enum metrics_relay { METRICS_RELAY_LOCAL, METRICS_RELAY_REMOTE, METRICS_RELAYS };
enum metrics_result { METRICS_DELIVERED, METRICS_DEFERRED, METRICS_BOUNCED, METRICS_RESULTS };

/* The outbound TLS levels (conf's config_tls_level_words, in order), then
 * one for a word that is none of them. */
#define METRICS_POLICIES 7

/* Histogram upper bounds: commit batches in messages, commit latency in
 * microseconds; one more bucket counts what is above the last bound. */
#define METRICS_BATCH_BUCKETS 10
#define METRICS_LATENCY_BUCKETS 12
extern const uint64_t metrics_batch_bounds[METRICS_BATCH_BUCKETS];
extern const uint64_t metrics_latency_bounds_usec[METRICS_LATENCY_BUCKETS];

struct metrics_listener_counts {
	uint64_t connections; /* accepted by the kernel */
	uint64_t refused;     /* of those, closed at once by the connection limits */
	uint64_t sessions;    /* protocol sessions started */
	uint64_t tls_handshakes;
	uint64_t tls_failures[IO_TLS_FAILURES];
	uint64_t auth_successes;
	uint64_t auth_failures;
};

struct metrics_histogram {
	uint64_t buckets[METRICS_LATENCY_BUCKETS + 1]; /* not cumulative; the last: +Inf */
	uint64_t sum;                                  /* in the bounds' unit */
};

/* One role instance's counters (page-aligned in the region). */
struct metrics_block {
	struct metrics_listener_counts listeners[METRICS_LISTENERS];
	uint64_t received; /* messages committed to the spool */
	uint64_t recipients[METRICS_RELAYS][METRICS_RESULTS];
	uint64_t protection[METRICS_PROTECTIONS]; /* remote deliveries */
	uint64_t policy[METRICS_POLICIES][METRICS_RESULTS];
	uint64_t outbound_tls_handshakes; /* as the SMTP client, accepted by the policy */
	uint64_t outbound_tls_failures[IO_TLS_FAILURES];
	uint64_t queue_messages;       /* gauge: messages in the spool */
	uint64_t queue_oldest_arrival; /* gauge: the oldest one's arrival (Unix time); 0 = none */
	struct metrics_histogram commit_batch;
	struct metrics_histogram commit_latency;
};

struct metrics_listener_name {
	char name[METRICS_NAME_MAX]; /* NUL-terminated when its row is taken */
	char protocol[16];           /* "smtp", "submission", "imap", "pop3" */
};

/* The parent's page: read-only to every other process. */
struct metrics_header {
	uint64_t start_time; /* the server's, Unix time */
	uint32_t n_names;    /* rows taken, published after the row is written */
	struct metrics_listener_name names[METRICS_LISTENERS];
};

/* This process's block, NULL when there are no metrics (no [metrics]
 * listen, or a role that keeps none). */
extern struct metrics_block *metrics_self;

/* The region: the header's page then METRICS_BLOCKS blocks of
 * metrics_block_stride() octets. */
size_t metrics_block_stride(void);
size_t metrics_region_size(void);
static inline struct metrics_block *metrics_block_at(void *region, unsigned i)
{
	return (struct metrics_block *)((char *)region + metrics_block_stride() * (i + 1));
}

/* In a forked role: unmaps REGION but block BLOCK (none when BLOCK is
 * METRICS_BLOCKS or more), which becomes metrics_self. */
void metrics_enter(void *region, unsigned block);

static inline void metrics_add(uint64_t *counter, uint64_t n)
{
	__atomic_add_fetch(counter, n, __ATOMIC_RELAXED);
}

static inline void metrics_set(uint64_t *gauge, uint64_t v)
{
	__atomic_store_n(gauge, v, __ATOMIC_RELAXED);
}

/* The row of listener ROW (config_listener's metrics_index), bounded. */
static inline struct metrics_listener_counts *metrics_listener(unsigned row)
{
	if (metrics_self == NULL)
		return NULL;
	return &metrics_self->listeners[row < METRICS_LISTENERS ? row : METRICS_LISTENERS - 1];
}

/* Counts FIELD of listener ROW: METRICS_LISTENER_COUNT(row, sessions).
 * ROW is evaluated only when there are metrics. */
#define METRICS_LISTENER_COUNT(row, field)                                                         \
	do {                                                                                       \
		if (metrics_self != NULL)                                                          \
			metrics_add(&metrics_listener(row)->field, 1);                             \
	} while (0)

/* Counts FIELD of this process's block by N. */
#define METRICS_COUNT(field, n)                                                                    \
	do {                                                                                       \
		if (metrics_self != NULL)                                                          \
			metrics_add(&metrics_self->field, (n));                                    \
	} while (0)

/* Counts V in histogram H of this process's block, with BOUNDS[N]. */
void metrics_observe(struct metrics_histogram *h, const uint64_t *bounds, unsigned n, uint64_t v);

/* A handshake of listener ROW failed on IO (its io_tls_failure()). */
void metrics_tls_failed(unsigned row, const struct io *io);

/* In a session's io callback: counts EVENT on listener ROW when it ends
 * a server handshake in progress (HANDSHAKING): IO_READY completes it,
 * IO_ERROR, IO_CLOSED and IO_TIMEOUT fail it. */
static inline void metrics_tls_event(unsigned row, const struct io *io, enum io_event event,
                                     int handshaking)
{
	if (metrics_self == NULL || !handshaking)
		return;
	if (event == IO_READY)
		METRICS_LISTENER_COUNT(row, tls_handshakes);
	else if (event == IO_ERROR || event == IO_CLOSED || event == IO_TIMEOUT)
		metrics_tls_failed(row, io);
}

/* An outbound handshake (the SMTP client's STARTTLS) failed for reason
 * KIND: io_tls_failure() of the connection, or IO_TLS_FAIL_CERTIFICATE
 * when it completed but the policy refused the peer's certificate. */
static inline void metrics_outbound_tls_failed(enum io_tls_failure kind)
{
	METRICS_COUNT(outbound_tls_failures[kind < IO_TLS_FAILURES ? kind : IO_TLS_FAIL_OTHER], 1);
}

/* The protection label of a delivery from the log words: TLS ("none" or
 * "" when there was none) and PEER (verified, dane, sts, or anything
 * else for an unauthenticated peer). */
enum metrics_protection metrics_protection_of(const char *tls, const char *peer);

/* The row of policy word WORD among LEVELS[N] (METRICS_POLICIES - 1 when
 * none matches). */
unsigned metrics_policy_row(const char *word, const char *const *levels, unsigned n);

extern const char *const metrics_protection_words[METRICS_PROTECTIONS];
extern const char *const metrics_relay_words[METRICS_RELAYS];
extern const char *const metrics_result_words[METRICS_RESULTS];

#endif
