/*
 * pop3_command.c: the POP3 command table and its handlers: in the
 * AUTHORIZATION state CAPA, STLS, USER, PASS, AUTH PLAIN (RFC 5034, with
 * an initial response or after the "+ " continuation) and QUIT; in the
 * TRANSACTION state STAT, LIST, UIDL, RETR, TOP, DELE, RSET, NOOP and
 * QUIT. The input loop (pop3_session.c) hands each line here.
 *
 * Logins are refused before TLS on a listener that requires it, with the
 * [AUTH] response code (RFC 2449 8, RFC 3206); CAPA offers USER and SASL
 * only where they are allowed and STLS only before TLS. Passwords are
 * wiped from every buffer once handed to the lookup role.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/config.h"
#include "lib/base64.h"
#include "lib/io.h"
#include "lib/log.h"
#include "lib/util.h"
#include "pop3/pop3_session_private.h"

enum pop3_cmd_flags {
	POP3_CMD_AUTHORIZATION = 1 << 0, /* allowed before login */
	POP3_CMD_TRANSACTION = 1 << 1,   /* allowed after it */
};

struct pop3_cmd {
	enum pop3_verb verb;
	unsigned flags;
	unsigned min_args, max_args;
	void (*handle)(struct pop3_session *s, struct pop3_command *cmd);
};

/* ---- AUTHORIZATION ----------------------------------------------------------- */

int pop3_login_allowed(const struct pop3_session *s)
{
	return s->tls_active || s->listener->tls == LISTENER_TLS_NONE ||
	       s->listener->tls == LISTENER_TLS_OPTIONAL;
}

static int pop3_stls_offered(const struct pop3_session *s)
{
	return !s->tls_active && s->state == POP3_STATE_AUTHORIZATION &&
	       s->listener->tls != LISTENER_TLS_NONE && s->listener->tls != LISTENER_TLS_IMPLICIT &&
	       s->env->tls != NULL;
}

/* RFC 2449 5: what this state offers, one capability a line. */
static void pop3_cmd_capa(struct pop3_session *s, struct pop3_command *cmd)
{
	int auth = s->state == POP3_STATE_AUTHORIZATION && pop3_login_allowed(s);

	(void)cmd;
	pop3_reply(s, "+OK Capability list follows");
	pop3_reply(s, "TOP");
	if (auth)
		pop3_reply(s, "USER");
	pop3_reply(s, "UIDL");
	pop3_reply(s, "RESP-CODES");
	pop3_reply(s, "PIPELINING");
	pop3_reply(s, "AUTH-RESP-CODE");
	if (auth)
		pop3_reply(s, "SASL PLAIN");
	if (pop3_stls_offered(s))
		pop3_reply(s, "STLS");
	pop3_reply(s, "IMPLEMENTATION sealmail");
	pop3_reply(s, ".");
}

/* RFC 2595 4: +OK, and TLS once it has left. */
static void pop3_cmd_stls(struct pop3_session *s, struct pop3_command *cmd)
{
	(void)cmd;
	if (!pop3_stls_offered(s)) {
		pop3_reply_bad(s, "-ERR %s",
		               s->tls_active ? "Already using TLS" : "STLS not offered");
		return;
	}
	pop3_reply(s, "+OK Begin TLS negotiation");
	s->state = POP3_STATE_TLS;
}

/* The refusal of a login before TLS on a listener that requires it. */
static int pop3_login_refused(struct pop3_session *s)
{
	if (pop3_login_allowed(s))
		return 0;
	pop3_reply_bad(s, "-ERR [AUTH] Plaintext authentication disallowed on non-secure "
	                  "connections; use STLS first");
	return 1;
}

static void pop3_cmd_user(struct pop3_session *s, struct pop3_command *cmd)
{
	if (pop3_login_refused(s))
		return;
	if (strlcpy_checked(s->user, cmd->args[0], sizeof(s->user)) < 0) {
		s->user[0] = '\0';
		pop3_reply_bad(s, "-ERR User name too long");
		return;
	}
	pop3_reply(s, "+OK");
}

/* Hands USER and PASSWORD to the lookup role; the answer comes through
 * pop3_session_auth_done(). */
static void pop3_auth_submit(struct pop3_session *s, const char *user, const char *password,
                             const char *mech)
{
	s->mech = mech;
	if (user != s->user)
		strlcpy_checked(s->user, user, sizeof(s->user));
	s->wait = POP3_WAIT_AUTH;
	s->env->auth_check(s->env->owner, s->handle, s->user, password);
}

static void pop3_cmd_pass(struct pop3_session *s, struct pop3_command *cmd)
{
	if (pop3_login_refused(s))
		return;
	if (s->user[0] == '\0') {
		pop3_reply_bad(s, "-ERR [AUTH] USER first");
		return;
	}
	if (cmd->n_args == 0) {
		pop3_reply_bad(s, "-ERR Missing password");
		return;
	}
	pop3_auth_submit(s, s->user, cmd->args[0], "USER");
	explicit_bzero((char *)cmd->args[0], cmd->arg_len[0]);
}

/* PLAIN's message (RFC 4616 2: authzid NUL authcid NUL passwd) in base64,
 * LEN octets of IN: the login, or a -ERR. Acting as another user is not
 * allowed: such a request fails as bad credentials would. */
static void pop3_sasl_plain(struct pop3_session *s, const char *in, size_t len)
{
	unsigned char buf[POP3_AUTH_LINE_MAX];
	char *authzid, *authcid, *password, *end;
	long n;

	if (len == 1 && in[0] == '=')
		len = 0;
	n = len * 3 / 4 + 1 > sizeof(buf) ? -1 : base64_decode(in, len, buf);
	authzid = (char *)buf;
	end = authzid + (n > 0 ? n : 0);
	authcid = n > 0 ? memchr(authzid, '\0', (size_t)n) : NULL;
	password = authcid != NULL ? memchr(authcid + 1, '\0', (size_t)(end - authcid - 1)) : NULL;
	if (password == NULL || memchr(password + 1, '\0', (size_t)(end - password - 1)) != NULL ||
	    authcid[1] == '\0' || (size_t)(authcid - authzid) >= ENVELOPE_ADDR_MAX ||
	    strlen(authcid + 1) >= ENVELOPE_ADDR_MAX) {
		pop3_reply_bad(s, "-ERR [AUTH] Malformed PLAIN response");
	} else {
		if (authzid[0] != '\0' && strcasecmp(authzid, authcid + 1) != 0)
			password[1] = '\0';
		pop3_auth_submit(s, authcid + 1, password + 1, "PLAIN");
	}
	explicit_bzero(buf, sizeof(buf));
}

static void pop3_cmd_auth(struct pop3_session *s, struct pop3_command *cmd)
{
	if (pop3_login_refused(s))
		return;
	if (cmd->n_args == 0) {
		pop3_reply(s, "+OK Mechanisms follow");
		pop3_reply(s, "PLAIN");
		pop3_reply(s, ".");
		return;
	}
	if (strcasecmp(cmd->args[0], "PLAIN") != 0) {
		pop3_reply_bad(s, "-ERR Unsupported authentication mechanism");
		return;
	}
	if (cmd->n_args == 2) {
		pop3_sasl_plain(s, cmd->args[1], cmd->arg_len[1]);
		explicit_bzero((char *)cmd->args[1], cmd->arg_len[1]);
		return;
	}
	s->sasl_pending = 1;
	pop3_line_reader_set_max(&s->lines, POP3_AUTH_LINE_MAX);
	pop3_reply(s, "+ ");
}

void pop3_session_sasl_response(struct pop3_session *s, char *line, size_t len)
{
	s->sasl_pending = 0;
	pop3_line_reader_set_max(&s->lines, POP3_LINE_MAX);
	if (len == 1 && line[0] == '*') {
		pop3_reply(s, "-ERR [AUTH] Authentication cancelled"); /* RFC 5034 4 */
		return;
	}
	pop3_sasl_plain(s, line, len);
	explicit_bzero(line, len);
}

static void pop3_cmd_quit(struct pop3_session *s, struct pop3_command *cmd)
{
	(void)cmd;
	if (s->state == POP3_STATE_TRANSACTION) {
		pop3_maildrop_update(s);
		return;
	}
	pop3_reply(s, "+OK %s POP3 signing off", s->env->cfg->hostname);
	pop3_close_after_reply(s);
}

static void pop3_cmd_apop(struct pop3_session *s, struct pop3_command *cmd)
{
	(void)cmd;
	pop3_reply_bad(s, "-ERR APOP not supported; use USER/PASS or AUTH PLAIN");
}

/* ---- TRANSACTION ------------------------------------------------------------- */

/* The message ARG names, if it exists and is not marked: its index, or -1
 * after the -ERR. */
static int pop3_msg_arg(struct pop3_session *s, const char *arg)
{
	unsigned n;

	if (pop3_number_parse(arg, &n) < 0 || n == 0 || n > s->n_msgs) {
		pop3_reply(s, "-ERR No such message");
		return -1;
	}
	if (s->msgs[n - 1].deleted) {
		pop3_reply(s, "-ERR Message %u already deleted", n);
		return -1;
	}
	return (int)(n - 1);
}

/* The messages not marked and their octets (RFC 1939 5 STAT). */
static void pop3_maildrop_count(const struct pop3_session *s, unsigned *n_r, uint64_t *size_r)
{
	*n_r = 0;
	*size_r = 0;
	for (unsigned i = 0; i < s->n_msgs; i++) {
		if (!s->msgs[i].deleted) {
			(*n_r)++;
			*size_r += s->msgs[i].size;
		}
	}
}

static void pop3_cmd_stat(struct pop3_session *s, struct pop3_command *cmd)
{
	unsigned n;
	uint64_t size;

	(void)cmd;
	pop3_maildrop_count(s, &n, &size);
	pop3_reply(s, "+OK %u %llu", n, (unsigned long long)size);
}

/* One line of LIST or UIDL for message INDEX, without +OK. */
static void pop3_listing_line(struct pop3_session *s, unsigned index)
{
	char uidl[32];

	if (s->listing == POP3_LISTING_LIST) {
		pop3_reply(s, "%u %llu", index + 1, (unsigned long long)s->msgs[index].size);
		return;
	}
	pop3_maildrop_uidl(s, index, uidl, sizeof(uidl));
	pop3_reply(s, "%u %s", index + 1, uidl);
}

void pop3_listing_continue(struct pop3_session *s)
{
	while (s->list_next < s->n_msgs && !io_output_full(s->io)) {
		if (!s->msgs[s->list_next].deleted)
			pop3_listing_line(s, s->list_next);
		s->list_next++;
	}
	if (s->list_next < s->n_msgs)
		return; /* more once the output drained */
	pop3_reply(s, ".");
	s->listing = POP3_LISTING_NONE;
	s->wait = POP3_WAIT_NONE;
}

/* LIST and UIDL: one message, or all of them paced by the output (a large
 * maildrop never sits in memory as one answer). */
static void pop3_listing_start(struct pop3_session *s, struct pop3_command *cmd, int kind)
{
	unsigned n;
	uint64_t size;
	int index;

	s->listing = kind;
	if (cmd->n_args == 1) {
		index = pop3_msg_arg(s, cmd->args[0]);
		if (index >= 0) {
			io_write(s->io, "+OK ", 4);
			pop3_listing_line(s, (unsigned)index);
		}
		s->listing = POP3_LISTING_NONE;
		return;
	}
	pop3_maildrop_count(s, &n, &size);
	if (kind == POP3_LISTING_LIST)
		pop3_reply(s, "+OK %u messages (%llu octets)", n, (unsigned long long)size);
	else
		pop3_reply(s, "+OK Unique-ID listing follows");
	s->list_next = 0;
	s->wait = POP3_WAIT_SEND;
	pop3_listing_continue(s);
}

static void pop3_cmd_list(struct pop3_session *s, struct pop3_command *cmd)
{
	pop3_listing_start(s, cmd, POP3_LISTING_LIST);
}

static void pop3_cmd_uidl(struct pop3_session *s, struct pop3_command *cmd)
{
	pop3_listing_start(s, cmd, POP3_LISTING_UIDL);
}

static void pop3_cmd_retr(struct pop3_session *s, struct pop3_command *cmd)
{
	int index = pop3_msg_arg(s, cmd->args[0]);

	if (index >= 0)
		pop3_retr_start(s, (unsigned)index, -1);
}

static void pop3_cmd_top(struct pop3_session *s, struct pop3_command *cmd)
{
	unsigned lines;
	int index;

	if (pop3_number_parse(cmd->args[1], &lines) < 0) {
		pop3_reply_bad(s, "-ERR Syntax: TOP msg n");
		return;
	}
	index = pop3_msg_arg(s, cmd->args[0]);
	if (index >= 0)
		pop3_retr_start(s, (unsigned)index, lines);
}

/* RFC 1939 5: DELE only marks; QUIT removes. */
static void pop3_cmd_dele(struct pop3_session *s, struct pop3_command *cmd)
{
	int index = pop3_msg_arg(s, cmd->args[0]);

	if (index < 0)
		return;
	s->msgs[index].deleted = 1;
	pop3_reply(s, "+OK Message %d deleted", index + 1);
}

static void pop3_cmd_rset(struct pop3_session *s, struct pop3_command *cmd)
{
	unsigned n;
	uint64_t size;

	(void)cmd;
	for (unsigned i = 0; i < s->n_msgs; i++)
		s->msgs[i].deleted = 0;
	pop3_maildrop_count(s, &n, &size);
	pop3_reply(s, "+OK Maildrop has %u messages (%llu octets)", n, (unsigned long long)size);
}

static void pop3_cmd_noop(struct pop3_session *s, struct pop3_command *cmd)
{
	(void)cmd;
	pop3_reply(s, "+OK");
}

/* ---- the table --------------------------------------------------------------- */

#define A POP3_CMD_AUTHORIZATION
#define T POP3_CMD_TRANSACTION

static const struct pop3_cmd pop3_cmds[] = {
    {POP3_VERB_CAPA, A | T, 0, 0, pop3_cmd_capa}, {POP3_VERB_STLS, A, 0, 0, pop3_cmd_stls},
    {POP3_VERB_USER, A, 1, 1, pop3_cmd_user},     {POP3_VERB_PASS, A, 0, 1, pop3_cmd_pass},
    {POP3_VERB_AUTH, A, 0, 2, pop3_cmd_auth},     {POP3_VERB_APOP, A, 0, 2, pop3_cmd_apop},
    {POP3_VERB_QUIT, A | T, 0, 0, pop3_cmd_quit}, {POP3_VERB_STAT, T, 0, 0, pop3_cmd_stat},
    {POP3_VERB_LIST, T, 0, 1, pop3_cmd_list},     {POP3_VERB_UIDL, T, 0, 1, pop3_cmd_uidl},
    {POP3_VERB_RETR, T, 1, 1, pop3_cmd_retr},     {POP3_VERB_TOP, T, 2, 2, pop3_cmd_top},
    {POP3_VERB_DELE, T, 1, 1, pop3_cmd_dele},     {POP3_VERB_RSET, T, 0, 0, pop3_cmd_rset},
    {POP3_VERB_NOOP, T, 0, 0, pop3_cmd_noop},
};

#undef A
#undef T

static const struct pop3_cmd *pop3_cmd_lookup(enum pop3_verb verb)
{
	for (size_t i = 0; i < sizeof(pop3_cmds) / sizeof(pop3_cmds[0]); i++)
		if (pop3_cmds[i].verb == verb)
			return &pop3_cmds[i];
	return NULL;
}

void pop3_session_command(struct pop3_session *s, char *line, size_t len)
{
	struct pop3_command cmd;
	const struct pop3_cmd *c;
	const char *why;
	unsigned need =
	    s->state == POP3_STATE_TRANSACTION ? POP3_CMD_TRANSACTION : POP3_CMD_AUTHORIZATION;

	if (pop3_command_parse(line, len, &cmd, &why) < 0) {
		pop3_reply_bad(s, "-ERR %s", why);
		return;
	}
	c = pop3_cmd_lookup(cmd.verb);
	if (c == NULL) {
		pop3_reply_bad(s, "-ERR Unknown command");
		return;
	}
	if (!(c->flags & need)) {
		pop3_reply_bad(s, "-ERR Command not valid in this state");
		return;
	}
	if (cmd.n_args < c->min_args || cmd.n_args > c->max_args) {
		pop3_reply_bad(s, "-ERR Syntax error in the arguments of %s", cmd.keyword);
		return;
	}
	s->bad = 0;
	c->handle(s, &cmd);
}
