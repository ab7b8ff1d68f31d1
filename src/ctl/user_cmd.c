/*
 * user_cmd.c: see user_cmd.h. Passwords are read without stdio (no copies
 * left in its buffers), from the terminal with echo off or, with --stdin,
 * from the first line of standard input, and wiped once hashed.
 */
#include "ctl/user_cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "auth/password.h"
#include "auth/userfile.h"
#include "conf/config.h"
#include "ctl/ctl_client.h"
#include "lib/util.h"
#include "mail/maildir_name.h"
#include "smtp/smtp_parse.h"

#define USER_PASSWORD_INPUT 1024 /* longer than any password_hash() takes */
#define USER_ADDRESS_MAX (SMTP_PATH_MAX + 8)

enum user_action { USER_ADD, USER_PASSWD, USER_DEL, USER_LIST };

struct user_args {
	enum user_action action;
	const char *config;
	const char *address; /* NULL for list */
	int from_stdin;
};

static const struct {
	const char *name;
	enum user_action action;
	int takes_address;
	int takes_password;
} user_actions[] = {
    {"add", USER_ADD, 1, 1},
    {"passwd", USER_PASSWD, 1, 1},
    {"del", USER_DEL, 1, 0},
    {"list", USER_LIST, 0, 0},
};

#define N_USER_ACTIONS (sizeof(user_actions) / sizeof(user_actions[0]))

static void user_usage(FILE *f)
{
	fprintf(f, "usage: sealmail user add USER@DOMAIN [--stdin] [-c FILE]\n"
	           "       sealmail user passwd USER@DOMAIN [--stdin] [-c FILE]\n"
	           "       sealmail user del USER@DOMAIN [-c FILE]\n"
	           "       sealmail user list [-c FILE]\n"
	           "--stdin: read the password from the first line of standard input instead "
	           "of asking on the terminal\n"
	           "FILE: -c FILE, else $SEALMAIL_CONFIG, else " CONFIG_DEFAULT_PATH "\n");
}

/* ---- arguments ---------------------------------------------------------- */

/* Index into user_actions[] of NAME, or -1. */
static int user_action_index(const char *name)
{
	for (size_t i = 0; i < N_USER_ACTIONS; i++)
		if (strcmp(user_actions[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Parses "user ACTION [ADDRESS] [options]" into *ARGS. Returns 0, 1 when
 * -h printed the usage, -1 on a usage error. */
static int user_parse(int argc, char **argv, struct user_args *args)
{
	static const struct option options[] = {
	    {"stdin", no_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int i = argc >= 2 ? user_action_index(argv[1]) : -1, ch;

	memset(args, 0, sizeof(*args));
	args->config = config_default_path();
	if (i < 0)
		return argc >= 2 && strcmp(argv[1], "-h") == 0 ? 1 : -1;
	args->action = user_actions[i].action;
	/* glibc: 0 starts getopt afresh, option permutation state included;
	 * its messages would name the action as the program */
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc - 1, argv + 1, "c:h", options, NULL)) != -1) {
		if (ch == 'c')
			args->config = optarg;
		else if (ch == 's' && user_actions[i].takes_password)
			args->from_stdin = 1;
		else
			return ch == 'h' ? 1 : -1;
	}
	if (argc - 1 - optind != user_actions[i].takes_address)
		return -1;
	args->address = user_actions[i].takes_address ? argv[1 + optind] : NULL;
	return 0;
}

/* ---- addresses ---------------------------------------------------------- */

/* Parses ADDRESS as user@domain into *PATH; NULL, or what is wrong. */
static const char *user_address_problem(const char *address, struct smtp_path *path)
{
	char arg[USER_ADDRESS_MAX];
	struct smtp_param params[SMTP_MAX_PARAMS];
	unsigned n_params;
	const char *why = NULL;

	if (strpbrk(address, "<> \t\r\n") != NULL)
		return "white space and angle brackets are not allowed";
	if ((size_t)snprintf(arg, sizeof(arg), "<%s>", address) >= sizeof(arg))
		return "it is too long";
	if (smtp_path_parse(arg, 0, 0, path, params, &n_params, &why) < 0)
		return why;
	if (path->quoted)
		return "quoted local parts are not supported in the users file";
	snprintf(arg, sizeof(arg), "%s@%s", path->local, path->domain);
	return maildir_address_problem(arg);
}

/* Checks ADDRESS, user@domain with the domain one of local_domains when
 * MUST_BE_LOCAL, and puts it lower-cased into OUT of USER_ADDRESS_MAX.
 * Returns 0, or -1 (reported). */
static int user_address(const struct config *cfg, const char *address, int must_be_local, char *out)
{
	struct smtp_path path;
	const char *why = user_address_problem(address, &path);

	if (why != NULL) {
		fprintf(stderr, "sealmail user: '%s' is not an address user@domain (%s)\n", address,
		        why);
		return -1;
	}
	if (must_be_local && !config_is_local_domain(cfg, path.domain)) {
		fprintf(stderr, "sealmail user: %s is not one of local_domains in %s\n",
		        path.domain, cfg->path);
		return -1;
	}
	snprintf(out, USER_ADDRESS_MAX, "%s@%s", path.local, path.domain);
	str_lower(out);
	return 0;
}

/* ---- passwords ---------------------------------------------------------- */

/* The terminal while echo is off, for the signal handler. */
static int tty_fd = -1;
static struct termios tty_saved;
static volatile sig_atomic_t tty_echo_off;

/* Turns echo back on before dying of SIG, so the shell is usable. */
static void tty_restore_and_die(int sig)
{
	if (tty_echo_off)
		tcsetattr(tty_fd, TCSAFLUSH, &tty_saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Reads one line from FD into BUF of SIZE, one octet at a time so nothing
 * is read past it, without its "\n" (or "\r\n"). Returns its length, -1 on
 * a read error, -2 when it does not fit (the rest of it is read and
 * dropped). */
static long read_password_line(int fd, char *buf, size_t size)
{
	size_t len = 0;
	int too_long = 0;
	char c;

	for (;;) {
		ssize_t n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0 || c == '\n')
			break;
		if (len + 1 < size)
			buf[len++] = c;
		else
			too_long = 1;
	}
	explicit_bzero(&c, sizeof(c));
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	buf[len] = '\0';
	return too_long ? -2 : (long)len;
}

static const int tty_fatal_signals[] = {SIGINT, SIGTERM, SIGQUIT, SIGHUP};
#define N_TTY_SIGNALS (sizeof(tty_fatal_signals) / sizeof(tty_fatal_signals[0]))

/* Installs (RESTORE 0) or removes (1) the handlers that put echo back;
 * OLD keeps the previous ones. Stopping (^Z, the extra last entry) is
 * ignored meanwhile: the shell would get the terminal back without echo. */
static void tty_signals(struct sigaction *old, int restore)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < N_TTY_SIGNALS + 1; i++) {
		int sig = i < N_TTY_SIGNALS ? tty_fatal_signals[i] : SIGTSTP;
		if (restore) {
			sigaction(sig, &old[i], NULL);
			continue;
		}
		sa.sa_handler = i < N_TTY_SIGNALS ? tty_restore_and_die : SIG_IGN;
		sigaction(sig, &sa, &old[i]);
	}
}

/* Writes PROMPT to the terminal FD and reads a line with echo off into
 * BUF of SIZE. Returns read_password_line()'s result, or -1. */
static long ask_password(int fd, const char *prompt, char *buf, size_t size)
{
	struct sigaction old[N_TTY_SIGNALS + 1];
	struct termios noecho;
	long len;
	int saved_errno;

	if (tcgetattr(fd, &tty_saved) < 0)
		return -1;
	noecho = tty_saved;
	noecho.c_lflag &= (tcflag_t) ~(ECHO | ECHOE | ECHOK | ECHONL);
	tty_fd = fd;
	tty_signals(old, 0);
	tty_echo_off = 1;
	/* echo off first: TCSAFLUSH drops typeahead, which must not include
	 * what is typed once the prompt shows */
	if (tcsetattr(fd, TCSAFLUSH, &noecho) < 0 || write_all(fd, prompt, strlen(prompt)) < 0)
		len = -1;
	else
		len = read_password_line(fd, buf, size);
	saved_errno = errno;
	tcsetattr(fd, TCSAFLUSH, &tty_saved);
	tty_echo_off = 0;
	tty_signals(old, 1);
	(void)write_all(fd, "\n", 1);
	errno = saved_errno;
	return len;
}

/* Reports what is wrong with a password line read: LEN as returned by
 * read_password_line(). Returns 0 when it is usable, -1 otherwise. */
static int password_read_result(long len, const char *where)
{
	if (len == -1)
		fprintf(stderr, "sealmail user: cannot read the password from %s: %s\n", where,
		        strerror(errno));
	else if (len == -2)
		fprintf(stderr, "sealmail user: the password is too long\n");
	else if (len == 0)
		fprintf(stderr, "sealmail user: the password is empty\n");
	return len > 0 ? 0 : -1;
}

/* Asks for the password twice on the terminal; 0 when both agree. */
static int password_from_tty(char *buf, size_t size)
{
	char again[USER_PASSWORD_INPUT];
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY), r;

	if (fd < 0) {
		fprintf(stderr,
		        "sealmail user: no terminal to ask for the password on (%s); use --stdin\n",
		        strerror(errno));
		return -1;
	}
	r = password_read_result(ask_password(fd, "Password: ", buf, size), "the terminal");
	if (r == 0)
		r = password_read_result(ask_password(fd, "Again: ", again, sizeof(again)),
		                         "the terminal");
	if (r == 0 && strcmp(buf, again) != 0) {
		fprintf(stderr, "sealmail user: the passwords differ\n");
		r = -1;
	}
	explicit_bzero(again, sizeof(again));
	close(fd);
	return r;
}

/* Reads the password into BUF of SIZE as ARGS say; 0 or -1 (reported). */
static int read_password(const struct user_args *args, char *buf, size_t size)
{
	if (args->from_stdin)
		return password_read_result(read_password_line(STDIN_FILENO, buf, size),
		                            "standard input");
	return password_from_tty(buf, size);
}

/* Reads a password and hashes it into HASH of PASSWORD_HASH_MAX. */
static int new_hash(const struct user_args *args, char *hash)
{
	char password[USER_PASSWORD_INPUT];
	const char *why;
	int r = read_password(args, password, sizeof(password));

	if (r == 0 && (r = password_hash(password, hash, PASSWORD_HASH_MAX, &why)) < 0)
		fprintf(stderr, "sealmail user: %s\n", why);
	explicit_bzero(password, sizeof(password));
	return r;
}

/* ---- actions ------------------------------------------------------------ */

static void print_user(const char *address, int can_login, void *arg)
{
	(void)arg;
	printf("%s%s\n", address, can_login ? "" : " (no login)");
}

/* After an edit of PATH, which had mode OLD before it (0: none): says on
 * stderr when the edit narrowed a mode wider than 0640 (userfile.h). */
static void user_mode_note(const char *path, unsigned old)
{
	unsigned wider = old & 07777 & ~(unsigned)USERFILE_DEFAULT_MODE;

	if (wider == 0)
		return;
	fprintf(stderr,
	        "sealmail user: %s was mode %04o (%s); it is %04o now\n", path, old & 07777,
	        (wider & 0007) ? "other users could read or change the password hashes"
	        : (wider & 0020) ? "its group could change the password hashes"
	                         : "more than owner read-write and group read",
	        old & USERFILE_DEFAULT_MODE);
}

/* Runs ARGS->action on the users file of CFG; ADDRESS is checked already. */
static int user_run(const struct config *cfg, const struct user_args *args, const char *address)
{
	char hash[PASSWORD_HASH_MAX], *error = NULL;
	struct stat st;
	unsigned old_mode = 0;
	int r = 0;

	if (args->action == USER_ADD || args->action == USER_PASSWD)
		r = new_hash(args, hash);
	if (r < 0)
		return 1;
	if (args->action != USER_LIST && stat(cfg->users, &st) == 0)
		old_mode = (unsigned)st.st_mode;
	if (args->action == USER_ADD)
		r = userfile_add(cfg->users, address, hash, &error);
	else if (args->action == USER_PASSWD)
		r = userfile_set_hash(cfg->users, address, hash, &error);
	else if (args->action == USER_DEL)
		r = userfile_delete(cfg->users, address, &error);
	else
		r = userfile_list(cfg->users, print_user, NULL, &error);
	if (r < 0)
		fprintf(stderr, "sealmail user: %s\n", error ? error : "out of memory");
	else if (args->action != USER_LIST)
		user_mode_note(cfg->users, old_mode);
	free(error);
	explicit_bzero(hash, sizeof(hash));
	if (fflush(stdout) != 0 && r == 0) {
		fprintf(stderr, "sealmail user: cannot write the list: %s\n", strerror(errno));
		r = -1;
	}
	return r < 0 ? 1 : 0;
}

int cmd_user(int argc, char **argv)
{
	struct user_args args;
	struct config *cfg;
	char address[USER_ADDRESS_MAX] = "";
	int r = user_parse(argc, argv, &args);

	if (r != 0) {
		user_usage(r > 0 ? stdout : stderr);
		return r > 0 ? 0 : 2;
	}
	if ((cfg = ctl_config_load(args.config)) == NULL)
		return 1;
	if (args.address != NULL &&
	    user_address(cfg, args.address, args.action != USER_DEL, address) < 0)
		r = 1;
	else
		r = user_run(cfg, &args, address);
	free(cfg);
	return r;
}
