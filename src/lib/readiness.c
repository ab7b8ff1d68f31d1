/*
 * readiness.c: see readiness.h. A pid is written in one write() of fewer
 * than PIPE_BUF bytes, so the reports of many children never interleave.
 */
#include "lib/readiness.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static int readiness_fd = -1;

int readiness_pipe(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	return fcntl(fds[0], F_SETFL, O_NONBLOCK);
}

void readiness_child(int fd)
{
	readiness_fd = fd;
}

void readiness_report(void)
{
	pid_t pid = getpid();
	ssize_t n;

	if (readiness_fd < 0)
		return;
	do
		n = write(readiness_fd, &pid, sizeof(pid));
	while (n < 0 && errno == EINTR);
	close(readiness_fd);
	readiness_fd = -1;
}

int readiness_read(int fd, pid_t *pid_r)
{
	ssize_t n;

	do
		n = read(fd, pid_r, sizeof(*pid_r));
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(*pid_r);
}
