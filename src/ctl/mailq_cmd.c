/*
 * mailq_cmd.c: `mailq`, the name sendmail and Postfix list their queue by
 * (the install makes it a link to sealmail); `sealmail queue mailq`
 * prints the same. The layout itself is made by the queue (queue/queue_ctl.c); this sends the
 * request over the control socket (ctl_client.h). Called by main.c.
 */
#include "ctl/mailq_cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "ctl/ctl_client.h"

static void mailq_usage(FILE *f)
{
	fprintf(f, "usage: mailq [-c FILE] [-v]\n"
	           "The queue in the sendmail/Postfix layout: each message's id (\"*\": a\n"
	           "delivery in progress, \"!\": held), size, arrival time and sender, then\n"
	           "each recipient not yet delivered after its last deferral reason.\n"
	           "Same as `sealmail queue mailq`. -v is accepted and ignored.\n"
	           "Default FILE: $SEALMAIL_CONFIG, else " CONFIG_DEFAULT_PATH "\n");
}

int cmd_mailq(int argc, char **argv)
{
	const char *config = config_default_path();
	struct config *cfg;
	int ch, r;

	if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
		mailq_usage(stdout);
		return 0;
	}
	optind = 0; /* glibc: start afresh */
	opterr = 0;
	while ((ch = getopt(argc, argv, "c:hv")) != -1) {
		if (ch == 'c')
			config = optarg;
		else if (ch != 'v') {
			mailq_usage(ch == 'h' ? stdout : stderr);
			return ch == 'h' ? 0 : 2;
		}
	}
	if (optind != argc) {
		mailq_usage(stderr);
		return 2;
	}
	if ((cfg = ctl_config_load(config)) == NULL)
		return 1;
	r = ctl_request(cfg, "queue mailq");
	free(cfg);
	return r;
}
