/*
 * server_pid.c: see server_pid.h.
 */
#include "ctl/server_pid.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "ctl/ctl_client.h"
#include "lib/pidfile.h"

enum server_state server_pid_find(const char *config, char *pidfile, size_t size, pid_t *pid_r)
{
	struct config *cfg = ctl_config_load(config);
	int r;

	*pid_r = 0;
	pidfile[0] = '\0';
	if (cfg == NULL)
		return SERVER_UNKNOWN;
	config_pidfile(cfg, pidfile, size);
	free(cfg);
	r = pidfile_read(pidfile, pid_r);
	if (r < 0) {
		fprintf(stderr, "sealmail: cannot read the pidfile %s: %s\n", pidfile,
		        errno == EINVAL ? "it holds no pid" : strerror(errno));
		return SERVER_UNKNOWN;
	}
	if (r == 0)
		return SERVER_STOPPED;
	return pidfile_process_alive(*pid_r) ? SERVER_RUNNING : SERVER_STALE;
}
