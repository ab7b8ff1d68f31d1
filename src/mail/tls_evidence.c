/*
 * tls_evidence.c: the names of DNSSEC statuses and MTA-STS modes, for logs,
 * `policy explain` and TLS-RPT; see tls_evidence.h.
 */
#include "mail/tls_evidence.h"

const char *dnssec_status_name(uint32_t status)
{
	static const char *const names[] = {"insecure", "secure", "bogus"};

	return status < 3 ? names[status] : "?";
}

const char *sts_mode_name(uint32_t mode)
{
	static const char *const names[] = {"absent", "none", "testing", "enforce"};

	return mode < 4 ? names[mode] : "?";
}
