/*
 * dns.c: see dns.h. One request resolves the MX set, then every exchanger's
 * A and AAAA records in parallel, and answers when the last one is back.
 */
#include "dns/dns.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unbound.h>

#include "lib/log.h"
#include "lib/util.h"

#define DNS_TYPE_A 1
#define DNS_TYPE_MX 15
#define DNS_TYPE_AAAA 28
#define DNS_CLASS_IN 1
#define DNS_MAX_EXCHANGERS 16
#define DNS_MAX_ADDRS 8 /* per exchanger and family */

struct dns_resolver {
	struct ub_ctx *ctx;
	struct event *ev;
};

struct dns_exchanger {
	char name[256];
	unsigned pref;
	unsigned order; /* random, to shuffle equal preferences */
	char v4[DNS_MAX_ADDRS][64], v6[DNS_MAX_ADDRS][64];
	unsigned n_v4, n_v6;
};

struct dns_request {
	struct dns_resolver *resolver;
	char name[256];
	dns_done_fn *done;
	void *arg;
	struct dns_exchanger ex[DNS_MAX_EXCHANGERS];
	unsigned n_ex;
	unsigned pending;
	int secure;
	int tempfail;
	char error[256];
};

static void dns_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_resolver *r = arg;

	ub_process(r->ctx);
}

struct dns_resolver *dns_resolver_new(struct event_base *base, const char *forwarder,
                                      const char **error_r)
{
	struct dns_resolver *r = xcalloc(1, sizeof(*r));
	char fwd[160];
	int err;

	r->ctx = ub_ctx_create();
	if (r->ctx == NULL) {
		*error_r = "cannot create the resolver";
		free(r);
		return NULL;
	}
	ub_ctx_async(r->ctx, 1);
	if (forwarder[0] != '\0') {
		/* "host:port" / "[v6]:port" become unbound's "host@port". */
		const char *colon = strrchr(forwarder, ':');
		const char *host = forwarder;
		size_t hlen = colon ? (size_t)(colon - forwarder) : strlen(forwarder);
		if (forwarder[0] == '[') {
			host++;
			hlen = strcspn(host, "]");
		}
		snprintf(fwd, sizeof(fwd), "%.*s%s%s", (int)hlen, host, colon ? "@" : "",
		         colon ? colon + 1 : "");
		err = ub_ctx_set_fwd(r->ctx, fwd);
		/* The configured server decides: libunbound would otherwise
		 * answer the special-use name "test." itself (RFC 6761), and
		 * test setups serve it. */
		if (err == 0)
			(void)ub_ctx_zone_remove(r->ctx, "test.");
	} else {
		err = ub_ctx_resolvconf(r->ctx, NULL);
	}
	if (err != 0) {
		*error_r = ub_strerror(err);
		ub_ctx_delete(r->ctx);
		free(r);
		return NULL;
	}
	r->ev = event_new(base, ub_fd(r->ctx), EV_READ | EV_PERSIST, dns_event_cb, r);
	event_add(r->ev, NULL);
	return r;
}

void dns_resolver_free(struct dns_resolver **rp)
{
	struct dns_resolver *r = *rp;

	if (r == NULL)
		return;
	*rp = NULL;
	event_free(r->ev);
	ub_ctx_delete(r->ctx);
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

/* Answers the request and frees it. */
static void dns_request_finish(struct dns_request *req)
{
	struct dns_answer a;
	unsigned i, j;

	memset(&a, 0, sizeof(a));
	a.secure = req->secure;
	qsort(req->ex, req->n_ex, sizeof(req->ex[0]), dns_exchanger_cmp);
	a.hosts = xcalloc(req->n_ex * DNS_MAX_ADDRS * 2 + 1, sizeof(a.hosts[0]));
	for (i = 0; i < req->n_ex; i++) {
		struct dns_exchanger *ex = &req->ex[i];
		for (j = 0; j < ex->n_v4 + ex->n_v6; j++) {
			struct dns_host *h = &a.hosts[a.n_hosts++];
			strlcpy_checked(h->name, ex->name, sizeof(h->name));
			h->pref = ex->pref;
			strlcpy_checked(h->addr, j < ex->n_v4 ? ex->v4[j] : ex->v6[j - ex->n_v4],
			                sizeof(h->addr));
		}
	}
	if (a.n_hosts == 0) {
		a.status = DNS_TEMPFAIL;
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

/* Notes a failure that makes the answer temporary rather than empty. */
static void dns_note_error(struct dns_request *req, const char *what, int err,
                           struct ub_result *result)
{
	if (req->error[0] != '\0')
		return;
	if (err != 0)
		snprintf(req->error, sizeof(req->error), "%s: %s", what, ub_strerror(err));
	else if (result != NULL && result->rcode != 0 && !result->nxdomain)
		snprintf(req->error, sizeof(req->error), "%s: DNS error (rcode %d)", what,
		         result->rcode);
}

static void dns_query_done(struct dns_request *req)
{
	if (--req->pending == 0)
		dns_request_finish(req);
}

static void dns_addr_cb(void *arg, int err, struct ub_result *result)
{
	struct dns_query *query = arg;
	struct dns_request *req = query->req;
	struct dns_exchanger *ex = &req->ex[query->ex];
	int i;

	if (err != 0 || result == NULL || !result->havedata) {
		dns_note_error(req, ex->name, err, result);
	} else {
		req->secure &= result->secure;
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
	err = ub_resolve_async(req->resolver->ctx, req->ex[ex].name, type, DNS_CLASS_IN, query,
	                       dns_addr_cb, NULL);
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
			strlcpy_checked(ex->v4[ex->n_v4++], ex->name, 64);
			continue;
		}
		if (inet_pton(AF_INET6, ex->name, buf) == 1) {
			strlcpy_checked(ex->v6[ex->n_v6++], ex->name, 64);
			continue;
		}
		dns_query_start(req, i, DNS_TYPE_A);
		dns_query_start(req, i, DNS_TYPE_AAAA);
	}
	dns_query_done(req);
}

/* Ends a request without exchangers, saying WHAT about ARG. */
static void dns_request_fail(struct dns_request *req, enum dns_status status, const char *what,
                             const char *arg)
{
	struct dns_answer a;

	memset(&a, 0, sizeof(a));
	a.status = status;
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

static void dns_mx_cb(void *arg, int err, struct ub_result *result)
{
	struct dns_request *req = arg;
	char name[256];
	unsigned pref;
	int i;

	if (err != 0 || result == NULL || (result->rcode != 0 && !result->nxdomain)) {
		char why[300];
		snprintf(why, sizeof(why), "%s",
		         err      ? ub_strerror(err)
		         : result ? "DNS server failure"
		                  : "no answer");
		if (result != NULL)
			ub_resolve_free(result);
		dns_request_fail(req, DNS_TEMPFAIL, "MX lookup failed: ", why);
		return;
	}
	if (result->nxdomain) {
		ub_resolve_free(result);
		dns_request_fail(req, DNS_NXDOMAIN, "domain does not exist: ", req->name);
		return;
	}
	req->secure = result->secure;
	for (i = 0; result->havedata && result->data[i] != NULL; i++) {
		if (dns_mx_rdata_decode((unsigned char *)result->data[i], (size_t)result->len[i],
		                        &pref, name, sizeof(name)) < 0)
			continue;
		if (name[0] == '\0') {
			/* RFC 7505 3: a null MX says the domain takes no mail. */
			ub_resolve_free(result);
			dns_request_fail(req, DNS_NULL_MX,
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
	req->secure = 1;
	strlcpy_checked(req->name, name, sizeof(req->name));
	str_lower(req->name);
	if (!mx_lookup) {
		dns_add_exchanger(req, req->name, 0);
		dns_resolve_exchangers(req);
		return;
	}
	err = ub_resolve_async(r->ctx, req->name, DNS_TYPE_MX, DNS_CLASS_IN, req, dns_mx_cb, NULL);
	if (err != 0)
		dns_request_fail(req, DNS_TEMPFAIL, "MX lookup failed: ", ub_strerror(err));
}

/* ---- TXT: a stand-in until the DNSSEC-aware resolver lands -------------- */

#define DNS_TYPE_TXT 16

int dns_txt_rdata_decode(const unsigned char *rdata, size_t len, char *out, size_t size,
                         size_t *out_len)
{
	size_t i = 0, o = 0;

	while (i < len) {
		size_t l = rdata[i++];
		if (i + l > len || o + l + 1 > size)
			return -1;
		memcpy(out + o, rdata + i, l);
		o += l;
		i += l;
	}
	out[o] = '\0';
	*out_len = o;
	return 0;
}

struct dns_txt_query {
	dns_txt_fn *done;
	void *arg;
};

static void dns_txt_cb(void *arg, int err, struct ub_result *result)
{
	struct dns_txt_query *q = arg;
	struct dns_txt_answer a;
	static char bufs[DNS_TXT_MAX][DNS_TXT_LEN_MAX + 1];
	int i;

	memset(&a, 0, sizeof(a));
	if (err != 0 || result == NULL || (result->rcode != 0 && !result->nxdomain)) {
		a.failed = 1;
		snprintf(a.error, sizeof(a.error), "%s", err ? ub_strerror(err) : "DNS failure");
	} else {
		a.status = result->secure ? DNSSEC_SECURE : result->bogus ? DNSSEC_BOGUS : 0;
		for (i = 0; result->havedata && result->data[i] != NULL && a.n < DNS_TXT_MAX; i++)
			if (dns_txt_rdata_decode((unsigned char *)result->data[i],
			                         (size_t)result->len[i], bufs[a.n], sizeof(bufs[0]),
			                         &a.len[a.n]) == 0) {
				a.txt[a.n] = bufs[a.n];
				a.n++;
			}
	}
	if (result != NULL)
		ub_resolve_free(result);
	q->done(q->arg, &a);
	free(q);
}

void dns_txt(struct dns_resolver *r, const char *name, dns_txt_fn *done, void *arg)
{
	struct dns_txt_query *q = xcalloc(1, sizeof(*q));
	int err;

	q->done = done;
	q->arg = arg;
	err = ub_resolve_async(r->ctx, name, DNS_TYPE_TXT, DNS_CLASS_IN, q, dns_txt_cb, NULL);
	if (err != 0) {
		struct dns_txt_answer a;
		memset(&a, 0, sizeof(a));
		a.failed = 1;
		snprintf(a.error, sizeof(a.error), "%s", ub_strerror(err));
		free(q);
		done(arg, &a);
	}
}
