/*
 * pidfile.c: see pidfile.h.
 */
#include "lib/pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/util.h"

static char pidfile_path[4096];
static pid_t pidfile_owner;

int pidfile_parse(const char *buf, size_t len, pid_t *pid_r)
{
	unsigned long v = 0;
	size_t i;

	for (i = 0; i < len && buf[i] >= '0' && buf[i] <= '9'; i++) {
		v = v * 10 + (unsigned long)(buf[i] - '0');
		if (v > 0x7fffffff)
			return -1;
	}
	if (i == 0 || v == 0 || buf[0] == '0')
		return -1;
	if (i < len && !(buf[i] == '\n' && i + 1 == len))
		return -1;
	*pid_r = (pid_t)v;
	return 0;
}

int pidfile_read(const char *path, pid_t *pid_r)
{
	/* The data directory belongs to [server] user: a role could have put
	 * a FIFO or a link there, so nothing but a regular file is read, and
	 * opening never blocks. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	struct stat st;
	char buf[32];
	ssize_t n;

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0)
		return -1;
	if (pidfile_parse(buf, (size_t)n, pid_r) < 0) {
		errno = EINVAL;
		return -1;
	}
	return 1;
}

/* /proc/PID/stat's state letter, or 0 when it cannot be read. */
static char pidfile_proc_state(pid_t pid)
{
	char path[64], buf[512], *paren;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	paren = strrchr(buf, ')'); /* the name may hold spaces and parentheses */
	return paren != NULL && paren[1] == ' ' ? paren[2] : 0;
}

int pidfile_process_alive(pid_t pid)
{
	char path[64], comm[32] = "";
	FILE *f;

	if (kill(pid, 0) < 0 && errno != EPERM)
		return 0;
	if (pidfile_proc_state(pid) == 'Z')
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	/* Without /proc the pid is all there is to go by; with it, a process
	 * hidden from us (ProtectProc=invisible, hidepid) is none of ours. */
	if ((f = fopen(path, "re")) == NULL)
		return access("/proc/self/comm", R_OK) != 0;
	if (fgets(comm, sizeof(comm), f) == NULL)
		comm[0] = '\0';
	fclose(f);
	/* the server's parent names itself before it claims the file; a
	 * user's `sealmail send`, `mailq` or a role that took the pid of a
	 * server gone is not it, and is not signalled by `stop` */
	return strcmp(comm, "sealmail-parent\n") == 0;
}

/* 0 when FD is a regular file of this user's with one link: what the
 * parent created, not what a role may have put in its place. */
static int pidfile_regular(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -1;
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || st.st_nlink != 1) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* Writes this process's pid into FD. */
static int pidfile_write(int fd)
{
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());

	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)len, 0) != len)
		return -1;
	return 0;
}

static void pidfile_at_exit(void)
{
	pidfile_remove();
}

int pidfile_claim(const char *path, pid_t *other_r, const char **error_r)
{
	static char why[4200];
	pid_t other;
	int fd = -1;

	*other_r = 0;
	for (int attempt = 0; attempt < 2 && fd < 0; attempt++) {
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd >= 0 || errno != EEXIST)
			break;
		if (pidfile_read(path, &other) == 1 && other != getpid() &&
		    pidfile_process_alive(other)) {
			*other_r = other;
			snprintf(why, sizeof(why), "%s: another sealmail runs (pid %d)", path,
			         (int)other);
			*error_r = why;
			return -1;
		}
		if (unlink(path) < 0 && errno != ENOENT)
			break; /* stale, but it stays: said below */
	}
	if (fd < 0 || pidfile_write(fd) < 0) {
		snprintf(why, sizeof(why), "%s: %s", path, strerror(errno));
		*error_r = why;
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	strlcpy_checked(pidfile_path, path, sizeof(pidfile_path));
	if (pidfile_owner == 0)
		atexit(pidfile_at_exit);
	pidfile_owner = getpid();
	return 0;
}

int pidfile_update(void)
{
	int fd, r;

	if (pidfile_path[0] == '\0')
		return 0;
	fd = open(pidfile_path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -1;
	r = pidfile_regular(fd) < 0 ? -1 : pidfile_write(fd);
	close(fd);
	pidfile_owner = getpid();
	return r;
}

void pidfile_remove(void)
{
	pid_t pid;

	/* forked children inherit the exit handler: only the owner removes */
	if (pidfile_path[0] == '\0' || getpid() != pidfile_owner)
		return;
	if (pidfile_read(pidfile_path, &pid) == 1 && pid == pidfile_owner)
		unlink(pidfile_path);
	pidfile_path[0] = '\0';
}
