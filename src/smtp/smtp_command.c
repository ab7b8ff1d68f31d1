/*
 * smtp_command.c: the SMTP server's command table and its handlers: the
 * checks each verb needs (a HELO first, TLS first on tls = required, no
 * argument) and the handlers for EHLO/HELO, MAIL with its ESMTP parameters
 * (SIZE, BODY, RET, ENVID, SMTPUTF8, REQUIRETLS), RCPT (NOTIFY, ORCPT) and
 * the lookup role's answer, RSET, NOOP, VRFY, EXPN, HELP, QUIT and
 * STARTTLS. DATA's handler is in smtp_data.c, BDAT's in smtp_bdat.c,
 * AUTH's in smtp_session.c. The input loop
 * (smtp_session.c) hands each command line to smtp_session_command().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/config.h"
#include "lib/io.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mail/envelope.h"
#include "mail/xtext.h"
#include "proto/proto.h"
#include "smtp/smtp_parse.h"
#include "smtp/smtp_session_private.h"

static void smtp_rcpt_answer(struct smtp_session *s, unsigned result, const char *const *targets,
                             unsigned n_targets);

/* ---- the table's entries ----------------------------------------------------- */

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

/* ---- EHLO and HELO ----------------------------------------------------------- */

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
	smtp_reply(s, "250-CHUNKING");
	smtp_reply(s, "250-SMTPUTF8");
	if (s->tls_active) /* RFC 8689 2: only over TLS */
		smtp_reply(s, "250-REQUIRETLS");
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

/* ---- MAIL and RCPT ----------------------------------------------------------- */

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

/* SMTPUTF8 (RFC 6531 3.4) and REQUIRETLS (RFC 8689 4.1), which take no
 * value: 1 when P is one of them (taken, or refused with *failed_r). */
static int smtp_mail_flag_param(struct smtp_session *s, const struct smtp_param *p, int *failed_r)
{
	*failed_r = 0;
	if (p->has_value)
		return 0;
	if (strcmp(p->keyword, "SMTPUTF8") == 0) {
		s->envelope.flags |= ENVELOPE_SMTPUTF8;
		return 1;
	}
	if (strcmp(p->keyword, "REQUIRETLS") != 0)
		return 0;
	if (!s->tls_active) {
		/* not offered before TLS (RFC 8689 2), and taking it there
		 * would promise what the first hop did not keep */
		smtp_reply_error(s, "530 5.7.10 REQUIRETLS needs a TLS connection: use STARTTLS");
		*failed_r = 1;
		return 1;
	}
	s->envelope.flags |= ENVELOPE_REQUIRETLS;
	return 1;
}

/* MAIL parameters: SIZE, BODY (RFC 6152), RET and ENVID (RFC 3461 4.3, 4.4),
 * SMTPUTF8 and REQUIRETLS. */
static int smtp_mail_params(struct smtp_session *s, const struct smtp_param *params, unsigned n)
{
	struct envelope *e = &s->envelope;
	unsigned i;
	int failed;

	for (i = 0; i < n; i++) {
		const struct smtp_param *p = &params[i];

		if (smtp_mail_flag_param(s, p, &failed)) {
			if (failed)
				return -1;
		} else if (strcmp(p->keyword, "SIZE") == 0 && p->has_value) {
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
	if (smtp_path_parse_flags(arg, SMTP_PATH_NULL | SMTP_PATH_UTF8, &path, params, &n_params,
	                          &why) < 0) {
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
	if (path.utf8 && !(s->envelope.flags & ENVELOPE_SMTPUTF8)) {
		smtp_reply_error(s, "553 5.6.7 Non-ASCII sender address needs the SMTPUTF8 "
		                    "parameter (RFC 6531 3.4)");
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

/* RCPT's checks before the lookup: a transaction open for recipients,
 * the path (UTF-8 only under SMTPUTF8, RFC 6531 3.7.4.1) and its
 * parameters. Returns 0 with *PATH, or -1 once refused. */
static int smtp_rcpt_parse(struct smtp_session *s, const char *arg, struct smtp_path *path)
{
	struct smtp_param params[SMTP_MAX_PARAMS];
	unsigned n_params;
	const char *why;

	if (s->state != SMTP_STATE_MAIL) {
		smtp_reply_error(s, "503 5.5.1 Error: need MAIL command");
		return -1;
	}
	if (s->bdat_active) {
		smtp_reply_error(s, "503 5.5.1 Error: RCPT after BDAT");
		return -1;
	}
	if (smtp_path_parse_flags(arg, SMTP_PATH_POSTMASTER | SMTP_PATH_UTF8, path, params,
	                          &n_params, &why) < 0) {
		smtp_reply_error(s, "501 5.1.3 %s", why);
		return -1;
	}
	if (path->utf8 && !(s->envelope.flags & ENVELOPE_SMTPUTF8)) {
		smtp_reply_error(s, "553 5.6.7 Non-ASCII recipient address needs MAIL with the "
		                    "SMTPUTF8 parameter (RFC 6531 3.4)");
		return -1;
	}
	return smtp_rcpt_params(s, params, n_params);
}

static void smtp_cmd_rcpt(struct smtp_session *s, const char *arg)
{
	const char *const *targets;
	unsigned n_targets;
	const struct config *cfg = s->env->cfg;
	struct smtp_path path;

	if (smtp_rcpt_parse(s, arg, &path) < 0)
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
	char v[ENVELOPE_ADDR_MAX + 16];

	log_address(s->pending_rcpt, v, sizeof(v));
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

/* ---- commands that move no mail ---------------------------------------------- */

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

/* HELP names what this session may use now: STARTTLS only where EHLO
 * would offer it, AUTH only where it is offered. */
static void smtp_cmd_help(struct smtp_session *s, const char *arg)
{
	int tls = !s->tls_active && s->listener->tls != LISTENER_TLS_NONE &&
	          s->listener->tls != LISTENER_TLS_IMPLICIT;
	char text[160];

	snprintf(text, sizeof(text),
	         "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP%s%s; "
	         "see RFC 5321",
	         tls ? " STARTTLS" : "", smtp_auth_ehlo(&s->auth, s->tls_active) ? " AUTH" : "");
	smtp_reply_junk(s, text);
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

/* ---- the table --------------------------------------------------------------- */

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
    /* BDAT checks HELO and TLS itself: its chunk must be read either way */
    {SMTP_VERB_BDAT, 0, smtp_cmd_bdat},
};

/* Runs one command line through the table's checks and its handler. */
void smtp_session_command(struct smtp_session *s, const char *line, size_t len)
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
