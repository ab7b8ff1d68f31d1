/*
 * mta.c: the SMTP client's entry points (see mta.h), as the dispatcher
 * calls them: mta_new() and mta_free(), mta_submit() that hands a task to
 * its destination, and mta_resolved() that finds the connection a host
 * list is for in the handle table and starts it on its first host; plus
 * the helpers that give a task's recipients their outcome.
 *
 * The rest of the client: destinations and their connections
 * (mta_destination.c), the dialog (mta_session.c), STARTTLS and its policy
 * checks (mta_tls.c); what they share is mta_private.h.
 */
#include "smtp/mta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/handle.h"
#include "lib/util.h"
#include "smtp/mta_private.h"

/* ---- tasks ------------------------------------------------------------------- */

/* Gives every recipient still without an outcome OUTCOME and ST. */
void mta_task_settle_status(struct mta_task *t, enum mta_outcome outcome,
                            const struct delivery_status *st)
{
	unsigned i;

	for (i = 0; i < t->n_rcpts; i++) {
		struct mta_rcpt *r = &t->rcpts[i];
		if (r->status.enhanced[0] != '\0')
			continue;
		r->outcome = outcome;
		r->status = *st;
	}
}

/* The same for a reason of ours: the enhanced code STATUS and TEXT. */
void mta_task_settle(struct mta_task *t, enum mta_outcome outcome, const char *status,
                     const char *text)
{
	struct delivery_status st;

	delivery_status_set(&st, status, 0, text);
	mta_task_settle_status(t, outcome, &st);
}

void mta_task_finish(struct mta *m, struct mta_task *t)
{
	m->env.task_done(m->env.owner, t);
}

/* ---- entry points ------------------------------------------------------------ */

void mta_submit(struct mta *m, struct mta_task *task)
{
	struct mta_dest *d = mta_dest_get(m, task->domain, task->flags & MTA_DEST_FLAGS);

	/* the queue's latest word on the domain's downgrade memory */
	d->seen_level = task->seen_level;
	d->seen_time = task->seen_time;
	task->next = NULL;
	if (d->queue_tail != NULL)
		d->queue_tail->next = task;
	else
		d->queue = task;
	d->queue_tail = task;
	mta_dest_kick(d);
}

/* The report of tasks whose hosts could not be found (RES): a bogus
 * answer is a DNSSEC failure for TLS-RPT (RFC 8460 4.3.2.1). */
static void mta_resolve_failed_report(const struct mta_dest *d,
                                      const struct proto_lookup_hosts_result *res,
                                      struct mta_report *rep)
{
	memset(rep, 0, sizeof(*rep));
	strlcpy_checked(rep->policy, tls_level_name(d->policy.level), sizeof(rep->policy));
	if (res->secure == DNSSEC_BOGUS) {
		strlcpy_checked(rep->rpt_type, "dnssec-invalid", sizeof(rep->rpt_type));
		strlcpy_checked(rep->rpt_policy, "tlsa", sizeof(rep->rpt_policy));
	}
}

/* Takes the lookup role's answer (IMSG_LOOKUP_HOSTS_RESULT, decoded by
 * the dispatcher). */
void mta_resolved(struct mta *m, uint64_t handle, const struct proto_lookup_hosts_result *res)
{
	struct mta_session *s = handle_table_get(&m->sessions, handle);
	const char *error = res->error;
	char status_text[400];
	uint32_t status = res->status;
	struct mta_report rep;

	if (s == NULL || s->state != MTA_STATE_RESOLVING)
		return;
	mta_session_set_hosts(s, res);
	if (status == LOOKUP_HOSTS_OK && s->n_hosts > 0) {
		s->cur = 0;
		mta_session_try_host(s);
		return;
	}
	if (status == LOOKUP_HOSTS_NULL_MX || status == LOOKUP_HOSTS_NXDOMAIN) {
		snprintf(status_text, sizeof(status_text), "%s %s",
		         status == LOOKUP_HOSTS_NULL_MX ? "5.1.10" : "5.1.2", error);
		mta_dest_fail_queued(s->dest, MTA_PERMFAIL,
		                     status == LOOKUP_HOSTS_NULL_MX ? "5.1.10" : "5.1.2",
		                     status_text, NULL);
		mta_session_free(s);
		return;
	}
	snprintf(status_text, sizeof(status_text), "4.4.3 %s",
	         error[0] ? error : "host lookup failed");
	mta_resolve_failed_report(s->dest, res, &rep);
	mta_dest_fail_queued(s->dest, MTA_TEMPFAIL, "4.4.3", status_text, &rep);
	mta_session_free(s);
}

struct mta *mta_new(const struct mta_env *env, const char **error_r)
{
	struct mta *m;

	if (env->tls == NULL) {
		*error_r = "no TLS client context";
		return NULL;
	}
	m = xcalloc(1, sizeof(*m));
	m->env = *env;
	return m;
}

void mta_free(struct mta **mp)
{
	struct mta *m = *mp;
	struct mta_dest *d, *dnext;

	if (m == NULL)
		return;
	*mp = NULL;
	m->closing = 1;
	for (d = m->dests; d != NULL; d = dnext) {
		dnext = d->next;
		while (d->sessions != NULL)
			mta_session_free(d->sessions);
		mta_dest_fail_queued(d, MTA_TEMPFAIL, "4.3.2", "4.3.2 delivery process stopping",
		                     NULL);
		free(d);
	}
	handle_table_free(&m->sessions);
	free(m);
}

unsigned mta_busy(const struct mta *m)
{
	const struct mta_dest *d;
	unsigned n = 0;

	for (d = m->dests; d != NULL; d = d->next)
		n += d->n_sessions + (d->queue != NULL);
	return n;
}
