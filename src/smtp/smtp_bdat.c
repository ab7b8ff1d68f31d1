/*
 * smtp_bdat.c: BDAT (CHUNKING, RFC 3030) in the SMTP server session: the
 * command's handler, the reading of each chunk (exactly its size, nothing
 * unstuffed, streamed into the spool file in SMTP_DATA_BUF pieces however
 * large it is announced), and its reply. The message's first chunk opens
 * the spool file as DATA does; the LAST one ends the message through
 * smtp_data_end(), so the checks and the durable commit the 250 waits for
 * are DATA's own (smtp_data.c). Called by the command table
 * (smtp_command.c) and the input loop (smtp_session.c).
 *
 * A chunk that cannot be taken (no MAIL, no recipient, over the size
 * limit, no spool file) is still read to its end and dropped, then
 * refused (RFC 3030 2): the chunk's octets are never read as commands. A
 * BDAT whose size cannot be parsed leaves no way to find the chunk's end,
 * so the session closes after its 501.
 */
#include <event2/buffer.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "conf/config.h"
#include "lib/io.h"
#include "lib/log.h"
#include "lib/util.h"
#include "smtp/smtp_parse.h"
#include "smtp/smtp_session_private.h"

/* The chunk at hand is read and dropped; REPLY answers it, as a client
 * error when ERROR, and RESET ends the transaction with it. */
static void smtp_bdat_discard(struct smtp_session *s, const char *reply, int error, int reset)
{
	s->bdat_discard = 1;
	s->bdat_refusal_error = error;
	s->bdat_reset = reset;
	strlcpy_checked(s->bdat_refusal, reply, sizeof(s->bdat_refusal));
	s->bdat_prev = s->state;
	s->state = SMTP_STATE_BDAT;
}

/* Why the chunk cannot be taken, or NULL: the command table's checks and
 * DATA's, in their order, then
 * the size limit on the whole message (RFC 1870 bounds BDAT too). */
static const char *smtp_bdat_refusal(struct smtp_session *s, char *buf, size_t size, int *reset_r)
{
	size_t limit = s->env->cfg->limits.message_size;
	uint64_t have = s->bdat_active ? s->data.size : 0;

	*reset_r = 0;
	if (!s->tls_active && s->listener->tls == LISTENER_TLS_REQUIRED)
		return "530 5.7.0 Must issue a STARTTLS command first";
	if (s->state == SMTP_STATE_CONNECTED)
		return "503 5.5.1 Error: send HELO/EHLO first";
	if (s->state != SMTP_STATE_MAIL)
		return "503 5.5.1 Error: need MAIL command";
	if (s->envelope.n_rcpts == 0)
		return "554 5.5.1 Error: no valid recipients";
	if (s->bdat_size > limit || have > limit - s->bdat_size) {
		*reset_r = 1;
		snprintf(buf, size, "552 5.3.4 Error: message size exceeds fixed limit of %zu",
		         limit);
		return buf;
	}
	return NULL;
}

void smtp_cmd_bdat(struct smtp_session *s, const char *arg)
{
	char buf[128];
	const char *why;
	int reset;

	if (smtp_bdat_parse(arg, &s->bdat_size, &s->bdat_last, &why) < 0) {
		smtp_reply(s, "501 5.5.4 Error: %s; closing, the chunk's end is unknown", why);
		log_info("event=bdat-refused session=%s reason=syntax", s->id);
		smtp_close_after_reply(s);
		return;
	}
	s->bdat_left = s->bdat_size;
	s->bdat_discard = 0;
	s->bdat_read = 0;
	s->bdat_started = smtp_now_usec();
	why = smtp_bdat_refusal(s, buf, sizeof(buf), &reset);
	if (why != NULL) {
		smtp_bdat_discard(s, why, 1, reset);
		return;
	}
	if (s->bdat_active) {
		s->state = SMTP_STATE_BDAT;
		return;
	}
	/* the first chunk: the spool file, as for DATA; smtp_data_start()
	 * moves to SMTP_STATE_BDAT */
	s->bdat_active = 1;
	if (!smtp_data_open(s))
		s->wait = SMTP_WAIT_OPEN;
}

void smtp_bdat_open_failed(struct smtp_session *s, const char *reply)
{
	s->state = SMTP_STATE_MAIL;
	smtp_bdat_discard(s, reply, 0, 1);
}

/* Takes up to LEN octets of the chunk: dropped, or into the spool buffer,
 * written out whenever it fills. */
static void smtp_bdat_take(struct smtp_session *s, const char *data, size_t len)
{
	if (s->bdat_discard)
		return;
	if (SMTP_DATA_BUF - s->data_len < len)
		smtp_data_flush_buffer(s);
	smtp_bdat_feed(&s->data, data, len);
	smtp_data_append(s, data, len);
}

int smtp_session_read_bdat(struct smtp_session *s, struct evbuffer *in)
{
	const struct config *cfg = s->env->cfg;

	io_set_timeout(s->io, cfg->limits.data_timeout);
	while (s->bdat_left > 0 && evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		size_t take;

		if (evbuffer_peek(in, SMTP_DATA_CHUNK, NULL, &v, 1) < 1)
			break;
		take = v.iov_len < SMTP_DATA_CHUNK ? v.iov_len : SMTP_DATA_CHUNK;
		if (take > s->bdat_left)
			take = (size_t)s->bdat_left;
		smtp_bdat_take(s, v.iov_base, take);
		evbuffer_drain(in, take);
		s->bdat_left -= take;
		s->bdat_read += take;
	}
	if (s->bdat_left > 0) {
		/* more time for what came, at data_min_rate (as DATA) */
		smtp_data_rate_deadline(s, s->bdat_started, s->bdat_read);
		return 0;
	}
	smtp_deadline_clear(s);
	io_set_timeout(s->io, cfg->limits.command_timeout);
	return 1;
}

/* A dropped chunk's reply; the transaction goes on unless it must end. */
static void smtp_bdat_refuse(struct smtp_session *s)
{
	s->state = s->bdat_prev;
	if (s->bdat_reset) {
		log_info("event=message-refused session=%s reason=\"%s\"", s->id, s->bdat_refusal);
		smtp_transaction_reset(s);
	}
	if (s->bdat_refusal_error)
		smtp_reply_error(s, "%s", s->bdat_refusal);
	else
		smtp_reply(s, "%s", s->bdat_refusal);
}

void smtp_bdat_chunk_end(struct smtp_session *s)
{
	if (s->bdat_discard) {
		smtp_bdat_refuse(s);
		return;
	}
	if (!s->bdat_last) {
		s->state = SMTP_STATE_MAIL;
		smtp_reply(s, "250 2.0.0 Ok: %" PRIu64 " octets received", s->bdat_size);
		return;
	}
	/* RFC 3030 2: the reply to BDAT LAST is the message's: DATA's end
	 * (smtp_data.c) checks it and waits for the durable commit */
	smtp_bdat_finish(&s->data);
	smtp_data_end(s);
}
