/*
 * cert_info.c: see cert_info.h. Every call parses the PEM text afresh:
 * it is for start-up, reload and `config check`, never a session.
 */
#include "lib/cert_info.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/tls_probe.h"
#include "lib/util.h"

#define CERT_DAY_SECONDS 86400

/* Certificate INDEX of PEM and, when NEXT_R is not NULL, the one after
 * it (NULL at the end); NULL when there is no certificate INDEX. */
static X509 *cert_info_nth(const char *pem, unsigned index, X509 **next_r)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x = NULL;

	for (unsigned i = 0; i <= index; i++) {
		X509_free(x);
		if ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL)
			break;
	}
	if (next_r != NULL)
		*next_r = x != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	ERR_clear_error();
	return x;
}

unsigned cert_info_count(const char *pem)
{
	return tls_pem_count(pem);
}

/* T as seconds since the epoch into *WHEN_R (0 when it does not parse);
 * its text into BUF. */
static void cert_info_time(const ASN1_TIME *t, int64_t *when_r, char *buf, size_t size)
{
	struct tm tm;

	*when_r = 0;
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
		strlcpy_checked(buf, "?", size);
		return;
	}
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
	*when_r = (int64_t)timegm(&tm);
}

int cert_info_read(const char *pem, unsigned index, struct cert_info *out)
{
	X509 *next = NULL, *x = cert_info_nth(pem, index, &next);
	char before[32];

	memset(out, 0, sizeof(*out));
	if (x == NULL)
		return -1;
	X509_NAME_oneline(X509_get_subject_name(x), out->subject, sizeof(out->subject));
	X509_NAME_oneline(X509_get_issuer_name(x), out->issuer, sizeof(out->issuer));
	cert_info_time(X509_get0_notBefore(x), &out->not_before_time, before, sizeof(before));
	cert_info_time(X509_get0_notAfter(x), &out->not_after_time, out->not_after,
	               sizeof(out->not_after));
	out->self_signed = X509_self_signed(x, 1) == 1;
	out->is_ca = X509_check_ca(x) > 0;
	out->issued_by_next = next == NULL ? -1 : X509_check_issued(next, x) == X509_V_OK;
	X509_free(next);
	X509_free(x);
	ERR_clear_error();
	return 0;
}

enum cert_validity cert_info_validity(const struct cert_info *info, int64_t now,
                                      int64_t *days_left_r)
{
	int64_t left = info->not_after_time - now;

	/* "in 29 days" for a certificate made for 29 days a moment ago */
	*days_left_r =
	    left > 0 ? (left + CERT_DAY_SECONDS - 1) / CERT_DAY_SECONDS : left / CERT_DAY_SECONDS;
	if (left < 0)
		return CERT_EXPIRED;
	if (now < info->not_before_time)
		return CERT_NOT_YET_VALID;
	if (left < (int64_t)CERT_EXPIRY_WARN_DAYS * CERT_DAY_SECONDS)
		return CERT_EXPIRES_SOON;
	return CERT_VALID;
}

int cert_info_leaf_only(const struct cert_info *leaf, unsigned count)
{
	return count == 1 && !leaf->self_signed;
}

/* Appends one problem to P[*N]; drops it when P is full. */
static void cert_problem_add(struct cert_problem *p, unsigned *n, int error, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void cert_problem_add(struct cert_problem *p, unsigned *n, int error, const char *fmt, ...)
{
	va_list ap;

	if (*n == CERT_PROBLEMS_MAX)
		return;
	p[*n].error = error;
	va_start(ap, fmt);
	vsnprintf(p[*n].text, sizeof(p[*n].text), fmt, ap);
	va_end(ap);
	(*n)++;
}

/* The validity problems of certificate INDEX (INFO) of a file of KIND. */
static void cert_validity_problems(const struct cert_info *info, unsigned index,
                                   enum cert_file_kind kind, int64_t now, struct cert_problem *p,
                                   unsigned *n)
{
	/* a server's leaf, or any trust anchor, is what clients check first */
	int main_one = kind == CERT_FILE_CA || index == 0;
	char which[64] = "";
	int64_t days;

	if (kind == CERT_FILE_SERVER && index > 0)
		snprintf(which, sizeof(which), " (number %u of the chain)", index + 1);
	switch (cert_info_validity(info, now, &days)) {
	case CERT_EXPIRED:
		cert_problem_add(p, n, main_one, "certificate %s%s expired on %s", info->subject,
		                 which, info->not_after);
		break;
	case CERT_NOT_YET_VALID:
		cert_problem_add(p, n, 0, "certificate %s%s is not valid yet", info->subject,
		                 which);
		break;
	case CERT_EXPIRES_SOON:
		cert_problem_add(p, n, 0, "certificate %s%s expires in %lld days, on %s; renew it",
		                 info->subject, which, (long long)days, info->not_after);
		break;
	case CERT_VALID:
		break;
	}
}

unsigned cert_info_problems(const char *pem, enum cert_file_kind kind, int64_t now,
                            struct cert_problem *problems)
{
	unsigned count = cert_info_count(pem), n = 0;
	struct cert_info info, prev;

	for (unsigned i = 0; i < count && cert_info_read(pem, i, &info) == 0; i++) {
		cert_validity_problems(&info, i, kind, now, problems, &n);
		if (kind == CERT_FILE_SERVER && i == 0 && cert_info_leaf_only(&info, count))
			cert_problem_add(
			    problems, &n, 0,
			    "the file holds only the leaf certificate %s, issued by %s: "
			    "clients that lack the intermediate fail with 'unable to "
			    "verify the first certificate'; append the CA's chain after it",
			    info.subject, info.issuer);
		if (kind == CERT_FILE_SERVER && i > 0 && prev.issued_by_next == 0)
			cert_problem_add(
			    problems, &n, 0,
			    "certificate %u of the chain (%s) did not issue certificate %u "
			    "(%s, issued by %s): put each issuer right after what it signed",
			    i + 1, info.subject, i, prev.subject, prev.issuer);
		prev = info;
	}
	return n;
}
