/*
 * status_cmd.c: see status_cmd.h. The roles are the server's children as
 * their process titles name them ("sealmail: queue", role_title.c); the
 * uptime is the parent's start time in /proc against the time since boot.
 */
#include "ctl/status_cmd.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/config.h"
#include "ctl/ctl_client.h"
#include "ctl/role_title.h"
#include "ctl/server_pid.h"

static void status_usage(FILE *f)
{
	fprintf(f, "usage: sealmail status [-c FILE]\n"
	           "Says whether the server runs (exit 0), with its pid, uptime and roles;\n"
	           "exit 3 when it does not, 1 when only a stale pidfile is left.\n");
}

/* Field 4 (the parent pid) and 22 (the start time, in clock ticks since
 * boot) of /proc/PID/stat; -1 when it cannot be read. */
static int status_proc_stat(pid_t pid, pid_t *ppid_r, unsigned long long *start_r)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	int ppid = 0, n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	n = (int)fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n < 0 ? 0 : n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1,
	           " %*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d "
	           "%*d %llu",
	           &ppid, &start) != 2)
		return -1;
	*ppid_r = ppid;
	*start_r = start;
	return 0;
}

static void status_uptime(pid_t pid)
{
	unsigned long long start;
	double since_boot;
	long secs;
	pid_t ppid;
	FILE *f = fopen("/proc/uptime", "re");

	if (f == NULL || fscanf(f, "%lf", &since_boot) != 1 ||
	    status_proc_stat(pid, &ppid, &start) < 0) {
		if (f != NULL)
			fclose(f);
		printf("\n");
		return;
	}
	fclose(f);
	secs = (long)(since_boot - (double)start / (double)sysconf(_SC_CLK_TCK));
	if (secs < 0)
		secs = 0;
	printf(", up %ldd %02ld:%02ld:%02ld\n", secs / 86400, secs / 3600 % 24, secs / 60 % 60,
	       secs % 60);
}

/* One line per child of PID: its role and pid (role_title.h: a title that
 * is no role's own is shown made visible, never as it is). */
static void status_roles(pid_t pid)
{
	DIR *d = opendir("/proc");
	struct dirent *e;

	while (d != NULL && (e = readdir(d)) != NULL) {
		char path[300], title[256], name[ROLE_TITLE_NAME_MAX];
		unsigned long long start;
		pid_t child = (pid_t)atoi(e->d_name), ppid;
		FILE *f;
		size_t n;

		if (child <= 0 || status_proc_stat(child, &ppid, &start) < 0 || ppid != pid)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)child);
		if ((f = fopen(path, "re")) == NULL)
			continue;
		n = fread(title, 1, sizeof(title), f);
		fclose(f);
		(void)role_title_name(title, n, name, sizeof(name));
		printf("  %-16s pid %d\n", name, (int)child);
	}
	if (d != NULL)
		closedir(d);
}

int cmd_status(int argc, char **argv)
{
	const char *config = config_default_path();
	char pidfile[4200];
	pid_t pid;

	if (ctl_parse_options(argc, argv, NULL, &config, NULL, status_usage) < 0 ||
	    optind != argc) {
		status_usage(stderr);
		return 2;
	}
	switch (server_pid_find(config, pidfile, sizeof(pidfile), &pid)) {
	case SERVER_RUNNING:
		printf("sealmail is running: pid %d", (int)pid);
		status_uptime(pid);
		printf("  pidfile %s\n", pidfile);
		status_roles(pid);
		return 0;
	case SERVER_STALE:
		printf("sealmail is not running; the pidfile %s names pid %d, which is not "
		       "sealmail (stale)\n",
		       pidfile, (int)pid);
		return 1;
	case SERVER_STOPPED:
		printf("sealmail is not running (no pidfile %s)\n", pidfile);
		return 3;
	default:
		return 4;
	}
}
