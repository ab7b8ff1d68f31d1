/*
 * main.c: the sealmail command. Each subcommand takes -c FILE (default
 * /etc/sealmail/sealmail.conf).
 *
 *   sealmail serve [-c FILE] [-f]     run the server (-f: foreground, log to stderr)
 *   sealmail config check [-c FILE]   validate the configuration
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "daemon/parent.h"
#include "lib/util.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: sealmail serve [-c FILE] [-f]\n"
	           "       sealmail config check [-c FILE]\n"
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
	return optind == argc ? 0 : -1;
}

static int cmd_serve(int argc, char **argv)
{
	const char *config = CONFIG_DEFAULT_PATH;
	int foreground = 0;

	if (parse_options(argc, argv, &config, &foreground) < 0) {
		usage(stderr);
		return 2;
	}
	return parent_main(config, foreground);
}

static int cmd_config_check(int argc, char **argv)
{
	const char *config = CONFIG_DEFAULT_PATH;
	struct config *cfg = xmalloc(sizeof(*cfg));
	char *errors = NULL;
	int r;

	if (parse_options(argc, argv, &config, NULL) < 0) {
		usage(stderr);
		return 2;
	}
	r = config_load(cfg, config, &errors);
	if (r < 0)
		fprintf(stderr, "%s\n", errors);
	else
		printf("%s: ok\n", config);
	free(errors);
	free(cfg);
	return r < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "serve") == 0)
		return cmd_serve(argc - 1, argv + 1);
	if (argc >= 3 && strcmp(argv[1], "config") == 0 && strcmp(argv[2], "check") == 0)
		return cmd_config_check(argc - 2, argv + 2);
	usage(stderr);
	return 2;
}
