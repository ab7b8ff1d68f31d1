/*
 * lookup.c: encoders and decoders of the dispatcher <-> lookup messages;
 * see lookup.h. Called by daemon/dispatcher.c and lookup/lookup.c.
 */
#include "proto/lookup.h"

#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

void proto_lookup_rcpt_encode(const struct proto_lookup_rcpt *m, struct ipc_writer *w)
{
	ipc_put_str(w, m->address);
}

int proto_lookup_rcpt_decode(struct proto_lookup_rcpt *m, const void *data, size_t len,
                             const char **error_r)
{
	struct ipc_reader r;

	ipc_reader_init(&r, data, len);
	ipc_get_str(&r, m->address, sizeof(m->address));
	if (proto_decode_done(&r, "malformed recipient lookup", error_r) < 0) {
		memset(m, 0, sizeof(*m));
		return -1;
	}
	return 0;
}

void proto_lookup_rcpt_result_encode(const struct proto_lookup_rcpt_result *m, struct ipc_writer *w)
{
	ipc_put_u32(w, m->result);
	proto_put_strings(w, (const char *const *)m->targets.v, m->targets.n);
}

int proto_lookup_rcpt_result_decode(struct proto_lookup_rcpt_result *m, const void *data,
                                    size_t len, const char **error_r)
{
	struct ipc_reader r;

	memset(m, 0, sizeof(*m));
	ipc_reader_init(&r, data, len);
	m->result = ipc_get_u32(&r);
	proto_get_strings(&r, &m->targets, ENVELOPE_MAX_RCPTS, ENVELOPE_ADDR_MAX);
	if (!r.error && m->result > LOOKUP_TEMPFAIL)
		r.error = 1;
	if (proto_decode_done(&r, "malformed recipient lookup result", error_r) < 0) {
		proto_lookup_rcpt_result_free(m);
		return -1;
	}
	return 0;
}

void proto_lookup_rcpt_result_free(struct proto_lookup_rcpt_result *m)
{
	proto_strings_free(&m->targets);
	memset(m, 0, sizeof(*m));
}

void proto_auth_check_encode(const struct proto_auth_check *m, struct ipc_writer *w)
{
	ipc_put_str(w, m->user);
	ipc_put_u32(w, m->has_password);
	ipc_put_str(w, m->password);
	ipc_put_str(w, m->client);
}

int proto_auth_check_decode(struct proto_auth_check *m, const void *data, size_t len,
                            const char **error_r)
{
	struct ipc_reader r;

	ipc_reader_init(&r, data, len);
	ipc_get_str(&r, m->user, sizeof(m->user));
	m->has_password = ipc_get_u32(&r);
	ipc_get_str(&r, m->password, sizeof(m->password));
	ipc_get_str(&r, m->client, sizeof(m->client));
	if (!r.error && m->has_password > 1)
		r.error = 1;
	if (proto_decode_done(&r, "malformed AUTH check", error_r) < 0) {
		explicit_bzero(m, sizeof(*m));
		return -1;
	}
	return 0;
}

void proto_auth_result_encode(const struct proto_auth_result *m, struct ipc_writer *w)
{
	ipc_put_u32(w, m->ok);
	ipc_put_u32(w, m->by_certificate);
	ipc_put_str(w, m->user);
	proto_put_strings(w, (const char *const *)m->owned.v, m->owned.n);
}

int proto_auth_result_decode(struct proto_auth_result *m, const void *data, size_t len,
                             const char **error_r)
{
	struct ipc_reader r;

	memset(m, 0, sizeof(*m));
	ipc_reader_init(&r, data, len);
	m->ok = ipc_get_u32(&r);
	m->by_certificate = ipc_get_u32(&r);
	ipc_get_str(&r, m->user, sizeof(m->user));
	proto_get_strings(&r, &m->owned, ENVELOPE_MAX_RCPTS, ENVELOPE_ADDR_MAX);
	if (!r.error && (m->ok > PROTO_AUTH_TEMPFAIL || m->by_certificate > 1))
		r.error = 1;
	if (proto_decode_done(&r, "malformed AUTH result", error_r) < 0) {
		proto_auth_result_free(m);
		return -1;
	}
	return 0;
}

void proto_auth_result_free(struct proto_auth_result *m)
{
	proto_strings_free(&m->owned);
	memset(m, 0, sizeof(*m));
}

void proto_lookup_hosts_encode(const struct proto_lookup_hosts *m, struct ipc_writer *w)
{
	ipc_put_str(w, m->name);
	ipc_put_u32(w, m->mx_lookup);
	ipc_put_u32(w, m->port);
	ipc_put_u32(w, m->policy);
}

int proto_lookup_hosts_decode(struct proto_lookup_hosts *m, const void *data, size_t len,
                              const char **error_r)
{
	struct ipc_reader r;

	ipc_reader_init(&r, data, len);
	ipc_get_str(&r, m->name, sizeof(m->name));
	m->mx_lookup = ipc_get_u32(&r);
	m->port = ipc_get_u32(&r);
	m->policy = ipc_get_u32(&r);
	if (!r.error && (m->mx_lookup > 1 || m->port > 65535 || m->policy > (PROTO_LOOKUP_TLSA | PROTO_LOOKUP_DOMAIN)))
		r.error = 1;
	if (proto_decode_done(&r, "malformed host lookup", error_r) < 0) {
		memset(m, 0, sizeof(*m));
		return -1;
	}
	return 0;
}

/* One host of IMSG_LOOKUP_HOSTS_RESULT. */
static void proto_host_put(struct ipc_writer *w, const struct proto_host *h)
{
	unsigned i;

	ipc_put_str(w, h->name);
	ipc_put_u32(w, h->pref);
	ipc_put_str(w, h->addr);
	ipc_put_u32(w, h->secure);
	ipc_put_u32(w, h->tlsa_status);
	ipc_put_u32(w, h->n_tlsa);
	for (i = 0; i < h->n_tlsa; i++) {
		ipc_put_u32(w, h->tlsa[i].usage);
		ipc_put_u32(w, h->tlsa[i].selector);
		ipc_put_u32(w, h->tlsa[i].mtype);
		ipc_put_u32(w, h->tlsa[i].len);
		ipc_put_bytes(w, h->tlsa[i].data, h->tlsa[i].len);
	}
}

static void proto_host_get(struct ipc_reader *r, struct proto_host *h)
{
	uint32_t i, usage, selector, mtype, len;
	const void *data;

	ipc_get_str(r, h->name, sizeof(h->name));
	h->pref = ipc_get_u32(r);
	ipc_get_str(r, h->addr, sizeof(h->addr));
	h->secure = ipc_get_u32(r);
	h->tlsa_status = ipc_get_u32(r);
	h->n_tlsa = ipc_get_u32(r);
	if (r->error || h->secure > DNSSEC_BOGUS || h->tlsa_status > DNSSEC_BOGUS ||
	    h->n_tlsa > TLSA_MAX) {
		r->error = 1;
		h->n_tlsa = 0;
	}
	for (i = 0; i < h->n_tlsa && !r->error; i++) {
		usage = ipc_get_u32(r);
		selector = ipc_get_u32(r);
		mtype = ipc_get_u32(r);
		len = ipc_get_u32(r);
		if (r->error || usage > 255 || selector > 255 || mtype > 255 || len > TLSA_DATA_MAX ||
		    (data = ipc_get_bytes(r, len)) == NULL) {
			r->error = 1;
			break;
		}
		h->tlsa[i].usage = (uint8_t)usage;
		h->tlsa[i].selector = (uint8_t)selector;
		h->tlsa[i].mtype = (uint8_t)mtype;
		h->tlsa[i].len = (uint16_t)len;
		memcpy(h->tlsa[i].data, data, len);
	}
}

/* The MTA-STS policy of IMSG_LOOKUP_HOSTS_RESULT. */
static void proto_sts_put(struct ipc_writer *w, const struct sts_policy *p)
{
	unsigned i;

	ipc_put_u32(w, p->mode);
	ipc_put_str(w, p->id);
	ipc_put_u32(w, p->max_age);
	ipc_put_u64(w, p->fetched);
	ipc_put_u32(w, p->n_mx);
	for (i = 0; i < p->n_mx; i++)
		ipc_put_str(w, p->mx[i]);
	ipc_put_str(w, p->error);
}

static void proto_sts_get(struct ipc_reader *r, struct sts_policy *p)
{
	uint32_t i;

	p->mode = ipc_get_u32(r);
	ipc_get_str(r, p->id, sizeof(p->id));
	p->max_age = ipc_get_u32(r);
	p->fetched = ipc_get_u64(r);
	p->n_mx = ipc_get_u32(r);
	if (r->error || p->mode > STS_MODE_ENFORCE || p->n_mx > STS_MX_MAX) {
		r->error = 1;
		p->n_mx = 0;
	}
	for (i = 0; i < p->n_mx && !r->error; i++)
		ipc_get_str(r, p->mx[i], sizeof(p->mx[i]));
	ipc_get_str(r, p->error, sizeof(p->error));
}

void proto_lookup_hosts_result_encode(const struct proto_lookup_hosts_result *m,
                                      struct ipc_writer *w)
{
	unsigned i;

	ipc_put_u32(w, m->status);
	ipc_put_str(w, m->error);
	ipc_put_u32(w, m->secure);
	ipc_put_u32(w, m->n_hosts);
	for (i = 0; i < m->n_hosts; i++)
		proto_host_put(w, &m->hosts[i]);
	proto_sts_put(w, &m->sts);
	ipc_put_str(w, m->rua);
}

/* A host is at least two string lengths and four u32 on the wire. */
#define PROTO_HOST_MIN_OCTETS 24

int proto_lookup_hosts_result_decode(struct proto_lookup_hosts_result *m, const void *data,
                                     size_t len, const char **error_r)
{
	struct ipc_reader r;
	uint32_t n, i;

	memset(m, 0, sizeof(*m));
	ipc_reader_init(&r, data, len);
	m->status = ipc_get_u32(&r);
	ipc_get_str(&r, m->error, sizeof(m->error));
	m->secure = ipc_get_u32(&r);
	n = ipc_get_u32(&r);
	if (r.error || m->status > LOOKUP_HOSTS_TEMPFAIL || m->secure > DNSSEC_BOGUS ||
	    n > r.left / PROTO_HOST_MIN_OCTETS)
		r.error = 1;
	if (!r.error && n > 0)
		m->hosts = xcalloc(n, sizeof(m->hosts[0]));
	for (i = 0; i < n && !r.error; i++)
		proto_host_get(&r, &m->hosts[i]);
	m->n_hosts = r.error ? 0 : n;
	proto_sts_get(&r, &m->sts);
	ipc_get_str(&r, m->rua, sizeof(m->rua));
	if (proto_decode_done(&r, "malformed host lookup result", error_r) < 0) {
		proto_lookup_hosts_result_free(m);
		return -1;
	}
	return 0;
}

void proto_lookup_hosts_result_free(struct proto_lookup_hosts_result *m)
{
	free(m->hosts);
	memset(m, 0, sizeof(*m));
}

int proto_lookup_forget_decode(const void *data, size_t len, const char **error_r)
{
	return proto_empty_decode(len, "unexpected payload in a forget message", error_r);
}
