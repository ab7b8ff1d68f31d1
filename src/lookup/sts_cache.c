/*
 * sts_cache.c: see sts_cache.h. Each domain in use has an entry: its cached
 * policy (from memory or its file), the lookups waiting while its TXT
 * record is asked and its policy fetched, the last failure (so a broken
 * policy host is not asked again for every message) and the timer that
 * refreshes the policy before it expires. RFC 8461 in short:
 *   - 3.3: with a TXT record but no policy to be had, a valid cached
 *     policy goes on being used; without one, mail goes as if the domain
 *     had no MTA-STS (mode absent, the error kept for TLS-RPT);
 *   - 3.2, 5.1: without a TXT record, a cached unexpired policy is used;
 *   - 5.1: a new id means a new policy; one is refreshed before it expires.
 */
#include "lookup/sts_cache.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dns/dns.h"
#include "dns/sts_fetch.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lookup/sts_cache_private.h"
#include "policy/sts.h"

struct sts_waiter {
	sts_cache_done_fn *done;
	void *arg;
	struct sts_waiter *next;
};

struct sts_entry {
	struct sts_cache *c;
	struct sts_entry *prev, *next; /* most recently used first */
	char domain[STS_HOST_MAX + 1];
	struct sts_policy policy; /* mode ABSENT: nothing cached */
	uint64_t last_used;
	/* the work in progress: a TXT query, then maybe a fetch */
	int busy;
	int refresh;            /* a proactive refresh: fetch even for the same id */
	char txt_id[STS_ID_MAX]; /* the id being fetched */
	struct sts_waiter *waiters, **waiters_tail;
	unsigned n_waiters;
	/* the last failure, not retried for STS_CACHE_RETRY_SECONDS */
	char failed_id[STS_ID_MAX];
	uint64_t failed_at;
	char failed_error[sizeof(((struct sts_policy *)0)->error)];
	struct event *refresh_timer;
};

struct sts_cache {
	struct event_base *base;
	char dir[4200];
	int have_dir;
	unsigned n_files;
	sts_cache_env_fn *env;
	void *env_arg;
	struct sts_fetcher *fetcher;
	struct sts_entry *entries, *oldest;
	unsigned n_entries;
	struct event *prune_timer;
};

static uint64_t sts_now(void)
{
	return now_usec() / 1000000;
}

/* ---- entries ----------------------------------------------------------- */

static void sts_entry_unlink(struct sts_entry *e)
{
	struct sts_cache *c = e->c;

	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		c->entries = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		c->oldest = e->prev;
	e->prev = e->next = NULL;
}

static void sts_entry_push_front(struct sts_entry *e)
{
	struct sts_cache *c = e->c;

	e->next = c->entries;
	e->prev = NULL;
	if (c->entries != NULL)
		c->entries->prev = e;
	c->entries = e;
	if (c->oldest == NULL)
		c->oldest = e;
}

static void sts_entry_free(struct sts_entry *e)
{
	struct sts_waiter *w, *next;

	sts_entry_unlink(e);
	e->c->n_entries--;
	for (w = e->waiters; w != NULL; w = next) {
		next = w->next;
		free(w);
	}
	event_free(e->refresh_timer);
	free(e);
}

/* Makes room for one more entry: the least recently used idle one goes
 * (its file stays). */
static void sts_cache_evict(struct sts_cache *c)
{
	struct sts_entry *e;

	for (e = c->oldest; e != NULL && c->n_entries >= STS_CACHE_ENTRIES_MAX; e = e->prev)
		if (!e->busy) {
			sts_entry_free(e);
			return;
		}
}

static void sts_refresh_cb(evutil_socket_t fd, short what, void *arg);

/* DOMAIN's entry, made (from its file) when there is none. */
static struct sts_entry *sts_entry_get(struct sts_cache *c, const char *domain)
{
	struct sts_entry *e;

	for (e = c->entries; e != NULL; e = e->next)
		if (strcmp(e->domain, domain) == 0) {
			sts_entry_unlink(e);
			sts_entry_push_front(e);
			return e;
		}
	if (c->n_entries >= STS_CACHE_ENTRIES_MAX)
		sts_cache_evict(c);
	e = xcalloc(1, sizeof(*e));
	e->c = c;
	strlcpy_checked(e->domain, domain, sizeof(e->domain));
	e->waiters_tail = &e->waiters;
	e->refresh_timer = evtimer_new(c->base, sts_refresh_cb, e);
	if (c->have_dir)
		(void)sts_cache_file_load(c->dir, domain, &e->policy);
	c->n_entries++;
	sts_entry_push_front(e);
	return e;
}

/* ---- answers ----------------------------------------------------------- */

/* What the entry says now: its cached policy while valid, else absent
 * with ERROR (a reason for TLS-RPT when the domain has a TXT record). */
static void sts_entry_current(const struct sts_entry *e, const char *error, struct sts_policy *out)
{
	if (sts_policy_valid_at(&e->policy, sts_now())) {
		*out = e->policy;
		out->error[0] = '\0';
		return;
	}
	memset(out, 0, sizeof(*out));
	strlcpy_checked(out->error, error, sizeof(out->error));
}

/* Ends the entry's work: answers its waiters with what it says now. */
static void sts_entry_finish(struct sts_entry *e, const char *error)
{
	struct sts_waiter *w = e->waiters, *next;
	struct sts_policy p;

	sts_entry_current(e, error, &p);
	e->waiters = NULL;
	e->waiters_tail = &e->waiters;
	e->n_waiters = 0;
	e->busy = 0;
	e->refresh = 0;
	for (; w != NULL; w = next) {
		next = w->next;
		w->done(w->arg, &p);
		free(w);
	}
}

/* Arms the proactive refresh of E's policy (RFC 8461 5.1): a quarter of
 * max_age before it expires, at most STS_CACHE_REFRESH_AHEAD_MAX. */
static void sts_entry_schedule_refresh(struct sts_entry *e)
{
	const struct sts_policy *p = &e->policy;
	uint64_t ahead = p->max_age / 4, at, now = sts_now();
	struct timeval tv = {0, 0};

	evtimer_del(e->refresh_timer);
	if (p->mode == STS_MODE_ABSENT || p->max_age == 0)
		return;
	if (ahead > STS_CACHE_REFRESH_AHEAD_MAX)
		ahead = STS_CACHE_REFRESH_AHEAD_MAX;
	at = p->fetched + p->max_age - ahead;
	tv.tv_sec = at > now ? (time_t)(at - now) : 0;
	evtimer_add(e->refresh_timer, &tv);
}

/* ---- the fetch --------------------------------------------------------- */

/* A new policy P for E: kept, written, refreshed in time. */
static void sts_entry_store(struct sts_entry *e, const struct sts_policy *p)
{
	struct sts_cache *c = e->c;
	const char *why;
	char v[300];
	int had_file = e->policy.mode != STS_MODE_ABSENT;

	e->policy = *p;
	e->failed_id[0] = '\0';
	log_info("event=sts-policy domain=%s id=%s mode=%s max_age=%u mx=%u", e->domain, p->id,
	         sts_mode_name(p->mode), p->max_age, p->n_mx);
	sts_entry_schedule_refresh(e);
	if (!c->have_dir)
		return;
	if (!had_file && c->n_files >= STS_CACHE_FILES_MAX)
		c->n_files = sts_cache_file_prune(c->dir, sts_now());
	if (!had_file && c->n_files >= STS_CACHE_FILES_MAX) {
		log_warn("event=sts-cache-full dir=%s files=%u", log_value(c->dir, v, sizeof(v)),
		         c->n_files);
		return;
	}
	if (sts_cache_file_store(c->dir, e->domain, p, &why) < 0)
		log_error("event=sts-cache-error domain=%s reason=\"cannot write: %s\"", e->domain,
		          why);
	else if (!had_file)
		c->n_files++;
}

/* The fetch for E failed with ERROR: remembered, then the waiters get the
 * cached policy if it is still valid (RFC 8461 3.3), else ERROR. */
static void sts_entry_fetch_failed(struct sts_entry *e, const char *error)
{
	char v[400];

	strlcpy_checked(e->failed_id, e->txt_id, sizeof(e->failed_id));
	e->failed_at = sts_now();
	strlcpy_checked(e->failed_error, error, sizeof(e->failed_error));
	log_warn("event=sts-fetch-failed domain=%s id=%s cached=%s reason=%s", e->domain,
	         e->txt_id, sts_policy_valid_at(&e->policy, e->failed_at) ? e->policy.id : "none",
	         log_value(error, v, sizeof(v)));
	if (e->refresh && sts_policy_valid_at(&e->policy, e->failed_at)) {
		/* the refresh is tried again while the cached policy lasts */
		struct timeval tv = {STS_CACHE_RETRY_SECONDS, 0};
		evtimer_add(e->refresh_timer, &tv);
	}
	sts_entry_finish(e, error);
}

static void sts_entry_fetched(void *arg, const struct sts_fetch_result *r)
{
	struct sts_entry *e = arg;
	struct sts_policy p;
	char error[sizeof(p.error)];
	const char *why;
	int rc = sts_policy_from_fetch(r, e->txt_id, sts_now(), &p, &why);

	if (rc == -1) {
		snprintf(error, sizeof(error), "sts-policy-fetch-error: %s", why);
		sts_entry_fetch_failed(e, error);
		return;
	}
	if (rc < 0) {
		snprintf(error, sizeof(error), "sts-policy-invalid: mta-sts.%s: %s", e->domain, why);
		sts_entry_fetch_failed(e, error);
		return;
	}
	sts_entry_store(e, &p);
	sts_entry_finish(e, "");
}

static void sts_entry_fetch(struct sts_entry *e)
{
	struct sts_cache_env env = {.dns = NULL, .ca_file = ""};

	if (e->c->fetcher == NULL) {
		sts_entry_fetch_failed(e, "sts-policy-fetch-error: libcurl cannot be started");
		return;
	}
	e->c->env(e->c->env_arg, &env);
	sts_fetch(e->c->fetcher, env.dns, e->domain, env.ca_file, sts_entry_fetched, e);
}

/* ---- the TXT record ---------------------------------------------------- */

/* Whether the policy is to be fetched for the record's id ID. */
static int sts_entry_wants_fetch(const struct sts_entry *e, const char *id, uint64_t now)
{
	const struct sts_policy *p = &e->policy;

	if (!sts_policy_valid_at(p, now) || strcmp(p->id, id) != 0 || e->refresh)
		return 1;
	/* RFC 8461 5: a policy is checked again before mail bounces for it;
	 * each retry sees one at most this old */
	return now - p->fetched >= STS_CACHE_RECHECK_SECONDS;
}

/* The _mta-sts.DOMAIN answer: its one "v=STSv1" record's id (RFC 8461 3.1)
 * into ID, or -1 when there is none (no policy, or a TXT failure). */
static int sts_txt_id(const struct dns_txt_answer *a, char *id, size_t size)
{
	const char *why;
	int i;

	if (a->failed || a->status == DNSSEC_BOGUS || a->n == 0)
		return -1;
	i = sts_txt_select(a->txt, a->n, &why);
	if (i < 0 || strlen(a->txt[i]) != a->len[i])
		return -1;
	return sts_txt_parse(a->txt[i], id, size, &why);
}

static void sts_entry_txt_done(void *arg, const struct dns_txt_answer *a)
{
	struct sts_entry *e = arg;
	uint64_t now = sts_now();
	char id[STS_ID_MAX];

	if (sts_txt_id(a, id, sizeof(id)) < 0) {
		/* RFC 8461 3.2, 5.1: no record, yet a cached policy stays in use
		 * until it expires */
		sts_entry_finish(e, "");
		return;
	}
	if (!sts_entry_wants_fetch(e, id, now)) {
		sts_entry_finish(e, "");
		return;
	}
	strlcpy_checked(e->txt_id, id, sizeof(e->txt_id));
	if (strcmp(e->failed_id, id) == 0 && now < e->failed_at + STS_CACHE_RETRY_SECONDS) {
		sts_entry_finish(e, e->failed_error);
		return;
	}
	sts_entry_fetch(e);
}

/* Starts E's work: the TXT query, then what it calls for. */
static void sts_entry_start(struct sts_entry *e)
{
	struct sts_cache_env env = {.dns = NULL, .ca_file = ""};
	char name[STS_HOST_MAX + 16];

	e->busy = 1;
	e->c->env(e->c->env_arg, &env);
	if (env.dns == NULL) {
		sts_entry_finish(e, "");
		return;
	}
	snprintf(name, sizeof(name), "_mta-sts.%s", e->domain);
	dns_txt(env.dns, name, sts_entry_txt_done, e);
}

static void sts_refresh_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sts_entry *e = arg;
	uint64_t now = sts_now();

	/* only while the domain is in use: once after its last lookup */
	if (e->busy || now - e->last_used > e->policy.max_age)
		return;
	log_info("event=sts-refresh domain=%s id=%s", e->domain, e->policy.id);
	e->refresh = 1;
	sts_entry_start(e);
}

void sts_cache_lookup(struct sts_cache *c, const char *domain, sts_cache_done_fn *done, void *arg)
{
	char name[STS_HOST_MAX + 2];
	struct sts_waiter *w;
	struct sts_entry *e;
	size_t n;

	strlcpy_checked(name, domain, sizeof(name));
	str_lower(name);
	n = strlen(name);
	if (n > 0 && name[n - 1] == '.')
		name[n - 1] = '\0';
	if (!sts_host_valid(name)) {
		struct sts_policy none = {.mode = STS_MODE_ABSENT};
		done(arg, &none);
		return;
	}
	e = sts_entry_get(c, name);
	e->last_used = sts_now();
	if (e->busy && e->n_waiters >= STS_CACHE_WAITERS_MAX) {
		struct sts_policy p;
		sts_entry_current(e, e->failed_error, &p);
		done(arg, &p);
		return;
	}
	w = xcalloc(1, sizeof(*w));
	w->done = done;
	w->arg = arg;
	*e->waiters_tail = w;
	e->waiters_tail = &w->next;
	e->n_waiters++;
	if (!e->busy)
		sts_entry_start(e);
}

/* ---- the cache --------------------------------------------------------- */

static void sts_prune_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sts_cache *c = arg;
	struct timeval tv = {STS_CACHE_PRUNE_SECONDS, 0};

	c->n_files = sts_cache_file_prune(c->dir, sts_now());
	evtimer_add(c->prune_timer, &tv);
}

struct sts_cache *sts_cache_new(struct event_base *base, const char *dir, sts_cache_env_fn *env,
                                void *env_arg)
{
	struct sts_cache *c = xcalloc(1, sizeof(*c));
	char v[300];

	c->base = base;
	c->env = env;
	c->env_arg = env_arg;
	c->fetcher = sts_fetcher_new(base);
	strlcpy_checked(c->dir, dir, sizeof(c->dir));
	if (dir[0] != '\0' && (mkdir_p(dir, 0700) == 0)) {
		c->have_dir = 1;
		c->prune_timer = evtimer_new(base, sts_prune_cb, c);
		sts_prune_cb(-1, 0, c);
	} else {
		log_error("event=sts-cache-error dir=%s reason=\"cannot create it; policies are "
		          "kept in memory only\"",
		          log_value(dir, v, sizeof(v)));
	}
	return c;
}

void sts_cache_free(struct sts_cache **cp)
{
	struct sts_cache *c = *cp;

	if (c == NULL)
		return;
	*cp = NULL;
	sts_fetcher_free(&c->fetcher);
	while (c->entries != NULL)
		sts_entry_free(c->entries);
	if (c->prune_timer != NULL)
		event_free(c->prune_timer);
	free(c);
}
