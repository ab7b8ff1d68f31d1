/*
 * smtp_data.c: DATA in the SMTP server session: the command's handler, the
 * spool file the queue opens for the message (smtp_session_open_done), the
 * Received: header written first, the message text fed through the
 * end-of-data machine (smtp_parse.h) into the spool with its own deadline,
 * the checks at the final dot, and the durable commit the 250 waits for
 * (smtp_session_commit_done). Called by the command table (smtp_command.c),
 * the input loop (smtp_session.c) and the SMTP role for the queue's answers.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf/config.h"
#include "lib/crc32c.h"
#include "lib/fault.h"
#include "lib/io.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mail/envelope.h"
#include "proto/proto.h"
#include "smtp/smtp_parse.h"
#include "smtp/smtp_session_private.h"

/* ---- deadline ---------------------------------------------------------------- */

uint64_t smtp_now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* DATA may take data_timeout seconds plus one more for every data_min_rate
 * octets received (Postfix's smtpd_min_data_rate): a client that trickles
 * a byte at a time is cut off, a slow link with a big message is not. */
void smtp_data_rate_deadline(struct smtp_session *s, uint64_t started, uint64_t octets)
{
	const struct config_limits *l = &s->env->cfg->limits;
	uint64_t allowed, elapsed;

	if (l->data_min_rate == 0)
		return;
	allowed = (uint64_t)l->data_timeout * 1000000u + octets * 1000000u / l->data_min_rate;
	elapsed = smtp_now_usec() - started;
	smtp_deadline_set(s, "data",
	                  elapsed >= allowed ? 0 : (unsigned)((allowed - elapsed) / 1000000u) + 1);
}

static void smtp_data_deadline(struct smtp_session *s)
{
	smtp_data_rate_deadline(s, s->data_started, s->data.size);
}

/* ---- the spool file ---------------------------------------------------------- */

/* Closes the spool file and frees the message buffer. */
void smtp_data_release(struct smtp_session *s)
{
	if (s->spool_fd >= 0)
		close(s->spool_fd);
	s->spool_fd = -1;
	free(s->data_buf);
	s->data_buf = NULL;
	s->data_len = 0;
}

/* The trace header of a local submission (`sealmail send`): no client
 * host nor address, since none was there, but the submitting user the
 * kernel named, as Postfix's "by HOST (Postfix, from userid UID)" does,
 * with the login name when it is known (daemon/local_users.h). */
static void smtp_received_local(struct smtp_session *s, char *buf, size_t size)
{
	char date[64], user[96] = "", rcpt[ENVELOPE_ADDR_MAX + 16] = "";

	rfc5322_date(time(NULL), date, sizeof(date));
	if (s->local_user[0] != '\0')
		snprintf(user, sizeof(user), ", user %s", s->local_user);
	if (s->envelope.n_rcpts == 1)
		snprintf(rcpt, sizeof(rcpt), "\r\n\tfor <%s>", s->first_rcpt_display);
	snprintf(buf, size, "Received: by %s (sealmail, from userid %u%s)\r\n\tid %s%s;\r\n\t%s\r\n",
	         s->env->cfg->hostname, s->local_uid, user, s->queue_id, rcpt, date);
}

/* The trace header, RFC 5321 4.4, with RFC 3848 "with" types; the TLS
 * comment says how the hop was protected. */
static void smtp_received_header(struct smtp_session *s, char *buf, size_t size)
{
	const struct config *cfg = s->env->cfg;
	char date[64], tls[256] = "", rcpt[ENVELOPE_ADDR_MAX + 16] = "";
	/* RFC 6531 4.3: UTF8SMTP, UTF8SMTPA, UTF8SMTPS, UTF8SMTPSA */
	int utf8 = (s->envelope.flags & ENVELOPE_SMTPUTF8) != 0;
	const char *with = s->auth.user[0] && s->tls_active ? (utf8 ? "UTF8SMTPSA" : "ESMTPSA")
	                   : s->tls_active                  ? (utf8 ? "UTF8SMTPS" : "ESMTPS")
	                   : s->auth.user[0] && utf8        ? "UTF8SMTPA"
	                   : utf8                           ? "UTF8SMTP"
	                   : s->esmtp                       ? "ESMTP"
	                                                    : "SMTP";
	char who[ENVELOPE_ADDR_MAX + 64] = "";

	if (s->local) {
		smtp_received_local(s, buf, size);
		return;
	}
	rfc5322_date(time(NULL), date, sizeof(date));
	if (s->tls_active)
		snprintf(tls, sizeof(tls), "\r\n\t(version=%s cipher=%s bits=%d)", s->tls_version,
		         s->tls_cipher, s->tls_bits);
	if (s->envelope.n_rcpts == 1)
		snprintf(rcpt, sizeof(rcpt), "\r\n\tfor <%s>", s->first_rcpt_display);
	if (s->auth.user[0] && cfg->log_auth_in_header)
		snprintf(who, sizeof(who), "\r\n\t(authenticated as %s)", s->auth.user);
	snprintf(buf, size,
	         "Received: from %s ([%s])\r\n\tby %s (sealmail) with %s id %s%s%s%s;\r\n\t%s\r\n",
	         s->helo, s->client, cfg->hostname, with, s->queue_id, tls, who, rcpt, date);
}

/* The spool file is there: the Received: header goes first, then 354. */
static void smtp_data_start(struct smtp_session *s, const char *queue_id, int fd)
{
	char header[2048];
	size_t n;

	strlcpy_checked(s->queue_id, queue_id, sizeof(s->queue_id));
	s->spool_fd = fd;
	s->data_buf = xmalloc(SMTP_DATA_BUF);
	s->data_len = 0;
	s->written = 0;
	s->crc = 0;
	s->data_error = 0;
	smtp_received_header(s, header, sizeof(header));
	n = strlen(header);
	memcpy(s->data_buf, header, n);
	s->data_len = n;
	smtp_data_init(&s->data, s->env->cfg->limits.text_line);
	s->data_started = smtp_now_usec();
	if (s->bdat_active) {
		/* the chunk that asked for the file is read now (smtp_bdat.c) */
		s->state = SMTP_STATE_BDAT;
		return;
	}
	s->state = SMTP_STATE_DATA;
	io_set_timeout(s->io, s->env->cfg->limits.data_timeout);
	smtp_data_deadline(s);
	smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

void smtp_cmd_data(struct smtp_session *s, const char *arg)
{
	if (s->state != SMTP_STATE_MAIL) {
		smtp_reply_error(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (s->bdat_active) { /* RFC 3030 2: not in the same transaction */
		smtp_reply_error(s, "503 5.5.1 Error: DATA cannot follow BDAT in one transaction");
		return;
	}
	if (s->envelope.n_rcpts == 0) {
		smtp_reply_error(s, "554 5.5.1 Error: no valid recipients");
		return;
	}
	if (!smtp_data_open(s))
		s->wait = SMTP_WAIT_OPEN;
}

int smtp_data_open(struct smtp_session *s)
{
	char queue_id[32];
	int fd;

	strlcpy_checked(s->envelope.client, s->client, sizeof(s->envelope.client));
	strlcpy_checked(s->envelope.helo, s->helo, sizeof(s->envelope.helo));
	strlcpy_checked(s->envelope.listener, s->listener->name, sizeof(s->envelope.listener));
	s->envelope.authenticated = s->auth.user[0] != '\0';
	strlcpy_checked(s->envelope.auth_user, s->auth.user, sizeof(s->envelope.auth_user));
	if (s->tls_active)
		snprintf(s->envelope.tls, sizeof(s->envelope.tls), "%s/%s", s->tls_version,
		         s->tls_cipher);
	s->envelope.time = (uint64_t)time(NULL);
	if (s->env->queue_file(s->env->owner, s->handle, queue_id, &fd)) {
		smtp_data_start(s, queue_id, fd);
		return 1;
	}
	return 0;
}

/* Appends the buffered message to the spool file. */
void smtp_data_flush_buffer(struct smtp_session *s)
{
	if (s->data_len == 0)
		return;
	if (!s->data_error &&
	    (FAULT("smtp/data/write") || write_all(s->spool_fd, s->data_buf, s->data_len) < 0))
		s->data_error = errno ? errno : EIO;
	if (!s->data_error) {
		s->written += s->data_len;
		s->crc = crc32c(s->crc, s->data_buf, s->data_len);
	}
	s->data_len = 0;
}

/* The reply to a message the spool could not take: 452 4.3.1 when its file
 * system is full (the client may retry at once elsewhere), else 451 4.3.0. */
static void smtp_reply_spool_failure(struct smtp_session *s, int no_space)
{
	if (no_space)
		smtp_reply(s, "452 4.3.1 Insufficient system storage");
	else
		smtp_reply(s, "451 4.3.0 Error: queue file write error");
}

void smtp_session_open_done(struct smtp_session *s, int ok, const char *text, int fd)
{
	if (s->wait != SMTP_WAIT_OPEN) {
		if (fd >= 0)
			close(fd);
		return;
	}
	s->wait = SMTP_WAIT_NONE;
	if (ok != QUEUE_RESULT_OK || fd < 0) {
		log_error("event=queue-error session=%s reason=\"%s\"", s->id, text);
		if (s->bdat_active)
			smtp_bdat_open_failed(s, ok == QUEUE_RESULT_NO_SPACE
			                             ? "452 4.3.1 Insufficient system storage"
			                             : "451 4.3.0 Error: queue file write error");
		else {
			smtp_reply_spool_failure(s, ok == QUEUE_RESULT_NO_SPACE);
			smtp_transaction_reset(s);
		}
	} else {
		smtp_data_start(s, text, fd);
	}
	smtp_session_process(s);
}

/* ---- the message text and its end -------------------------------------------- */

/* Feeds buffered input to the DATA machine. Returns 1 when data ended. */
int smtp_session_read_data(struct smtp_session *s, struct evbuffer *in)
{
	const struct config *cfg = s->env->cfg;

	while (evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		size_t out_len, consumed, take;
		int done;

		if (evbuffer_peek(in, SMTP_DATA_CHUNK, NULL, &v, 1) < 1)
			break;
		take = v.iov_len < SMTP_DATA_CHUNK ? v.iov_len : SMTP_DATA_CHUNK;
		if (SMTP_DATA_BUF - s->data_len < take + 2)
			smtp_data_flush_buffer(s);
		done = smtp_data_feed(&s->data, v.iov_base, take, s->data_buf + s->data_len,
		                      &out_len, &consumed);
		evbuffer_drain(in, consumed);
		/* Past the size limit the rest is read and dropped (RFC 1870 6). */
		if (s->data.size <= cfg->limits.message_size)
			smtp_data_append(s, NULL, out_len);
		if (done)
			return 1;
	}
	smtp_data_deadline(s); /* more time for what came */
	return 0;
}

/* The header checks see the message as stored: the From: rule of logged-in
 * users (smtp_auth.h) and "TLS-Required:" (RFC 8689 5). DATA is NULL when
 * the octets are already at the end of the spool buffer. */
void smtp_data_append(struct smtp_session *s, const char *data, size_t len)
{
	static const char *const tls_required[] = {"TLS-Required"};
	char *at = s->data_buf + s->data_len;

	if (data != NULL)
		memcpy(at, data, len);
	smtp_auth_header_append(&s->auth, at, len);
	if (!s->tls_required_on) {
		header_scan_init(&s->tls_required, tls_required, 1, HEADER_SCAN_LAX_EOL);
		s->tls_required_on = 1;
	}
	if (!s->tls_required.done)
		header_scan_feed(&s->tls_required, at, len);
	s->data_len += len;
}

/* RFC 8689 5: "TLS-Required: No" asks that TLS policy failures be waived,
 * unless the sender also asked for REQUIRETLS, which wins. */
static void smtp_data_tls_required(struct smtp_session *s)
{
	if (!s->tls_required_on)
		return;
	header_scan_finish(&s->tls_required);
	if (!(s->envelope.flags & ENVELOPE_REQUIRETLS) &&
	    header_scan_single_word(&s->tls_required, 0, "No"))
		s->envelope.flags |= ENVELOPE_TLS_OPTIONAL;
}

/* The refusal of a message whose text has a bare CR or LF: only BDAT can
 * bring one to the end (DATA keeps them as data, README "What the SMTP
 * server does"); it is refused because the next hop, or a DATA hop after
 * it, may take it for a line end (the SMTP smuggling class). */
static int smtp_data_bare_line_end(struct smtp_session *s)
{
	if (!s->bdat_active || (!s->data.bare_lf && !s->data.bare_cr))
		return 0;
	smtp_reply(s,
	           "554 5.6.0 Error: bare <%s> in the message; lines must end with <CR><LF> "
	           "(RFC 5321 2.3.8)",
	           s->data.bare_lf ? "LF" : "CR");
	log_info("event=bare-newline session=%s kind=%s where=bdat", s->id,
	         s->data.bare_lf ? "LF" : "CR");
	return 1;
}

/* End of data: either refuse with the reason, or hand over to the queue
 * for the durable commit; the 250 waits for it. */
void smtp_data_end(struct smtp_session *s)
{
	const struct config *cfg = s->env->cfg;
	uint64_t size = s->data.size;
	int too_big = size > cfg->limits.message_size;
	const char *refusal = NULL;

	if (!too_big)
		smtp_data_flush_buffer(s);
	smtp_deadline_clear(s);
	io_set_timeout(s->io, cfg->limits.command_timeout);
	s->state = SMTP_STATE_MAIL;
	if (too_big) {
		smtp_reply(s, "552 5.3.4 Error: message size exceeds fixed limit of %zu",
		           cfg->limits.message_size);
	} else if (smtp_auth_check_from_header(&s->auth, &refusal) < 0) {
		smtp_reply(s, "%s", refusal);
	} else if (smtp_data_bare_line_end(s)) {
		/* replied */
	} else if (s->data.line_too_long) {
		smtp_reply(s,
		           "554 5.6.0 Error: message has a line longer than %zu octets "
		           "(RFC 5321 4.5.3.1.6)",
		           cfg->limits.text_line);
	} else if (s->data_error) {
		log_error("event=queue-error id=%s session=%s reason=\"spool write: %s\"",
		          s->queue_id, s->id, strerror(s->data_error));
		smtp_reply_spool_failure(s, s->data_error == ENOSPC || s->data_error == EDQUOT);
	} else {
		close(s->spool_fd);
		s->spool_fd = -1;
		smtp_data_tls_required(s);
		s->wait = SMTP_WAIT_COMMIT;
		s->env->queue_commit(s->env->owner, s->handle, s->queue_id, s->written, s->crc,
		                     &s->envelope);
		return;
	}
	log_info("event=message-refused session=%s id=%s size=%" PRIu64, s->id, s->queue_id, size);
	smtp_transaction_reset(s);
}

void smtp_session_commit_done(struct smtp_session *s, int ok, const char *text)
{
	char from[ENVELOPE_ADDR_MAX + 8];

	if (s->wait != SMTP_WAIT_COMMIT)
		return;
	s->wait = SMTP_WAIT_NONE;
	if (ok == QUEUE_RESULT_OK) {
		log_info("event=queued id=%s session=%s from=%s nrcpt=%u size=%" PRIu64 " tls=%s",
		         s->queue_id, s->id, log_address(s->envelope.sender, from, sizeof(from)),
		         s->envelope.n_rcpts, s->written, s->tls_active ? s->tls_version : "none");
		smtp_reply(s, "250 2.0.0 Ok: queued as %s", s->queue_id);
		s->messages++;
		s->junk = 0;
		s->queue_id[0] = '\0'; /* committed: not ours to abort */
	} else {
		log_error("event=queue-error id=%s session=%s reason=\"%s\"", s->queue_id, s->id,
		          text);
		smtp_reply_spool_failure(s, ok == QUEUE_RESULT_NO_SPACE);
	}
	smtp_transaction_reset(s);
	smtp_session_process(s);
}
