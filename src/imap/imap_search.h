/*
 * imap_search.h: SEARCH / UID SEARCH for the IMAP session (imap_cmd_*.c).
 * Pure code: the arguments as imap_parse.h gives them become a store search
 * program (proto/store.h, nodes in prefix order) plus the ESEARCH RETURN
 * options; the store's result becomes the untagged answer (RFC 9051 6.4.4,
 * 7.3.4; RFC 4731 ESEARCH; RFC 5182 SEARCHRES; RFC 7162 3.1.5 MODSEQ).
 *
 *   imap_search_parse     ARGS -> program + options
 *   imap_search_render    result -> "* SEARCH ..." or "* ESEARCH ..."
 *   imap_search_save_set  result -> the set SAVE keeps for "$" (RFC 5182 2.4)
 *   imap_search_program_free  frees what imap_search_parse allocated
 */
#ifndef SEALMAIL_IMAP_SEARCH_H
#define SEALMAIL_IMAP_SEARCH_H

#include <stdint.h>

#include "imap/imap_parse.h"
#include "proto/store.h"

#define IMAP_SEARCH_DEPTH_MAX 32 /* NOT / OR / ( ) nesting */

/* imap_search_parse's answers besides 0. */
#define IMAP_SEARCH_ERROR (-1)       /* BAD *error_r */
#define IMAP_SEARCH_BADCHARSET (-2)  /* NO [BADCHARSET (US-ASCII UTF-8)] *error_r */

/* RETURN options (RFC 4731 3.1). esearch is set when RETURN was given:
 * "RETURN ()" means ALL. An IMAP4rev2 session sets esearch and ret_all
 * itself when it is 0 after parsing (RFC 9051 answers ESEARCH only).
 * modseq: the program has a MODSEQ key, so the answer carries the highest
 * modseq of the matches (RFC 7162 3.1.5). */
struct imap_search_options {
	int esearch;
	int ret_min, ret_max, ret_count, ret_all, ret_save;
	int modseq;
};

/* SEARCH / UID SEARCH ARGS -> PROG (prog->uid is left to the caller) and
 * OPTS. SAVED_SET is the UID set "$" stands for (RFC 5182; NULL or "" =
 * no message). Returns 0, IMAP_SEARCH_ERROR (BAD) or IMAP_SEARCH_BADCHARSET,
 * with *error_r; on errors PROG is empty. Free PROG with
 * imap_search_program_free() (or proto_store_search_free()). */
int imap_search_parse(const struct imap_arg *args, unsigned n, struct proto_store_search *prog,
                      struct imap_search_options *opts, const char *saved_set,
                      const char **error_r);
void imap_search_program_free(struct proto_store_search *prog);

/* The untagged answer: "* SEARCH 1 2 3" (+ " (MODSEQ n)") or
 * "* ESEARCH (TAG "a1") UID MIN 2 MAX 7 COUNT 3 ALL 2,5,7 MODSEQ n";
 * nothing for ESEARCH with only SAVE (RFC 5182 2.1). UID: the numbers are
 * UIDs (UID SEARCH). */
void imap_search_render(const struct imap_search_options *opts,
                        const struct proto_store_search_result *r, const char *tag, int uid,
                        struct imap_out *out);

/* The set SAVE keeps (allocated; "" for none): MIN and/or MAX alone keep
 * those, otherwise every match (RFC 5182 2.4). The numbers are those of R:
 * the session asks UIDs when it saves. */
char *imap_search_save_set(const struct imap_search_options *opts,
                           const struct proto_store_search_result *r);

#endif
