/*
 * main.c: the sealmail command. Each subcommand takes -c FILE (default
 * /etc/sealmail/sealmail.conf).
 *
 *   sealmail serve [-c FILE] [-f]     run the server (-f: foreground, log to stderr)
 *   sealmail config check [-c FILE]   validate the configuration
 *   sealmail queue list|show ID|flush [ID]|hold ID|release ID [--tls-override]|delete ID [-c FILE]
 *   sealmail policy forget DOMAIN [-c FILE]
 *   sealmail policy explain DOMAIN [--offline] [-c FILE]
 *   sealmail tls-check DOMAIN|HOST:PORT|--self [-c FILE]
 *   sealmail tls-report show [DOMAIN]|send [--today] [-c FILE]
 *   sealmail user add|passwd|del|list [USER@DOMAIN] [--stdin] [-c FILE]
 *   sealmail send [-f SENDER] [-t] [-i] RCPT...   (also as `sendmail`)
 */
#include <getopt.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "daemon/parent.h"
#include "lib/fault.h"
#include "lib/util.h"
#include "ctl/config_show_cmd.h"
#include "ctl/ctl_client.h"
#include "ctl/policy_cmd.h"
#include "ctl/queue_forget_cmd.h"
#include "ctl/send_cmd.h"
#include "ctl/tlsrpt_cmd.h"
#include "ctl/tls_check.h"
#include "ctl/user_cmd.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: sealmail serve [-c FILE] [-f]\n"
	           "       sealmail config check [-c FILE]\n"
	           "       sealmail config show [--all] [-c FILE]\n"
	           "       sealmail queue list|show ID|flush [ID]|hold ID|release ID "
	           "[--tls-override]|delete ID [-c FILE]\n"
	           "       sealmail policy forget DOMAIN [-c FILE]\n"
	           "       sealmail policy explain DOMAIN [--offline] [-c FILE]\n"
	           "       sealmail tls-check DOMAIN|HOST:PORT [-c FILE]\n"
	           "       sealmail tls-check --self [-c FILE]\n"
	           "       sealmail tls-report show [DOMAIN] [-c FILE]\n"
	           "       sealmail tls-report send [--today] [-c FILE]\n"
	           "       sealmail user add|passwd|del USER@DOMAIN [--stdin] [-c FILE]\n"
	           "       sealmail user list [-c FILE]\n"
	           "       sealmail send [-c FILE] [-f SENDER] [-t] [-i] RCPT...\n"
	           "Default FILE: " CONFIG_DEFAULT_PATH "\n");
}

/* Parses -c FILE and -f after the subcommand words. */
static int parse_options(int argc, char **argv, const char **config_r, int *foreground_r)
{
	int ch;

	optind = 1;
	while ((ch = getopt(argc, argv, "c:fh")) != -1) {
		switch (ch) {
		case 'c':
			*config_r = optarg;
			break;
		case 'f':
			if (foreground_r == NULL)
				return -1;
			*foreground_r = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	return 0;
}

/* A descriptor the server did not open itself (say a directory handed
 * down by whoever started it) would reach the chrooted roles through fork
 * and let them out of their chroot: everything but stdin, stdout and
 * stderr is closed before anything else is opened. */
static void close_inherited_descriptors(void)
{
	if (close_range(3, ~0U, 0) == 0)
		return;
	for (int fd = 3; fd < 65536; fd++) /* kernels before 5.9 */
		(void)close(fd);
}

static int cmd_serve(int argc, char **argv)
{
	const char *config = CONFIG_DEFAULT_PATH;
	int foreground = 0;

	if (parse_options(argc, argv, &config, &foreground) < 0 || optind != argc) {
		usage(stderr);
		return 2;
	}
	close_inherited_descriptors();
	return parent_main(config, foreground);
}

static int cmd_config_check(int argc, char **argv)
{
	const char *config = CONFIG_DEFAULT_PATH;
	struct config *cfg = xmalloc(sizeof(*cfg));
	char *errors = NULL;
	int r;

	if (parse_options(argc, argv, &config, NULL) < 0 || optind != argc) {
		usage(stderr);
		return 2;
	}
	r = config_load(cfg, config, &errors);
	if (r == 0)
		r = config_check_files(cfg, &errors);
	if (r == 0 && config_metrics_warning(cfg) != NULL)
		fprintf(stderr, "%s\n", config_metrics_warning(cfg));
	if (r < 0)
		fprintf(stderr, "%s\n", errors);
	else
		printf("%s: ok\n", config);
	free(errors);
	free(cfg);
	return r < 0 ? 1 : 0;
}

static int cmd_queue(int argc, char **argv)
{
	const char *config = CONFIG_DEFAULT_PATH;
	char request[512] = "queue";
	struct config *cfg;
	int i, r, override = 0;

	/* `queue release ID --tls-override`: a word getopt must not see */
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--tls-override") == 0) {
			override = 1;
			memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) * sizeof(argv[0]));
			argc--;
			break;
		}
	if (parse_options(argc, argv, &config, NULL) < 0 || optind >= argc || argc - optind > 2) {
		usage(stderr);
		return 2;
	}
	for (i = optind; i < argc; i++) {
		if (strpbrk(argv[i], " \t\r\n") != NULL || strlen(argv[i]) > 100) {
			fprintf(stderr, "sealmail: bad argument '%s'\n", argv[i]);
			return 2;
		}
		strcat(request, " ");
		strcat(request, argv[i]);
	}
	if (override)
		strcat(request, " --tls-override");
	if ((cfg = ctl_config_load(config)) == NULL)
		return 1;
	r = ctl_request(cfg, request);
	free(cfg);
	return r;
}

int main(int argc, char **argv)
{
	const char *self = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];

	fault_init();
	if (strcmp(self, "sendmail") == 0)
		return cmd_send(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "send") == 0)
		return cmd_send(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "user") == 0)
		return cmd_user(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "queue") == 0)
		return cmd_queue(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "tls-report") == 0)
		return cmd_tls_report(argc - 1, argv + 1);
	if (argc >= 3 && strcmp(argv[1], "policy") == 0 && strcmp(argv[2], "forget") == 0)
		return cmd_policy_forget(argc - 2, argv + 2);
	if (argc >= 3 && strcmp(argv[1], "policy") == 0 && strcmp(argv[2], "explain") == 0)
		return cmd_policy_explain(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "tls-check") == 0)
		return cmd_tls_check(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "serve") == 0)
		return cmd_serve(argc - 1, argv + 1);
	if (argc >= 3 && strcmp(argv[1], "config") == 0 && strcmp(argv[2], "show") == 0)
		return cmd_config_show(argc - 2, argv + 2);
	if (argc >= 3 && strcmp(argv[1], "config") == 0 && strcmp(argv[2], "check") == 0)
		return cmd_config_check(argc - 2, argv + 2);
	usage(stderr);
	return 2;
}
