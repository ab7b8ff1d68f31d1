/*
 * mta_tls.c: STARTTLS in the SMTP client (RFC 3207) and the checks of the
 * destination's TLS policy (policy/policy.h) on its outcome: the reply to
 * STARTTLS, the handshake through the io layer's TLS client (lib/io.h,
 * lib/tls_client.h), the peer's certificate, and at "may" the retry in
 * plaintext after a failed handshake. Called by the dialog
 * (mta_session.c); a policy failure goes to mta_session_next_host().
 */
#include <stdio.h>
#include <string.h>

#include "conf/config.h"
#include "lib/io.h"
#include "lib/log.h"
#include "lib/util.h"
#include "policy/policy.h"
#include "smtp/mta_private.h"
#include "smtp/smtp_reply.h"

static void mta_session_start_tls(struct mta_session *s);

/* ---- policy errors ----------------------------------------------------------- */

/* What the policy failure of this connection says to the sender. */
void mta_policy_error(struct mta_session *s, char *buf, size_t size, const char *what)
{
	snprintf(buf, size, MTA_POLICY_STATUS " TLS required by policy '%s' for %s: %s",
	         tls_level_name(s->dest->policy.level), s->dest->domain, what);
}

/* The names the peer's certificate must carry at the verify level. */
static void mta_expected_names(struct mta_session *s, char *buf, size_t size)
{
	tls_policy_peer_names(&s->dest->policy, s->dest->domain, s->hosts[s->cur].name, buf, size);
}

/* After the handshake: is the peer authenticated, and does the policy
 * accept it? Fills s->peer; returns -1 with *why on a policy failure. */
static int mta_session_check_peer(struct mta_session *s, const struct io_tls_info *tls, char *why,
                                  size_t size)
{
	strlcpy_checked(s->peer, tls->verified ? "verified" : "untrusted", sizeof(s->peer));
	if (s->dest->policy.level != TLS_LEVEL_VERIFY && s->dest->policy.level != TLS_LEVEL_DANE)
		return 0;
	if (tls->verified)
		return 0;
	mta_policy_error(s, why, size, tls->reason);
	return -1;
}

/* ---- the handshake ----------------------------------------------------------- */

void mta_session_on_starttls(struct mta_session *s, const struct smtp_reply *r)
{
	char text[600], refused[700], why[1024];

	if (r->code == 220) {
		mta_session_start_tls(s);
		return;
	}
	if (s->dest->policy.level == TLS_LEVEL_MAY) {
		mta_session_enter_state(s, MTA_STATE_READY);
		return;
	}
	mta_reply_text(r, text, sizeof(text));
	snprintf(refused, sizeof(refused), "STARTTLS refused: %s", text);
	mta_policy_error(s, why, sizeof(why), refused);
	mta_session_next_host(s, why, 1);
}

/* Puts TLS under the connection. Anything the server sent before the
 * handshake is discarded (RFC 3207 4.2; the io drops it). */
static void mta_session_start_tls(struct mta_session *s)
{
	const struct config *cfg = s->mta->env.cfg;
	char names[1024], what[300], why[1024];
	const char *error;

	mta_expected_names(s, names, sizeof(names));
	smtp_reply_parser_init(&s->parser);
	mta_session_enter_state(s, MTA_STATE_HANDSHAKE);
	if (io_start_tls_client(s->io, s->mta->env.tls, s->hosts[s->cur].name, names,
	                        cfg->outbound_command_timeout, &error) < 0) {
		snprintf(what, sizeof(what), "TLS handshake failed: %s", error);
		mta_policy_error(s, why, sizeof(why), what);
		mta_session_next_host(s, why, 1);
		return;
	}
	io_set_timeout(s->io, cfg->outbound_command_timeout);
}

void mta_session_tls_ready(struct mta_session *s)
{
	const struct io_tls_info *tls = io_tls_info(s->io);
	char why[1024];

	snprintf(s->tls_desc, sizeof(s->tls_desc), "%s/%s", tls->version, tls->cipher);
	s->tls_active = 1;
	if (mta_session_check_peer(s, tls, why, sizeof(why)) < 0) {
		mta_session_next_host(s, why, 1);
		return;
	}
	log_info("event=mta-tls domain=%s relay=%s tls=%s peer=%s", s->dest->domain, s->relay,
	         s->tls_desc, s->peer);
	mta_session_enter_state(s, MTA_STATE_EHLO);
}

/* The handshake failed (EVENT): at "may" the same host again without
 * TLS, otherwise a policy failure. */
void mta_session_handshake_failed(struct mta_session *s, enum io_event event)
{
	const char *err = event == IO_ERROR ? io_error(s->io) : "handshake failed";
	char why[1024], full[1100];

	if (s->dest->policy.level == TLS_LEVEL_MAY) {
		/* As Postfix: at "may", a failed handshake is retried in
		 * plaintext with the same host. */
		log_info("event=mta-tls-failed domain=%s relay=%s reason=\"%s\" "
		         "fallback=plaintext",
		         s->dest->domain, s->relay, err);
		mta_session_disconnect(s);
		s->plaintext_fallback = 1;
		mta_session_connect(s);
		return;
	}
	snprintf(why, sizeof(why), "TLS handshake failed: %s", err);
	mta_policy_error(s, full, sizeof(full), why);
	mta_session_next_host(s, full, 1);
}
