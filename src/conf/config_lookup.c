/*
 * config_lookup.c: questions the roles ask of a loaded configuration while
 * they run: is a domain local, may a client relay, where is the local
 * submission socket. The SMTP session, the queue, the lookup role and the
 * command-line tools call them.
 */
#include "conf/config.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int config_is_local_domain(const struct config *cfg, const char *domain)
{
	for (unsigned i = 0; domain && i < cfg->n_local_domains; i++)
		if (strcasecmp(cfg->local_domains[i], domain) == 0)
			return 1;
	return 0;
}

/* 1 when the first PREFIX bits of A and B are equal. */
static int prefix_equal(const unsigned char *a, const unsigned char *b, unsigned prefix)
{
	unsigned bytes = prefix / 8, rest = prefix % 8;
	if (memcmp(a, b, bytes) != 0)
		return 0;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return rest == 0 || ((a[bytes] ^ b[bytes]) & mask) == 0;
}

int config_is_trusted_client(const struct config *cfg, const struct sockaddr *sa)
{
	unsigned char addr[16];
	int family = sa ? sa->sa_family : AF_UNSPEC;
	if (family == AF_INET) {
		struct sockaddr_in a4;
		memcpy(&a4, sa, sizeof a4);
		memcpy(addr, &a4.sin_addr, 4);
	} else if (family == AF_INET6) {
		struct sockaddr_in6 a6;
		memcpy(&a6, sa, sizeof a6);
		memcpy(addr, &a6.sin6_addr, 16);
		if (IN6_IS_ADDR_V4MAPPED(&a6.sin6_addr)) {
			memmove(addr, addr + 12, 4);
			family = AF_INET;
		}
	} else {
		return 0;
	}
	for (unsigned i = 0; i < cfg->n_trusted_networks; i++) {
		const struct config_network *net = &cfg->trusted_networks[i];
		if (net->family == family && prefix_equal(net->addr, addr, net->prefix))
			return 1;
	}
	return 0;
}

void config_submit_socket(const struct config *cfg, int as_root, char *buf, size_t size)
{
	if (cfg->submit_socket[0] != '\0')
		snprintf(buf, size, "%s", cfg->submit_socket);
	else if (as_root)
		snprintf(buf, size, "/run/sealmail/submit.sock");
	else
		snprintf(buf, size, "%s/submit.sock", cfg->data_dir);
}

void config_pidfile(const struct config *cfg, char *buf, size_t size)
{
	if (cfg->pidfile[0] != '\0')
		snprintf(buf, size, "%s", cfg->pidfile);
	else
		snprintf(buf, size, "%s/sealmail.pid", cfg->data_dir);
}

const char *config_metrics_warning(const struct config *cfg)
{
	const struct sockaddr_storage *ss = &cfg->metrics_address;
	static char text[4400];

	if (cfg->metrics_address_len == 0)
		return NULL;
	if (ss->ss_family == AF_INET &&
	    (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127)
		return NULL;
	if (ss->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr))
		return NULL;
	snprintf(text, sizeof(text),
	         "%s:%d: [metrics] listen: warning: %s is not a loopback address: the metrics are "
	         "served in plain HTTP to whoever connects; firewall the port or listen on "
	         "127.0.0.1",
	         cfg->path, cfg->metrics_listen_line, cfg->metrics_listen);
	return text;
}
