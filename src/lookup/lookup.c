/*
 * lookup.c: the lookup role's event loop: recipients (users and aliases),
 * passwords, DNS. The users and aliases files arrive from the parent
 * whenever they change, so edits apply without a restart.
 */
#include "lookup/lookup.h"

#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/config.h"
#include "daemon/proto.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/util.h"
#include "auth/password.h"
#include "auth/verify_worker.h"
#include "lookup/aliases.h"
#include "lookup/dns.h"
#include "lookup/users.h"
#include "mail/envelope.h"

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
	char dummy_hash[256]; /* verified against when the user does not exist */
	struct verify_worker *verify;
	struct dns_resolver *dns;
	char dns_forwarder[128]; /* what dns was made for */
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

	log_warn("event=%s-file-error file=%s line=%u reason=\"%s\"", f->kind, f->path, line,
	         reason);
}

/* IMSG_CTL_USERS / IMSG_CTL_ALIASES: the parent read the file anew (ID 1:
 * it could not, and what was loaded stays). */
static void lookup_file_update(struct lookup *l, uint32_t type, uint64_t id, const char *text,
                               size_t len)
{
	struct lookup_file f = {
	    .kind = type == IMSG_CTL_USERS ? "users" : "aliases",
	    .path = type == IMSG_CTL_USERS ? l->cfg.users : l->cfg.aliases,
	    .l = l,
	};
	char *copy;

	if (id == 1) {
		log_error("event=%s-file-error file=%s reason=\"cannot be read; keeping the "
		          "previous contents\"",
		          f.kind, f.path);
		return;
	}
	copy = xmalloc(len + 1);
	memcpy(copy, text, len);
	copy[len] = '\0';
	if (type == IMSG_CTL_USERS) {
		users_db_free(&l->users);
		users_db_parse(&l->users, copy, lookup_file_warn, &f);
		l->users_loaded = 1;
	} else {
		if (l->aliases_loaded)
			aliases_free(&l->aliases);
		aliases_parse(&l->aliases, copy, lookup_file_warn, &f);
		l->aliases_loaded = 1;
	}
	free(copy);
	log_info("event=%s-loaded file=%s", f.kind, f.path);
	/* dispatchers remember recipients they were told about: not any more */
	for (struct lookup_peer *p = l->peers; p != NULL; p = p->next)
		ipc_send(p->ch, IMSG_LOOKUP_FORGET, 0, NULL, 0, -1);
}

static int lookup_is_user(const char *address, void *arg)
{
	const struct lookup *l = arg;

	return users_db_contains(&l->users, address);
}

/* Where mail for ADDRESS goes: the user itself, or what its alias expands
 * to (logged). *targets_r is malloc'ed, with *n_r strings. */
static enum lookup_result lookup_rcpt(struct lookup *l, const char *address, char ***targets_r,
                                      unsigned *n_r)
{
	const char *at = strrchr(address, '@');
	char v[ENVELOPE_ADDR_MAX + 8], list[2048];
	size_t o = 0;
	unsigned i;
	int r;

	*targets_r = NULL;
	*n_r = 0;
	if (at == NULL || !config_is_local_domain(&l->cfg, at + 1))
		return LOOKUP_NOT_LOCAL;
	if (!l->users_loaded)
		return LOOKUP_TEMPFAIL;
	r = l->aliases_loaded
	        ? aliases_expand(&l->aliases, address, lookup_is_user, l, targets_r, n_r)
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
		          log_value(address, v, sizeof(v)));
		return LOOKUP_TEMPFAIL;
	}
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
	char address[ENVELOPE_ADDR_MAX], **targets = NULL;
	struct ipc_reader r;
	struct ipc_writer w;
	uint32_t result;
	unsigned n = 0, i;

	ipc_reader_init(&r, data, len);
	ipc_get_str(&r, address, sizeof(address));
	result = ipc_reader_done(&r) == 0 ? lookup_rcpt(peer->l, address, &targets, &n)
	                                  : LOOKUP_TEMPFAIL;
	ipc_writer_init(&w);
	ipc_put_u32(&w, result);
	ipc_put_u32(&w, result == LOOKUP_OK ? n : 0);
	for (i = 0; result == LOOKUP_OK && i < n; i++)
		ipc_put_str(&w, targets[i]);
	ipc_send(peer->ch, IMSG_LOOKUP_RCPT_RESULT, id, w.buf, w.len, -1);
	ipc_writer_free(&w);
	lookup_free_strings(targets, n);
}

/* IMSG_AUTH_CHECK. An unknown user costs the same hash computation as a
 * wrong password, so timing does not tell them apart. The answer carries
 * the addresses the user may send as: its own and its exact aliases. */
static void lookup_peer_unref(struct lookup_peer *peer);

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
static void lookup_auth_answer(struct lookup_auth *a, int ok)
{
	struct lookup *l = a->peer->l;
	char **owned = NULL;
	struct ipc_writer w;
	unsigned n = 0, i;

	ok = ok && a->known;
	if (ok && l->aliases_loaded)
		n = aliases_owned_by(&l->aliases, a->user, &owned);
	if (!a->peer->closed) {
		ipc_writer_init(&w);
		ipc_put_u32(&w, (uint32_t)ok);
		ipc_put_u32(&w, !a->has_password);
		ipc_put_str(&w, ok ? a->user : "");
		ipc_put_u32(&w, ok ? n + 1 : 0);
		if (ok)
			ipc_put_str(&w, a->user);
		for (i = 0; ok && i < n; i++)
			ipc_put_str(&w, owned[i]);
		ipc_send(a->peer->ch, IMSG_AUTH_RESULT, a->id, w.buf, w.len, -1);
		ipc_writer_free(&w);
	}
	lookup_free_strings(owned, n);
	lookup_peer_unref(a->peer);
	free(a);
}

static void lookup_auth_verified(void *arg, int ok)
{
	lookup_auth_answer(arg, ok);
}

/* IMSG_AUTH_CHECK. An unknown user costs the same hash computation as a
 * wrong password, so timing does not tell them apart; the computation runs
 * on the password thread. */
static void lookup_handle_auth(struct lookup_peer *peer, uint64_t id, const void *data, size_t len)
{
	struct lookup *l = peer->l;
	struct lookup_auth *a = xcalloc(1, sizeof(*a));
	char password[1024];
	struct ipc_reader r;
	const char *hash;

	a->peer = peer;
	a->id = id;
	peer->refs++;
	ipc_reader_init(&r, data, len);
	ipc_get_str(&r, a->user, sizeof(a->user));
	a->has_password = (int)ipc_get_u32(&r);
	ipc_get_str(&r, password, sizeof(password));
	str_lower(a->user);
	hash =
	    ipc_reader_done(&r) == 0 && l->users_loaded ? users_db_hash(&l->users, a->user) : NULL;
	a->known = hash != NULL;
	if (!a->has_password)
		lookup_auth_answer(a, 1);
	else
		verify_worker_submit(l->verify, password, hash ? hash : l->dummy_hash,
		                     lookup_auth_verified, a);
	explicit_bzero(password, sizeof(password));
}

static void lookup_peer_unref(struct lookup_peer *peer)
{
	if (--peer->refs > 0)
		return;
	ipc_channel_free(&peer->ch);
	free(peer);
}

/* Sends a DNS answer back: u32 status, str error, u32 secure, u32 n, then
 * n x (str host, u32 preference, str address). */
static void lookup_dns_done(void *arg, const struct dns_answer *a)
{
	struct lookup_dns_request *req = arg;
	struct ipc_writer w;
	unsigned i;

	if (!req->peer->closed) {
		ipc_writer_init(&w);
		ipc_put_u32(&w, a->status);
		ipc_put_str(&w, a->error);
		ipc_put_u32(&w, (uint32_t)a->secure);
		ipc_put_u32(&w, a->n_hosts);
		for (i = 0; i < a->n_hosts; i++) {
			ipc_put_str(&w, a->hosts[i].name);
			ipc_put_u32(&w, a->hosts[i].pref);
			ipc_put_str(&w, a->hosts[i].addr);
		}
		ipc_send(req->peer->ch, IMSG_LOOKUP_HOSTS_RESULT, req->id, w.buf, w.len, -1);
		ipc_writer_free(&w);
	}
	lookup_peer_unref(req->peer);
	free(req);
}

/* (Re)creates the resolver when the configured forwarder changed. */
static struct dns_resolver *lookup_resolver(struct lookup *l)
{
	const char *why;

	if (l->dns != NULL && strcmp(l->dns_forwarder, l->cfg.dns_resolver) == 0)
		return l->dns;
	dns_resolver_free(&l->dns);
	l->dns = dns_resolver_new(l->base, l->cfg.dns_resolver, &why);
	if (l->dns == NULL) {
		log_error("event=dns-error reason=\"%s\"", why);
		return NULL;
	}
	strlcpy_checked(l->dns_forwarder, l->cfg.dns_resolver, sizeof(l->dns_forwarder));
	return l->dns;
}

static void lookup_handle_hosts(struct lookup_peer *peer, uint64_t id, const void *data, size_t len)
{
	struct lookup_dns_request *req;
	struct dns_resolver *dns;
	struct ipc_reader r;
	struct dns_answer fail;
	char name[256];
	uint32_t mx;

	ipc_reader_init(&r, data, len);
	ipc_get_str(&r, name, sizeof(name));
	mx = ipc_get_u32(&r);
	req = xcalloc(1, sizeof(*req));
	req->peer = peer;
	req->id = id;
	peer->refs++;
	dns = lookup_resolver(peer->l);
	if (ipc_reader_done(&r) < 0 || dns == NULL) {
		memset(&fail, 0, sizeof(fail));
		fail.status = DNS_TEMPFAIL;
		strlcpy_checked(fail.error, dns ? "malformed request" : "no resolver",
		                sizeof(fail.error));
		lookup_dns_done(req, &fail);
		return;
	}
	dns_resolve(dns, name, (int)mx, lookup_dns_done, req);
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

	if (type == IMSG_CTL_ADD_CHANNEL && fd >= 0) {
		struct lookup_peer *peer = xcalloc(1, sizeof(*peer));
		peer->l = l;
		peer->refs = 1;
		peer->ch =
		    ipc_channel_new(l->base, fd, lookup_peer_handler, lookup_peer_closed, peer);
		peer->next = l->peers;
		l->peers = peer;
		return;
	}
	if (type == IMSG_CTL_CONFIG) /* the file's text: parsed here, kept only if good */
		config_reload_message(&l->cfg, data, len);
	if (type == IMSG_CTL_USERS || type == IMSG_CTL_ALIASES)
		lookup_file_update(l, type, id, data, len);
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

int lookup_main(const struct config *cfg, int parent_fd)
{
	struct lookup *l = xcalloc(1, sizeof(*l));
	struct event *ev_term, *ev_int;

	memcpy(&l->cfg, cfg, sizeof(l->cfg));
	l->base = event_base_new();
	{
		const char *why;
		if (password_hash("not a password", l->dummy_hash, sizeof(l->dummy_hash), &why) < 0)
			fatal("event=fatal reason=\"password hashing: %s\"", why);
		l->verify = verify_worker_new(l->base);
	}
	ev_term = evsignal_new(l->base, SIGTERM, lookup_signal_cb, l);
	ev_int = evsignal_new(l->base, SIGINT, lookup_signal_cb, l);
	event_add(ev_term, NULL);
	event_add(ev_int, NULL);
	ipc_channel_new(l->base, parent_fd, lookup_parent_handler, lookup_parent_closed, l);
	event_base_dispatch(l->base);
	return 0;
}
