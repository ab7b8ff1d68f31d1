/*
 * queue_forget_cmd.c: `sealmail policy forget DOMAIN [-c FILE]`; see
 * queue_forget_cmd.h. Checks the domain, loads the configuration (for
 * data_dir) and sends "policy forget DOMAIN" over the control socket
 * (ctl_client.h); the queue's answer is queue_ctl.c's. Called by main.c.
 */
#include "ctl/queue_forget_cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "ctl/ctl_client.h"
#include "lib/util.h"

#define FORGET_DOMAIN_MAX 255 /* RFC 1035 2.3.4 */

static void forget_usage(FILE *f)
{
	fprintf(f, "usage: sealmail policy forget DOMAIN [-c FILE]\n");
}

/* 1 when DOMAIN can be sent as one word of a request line. */
static int forget_domain_ok(const char *domain)
{
	size_t n = strlen(domain);

	if (n == 0 || n > FORGET_DOMAIN_MAX || domain[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)domain[i] <= 0x20 || domain[i] == 0x7f)
			return 0;
	return 1;
}

int cmd_policy_forget(int argc, char **argv)
{
	const char *config = config_default_path();
	char line[FORGET_DOMAIN_MAX + 32];
	struct config *cfg;
	int ch, r;

	optind = 0; /* glibc: start afresh */
	opterr = 0;
	while ((ch = getopt(argc, argv, "c:h")) != -1) {
		if (ch == 'c') {
			config = optarg;
			continue;
		}
		forget_usage(ch == 'h' ? stdout : stderr);
		return ch == 'h' ? 0 : 2;
	}
	if (argc - optind != 1 || !forget_domain_ok(argv[optind])) {
		forget_usage(stderr);
		return 2;
	}
	snprintf(line, sizeof(line), "policy forget %s", argv[optind]);
	str_lower(line);
	if ((cfg = ctl_config_load(config)) == NULL)
		return 1;
	r = ctl_request(cfg, line);
	free(cfg);
	return r;
}
