/*
 * spool_file.h: the spool file format, written and read only by the queue
 * role (commit, loading, recovery). Pure: bytes in, values out.
 *
 * The message exactly as received (CRLF line ends, after dot-unstuffing),
 * written by the dispatcher from offset 0; then the envelope, written by the
 * queue at commit: text records "key value\n" after a first line
 * "sealmail-queue 1", one "rcpt NOTIFY ORCPT ADDRESS" record per recipient
 * (NOTIFY a number, ORCPT "-" when absent), "trusted 0|1" (the client was
 * authenticated or trusted: its NOTIFY=SUCCESS/DELAY and RET=FULL count;
 * files written before it existed load as 0), "flags N" (the envelope's
 * ENVELOPE_* bits in decimal, written only when not 0, so files without
 * it load as 0 and files of plain mail stay readable by older versions),
 * "listener NAME" (the [listen NAME] it came in on) and "auth 1" (the client
 * logged in), each written only when set, so older files load as "" and 0
 * (files that have them are not readable by versions before them),
 * "auth-user NAME" (the SMTP AUTH identity, for `queue show`; the same
 * way: written only when set, files before it load as ""), an empty line; then a fixed-size
 * trailer "\nsealmail-env OFFSET CRC\n" (16 and 8 hex digits) giving where
 * the envelope starts, i.e. the message's length, and the CRC-32C of the
 * message, so that recovery can tell a complete file.
 */
#ifndef SEALMAIL_SPOOL_FILE_H
#define SEALMAIL_SPOOL_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "mail/envelope.h"

/* The longest envelope block a spool file may hold. */
#define SPOOL_ENVELOPE_MAX (ENVELOPE_MAX_RCPTS * (ENVELOPE_ADDR_MAX + 8) + 8192)
#define SPOOL_TRAILER_LEN 40

/* The envelope records for ENV, malloc'ed; *len_r their length. NULL when a
 * field holds a line end (it would forge a record). */
char *spool_envelope_format(const struct envelope *env, size_t *len_r);

/* What follows a message of BODY_LEN octets (CRC-32C BODY_CRC) in its spool
 * file: the envelope and the trailer. Malloc'ed; NULL when a field holds a
 * line end. */
char *spool_block_format(const struct envelope *env, uint64_t body_len, uint32_t body_crc,
                         size_t *len_r);

/* Reads the trailer (the last SPOOL_TRAILER_LEN octets of a spool file).
 * Returns 0 or -1. */
int spool_trailer_parse(const char *tail, size_t len, uint64_t *body_len_r, uint32_t *body_crc_r);

/* Parses the envelope records from BUF (LEN bytes, may hold more). On
 * success *header_len_r is the offset after them. Returns 0 or -1 with
 * *error_r. */
int spool_envelope_parse(struct envelope *env, const char *buf, size_t len, size_t *header_len_r,
                         const char **error_r);

#endif
