/*
 * metrics.c: see metrics.h.
 */
#include "proto/metrics.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct metrics_block *metrics_self;

const uint64_t metrics_batch_bounds[METRICS_BATCH_BUCKETS] = {1,  2,  4,   8,   16,
                                                              32, 64, 128, 256, 512};
const uint64_t metrics_latency_bounds_usec[METRICS_LATENCY_BUCKETS] = {
    250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000};

const char *const metrics_protection_words[METRICS_PROTECTIONS] = {"none", "encrypted", "pkix",
                                                                   "dane", "sts"};
const char *const metrics_relay_words[METRICS_RELAYS] = {"local", "remote"};
const char *const metrics_result_words[METRICS_RESULTS] = {"delivered", "deferred", "bounced"};

size_t metrics_block_stride(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (sizeof(struct metrics_block) + page - 1) / page * page;
}

size_t metrics_region_size(void)
{
	return metrics_block_stride() * (METRICS_BLOCKS + 1);
}

_Static_assert(sizeof(struct metrics_header) <= 4096, "the header fits the first page");

void metrics_enter(void *region, unsigned block)
{
	size_t stride = metrics_block_stride(), size = metrics_region_size();
	char *start = region;

	if (region == NULL)
		return;
	if (block >= METRICS_BLOCKS) {
		munmap(region, size);
		return;
	}
	/* before the block (the header among it), then after it */
	munmap(start, stride * (block + 1));
	if (stride * (block + 2) < size)
		munmap(start + stride * (block + 2), size - stride * (block + 2));
	metrics_self = metrics_block_at(region, block);
}

void metrics_observe(struct metrics_histogram *h, const uint64_t *bounds, unsigned n, uint64_t v)
{
	unsigned i = 0;

	while (i < n && v > bounds[i])
		i++;
	metrics_add(&h->buckets[i], 1);
	metrics_add(&h->sum, v);
}

void metrics_tls_failed(unsigned row, const struct io *io)
{
	struct metrics_listener_counts *c = metrics_listener(row);
	unsigned kind = io != NULL ? (unsigned)io_tls_failure(io) : IO_TLS_FAIL_OTHER;

	if (c != NULL)
		metrics_add(&c->tls_failures[kind < IO_TLS_FAILURES ? kind : IO_TLS_FAIL_OTHER], 1);
}

enum metrics_protection metrics_protection_of(const char *tls, const char *peer)
{
	if (tls == NULL || tls[0] == '\0' || strcmp(tls, "none") == 0)
		return METRICS_PROT_NONE;
	if (peer != NULL && strcmp(peer, "dane") == 0)
		return METRICS_PROT_DANE;
	if (peer != NULL && strcmp(peer, "sts") == 0)
		return METRICS_PROT_STS;
	if (peer != NULL && strcmp(peer, "verified") == 0)
		return METRICS_PROT_PKIX;
	return METRICS_PROT_ENCRYPTED;
}

unsigned metrics_policy_row(const char *word, const char *const *levels, unsigned n)
{
	for (unsigned i = 0; i < n && i < METRICS_POLICIES - 1; i++)
		if (word != NULL && strcmp(word, levels[i]) == 0)
			return i;
	return METRICS_POLICIES - 1;
}
