/*
 * dns.c: see dns.h. The resolver (forwarder, trust anchor) and the MX
 * request: one request resolves the MX set, then every exchanger's A and
 * AAAA records in parallel, and answers when the last one is back. TLSA
 * and TXT queries are dns_records.c.
 */
#include "dns/dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unbound.h>
#include <unistd.h>

#include "dns/dns_private.h"
#include "lib/log.h"
#include "lib/util.h"

#define DNS_MAX_EXCHANGERS 16
#define DNS_MAX_ADDRS 8 /* per exchanger and family */

struct dns_exchanger {
	char name[256];
	unsigned pref;
	unsigned order; /* random, to shuffle equal preferences */
	char v4[DNS_MAX_ADDRS][64], v6[DNS_MAX_ADDRS][64];
	unsigned n_v4, n_v6;
	/* what its address answers showed: any insecure, any bogus, any secure */
	int any_insecure, any_bogus, any_secure;
};

struct dns_request {
	struct dns_resolver *resolver;
	char name[256];
	int mx_lookup;
	dns_done_fn *done;
	void *arg;
	struct dns_exchanger ex[DNS_MAX_EXCHANGERS];
	unsigned n_ex;
	unsigned pending;
	uint32_t mx_status; /* enum dnssec_status of the MX answer */
	char error[256];
	int error_bogus; /* ERROR is a DNSSEC failure: it wins over others */
};

uint32_t dns_result_status(const struct ub_result *result)
{
	if (result->bogus)
		return DNSSEC_BOGUS;
	return result->secure ? DNSSEC_SECURE : DNSSEC_INSECURE;
}

void dns_bogus_text(char *buf, size_t size, const char *name, const struct ub_result *result)
{
	snprintf(buf, size, "DNSSEC validation failed for %s: %s", name,
	         result->why_bogus ? result->why_bogus : "bogus answer");
}

/* One query libunbound holds: what to call back with its answer. */
struct dns_outstanding {
	struct dns_outstanding *prev, *next;
	struct dns_resolver *r;
	dns_ub_cb *cb;
	void *arg;
};

const char *dns_strerror(int err)
{
	return err == DNS_ERR_RESTARTED ? "resolver restarted" : ub_strerror(err);
}

static void dns_outstanding_unlink(struct dns_outstanding *o)
{
	if (o->prev != NULL)
		o->prev->next = o->next;
	else
		o->r->outstanding = o->next;
	if (o->next != NULL)
		o->next->prev = o->prev;
}

/* Out of the list, then the caller's callback: it may start queries. */
static void dns_outstanding_answer(struct dns_outstanding *o, int err, struct ub_result *result)
{
	dns_ub_cb *cb = o->cb;
	void *arg = o->arg;

	dns_outstanding_unlink(o);
	free(o);
	cb(arg, err, result);
}

static void dns_outstanding_cb(void *arg, int err, struct ub_result *result)
{
	dns_outstanding_answer(arg, err, result);
}

int dns_query_async(struct dns_resolver *r, const char *name, int type, dns_ub_cb *cb, void *arg)
{
	struct dns_outstanding *o;
	int err;

	if (r->closing)
		return DNS_ERR_RESTARTED;
	o = xcalloc(1, sizeof(*o));
	o->r = r;
	o->cb = cb;
	o->arg = arg;
	o->next = r->outstanding;
	if (o->next != NULL)
		o->next->prev = o;
	r->outstanding = o;
	err = ub_resolve_async(r->ctx, name, type, DNS_CLASS_IN, o, dns_outstanding_cb, NULL);
	if (err != 0) {
		dns_outstanding_unlink(o);
		free(o);
	}
	return err;
}

static void dns_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_resolver *r = arg;

	ub_process(r->ctx);
}

/* "host:port" / "[v6]:port" as unbound's "host@port" into R's context.
 * Returns unbound's error. */
static int dns_set_forwarder(struct dns_resolver *r, const char *forwarder)
{
	const char *colon = strrchr(forwarder, ':');
	const char *host = forwarder;
	size_t hlen = colon ? (size_t)(colon - forwarder) : strlen(forwarder);
	char fwd[160];

	if (forwarder[0] == '[') {
		host++;
		hlen = strcspn(host, "]");
	}
	snprintf(fwd, sizeof(fwd), "%.*s%s%s", (int)hlen, host, colon ? "@" : "",
	         colon ? colon + 1 : "");
	return ub_ctx_set_fwd(r->ctx, fwd);
}

/* Gives R's context the trust anchor: FILE, or the root's when FILE is ""
 * and it exists. Returns 0, or -1 with the reason in BUF. libunbound reads
 * the file only at its first query, so it is opened here to find out
 * whether it can be: a start-up error then names it. */
static int dns_set_anchor(struct dns_resolver *r, const char *file, char *buf, size_t size)
{
	const char *path = file[0] != '\0' ? file : DNS_ROOT_ANCHOR;
	struct stat st;
	FILE *f;
	int err;

	if (file[0] == '\0' && access(path, F_OK) != 0)
		return 0; /* no anchor: nothing validates, every answer is insecure */
	f = fopen(path, "r");
	if (f == NULL || fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > DNS_TRUST_ANCHOR_MAX) {
		snprintf(buf, size, "trust_anchor %s: %s", path,
		         f == NULL              ? strerror(errno)
		         : !S_ISREG(st.st_mode) ? "not a regular file"
		                                : "too large");
		if (f != NULL)
			fclose(f);
		return -1;
	}
	fclose(f);
	/* ub_ctx_add_ta_autr() would keep it current (RFC 5011) but must
	 * write the file; the root's is kept by its package instead. */
	err = ub_ctx_add_ta_file(r->ctx, path);
	if (err != 0) {
		snprintf(buf, size, "trust_anchor %s: %s", path, ub_strerror(err));
		return -1;
	}
	strlcpy_checked(r->anchor, path, sizeof(r->anchor));
	return 0;
}

struct dns_resolver *dns_resolver_new(struct event_base *base, const char *forwarder,
                                      const char *trust_anchor, const char **error_r)
{
	static char why[4400];
	struct dns_resolver *r = xcalloc(1, sizeof(*r));
	int err;

	r->ctx = ub_ctx_create();
	if (r->ctx == NULL) {
		*error_r = "cannot create the resolver";
		free(r);
		return NULL;
	}
	ub_ctx_async(r->ctx, 1);
	/* the anchor first: ub_ctx_zone_remove() (in dns_set_forwarder())
	 * finalizes the context, and no setting may change after that */
	if (dns_set_anchor(r, trust_anchor, why, sizeof(why)) < 0) {
		err = 1;
	} else {
		err = forwarder[0] != '\0' ? dns_set_forwarder(r, forwarder)
		                           : ub_ctx_resolvconf(r->ctx, NULL);
		if (err != 0)
			snprintf(why, sizeof(why), "%s", ub_strerror(err));
	}
	if (err != 0) {
		*error_r = why;
		ub_ctx_delete(r->ctx);
		free(r);
		return NULL;
	}
	/* The configured server decides: libunbound would otherwise answer the
	 * special-use name "test." itself (RFC 6761), and test setups serve
	 * it. Last: a local zone change completes the context's settings. */
	err = forwarder[0] != '\0' ? ub_ctx_zone_remove(r->ctx, "test.") : 0;
	if (err != 0) {
		/* the settings were completed then: a broken anchor file shows */
		snprintf(why, sizeof(why), "trust_anchor %s: %s", r->anchor[0] ? r->anchor : "-",
		         ub_strerror(err));
		*error_r = why;
		ub_ctx_delete(r->ctx);
		free(r);
		return NULL;
	}
	r->ev = event_new(base, ub_fd(r->ctx), EV_READ | EV_PERSIST, dns_event_cb, r);
	event_add(r->ev, NULL);
	return r;
}

const char *dns_resolver_anchor(const struct dns_resolver *r)
{
	return r->anchor;
}

void dns_resolver_free(struct dns_resolver **rp)
{
	struct dns_resolver *r = *rp;

	if (r == NULL)
		return;
	*rp = NULL;
	r->closing = 1;
	event_free(r->ev);
	/* first: libunbound then calls nothing back, and holds no pointer to
	 * what the list frees */
	ub_ctx_delete(r->ctx);
	r->ctx = NULL;
	while (r->outstanding != NULL)
		dns_outstanding_answer(r->outstanding, DNS_ERR_RESTARTED, NULL);
	free(r);
}

int dns_mx_rdata_decode(const unsigned char *rdata, size_t len, unsigned *pref, char *name,
                        size_t size)
{
	size_t i = 2, o = 0;

	if (len < 3 || size < 2)
		return -1;
	*pref = ((unsigned)rdata[0] << 8) | rdata[1];
	while (i < len && rdata[i] != 0) {
		size_t l = rdata[i++];
		if (l > 63 || i + l > len || o + l + 2 > size)
			return -1;
		if (o > 0)
			name[o++] = '.';
		memcpy(name + o, rdata + i, l);
		o += l;
		i += l;
	}
	if (i >= len || i + 1 != len)
		return -1;
	name[o] = '\0';
	str_lower(name);
	return 0;
}

static int dns_exchanger_cmp(const void *a, const void *b)
{
	const struct dns_exchanger *x = a, *y = b;

	if (x->pref != y->pref)
		return x->pref < y->pref ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* The DNSSEC status of EX's addresses: bogus when one answer was, insecure
 * when one was, secure when one was and none of the others (an address
 * literal, or no answer, is insecure). A failed query adds nothing, so
 * that a dropped AAAA answer does not turn a signed host insecure. */
static uint32_t dns_exchanger_status(const struct dns_exchanger *ex)
{
	if (ex->any_bogus)
		return DNSSEC_BOGUS;
	return ex->any_secure && !ex->any_insecure ? DNSSEC_SECURE : DNSSEC_INSECURE;
}

/* Adds the addresses of EX to A. */
static void dns_answer_add(struct dns_answer *a, const struct dns_exchanger *ex)
{
	unsigned j;

	for (j = 0; j < ex->n_v4 + ex->n_v6; j++) {
		struct dns_host *h = &a->hosts[a->n_hosts++];
		strlcpy_checked(h->name, ex->name, sizeof(h->name));
		h->pref = ex->pref;
		strlcpy_checked(h->addr, j < ex->n_v4 ? ex->v4[j] : ex->v6[j - ex->n_v4],
		                sizeof(h->addr));
		h->secure = dns_exchanger_status(ex);
	}
}

/* Answers the request and frees it. An exchanger with a bogus address
 * answer is left out: its addresses may be an attacker's. */
static void dns_request_finish(struct dns_request *req)
{
	struct dns_answer a;
	unsigned i;

	memset(&a, 0, sizeof(a));
	qsort(req->ex, req->n_ex, sizeof(req->ex[0]), dns_exchanger_cmp);
	a.hosts = xcalloc(req->n_ex * DNS_MAX_ADDRS * 2 + 1, sizeof(a.hosts[0]));
	for (i = 0; i < req->n_ex; i++)
		if (dns_exchanger_status(&req->ex[i]) != DNSSEC_BOGUS)
			dns_answer_add(&a, &req->ex[i]);
	a.secure = req->mx_lookup  ? req->mx_status
	           : req->n_ex > 0 ? dns_exchanger_status(&req->ex[0])
	                           : DNSSEC_INSECURE;
	if (a.n_hosts == 0) {
		a.status = DNS_TEMPFAIL;
		if (req->error_bogus)
			a.secure = DNSSEC_BOGUS;
		snprintf(a.error, sizeof(a.error), "%s",
		         req->error[0] ? req->error : "no address found for any mail exchanger");
	}
	req->done(req->arg, &a);
	free(a.hosts);
	free(req);
}

/* One outstanding query: which request, which exchanger, which type. */
struct dns_query {
	struct dns_request *req;
	unsigned ex;
	int type;
};

/* Notes a failure that makes the answer temporary rather than empty; a
 * DNSSEC failure is the one kept. */
static void dns_note_error(struct dns_request *req, const char *what, int err,
                           struct ub_result *result)
{
	if (result != NULL && result->bogus) {
		if (!req->error_bogus)
			dns_bogus_text(req->error, sizeof(req->error), what, result);
		req->error_bogus = 1;
		return;
	}
	if (req->error[0] != '\0')
		return;
	if (err != 0)
		snprintf(req->error, sizeof(req->error), "%s: %s", what, dns_strerror(err));
	else if (result != NULL && result->rcode != 0 && !result->nxdomain)
		snprintf(req->error, sizeof(req->error), "%s: DNS error (rcode %d)", what,
		         result->rcode);
}

static void dns_query_done(struct dns_request *req)
{
	if (--req->pending == 0)
		dns_request_finish(req);
}

/* Notes the DNSSEC status of one address answer of EX. */
static void dns_exchanger_note(struct dns_exchanger *ex, const struct ub_result *result)
{
	uint32_t st = dns_result_status(result);

	ex->any_bogus |= st == DNSSEC_BOGUS;
	ex->any_secure |= st == DNSSEC_SECURE;
	ex->any_insecure |= st == DNSSEC_INSECURE;
}

static void dns_addr_cb(void *arg, int err, struct ub_result *result)
{
	struct dns_query *query = arg;
	struct dns_request *req = query->req;
	struct dns_exchanger *ex = &req->ex[query->ex];
	int i;

	if (err == 0 && result != NULL && (result->bogus || result->rcode == 0 || result->nxdomain))
		dns_exchanger_note(ex, result);
	if (err != 0 || result == NULL || result->bogus || !result->havedata) {
		dns_note_error(req, ex->name, err, result);
	} else {
		for (i = 0; result->data[i] != NULL; i++) {
			if (query->type == DNS_TYPE_A && result->len[i] == 4 &&
			    ex->n_v4 < DNS_MAX_ADDRS)
				inet_ntop(AF_INET, result->data[i], ex->v4[ex->n_v4++], 64);
			else if (query->type == DNS_TYPE_AAAA && result->len[i] == 16 &&
			         ex->n_v6 < DNS_MAX_ADDRS)
				inet_ntop(AF_INET6, result->data[i], ex->v6[ex->n_v6++], 64);
		}
	}
	if (result != NULL)
		ub_resolve_free(result);
	free(query);
	dns_query_done(req);
}

static void dns_query_start(struct dns_request *req, unsigned ex, int type)
{
	struct dns_query *query = xcalloc(1, sizeof(*query));
	int err;

	query->req = req;
	query->ex = ex;
	query->type = type;
	req->pending++;
	err = dns_query_async(req->resolver, req->ex[ex].name, type, dns_addr_cb, query);
	if (err != 0) {
		dns_note_error(req, req->ex[ex].name, err, NULL);
		free(query);
		req->pending--;
	}
}

/* Starts the A and AAAA queries of every exchanger. An IP address given as a
 * host name needs no query. */
static void dns_resolve_exchangers(struct dns_request *req)
{
	unsigned char buf[16];
	unsigned i;

	req->pending++; /* held while the queries start */
	for (i = 0; i < req->n_ex; i++) {
		struct dns_exchanger *ex = &req->ex[i];
		if (inet_pton(AF_INET, ex->name, buf) == 1) {
			ex->any_insecure = 1; /* no DNS, no DNSSEC */
			strlcpy_checked(ex->v4[ex->n_v4++], ex->name, 64);
			continue;
		}
		if (inet_pton(AF_INET6, ex->name, buf) == 1) {
			ex->any_insecure = 1;
			strlcpy_checked(ex->v6[ex->n_v6++], ex->name, 64);
			continue;
		}
		dns_query_start(req, i, DNS_TYPE_A);
		dns_query_start(req, i, DNS_TYPE_AAAA);
	}
	dns_query_done(req);
}

/* Ends a request without exchangers, saying WHAT about ARG; SECURE is
 * DNSSEC_BOGUS when the failure is a validation failure. */
static void dns_request_fail(struct dns_request *req, enum dns_status status, uint32_t secure,
                             const char *what, const char *arg)
{
	struct dns_answer a;

	memset(&a, 0, sizeof(a));
	a.status = status;
	a.secure = secure;
	snprintf(a.error, sizeof(a.error), "%s%s", what, arg);
	req->done(req->arg, &a);
	free(req);
}

static void dns_add_exchanger(struct dns_request *req, const char *name, unsigned pref)
{
	struct dns_exchanger *ex;

	if (req->n_ex >= DNS_MAX_EXCHANGERS)
		return;
	ex = &req->ex[req->n_ex++];
	strlcpy_checked(ex->name, name, sizeof(ex->name));
	ex->pref = pref;
	random_bytes(&ex->order, sizeof(ex->order));
}

/* A failed MX answer RESULT (or ERR): a temporary failure, saying why. */
static void dns_mx_failed(struct dns_request *req, int err, struct ub_result *result)
{
	char why[300];

	if (result != NULL && result->bogus) {
		/* RFC 7672 2.2.1: a bogus MX RRset is never a reason to fall
		 * back to the domain's addresses */
		dns_bogus_text(why, sizeof(why), req->name, result);
		ub_resolve_free(result);
		dns_request_fail(req, DNS_TEMPFAIL, DNSSEC_BOGUS, why, "");
		return;
	}
	snprintf(why, sizeof(why), "%s",
	         err      ? dns_strerror(err)
	         : result ? "DNS server failure"
	                  : "no answer");
	if (result != NULL)
		ub_resolve_free(result);
	dns_request_fail(req, DNS_TEMPFAIL, DNSSEC_INSECURE, "MX lookup failed: ", why);
}

static void dns_mx_cb(void *arg, int err, struct ub_result *result)
{
	struct dns_request *req = arg;
	char name[256];
	unsigned pref;
	int i;

	if (err != 0 || result == NULL || result->bogus ||
	    (result->rcode != 0 && !result->nxdomain)) {
		dns_mx_failed(req, err, result);
		return;
	}
	if (result->nxdomain) {
		ub_resolve_free(result);
		dns_request_fail(req, DNS_NXDOMAIN, DNSSEC_INSECURE, "domain does not exist: ",
		                 req->name);
		return;
	}
	req->mx_status = dns_result_status(result);
	for (i = 0; result->havedata && result->data[i] != NULL; i++) {
		if (dns_mx_rdata_decode((unsigned char *)result->data[i], (size_t)result->len[i],
		                        &pref, name, sizeof(name)) < 0)
			continue;
		if (name[0] == '\0') {
			/* RFC 7505 3: a null MX says the domain takes no mail. */
			ub_resolve_free(result);
			dns_request_fail(req, DNS_NULL_MX, DNSSEC_INSECURE,
			                 "domain accepts no mail (null MX): ", req->name);
			return;
		}
		dns_add_exchanger(req, name, pref);
	}
	ub_resolve_free(result);
	/* RFC 5321 5.1: without MX records the domain itself is the exchanger. */
	if (req->n_ex == 0)
		dns_add_exchanger(req, req->name, 0);
	dns_resolve_exchangers(req);
}

void dns_resolve(struct dns_resolver *r, const char *name, int mx_lookup, dns_done_fn *done,
                 void *arg)
{
	struct dns_request *req = xcalloc(1, sizeof(*req));
	int err;

	req->resolver = r;
	req->done = done;
	req->arg = arg;
	req->mx_lookup = mx_lookup != 0;
	strlcpy_checked(req->name, name, sizeof(req->name));
	str_lower(req->name);
	if (!mx_lookup) {
		dns_add_exchanger(req, req->name, 0);
		dns_resolve_exchangers(req);
		return;
	}
	err = dns_query_async(r, req->name, DNS_TYPE_MX, dns_mx_cb, req);
	if (err != 0)
		dns_request_fail(req, DNS_TEMPFAIL, DNSSEC_INSECURE, "MX lookup failed: ",
		                 dns_strerror(err));
}
