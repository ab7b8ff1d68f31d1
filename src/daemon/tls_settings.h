/*
 * tls_settings.h: the TLS part of the configuration, in the form src/lib's
 * TLS code takes (it knows no struct config). Used by the parent, which
 * reads the certificates, and by the dispatcher, which builds the contexts.
 */
#ifndef SEALMAIL_TLS_SETTINGS_H
#define SEALMAIL_TLS_SETTINGS_H

struct config;
struct tls_client_settings;
struct tls_settings;

/* The server side: certificates, protocol floor, ciphers, each listener's
 * client_ca, and the outbound trust anchors' file. Points into CFG. */
void tls_settings_from_config(const struct config *cfg, struct tls_settings *out);

/* The client side ([outbound]), trusting the certificates in CA_PEM. */
void tls_client_settings_from_config(const struct config *cfg, const char *ca_pem,
                                     struct tls_client_settings *out);

#endif
