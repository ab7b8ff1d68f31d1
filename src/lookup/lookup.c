/*
 * lookup.c: the lookup role's event loop: recipients (users and aliases),
 * passwords, DNS. The users and aliases files arrive from the parent
 * whenever they change, so edits apply without a restart.
 */
#include "lookup/lookup.h"

#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/config.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/readiness.h"
#include "lib/util.h"
#include "auth/auth_service.h"
#include "dns/dns.h"
#include "lookup/aliases.h"
#include "lookup/lookup_hosts.h"
#include "lookup/sts_cache.h"
#include "lookup/users.h"
#include "mail/envelope.h"
#include "proto/ctl.h"
#include "proto/lookup.h"

/* IMSG_LOOKUP_HOSTS_RESULT carries the resolver's status as it is. */
_Static_assert((int)DNS_OK == (int)LOOKUP_HOSTS_OK &&
                   (int)DNS_NXDOMAIN == (int)LOOKUP_HOSTS_NXDOMAIN &&
                   (int)DNS_NULL_MX == (int)LOOKUP_HOSTS_NULL_MX &&
                   (int)DNS_TEMPFAIL == (int)LOOKUP_HOSTS_TEMPFAIL,
               "enum dns_status is sent as enum lookup_hosts_status");

struct lookup {
	struct config cfg;
	struct event_base *base;
	struct users_db users;
	int users_loaded;
	struct aliases aliases;
	int aliases_loaded;
	struct auth_service *auth; /* password checks and the failed-login throttle */
	struct dns_resolver *dns;
	char dns_forwarder[128]; /* what dns was made for */
	char dns_anchor[4096];
	struct lookup_hosts_env hosts_env; /* for the host lookups (lookup_hosts.h) */
	struct lookup_peer *peers;
};

/* A dispatcher's channel; kept while DNS answers for it are outstanding. */
struct lookup_peer {
	struct lookup *l;
	struct ipc_channel *ch;
	unsigned refs;
	int closed;
	struct lookup_peer *next; /* in l->peers while open */
};

/* One DNS request on behalf of a dispatcher. */
struct lookup_dns_request {
	struct lookup_peer *peer;
	uint64_t id;
};

/* One of the files the parent sends: what it is, where it came from. */
struct lookup_file {
	const char *kind; /* "users", "aliases" */
	const char *path;
	struct lookup *l;
};

static void lookup_file_warn(unsigned line, const char *reason, void *arg)
{
	const struct lookup_file *f = arg;
	char v[300];

	log_value(reason, v, sizeof(v));
	if (strcmp(f->kind, "users") == 0)
		log_warn("event=users-file-error file=%s line=%u reason=%s", f->path, line, v);
	else
		log_warn("event=aliases-file-error file=%s line=%u reason=%s", f->path, line, v);
}

/* The stand-in hash for unknown users follows the users' own hashes. */
static void lookup_auth_users_changed(struct lookup *l)
{
	const char **hashes = xcalloc(l->users.n + 1, sizeof(char *));
	size_t i;

	for (i = 0; i < l->users.n; i++)
		hashes[i] = users_db_hash(&l->users, l->users.addresses[i]);
	auth_service_users_changed(l->auth, hashes, l->users.n);
	free(hashes);
}

static int lookup_is_user(const char *address, void *arg);
static int lookup_is_local(const char *address, void *arg);

/* qsort() order of two strings. */
static int lookup_strcmp(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* Distinct domains of the users (sorted by address, so not by domain). */
static unsigned lookup_user_domains(const struct users_db *db)
{
	const char **domains = xcalloc(db->n + 1, sizeof(char *));
	unsigned n = 0;
	size_t i;

	for (i = 0; i < db->n; i++) {
		const char *at = strrchr(db->addresses[i], '@');
		domains[i] = at ? at + 1 : "";
	}
	qsort(domains, db->n, sizeof(char *), lookup_strcmp);
	for (i = 0; i < db->n; i++)
		n += i == 0 || strcmp(domains[i], domains[i - 1]) != 0;
	free(domains);
	return n;
}

/* A target of AL that reaches no mailbox, found once both files are in. */
static void lookup_alias_target_warn(const struct alias *al, const char *target, void *arg)
{
	const struct lookup *l = arg;
	char why[1200], v[1300], f[1100];

	snprintf(why, sizeof(why),
	         "alias target <%s> of <%s> is not a user: it gets no mail (add the user or "
	         "change the alias)",
	         target, al->address);
	log_warn("event=aliases-file-error file=%s line=%u reason=%s",
	         log_value(l->cfg.aliases, f, sizeof(f)), al->line, log_value(why, v, sizeof(v)));
}

/* The file of TYPE is loaded: its counts, and the aliases whose targets
 * are not users (again after the users change, as the answer may). */
static void lookup_file_loaded(struct lookup *l, uint32_t type)
{
	size_t i, catch_alls = 0;

	if (type == IMSG_CTL_USERS) {
		log_info("event=users-loaded file=%s users=%zu domains=%u", l->cfg.users,
		         l->users.n, lookup_user_domains(&l->users));
	} else {
		for (i = 0; i < l->aliases.n; i++)
			catch_alls += l->aliases.entries[i].address[0] == '@';
		log_info("event=aliases-loaded file=%s aliases=%zu catch_alls=%zu", l->cfg.aliases,
		         l->aliases.n - catch_alls, catch_alls);
	}
	if (l->users_loaded && l->aliases_loaded)
		aliases_check_targets(&l->aliases, lookup_is_user, lookup_is_local, l,
		                      lookup_alias_target_warn);
}

/* IMSG_CTL_USERS / IMSG_CTL_ALIASES: the parent read the file anew (or
 * could not, and what was loaded stays). */
static void lookup_file_update(struct lookup *l, uint32_t type, const void *data, size_t len)
{
	struct lookup_file f = {
	    .kind = type == IMSG_CTL_USERS ? "users" : "aliases",
	    .path = type == IMSG_CTL_USERS ? l->cfg.users : l->cfg.aliases,
	    .l = l,
	};
	struct proto_ctl_file msg;
	const char *why;
	char *copy;

	if (proto_ctl_file_decode(&msg, data, len, &why) < 0) {
		log_error("event=ipc-error reason=\"%s from the parent\"", why);
		return;
	}
	if (!msg.readable) {
		if (type == IMSG_CTL_USERS)
			log_error("event=users-file-error file=%s reason=\"cannot be read; keeping "
			          "the previous contents\"",
			          f.path);
		else
			log_error(
			    "event=aliases-file-error file=%s reason=\"cannot be read; keeping "
			    "the previous contents\"",
			    f.path);
		return;
	}
	copy = xmalloc(msg.len + 1);
	memcpy(copy, msg.text, msg.len);
	copy[msg.len] = '\0';
	if (type == IMSG_CTL_USERS) {
		users_db_free(&l->users);
		users_db_parse(&l->users, copy, lookup_file_warn, &f);
		lookup_auth_users_changed(l);
		l->users_loaded = 1;
	} else {
		if (l->aliases_loaded)
			aliases_free(&l->aliases);
		aliases_parse(&l->aliases, copy, lookup_file_warn, &f);
		l->aliases_loaded = 1;
	}
	free(copy);
	lookup_file_loaded(l, type);
	/* dispatchers remember recipients they were told about: not any more */
	for (struct lookup_peer *p = l->peers; p != NULL; p = p->next)
		ipc_send(p->ch, IMSG_LOOKUP_FORGET, 0, NULL, 0, -1); /* no payload */
}

static int lookup_is_user(const char *address, void *arg)
{
	const struct lookup *l = arg;

	return users_db_contains(&l->users, address);
}

/* 1 when ADDRESS is in one of our domains. */
static int lookup_is_local(const char *address, void *arg)
{
	const struct lookup *l = arg;
	const char *at = strrchr(address, '@');

	return at != NULL && config_is_local_domain(&l->cfg, at + 1);
}

/* An alias of ADDRESS named targets that reach no mailbox (SKIPPED):
 * logged naming the first, so the administrator learns the cause rather
 * than a loop. */
static void lookup_log_skipped(const struct lookup *l, const char *address,
                               const struct aliases_skipped *skipped, unsigned delivered)
{
	char a[1100], t[1100], by[1100], f[1100];

	log_warn("event=alias-error address=%s alias=%s target=%s file=%s line=%u skipped=%u "
	         "delivered=%u reason=\"alias target is not a user\"",
	         log_address(address, a, sizeof(a)), log_address(skipped->alias, by, sizeof(by)),
	         log_address(skipped->target, t, sizeof(t)),
	         log_value(l->cfg.aliases, f, sizeof(f)), skipped->line, skipped->n, delivered);
}

/* Where mail for ADDRESS goes: the user itself, or what its alias expands
 * to (logged). *targets_r is malloc'ed, with *n_r strings. */
static enum lookup_result lookup_rcpt(struct lookup *l, const char *address, char ***targets_r,
                                      unsigned *n_r)
{
	const char *at = strrchr(address, '@');
	char v[ENVELOPE_ADDR_MAX + 16], list[2048];
	struct aliases_skipped skipped;
	size_t o = 0;
	unsigned i;
	int r;

	*targets_r = NULL;
	*n_r = 0;
	if (at == NULL || !config_is_local_domain(&l->cfg, at + 1))
		return LOOKUP_NOT_LOCAL;
	if (!l->users_loaded)
		return LOOKUP_TEMPFAIL;
	r = l->aliases_loaded ? aliases_expand_local(&l->aliases, address, lookup_is_user,
	                                             lookup_is_local, l, targets_r, n_r, &skipped)
	                      : 1;
	if (r == 1) {
		if (!users_db_contains(&l->users, address))
			return LOOKUP_UNKNOWN_USER;
		*targets_r = xcalloc(1, sizeof(char *));
		(*targets_r)[0] = xstrdup(address);
		*n_r = 1;
		return LOOKUP_OK;
	}
	if (r < 0) {
		log_error("event=alias-error address=%s reason=\"alias loop or too deep\"",
		          log_address(address, v, sizeof(v)));
		return LOOKUP_TEMPFAIL;
	}
	if (skipped.n > 0)
		lookup_log_skipped(l, address, &skipped, *n_r);
	if (*n_r == 0)
		return LOOKUP_UNKNOWN_USER;
	for (i = 0; i < *n_r && o + 1 < sizeof(list); i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s<%s>", i ? "," : "",
		                      (*targets_r)[i]);
	{
		char a[1100], to[sizeof(list) + 64];
		log_info("event=alias-expanded alias=%s to=%s", log_address(address, a, sizeof(a)),
		         log_value(list, to, sizeof(to)));
	}
	return *n_r > 0 ? LOOKUP_OK : LOOKUP_UNKNOWN_USER;
}

static void lookup_free_strings(char **list, unsigned n)
{
	unsigned i;

	for (i = 0; list != NULL && i < n; i++)
		free(list[i]);
	free(list);
}

static void lookup_handle_rcpt(struct lookup_peer *peer, uint64_t id, const void *data, size_t len)
{
	struct proto_lookup_rcpt req;
	struct proto_lookup_rcpt_result res = {.result = LOOKUP_TEMPFAIL};
	char **targets = NULL;
	struct ipc_writer w;
	const char *why;
	unsigned n = 0;

	if (proto_lookup_rcpt_decode(&req, data, len, &why) == 0)
		res.result = lookup_rcpt(peer->l, req.address, &targets, &n);
	if (res.result == LOOKUP_OK)
		res.targets = (struct proto_strings){.v = targets, .n = n};
	ipc_writer_init(&w);
	proto_lookup_rcpt_result_encode(&res, &w);
	proto_send(peer->ch, IMSG_LOOKUP_RCPT_RESULT, id, &w, -1);
	lookup_free_strings(targets, n);
}

static void lookup_peer_unref(struct lookup_peer *peer);

_Static_assert((int)AUTH_FAILED == (int)PROTO_AUTH_FAILED && (int)AUTH_OK == (int)PROTO_AUTH_OK &&
                   (int)AUTH_TEMPFAIL == (int)PROTO_AUTH_TEMPFAIL,
               "enum auth_outcome is sent as enum proto_auth_ok");

/* An AUTH check waiting for the password thread. */
struct lookup_auth {
	struct lookup_peer *peer;
	uint64_t id;
	char user[ENVELOPE_ADDR_MAX];
	int has_password;
	int known; /* the user exists (an unknown one was checked against a dummy) */
};

/* Sends the AUTH answer: u32 ok, u32 by certificate, str user, and the
 * addresses the user may send as (its own and its exact aliases). */
static void lookup_auth_answer(struct lookup_auth *a, enum auth_outcome outcome)
{
	struct lookup *l = a->peer->l;
	char **owned = NULL;
	struct ipc_writer w;
	unsigned n = 0, i;
	int ok = outcome == AUTH_OK && a->known;

	if (ok && l->aliases_loaded)
		n = aliases_owned_by(&l->aliases, a->user, &owned);
	if (!a->peer->closed) {
		struct proto_auth_result res = {.ok = ok ? PROTO_AUTH_OK
		                                      : outcome == AUTH_TEMPFAIL
		                                          ? PROTO_AUTH_TEMPFAIL
		                                          : PROTO_AUTH_FAILED,
		                                .by_certificate = !a->has_password};
		char **may = xcalloc(n + 1, sizeof(char *));
		if (ok) {
			strlcpy_checked(res.user, a->user, sizeof(res.user));
			may[0] = a->user;
			for (i = 0; i < n; i++)
				may[i + 1] = owned[i];
			res.owned = (struct proto_strings){.v = may, .n = n + 1};
		}
		ipc_writer_init(&w);
		proto_auth_result_encode(&res, &w);
		proto_send(a->peer->ch, IMSG_AUTH_RESULT, a->id, &w, -1);
		free(may);
	}
	lookup_free_strings(owned, n);
	lookup_peer_unref(a->peer);
	free(a);
}

static void lookup_auth_checked(void *arg, enum auth_outcome outcome)
{
	lookup_auth_answer(arg, outcome);
}

/* The [submission] limits on failed logins across connections. */
static struct throttle_limits lookup_auth_limits(const struct lookup *l)
{
	return (struct throttle_limits){.per_client = l->cfg.auth_failures_per_client,
	                                .per_account = l->cfg.auth_failures_per_account,
	                                .window = l->cfg.auth_failure_window};
}

/* IMSG_AUTH_CHECK. Every failure costs one hash computation of the same
 * method and cost, known user or not (auth/auth_service.h), on the
 * password thread; a client certificate login needs none. */
static void lookup_handle_auth(struct lookup_peer *peer, uint64_t id, const void *data, size_t len)
{
	struct lookup *l = peer->l;
	struct lookup_auth *a = xcalloc(1, sizeof(*a));
	struct throttle_limits limits = lookup_auth_limits(l);
	struct proto_auth_check req;
	const char *hash = NULL, *why;

	a->peer = peer;
	a->id = id;
	peer->refs++;
	if (proto_auth_check_decode(&req, data, len, &why) == 0) {
		strlcpy_checked(a->user, req.user, sizeof(a->user));
		str_lower(a->user);
		a->has_password = (int)req.has_password;
		hash = l->users_loaded ? users_db_hash(&l->users, a->user) : NULL;
	} else {
		/* refused after the same hash computation as any wrong password */
		memset(&req, 0, sizeof(req));
		a->has_password = 1;
	}
	a->known = hash != NULL;
	if (!a->has_password) {
		lookup_auth_answer(a, AUTH_OK);
	} else {
		struct auth_attempt attempt = {
		    .client = req.client, .user = a->user, .password = req.password, .hash = hash};
		auth_service_check(l->auth, &limits, &attempt, lookup_auth_checked, a);
	}
	explicit_bzero(&req, sizeof(req));
}

static void lookup_peer_unref(struct lookup_peer *peer)
{
	if (--peer->refs > 0)
		return;
	ipc_channel_free(&peer->ch);
	free(peer);
}

/* Sends the host lookup's answer back (proto/lookup.h). */
static void lookup_hosts_answer(void *arg, const struct proto_lookup_hosts_result *res)
{
	struct lookup_dns_request *req = arg;
	struct ipc_writer w;

	if (!req->peer->closed) {
		ipc_writer_init(&w);
		proto_lookup_hosts_result_encode(res, &w);
		proto_send(req->peer->ch, IMSG_LOOKUP_HOSTS_RESULT, req->id, &w, -1);
	}
	lookup_peer_unref(req->peer);
	free(req);
}

/* Makes the resolver the configuration asks for, in place of the one
 * there is. Returns 0, or -1 with *why (the one there is stays). */
static int lookup_resolver_make(struct lookup *l, const char **why)
{
	struct dns_resolver *dns =
	    dns_resolver_new(l->base, l->cfg.dns_resolver, l->cfg.dns_trust_anchor, why);
	struct dns_resolver *old = l->dns;

	if (dns == NULL)
		return -1;
	/* the new one in place first: the old one answers its queries as it
	 * goes ("resolver restarted"), and what they start next goes here */
	l->dns = dns;
	l->hosts_env.dns = dns;
	dns_resolver_free(&old);
	strlcpy_checked(l->dns_forwarder, l->cfg.dns_resolver, sizeof(l->dns_forwarder));
	strlcpy_checked(l->dns_anchor, l->cfg.dns_trust_anchor, sizeof(l->dns_anchor));
	log_info("event=dns-ready resolver=%s trust_anchor=%s",
	         l->cfg.dns_resolver[0] ? l->cfg.dns_resolver : "resolv.conf",
	         dns_resolver_anchor(dns)[0] ? dns_resolver_anchor(dns) : "none");
	return 0;
}

/* The resolver, made anew when the configured forwarder or trust anchor
 * changed (a reload). When the new one cannot be made (an anchor file gone
 * unreadable), the one there is stays, and that is logged. */
static struct dns_resolver *lookup_resolver(struct lookup *l)
{
	const char *why;

	if (l->dns != NULL && strcmp(l->dns_forwarder, l->cfg.dns_resolver) == 0 &&
	    strcmp(l->dns_anchor, l->cfg.dns_trust_anchor) == 0)
		return l->dns;
	if (lookup_resolver_make(l, &why) < 0)
		log_error("event=dns-error reason=\"%s\"%s", why,
		          l->dns ? " keeping=previous-resolver" : "");
	return l->dns;
}

static void lookup_handle_hosts(struct lookup_peer *peer, uint64_t id, const void *data, size_t len)
{
	struct lookup_dns_request *req;
	struct proto_lookup_hosts msg;
	const char *why;
	int ok = proto_lookup_hosts_decode(&msg, data, len, &why) == 0;

	req = xcalloc(1, sizeof(*req));
	req->peer = peer;
	req->id = id;
	peer->refs++;
	if (!ok || lookup_resolver(peer->l) == NULL) {
		struct proto_lookup_hosts_result fail = {.status = LOOKUP_HOSTS_TEMPFAIL};
		strlcpy_checked(fail.error, ok ? "no resolver" : "malformed request",
		                sizeof(fail.error));
		lookup_hosts_answer(req, &fail);
		return;
	}
	lookup_hosts_start(&peer->l->hosts_env, &msg, lookup_hosts_answer, req);
}

static void lookup_peer_handler(struct ipc_channel *ch, uint32_t type, uint64_t id,
                                const void *data, size_t len, int fd, void *arg)
{
	struct lookup_peer *peer = arg;

	if (fd >= 0)
		close(fd);
	if (type == IMSG_LOOKUP_HOSTS) {
		lookup_handle_hosts(peer, id, data, len);
		return;
	}
	if (type == IMSG_LOOKUP_RCPT)
		lookup_handle_rcpt(peer, id, data, len);
	else if (type == IMSG_AUTH_CHECK)
		lookup_handle_auth(peer, id, data, len);
	else
		log_error("event=ipc-error reason=\"unexpected message %u from dispatcher\"", type);
}

static void lookup_peer_closed(struct ipc_channel *ch, void *arg)
{
	struct lookup_peer *peer = arg, **pp;

	for (pp = &peer->l->peers; *pp != NULL; pp = &(*pp)->next)
		if (*pp == peer) {
			*pp = peer->next;
			break;
		}
	peer->closed = 1;
	lookup_peer_unref(peer);
}

static void lookup_parent_handler(struct ipc_channel *ch, uint32_t type, uint64_t id,
                                  const void *data, size_t len, int fd, void *arg)
{
	struct lookup *l = arg;
	struct proto_ctl_config cfg_msg;
	const char *why;

	if (type == IMSG_CTL_ADD_CHANNEL && fd >= 0 &&
	    proto_ctl_add_channel_decode(data, len, &why) == 0) {
		struct lookup_peer *peer = xcalloc(1, sizeof(*peer));
		peer->l = l;
		peer->refs = 1;
		peer->ch =
		    ipc_channel_new(l->base, fd, lookup_peer_handler, lookup_peer_closed, peer);
		peer->next = l->peers;
		l->peers = peer;
		return;
	}
	/* the file's text: parsed here, kept only if good */
	if (type == IMSG_CTL_CONFIG && proto_ctl_config_decode(&cfg_msg, data, len, &why) == 0)
		config_reload_text(&l->cfg, cfg_msg.path, cfg_msg.text, cfg_msg.text_len);
	else if (type == IMSG_CTL_CONFIG)
		log_error("event=reload-failed reason=\"%s\"", why);
	if (type == IMSG_CTL_USERS || type == IMSG_CTL_ALIASES)
		lookup_file_update(l, type, data, len);
	if (fd >= 0)
		close(fd);
}

static void lookup_parent_closed(struct ipc_channel *ch, void *arg)
{
	struct lookup *l = arg;

	event_base_loopexit(l->base, NULL);
}

static void lookup_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct lookup *l = arg;

	event_base_loopexit(l->base, NULL);
}

/* What an MTA-STS fetch uses now: the resolver and [outbound] sts_ca_file,
 * else ca_file, else the system store. The resolver as it is, never made
 * anew here: this is called from within the resolver's own TXT callback,
 * and freeing it there would free what is calling back (the host lookup
 * that led here called lookup_resolver() already). */
static void lookup_sts_env(void *arg, struct sts_cache_env *env)
{
	struct lookup *l = arg;

	env->dns = l->dns;
	env->ca_file = l->cfg.outbound_sts_ca_file[0] ? l->cfg.outbound_sts_ca_file
	                                               : l->cfg.outbound_ca_file;
}

int lookup_main(const struct config *cfg, int parent_fd)
{
	struct lookup *l = xcalloc(1, sizeof(*l));
	struct event *ev_term, *ev_int;
	char sts_dir[sizeof(cfg->data_dir) + 8];
	const char *why;

	memcpy(&l->cfg, cfg, sizeof(l->cfg));
	l->base = event_base_new();
	l->auth = auth_service_new(l->base);
	ev_term = evsignal_new(l->base, SIGTERM, lookup_signal_cb, l);
	ev_int = evsignal_new(l->base, SIGINT, lookup_signal_cb, l);
	event_add(ev_term, NULL);
	event_add(ev_int, NULL);
	ipc_channel_new(l->base, parent_fd, lookup_parent_handler, lookup_parent_closed, l);
	/* A trust anchor that cannot be read stops the server at start-up
	 * (the parent sees this role exit), naming the file. */
	if (lookup_resolver_make(l, &why) < 0)
		fatal("event=fatal reason=\"[dns] %s\"", why);
	snprintf(sts_dir, sizeof(sts_dir), "%s/" STS_CACHE_DIR, cfg->data_dir);
	l->hosts_env.sts = sts_cache_new(l->base, sts_dir, lookup_sts_env, l);
	readiness_report(); /* the parent waits for it before READY=1 */
	event_base_dispatch(l->base);
	return 0;
}
