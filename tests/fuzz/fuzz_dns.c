/*
 * fuzz_dns.c: libFuzzer harness for what turns DNS answers into hosts
 * (src/dns/dns.c): the MX answer (records through dns_mx_rdata_decode,
 * null MX, NXDOMAIN, server failures, secure, insecure and bogus
 * answers), then each exchanger's A and AAAA answers, and the final list;
 * then a TLSA and a TXT query (src/dns/dns_records.c) on what is left.
 * libunbound is replaced by a fake that answers every query at once with
 * records read from the input, so the real callbacks see any answer a
 * resolver could give.
 *
 * Input: a flags byte (bit 0: an MX lookup), then for each query in turn:
 * a byte that picks the failure mode and flags, a record count, and per
 * record a length byte and that many bytes.
 */
#include "fuzz_common.h"

#include "../../src/dns/dns.c"
#include "../../src/dns/dns_records.c"

static const uint8_t *in_p;
static size_t in_left;

static unsigned next_byte(void)
{
	if (in_left == 0)
		return 0;
	in_left--;
	return *in_p++;
}

/* ---- the fake libunbound ----------------------------------------------- */

struct ub_ctx *ub_ctx_create(void)
{
	return NULL;
}

void ub_ctx_delete(struct ub_ctx *ctx)
{
}

int ub_fd(struct ub_ctx *ctx)
{
	return -1;
}

int ub_process(struct ub_ctx *ctx)
{
	return 0;
}

const char *ub_strerror(int err)
{
	return "fake resolver error";
}

void ub_resolve_free(struct ub_result *result)
{
	if (result == NULL)
		return;
	for (int i = 0; result->data != NULL && result->data[i] != NULL; i++)
		free(result->data[i]);
	free(result->data);
	free(result->len);
	free(result);
}

/* A result read from the input: records of any length and content. */
static struct ub_result *fake_result(unsigned flags)
{
	struct ub_result *r = calloc(1, sizeof(*r));
	unsigned n = next_byte() % 24;

	CHECK(r != NULL);
	r->data = calloc(n + 1, sizeof(char *));
	r->len = calloc(n + 1, sizeof(int));
	CHECK(r->data != NULL && r->len != NULL);
	for (unsigned i = 0; i < n; i++) {
		unsigned len = next_byte();
		r->data[i] = malloc(len ? len : 1);
		CHECK(r->data[i] != NULL);
		for (unsigned j = 0; j < len; j++)
			r->data[i][j] = (char)next_byte();
		r->len[i] = (int)len;
	}
	r->havedata = n > 0 && !(flags & 0x10);
	r->nxdomain = (flags & 0x20) != 0;
	r->rcode = (flags & 0x40) ? 2 : (r->nxdomain ? 3 : 0);
	r->secure = (flags & 0x80) != 0;
	if ((flags & 0x0f) == 4) { /* a broken signature: libunbound says SERVFAIL */
		r->bogus = 1;
		r->secure = 0;
		r->rcode = 2;
		r->why_bogus = "fake signature failure";
	}
	return r;
}

/* Answers at once: an error (1 in 16), no result (1 in 16), or records. */
int ub_resolve_async(struct ub_ctx *ctx, const char *name, int rrtype, int rrclass, void *mydata,
                     ub_callback_type callback, int *async_id)
{
	unsigned flags = next_byte();

	CHECK(name != NULL && strlen(name) < 256);
	if ((flags & 0x0f) == 1)
		return 1;
	if ((flags & 0x0f) == 2)
		callback(mydata, 3, NULL);
	else if ((flags & 0x0f) == 3)
		callback(mydata, 0, NULL);
	else
		callback(mydata, 0, fake_result(flags));
	return 0;
}

/* ---- the checks ---------------------------------------------------------- */

static unsigned answers;

/* Called once per request: what the lookup role would send on. */
static void done(void *arg, const struct dns_answer *a)
{
	unsigned char buf[16];

	answers++;
	CHECK(a->status <= DNS_TEMPFAIL);
	CHECK(a->secure <= DNSSEC_BOGUS);
	CHECK(memchr(a->error, '\0', sizeof(a->error)) != NULL);
	if (a->status != DNS_OK) {
		CHECK(a->error[0] != '\0');
		return;
	}
	CHECK(a->n_hosts > 0 && a->n_hosts <= DNS_MAX_EXCHANGERS * DNS_MAX_ADDRS * 2);
	for (unsigned i = 0; i < a->n_hosts; i++) {
		const struct dns_host *h = &a->hosts[i];
		CHECK(memchr(h->name, '\0', sizeof(h->name)) != NULL && h->name[0] != '\0');
		CHECK(inet_pton(AF_INET, h->addr, buf) == 1 ||
		      inet_pton(AF_INET6, h->addr, buf) == 1);
		CHECK(i == 0 || a->hosts[i - 1].pref <= h->pref);
		/* a bogus address answer leaves its host out */
		CHECK(h->secure == DNSSEC_SECURE || h->secure == DNSSEC_INSECURE);
	}
}

static void tlsa_done(void *arg, const struct dns_tlsa_answer *a)
{
	answers++;
	CHECK(a->status <= DNSSEC_BOGUS && a->n <= TLSA_MAX);
	CHECK(memchr(a->error, '\0', sizeof(a->error)) != NULL);
	CHECK(a->status != DNSSEC_BOGUS || (a->n == 0 && a->error[0] != '\0'));
	for (unsigned i = 0; i < a->n; i++)
		CHECK(a->rec[i].len > 0 && a->rec[i].len <= TLSA_DATA_MAX);
}

static void txt_done(void *arg, const struct dns_txt_answer *a)
{
	answers++;
	CHECK(a->status <= DNSSEC_BOGUS && a->n <= DNS_TXT_MAX);
	CHECK(a->status != DNSSEC_BOGUS || a->n == 0);
	for (unsigned i = 0; i < a->n; i++)
		CHECK(a->len[i] <= DNS_TXT_LEN_MAX && a->txt[i][a->len[i]] == '\0');
}

/* The rdata decoders on their own: TLSA, TXT, and MX with every output
 * size. */
static void check_rdata(const uint8_t *data, size_t size)
{
	char name[256];
	unsigned pref;

	struct tlsa_record t;
	char txt[512];
	size_t len;

	if (dns_tlsa_rdata_decode(data, size, &t) == 0)
		CHECK(t.len == size - 3 && memcmp(t.data, data + 3, t.len) == 0);
	if (dns_txt_rdata_decode(data, size, txt, sizeof(txt), &len) == 0)
		CHECK(len < sizeof(txt) && len <= size && txt[len] == '\0');
	if (dns_mx_rdata_decode(data, size, &pref, name, sizeof(name)) == 0) {
		size_t n = strlen(name);
		CHECK(pref <= 0xffff && n < 256);
		for (size_t sz = 2; sz <= n + 1; sz++) {
			char *small = malloc(sz);
			CHECK(small != NULL);
			(void)dns_mx_rdata_decode(data, size, &pref, small, sz);
			free(small);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_resolver r = {0};
	int mx;

	if (size < 1)
		return 0;
	check_rdata(data + 1, size - 1);
	mx = data[0] & 1;
	in_p = data + 1;
	in_left = size - 1;
	answers = 0;
	dns_resolve(&r, (data[0] & 2) ? "192.0.2.7" : "Example.TEST", mx, done, NULL);
	CHECK(answers == 1);
	dns_tlsa(&r, "MX.Example.TEST", 25, tlsa_done, NULL);
	dns_txt(&r, "_smtp._tls.example.test", txt_done, NULL);
	CHECK(answers == 3);
	return 0;
}
