/*
 * imap_cmd_auth.c: the not-authenticated state's commands: STARTTLS (RFC
 * 9051 6.2.1), LOGIN (6.2.3) and AUTHENTICATE PLAIN (6.2.2, RFC 4616) with
 * an initial response (SASL-IR, RFC 4959) or after a "+ " continuation,
 * which "*" cancels. The password goes to the lookup role (env->auth_check,
 * which applies the brute-force delays) and is wiped here at once; a
 * success logs the canonical user in with the store (IMSG_STORE_LOGIN),
 * which may still say NO [LIMIT]. None of it runs before TLS (the command
 * table answers NO [PRIVACYREQUIRED]).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf/config.h"
#include "imap/imap_parse.h"
#include "imap/imap_session_private.h"
#include "lib/base64.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/util.h"
#include "proto/metrics.h"
#include "proto/lookup.h"
#include "proto/proto.h"
#include "proto/store.h"

struct imap_reply imap_cmd_starttls(struct imap_session *s, const struct imap_arg *args, unsigned n)
{
	if (imap_session_tls(s) || s->listener->tls == LISTENER_TLS_IMPLICIT)
		return imap_reply_make(IMAP_BAD, "", "TLS is already active");
	if (s->env->tls == NULL)
		return imap_reply_make(IMAP_NO, "UNAVAILABLE", "STARTTLS is not available");
	s->cmd.start_tls = 1;
	s->cmd.no_updates = 1;
	return imap_reply_make(IMAP_OK, "", "Begin TLS negotiation now");
}

/* Hands USER and PASSWORD to the lookup role and waits for its answer. */
static struct imap_reply imap_auth_check(struct imap_session *s, const char *method,
                                         const char *user, const char *password)
{
	if (user[0] == '\0' || strlen(user) >= ENVELOPE_ADDR_MAX)
		return imap_reply_make(IMAP_NO, "AUTHENTICATIONFAILED", "Authentication failed");
	snprintf(s->auth_method, sizeof(s->auth_method), "%s", method);
	snprintf(s->user, sizeof(s->user), "%s", user); /* the canonical name replaces it */
	s->wait = IMAP_WAIT_AUTH;
	s->env->auth_check(s->env->owner, s->handle, user, password);
	return imap_pending();
}

struct imap_reply imap_cmd_login(struct imap_session *s, const struct imap_arg *args, unsigned n)
{
	const char *user, *password;
	struct imap_reply r;

	if (n != 2 || (user = imap_arg_text(&args[0])) == NULL ||
	    (password = imap_arg_text(&args[1])) == NULL)
		return imap_reply_make(IMAP_BAD, "", "Expected LOGIN user password");
	r = imap_auth_check(s, "LOGIN", user, password);
	explicit_bzero(args[1].str, args[1].len);
	return r;
}

/* A PLAIN response (RFC 4616 2): [authzid] NUL authcid NUL passwd, in
 * base64; "=" is the empty response (RFC 4959 3). The decoded copy is
 * wiped before returning. */
static struct imap_reply imap_auth_plain(struct imap_session *s, const char *b64, size_t len)
{
	unsigned char *buf = xmalloc(len * 3 / 4 + 4);
	const char *authz, *authc, *pass;
	struct imap_reply r;
	long n = len == 1 && b64[0] == '=' ? 0 : base64_decode(b64, len, buf);
	size_t a1, a2;

	if (n < 0 || (a1 = strnlen((char *)buf, (size_t)n)) >= (size_t)n ||
	    (a2 = strnlen((char *)buf + a1 + 1, (size_t)n - a1 - 1)) >= (size_t)n - a1 - 1 ||
	    memchr(buf + a1 + a2 + 2, '\0', (size_t)n - a1 - a2 - 2) != NULL) {
		r = imap_reply_make(IMAP_BAD, "", "Malformed PLAIN response");
	} else {
		buf[n] = '\0';
		authz = (char *)buf;
		authc = authz + a1 + 1;
		pass = authc + a2 + 1;
		if (authz[0] != '\0' && strcasecmp(authz, authc) != 0)
			r = imap_reply_make(IMAP_NO, "AUTHORIZATIONFAILED",
			                    "No authorization as another user");
		else
			r = imap_auth_check(s, "PLAIN", authc, pass);
	}
	explicit_bzero(buf, len * 3 / 4 + 4);
	free(buf);
	return r;
}

struct imap_reply imap_cmd_authenticate(struct imap_session *s, const struct imap_arg *args,
                                        unsigned n)
{
	struct imap_reply r;

	if (n < 1 || n > 2 || args[0].type != IMAP_ARG_ATOM ||
	    (n == 2 && args[1].type != IMAP_ARG_ATOM))
		return imap_reply_make(IMAP_BAD, "", "Expected AUTHENTICATE mechanism [response]");
	if (strcasecmp(args[0].str, "PLAIN") != 0)
		return imap_reply_make(IMAP_NO, "CANNOT", "Unsupported mechanism");
	if (n == 2) {
		r = imap_auth_plain(s, args[1].str, args[1].len);
		explicit_bzero(args[1].str, args[1].len);
		return r;
	}
	imap_line(s, "+ ");
	s->input = IMAP_INPUT_AUTH;
	return imap_pending();
}

void imap_auth_response(struct imap_session *s, const char *line, size_t len)
{
	struct imap_reply r;

	s->input = IMAP_INPUT_COMMAND;
	if (len == 1 && line[0] == '*')
		r = imap_reply_make(IMAP_BAD, "", "AUTHENTICATE cancelled");
	else
		r = imap_auth_plain(s, line, len);
	if (r.status != IMAP_PENDING)
		imap_command_done(s, &r);
}

/* ---- the answers ---------------------------------------------------------- */

static void imap_login_result(struct imap_session *s, uint32_t type, const void *data, size_t len,
                              int fd)
{
	struct proto_store_result m;
	struct imap_reply r;
	const char *why;
	char caps[512];

	if (fd >= 0)
		close(fd);
	if (type != IMSG_STORE_RESULT || proto_store_result_decode(&m, data, len, &why) < 0) {
		r = imap_reply_make(IMAP_NO, "SERVERBUG", "The mail store did not answer");
	} else if (m.status != PROTO_STORE_OK) {
		r = imap_reply_from_store(m.status, m.code, m.text, "");
		s->store_login = 0; /* the store refused: it kept nothing of us */
	} else {
		imap_session_logged_in(s);
		imap_capabilities(s, caps, sizeof(caps));
		r = imap_reply_make(IMAP_OK, "", "Logged in");
		snprintf(r.code, sizeof(r.code), "CAPABILITY %s", caps);
	}
	if (r.status != IMAP_OK) {
		log_info("event=imap-login-refused session=%s reason=store", s->id);
		s->user[0] = '\0';
	}
	imap_command_done(s, &r);
}

/* A failed password: past [submission] auth_failures of them the session
 * ends (the lookup role's delays slow each one down). */
static struct imap_reply imap_login_failed(struct imap_session *s, int tempfail)
{
	char v[ENVELOPE_ADDR_MAX + 8];

	if (!tempfail)
		METRICS_LISTENER_COUNT(s->listener->metrics_index, auth_failures);
	log_info("event=imap-login-failed session=%s user=%s reason=%s", s->id,
	         log_value(s->user, v, sizeof(v)), tempfail ? "tempfail" : "password");
	s->user[0] = '\0';
	if (tempfail)
		return imap_reply_make(IMAP_NO, "UNAVAILABLE",
		                       "Temporary failure, try again later");
	if (++s->auth_failures >= s->env->cfg->auth_failures) {
		imap_untagged(s, "BYE Too many authentication failures");
		s->cmd.close_after = 1;
	}
	return imap_reply_make(IMAP_NO, "AUTHENTICATIONFAILED", "Authentication failed");
}

void imap_auth_result(struct imap_session *s, int ok, const char *user)
{
	struct proto_store_login m;
	struct ipc_writer w;
	struct imap_reply r;

	if (ok != PROTO_AUTH_OK || user == NULL || user[0] == '\0' ||
	    strlen(user) >= sizeof(m.user)) {
		r = imap_login_failed(s, ok == PROTO_AUTH_TEMPFAIL);
		imap_command_done(s, &r);
		return;
	}
	memset(&m, 0, sizeof(m));
	snprintf(m.user, sizeof(m.user), "%s", user);
	m.service = STORE_SERVICE_IMAP;
	snprintf(s->user, sizeof(s->user), "%s", user);
	ipc_writer_init(&w);
	proto_store_login_encode(&m, &w);
	/* from now on the store may know us: a session that ends before the
	 * answer still sends LOGOUT, or the store keeps a session that counts
	 * against the user's sessions_per_user for ever */
	s->store_login = 1;
	imap_store_request(s, IMSG_STORE_LOGIN, &w, -1, imap_login_result);
}
