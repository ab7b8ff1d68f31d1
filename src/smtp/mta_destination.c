/*
 * mta_destination.c: the SMTP client's destinations (one per domain, with
 * its TLS policy and route, its queue of tasks and its connections) and the
 * life of a connection around the dialog: opened when tasks wait
 * (mta_dest_kick), given its host list by the lookup role, moved to the
 * next host when one fails, kept idle a few seconds for the next task,
 * freed from the event loop. Called by mta.c (submit, resolved, free) and
 * by the dialog (mta_session.c, mta_tls.c) when a host fails or a
 * connection ends.
 */
#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conf/config.h"
#include "lib/handle.h"
#include "lib/io.h"
#include "lib/log.h"
#include "lib/util.h"
#include "policy/policy.h"
#include "smtp/mta_policy.h"
#include "smtp/mta_private.h"

static void mta_session_new(struct mta_dest *d);
static void mta_dest_remove(struct mta *m, struct mta_dest *d);

/* ---- destinations ------------------------------------------------------------ */

/* Fails every queued task of DEST with TEXT (the destination cannot be
 * reached: they would fail alike). */
void mta_dest_fail_queued(struct mta_dest *d, enum mta_outcome outcome, const char *status,
                          const char *text, const struct mta_report *rep)
{
	struct mta_task *t;

	while ((t = d->queue) != NULL) {
		d->queue = t->next;
		if (rep != NULL)
			t->report = *rep;
		else
			strlcpy_checked(t->report.policy, tls_level_name(d->policy.level),
			                sizeof(t->report.policy));
		mta_task_settle(t, outcome, status, text);
		mta_task_finish(d->mta, t);
	}
	d->queue_tail = NULL;
}

uint16_t mta_dest_port(const struct mta_dest *d)
{
	const struct config *cfg = d->mta->env.cfg;

	return d->route.host[0] != '\0' ? d->route.port : cfg->outbound_port;
}

static void mta_dest_remove_session(struct mta_dest *d, struct mta_session *s)
{
	struct mta_session **pp;

	for (pp = &d->sessions; *pp != NULL; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			d->n_sessions--;
			return;
		}
}

/* Gives waiting tasks to idle connections, and opens a new connection
 * when more tasks wait than connections are being set up. */
void mta_dest_kick(struct mta_dest *d)
{
	unsigned waiting = 0, opening = 0;
	struct mta_session *s;
	struct mta_task *t;

	for (s = d->sessions; s != NULL && d->queue != NULL; s = s->next)
		if (s->state == MTA_STATE_READY && s->task == NULL)
			mta_session_start_task(s);
	for (t = d->queue; t != NULL; t = t->next)
		waiting++;
	for (s = d->sessions; s != NULL; s = s->next)
		opening += s->state < MTA_STATE_READY;
	if (waiting > opening && d->n_sessions < MTA_MAX_SESSIONS)
		mta_session_new(d);
}

static void mta_dest_remove(struct mta *m, struct mta_dest *d)
{
	struct mta_dest **pp;

	for (pp = &m->dests; *pp != NULL; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			free(d);
			return;
		}
}

struct mta_dest *mta_dest_get(struct mta *m, const char *domain, uint32_t flags)
{
	struct outbound_policy view;
	struct mta_dest *d;

	for (d = m->dests; d != NULL; d = d->next)
		if (strcmp(d->domain, domain) == 0 && d->flags == flags)
			return d;
	d = xcalloc(1, sizeof(*d));
	d->mta = m;
	d->flags = flags;
	strlcpy_checked(d->domain, domain, sizeof(d->domain));
	mta_policy_view(m->env.cfg, &view);
	tls_policy_for_domain(&view, domain, &d->policy);
	tls_route_for_domain(&view, domain, &d->route);
	mta_policy_view_free(&view);
	d->next = m->dests;
	m->dests = d;
	return d;
}

/* ---- the host list ----------------------------------------------------------- */

int mta_host_sockaddr(const struct mta_host *h, uint16_t port, struct sockaddr_storage *ss,
                      socklen_t *len)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, h->addr, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		*len = sizeof(*in);
		return 0;
	}
	if (inet_pton(AF_INET6, h->addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return 0;
	}
	return -1;
}

/* Drops the current connection, if any. */
void mta_session_disconnect(struct mta_session *s)
{
	io_free(&s->io);
}

/* 1 when the server is at a point of the dialog where it reads a command:
 * past the greeting, and not inside a TLS handshake that did not finish. */
static int mta_session_can_quit(const struct mta_session *s)
{
	if (s->io == NULL || s->state < MTA_STATE_GREETING)
		return 0;
	return s->state != MTA_STATE_HANDSHAKE || s->tls_active;
}

/* Leaves the current host after a policy failure: QUIT (RFC 5321 4.1.1.10),
 * then a clean close (close_notify when TLS is up); dropped outright when
 * the dialog is not at a command. */
void mta_session_quit_host(struct mta_session *s)
{
	if (!mta_session_can_quit(s)) {
		mta_session_disconnect(s);
		return;
	}
	mta_send(s, "QUIT");
	io_close(&s->io);
}

/* The current host cannot be used for REASON: a TLS policy failure
 * (POLICY, MTA_POLICY_STATUS) or a host that cannot be reached (4.4.1). */
void mta_session_next_host(struct mta_session *s, const char *reason, int policy)
{
	mta_session_host_failed(s, policy ? MTA_POLICY_STATUS : "4.4.1", reason, policy);
}

/* Gives up on the destination for now: the task in progress and every
 * queued one get OUTCOME, STATUS and REASON, with the report of the last
 * failure; the connection goes. */
void mta_session_give_up(struct mta_session *s, enum mta_outcome outcome, const char *status,
                         const char *reason)
{
	struct mta_report rep;

	memset(&rep, 0, sizeof(rep));
	mta_tls_report_failure(s, &rep);
	if (s->task != NULL) {
		s->task->report = rep;
		mta_task_settle(s->task, outcome, status, reason);
		mta_task_finish(s->mta, s->task);
		s->task = NULL;
	}
	mta_dest_fail_queued(s->dest, outcome, status, reason, &rep);
	mta_session_free(s);
}

/* The current host cannot be used: try the next candidate, or, when none
 * is left, fail the task (and what else waits for this destination) with
 * the enhanced code STATUS and REASON. */
void mta_session_host_failed(struct mta_session *s, const char *status, const char *reason,
                             int policy)
{
	log_info("event=mta-host-failed domain=%s relay=%s reason=\"%s\"", s->dest->domain,
	         s->relay[0] ? s->relay : "none", reason);
	if (policy)
		mta_session_quit_host(s);
	else
		mta_session_disconnect(s);
	strlcpy_checked(s->last_error, reason, sizeof(s->last_error));
	if (s->cur < s->n_hosts) {
		strlcpy_checked(s->fail_mx, s->hosts[s->cur].name, sizeof(s->fail_mx));
		strlcpy_checked(s->fail_ip, s->hosts[s->cur].addr, sizeof(s->fail_ip));
	}
	s->policy_failed = policy;
	if (policy)
		s->hosts_policy_failed++;
	else
		s->hosts_other_failed++;
	s->plaintext_fallback = 0;
	if (++s->cur < s->n_hosts) {
		mta_session_try_host(s);
		return;
	}
	mta_session_give_up(s, MTA_TEMPFAIL, status, reason);
}

void mta_session_try_host(struct mta_session *s)
{
	char why[1024];

	for (; s->cur < s->n_hosts; s->cur++) {
		const struct mta_host *h = &s->hosts[s->cur];
		mta_tls_decide(s);
		if (!s->dec.skip) {
			mta_session_connect(s);
			return;
		}
		/* RFC 7672 2.2, RFC 8461 4.2: this host may not be used */
		snprintf(s->relay, sizeof(s->relay), "%s[%s]:%u", h->name, h->addr,
		         mta_dest_port(s->dest));
		mta_policy_error(s, why, sizeof(why), s->dec.skip_reason);
		log_info("event=mta-host-skipped domain=%s relay=%s policy=%s/%s reason=\"%s\"",
		         s->dest->domain, s->relay, tls_level_name(s->dec.level), s->dec.source,
		         s->dec.skip_reason);
		strlcpy_checked(s->last_error, why, sizeof(s->last_error));
		strlcpy_checked(s->rpt_type, s->dec.skip_rpt, sizeof(s->rpt_type));
		strlcpy_checked(s->fail_mx, h->name, sizeof(s->fail_mx));
		strlcpy_checked(s->fail_ip, h->addr, sizeof(s->fail_ip));
		s->policy_failed = 1;
		s->hosts_policy_failed++;
	}
	if (s->dec.requiretls && s->hosts_other_failed == 0) {
		/* RFC 8689 4.2.1: no host can meet REQUIRETLS: returned now */
		snprintf(why, sizeof(why), "5.7.30 REQUIRETLS: no host of %s can be used: %s",
		         s->dest->domain, s->dec.skip_reason);
		mta_session_give_up(s, MTA_PERMFAIL, "5.7.30", why);
		return;
	}
	mta_session_give_up(s, MTA_TEMPFAIL, MTA_POLICY_STATUS, s->last_error);
}

void mta_session_set_hosts(struct mta_session *s, const struct proto_lookup_hosts_result *res)
{
	unsigned i;

	for (i = 0; i < res->n_hosts && s->n_hosts < MTA_MAX_HOSTS; i++) {
		const struct proto_host *p = &res->hosts[i];
		struct mta_host *h = &s->hosts[s->n_hosts++];
		strlcpy_checked(h->name, p->name, sizeof(h->name));
		h->pref = p->pref;
		strlcpy_checked(h->addr, p->addr, sizeof(h->addr));
		h->secure = p->secure;
		h->tlsa_status = p->tlsa_status;
		h->n_tlsa = p->n_tlsa < TLSA_MAX ? p->n_tlsa : TLSA_MAX;
		if (h->n_tlsa > 0) {
			h->tlsa = xcalloc(h->n_tlsa, sizeof(h->tlsa[0]));
			memcpy(h->tlsa, p->tlsa, h->n_tlsa * sizeof(h->tlsa[0]));
		}
	}
	s->mx_status = res->secure;
	s->sts = res->sts;
	strlcpy_checked(s->rua, res->rua, sizeof(s->rua));
}

/* ---- connections: new, idle, freed ------------------------------------------- */

static void mta_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mta_session *s = arg;

	if (s->task != NULL || s->state != MTA_STATE_READY)
		return;
	mta_session_enter_state(s, MTA_STATE_QUIT);
}

static void mta_session_release_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mta_session *s = arg;

	event_free(s->ev_free);
	free(s);
}

void mta_session_free(struct mta_session *s)
{
	struct mta *m = s->mta;
	struct mta_dest *d = s->dest;

	if (s->closed)
		return;
	for (unsigned i = 0; i < s->n_hosts; i++) {
		free(s->hosts[i].tlsa);
		s->hosts[i].tlsa = NULL;
	}
	if (s->task != NULL) {
		mta_task_settle(s->task, MTA_TEMPFAIL, "4.4.2", "4.4.2 delivery interrupted");
		mta_task_finish(m, s->task);
	}
	/* QUIT answered, or nothing more to say: close_notify for TLS */
	if (m->closing)
		io_free(&s->io);
	else
		io_close(&s->io);
	event_free(s->ev_idle);
	s->ev_idle = NULL;
	handle_table_remove(&m->sessions, s->handle);
	mta_dest_remove_session(d, s);
	s->closed = 1;
	s->task = NULL;
	/* Handlers that led here may still read the struct on their way out:
	 * it is freed from the event loop, not now. */
	if (m->closing) {
		event_free(s->ev_free);
		free(s);
	} else {
		event_active(s->ev_free, 0, 0);
	}
	/* Tasks left waiting get a new connection; a destination with neither
	 * goes (one per domain ever seen would otherwise pile up). */
	if (m->closing)
		return;
	if (d->queue != NULL)
		mta_dest_kick(d);
	else if (d->n_sessions == 0)
		mta_dest_remove(m, d);
}

/* Asks the lookup role for the candidate hosts of a new connection, with
 * what the destination publishes (TLSA at the port connected to, RFC 7672
 * 2.2.3; MTA-STS; TLS-RPT). */
static void mta_session_resolve(struct mta_session *s)
{
	const struct tls_route *route = &s->dest->route;
	unsigned port = mta_dest_port(s->dest);

	mta_session_enter_state(s, MTA_STATE_RESOLVING);
	if (route->host[0] != '\0')
		s->mta->env.resolve(s->mta->env.owner, s->handle, route->host, route->mx_lookup,
		                    port, PROTO_LOOKUP_TLSA);
	else
		s->mta->env.resolve(s->mta->env.owner, s->handle, s->dest->domain, 1, port,
		                    PROTO_LOOKUP_TLSA | PROTO_LOOKUP_DOMAIN);
}

static void mta_session_new(struct mta_dest *d)
{
	struct mta *m = d->mta;
	struct mta_session *s = xcalloc(1, sizeof(*s));

	s->handle = handle_table_add(&m->sessions, s);
	s->mta = m;
	s->dest = d;
	s->ev_idle = evtimer_new(m->env.base, mta_idle_cb, s);
	s->ev_free = event_new(m->env.base, -1, 0, mta_session_release_cb, s);
	s->next = d->sessions;
	d->sessions = s;
	d->n_sessions++;
	mta_session_resolve(s);
}
