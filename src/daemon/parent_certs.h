/*
 * parent_certs.h: the parent's log of the certificates it serves, at
 * start-up and after each reload.
 */
#ifndef SEALMAIL_PARENT_CERTS_H
#define SEALMAIL_PARENT_CERTS_H

struct config;
struct tls_cert_set;

/* Logs each certificate of SET (read from CFG's [tls] files, in their
 * order): one read now as event=certificate-loaded with its file,
 * subject, issuer, chain length and expiry, then what cert_info.h finds
 * wrong with it (event=certificate-warning, or certificate-expired as an
 * error); one a reload kept from before (tls_cert_set_reload()) as
 * event=certificate-unchanged, never as loaded. Returns how many were
 * kept. */
unsigned parent_certs_log(const struct config *cfg, const struct tls_cert_set *set);

#endif
