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
#include "smtp/mail_header.h"
#include "smtp/smtp_session_private.h"

#define SMTP_AUTH_DELAY_MS 500 /* first failure; doubles each time */
#define SMTP_AUTH_DELAY_MAX_MS 8000
#define SMTP_AUTH_RESPONSE_MAX 12288 /* RFC 4954 4 */
#define SMTP_HEADER_MAX 65536

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

/* PLAIN: authzid NUL authcid NUL passwd (RFC 4616 2). */
static void smtp_auth_plain(struct smtp_session *s, unsigned char *msg, size_t len)
{
	char *authzid = (char *)msg, *authcid, *password;
	char *end = (char *)msg + len;

	authcid = memchr(authzid, '\0', len);
	password = authcid ? memchr(authcid + 1, '\0', (size_t)(end - authcid - 1)) : NULL;
	if (authcid == NULL || password == NULL ||
	    memchr(password + 1, '\0', (size_t)(end - password - 1))) {
		s->auth_step = SMTP_AUTH_IDLE;
		smtp_reply_error(s, "501 5.5.2 Error: malformed PLAIN response");
		return;
	}
	authcid++;
	password++;
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

int smtp_auth_check_from_header(struct smtp_session *s, const char *headers, size_t len,
                                const char **reply_r)
{
	static char reply[ENVELOPE_ADDR_MAX * 2 + 128];
	char addrs[16][MAIL_HEADER_ADDR_MAX];
	unsigned n, i;

	if (s->auth_user[0] == '\0' || !s->env->cfg->check_from_header || headers == NULL)
		return 0;
	n = mail_header_addresses(headers, len, "From", addrs, 16);
	for (i = 0; i < n && i < 16; i++) {
		if (smtp_auth_owns(s, addrs[i]))
			continue;
		snprintf(reply, sizeof(reply),
		         "550 5.7.1 From: header address <%s> is not owned by user %s", addrs[i],
		         s->auth_user);
		log_info("event=from-header-refused session=%s user=%s from=<%s>", s->id,
		         s->auth_user, addrs[i]);
		*reply_r = reply;
		return -1;
	}
	return 0;
}

void smtp_auth_header_append(struct smtp_session *s, const char *data, size_t len)
{
	size_t take;

	if (s->header_done || s->auth_user[0] == '\0')
		return;
	if (s->header_buf == NULL)
		s->header_buf = xmalloc(SMTP_HEADER_MAX);
	take = SMTP_HEADER_MAX - s->header_len < len ? SMTP_HEADER_MAX - s->header_len : len;
	memcpy(s->header_buf + s->header_len, data, take);
	s->header_len += take;
	if (mail_header_length(s->header_buf, s->header_len) < s->header_len ||
	    s->header_len == SMTP_HEADER_MAX)
		s->header_done = 1;
}

void smtp_auth_free(struct smtp_session *s)
{
	if (s->ev_auth_delay != NULL)
		event_free(s->ev_auth_delay);
	s->ev_auth_delay = NULL;
	free(s->owned);
	s->owned = NULL;
	free(s->header_buf);
	s->header_buf = NULL;
	explicit_bzero(s->auth_login, sizeof(s->auth_login));
}
