/*
 * smtp_auth.c: the SMTP AUTH sub-machine and the sender rules of a
 * logged-in user (see smtp_auth.h). Called by smtp_session.c only; it
 * writes no reply itself but returns each one in a struct smtp_auth_out.
 *
 * Credentials are checked by the lookup role; this file only hands them to
 * the session to carry there, and they are wiped after. AUTH is never
 * offered or accepted before TLS. A failed attempt is answered after a
 * delay that doubles each time, and the session ends after [submission]
 * auth_failures failures. A logged-in user may relay, but only as an
 * address it owns (envelope sender, and the From: header).
 */
#include "smtp/smtp_auth.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/config.h"
#include "lib/base64.h"
#include "lib/log.h"
#include "proto/metrics.h"
#include "lib/util.h"

void smtp_auth_init(struct smtp_auth *a, const struct config *cfg,
                    const struct config_listener *listener, const char *session_id,
                    const char *client)
{
	memset(a, 0, sizeof(*a));
	a->cfg = cfg;
	a->listener = listener;
	a->session_id = session_id;
	a->client = client;
}

void smtp_auth_free(struct smtp_auth *a)
{
	free(a->owned);
	a->owned = NULL;
	a->n_owned = 0;
	smtp_auth_header_reset(a);
	explicit_bzero(a->login, sizeof(a->login));
}

void smtp_auth_abort(struct smtp_auth *a)
{
	a->step = SMTP_AUTH_IDLE;
	explicit_bzero(a->login, sizeof(a->login));
}

/* Starts OUT empty: no reply, nothing to do. */
static void out_clear(struct smtp_auth_out *out)
{
	out->reply[0] = '\0';
	out->is_error = 0;
	out->next = SMTP_AUTH_NEXT_NONE;
	out->close_reply[0] = '\0';
	out->delay_ms = 0;
	out->user = NULL;
	out->password = NULL;
}

/* Sets OUT's reply; IS_ERROR when it counts as a client error. */
__attribute__((format(printf, 3, 4))) static void out_reply(struct smtp_auth_out *out, int is_error,
                                                            const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out->reply, sizeof(out->reply), fmt, ap);
	va_end(ap);
	out->is_error = is_error;
}

void smtp_auth_out_wipe(struct smtp_auth_out *out)
{
	explicit_bzero(out->buf, sizeof(out->buf));
	out->user = NULL;
	out->password = NULL;
}

static int smtp_auth_offered(const struct smtp_auth *a, int tls_active)
{
	enum listener_auth mode = a->listener->auth;

	return tls_active && a->user[0] == '\0' &&
	       (mode == LISTENER_AUTH_OPTIONAL || mode == LISTENER_AUTH_REQUIRED);
}

const char *smtp_auth_ehlo(const struct smtp_auth *a, int tls_active)
{
	return smtp_auth_offered(a, tls_active) ? "AUTH PLAIN LOGIN" : NULL;
}

/* Asks the session to hand USER and PASSWORD to the lookup role. */
static void smtp_auth_submit(struct smtp_auth *a, const char *user, const char *password,
                             struct smtp_auth_out *out)
{
	a->step = SMTP_AUTH_IDLE;
	if (user != a->login)
		strlcpy_checked(a->login, user, sizeof(a->login));
	out->next = SMTP_AUTH_NEXT_CHECK;
	out->user = user;
	out->password = password;
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

/* PLAIN: authzid NUL authcid NUL passwd (RFC 4616 2), decoded in OUT->buf. */
static void smtp_auth_plain(struct smtp_auth *a, size_t len, struct smtp_auth_out *out)
{
	char *authzid, *authcid, *password;
	const char *why;

	if (smtp_auth_plain_split(out->buf, len, &authzid, &authcid, &password, &why) < 0) {
		a->step = SMTP_AUTH_IDLE;
		out_reply(out, 1, "501 5.5.2 Error: %s", why);
		return;
	}
	/* acting as another user is not allowed: such a request fails as bad
	 * credentials would */
	if (authzid[0] != '\0' && strcasecmp(authzid, authcid) != 0)
		password[0] = '\0';
	smtp_auth_submit(a, authcid, password, out);
}

/* Decodes a client response into OUT->buf; -1 with OUT's reply if bad. */
static long smtp_auth_decode(struct smtp_auth *a, const char *in, size_t len,
                             struct smtp_auth_out *out)
{
	long n;

	if (len == 1 && in[0] == '*') {
		a->step = SMTP_AUTH_IDLE;
		out_reply(out, 1, "501 5.7.0 Authentication aborted");
		return -1;
	}
	if (len == 1 && in[0] == '=')
		len = 0; /* RFC 4954 4: "=" is an empty initial response */
	n = len > SMTP_AUTH_RESPONSE_MAX ? -1 : base64_decode(in, len, (unsigned char *)out->buf);
	if (n < 0) {
		a->step = SMTP_AUTH_IDLE;
		out_reply(out, 1, "501 5.5.2 Error: cannot decode the response");
	}
	return n;
}

/* LOGIN: the user name (decoded, N octets in OUT->buf), then "Password:". */
static void smtp_auth_login_user(struct smtp_auth *a, long n, struct smtp_auth_out *out)
{
	if (memchr(out->buf, '\0', (size_t)n) != NULL || n == 0) {
		a->step = SMTP_AUTH_IDLE;
		out_reply(out, 1, "501 5.5.2 Error: malformed user name");
		return;
	}
	strlcpy_checked(a->login, out->buf, sizeof(a->login));
	a->step = SMTP_AUTH_LOGIN_PASS;
	out_reply(out, 0, "334 UGFzc3dvcmQ6"); /* "Password:" */
}

void smtp_auth_continue(struct smtp_auth *a, const char *line, size_t len,
                        struct smtp_auth_out *out)
{
	long n;

	out_clear(out);
	n = smtp_auth_decode(a, line, len, out);
	if (n < 0)
		return;
	switch (a->step) {
	case SMTP_AUTH_PLAIN:
		smtp_auth_plain(a, (size_t)n, out);
		break;
	case SMTP_AUTH_LOGIN_USER:
		smtp_auth_login_user(a, n, out);
		break;
	case SMTP_AUTH_LOGIN_PASS:
		if (memchr(out->buf, '\0', (size_t)n) != NULL)
			out->buf[0] = '\0';
		smtp_auth_submit(a, a->login, out->buf, out);
		break;
	default:
		break;
	}
}

/* Whether AUTH may start now; OUT gets the refusal when not. */
static int smtp_auth_allowed(const struct smtp_auth *a, const struct smtp_auth_facts *facts,
                             struct smtp_auth_out *out)
{
	enum listener_auth mode = a->listener->auth;

	if (mode == LISTENER_AUTH_NONE || mode == LISTENER_AUTH_CERTIFICATE)
		out_reply(out, 1, "503 5.5.1 Error: authentication not enabled");
	else if (!facts->tls_active && a->listener->tls == LISTENER_TLS_REQUIRED)
		out_reply(out, 1, "530 5.7.0 Must issue a STARTTLS command first");
	else if (!facts->tls_active)
		out_reply(out, 1,
		          "538 5.7.11 Encryption required for requested "
		          "authentication mechanism");
	else if (a->user[0] != '\0')
		out_reply(out, 1, "503 5.5.1 Error: already authenticated");
	else if (facts->in_transaction)
		out_reply(out, 1, "503 5.5.1 Error: AUTH not permitted during a mail transaction");
	else if (!facts->greeted)
		out_reply(out, 1, "503 5.5.1 Error: send EHLO first");
	else
		return 1;
	return 0;
}

/* Enters STEP: the initial response INITIAL is its first line, else PROMPT
 * asks for it. */
static void smtp_auth_enter(struct smtp_auth *a, enum smtp_auth_step step, const char *initial,
                            const char *prompt, struct smtp_auth_out *out)
{
	a->step = step;
	if (initial && *initial)
		smtp_auth_continue(a, initial, strlen(initial), out);
	else
		out_reply(out, 0, "%s", prompt);
}

void smtp_auth_start(struct smtp_auth *a, const struct smtp_auth_facts *facts, const char *arg,
                     struct smtp_auth_out *out)
{
	char mech[32];
	const char *initial = strchr(arg, ' ');
	size_t mlen = initial ? (size_t)(initial - arg) : strlen(arg);

	out_clear(out);
	if (!smtp_auth_allowed(a, facts, out))
		return;
	if (mlen == 0 || mlen >= sizeof(mech)) {
		out_reply(out, 1, "501 5.5.4 Syntax: AUTH mechanism [initial-response]");
		return;
	}
	memcpy(mech, arg, mlen);
	mech[mlen] = '\0';
	while (initial && *initial == ' ')
		initial++;
	if (strcasecmp(mech, "PLAIN") == 0)
		smtp_auth_enter(a, SMTP_AUTH_PLAIN, initial, "334 ", out);
	else if (strcasecmp(mech, "LOGIN") == 0)
		smtp_auth_enter(a, SMTP_AUTH_LOGIN_USER, initial, "334 VXNlcm5hbWU6", out);
	else
		out_reply(out, 1, "504 5.5.4 Error: unrecognized authentication type");
}

/* A successful login: USER and the addresses it owns. */
static void smtp_auth_logged_in(struct smtp_auth *a, int by_certificate, const char *user,
                                const char *const *owned, unsigned n_owned,
                                struct smtp_auth_out *out)
{
	char v[ENVELOPE_ADDR_MAX + 8];
	unsigned i;

	strlcpy_checked(a->user, user, sizeof(a->user));
	free(a->owned);
	a->owned = xcalloc(n_owned ? n_owned : 1, sizeof(a->owned[0]));
	for (i = 0; i < n_owned; i++)
		strlcpy_checked(a->owned[i], owned[i], sizeof(a->owned[0]));
	a->n_owned = n_owned;
	log_value(user, v, sizeof(v));
	METRICS_LISTENER_COUNT(a->listener->metrics_index, auth_successes);
	log_info("event=auth session=%s user=%s method=%s", a->session_id, v,
	         by_certificate ? "certificate" : "password");
	if (!by_certificate)
		out_reply(out, 0, "235 2.7.0 Authentication successful");
}

void smtp_auth_result(struct smtp_auth *a, int ok, int by_certificate, const char *user,
                      const char *const *owned, unsigned n_owned, struct smtp_auth_out *out)
{
	char v[ENVELOPE_ADDR_MAX + 8];
	unsigned delay;

	out_clear(out);
	if (ok == SMTP_AUTH_TEMPFAIL) {
		/* blocked or too busy: nothing was checked, so it is no failure of
		 * this session's; the client may try again later (RFC 4954 6) */
		log_info("event=auth-tempfail session=%s client=%s user=%s", a->session_id,
		         a->client, log_value(a->login, v, sizeof(v)));
		if (!by_certificate)
			out_reply(out, 1, "454 4.7.0 Temporary authentication failure");
		return;
	}
	if (ok) {
		smtp_auth_logged_in(a, by_certificate, user, owned, n_owned, out);
		return;
	}
	METRICS_LISTENER_COUNT(a->listener->metrics_index, auth_failures);
	if (by_certificate) {
		log_info("event=auth-failed session=%s user=%s method=certificate", a->session_id,
		         log_value(a->login, v, sizeof(v)));
		return;
	}
	a->failures++;
	log_info("event=auth-failed session=%s client=%s user=%s failures=%u", a->session_id,
	         a->client, log_value(a->login, v, sizeof(v)), a->failures);
	delay = SMTP_AUTH_DELAY_MS << (a->failures < 5 ? a->failures - 1 : 4);
	out->next = SMTP_AUTH_NEXT_DELAY;
	out->delay_ms = delay > SMTP_AUTH_DELAY_MAX_MS ? SMTP_AUTH_DELAY_MAX_MS : delay;
}

void smtp_auth_delay_over(struct smtp_auth *a, struct smtp_auth_out *out)
{
	out_clear(out);
	out_reply(out, 0, "535 5.7.8 Authentication credentials invalid");
	if (a->failures >= a->cfg->auth_failures) {
		out->next = SMTP_AUTH_NEXT_CLOSE;
		snprintf(out->close_reply, sizeof(out->close_reply),
		         "421 4.7.0 %s Too many failed authentication attempts", a->cfg->hostname);
	}
}

/* ---- what a logged-in user may send ------------------------------------ */

static int smtp_auth_owns(const struct smtp_auth *a, const char *address)
{
	unsigned i;

	for (i = 0; i < a->n_owned; i++)
		if (strcasecmp(a->owned[i], address) == 0)
			return 1;
	return 0;
}

int smtp_auth_check_sender(struct smtp_auth *a, const char *sender, const char **refusal_r)
{
	if (a->user[0] == '\0' || sender[0] == '\0' || smtp_auth_owns(a, sender))
		return 0;
	snprintf(a->refusal, sizeof(a->refusal),
	         "553 5.7.1 <%s>: Sender address rejected: not owned by user %s", sender, a->user);
	{
		char f[ENVELOPE_ADDR_MAX + 16], u[ENVELOPE_ADDR_MAX + 16];
		log_info("event=sender-refused session=%s user=%s from=%s", a->session_id,
		         log_value(a->user, u, sizeof(u)), log_address(sender, f, sizeof(f)));
	}
	*refusal_r = a->refusal;
	return -1;
}

/* The fields that say who wrote or sent a message (RFC 5322 3.6.2, 3.6.6);
 * a user may name only addresses of theirs in any of them. */
static const char *const smtp_sender_fields[] = {"From", "Sender", "Resent-From", "Resent-Sender"};
enum { FIELD_FROM, FIELD_SENDER, FIELD_RESENT_FROM, FIELD_RESENT_SENDER, FIELD_COUNT };

/* Writes the refusal of FIELD (PROBLEM, or ADDRESS not owned) into
 * a->refusal, logs it, and returns -1. */
static int smtp_from_refuse(struct smtp_auth *a, const char **refusal_r, const char *field,
                            const char *problem, const char *address)
{
	char v[MAILBOX_ADDR_MAX + 16], u[ENVELOPE_ADDR_MAX + 16], why[128];

	if (address != NULL)
		snprintf(a->refusal, sizeof(a->refusal),
		         "550 5.7.1 %s: header address <%s> is not owned by user %s", field,
		         address, a->user);
	else if (field[0] != '\0')
		snprintf(a->refusal, sizeof(a->refusal), "550 5.7.1 %s: header refused: %s", field,
		         problem);
	else
		snprintf(a->refusal, sizeof(a->refusal), "550 5.7.1 Message header refused: %s",
		         problem);
	/* no address= when the field was refused as a whole, not for one of
	 * its addresses */
	log_value(problem ? problem : "not owned", why, sizeof(why));
	log_info("event=from-header-refused session=%s user=%s field=%s%s%s reason=%s",
	         a->session_id, log_value(a->user, u, sizeof(u)), field[0] ? field : "header",
	         address ? " address=" : "", address ? log_address(address, v, sizeof(v)) : "",
	         why);
	*refusal_r = a->refusal;
	return -1;
}

/* Every address of field F must be the user's. */
static int smtp_from_check_field(struct smtp_auth *a, const struct header_field *f,
                                 const char **refusal_r)
{
	const char *name = smtp_sender_fields[f->which], *why = NULL;
	unsigned flags =
	    (f->which == FIELD_SENDER || f->which == FIELD_RESENT_SENDER) ? MAILBOX_LIST_SINGLE : 0;
	struct mailbox_list list = {0};
	size_t i;
	int r = 0;

	if (mailbox_list_parse(f->body, f->len, flags, &list, &why) < 0)
		r = smtp_from_refuse(a, refusal_r, name, why, NULL);
	for (i = 0; r == 0 && i < list.n; i++)
		if (!smtp_auth_owns(a, list.addrs[i]))
			r = smtp_from_refuse(a, refusal_r, name, NULL, list.addrs[i]);
	mailbox_list_free(&list);
	return r;
}

int smtp_auth_check_from_header(struct smtp_auth *a, const char **refusal_r)
{
	struct header_scan *hs = &a->header;
	size_t i;

	if (!a->header_scan_on)
		return 0;
	header_scan_finish(hs);
	if (hs->error != NULL)
		return smtp_from_refuse(
		    a, refusal_r, hs->error_which >= 0 ? smtp_sender_fields[hs->error_which] : "",
		    hs->error, NULL);
	/* RFC 5322 3.6: one From: and at most one Sender: per message */
	if (header_scan_count(hs, FIELD_FROM) > 1)
		return smtp_from_refuse(a, refusal_r, "From", "more than one From: field", NULL);
	if (header_scan_count(hs, FIELD_SENDER) > 1)
		return smtp_from_refuse(a, refusal_r, "Sender", "more than one Sender: field",
		                        NULL);
	for (i = 0; i < hs->n_fields; i++)
		if (smtp_from_check_field(a, &hs->fields[i], refusal_r) < 0)
			return -1;
	return 0;
}

void smtp_auth_header_append(struct smtp_auth *a, const char *data, size_t len)
{
	if (a->user[0] == '\0' || !a->cfg->check_from_header)
		return;
	if (!a->header_scan_on) {
		header_scan_init(&a->header, smtp_sender_fields, FIELD_COUNT, 0);
		a->header_scan_on = 1;
	}
	header_scan_feed(&a->header, data, len);
}

void smtp_auth_header_reset(struct smtp_auth *a)
{
	if (a->header_scan_on)
		header_scan_free(&a->header);
	a->header_scan_on = 0;
}
