/*
 * smtp_auth.c: SMTP AUTH (RFC 4954) with PLAIN (RFC 4616) and LOGIN, the
 * login by client certificate, and what a logged-in user may do: relay, but
 * only as an address it owns (envelope sender, and the From: header).
 *
 * Credentials are checked by the lookup role; this file only carries them
 * there and wipes them. AUTH is never offered or accepted before TLS. A
 * failed attempt is answered after a delay that doubles each time, and the
 * session ends after [submission] auth_failures failures.
 */
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/config.h"
#include "lib/base64.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mail/mailbox_list.h"
#include "smtp/smtp_session_private.h"

#define SMTP_AUTH_DELAY_MS 500 /* first failure; doubles each time */
#define SMTP_AUTH_DELAY_MAX_MS 8000
#define SMTP_AUTH_RESPONSE_MAX 12288 /* RFC 4954 4 */

static int smtp_auth_offered(const struct smtp_session *s)
{
	enum listener_auth a = s->listener->auth;

	return s->tls_active && s->auth_user[0] == '\0' &&
	       (a == LISTENER_AUTH_OPTIONAL || a == LISTENER_AUTH_REQUIRED);
}

const char *smtp_auth_ehlo(const struct smtp_session *s)
{
	return smtp_auth_offered(s) ? "AUTH PLAIN LOGIN" : NULL;
}

/* Hands the credentials to the lookup role and wipes them here. */
static void smtp_auth_submit(struct smtp_session *s, char *user, char *password)
{
	s->auth_step = SMTP_AUTH_IDLE;
	strlcpy_checked(s->auth_login, user, sizeof(s->auth_login));
	s->wait = SMTP_WAIT_AUTH;
	s->env->auth_check(s->env->owner, s->handle, user, password);
	explicit_bzero(password, strlen(password));
}

int smtp_auth_plain_split(char *msg, size_t len, char **authzid_r, char **authcid_r,
                          char **password_r, const char **error_r)
{
	char *authzid = msg, *authcid, *password;
	char *end = msg + len;

	authcid = memchr(authzid, '\0', len);
	password = authcid ? memchr(authcid + 1, '\0', (size_t)(end - authcid - 1)) : NULL;
	if (authcid == NULL || password == NULL ||
	    memchr(password + 1, '\0', (size_t)(end - password - 1))) {
		*error_r = "malformed PLAIN response";
		return -1;
	}
	*authzid_r = authzid;
	*authcid_r = authcid + 1;
	*password_r = password + 1;
	return 0;
}

/* PLAIN: authzid NUL authcid NUL passwd (RFC 4616 2). */
static void smtp_auth_plain(struct smtp_session *s, unsigned char *msg, size_t len)
{
	char *authzid, *authcid, *password;
	const char *why;

	if (smtp_auth_plain_split((char *)msg, len, &authzid, &authcid, &password, &why) < 0) {
		s->auth_step = SMTP_AUTH_IDLE;
		smtp_reply_error(s, "501 5.5.2 Error: %s", why);
		return;
	}
	/* acting as another user is not allowed: such a request fails as bad
	 * credentials would */
	if (authzid[0] != '\0' && strcasecmp(authzid, authcid) != 0)
		password[0] = '\0';
	smtp_auth_submit(s, authcid, password);
}

/* Decodes a client response into BUF; replies and returns -1 if bad. */
static long smtp_auth_decode(struct smtp_session *s, const char *in, size_t len, unsigned char *buf)
{
	long n;

	if (len == 1 && in[0] == '*') {
		s->auth_step = SMTP_AUTH_IDLE;
		smtp_reply_error(s, "501 5.7.0 Authentication aborted");
		return -1;
	}
	if (len == 1 && in[0] == '=')
		len = 0; /* RFC 4954 4: "=" is an empty initial response */
	n = len > SMTP_AUTH_RESPONSE_MAX ? -1 : base64_decode(in, len, buf);
	if (n < 0) {
		s->auth_step = SMTP_AUTH_IDLE;
		smtp_reply_error(s, "501 5.5.2 Error: cannot decode the response");
	}
	return n;
}

void smtp_auth_continue(struct smtp_session *s, const char *line, size_t len)
{
	unsigned char buf[SMTP_AUTH_RESPONSE_MAX];
	long n = smtp_auth_decode(s, line, len, buf);

	if (n < 0)
		return;
	switch (s->auth_step) {
	case SMTP_AUTH_PLAIN:
		smtp_auth_plain(s, buf, (size_t)n);
		break;
	case SMTP_AUTH_LOGIN_USER:
		if (memchr(buf, '\0', (size_t)n) != NULL || n == 0) {
			s->auth_step = SMTP_AUTH_IDLE;
			smtp_reply_error(s, "501 5.5.2 Error: malformed user name");
			break;
		}
		strlcpy_checked(s->auth_login, (char *)buf, sizeof(s->auth_login));
		s->auth_step = SMTP_AUTH_LOGIN_PASS;
		smtp_reply(s, "334 UGFzc3dvcmQ6"); /* "Password:" */
		break;
	case SMTP_AUTH_LOGIN_PASS: {
		char user[ENVELOPE_ADDR_MAX];
		strlcpy_checked(user, s->auth_login, sizeof(user));
		if (memchr(buf, '\0', (size_t)n) != NULL)
			buf[0] = '\0';
		smtp_auth_submit(s, user, (char *)buf);
		break;
	}
	default:
		break;
	}
	explicit_bzero(buf, sizeof(buf));
}

/* Whether AUTH may start now; replies when not. */
static int smtp_auth_allowed(struct smtp_session *s)
{
	enum listener_auth a = s->listener->auth;

	if (a == LISTENER_AUTH_NONE || a == LISTENER_AUTH_CERTIFICATE) {
		smtp_reply_error(s, "503 5.5.1 Error: authentication not enabled");
		return 0;
	}
	if (!s->tls_active) {
		if (s->listener->tls == LISTENER_TLS_REQUIRED)
			smtp_reply_error(s, "530 5.7.0 Must issue a STARTTLS command first");
		else
			smtp_reply_error(s, "538 5.7.11 Encryption required for requested "
			                    "authentication mechanism");
		return 0;
	}
	if (s->auth_user[0] != '\0') {
		smtp_reply_error(s, "503 5.5.1 Error: already authenticated");
		return 0;
	}
	if (s->state == SMTP_STATE_MAIL) {
		smtp_reply_error(s,
		                 "503 5.5.1 Error: AUTH not permitted during a mail transaction");
		return 0;
	}
	if (s->state == SMTP_STATE_CONNECTED) {
		smtp_reply_error(s, "503 5.5.1 Error: send EHLO first");
		return 0;
	}
	return 1;
}

void smtp_cmd_auth(struct smtp_session *s, const char *arg)
{
	char mech[32];
	const char *initial = strchr(arg, ' ');
	size_t mlen = initial ? (size_t)(initial - arg) : strlen(arg);

	if (!smtp_auth_allowed(s))
		return;
	if (mlen == 0 || mlen >= sizeof(mech)) {
		smtp_reply_error(s, "501 5.5.4 Syntax: AUTH mechanism [initial-response]");
		return;
	}
	memcpy(mech, arg, mlen);
	mech[mlen] = '\0';
	while (initial && *initial == ' ')
		initial++;
	if (strcasecmp(mech, "PLAIN") == 0) {
		s->auth_step = SMTP_AUTH_PLAIN;
		if (initial && *initial)
			smtp_auth_continue(s, initial, strlen(initial));
		else
			smtp_reply(s, "334 ");
	} else if (strcasecmp(mech, "LOGIN") == 0) {
		s->auth_step = SMTP_AUTH_LOGIN_USER;
		if (initial && *initial)
			smtp_auth_continue(s, initial, strlen(initial));
		else
			smtp_reply(s, "334 VXNlcm5hbWU6"); /* "Username:" */
	} else {
		smtp_reply_error(s, "504 5.5.4 Error: unrecognized authentication type");
	}
}

static void smtp_auth_delay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_session *s = arg;

	s->wait = SMTP_WAIT_NONE;
	smtp_reply(s, "535 5.7.8 Authentication credentials invalid");
	if (s->auth_failures >= s->env->cfg->auth_failures) {
		smtp_reply(s, "421 4.7.0 %s Too many failed authentication attempts",
		           s->env->cfg->hostname);
		smtp_close_after_reply(s);
		return;
	}
	smtp_session_process(s);
}

void smtp_session_auth_done(struct smtp_session *s, int ok, int by_certificate, const char *user,
                            const char *const *owned, unsigned n_owned)
{
	char v[ENVELOPE_ADDR_MAX + 8];
	unsigned i, delay;

	if (s->wait != SMTP_WAIT_AUTH)
		return;
	log_value(ok ? user : s->auth_login, v, sizeof(v));
	if (ok) {
		strlcpy_checked(s->auth_user, user, sizeof(s->auth_user));
		free(s->owned);
		s->owned = xcalloc(n_owned ? n_owned : 1, sizeof(s->owned[0]));
		for (i = 0; i < n_owned; i++)
			strlcpy_checked(s->owned[i], owned[i], sizeof(s->owned[0]));
		s->n_owned = n_owned;
		s->wait = SMTP_WAIT_NONE;
		log_info("event=auth session=%s user=%s method=%s", s->id, v,
		         by_certificate ? "certificate" : "password");
		if (!by_certificate)
			smtp_reply(s, "235 2.7.0 Authentication successful");
		smtp_session_process(s);
		return;
	}
	if (by_certificate) {
		s->wait = SMTP_WAIT_NONE;
		log_info("event=auth-failed session=%s user=%s method=certificate", s->id, v);
		smtp_session_process(s);
		return;
	}
	s->auth_failures++;
	log_info("event=auth-failed session=%s client=%s user=%s failures=%u", s->id, s->client, v,
	         s->auth_failures);
	delay = SMTP_AUTH_DELAY_MS << (s->auth_failures < 5 ? s->auth_failures - 1 : 4);
	if (delay > SMTP_AUTH_DELAY_MAX_MS)
		delay = SMTP_AUTH_DELAY_MAX_MS;
	if (s->ev_auth_delay == NULL)
		s->ev_auth_delay = evtimer_new(s->env->base, smtp_auth_delay_cb, s);
	{
		struct timeval tv = {delay / 1000, (delay % 1000) * 1000};
		evtimer_add(s->ev_auth_delay, &tv);
	}
}

static int smtp_auth_owns(const struct smtp_session *s, const char *address)
{
	unsigned i;

	for (i = 0; i < s->n_owned; i++)
		if (strcasecmp(s->owned[i], address) == 0)
			return 1;
	return 0;
}

int smtp_auth_check_sender(struct smtp_session *s, const char *sender)
{
	if (s->auth_user[0] == '\0' || sender[0] == '\0' || smtp_auth_owns(s, sender))
		return 0;
	smtp_reply_error(s, "553 5.7.1 <%s>: Sender address rejected: not owned by user %s", sender,
	                 s->auth_user);
	log_info("event=sender-refused session=%s user=%s from=<%s>", s->id, s->auth_user, sender);
	return -1;
}

/* The fields that say who wrote or sent a message (RFC 5322 3.6.2, 3.6.6);
 * a user may name only addresses of theirs in any of them. */
static const char *const smtp_sender_fields[] = {"From", "Sender", "Resent-From",
                                                 "Resent-Sender"};
enum { FIELD_FROM, FIELD_SENDER, FIELD_RESENT_FROM, FIELD_RESENT_SENDER, FIELD_COUNT };

static int smtp_from_refuse(struct smtp_session *s, const char **reply_r, const char *field,
                            const char *problem, const char *address)
{
	static char reply[MAILBOX_ADDR_MAX + ENVELOPE_ADDR_MAX + 160];
	char v[MAILBOX_ADDR_MAX + 8], why[128];

	if (address != NULL)
		snprintf(reply, sizeof(reply),
		         "550 5.7.1 %s: header address <%s> is not owned by user %s", field, address,
		         s->auth_user);
	else if (field[0] != '\0')
		snprintf(reply, sizeof(reply), "550 5.7.1 %s: header refused: %s", field, problem);
	else
		snprintf(reply, sizeof(reply), "550 5.7.1 Message header refused: %s", problem);
	log_value(address ? address : "", v, sizeof(v));
	log_value(problem ? problem : "not owned", why, sizeof(why));
	log_info("event=from-header-refused session=%s user=%s field=%s address=%s reason=%s", s->id,
	         s->auth_user, field[0] ? field : "header", v, why);
	*reply_r = reply;
	return -1;
}

/* Every address of field F must be the user's. */
static int smtp_from_check_field(struct smtp_session *s, const struct header_field *f,
                                 const char **reply_r)
{
	const char *name = smtp_sender_fields[f->which], *why = NULL;
	unsigned flags = (f->which == FIELD_SENDER || f->which == FIELD_RESENT_SENDER)
	                     ? MAILBOX_LIST_SINGLE
	                     : 0;
	struct mailbox_list list = {0};
	size_t i;
	int r = 0;

	if (mailbox_list_parse(f->body, f->len, flags, &list, &why) < 0)
		r = smtp_from_refuse(s, reply_r, name, why, NULL);
	for (i = 0; r == 0 && i < list.n; i++)
		if (!smtp_auth_owns(s, list.addrs[i]))
			r = smtp_from_refuse(s, reply_r, name, NULL, list.addrs[i]);
	mailbox_list_free(&list);
	return r;
}

int smtp_auth_check_from_header(struct smtp_session *s, const char **reply_r)
{
	struct header_scan *hs = &s->header;
	size_t i;

	if (!s->header_scan_on)
		return 0;
	header_scan_finish(hs);
	if (hs->error != NULL)
		return smtp_from_refuse(s, reply_r,
		                        hs->error_which >= 0 ? smtp_sender_fields[hs->error_which]
		                                             : "",
		                        hs->error, NULL);
	/* RFC 5322 3.6: one From: and at most one Sender: per message */
	if (header_scan_count(hs, FIELD_FROM) > 1)
		return smtp_from_refuse(s, reply_r, "From", "more than one From: field", NULL);
	if (header_scan_count(hs, FIELD_SENDER) > 1)
		return smtp_from_refuse(s, reply_r, "Sender", "more than one Sender: field", NULL);
	for (i = 0; i < hs->n_fields; i++)
		if (smtp_from_check_field(s, &hs->fields[i], reply_r) < 0)
			return -1;
	return 0;
}

void smtp_auth_header_append(struct smtp_session *s, const char *data, size_t len)
{
	if (s->auth_user[0] == '\0' || !s->env->cfg->check_from_header)
		return;
	if (!s->header_scan_on) {
		header_scan_init(&s->header, smtp_sender_fields, FIELD_COUNT, 0);
		s->header_scan_on = 1;
	}
	header_scan_feed(&s->header, data, len);
}

void smtp_auth_header_reset(struct smtp_session *s)
{
	if (s->header_scan_on)
		header_scan_free(&s->header);
	s->header_scan_on = 0;
}

void smtp_auth_free(struct smtp_session *s)
{
	if (s->ev_auth_delay != NULL)
		event_free(s->ev_auth_delay);
	s->ev_auth_delay = NULL;
	free(s->owned);
	s->owned = NULL;
	smtp_auth_header_reset(s);
	explicit_bzero(s->auth_login, sizeof(s->auth_login));
}
