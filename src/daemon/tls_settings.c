/*
 * tls_settings.c: see tls_settings.h.
 */
#include "daemon/tls_settings.h"

#include <string.h>

#include "conf/config.h"
#include "lib/tls.h"
#include "lib/tls_client.h"

_Static_assert(TLS_MAX_LISTENERS >= CONFIG_MAX_LISTENERS, "one client_ca per listener");
_Static_assert(TLS_MAX_CERTS >= CONFIG_MAX_CERTS, "every certificate");

void tls_settings_from_config(const struct config *cfg, struct tls_settings *out)
{
	unsigned i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < cfg->n_certs; i++)
		out->certs[i] = (struct tls_cert_file){
		    .name = cfg->certs[i].name,
		    .certificate = cfg->certs[i].certificate,
		    .key = cfg->certs[i].key,
		};
	out->n_certs = cfg->n_certs;
	out->min_version = cfg->min_version;
	out->ciphers = cfg->ciphers;
	out->ciphersuites = cfg->ciphersuites;
	for (i = 0; i < cfg->n_listeners; i++)
		out->client_ca[i] =
		    cfg->listeners[i].client_ca[0] ? cfg->listeners[i].client_ca : NULL;
	out->n_listeners = cfg->n_listeners;
	out->outbound_ca_file = cfg->outbound_ca_file;
}

void tls_client_settings_from_config(const struct config *cfg, const char *ca_pem,
                                     struct tls_client_settings *out)
{
	*out = (struct tls_client_settings){
	    .min_version = cfg->outbound_min_version,
	    .ciphers = cfg->outbound_ciphers,
	    .ciphersuites = cfg->outbound_ciphersuites,
	    .ca_pem = ca_pem,
	};
}
