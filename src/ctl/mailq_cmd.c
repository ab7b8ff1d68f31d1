/*
 * mailq_cmd.c: `mailq`, the name sendmail and Postfix list their queue by
 * (the install makes it a link to sealmail), and the help text of
 * `sealmail queue`, whose `queue mailq` request prints the same. The
 * layout itself is made by the queue (queue/queue_ctl.c); this sends the
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

void queue_usage(FILE *f)
{
	fprintf(f,
	        "usage: sealmail queue list|mailq|show ID|flush [ID]|hold ID|release ID "
	        "[--tls-override]|delete ID [-c FILE]\n"
	        "  list          every message, its state and each recipient's:\n"
	        "                pending (not tried yet), active (being delivered),\n"
	        "                deferred (tried, retried at next=, with the last reason),\n"
	        "                held, delivered, bounced\n"
	        "  mailq         the same in the sendmail/Postfix mailq layout\n"
	        "  show ID       one message: every recipient with its last attempt, the\n"
	        "                envelope explained, the login used, the header\n"
	        "  flush [ID]    an extra attempt now (every deferred message without ID);\n"
	        "                it does not move the retry schedule: when it fails, the\n"
	        "                next attempt stays when it was due\n"
	        "  hold ID       no attempt until released\n"
	        "  release ID    ends the hold and attempts delivery at once, as a flush\n"
	        "                does; --tls-override: that one attempt with TLS level may\n"
	        "  delete ID     removes the message without a bounce\n");
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
