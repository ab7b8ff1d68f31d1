/*
 * seqset.h: IMAP sequence sets and UID sets (RFC 9051 9: sequence-set,
 * seq-number, seq-range, "*"). Pure: the IMAP session parses the text of a
 * command argument here, resolves "*" against the selected folder and asks
 * whether a number is in the set; the store formats UID lists back with
 * seqset_format (COPYUID, VANISHED, ESEARCH ALL).
 */
#ifndef SEALMAIL_SEQSET_H
#define SEALMAIL_SEQSET_H

#include <stdint.h>

/* "*" is stored as UINT32_MAX until resolved (so the number 4294967295,
 * which no folder reaches, reads as "*"). */
struct seqset_range {
	uint32_t lo, hi; /* lo <= hi after parsing */
};

struct seqset {
	struct seqset_range *r;
	unsigned n;
};

#define SEQSET_MAX_RANGES 65536
/* The longest text seqset_parse looks at: SEQSET_MAX_RANGES ranges of two
 * ten-digit numbers, a colon and a comma each. */
#define SEQSET_TEXT_MAX ((size_t)SEQSET_MAX_RANGES * 22)

/* Parses TEXT (no "$"; the session replaces it); -1 with *error_r on bad
 * syntax (SET is then empty), 0. Refuses 0, leading zeros (nz-number),
 * empty parts and more than SEQSET_MAX_RANGES ranges; "5:1" is 1:5. */
int seqset_parse(const char *text, struct seqset *set, const char **error_r);
/* Replaces "*" by STAR (the largest number in use; 0 when the folder is
 * empty), orders and merges the ranges. */
void seqset_resolve(struct seqset *set, uint32_t star);
/* 1 when V is in SET, 0 when not (after resolve: binary search). */
int seqset_contains(const struct seqset *set, uint32_t v);
void seqset_free(struct seqset *set);
/* The compact text of N ascending numbers ("1:3,5"), allocated; "" for none. */
char *seqset_format(const uint32_t *v, unsigned n);

#endif
