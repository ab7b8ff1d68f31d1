/*
 * envelope.c: the envelope; see envelope.h. Called by the SMTP server
 * session (building it) and the queue (keeping it, and making DSN
 * envelopes). Its IPC encoding is proto/queue.c's.
 */
#include "mail/envelope.h"

#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "mail/xtext.h"

void envelope_init(struct envelope *env)
{
	memset(env, 0, sizeof(*env));
}

void envelope_free(struct envelope *env)
{
	free(env->rcpts);
	memset(env, 0, sizeof(*env));
}

int envelope_orcpt_ok(const char *orcpt)
{
	const char *semi = strchr(orcpt, ';'), *s;

	if (semi == NULL || semi == orcpt || strlen(orcpt) >= ENVELOPE_ADDR_MAX)
		return 0;
	for (s = orcpt; s < semi; s++)
		if (*s < 33 || *s > 126 || *s == '+' || *s == '=')
			return 0;
	return xtext_valid(semi + 1);
}

int envelope_add_rcpt(struct envelope *env, const char *addr, unsigned notify, const char *orcpt)
{
	struct envelope_rcpt *r;

	if (env->n_rcpts >= ENVELOPE_MAX_RCPTS)
		return -1;
	if ((env->n_rcpts & (env->n_rcpts - 1)) == 0)
		env->rcpts = xrealloc(env->rcpts, (env->n_rcpts ? env->n_rcpts * 2 : 1) *
		                                      sizeof(env->rcpts[0]));
	r = &env->rcpts[env->n_rcpts++];
	r->notify = notify;
	/* An ORCPT is only a name for DSNs: an odd one is dropped, it never
	 * costs the recipient (or the message) its delivery. */
	r->orcpt[0] = '\0';
	if (orcpt != NULL && envelope_orcpt_ok(orcpt))
		strlcpy_checked(r->orcpt, orcpt, sizeof(r->orcpt));
	return strlcpy_checked(r->addr, addr, sizeof(r->addr));
}
