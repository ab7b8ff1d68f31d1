/*
 * fuzz_ipc_lookup.c: libFuzzer harness for what the lookup role
 * (lookup/lookup.c) takes from others: from a dispatcher, IMSG_LOOKUP_RCPT
 * (lookup_handle_rcpt), IMSG_AUTH_CHECK (lookup_handle_auth) and
 * IMSG_LOOKUP_HOSTS (lookup_handle_hosts); from the parent,
 * IMSG_CTL_ADD_CHANNEL, IMSG_CTL_CONFIG, IMSG_CTL_USERS and
 * IMSG_CTL_ALIASES (lookup_file_update: the users and aliases parsers);
 * any other type to either.
 *
 * lookup.c is included whole and its state built as lookup_main builds
 * it, without signals. The password checks and the resolver are fakes
 * that answer one loop turn later (so a dispatcher can hang up while an
 * answer is outstanding): a password is right when it is "secret"; a
 * name starting with "nx" does not exist, one starting with "fail" gives
 * a server failure, any other has two hosts. The dispatcher is a channel
 * whose far end the harness reads and drops.
 *
 * Input: records as fuzz_ipc_input.h describes. Targets: 0 the dispatcher
 * peer's handler, 1 the parent's handler (an fd is a socket pair's end: a
 * new dispatcher that hangs up at once), 2 the dispatcher hangs up and a
 * new one joins, 3 nothing (the loop turns only). ID modes do not apply:
 * IDs are the dispatcher's to choose.
 */
#include "../../src/lookup/lookup.c"

#include <sys/socket.h>

#include "fuzz_ipc_input.h"

static const char config_text[] = "[server]\n"
                                  "hostname = mx.local.test\n"
                                  "local_domains = local.test\n"
                                  "[listen mx]\n"
                                  "address = 127.0.0.1:2525\n"
                                  "tls = none\n";

static struct config cfg;
static struct event_base *fake_base; /* where the fakes answer */

/* ---- the fake password thread and resolver -------------------------------- */

/* The password checks and the throttle (auth/auth_service.h) are faked:
 * what the lookup role takes from a dispatcher is decoded before them, and
 * they are tested on their own (tests/unit/test_throttle.c, test_password.c). */
struct auth_service {
	int unused;
};

struct fake_auth {
	auth_done_fn *done;
	void *arg;
	enum auth_outcome outcome;
};

static struct auth_service fake_auth_service;

struct auth_service *auth_service_new(struct event_base *base)
{
	return &fake_auth_service;
}

void auth_service_users_changed(struct auth_service *svc, const char *const *hashes, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		CHECK(hashes[i] != NULL);
}

static void fake_auth_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fake_auth *v = arg;

	v->done(v->arg, v->outcome);
	free(v);
}

void auth_service_check(struct auth_service *svc, const struct throttle_limits *limits,
                        const struct auth_attempt *attempt, auth_done_fn *done, void *arg)
{
	struct fake_auth *v = xcalloc(1, sizeof(*v));

	CHECK(attempt->client != NULL && attempt->user != NULL && attempt->password != NULL);
	v->done = done;
	v->arg = arg;
	v->outcome = attempt->hash != NULL && strcmp(attempt->password, "secret") == 0
	                 ? AUTH_OK
	                 : strcmp(attempt->password, "busy") == 0 ? AUTH_TEMPFAIL : AUTH_FAILED;
	CHECK(event_base_once(fake_base, -1, EV_TIMEOUT, fake_auth_cb, v, NULL) == 0);
}

struct dns_resolver {
	int unused;
};

struct fake_dns {
	dns_done_fn *done;
	void *arg;
	char name[256];
};

struct dns_resolver *dns_resolver_new(struct event_base *base, const char *forwarder,
                                      const char *trust_anchor, const char **error_r)
{
	return xcalloc(1, sizeof(struct dns_resolver));
}

const char *dns_resolver_anchor(const struct dns_resolver *r)
{
	return "";
}

/* TLSA and TXT: none, insecure, at once (their answers have a harness of
 * their own, fuzz_dns). */
void dns_tlsa(struct dns_resolver *r, const char *host, unsigned port, dns_tlsa_fn *done,
              void *arg)
{
	struct dns_tlsa_answer a = {.status = DNSSEC_INSECURE};

	CHECK(r != NULL && strlen(host) < 256);
	done(arg, &a);
}

void dns_txt(struct dns_resolver *r, const char *name, dns_txt_fn *done, void *arg)
{
	struct dns_txt_answer a = {.status = DNSSEC_INSECURE};

	CHECK(r != NULL && strlen(name) < 300);
	done(arg, &a);
}

void dns_resolver_free(struct dns_resolver **r)
{
	free(*r);
	*r = NULL;
}

static void fake_dns_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fake_dns *q = arg;
	struct dns_host hosts[2] = {{.pref = 10}, {.pref = 20}};
	struct dns_answer a = {.status = DNS_OK, .hosts = hosts, .n_hosts = 2};

	snprintf(hosts[0].name, sizeof(hosts[0].name), "mx1.%.200s", q->name);
	snprintf(hosts[0].addr, sizeof(hosts[0].addr), "192.0.2.10");
	snprintf(hosts[1].name, sizeof(hosts[1].name), "mx2.%.200s", q->name);
	snprintf(hosts[1].addr, sizeof(hosts[1].addr), "2001:db8::10");
	if (strncmp(q->name, "nx", 2) == 0 || strncmp(q->name, "fail", 4) == 0) {
		a.status = q->name[0] == 'n' ? DNS_NXDOMAIN : DNS_TEMPFAIL;
		a.n_hosts = 0;
		snprintf(a.error, sizeof(a.error), "fake resolver says no");
	}
	q->done(q->arg, &a);
	free(q);
}

void dns_resolve(struct dns_resolver *r, const char *name, int mx_lookup, dns_done_fn *done,
                 void *arg)
{
	struct fake_dns *q = xcalloc(1, sizeof(*q));

	CHECK(r != NULL && strlen(name) < sizeof(q->name));
	q->done = done;
	q->arg = arg;
	memcpy(q->name, name, strlen(name) + 1);
	CHECK(event_base_once(fake_base, -1, EV_TIMEOUT, fake_dns_cb, q, NULL) == 0);
}

/* ---- the harness ------------------------------------------------------------ */

struct harness {
	struct lookup *l;
	struct ipc_channel *parent;
	int parent_far;
	struct lookup_peer *peer;
	struct ipc_channel *far;
};

static void far_end_handler(struct ipc_channel *ch, uint32_t type, uint64_t id, const void *data,
                            size_t len, int fd, void *arg)
{
	CHECK(fd < 0); /* the lookup role sends no descriptors */
	CHECK(type == IMSG_LOOKUP_RCPT_RESULT || type == IMSG_AUTH_RESULT ||
	      type == IMSG_LOOKUP_HOSTS_RESULT || type == IMSG_LOOKUP_FORGET);
}

static void far_end_closed(struct ipc_channel *ch, void *arg)
{
	abort(); /* the lookup role never hangs up on a dispatcher */
}

static void run_loop(struct harness *h, unsigned turns)
{
	for (unsigned i = 0; i < turns + 1; i++)
		event_base_loop(h->l->base, EVLOOP_NONBLOCK);
}

/* A dispatcher joins, as IMSG_CTL_ADD_CHANNEL makes one join. */
static void peer_join(struct harness *h)
{
	int sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	lookup_parent_handler(h->parent, IMSG_CTL_ADD_CHANNEL, 0, NULL, 0, sv[0], h->l);
	h->peer = h->l->peers;
	h->far = ipc_channel_new(h->l->base, sv[1], far_end_handler, far_end_closed, h);
}

static void peer_leave(struct harness *h)
{
	if (h->peer == NULL)
		return;
	lookup_peer_closed(h->peer->ch, h->peer);
	ipc_channel_free(&h->far);
	h->peer = NULL;
}

static struct lookup *lookup_build(struct harness *h)
{
	struct lookup *l = xcalloc(1, sizeof(*l));
	int sv[2];

	memcpy(&l->cfg, &cfg, sizeof(l->cfg));
	l->base = event_base_new();
	fake_base = l->base;
	l->auth = auth_service_new(l->base);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	h->parent = ipc_channel_new(l->base, sv[0], lookup_parent_handler, lookup_parent_closed, l);
	h->parent_far = sv[1];
	return l;
}

static void lookup_teardown(struct harness *h)
{
	struct lookup *l = h->l;

	run_loop(h, 2); /* the fakes' answers */
	peer_leave(h);
	while (l->peers != NULL)
		lookup_peer_closed(l->peers->ch, l->peers);
	if (l->users_loaded)
		users_db_free(&l->users);
	if (l->aliases_loaded)
		aliases_free(&l->aliases);
	dns_resolver_free(&l->dns);
	ipc_channel_free(&h->parent);
	close(h->parent_far);
	event_base_free(l->base);
	free(l);
}

static void parent_message(struct harness *h, const struct fuzz_record *rec)
{
	int fd = -1;

	if (FUZZ_OP_FD(rec->op)) {
		int sv[2];
		CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
		close(sv[1]);
		fd = sv[0];
	}
	lookup_parent_handler(h->parent, rec->type, rec->id, rec->payload, rec->len, fd, h->l);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char *errors = NULL;

	if (getenv("FUZZ_LOGS") == NULL) /* FUZZ_LOGS=1 shows what the seeds reach */
		fuzz_quiet_logs();
	signal(SIGPIPE, SIG_IGN);
	if (config_load_string(&cfg, "fuzz.conf", config_text, &errors) < 0) {
		(void)!write(2, errors, strlen(errors));
		abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {data, size};
	struct harness h = {0};
	struct fuzz_record rec;

	h.l = lookup_build(&h);
	peer_join(&h);
	while (fuzz_next_record(&in, &rec)) {
		int fd = -1;

		switch (FUZZ_OP_TARGET(rec.op)) {
		case 0:
			if (h.peer == NULL)
				break;
			if (FUZZ_OP_FD(rec.op))
				fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
			lookup_peer_handler(h.peer->ch, rec.type, rec.id, rec.payload, rec.len, fd,
			                    h.peer);
			break;
		case 1:
			parent_message(&h, &rec);
			break;
		case 2:
			peer_leave(&h);
			peer_join(&h);
			break;
		default:
			break;
		}
		run_loop(&h, FUZZ_OP_TURNS(rec.op));
	}
	lookup_teardown(&h);
	return 0;
}
