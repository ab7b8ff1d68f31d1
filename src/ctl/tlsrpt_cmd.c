/*
 * tlsrpt_cmd.c: see tlsrpt_cmd.h. The request is one line on the control
 * socket, "tls-report show [DOMAIN]" or "tls-report send [--today]"; the
 * answer is an exit status line and text, as for `sealmail queue`.
 */
#include "ctl/tlsrpt_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "ctl/ctl_client.h"

#define TLSRPT_CMD_WORD_MAX 255 /* a domain name; longer words are refused here */

static void tlsrpt_cmd_usage(void)
{
	fprintf(stderr, "usage: sealmail tls-report show [DOMAIN] [-c FILE]\n"
	                "       sealmail tls-report send [--today] [-c FILE]\n");
}

/* The request line for the words ARGV[0..ARGC) into BUF; -1 on bad usage. */
static int tlsrpt_cmd_line(int argc, char **argv, char *buf, size_t size)
{
	int show = argc >= 1 && strcmp(argv[0], "show") == 0;
	int send = argc >= 1 && strcmp(argv[0], "send") == 0;

	if (!(show && argc <= 2) && !(send && argc == 1) &&
	    !(send && argc == 2 && strcmp(argv[1], "--today") == 0))
		return -1;
	if (argc == 2 && (strlen(argv[1]) > TLSRPT_CMD_WORD_MAX || argv[1][0] == '\0' ||
	                  (show && argv[1][0] == '-') || strpbrk(argv[1], " \t\r\n") != NULL))
		return -1;
	snprintf(buf, size, "tls-report %s%s%s", argv[0], argc == 2 ? " " : "",
	         argc == 2 ? argv[1] : "");
	return 0;
}

/* Takes -c FILE out of ARGV (after "tls-report") into *CONFIG_R, the
 * other words into WORDS (at most 3); returns how many, or -1. getopt is
 * not used: "--today" is a word, not an option of its. */
static int tlsrpt_cmd_words(int argc, char **argv, const char **config_r, char **words)
{
	int n = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			*config_r = argv[++i];
		else if (strcmp(argv[i], "-c") == 0 || n == 3)
			return -1;
		else
			words[n++] = argv[i];
	}
	return n;
}

int cmd_tls_report(int argc, char **argv)
{
	const char *config = config_default_path();
	char request[TLSRPT_CMD_WORD_MAX + 32], *words[3];
	int n = tlsrpt_cmd_words(argc, argv, &config, words), r;
	struct config *cfg;

	if (n < 0 || tlsrpt_cmd_line(n, words, request, sizeof(request)) < 0) {
		tlsrpt_cmd_usage();
		return 2;
	}
	if ((cfg = ctl_config_load(config)) == NULL)
		return 1;
	r = ctl_request(cfg, request);
	free(cfg);
	return r;
}
