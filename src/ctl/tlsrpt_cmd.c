/*
 * tlsrpt_cmd.c: see tlsrpt_cmd.h. The request is one line on the control
 * socket, "tls-report show [DOMAIN]" or "tls-report send [--today]"; the
 * answer is an exit status line and text, as for `sealmail queue`.
 */
#include "ctl/tlsrpt_cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "conf/config.h"
#include "lib/util.h"

#define TLSRPT_CMD_WORD_MAX 255 /* a domain name; longer words are refused here */
#define TLSRPT_CMD_ANSWER_CHUNK 65536

static void tlsrpt_cmd_usage(void)
{
	fprintf(stderr, "usage: sealmail tls-report show [DOMAIN] [-c FILE]\n"
	                "       sealmail tls-report send [--today] [-c FILE]\n");
}

/* Connects to DATA_DIR/control.sock; -1 (said on stderr) when it cannot. */
static int tlsrpt_cmd_connect(const char *data_dir)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/control.sock", data_dir) >=
	    sizeof(sun.sun_path)) {
		fprintf(stderr, "sealmail: data_dir is too long for a socket path\n");
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "sealmail: cannot reach the server at %s: %s (is it running?)\n",
		        sun.sun_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Sends REQUEST and copies the answer's text to stdout (stderr when its
 * status line says it failed). Returns the exit status. */
static int tlsrpt_cmd_request(const struct config *cfg, const char *request)
{
	char *buf;
	int fd = tlsrpt_cmd_connect(cfg->data_dir), status = -1;
	ssize_t n;

	if (fd < 0)
		return 1;
	if (write_all(fd, request, strlen(request)) < 0 || write_all(fd, "\n", 1) < 0) {
		fprintf(stderr, "sealmail: control socket: %s\n", strerror(errno));
		close(fd);
		return 1;
	}
	buf = xmalloc(TLSRPT_CMD_ANSWER_CHUNK);
	while ((n = read(fd, buf, TLSRPT_CMD_ANSWER_CHUNK)) > 0) {
		char *text = buf;
		if (status < 0) {
			status = buf[0] == '0' ? 0 : 1; /* the first line is the exit status */
			text = memchr(buf, '\n', (size_t)n);
			text = text ? text + 1 : buf + n;
		}
		fwrite(text, 1, (size_t)(buf + n - text), status == 0 ? stdout : stderr);
	}
	free(buf);
	close(fd);
	if (status < 0)
		fprintf(stderr, "sealmail: no answer from the server\n");
	return status < 0 ? 1 : status;
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
	                  strpbrk(argv[1], " \t\r\n") != NULL))
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
	const char *config = CONFIG_DEFAULT_PATH;
	char request[TLSRPT_CMD_WORD_MAX + 32], *errors = NULL, *words[3];
	int n = tlsrpt_cmd_words(argc, argv, &config, words), r;
	struct config *cfg;

	if (n < 0 || tlsrpt_cmd_line(n, words, request, sizeof(request)) < 0) {
		tlsrpt_cmd_usage();
		return 2;
	}
	cfg = xmalloc(sizeof(*cfg));
	if (config_load(cfg, config, &errors) < 0) {
		fprintf(stderr, "%s\n", errors);
		free(errors);
		free(cfg);
		return 1;
	}
	r = tlsrpt_cmd_request(cfg, request);
	free(cfg);
	return r;
}
