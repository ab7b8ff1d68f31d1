/*
 * envelope.c: the envelope and its IPC encoding; see envelope.h. Called by
 * the SMTP server session (building it), the dispatcher (sending it to the
 * queue) and the queue (receiving it, and making DSN envelopes).
 */
#include "mail/envelope.h"

#include <stdlib.h>
#include <string.h>

#include "lib/ipc.h"
#include "lib/util.h"

void envelope_init(struct envelope *env)
{
	memset(env, 0, sizeof(*env));
}

void envelope_free(struct envelope *env)
{
	free(env->rcpts);
	memset(env, 0, sizeof(*env));
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
	if (strlcpy_checked(r->addr, addr, sizeof(r->addr)) < 0 ||
	    strlcpy_checked(r->orcpt, orcpt ? orcpt : "", sizeof(r->orcpt)) < 0)
		return -1;
	return 0;
}

void envelope_encode(const struct envelope *env, struct ipc_writer *w)
{
	unsigned i;

	ipc_put_str(w, env->id);
	ipc_put_u64(w, env->time);
	ipc_put_str(w, env->sender);
	ipc_put_str(w, env->helo);
	ipc_put_str(w, env->client);
	ipc_put_str(w, env->tls);
	ipc_put_str(w, env->body);
	ipc_put_str(w, env->ret);
	ipc_put_str(w, env->envid);
	ipc_put_u32(w, env->n_rcpts);
	for (i = 0; i < env->n_rcpts; i++) {
		ipc_put_str(w, env->rcpts[i].addr);
		ipc_put_str(w, env->rcpts[i].orcpt);
		ipc_put_u32(w, env->rcpts[i].notify);
	}
}

int envelope_decode(struct envelope *env, struct ipc_reader *r)
{
	char addr[ENVELOPE_ADDR_MAX], orcpt[ENVELOPE_ADDR_MAX];
	uint32_t n, i, notify;

	envelope_init(env);
	ipc_get_str(r, env->id, sizeof(env->id));
	env->time = ipc_get_u64(r);
	ipc_get_str(r, env->sender, sizeof(env->sender));
	ipc_get_str(r, env->helo, sizeof(env->helo));
	ipc_get_str(r, env->client, sizeof(env->client));
	ipc_get_str(r, env->tls, sizeof(env->tls));
	ipc_get_str(r, env->body, sizeof(env->body));
	ipc_get_str(r, env->ret, sizeof(env->ret));
	ipc_get_str(r, env->envid, sizeof(env->envid));
	n = ipc_get_u32(r);
	if (r->error || n == 0 || n > ENVELOPE_MAX_RCPTS)
		return -1;
	for (i = 0; i < n; i++) {
		ipc_get_str(r, addr, sizeof(addr));
		ipc_get_str(r, orcpt, sizeof(orcpt));
		notify = ipc_get_u32(r);
		/* only what the spool file can hold (queue/spool_file.c
		 * reads it back at recovery) */
		if (r->error || notify > ENVELOPE_NOTIFY_ALL ||
		    envelope_add_rcpt(env, addr, notify, orcpt) < 0)
			return -1;
	}
	return ipc_reader_done(r);
}
