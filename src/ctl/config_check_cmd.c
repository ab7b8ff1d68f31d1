/*
 * config_check_cmd.c: `sealmail config check`. What serve would refuse is
 * an error here, found by the same code: the configuration's parser
 * (conf/), then the certificates and keys read and matched as the parent
 * reads them (tls_cert_set_load()) and the TLS contexts built from them
 * as a dispatcher builds them (tls_server_new()). Then what serve starts
 * with but clients would trip over (lib/cert_info.h): a leaf without its
 * chain, a certificate close to expiry or one that does not name the
 * host name (or its [tls NAME]), warnings on stderr; an expired
 * one, an error. Errors and warnings say FILE:LINE: [section] key: PATH.
 */
#include "ctl/config_check_cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf/config.h"
#include "ctl/ctl_client.h"
#include "daemon/tls_settings.h"
#include "lib/cert_info.h"
#include "lib/tls.h"
#include "lib/tls_probe.h"
#include "lib/util.h"

static void config_check_usage(FILE *f)
{
	fprintf(f, "usage: sealmail config check [-c FILE]\n");
}

/* Says what is wrong with the file PATH (text PEM) of KIND; WHERE is
 * "FILE:LINE: [section] key". Returns how many errors. */
static int check_cert_problems(const char *where, const char *path, const char *pem,
                               enum cert_file_kind kind)
{
	struct cert_problem *p = xcalloc(CERT_PROBLEMS_MAX, sizeof(*p));
	unsigned n = cert_info_problems(pem, kind, (int64_t)time(NULL), p);
	int errors = 0;

	for (unsigned i = 0; i < n; i++) {
		fprintf(stderr, "%s: %s: %s%s\n", where, path,
		        p[i].error ? "" : "warning: ", p[i].text);
		errors += p[i].error;
	}
	free(p);
	return errors;
}

/* Warns when certificate I does not name what it is chosen for: [tls] the
 * host name ([server] hostname, the MX name senders and MTA-STS check),
 * [tls NAME] its NAME (asked for by SNI). serve runs with it, but clients
 * that check the name refuse it. */
static void check_cert_name(const struct config *cfg, unsigned i, const char *where,
                            const char *pem)
{
	const char *name = i == 0 ? cfg->hostname : cfg->certs[i].name;

	if (tls_pem_names_host(pem, name) == 0)
		fprintf(stderr,
		        "%s: %s: warning: the certificate does not name %s (%s): clients and "
		        "MTA-STS senders that check the name will refuse it\n",
		        where, cfg->certs[i].certificate, name,
		        i == 0 ? "[server] hostname" : "the name of its section");
}

/* Loads certificate I alone, as serve loads it, and looks at it.
 * Returns how many errors (said on stderr). */
static int check_one_cert(const struct config *cfg, const struct tls_settings *all, unsigned i)
{
	struct tls_settings one = *all;
	struct tls_cert_set set;
	struct cert_info leaf;
	char section[300], where[4400];
	const char *why;
	int errors;

	config_cert_section(cfg, i, section, sizeof(section));
	snprintf(where, sizeof(where), "%s:%d: %s certificate", cfg->path, cfg->certs[i].line,
	         section);
	one.certs[0] = all->certs[i];
	one.n_certs = 1;
	one.n_listeners = 0;
	one.outbound_ca_file = "/dev/null"; /* read once, with everything, in check_tls() */
	if (tls_cert_set_load(&one, &set, &why) < 0) {
		fprintf(stderr, "%s: %s\n", where, why);
		return 1;
	}
	errors = check_cert_problems(where, cfg->certs[i].certificate, set.certs[0].cert_pem,
	                             CERT_FILE_SERVER);
	check_cert_name(cfg, i, where, set.certs[0].cert_pem);
	if (cert_info_read(set.certs[0].cert_pem, 0, &leaf) == 0)
		printf("%s %s: subject %s, issuer %s, %u in the chain, expires %s\n", section,
		       cfg->certs[i].certificate, leaf.subject, leaf.issuer,
		       cert_info_count(set.certs[0].cert_pem), leaf.not_after);
	tls_cert_set_free(&set);
	return errors;
}

/* Every listener's client_ca: trust anchors a client certificate is
 * checked against. Returns how many errors. */
static int check_client_cas(const struct config *cfg, const struct tls_cert_set *set)
{
	char where[4400];
	int errors = 0;

	for (unsigned i = 0; i < cfg->n_listeners && i < TLS_MAX_LISTENERS; i++) {
		if (set->client_ca_pem[i] == NULL)
			continue;
		snprintf(where, sizeof(where), "%s:%d: [listen %s] client_ca", cfg->path,
		         cfg->listeners[i].line, cfg->listeners[i].name);
		if (cert_info_count(set->client_ca_pem[i]) == 0) {
			fprintf(stderr, "%s: %s: holds no certificate\n", where,
			        cfg->listeners[i].client_ca);
			errors++;
			continue;
		}
		errors += check_cert_problems(where, cfg->listeners[i].client_ca,
		                              set->client_ca_pem[i], CERT_FILE_CA);
	}
	return errors;
}

/* The TLS half of the check. Returns how many errors (said on stderr). */
static int check_tls(const struct config *cfg)
{
	struct tls_settings settings;
	struct tls_cert_set set;
	struct tls_server *srv;
	const char *why;
	int errors = 0, needs_tls = 0;

	tls_settings_from_config(cfg, &settings);
	for (unsigned i = 0; i < settings.n_certs; i++)
		errors += check_one_cert(cfg, &settings, i);
	if (errors > 0)
		return errors;
	/* everything together, as the parent and then a dispatcher */
	if (tls_cert_set_load(&settings, &set, &why) < 0) {
		fprintf(stderr, "%s: %s\n", cfg->path, why);
		return 1;
	}
	errors = check_client_cas(cfg, &set);
	for (unsigned i = 0; i < cfg->n_listeners; i++) /* as dispatcher_tls_new() decides */
		needs_tls |= cfg->listeners[i].tls != LISTENER_TLS_NONE;
	if (errors == 0 && needs_tls) {
		if ((srv = tls_server_new(&settings, &set, &why)) == NULL) {
			fprintf(stderr, "%s: TLS: %s\n", cfg->path, why);
			errors++;
		}
		tls_server_free(&srv);
	}
	tls_cert_set_free(&set);
	return errors;
}

int cmd_config_check(int argc, char **argv)
{
	const char *config = config_default_path();
	struct config *cfg;
	char *errors = NULL;
	int r;

	if (ctl_parse_options(argc, argv, NULL, &config, NULL, config_check_usage) < 0 ||
	    optind != argc) {
		config_check_usage(stderr);
		return 2;
	}
	if ((cfg = ctl_config_load(config)) == NULL)
		return 1;
	r = config_check_files(cfg, &errors);
	if (r == 0 && config_metrics_warning(cfg) != NULL)
		fprintf(stderr, "%s\n", config_metrics_warning(cfg));
	if (r < 0)
		fprintf(stderr, "%s\n", errors);
	else if (check_tls(cfg) > 0)
		r = -1;
	else
		printf("%s: ok\n", config);
	free(errors);
	free(cfg);
	return r < 0 ? 1 : 0;
}
