/*
 * stop_cmd.c: see stop_cmd.h. The server's own shutdown gives sessions 10
 * seconds before it kills what is left, so STOP_WAIT_SECONDS is ample.
 */
#include "ctl/stop_cmd.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf/config.h"
#include "ctl/ctl_client.h"
#include "ctl/server_pid.h"
#include "lib/pidfile.h"

#define STOP_WAIT_SECONDS 30

static void stop_usage(FILE *f)
{
	fprintf(f,
	        "usage: sealmail stop [-c FILE]\n"
	        "Stops the running server (SIGTERM) and waits up to %d seconds until it is\n"
	        "gone; exit 1 when it was not running.\n",
	        STOP_WAIT_SECONDS);
}

/* Polls until PID is gone: 0, or -1 after STOP_WAIT_SECONDS. */
static int stop_wait(pid_t pid)
{
	struct timespec now, deadline;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += STOP_WAIT_SECONDS;
	for (;;) {
		if (!pidfile_process_alive(pid))
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > deadline.tv_sec ||
		    (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec))
			return -1;
		nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
	}
}

int cmd_stop(int argc, char **argv)
{
	const char *config = config_default_path();
	enum server_state state;
	char pidfile[4200];
	pid_t pid;

	if (ctl_parse_options(argc, argv, NULL, &config, NULL, stop_usage) < 0 || optind != argc) {
		stop_usage(stderr);
		return 2;
	}
	state = server_pid_find(config, pidfile, sizeof(pidfile), &pid);
	if (state == SERVER_STOPPED || state == SERVER_STALE) {
		fprintf(stderr, "sealmail: not running (%s %s)\n",
		        state == SERVER_STALE ? "stale pidfile" : "no pidfile", pidfile);
		return 1;
	}
	if (state != SERVER_RUNNING)
		return 1;
	if (kill(pid, SIGTERM) < 0) {
		fprintf(stderr, "sealmail: cannot signal pid %d: %s\n", (int)pid, strerror(errno));
		return 1;
	}
	if (stop_wait(pid) < 0) {
		fprintf(stderr, "sealmail: pid %d still runs %d seconds after SIGTERM\n", (int)pid,
		        STOP_WAIT_SECONDS);
		return 1;
	}
	printf("sealmail stopped (pid %d)\n", (int)pid);
	return 0;
}
