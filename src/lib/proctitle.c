/*
 * proctitle.c: see proctitle.h.
 */
#include "lib/proctitle.h"

#include <bsd/unistd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

extern char **environ;

/* Where argv[0] was and its length: libbsd writes the titles there. */
static char *title_area;
static size_t argv0_len;

void proctitle_init(int argc, char **argv)
{
	if (argc > 0 && argv[0] != NULL) {
		title_area = argv[0];
		argv0_len = strlen(argv[0]);
	}
	setproctitle_init(argc, argv, environ);
}

void proctitle_set(const char *comm, const char *title)
{
	char full[256];

	snprintf(full, sizeof(full), "sealmail: %s", title);
	/* the leading '-': no program name of libbsd's choosing before it */
	setproctitle("-%s", full);
	/* libbsd marks where argv[0] ended: a '.' behind a shorter title,
	 * which ps shows ("sealmail: queue      ." when started as
	 * /usr/sbin/sealmail), and a ' ' behind one of the same length, which
	 * then reads "sealmail: metrics keeper " to ps and `status`. The area
	 * behind the title is zeroed, so a NUL there ends the title for
	 * /proc/PID/cmdline and ps. */
	if (title_area != NULL && strlen(full) <= argv0_len &&
	    (title_area[argv0_len] == '.' || title_area[argv0_len] == ' '))
		title_area[argv0_len] = '\0';
	prctl(PR_SET_NAME, comm, 0, 0, 0);
}
