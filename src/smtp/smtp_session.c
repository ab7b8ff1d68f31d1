/*
 * smtp_session.c: the SMTP server session. See smtp_session.h.
 *
 * Input flows through two pure parsers (smtp_parse.h): the line reader for
 * commands and the end-of-data machine for DATA. Commands live in a table
 * that pairs each verb with its handler and the checks that precede it.
 * Replies go to the connection's output (lib/io.h) and leave when the input
 * at hand has been handled, which batches replies to pipelined commands.
 */
#include "smtp/smtp_session.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "conf/config.h"
#include "proto/proto.h"
#include "lib/crc32c.h"
#include "lib/fault.h"
#include "lib/io.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mail/envelope.h"
#include "mail/xtext.h"
#include "smtp/smtp_parse.h"
#include "smtp/smtp_session_private.h"

#define SMTP_DATA_CHUNK 16384
#define SMTP_DATA_BUF (4 * SMTP_DATA_CHUNK)
#define SMTP_AUTH_LINE_MAX SMTP_AUTH_RESPONSE_MAX /* RFC 4954 4 */

static void smtp_rcpt_answer(struct smtp_session *s, unsigned result, const char *const *targets,
                             unsigned n_targets);
static void smtp_session_free(struct smtp_session *s);
static void smtp_session_process(struct smtp_session *s);
static void smtp_session_auth_continue(struct smtp_session *s, const char *line, size_t len);

/* ---- replies -------------------------------------------------------- */

static void smtp_reply_v(struct smtp_session *s, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void smtp_reply_v(struct smtp_session *s, const char *fmt, va_list ap)
{
	io_vprintf(s->io, fmt, ap);
	io_write(s->io, "\r\n", 2);
}

/* Queues a reply line (CRLF added). */
__attribute__((format(printf, 2, 3))) static void smtp_reply(struct smtp_session *s,
                                                             const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	smtp_reply_v(s, fmt, ap);
	va_end(ap);
}

/* A reply that counts as a client error; too many of them end the session
 * (a bound on what a misbehaving client can cost us). */
__attribute__((format(printf, 2, 3))) static void smtp_reply_error(struct smtp_session *s,
                                                                   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	smtp_reply_v(s, fmt, ap);
	va_end(ap);
	if (++s->errors >= s->env->cfg->limits.errors) {
		smtp_reply(s, "421 4.7.0 %s Too many errors, closing connection",
		           s->env->cfg->hostname);
		log_info("event=too-many-errors session=%s errors=%u", s->id, s->errors);
		s->state = SMTP_STATE_CLOSING;
	}
}

static void smtp_close_after_reply(struct smtp_session *s)
{
	s->state = SMTP_STATE_CLOSING;
	io_pause(s->io);
}

/* ---- deadlines -------------------------------------------------------- */

static uint64_t smtp_now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* A deadline that holds whatever the client sends, SECONDS from now (0: at
 * once, from the event loop): WHAT names it in the log when it fires. */
static void smtp_deadline_set(struct smtp_session *s, const char *what, unsigned seconds)
{
	s->deadline = what;
	io_set_deadline(s->io, seconds);
}

static void smtp_deadline_clear(struct smtp_session *s)
{
	if (s->deadline != NULL && s->io != NULL)
		io_clear_deadline(s->io);
	s->deadline = NULL;
}

/* DATA may take data_timeout seconds plus one more for every data_min_rate
 * octets received (Postfix's smtpd_min_data_rate): a client that trickles
 * a byte at a time is cut off, a slow link with a big message is not. */
static void smtp_data_deadline(struct smtp_session *s)
{
	const struct config_limits *l = &s->env->cfg->limits;
	uint64_t allowed, elapsed;

	if (l->data_min_rate == 0)
		return;
	allowed = (uint64_t)l->data_timeout * 1000000u +
	          s->data.size * 1000000u / l->data_min_rate;
	elapsed = smtp_now_usec() - s->data_started;
	smtp_deadline_set(s, "data",
	                  elapsed >= allowed ? 0 : (unsigned)((allowed - elapsed) / 1000000u) + 1);
}

/* ---- the transaction ------------------------------------------------- */

static void smtp_data_release(struct smtp_session *s)
{
	if (s->spool_fd >= 0)
		close(s->spool_fd);
	s->spool_fd = -1;
	free(s->data_buf);
	s->data_buf = NULL;
	s->data_len = 0;
}

/* Forgets the transaction (RSET, EHLO, STARTTLS, end of DATA). An open
 * spool file is abandoned and the queue told to remove it. */
static void smtp_transaction_reset(struct smtp_session *s)
{
	if (s->queue_id[0] != '\0') {
		s->env->queue_abort(s->env->owner, s->handle, s->queue_id);
		s->queue_id[0] = '\0';
	}
	smtp_data_release(s);
	envelope_free(&s->envelope);
	envelope_init(&s->envelope);
	s->declared_size = 0;
	smtp_auth_header_reset(&s->auth);
	s->first_rcpt_display[0] = '\0';
	if (s->state == SMTP_STATE_MAIL || s->state == SMTP_STATE_DATA)
		s->state = SMTP_STATE_READY;
}

/* ---- command checks and handlers --------------------------------------- */

enum smtp_cmd_flags {
	SMTP_CMD_NEEDS_HELO = 1 << 0, /* RFC 5321 4.1.4 */
	SMTP_CMD_NEEDS_TLS = 1 << 1,  /* refused before TLS on tls = required */
	SMTP_CMD_NO_ARG = 1 << 2,
};

struct smtp_cmd {
	enum smtp_verb verb;
	unsigned flags;
	void (*handle)(struct smtp_session *s, const char *arg);
};

/* A permissive HELO/EHLO argument: a domain or address literal in spirit,
 * printable and free of what could break our Received: header. */
static int smtp_helo_ok(const char *arg)
{
	size_t n = strlen(arg);

	if (n == 0 || n > 255)
		return 0;
	for (; *arg; arg++)
		if (*arg <= ' ' || *arg >= 0x7f || strchr("()<>;\"\\", *arg) != NULL)
			return 0;
	return 1;
}

static void smtp_cmd_helo_common(struct smtp_session *s, const char *arg, int esmtp)
{
	const struct config *cfg = s->env->cfg;
	int offer_tls = !s->tls_active && s->listener->tls != LISTENER_TLS_NONE &&
	                s->listener->tls != LISTENER_TLS_IMPLICIT;

	if (!smtp_helo_ok(arg)) {
		smtp_reply_error(s, "501 5.5.4 Syntax: %s hostname", esmtp ? "EHLO" : "HELO");
		return;
	}
	smtp_transaction_reset(s);
	smtp_deadline_clear(s);
	strlcpy_checked(s->helo, arg, sizeof(s->helo));
	s->esmtp = esmtp;
	s->state = SMTP_STATE_READY;
	if (!esmtp) {
		smtp_reply(s, "250 %s", cfg->hostname);
		return;
	}
	smtp_reply(s, "250-%s", cfg->hostname);
	smtp_reply(s, "250-PIPELINING");
	smtp_reply(s, "250-SIZE %zu", cfg->limits.message_size);
	smtp_reply(s, "250-8BITMIME");
	smtp_reply(s, "250-ENHANCEDSTATUSCODES");
	smtp_reply(s, "250-DSN");
	if (smtp_auth_ehlo(&s->auth, s->tls_active) != NULL)
		smtp_reply(s, "250-%s", smtp_auth_ehlo(&s->auth, s->tls_active));
	if (offer_tls)
		smtp_reply(s, "250-STARTTLS");
	smtp_reply(s, "250 HELP");
}

static void smtp_cmd_ehlo(struct smtp_session *s, const char *arg)
{
	smtp_cmd_helo_common(s, arg, 1);
}

static void smtp_cmd_helo(struct smtp_session *s, const char *arg)
{
	smtp_cmd_helo_common(s, arg, 0);
}

/* SIZE (RFC 1870): refused at once when over the limit. */
static int smtp_param_size(struct smtp_session *s, const char *value)
{
	const struct config *cfg = s->env->cfg;
	char *end;

	errno = 0;
	s->declared_size = strtoull(value, &end, 10);
	if (*end != '\0' || errno != 0 || value[0] < '0' || value[0] > '9') {
		smtp_reply_error(s, "501 5.5.4 Bad SIZE parameter");
		return -1;
	}
	if (s->declared_size > cfg->limits.message_size) {
		smtp_reply_error(s, "552 5.3.4 Message size exceeds fixed limit of %zu",
		                 cfg->limits.message_size);
		return -1;
	}
	return 0;
}

/* MAIL parameters: SIZE, BODY (RFC 6152), RET and ENVID (RFC 3461 4.3, 4.4). */
static int smtp_mail_params(struct smtp_session *s, const struct smtp_param *params, unsigned n)
{
	struct envelope *e = &s->envelope;
	unsigned i;

	for (i = 0; i < n; i++) {
		const struct smtp_param *p = &params[i];

		if (strcmp(p->keyword, "SIZE") == 0 && p->has_value) {
			if (smtp_param_size(s, p->value) < 0)
				return -1;
		} else if (strcmp(p->keyword, "BODY") == 0 &&
		           (strcasecmp(p->value, "7BIT") == 0 ||
		            strcasecmp(p->value, "8BITMIME") == 0)) {
			strlcpy_checked(e->body, p->value, sizeof(e->body));
			str_lower(e->body);
		} else if (strcmp(p->keyword, "RET") == 0 && e->ret[0] == '\0' &&
		           (strcasecmp(p->value, "FULL") == 0 ||
		            strcasecmp(p->value, "HDRS") == 0)) {
			strlcpy_checked(e->ret, p->value, sizeof(e->ret));
			str_lower(e->ret);
		} else if (strcmp(p->keyword, "ENVID") == 0 && e->envid[0] == '\0' &&
		           strlen(p->value) <= 100 && xtext_valid(p->value)) {
			strlcpy_checked(e->envid, p->value, sizeof(e->envid));
		} else {
			smtp_reply_error(s, "555 5.5.4 Unsupported or malformed parameter %s",
			                 p->keyword);
			return -1;
		}
	}
	return 0;
}

/* NOTIFY=NEVER or a list of SUCCESS, FAILURE, DELAY (RFC 3461 4.1). */
static int smtp_parse_notify(const char *value, unsigned *notify_r)
{
	char buf[64], *tok, *save = NULL;
	unsigned notify = 0;

	if (strlcpy_checked(buf, value, sizeof(buf)) < 0)
		return -1;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (strcasecmp(tok, "NEVER") == 0)
			notify |= NOTIFY_NEVER;
		else if (strcasecmp(tok, "SUCCESS") == 0)
			notify |= NOTIFY_SUCCESS;
		else if (strcasecmp(tok, "FAILURE") == 0)
			notify |= NOTIFY_FAILURE;
		else if (strcasecmp(tok, "DELAY") == 0)
			notify |= NOTIFY_DELAY;
		else
			return -1;
	}
	if (notify == 0 || ((notify & NOTIFY_NEVER) && notify != NOTIFY_NEVER))
		return -1;
	*notify_r = notify;
	return 0;
}

/* RCPT parameters: NOTIFY and ORCPT (RFC 3461 4.1, 4.2). */
static int smtp_rcpt_params(struct smtp_session *s, const struct smtp_param *params, unsigned n)
{
	unsigned i;

	s->pending_notify = 0;
	s->pending_orcpt[0] = '\0';
	for (i = 0; i < n; i++) {
		const struct smtp_param *p = &params[i];
		const char *semi = strchr(p->value, ';');

		if (strcmp(p->keyword, "NOTIFY") == 0 && s->pending_notify == 0 &&
		    smtp_parse_notify(p->value, &s->pending_notify) == 0)
			continue;
		if (strcmp(p->keyword, "ORCPT") == 0 && s->pending_orcpt[0] == '\0' && semi &&
		    semi != p->value && xtext_valid(semi + 1) &&
		    strlcpy_checked(s->pending_orcpt, p->value, sizeof(s->pending_orcpt)) == 0)
			continue;
		smtp_reply_error(s, "555 5.5.4 Unsupported or malformed parameter %s", p->keyword);
		return -1;
	}
	return 0;
}

static void smtp_cmd_mail(struct smtp_session *s, const char *arg)
{
	struct smtp_param params[SMTP_MAX_PARAMS];
	struct smtp_path path;
	unsigned n_params;
	const char *why, *refusal;

	if (s->state == SMTP_STATE_MAIL) {
		smtp_reply_error(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if (smtp_path_parse(arg, 1, 0, &path, params, &n_params, &why) < 0) {
		smtp_reply_error(s, "501 5.1.7 %s", why);
		return;
	}
	if (s->auth.user[0] == '\0' && !s->local &&
	    (s->listener->auth == LISTENER_AUTH_REQUIRED ||
	     s->listener->auth == LISTENER_AUTH_CERTIFICATE)) {
		smtp_reply_error(s, "530 5.7.0 Authentication required");
		return;
	}
	smtp_transaction_reset(s);
	/* as for relaying: logged-in users, trusted networks, local users */
	s->envelope.trusted = s->trusted || s->local || s->auth.user[0] != '\0';
	if (smtp_mail_params(s, params, n_params) < 0) {
		smtp_transaction_reset(s);
		return;
	}
	smtp_path_format(&path, s->envelope.sender, sizeof(s->envelope.sender));
	if (smtp_auth_check_sender(&s->auth, s->envelope.sender, &refusal) < 0) {
		smtp_reply_error(s, "%s", refusal);
		smtp_transaction_reset(s);
		return;
	}
	s->state = SMTP_STATE_MAIL;
	smtp_reply(s, "250 2.1.0 Ok");
}

static void smtp_cmd_rcpt(struct smtp_session *s, const char *arg)
{
	const char *const *targets;
	unsigned n_targets;
	const struct config *cfg = s->env->cfg;
	struct smtp_param params[SMTP_MAX_PARAMS];
	struct smtp_path path;
	unsigned n_params;
	const char *why;

	if (s->state != SMTP_STATE_MAIL) {
		smtp_reply_error(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (smtp_path_parse(arg, 0, 1, &path, params, &n_params, &why) < 0) {
		smtp_reply_error(s, "501 5.1.3 %s", why);
		return;
	}
	if (smtp_rcpt_params(s, params, n_params) < 0)
		return;
	if (s->envelope.n_rcpts >= cfg->limits.recipients) {
		smtp_reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	/* RFC 5321 4.5.1: <postmaster> without a domain must be accepted. */
	if (path.domain[0] == '\0')
		strlcpy_checked(path.domain,
		                cfg->n_local_domains ? cfg->local_domains[0] : cfg->hostname,
		                sizeof(path.domain));
	smtp_path_format(&path, s->pending_rcpt, sizeof(s->pending_rcpt));
	if (!config_is_local_domain(cfg, path.domain)) {
		/* Relaying: only for trusted networks, logged-in users and local
		 * users; the remote part keeps its case. */
		if (s->trusted || s->local || s->auth.user[0] != '\0') {
			const char *self = s->pending_rcpt;
			smtp_rcpt_answer(s, LOOKUP_OK, &self, 1);
			return;
		}
		smtp_reply_error(s, "554 5.7.1 <%s>: Relay access denied", s->pending_rcpt);
		{
			char a[ENVELOPE_ADDR_MAX + 16];
			log_info("event=rcpt-refused session=%s to=%s reason=relaying", s->id,
			         log_address(s->pending_rcpt, a, sizeof(a)));
		}
		return;
	}
	str_lower(s->pending_rcpt);
	if (s->env->lookup_cached != NULL &&
	    s->env->lookup_cached(s->env->owner, s->pending_rcpt, &targets, &n_targets)) {
		smtp_rcpt_answer(s, LOOKUP_OK, targets, n_targets);
		return;
	}
	s->wait = SMTP_WAIT_LOOKUP;
	s->env->lookup_rcpt(s->env->owner, s->handle, s->pending_rcpt);
}

/* The ORCPT "rfc822;ADDR" for ADDR, xtext-encoded (RFC 3461 4.2: a quoted
 * local part may hold spaces, "+" or "="); "" when it does not fit. */
static void smtp_orcpt_for(const char *addr, char *buf, size_t size)
{
	static const char type[] = "rfc822;";

	if (size < sizeof(type) ||
	    xtext_encode(addr, buf + sizeof(type) - 1, size - (sizeof(type) - 1)) < 0) {
		buf[0] = '\0';
		return;
	}
	memcpy(buf, type, sizeof(type) - 1);
}

/* Adds the targets of the pending recipient (itself, or what its alias
 * expands to) to the envelope. An expanded alias keeps the address the
 * client gave as ORCPT (RFC 3461 4.2), so a DSN names it. */
static int smtp_rcpt_add(struct smtp_session *s, const char *const *targets, unsigned n)
{
	char orcpt[ENVELOPE_ADDR_MAX];
	unsigned i, j;

	if (s->envelope.n_rcpts + n > s->env->cfg->limits.recipients) {
		smtp_reply(s, "452 4.5.3 Error: too many recipients");
		return -1;
	}
	strlcpy_checked(orcpt, s->pending_orcpt, sizeof(orcpt));
	if (orcpt[0] == '\0' && (n != 1 || strcmp(targets[0], s->pending_rcpt) != 0))
		smtp_orcpt_for(s->pending_rcpt, orcpt, sizeof(orcpt));
	for (i = 0; i < n; i++) {
		int dup = 0;
		for (j = 0; j < s->envelope.n_rcpts && !dup; j++)
			dup = strcasecmp(s->envelope.rcpts[j].addr, targets[i]) == 0;
		if (!dup)
			envelope_add_rcpt(&s->envelope, targets[i], s->pending_notify, orcpt);
	}
	return 0;
}

/* Answers RCPT for the pending recipient. */
static void smtp_rcpt_answer(struct smtp_session *s, unsigned result, const char *const *targets,
                             unsigned n_targets)
{
	char v[ENVELOPE_ADDR_MAX + 8];

	log_value(s->pending_rcpt, v, sizeof(v));
	switch (result) {
	case LOOKUP_OK:
		if (s->envelope.n_rcpts == 0)
			snprintf(s->first_rcpt_display, sizeof(s->first_rcpt_display), "%s",
			         s->pending_rcpt);
		if (smtp_rcpt_add(s, targets, n_targets) < 0)
			break;
		smtp_reply(s, "250 2.1.5 Ok");
		break;
	case LOOKUP_UNKNOWN_USER:
		smtp_reply_error(s, "550 5.1.1 <%s>: Recipient address rejected: User unknown",
		                 s->pending_rcpt);
		log_info("event=rcpt-refused session=%s to=%s reason=unknown-user", s->id, v);
		break;
	case LOOKUP_NOT_LOCAL:
		smtp_reply_error(s, "554 5.7.1 <%s>: Relay access denied", s->pending_rcpt);
		break;
	default:
		smtp_reply(s, "451 4.3.0 <%s>: Temporary lookup failure", s->pending_rcpt);
		break;
	}
}

void smtp_session_lookup_done(struct smtp_session *s, unsigned result, const char *const *targets,
                              unsigned n_targets)
{
	if (s->wait != SMTP_WAIT_LOOKUP)
		return;
	s->wait = SMTP_WAIT_NONE;
	if (result == LOOKUP_OK && n_targets == 0)
		result = LOOKUP_TEMPFAIL;
	smtp_rcpt_answer(s, result, targets, n_targets);
	smtp_session_process(s);
}

/* The trace header, RFC 5321 4.4, with RFC 3848 "with" types; the TLS
 * comment says how the hop was protected. */
static void smtp_received_header(struct smtp_session *s, char *buf, size_t size)
{
	const struct config *cfg = s->env->cfg;
	char date[64], tls[256] = "", rcpt[ENVELOPE_ADDR_MAX + 16] = "";
	const char *with = s->auth.user[0] && s->tls_active ? "ESMTPSA"
	                   : s->tls_active                  ? "ESMTPS"
	                   : s->esmtp                       ? "ESMTP"
	                                                    : "SMTP";
	char who[ENVELOPE_ADDR_MAX + 64] = "", from[64];

	rfc5322_date(time(NULL), date, sizeof(date));
	if (s->tls_active)
		snprintf(tls, sizeof(tls), "\r\n\t(version=%s cipher=%s bits=%d)", s->tls_version,
		         s->tls_cipher, s->tls_bits);
	if (s->envelope.n_rcpts == 1)
		snprintf(rcpt, sizeof(rcpt), "\r\n\tfor <%s>", s->first_rcpt_display);
	if (s->auth.user[0] && cfg->log_auth_in_header)
		snprintf(who, sizeof(who), "\r\n\t(authenticated as %s)", s->auth.user);
	else if (s->local)
		snprintf(who, sizeof(who), "\r\n\t(local submission)");
	/* a local submission names the submitting user, as Postfix's "from
	 * userid" and OpenSMTPD's "(uid N)" do; a socket has no address */
	if (s->local)
		snprintf(from, sizeof(from), "uid %u", s->local_uid);
	else
		snprintf(from, sizeof(from), "[%s]", s->client);
	snprintf(buf, size,
	         "Received: from %s (%s)\r\n\tby %s (sealmail) with %s id %s%s%s%s;\r\n\t%s\r\n",
	         s->helo, from, cfg->hostname, with, s->queue_id, tls, who, rcpt, date);
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
	s->state = SMTP_STATE_DATA;
	io_set_timeout(s->io, s->env->cfg->limits.data_timeout);
	s->data_started = smtp_now_usec();
	smtp_data_deadline(s);
	smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

static void smtp_cmd_data(struct smtp_session *s, const char *arg)
{
	char queue_id[32];
	int fd;

	if (s->state != SMTP_STATE_MAIL) {
		smtp_reply_error(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (s->envelope.n_rcpts == 0) {
		smtp_reply_error(s, "554 5.5.1 Error: no valid recipients");
		return;
	}
	strlcpy_checked(s->envelope.client, s->client, sizeof(s->envelope.client));
	strlcpy_checked(s->envelope.helo, s->helo, sizeof(s->envelope.helo));
	if (s->tls_active)
		snprintf(s->envelope.tls, sizeof(s->envelope.tls), "%s/%s", s->tls_version,
		         s->tls_cipher);
	s->envelope.time = (uint64_t)time(NULL);
	if (s->env->queue_file(s->env->owner, s->handle, queue_id, &fd)) {
		smtp_data_start(s, queue_id, fd);
		return;
	}
	s->wait = SMTP_WAIT_OPEN;
}

/* Appends the buffered message to the spool file. */
static void smtp_data_flush(struct smtp_session *s)
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
		smtp_reply_spool_failure(s, ok == QUEUE_RESULT_NO_SPACE);
		smtp_transaction_reset(s);
	} else {
		smtp_data_start(s, text, fd);
	}
	smtp_session_process(s);
}

/* End of data: either refuse with the reason, or hand over to the queue
 * for the durable commit; the 250 waits for it. */
static void smtp_data_end(struct smtp_session *s)
{
	const struct config *cfg = s->env->cfg;
	uint64_t size = s->data.size;
	int too_big = size > cfg->limits.message_size;
	const char *refusal = NULL;

	if (!too_big)
		smtp_data_flush(s);
	smtp_deadline_clear(s);
	io_set_timeout(s->io, cfg->limits.command_timeout);
	s->state = SMTP_STATE_MAIL;
	if (too_big) {
		smtp_reply(s, "552 5.3.4 Error: message size exceeds fixed limit of %zu",
		           cfg->limits.message_size);
	} else if (smtp_auth_check_from_header(&s->auth, &refusal) < 0) {
		smtp_reply(s, "%s", refusal);
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

/* ---- AUTH: the sub-machine's steps, carried out ---------------------------- */

static void smtp_auth_delay_cb(evutil_socket_t fd, short what, void *arg);

/* Does what a step of the AUTH sub-machine asks (smtp_auth.h): its reply,
 * then a credential check, a delay or the close; then wipes OUT. Reading
 * the next command is left to the caller. */
static void smtp_session_auth_perform(struct smtp_session *s, struct smtp_auth_out *out)
{
	struct timeval tv = {out->delay_ms / 1000, (out->delay_ms % 1000) * 1000};

	if (out->reply[0] != '\0' && out->is_error)
		smtp_reply_error(s, "%s", out->reply);
	else if (out->reply[0] != '\0')
		smtp_reply(s, "%s", out->reply);
	switch (out->next) {
	case SMTP_AUTH_NEXT_NONE:
		break;
	case SMTP_AUTH_NEXT_CHECK:
		s->wait = SMTP_WAIT_AUTH;
		s->env->auth_check(s->env->owner, s->handle, out->user, out->password);
		break;
	case SMTP_AUTH_NEXT_DELAY:
		s->wait = SMTP_WAIT_AUTH; /* no command is read meanwhile */
		if (s->ev_auth_delay == NULL)
			s->ev_auth_delay = evtimer_new(s->env->base, smtp_auth_delay_cb, s);
		evtimer_add(s->ev_auth_delay, &tv);
		break;
	case SMTP_AUTH_NEXT_CLOSE:
		smtp_reply(s, "%s", out->close_reply);
		smtp_close_after_reply(s);
		break;
	}
	smtp_auth_out_wipe(out);
}

static void smtp_cmd_auth(struct smtp_session *s, const char *arg)
{
	struct smtp_auth_out out;
	const struct smtp_auth_facts facts = {
	    .tls_active = s->tls_active,
	    .greeted = s->state != SMTP_STATE_CONNECTED,
	    .in_transaction = s->state == SMTP_STATE_MAIL,
	};

	smtp_auth_start(&s->auth, &facts, arg, &out);
	smtp_session_auth_perform(s, &out);
}

/* A line while an AUTH exchange waits for the client's response. */
static void smtp_session_auth_continue(struct smtp_session *s, const char *line, size_t len)
{
	struct smtp_auth_out out;

	smtp_auth_continue(&s->auth, line, len, &out);
	smtp_session_auth_perform(s, &out);
}

/* A failed login's delay is over: its 535, and perhaps the end. */
static void smtp_auth_delay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_session *s = arg;
	struct smtp_auth_out out;

	s->wait = SMTP_WAIT_NONE;
	smtp_auth_delay_over(&s->auth, &out);
	smtp_session_auth_perform(s, &out);
	if (out.next != SMTP_AUTH_NEXT_CLOSE)
		smtp_session_process(s);
}

void smtp_session_auth_done(struct smtp_session *s, int ok, int by_certificate, const char *user,
                            const char *const *owned, unsigned n_owned)
{
	struct smtp_auth_out out;

	if (s->wait != SMTP_WAIT_AUTH)
		return;
	s->wait = SMTP_WAIT_NONE;
	smtp_auth_result(&s->auth, ok, by_certificate, user, owned, n_owned, &out);
	smtp_session_auth_perform(s, &out);
	if (out.next != SMTP_AUTH_NEXT_DELAY)
		smtp_session_process(s);
}

/* The reply to a command that moves no mail (NOOP, RSET, HELP, VRFY):
 * past [limits] junk_commands of them since the last message, each counts
 * as an error, so a client cannot keep a session busy with them for ever. */
static void smtp_reply_junk(struct smtp_session *s, const char *reply)
{
	if (++s->junk > s->env->cfg->limits.junk_commands)
		smtp_reply_error(s, "%s", reply);
	else
		smtp_reply(s, "%s", reply);
}

static void smtp_cmd_rset(struct smtp_session *s, const char *arg)
{
	smtp_transaction_reset(s);
	smtp_reply_junk(s, "250 2.0.0 Ok");
}

static void smtp_cmd_noop(struct smtp_session *s, const char *arg)
{
	smtp_reply_junk(s, "250 2.0.0 Ok");
}

static void smtp_cmd_quit(struct smtp_session *s, const char *arg)
{
	smtp_reply(s, "221 2.0.0 Bye");
	smtp_close_after_reply(s);
}

static void smtp_cmd_vrfy(struct smtp_session *s, const char *arg)
{
	/* RFC 5321 3.5.3: 252 rather than disclosing who exists. */
	smtp_reply_junk(s, "252 2.5.0 Cannot VRFY user, but will accept message and attempt "
	                   "delivery");
}

static void smtp_cmd_expn(struct smtp_session *s, const char *arg)
{
	smtp_reply_error(s, "502 5.5.1 Error: EXPN not supported");
}

static void smtp_cmd_help(struct smtp_session *s, const char *arg)
{
	smtp_reply_junk(s, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP "
	                   "STARTTLS; see RFC 5321");
}

static void smtp_cmd_not_implemented(struct smtp_session *s, const char *arg)
{
	smtp_reply_error(s, "502 5.5.1 Error: command not implemented");
}

static void smtp_cmd_starttls(struct smtp_session *s, const char *arg)
{
	if (s->tls_active) {
		smtp_reply_error(s, "503 5.5.1 Error: TLS already active");
		return;
	}
	if (s->listener->tls == LISTENER_TLS_NONE || s->env->tls == NULL) {
		smtp_reply_error(s, "502 5.5.1 Error: STARTTLS not available");
		return;
	}
	smtp_reply(s, "220 2.0.0 Ready to start TLS");
	/* The handshake starts once the 220 has left (smtp_session_drained). */
	s->state = SMTP_STATE_TLS;
	io_pause(s->io);
}

static const struct smtp_cmd smtp_commands[] = {
    {SMTP_VERB_EHLO, 0, smtp_cmd_ehlo},
    {SMTP_VERB_HELO, 0, smtp_cmd_helo},
    {SMTP_VERB_MAIL, SMTP_CMD_NEEDS_HELO | SMTP_CMD_NEEDS_TLS, smtp_cmd_mail},
    {SMTP_VERB_RCPT, SMTP_CMD_NEEDS_HELO | SMTP_CMD_NEEDS_TLS, smtp_cmd_rcpt},
    {SMTP_VERB_DATA, SMTP_CMD_NEEDS_HELO | SMTP_CMD_NEEDS_TLS | SMTP_CMD_NO_ARG, smtp_cmd_data},
    {SMTP_VERB_RSET, SMTP_CMD_NO_ARG, smtp_cmd_rset},
    {SMTP_VERB_NOOP, 0, smtp_cmd_noop},
    {SMTP_VERB_QUIT, SMTP_CMD_NO_ARG, smtp_cmd_quit},
    {SMTP_VERB_VRFY, 0, smtp_cmd_vrfy},
    {SMTP_VERB_EXPN, 0, smtp_cmd_expn},
    {SMTP_VERB_HELP, 0, smtp_cmd_help},
    {SMTP_VERB_STARTTLS, SMTP_CMD_NO_ARG, smtp_cmd_starttls},
    {SMTP_VERB_AUTH, 0, smtp_cmd_auth},
    {SMTP_VERB_BDAT, 0, smtp_cmd_not_implemented},
};

/* Runs one command line through the table's checks and its handler. */
static void smtp_session_command(struct smtp_session *s, const char *line, size_t len)
{
	struct smtp_command cmd;
	const char *why;
	size_t i;

	if (smtp_command_parse_len(line, len, &cmd, &why) < 0) {
		smtp_reply_error(s, "500 5.5.2 Error: %s", why);
		return;
	}
	for (i = 0; i < sizeof(smtp_commands) / sizeof(smtp_commands[0]); i++) {
		const struct smtp_cmd *c = &smtp_commands[i];

		if (c->verb != cmd.verb)
			continue;
		if ((c->flags & SMTP_CMD_NO_ARG) && cmd.arg[0] != '\0') {
			smtp_reply_error(s, "501 5.5.4 Syntax: %s takes no argument",
			                 cmd.verb_text);
			return;
		}
		if ((c->flags & SMTP_CMD_NEEDS_TLS) && !s->tls_active &&
		    s->listener->tls == LISTENER_TLS_REQUIRED) {
			smtp_reply_error(s, "530 5.7.0 Must issue a STARTTLS command first");
			return;
		}
		if ((c->flags & SMTP_CMD_NEEDS_HELO) && s->state == SMTP_STATE_CONNECTED) {
			smtp_reply_error(s, "503 5.5.1 Error: send HELO/EHLO first");
			return;
		}
		c->handle(s, cmd.arg);
		return;
	}
	smtp_reply_error(s, "500 5.5.2 Error: command not recognized");
}

/* ---- input ------------------------------------------------------------ */

/* Feeds buffered input to the DATA machine. Returns 1 when data ended. */
static int smtp_session_read_data(struct smtp_session *s, struct evbuffer *in)
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
			smtp_data_flush(s);
		done = smtp_data_feed(&s->data, v.iov_base, take, s->data_buf + s->data_len,
		                      &out_len, &consumed);
		evbuffer_drain(in, consumed);
		/* Past the size limit the rest is read and dropped (RFC 1870 6). */
		if (s->data.size <= cfg->limits.message_size) {
			smtp_auth_header_append(&s->auth, s->data_buf + s->data_len, out_len);
			s->data_len += out_len;
		}
		if (done)
			return 1;
	}
	smtp_data_deadline(s); /* more time for what came */
	return 0;
}

/* Takes the next command line from IN; returns 1 when one was handled, 0
 * when more input is needed. */
static int smtp_session_read_command(struct smtp_session *s, struct evbuffer *in)
{
	struct evbuffer_iovec v;
	const char *line;
	size_t consumed, len;
	enum smtp_line_status st;

	if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
		return 0;
	st = smtp_line_feed(&s->lines, v.iov_base, v.iov_len, &consumed, &line, &len);
	evbuffer_drain(in, consumed);
	switch (st) {
	case SMTP_LINE_NEED_MORE:
		return evbuffer_get_length(in) > 0;
	case SMTP_LINE_OK:
		if (s->auth.step != SMTP_AUTH_IDLE) {
			smtp_session_auth_continue(s, line, len);
			return 1;
		}
		/* Readers on AUTH listeners take the longer AUTH lines (RFC 4954
		 * 4); other commands keep the RFC 5321 bound. */
		if (len + 2 > s->env->cfg->limits.command_line &&
		    (len < 5 || strncasecmp(line, "AUTH ", 5) != 0)) {
			smtp_reply_error(s, "500 5.5.2 Error: line too long (limit %zu octets)",
			                 s->env->cfg->limits.command_line);
			return 1;
		}
		smtp_session_command(s, line, len);
		return 1;
	case SMTP_LINE_TOO_LONG:
		/* inside an AUTH exchange the response was too long: the exchange
		 * ends (RFC 4954 4), and the limit named is the reader's own */
		if (s->auth.step != SMTP_AUTH_IDLE) {
			s->auth.step = SMTP_AUTH_IDLE;
			smtp_reply_error(s, "501 5.5.2 Error: authentication response too long "
			                    "(limit %zu octets)",
			                 s->lines.max);
			return 1;
		}
		smtp_reply_error(s, "500 5.5.2 Error: line too long (limit %zu octets)",
		                 s->lines.max);
		return 1;
	case SMTP_LINE_BARE_LF:
	case SMTP_LINE_BARE_CR:
		/* As Postfix: a bare line end in a command is a client that does
		 * not speak SMTP, or a smuggling attempt. */
		smtp_reply(s, "500 5.5.2 Error: bare <%s> received; only <CR><LF> ends a line",
		           st == SMTP_LINE_BARE_LF ? "LF" : "CR");
		log_info("event=bare-newline session=%s kind=%s", s->id,
		         st == SMTP_LINE_BARE_LF ? "LF" : "CR");
		smtp_close_after_reply(s);
		return 1;
	}
	return 0;
}

/* Handles buffered input until it runs out or the session must wait: for
 * another role, or for its replies to leave (a client that pipelines
 * without reading makes no more of them than IO_OUTPUT_MAX). */
static void smtp_session_process(struct smtp_session *s)
{
	struct evbuffer *in;

	if (s->io == NULL)
		return;
	in = io_input(s->io);
	while (s->wait == SMTP_WAIT_NONE && evbuffer_get_length(in) > 0) {
		if (s->state == SMTP_STATE_CLOSING || s->state == SMTP_STATE_TLS)
			break;
		if (io_output_full(s->io))
			break;
		if (s->state == SMTP_STATE_DATA) {
			if (smtp_session_read_data(s, in))
				smtp_data_end(s);
			continue;
		}
		if (!smtp_session_read_command(s, in))
			break;
	}
	if (s->state == SMTP_STATE_CLOSING)
		io_pause(s->io);
}

/* ---- TLS ---------------------------------------------------------------- */

/* Puts TLS under the session. RFC 3207 4.2: whatever the client sent
 * before the handshake is discarded (the io drops it), and the session
 * forgets all it knew (smtp_session_tls_ready). */
static int smtp_session_start_tls(struct smtp_session *s)
{
	unsigned listener = (unsigned)(s->listener - s->env->cfg->listeners);
	const char *why;

	smtp_line_reader_reset(&s->lines);
	s->state = SMTP_STATE_TLS;
	s->tls_started = 1;
	smtp_deadline_clear(s);
	if (io_start_tls_server(s->io, s->env->tls, listener,
	                        s->env->cfg->limits.tls_handshake_timeout,
	                        &why) < 0) {
		log_info("event=tls-error session=%s reason=\"%s\"", s->id, why);
		return -1;
	}
	return 0;
}

/* A client certificate that verified against the listener's client_ca
 * logs in the user it names, once the lookup role knows that user. */
static void smtp_session_client_certificate(struct smtp_session *s,
                                            const struct io_tls_info *tls)
{
	char user[ENVELOPE_ADDR_MAX], v[ENVELOPE_ADDR_MAX + 8];

	if (s->listener->client_ca[0] == '\0')
		return;
	if (tls->identity[0] == '\0') {
		log_info("event=client-certificate session=%s result=%s", s->id,
		         tls->peer_certificate ? "untrusted" : "none");
		return;
	}
	strlcpy_checked(user, tls->identity, sizeof(user));
	log_info("event=client-certificate session=%s result=verified identity=%s", s->id,
	         log_value(user, v, sizeof(v)));
	s->wait = SMTP_WAIT_AUTH;
	s->env->auth_check(s->env->owner, s->handle, user, NULL);
}

/* The handshake is done: note what was negotiated, start afresh. */
static void smtp_session_tls_ready(struct smtp_session *s)
{
	const struct io_tls_info *tls = io_tls_info(s->io);
	char v[300];

	s->tls_active = 1;
	strlcpy_checked(s->tls_version, tls->version, sizeof(s->tls_version));
	strlcpy_checked(s->tls_cipher, tls->cipher, sizeof(s->tls_cipher));
	s->tls_bits = tls->bits;
	log_info("event=%s session=%s version=%s cipher=%s bits=%d sni=%s resumed=%s",
	         s->listener->tls == LISTENER_TLS_IMPLICIT ? "tls" : "starttls", s->id,
	         s->tls_version, s->tls_cipher, s->tls_bits,
	         tls->sni[0] ? log_value(tls->sni, v, sizeof(v)) : "none",
	         tls->resumed ? "yes" : "no");
	smtp_transaction_reset(s);
	s->helo[0] = '\0';
	s->esmtp = 0;
	s->state = SMTP_STATE_CONNECTED;
	if (s->listener->tls == LISTENER_TLS_IMPLICIT)
		smtp_reply(s, "220 %s ESMTP sealmail", s->env->cfg->hostname);
	smtp_deadline_set(s, "helo", s->env->cfg->limits.helo_timeout);
	smtp_session_client_certificate(s, tls);
}

/* ---- connection events ---------------------------------------------------- */

/* Output left: a last reply or the 220 before TLS is out, or the input
 * held back while the output was full can be handled now. */
static void smtp_session_drained(struct smtp_session *s)
{
	if (io_output_length(s->io) > 0) {
		smtp_session_process(s);
		return;
	}
	if (s->state == SMTP_STATE_CLOSING) {
		smtp_session_free(s);
		return;
	}
	if (s->state == SMTP_STATE_TLS && !s->tls_started) {
		if (smtp_session_start_tls(s) < 0)
			smtp_session_free(s);
		return;
	}
	smtp_session_process(s);
}

static void smtp_session_timeout(struct smtp_session *s)
{
	log_info("event=timeout session=%s state=%d what=%s", s->id, s->state,
	         s->state == SMTP_STATE_TLS && !s->tls_active ? "handshake"
	         : s->deadline                                ? s->deadline
	                                                      : "idle");
	if (s->state != SMTP_STATE_TLS && s->state != SMTP_STATE_CLOSING) {
		smtp_reply(s, "421 4.4.2 %s Error: timeout exceeded", s->env->cfg->hostname);
		smtp_close_after_reply(s);
		io_set_timeout(s->io, 10);
		return;
	}
	io_free(&s->io); /* nothing more will leave */
	smtp_session_free(s);
}

static void smtp_session_io_cb(struct io *io, enum io_event event, void *arg)
{
	struct smtp_session *s = arg;

	switch (event) {
	case IO_DATA:
		smtp_session_process(s);
		return;
	case IO_DRAINED:
		smtp_session_drained(s);
		return;
	case IO_READY:
		smtp_session_tls_ready(s);
		return;
	case IO_TIMEOUT:
		smtp_session_timeout(s);
		return;
	case IO_ERROR:
		if (s->state == SMTP_STATE_TLS && !s->tls_active)
			log_info("event=tls-error session=%s reason=\"%s\"", s->id, io_error(io));
		io_free(&s->io);
		smtp_session_free(s);
		return;
	case IO_CONNECTED:
	case IO_CLOSED:
		smtp_session_free(s);
		return;
	}
}

/* ---- life cycle --------------------------------------------------------- */

static void smtp_session_describe_peer(struct smtp_session *s, const struct sockaddr *sa)
{
	if (sa->sa_family == AF_UNIX) {
		snprintf(s->client, sizeof(s->client), "127.0.0.1");
		snprintf(s->client_port, sizeof(s->client_port), "local");
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, s->client, sizeof(s->client));
		snprintf(s->client_port, sizeof(s->client_port), "%u", ntohs(in6->sin6_port));
	} else {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, s->client, sizeof(s->client));
		snprintf(s->client_port, sizeof(s->client_port), "%u", ntohs(in->sin_port));
	}
}

struct smtp_session *smtp_session_new(const struct smtp_env *env, const struct config_listener *l,
                                      int fd, const struct sockaddr *sa, socklen_t salen,
                                      uint64_t handle)
{
	struct smtp_session *s = xcalloc(1, sizeof(*s));
	unsigned char rnd[8];

	s->env = env;
	s->listener = l;
	s->handle = handle;
	s->spool_fd = -1;
	random_bytes(rnd, sizeof(rnd));
	snprintf(s->id, sizeof(s->id), "%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
	         rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	smtp_session_describe_peer(s, sa);
	smtp_auth_init(&s->auth, env->cfg, l, s->id, s->client);
	s->trusted = config_is_trusted_client(env->cfg, sa);
	envelope_init(&s->envelope);
	smtp_line_reader_init(&s->lines,
	                      l->auth == LISTENER_AUTH_OPTIONAL || l->auth == LISTENER_AUTH_REQUIRED
	                          ? SMTP_AUTH_LINE_MAX
	                          : env->cfg->limits.command_line);
	log_info("event=connect session=%s client=%s:%s listener=%s", s->id, s->client,
	         s->client_port, l->name);
	s->io = io_new(env->base, fd, smtp_session_io_cb, s);
	io_set_timeout(s->io, env->cfg->limits.command_timeout);
	if (l->tls == LISTENER_TLS_IMPLICIT) {
		if (env->tls == NULL || smtp_session_start_tls(s) < 0) {
			smtp_session_free(s);
			return NULL;
		}
		return s;
	}
	smtp_reply(s, "220 %s ESMTP sealmail", env->cfg->hostname);
	smtp_deadline_set(s, "helo", env->cfg->limits.helo_timeout);
	return s;
}

void smtp_session_set_local(struct smtp_session *s, unsigned uid)
{
	s->local = 1;
	s->local_uid = uid;
	s->trusted = 1;
	snprintf(s->client, sizeof(s->client), "127.0.0.1");
	snprintf(s->client_port, sizeof(s->client_port), "uid%u", uid % 100000);
	log_info("event=local-submission session=%s uid=%u", s->id, uid);
}

static void smtp_session_free(struct smtp_session *s)
{
	log_info("event=disconnect session=%s client=%s messages=%u tls=%s%s%s errors=%u", s->id,
	         s->client, s->messages, s->tls_active ? s->tls_version : "none",
	         s->tls_active ? "/" : "", s->tls_active ? s->tls_cipher : "", s->errors);
	smtp_transaction_reset(s);
	io_close(&s->io); /* what is still queued leaves, then close_notify */
	smtp_line_reader_free(&s->lines);
	envelope_free(&s->envelope);
	if (s->ev_auth_delay != NULL)
		event_free(s->ev_auth_delay);
	smtp_auth_free(&s->auth);
	s->env->closed(s->env->owner, s->handle);
	free(s);
}
