/*
 * tls_check.h: `sealmail tls-check DOMAIN|HOST:PORT [-c FILE]`, a look at
 * what a delivery would meet (as Postfix's posttls-finger, with sealmail's
 * decision): each MX host's greeting, STARTTLS, the handshake, the chain,
 * the PKIX, DANE and MTA-STS verdicts, REQUIRETLS, and what the SMTP client
 * would conclude (tls_judge()). `--self` prints the TLSA records that match
 * our own certificate, for publishing. Called by main.c.
 */
#ifndef SEALMAIL_TLS_CHECK_H
#define SEALMAIL_TLS_CHECK_H

/* ARGV[0] is "tls-check". Returns the exit status: 0 when every host
 * checked passed, 1 when one did not (or nothing could be checked), 2 on
 * a usage error. */
int cmd_tls_check(int argc, char **argv);

#endif
