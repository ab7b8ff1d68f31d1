/*
 * parent_metrics.c: see parent_metrics.h.
 *
 * The region is a memfd mapped shared: the parent keeps it whole and
 * writable (it writes the header, and forks the roles from it); each role
 * keeps only its own block (metrics_enter()); the metrics role maps it
 * again through a descriptor opened read-only, so that not even
 * mprotect() could make it writable there, and drops the writable map.
 */
#include "daemon/parent_metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf/config.h"
#include "daemon/limits.h"
#include "lib/log.h"
#include "lib/proctitle.h"
#include "lib/util.h"
#include "metrics/metrics_role.h"
#include "proto/metrics.h"

_Static_assert(METRICS_DISPATCHER_SLOTS == CONN_LIMITS_SLOTS, "a block per dispatcher slot");
_Static_assert(CONFIG_MAX_LISTENERS < METRICS_LISTENERS, "room for the local socket and more");

#define PARENT_METRICS_STOP_MSEC 5000 /* for the role to exit on SIGTERM */
/* The keeper restarts a dead role at once when it had run this long, else
 * after a delay that doubles from 1 s up to the last bound. */
#define PARENT_METRICS_STEADY_SEC 10
#define PARENT_METRICS_DELAY_MAX_SEC 60

static struct {
	void *region;
	int region_fd;
	int listen_fd;
	pid_t pid;
	const void *readonly; /* the metrics role's view of the region */
} pm = {.region_fd = -1, .listen_fd = -1};

static const char *const parent_metrics_protocols[] = {
    [LISTENER_SMTP] = "smtp",
    [LISTENER_SUBMISSION] = "submission",
    [LISTENER_IMAP] = "imap",
    [LISTENER_POP3] = "pop3",
};

/* The row of NAME/PROTOCOL, taken now if it has none; the last row when
 * every row is taken. */
static unsigned parent_metrics_row(const char *name, const char *protocol)
{
	struct metrics_header *h = pm.region;
	uint32_t n = h->n_names;

	for (uint32_t i = 0; i < n; i++)
		if (strcmp(h->names[i].name, name) == 0 &&
		    strcmp(h->names[i].protocol, protocol) == 0)
			return i;
	if (n == METRICS_LISTENERS - 1) {
		strlcpy_checked(h->names[n].name, "other", sizeof(h->names[n].name));
		strlcpy_checked(h->names[n].protocol, "other", sizeof(h->names[n].protocol));
		__atomic_store_n(&h->n_names, n + 1, __ATOMIC_RELEASE);
	}
	if (n >= METRICS_LISTENERS - 1)
		return METRICS_LISTENERS - 1;
	strlcpy_checked(h->names[n].name, name, sizeof(h->names[n].name));
	strlcpy_checked(h->names[n].protocol, protocol, sizeof(h->names[n].protocol));
	/* the metrics role reads n_names first: the row is whole before */
	__atomic_store_n(&h->n_names, n + 1, __ATOMIC_RELEASE);
	return n;
}

static void parent_metrics_assign(struct config *cfg)
{
	for (unsigned i = 0; i < cfg->n_listeners; i++) {
		struct config_listener *l = &cfg->listeners[i];
		l->metrics_index =
		    pm.region == NULL
		        ? 0
		        : parent_metrics_row(l->name, parent_metrics_protocols[l->protocol]);
	}
}

static int parent_metrics_map(void)
{
	size_t size = metrics_region_size();

	pm.region_fd = memfd_create("sealmail-metrics", MFD_CLOEXEC);
	if (pm.region_fd < 0 || ftruncate(pm.region_fd, (off_t)size) < 0)
		return -1;
	pm.region = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, pm.region_fd, 0);
	if (pm.region == MAP_FAILED) {
		pm.region = NULL;
		return -1;
	}
	((struct metrics_header *)pm.region)->start_time = (uint64_t)time(NULL);
	/* row 0, METRICS_LISTENER_LOCAL: `sealmail send` */
	parent_metrics_row("local", "submission");
	return 0;
}

static int parent_metrics_bind(const struct config *cfg)
{
	int one = 1;

	pm.listen_fd =
	    socket(cfg->metrics_address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (pm.listen_fd < 0)
		return -1;
	setsockopt(pm.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (cfg->metrics_address.ss_family == AF_INET6)
		setsockopt(pm.listen_fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(pm.listen_fd, (const struct sockaddr *)&cfg->metrics_address,
	         cfg->metrics_address_len) < 0 ||
	    listen(pm.listen_fd, 64) < 0) {
		close(pm.listen_fd);
		pm.listen_fd = -1;
		return -1;
	}
	return 0;
}

int parent_metrics_prepare(struct config *cfg)
{
	const char *warning = config_metrics_warning(cfg);

	if (cfg->metrics_address_len == 0)
		return 0;
	if (parent_metrics_map() < 0) {
		fprintf(stderr, "sealmail: cannot map the metrics counters: %s\n", strerror(errno));
		return -1;
	}
	parent_metrics_assign(cfg);
	if (parent_metrics_bind(cfg) < 0) {
		fprintf(stderr, "sealmail: [metrics] listen %s: %s\n", cfg->metrics_listen,
		        strerror(errno));
		return -1;
	}
	if (warning != NULL) {
		char v[4500];
		fprintf(stderr, "sealmail: %s\n", warning);
		log_warn("event=metrics-warning reason=%s", log_value(warning, v, sizeof(v)));
	}
	return 0;
}

/* In the metrics child: the region again, read-only; then no writable
 * map and no descriptor of it are left. */
static const void *parent_metrics_map_readonly(void)
{
	char path[64];
	size_t size = metrics_region_size();
	void *ro = MAP_FAILED;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", pm.region_fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ro = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
		close(fd);
	}
	if (ro == MAP_FAILED) {
		log_warn("event=metrics-warning reason=\"no read-only map (%s); mprotect instead\"",
		         strerror(errno));
		if (mprotect(pm.region, size, PROT_READ) < 0)
			fatal("event=fatal reason=\"mprotect: %s\"", strerror(errno));
		ro = pm.region;
	} else {
		munmap(pm.region, size);
	}
	close(pm.region_fd);
	pm.region = NULL;
	pm.region_fd = -1;
	return ro;
}

pid_t parent_metrics_start(const int *fds, unsigned n_fds, int local_fd)
{
	pid_t parent = getpid();

	if (pm.region == NULL)
		return -1;
	pm.pid = fork();
	if (pm.pid < 0)
		fatal("event=fatal reason=\"fork: %s\"", strerror(errno));
	if (pm.pid > 0) {
		close(pm.listen_fd);
		pm.listen_fd = -1;
		return pm.pid;
	}
	log_set_role("metrics");
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(0);
	log_forked(); /* a log file: lines go through the parent */
	proctitle_set("sealmail-mkeeper", "metrics keeper");
	for (unsigned i = 0; i < n_fds; i++)
		close(fds[i]);
	if (local_fd >= 0)
		close(local_fd);
	pm.readonly = parent_metrics_map_readonly();
	return 0;
}

/* In the keeper: waits for ROLE to exit (its wait status in *STATUS,
 * returns 0), or for SIGTERM or SIGINT, passed on to it (returns -1 once
 * it is gone). */
static int parent_metrics_wait(pid_t role, const sigset_t *set, int *status)
{
	for (;;) {
		int sig = sigwaitinfo(set, NULL);
		if (sig == SIGTERM || sig == SIGINT) {
			kill(role, SIGTERM);
			while (waitpid(role, NULL, 0) < 0 && errno == EINTR)
				;
			return -1;
		}
		if (waitpid(role, status, WNOHANG) == role)
			return 0;
	}
}

/* In the keeper: DELAY seconds, or -1 at once on SIGTERM or SIGINT. */
static int parent_metrics_pause(unsigned delay, const sigset_t *set)
{
	struct timespec until, now;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += delay;
	for (;;) {
		struct timespec left;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > until.tv_sec ||
		    (now.tv_sec == until.tv_sec && now.tv_nsec >= until.tv_nsec))
			return 0;
		left.tv_sec = until.tv_sec - now.tv_sec;
		left.tv_nsec = until.tv_nsec - now.tv_nsec;
		if (left.tv_nsec < 0) {
			left.tv_sec--;
			left.tv_nsec += 1000000000L;
		}
		int sig = sigtimedwait(set, NULL, &left);
		if (sig == SIGTERM || sig == SIGINT)
			return -1;
	}
}

/* The role's child of the keeper, which returns to serve the page;
 * OLD: the signal mask the role starts with. Returns its pid in the
 * keeper. */
static pid_t parent_metrics_fork_role(const sigset_t *old)
{
	pid_t keeper = getpid(), pid = fork();

	if (pid != 0)
		return pid;
	log_set_role("metrics");
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != keeper)
		_exit(0);
	proctitle_set("sealmail-metrics", "metrics");
	sigprocmask(SIG_SETMASK, old, NULL);
	return 0;
}

/* The keeper, forked by the parent before it read any secret, holds what
 * the role needs (the socket, the read-only map) and forks the role from
 * itself: a dead role is started again with the same socket and the same
 * counters, and never from the parent, which holds the private keys. */
int parent_metrics_run(void)
{
	sigset_t set, old;
	unsigned delay = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, &old);
	for (;;) {
		time_t started = time(NULL);
		int status = 0;
		pid_t role = parent_metrics_fork_role(&old);
		if (role == 0)
			return metrics_role_main(pm.listen_fd, pm.readonly);
		if (role < 0)
			log_error("event=metrics-exited pid=0 status=0 restarting=yes "
			          "reason=\"fork: %s\"",
			          strerror(errno));
		else if (parent_metrics_wait(role, &set, &status) < 0)
			return 0;
		if (time(NULL) - started >= PARENT_METRICS_STEADY_SEC)
			delay = 0;
		else
			delay = delay == 0 ? 1
			        : delay * 2 > PARENT_METRICS_DELAY_MAX_SEC
			            ? PARENT_METRICS_DELAY_MAX_SEC
			            : delay * 2;
		if (role > 0)
			log_error("event=metrics-exited pid=%d status=%d restarting=yes delay=%u",
			          (int)role, status, delay);
		if (parent_metrics_pause(delay, &set) < 0)
			return 0;
	}
}

void parent_metrics_reload(struct config *cfg, const struct config *old)
{
	if (strcmp(cfg->metrics_listen, old->metrics_listen) != 0)
		log_warn("event=reload-warning reason=\"[metrics] listen changes need a restart\"");
	parent_metrics_assign(cfg);
}

void parent_metrics_enter(unsigned block)
{
	if (pm.region == NULL)
		return;
	metrics_enter(pm.region, block);
	close(pm.region_fd);
	pm.region = NULL;
	pm.region_fd = -1;
}

int parent_metrics_exited(pid_t pid, int status, int stopping)
{
	if (pm.pid <= 0 || pid != pm.pid)
		return 0;
	pm.pid = 0;
	if (!stopping)
		log_error("event=role-exited role=metrics status=%d reason=\"the server runs on "
		          "without metrics\"",
		          status);
	return 1;
}

void parent_metrics_stop(void)
{
	pid_t r = 0;

	if (pm.pid <= 0)
		return;
	/* SIGTERM first: the role ends its HTTP thread and exits (a tool
	 * watching it, valgrind say, gets to write what it saw) */
	kill(pm.pid, SIGTERM);
	for (int i = 0; i < PARENT_METRICS_STOP_MSEC / 10 && r == 0; i++) {
		r = waitpid(pm.pid, NULL, WNOHANG);
		if (r == 0)
			nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
	}
	if (r == 0)
		kill(pm.pid, SIGKILL);
	pm.pid = 0;
}
