/*
 * ctl_client.c: see ctl_client.h. The control socket's answer is a status
 * line ("0" for success) and then text, copied as it comes.
 */
#include "ctl/ctl_client.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "conf/config.h"
#include "lib/util.h"

#define CTL_ANSWER_CHUNK 65536

struct config *ctl_config_load(const char *path)
{
	struct config *cfg = xmalloc(sizeof(*cfg));
	char *errors = NULL;

	if (config_load(cfg, path, &errors) < 0) {
		fprintf(stderr, "%s\n", errors ? errors : "sealmail: out of memory");
		free(errors);
		free(cfg);
		return NULL;
	}
	return cfg;
}

int ctl_parse_options(int argc, char **argv, const char *flag, const char **config_r, int *flag_r,
                      void (*usage)(FILE *))
{
	/* a NULL FLAG ends the list early */
	const struct option options[] = {
	    {"help", no_argument, NULL, 'h'},
	    {flag, no_argument, NULL, 'F'},
	    {NULL, 0, NULL, 0},
	};
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
		if (ch == 'c')
			*config_r = optarg;
		else if (ch == 'F')
			*flag_r = 1;
		else if (ch == 'h') {
			usage(stdout);
			exit(0);
		} else
			return -1;
	}
	return 0;
}

/* Connects to DATA_DIR/control.sock into *SUN; -1 (said on stderr) when
 * it cannot. */
static int ctl_connect(const char *data_dir, struct sockaddr_un *sun)
{
	int fd;

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if ((size_t)snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/control.sock", data_dir) >=
	    sizeof(sun->sun_path)) {
		fprintf(stderr, "sealmail: data_dir is too long for a socket path\n");
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)sun, sizeof(*sun)) < 0) {
		fprintf(stderr, "sealmail: cannot reach the server at %s: %s (is it running?)\n",
		        sun->sun_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int ctl_request(const struct config *cfg, const char *request)
{
	struct sockaddr_un sun;
	int fd = ctl_connect(cfg->data_dir, &sun), status = -1;
	char *buf;
	ssize_t n;

	if (fd < 0)
		return 1;
	if (write_all(fd, request, strlen(request)) < 0 || write_all(fd, "\n", 1) < 0) {
		fprintf(stderr, "sealmail: %s: %s\n", sun.sun_path, strerror(errno));
		close(fd);
		return 1;
	}
	buf = xmalloc(CTL_ANSWER_CHUNK);
	while ((n = read(fd, buf, CTL_ANSWER_CHUNK)) > 0) {
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
	if (status < 0) {
		fprintf(stderr, "sealmail: no answer from the server\n");
		return 1;
	}
	return status;
}
