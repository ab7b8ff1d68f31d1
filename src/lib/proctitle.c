/*
 * proctitle.c: see proctitle.h.
 */
#include "lib/proctitle.h"

#include <bsd/unistd.h>
#include <sys/prctl.h>

extern char **environ;

void proctitle_init(int argc, char **argv)
{
	setproctitle_init(argc, argv, environ);
}

void proctitle_set(const char *comm, const char *title)
{
	/* the leading '-': no program name of libbsd's choosing before it */
	setproctitle("-sealmail: %s", title);
	prctl(PR_SET_NAME, comm, 0, 0, 0);
}
