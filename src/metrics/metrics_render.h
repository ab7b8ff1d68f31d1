/*
 * metrics_render.h: the metrics role's page, Prometheus's text exposition
 * format (version 0.0.4), from the shared counters (proto/metrics.h).
 * Pure: no sockets, no clock, so unit tests and a fuzz harness call it
 * with any bytes for the blocks.
 */
#ifndef SEALMAIL_METRICS_RENDER_H
#define SEALMAIL_METRICS_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include "proto/metrics.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* What one scrape reads: the parent's header and the N_BLOCKS blocks
 * (any bytes: they are summed, never trusted; a NULL block is skipped),
 * of which QUEUE (or NULL) gives the queue's gauges. */
struct metrics_view {
	const struct metrics_header *header;
	const struct metrics_block *const *blocks;
	unsigned n_blocks;
	const struct metrics_block *queue;
	uint64_t now; /* Unix time, for the oldest message's age */
	const char *version;
};

/* The page, malloc'ed and NUL-terminated; *len_r its length. */
char *metrics_render(const struct metrics_view *v, size_t *len_r);

/* Copies S (at most MAX octets, NUL or not) into OUT (SIZE octets) as a
 * label value: backslash, double quote and newline escaped, other
 * controls and octets past ASCII as '?'. */
void metrics_label_value(const char *s, size_t max, char *out, size_t size);

#endif
