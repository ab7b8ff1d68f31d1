/*
 * dns_records.c: the TLSA (RFC 6698 2.1) and TXT (RFC 1035 3.3.14) queries
 * of dns.h and the decoders of their rdata. One query each; the answer
 * says whether it validated. Called by the lookup role's host lookup and
 * by the ctl commands.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unbound.h>

#include "dns/dns.h"
#include "dns/dns_private.h"
#include "lib/util.h"

#define DNS_NAME_MAX 256

int dns_tlsa_rdata_decode(const unsigned char *rdata, size_t len, struct tlsa_record *out)
{
	/* RFC 6698 2.1: three one-octet fields, then the association data */
	if (len < 4 || len - 3 > TLSA_DATA_MAX)
		return -1;
	memset(out, 0, sizeof(*out));
	out->usage = rdata[0];
	out->selector = rdata[1];
	out->mtype = rdata[2];
	out->len = (uint16_t)(len - 3);
	memcpy(out->data, rdata + 3, len - 3);
	return 0;
}

int dns_txt_rdata_decode(const unsigned char *rdata, size_t len, char *out, size_t size,
                         size_t *out_len)
{
	size_t i = 0, o = 0;

	if (size == 0)
		return -1;
	/* one or more <character-string>s: a length octet and that many octets */
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

/* Fills the common part of an answer from RESULT: the status, and whether
 * it failed (and why) rather than saying "no such records". Returns 1 when
 * RESULT holds records to decode. */
static int dns_records_status(const char *name, int err, struct ub_result *result, uint32_t *status,
                              int *failed, char *error, size_t size)
{
	*status = err == 0 && result != NULL ? dns_result_status(result) : DNSSEC_INSECURE;
	*failed = 0;
	if (err != 0 || result == NULL) {
		*failed = 1;
		snprintf(error, size, "%s: %s", name, err ? dns_strerror(err) : "no answer");
		return 0;
	}
	if (result->bogus) {
		dns_bogus_text(error, size, name, result);
		return 0;
	}
	if (result->nxdomain || (result->rcode == 0 && !result->havedata))
		return 0; /* NXDOMAIN or NODATA: none (secure when the denial is) */
	if (result->rcode != 0) {
		*failed = 1;
		snprintf(error, size, "%s: DNS error (rcode %d)", name, result->rcode);
		return 0;
	}
	return 1;
}

/* ---- TLSA --------------------------------------------------------------- */

struct dns_tlsa_query {
	char name[DNS_NAME_MAX + 16];
	dns_tlsa_fn *done;
	void *arg;
};

static void dns_tlsa_cb(void *arg, int err, struct ub_result *result)
{
	struct dns_tlsa_query *q = arg;
	struct dns_tlsa_answer *a = xcalloc(1, sizeof(*a));
	int i;

	if (dns_records_status(q->name, err, result, &a->status, &a->failed, a->error,
	                       sizeof(a->error)))
		for (i = 0; result->data[i] != NULL && a->n < TLSA_MAX; i++)
			if (dns_tlsa_rdata_decode((unsigned char *)result->data[i],
			                          (size_t)result->len[i], &a->rec[a->n]) == 0)
				a->n++;
	if (result != NULL)
		ub_resolve_free(result);
	q->done(q->arg, a);
	free(a);
	free(q);
}

void dns_tlsa(struct dns_resolver *r, const char *host, unsigned port, dns_tlsa_fn *done, void *arg)
{
	struct dns_tlsa_query *q = xcalloc(1, sizeof(*q));
	int err;

	/* RFC 7672 2.2.3 / RFC 6698 3: the TLSA base domain is the host name */
	snprintf(q->name, sizeof(q->name), "_%u._tcp.%.*s", port, DNS_NAME_MAX - 1, host);
	str_lower(q->name);
	q->done = done;
	q->arg = arg;
	err = dns_query_async(r, q->name, DNS_TYPE_TLSA, dns_tlsa_cb, q);
	if (err != 0)
		dns_tlsa_cb(q, err, NULL);
}

/* ---- TXT ---------------------------------------------------------------- */

struct dns_txt_query {
	char name[DNS_NAME_MAX];
	dns_txt_fn *done;
	void *arg;
};

static void dns_txt_cb(void *arg, int err, struct ub_result *result)
{
	struct dns_txt_query *q = arg;
	struct dns_txt_answer a;
	char *bufs = NULL;
	int i;

	memset(&a, 0, sizeof(a));
	if (dns_records_status(q->name, err, result, &a.status, &a.failed, a.error,
	                       sizeof(a.error))) {
		bufs = xmalloc((size_t)DNS_TXT_MAX * (DNS_TXT_LEN_MAX + 1));
		for (i = 0; result->data[i] != NULL && a.n < DNS_TXT_MAX; i++) {
			char *out = bufs + (size_t)a.n * (DNS_TXT_LEN_MAX + 1);
			if (dns_txt_rdata_decode((unsigned char *)result->data[i],
			                         (size_t)result->len[i], out, DNS_TXT_LEN_MAX + 1,
			                         &a.len[a.n]) < 0)
				continue;
			a.txt[a.n++] = out;
		}
	}
	if (result != NULL)
		ub_resolve_free(result);
	q->done(q->arg, &a);
	free(bufs);
	free(q);
}

void dns_txt(struct dns_resolver *r, const char *name, dns_txt_fn *done, void *arg)
{
	struct dns_txt_query *q = xcalloc(1, sizeof(*q));
	int err;

	strlcpy_checked(q->name, name, sizeof(q->name));
	str_lower(q->name);
	q->done = done;
	q->arg = arg;
	err = dns_query_async(r, q->name, DNS_TYPE_TXT, dns_txt_cb, q);
	if (err != 0)
		dns_txt_cb(q, err, NULL);
}
