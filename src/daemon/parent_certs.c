/*
 * parent_certs.c: see parent_certs.h. The words are the ones
 * `sealmail config check` prints (cert_info_problems()), so what the log
 * warns about at start-up is what the check warned about before.
 */
#include "daemon/parent_certs.h"

#include <stdlib.h>
#include <time.h>

#include "conf/config.h"
#include "lib/cert_info.h"
#include "lib/log.h"
#include "lib/tls.h"
#include "lib/tls_probe.h"
#include "lib/util.h"

/* Certificate NAME, read from FILE now, to be served for HOST. */
static void parent_cert_log_loaded(const char *name, const char *file, const char *pem,
                                   const char *host)
{
	struct cert_problem *p = xcalloc(CERT_PROBLEMS_MAX, sizeof(*p));
	struct cert_info leaf;
	int64_t days;
	unsigned n;

	if (cert_info_read(pem, 0, &leaf) == 0) {
		(void)cert_info_validity(&leaf, (int64_t)time(NULL), &days);
		log_info("event=certificate-loaded name=%s file=%s subject=\"%s\" issuer=\"%s\" "
		         "chain=%u not_after=%s days_left=%lld",
		         name, file, leaf.subject, leaf.issuer, cert_info_count(pem),
		         leaf.not_after, (long long)days);
	}
	n = cert_info_problems(pem, CERT_FILE_SERVER, (int64_t)time(NULL), p);
	for (unsigned i = 0; i < n; i++) {
		if (p[i].error)
			log_error("event=certificate-expired name=%s file=%s reason=\"%s\"", name,
			          file, p[i].text);
		else
			log_warn("event=certificate-warning name=%s file=%s reason=\"%s\"", name,
			         file, p[i].text);
	}
	free(p);
	if (tls_pem_names_host(pem, host) == 0)
		log_warn("event=certificate-warning name=%s file=%s reason=\"the certificate does "
		         "not name %s: clients and MTA-STS senders that check the name will refuse "
		         "it\"",
		         name, file, host);
}

/* A certificate kept by a reload: still the one from before. */
static void parent_cert_log_kept(const char *name, const char *pem)
{
	struct cert_info leaf;

	if (cert_info_read(pem, 0, &leaf) < 0)
		leaf.subject[0] = leaf.not_after[0] = '\0';
	log_warn("event=certificate-unchanged name=%s subject=\"%s\" not_after=%s "
	         "reason=\"its file did not load (see certificate-kept); the certificate from "
	         "before the reload is still served\"",
	         name, leaf.subject, leaf.not_after);
}

unsigned parent_certs_log(const struct config *cfg, const struct tls_cert_set *set)
{
	unsigned kept = 0;

	for (unsigned i = 0; i < set->n && i < cfg->n_certs; i++) {
		const char *name = set->certs[i].name[0] ? set->certs[i].name : "default";
		if (set->certs[i].kept) {
			parent_cert_log_kept(name, set->certs[i].cert_pem);
			kept++;
		} else {
			parent_cert_log_loaded(name, cfg->certs[i].certificate,
			                       set->certs[i].cert_pem,
			                       i == 0 ? cfg->hostname : cfg->certs[i].name);
		}
	}
	return kept;
}
