/*
 * main.c: the sealmail command. `sealmail [-c FILE] SUBCOMMAND ...`: the
 * table below names every subcommand (one or two words), the function that
 * runs it and its usage line; `sealmail --help` prints every usage line,
 * `sealmail SUBCOMMAND --help` its own. The configuration is -c FILE
 * (before or after the subcommand), else $SEALMAIL_CONFIG, else the
 * build's default (config_default_path()). Called as `sendmail`, it is
 * `sealmail send` with sendmail's options (ctl/send_cmd.c); called as
 * `mailq`, it lists the queue in sendmail's layout (ctl/mailq_cmd.c).
 */
#include <getopt.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "daemon/parent.h"
#include "lib/fault.h"
#include "lib/proctitle.h"
#include "lib/util.h"
#include "ctl/config_check_cmd.h"
#include "ctl/config_show_cmd.h"
#include "ctl/ctl_client.h"
#include "ctl/dns_records_cmd.h"
#include "ctl/init_cmd.h"
#include "ctl/mailq_cmd.h"
#include "ctl/policy_cmd.h"
#include "ctl/queue_forget_cmd.h"
#include "ctl/send_cmd.h"
#include "ctl/status_cmd.h"
#include "ctl/stop_cmd.h"
#include "ctl/tlsrpt_cmd.h"
#include "ctl/tls_check.h"
#include "ctl/user_cmd.h"

static int cmd_serve(int argc, char **argv);
static int cmd_queue(int argc, char **argv);

/* One subcommand. RUN gets the words from the last one matched on
 * (ARGV_LAST: argv[0] = SUB, or NAME when there is no SUB), or from
 * NAME (ARGV_NAME: for a function that reads the verb itself). Its
 * --help is USAGE, unless OWN_HELP: RUN prints a longer one itself. */
struct command {
	const char *name;
	const char *sub; /* second word, or NULL */
	int (*run)(int argc, char **argv);
	const char *usage; /* after "sealmail " */
	unsigned flags;
};

#define ARGV_LAST 0
#define ARGV_NAME 1
#define OWN_HELP 2

static const struct command commands[] = {
    {"serve", NULL, cmd_serve, "serve [-c FILE] [-f]", ARGV_LAST},
    {"config", "check", cmd_config_check, "config check [-c FILE]", ARGV_LAST},
    {"config", "show", cmd_config_show, "config show [--all] [-c FILE]", ARGV_LAST},
    {"queue", "list", cmd_queue, "queue list [-c FILE]", ARGV_NAME},
    {"queue", "mailq", cmd_queue, "queue mailq [-c FILE]   (the layout of mailq)", ARGV_NAME},
    {"queue", "show", cmd_queue, "queue show ID [-c FILE]", ARGV_NAME},
    {"queue", "flush", cmd_queue,
     "queue flush [ID] [-c FILE]   (an extra attempt now: the retry schedule stays)", ARGV_NAME},
    {"queue", "hold", cmd_queue, "queue hold ID [-c FILE]", ARGV_NAME},
    {"queue", "release", cmd_queue,
     "queue release ID [--tls-override] [-c FILE]   (ends the hold; delivery is attempted at "
     "once)",
     ARGV_NAME},
    {"queue", "delete", cmd_queue, "queue delete ID [-c FILE]", ARGV_NAME},
    {"policy", "forget", cmd_policy_forget, "policy forget DOMAIN [-c FILE]", ARGV_LAST},
    {"policy", "explain", cmd_policy_explain, "policy explain DOMAIN [--offline] [-c FILE]",
     ARGV_LAST},
    {"tls-check", NULL, cmd_tls_check, "tls-check DOMAIN|HOST:PORT|--self [-c FILE]", ARGV_LAST},
    {"tls-report", "show", cmd_tls_report, "tls-report show [DOMAIN] [-c FILE]", ARGV_NAME},
    {"tls-report", "send", cmd_tls_report, "tls-report send [--today] [-c FILE]", ARGV_NAME},
    {"user", "add", cmd_user, "user add USER@DOMAIN [--stdin] [-c FILE]", ARGV_NAME},
    {"user", "passwd", cmd_user, "user passwd USER@DOMAIN [--stdin] [-c FILE]", ARGV_NAME},
    {"user", "del", cmd_user, "user del USER@DOMAIN [-c FILE]", ARGV_NAME},
    {"user", "list", cmd_user, "user list [-c FILE]", ARGV_NAME},
    {"send", NULL, cmd_send, "send [-c FILE] [-f SENDER] [-t] [-i] RCPT...", ARGV_LAST},
    {"status", NULL, cmd_status, "status [-c FILE]", OWN_HELP},
    {"stop", NULL, cmd_stop, "stop [-c FILE]", OWN_HELP},
    {"dns-records", NULL, cmd_dns_records, "dns-records DOMAIN [-c FILE]", OWN_HELP},
    {"init", NULL, cmd_init,
     "init [--hostname NAME] [--domain DOMAIN]... [--cert FILE] [--key FILE] [--admin ADDRESS] "
     "[--data-dir DIR] [--config FILE] [--users FILE] [--aliases FILE]",
     OWN_HELP},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

/* The usage lines of the subcommands named NAME (every one when NULL)
 * and SUB (every one of NAME when NULL). */
static void usage(FILE *f, const char *name, const char *sub)
{
	const char *lead = "usage: sealmail ";

	if (name == NULL) {
		fprintf(f, "%s[-c FILE] SUBCOMMAND ...\n", lead);
		lead = "       sealmail ";
	}
	for (size_t i = 0; i < N_COMMANDS; i++) {
		if ((name != NULL && strcmp(commands[i].name, name) != 0) ||
		    (sub != NULL && commands[i].sub != NULL && strcmp(commands[i].sub, sub) != 0))
			continue;
		fprintf(f, "%s%s\n", lead, commands[i].usage);
		lead = "       sealmail ";
	}
	if (name == NULL)
		fprintf(f, "       sealmail --help | --version\n"
		           "       sealmail help SUBCOMMAND\n");
	fprintf(f, "FILE: -c FILE (before or after the subcommand), else $SEALMAIL_CONFIG, "
	           "else " CONFIG_DEFAULT_PATH "\n");
}

/* The row for the words ARGV[0..ARGC) (at least one), or NULL. */
static const struct command *command_find(int argc, char **argv)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i].name, argv[0]) == 0 &&
		    (commands[i].sub == NULL ||
		     (argc >= 2 && strcmp(commands[i].sub, argv[1]) == 0)))
			return &commands[i];
	return NULL;
}

/* 1 when NAME is the first word of a row. */
static int command_known(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return 1;
	return 0;
}

/* 1 when the arguments after a subcommand's words ask for its usage:
 * -h first, or --help anywhere before "--" (not as the value of -c). */
static int wants_help(int argc, char **argv)
{
	if (argc >= 1 && strcmp(argv[0], "-h") == 0)
		return 1;
	for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--help") == 0)
			return 1;
		i += strcmp(argv[i], "-c") == 0;
	}
	return 0;
}

/* Options before the subcommand: -c FILE (passed on as $SEALMAIL_CONFIG,
 * which every subcommand's default reads), --help, --version. Returns
 * the index of the subcommand's first word; exits when done or wrong. */
static int global_options(int argc, char **argv)
{
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0)
			return i + 1;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout, NULL, NULL);
			exit(0);
		}
		if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
			printf("sealmail %s\n", SEALMAIL_VERSION);
			exit(0);
		}
		if (strncmp(a, "-c", 2) == 0 && (a[2] != '\0' || i + 1 < argc)) {
			setenv("SEALMAIL_CONFIG", a[2] != '\0' ? a + 2 : argv[++i], 1);
			continue;
		}
		if (strcmp(a, "-c") == 0)
			fprintf(stderr, "sealmail: -c needs a FILE\n");
		else
			fprintf(stderr, "sealmail: unknown option '%s'\n", a);
		usage(stderr, NULL, NULL);
		exit(2);
	}
	return i;
}

/* `sealmail help [NAME [SUB]]`. */
static int command_help(int argc, char **argv)
{
	const struct command *c = argc >= 1 ? command_find(argc, argv) : NULL;
	char help[] = "--help";

	if (c != NULL && (c->flags & OWN_HELP)) { /* the words RUN takes, then --help */
		char *words[4];
		int n = 0;
		if (c->sub == NULL || (c->flags & ARGV_NAME))
			words[n++] = (char *)c->name;
		if (c->sub != NULL)
			words[n++] = (char *)c->sub;
		words[n++] = help;
		words[n] = NULL;
		return c->run(n, words);
	}
	if (argc == 0)
		usage(stdout, NULL, NULL);
	else if (c != NULL)
		usage(stdout, c->name, c->sub);
	else if (command_known(argv[0]))
		usage(stdout, argv[0], NULL);
	else {
		fprintf(stderr, "sealmail: no subcommand '%s'\n", argv[0]);
		usage(stderr, NULL, NULL);
		return 2;
	}
	return 0;
}

/* No row for the words ARGV[0..ARGC): `queue --help` is the usage of
 * every queue verb (exit 0); the rest is a usage error. */
static int command_unknown(int argc, char **argv)
{
	int known = argc >= 1 && command_known(argv[0]);

	if (known && wants_help(argc - 1, argv + 1)) {
		usage(stdout, argv[0], NULL);
		return 0;
	}
	if (argc == 0)
		fprintf(stderr, "sealmail: no subcommand given\n");
	else if (!known)
		fprintf(stderr, "sealmail: no subcommand '%s'\n", argv[0]);
	else if (argc == 1)
		fprintf(stderr, "sealmail: %s: which one?\n", argv[0]);
	else
		fprintf(stderr, "sealmail: %s: no such subcommand '%s'\n", argv[0], argv[1]);
	usage(stderr, known ? argv[0] : NULL, NULL);
	return 2;
}

/* Parses -c FILE and -f after the subcommand words; says what is wrong. */
static int parse_options(int argc, char **argv, const char **config_r, int *foreground_r)
{
	static const struct option none[] = {{NULL, 0, NULL, 0}};
	int ch;

	optind = 1;
	opterr = 0; /* getopt's words would name the subcommand as the program */
	while ((ch = getopt_long(argc, argv, ":c:f", none, NULL)) != -1) {
		if (ch == 'c')
			*config_r = optarg;
		else if (ch == 'f' && foreground_r != NULL)
			*foreground_r = 1;
		else {
			fprintf(stderr, "sealmail: %s: %s '%s'\n", argv[0],
			        ch == ':' ? "no value after" : "unknown option", argv[optind - 1]);
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
	const char *config = config_default_path();
	int foreground = 0;

	if (parse_options(argc, argv, &config, &foreground) < 0 || optind != argc) {
		usage(stderr, "serve", NULL);
		return 2;
	}
	close_inherited_descriptors();
	return parent_main(config, foreground);
}

/* Whether `queue VERB` takes NARGS words after it: an ID for show, hold,
 * release and delete, none for list and mailq, either for flush; and
 * --tls-override (OVERRIDE) for release only. Checked here, so that a
 * missing ID is a usage error rather than a request the server calls
 * unknown. */
static int queue_words_ok(const char *verb, int nargs, int override)
{
	if (override && strcmp(verb, "release") != 0)
		return 0;
	if (strcmp(verb, "list") == 0 || strcmp(verb, "mailq") == 0)
		return nargs == 0;
	if (strcmp(verb, "flush") == 0)
		return nargs <= 1;
	return nargs == 1;
}

static int cmd_queue(int argc, char **argv)
{
	const char *config = config_default_path();
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
	if (parse_options(argc, argv, &config, NULL) < 0 || optind >= argc ||
	    !queue_words_ok(argv[optind], argc - optind - 1, override)) {
		usage(stderr, "queue", optind < argc ? argv[optind] : NULL);
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
	const struct command *c;
	int i, words, from;

	fault_init();
	proctitle_init(argc, argv);
	if (strcmp(self, "sendmail") == 0)
		return cmd_send(argc, argv);
	if (strcmp(self, "mailq") == 0)
		return cmd_mailq(argc, argv);
	i = global_options(argc, argv);
	if (i < argc && strcmp(argv[i], "help") == 0)
		return command_help(argc - i - 1, argv + i + 1);
	c = i < argc ? command_find(argc - i, argv + i) : NULL;
	if (c == NULL)
		return command_unknown(argc - i, argv + i);
	words = c->sub != NULL ? 2 : 1;
	if (!(c->flags & OWN_HELP) && wants_help(argc - i - words, argv + i + words)) {
		usage(stdout, c->name, c->sub);
		return 0;
	}
	from = c->flags & ARGV_NAME ? i : i + words - 1;
	return c->run(argc - from, argv + from);
}
