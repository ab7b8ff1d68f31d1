/*
 * parent.c: see parent.h. The roles' messages are proto/ctl.h.
 *
 * Private keys are read only after the queue and lookup roles are forked,
 * so those never hold one (each logs event=role-keys to show it); the
 * dispatchers, where TLS happens, get them with their fork and wipe their
 * copy once their TLS contexts are made.
 */
#include "daemon/parent.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf/config.h"
#include "daemon/dispatcher.h"
#include "daemon/limits.h"
#include "daemon/parent_changes.h"
#include "daemon/local_users.h"
#include "daemon/parent_certs.h"
#include "daemon/parent_listen.h"
#include "daemon/parent_log.h"
#include "daemon/parent_ready.h"
#include "daemon/parent_metrics.h"
#include "daemon/tls_settings.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/pidfile.h"
#include "lib/proctitle.h"
#include "lib/tls.h"
#include "lib/tls_ticket.h"
#include "lib/util.h"
#include "lookup/lookup.h"
#include "proto/ctl.h"
#include "proto/metrics.h"
#include "queue/queue.h"
#include "store/store.h"

#define PARENT_MAX_DISPATCHERS 64
#define PARENT_PRIORITIES 2 /* of the loop: signals (0), then the rest (1) */

struct parent_dispatcher {
	pid_t pid;
	unsigned generation;
	int retiring;
};

/* A file the parent reads for the lookup role (users, aliases): it may be
 * readable by root only. */
struct parent_watch {
	uint32_t type;
	struct file_stamp stamp;
	int error;
};

/* The roles besides the dispatchers; the loss of one stops the server. */
enum parent_role_kind { ROLE_QUEUE, ROLE_LOOKUP, ROLE_STORE, N_ROLES };
static const char *const parent_role_names[N_ROLES] = {"queue", "lookup", "store"};

struct parent_role {
	struct ipc_channel *ch;
	pid_t pid;
};

struct parent {
	struct config *cfg;
	char *cfg_text; /* the file cfg was parsed from, sent to the roles on reload */
	size_t cfg_text_len;
	struct tls_cert_set certs;
	int listen_fds[CONFIG_MAX_LISTENERS];
	int local_fd; /* the local submission socket */
	int empty_fd; /* data_dir/empty, opened once as root: the user could swap the name */
	struct event_base *base;
	struct parent_role roles[N_ROLES];
	pid_t self;
	struct parent_dispatcher procs[CONN_LIMITS_SLOTS]; /* by limits slot */
	unsigned generation;
	struct conn_limits *limits;
	int root;
	uid_t uid;
	gid_t gid;
	int shutting_down;
	int exit_status;
	struct parent_watch users_watch, aliases_watch;
	struct event *ev_users;
	struct parent_ready ready;
	struct parent_snapshot made_from; /* the running generation's inputs */
};

#define PARENT_USERS_CHECK_MSEC 500

/* ---- forking roles ------------------------------------------------- */

static void parent_drop_privileges(const struct parent *p, const char *chroot_dir)
{
	if (!p->root)
		return;
	if (chroot_dir != NULL && (chroot(chroot_dir) < 0 || chdir("/") < 0))
		fatal("event=fatal reason=\"chroot %s: %s\"", chroot_dir, strerror(errno));
	if (setgroups(1, &p->gid) < 0 || setresgid(p->gid, p->gid, p->gid) < 0 ||
	    setresuid(p->uid, p->uid, p->uid) < 0)
		fatal("event=fatal reason=\"cannot drop privileges: %s\"", strerror(errno));
	if (setuid(0) == 0)
		fatal("event=fatal reason=\"privileges were not dropped\"");
}

/* In a child: chroots to data_dir/empty through the descriptor the parent
 * opened at start-up (data_dir is the user's: the name may now be a link),
 * closes it, and drops privileges; in / when not root. */
static void parent_enter_empty(struct parent *p)
{
	if (p->root && (p->empty_fd < 0 || fchdir(p->empty_fd) < 0))
		fatal("event=fatal reason=\"chroot data_dir/empty: %s\"", strerror(errno));
	if (p->empty_fd >= 0)
		close(p->empty_fd);
	p->empty_fd = -1;
	parent_drop_privileges(p, p->root ? "." : NULL);
	if (!p->root && chdir("/") < 0)
		_exit(1);
}

/* Forks; in the child, forgets the parent's event loop and closes the
 * parent's own sockets except KEEP. Returns like fork(). */
static pid_t parent_fork(struct parent *p, const char *role, const int *keep, unsigned n_keep)
{
	int fds[CONFIG_MAX_LISTENERS + 2 + N_ROLES];
	unsigned n = 0, i, j;
	sigset_t all, old;
	pid_t pid;

	/* Until the child has dropped the parent's signal handlers, a signal
	 * would run them there and be lost for the child: hold every signal
	 * across the fork. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid != 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		return pid;
	}
	log_set_role(role);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != p->self)
		_exit(0);
	/* The epoll instance is shared with the parent across fork: reinit gives
	 * the child its own before freeing, or the free would delete the
	 * parent's events (its signals among them). */
	event_reinit(p->base);
	event_base_free(p->base);
	p->base = NULL;
	/* the read ends of these pipes are gone with the loop */
	parent_ready_child(&p->ready);
	log_forked();
	sigprocmask(SIG_SETMASK, &old, NULL);
	for (i = 0; i < p->cfg->n_listeners; i++)
		fds[n++] = p->listen_fds[i];
	if (p->local_fd >= 0)
		fds[n++] = p->local_fd;
	if (p->empty_fd >= 0)
		fds[n++] = p->empty_fd;
	/* what the parent had not yet sent to the roles (a users file's
	 * hashes) is not the child's to keep */
	for (i = 0; i < N_ROLES; i++) {
		if (p->roles[i].ch == NULL)
			continue;
		ipc_channel_forget_buffers(p->roles[i].ch);
		fds[n++] = ipc_channel_fd(p->roles[i].ch);
	}
	for (i = 0; i < n; i++) {
		int kept = 0;
		for (j = 0; j < n_keep; j++)
			kept |= keep[j] == fds[i];
		if (!kept)
			close(fds[i]);
	}
	return 0;
}

/* Sends PATH to the lookup role when it changed (or FORCE). */
static void parent_send_file(struct parent *p, struct parent_watch *w, const char *path, int force)
{
	struct proto_ctl_file msg = {.readable = 1};
	struct ipc_writer w_msg;
	int changed;
	char *text;

	if (path[0] == '\0')
		return;
	changed = file_changed(path, &w->stamp);
	if (changed == 0 && !force && !w->error)
		return;
	/* room for the message's flag and length */
	text = changed < 0 ? NULL : read_file(path, IPC_MAX_PAYLOAD - 8, &msg.len);
	if (text == NULL) {
		msg = (struct proto_ctl_file){.readable = 0};
		if (!w->error) {
			ipc_writer_init(&w_msg);
			proto_ctl_file_encode(&msg, &w_msg);
			proto_send(p->roles[ROLE_LOOKUP].ch, w->type, 0, &w_msg, -1);
		}
		w->error = 1;
		memset(&w->stamp, 0, sizeof(w->stamp));
		return;
	}
	w->error = 0;
	msg.text = text;
	ipc_writer_init(&w_msg);
	proto_ctl_file_encode(&msg, &w_msg);
	proto_send(p->roles[ROLE_LOOKUP].ch, w->type, 0, &w_msg, -1);
	explicit_bzero(text, msg.len); /* the users file holds password hashes */
	free(text);
}

static void parent_send_users(struct parent *p, int force)
{
	parent_send_file(p, &p->users_watch, p->cfg->users, force);
	parent_send_file(p, &p->aliases_watch, p->cfg->aliases, force);
}

/* Twice a second: the users file, and the ticket seed kept for the next
 * generation ratcheted up to the period before now, so that the parent
 * never holds a secret older than the tickets still accepted. */
static void parent_users_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct parent *p = arg;

	parent_send_users(p, 0);
	tls_ticket_seed_advance(&p->certs.ticket_seed, tls_ticket_period(time(NULL)) - 1);
}

/* Sends the configuration's text and path; each role parses it itself. */
static void parent_send_config(struct parent *p)
{
	struct proto_ctl_config msg = {.text = p->cfg_text, .text_len = p->cfg_text_len};
	struct ipc_writer w;

	strlcpy_checked(msg.path, p->cfg->path, sizeof(msg.path));
	ipc_writer_init(&w);
	proto_ctl_config_encode(&msg, &w);
	for (unsigned i = 0; i < N_ROLES; i++)
		ipc_send(p->roles[i].ch, IMSG_CTL_CONFIG, 0, w.buf, w.len, -1);
	ipc_writer_free(&w);
}

static void parent_role_closed(struct ipc_channel *ch, void *arg)
{
	/* The role's exit is handled when SIGCHLD reaps it. */
}

static void parent_role_handler(struct ipc_channel *ch, uint32_t type, uint64_t id,
                                const void *data, size_t len, int fd, void *arg)
{
	if (fd >= 0)
		close(fd);
}

/* Runs role KIND in the forked child, on its end SP of the channel: the
 * queue and the store in data_dir (chrooted there when root), the lookup
 * role in /. Does not return. */
static void parent_run_role(struct parent *p, enum parent_role_kind kind, int sp)
{
	char comm[32];

	snprintf(comm, sizeof(comm), "sealmail-%s", parent_role_names[kind]);
	proctitle_set(comm, parent_role_names[kind]);
	/* proof for tests: the parent reads keys only after this fork */
	log_info("event=role-keys private_keys=%u", tls_cert_set_keys(&p->certs));
	parent_metrics_enter(kind == ROLE_QUEUE ? METRICS_BLOCK_QUEUE : METRICS_BLOCKS);
	if (kind == ROLE_LOOKUP) {
		parent_drop_privileges(p, NULL);
		if (chdir("/") < 0)
			_exit(1);
		_exit(lookup_main(p->cfg, sp));
	}
	if (chdir(p->cfg->data_dir) < 0)
		fatal("event=fatal reason=\"%s: %s\"", p->cfg->data_dir, strerror(errno));
	parent_drop_privileges(p, p->root ? "." : NULL);
	_exit(kind == ROLE_QUEUE ? queue_main(p->cfg, sp) : store_main(p->cfg, sp));
}

/* Runs the metrics role in its forked child (parent_metrics_start()):
 * chrooted to data_dir/empty when root, in / otherwise. Does not return. */
static void parent_run_metrics(struct parent *p)
{
	parent_enter_empty(p);
	_exit(parent_metrics_run());
}

/* Starts role KIND and keeps the parent's end of its channel. */
static void parent_start_role(struct parent *p, enum parent_role_kind kind)
{
	int sp[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		fatal("event=fatal reason=\"socketpair: %s\"", strerror(errno));
	pid = parent_fork(p, parent_role_names[kind], NULL, 0);
	if (pid < 0)
		fatal("event=fatal reason=\"fork: %s\"", strerror(errno));
	if (pid == 0) {
		close(sp[0]);
		parent_run_role(p, kind, sp[1]);
	}
	close(sp[1]);
	parent_ready_expect(&p->ready, pid);
	p->roles[kind].pid = pid;
	p->roles[kind].ch =
	    ipc_channel_new(p->base, sp[0], parent_role_handler, parent_role_closed, p);
}

/* Closes the descriptors of the N socket pairs PAIRS that are open. */
static void parent_close_pairs(int (*pairs)[2], unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = 0; j < 2; j++)
			if (pairs[i][j] >= 0)
				close(pairs[i][j]);
}

/* "sealmail: dispatcher SLOT" */
static void parent_title_dispatcher(unsigned slot)
{
	char title[32], comm[32]; /* the kernel keeps 15 characters */

	snprintf(title, sizeof(title), "dispatcher %u", slot);
	snprintf(comm, sizeof(comm), "sealmail-disp%u", slot);
	proctitle_set(comm, title);
}

/* The dispatcher of SLOT, in the child: its ends of the role channels are
 * Q, L and ST. */
static void parent_dispatcher_child(struct parent *p, unsigned slot, int q, int l, int st)
    __attribute__((noreturn));

static void parent_dispatcher_child(struct parent *p, unsigned slot, int q, int l, int st)
{
	struct dispatcher_args args;

	parent_title_dispatcher(slot);
	parent_metrics_enter(slot);
	if (p->root) /* the chroot hides the password database */
		local_users_snapshot();
	parent_enter_empty(p);
	args = (struct dispatcher_args){
	    .cfg = p->cfg,
	    .certs = &p->certs,
	    .listen_fds = p->listen_fds,
	    .queue_fd = q,
	    .lookup_fd = l,
	    .store_fd = st,
	    .local_fd = p->local_fd,
	    .limits = p->limits,
	    .slot = slot,
	};
	_exit(dispatcher_main(&args));
}

static void parent_start_dispatcher(struct parent *p, unsigned slot)
{
	int pairs[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}}; /* queue, lookup, store */
	int *q = pairs[0], *l = pairs[1], *st = pairs[2], keep[CONFIG_MAX_LISTENERS + 2];
	unsigned i;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, q) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, l) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, st) < 0) {
		log_error("event=spawn-error reason=\"socketpair: %s\"", strerror(errno));
		parent_close_pairs(pairs, 3);
		return;
	}
	for (i = 0; i < p->cfg->n_listeners; i++)
		keep[i] = p->listen_fds[i];
	keep[i++] = p->local_fd;
	keep[i++] = p->empty_fd;
	conn_limits_clear_slot(p->limits, slot);
	pid = parent_fork(p, "dispatcher", keep, i);
	if (pid == 0) {
		close(q[0]);
		close(l[0]);
		close(st[0]);
		parent_dispatcher_child(p, slot, q[1], l[1], st[1]);
	}
	close(q[1]);
	close(l[1]);
	close(st[1]);
	if (pid < 0) {
		log_error("event=spawn-error reason=\"fork: %s\"", strerror(errno));
		close(q[0]);
		close(l[0]);
		close(st[0]);
		return;
	}
	parent_ready_expect(&p->ready, pid);
	p->procs[slot] = (struct parent_dispatcher){.pid = pid, .generation = p->generation};
	/* no payload: the socket is the message */
	ipc_send(p->roles[ROLE_QUEUE].ch, IMSG_CTL_ADD_CHANNEL, 0, NULL, 0, q[0]);
	ipc_send(p->roles[ROLE_LOOKUP].ch, IMSG_CTL_ADD_CHANNEL, 0, NULL, 0, l[0]);
	ipc_send(p->roles[ROLE_STORE].ch, IMSG_CTL_ADD_CHANNEL, 0, NULL, 0, st[0]);
}

static unsigned parent_dispatcher_count(const struct config *cfg)
{
	long n = cfg->dispatchers ? (long)cfg->dispatchers : sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > PARENT_MAX_DISPATCHERS ? PARENT_MAX_DISPATCHERS : (unsigned)n;
}

/* Starts the current generation's dispatchers in free slots. */
static void parent_start_generation(struct parent *p)
{
	unsigned want = parent_dispatcher_count(p->cfg), slot;

	for (slot = 0; slot < CONN_LIMITS_SLOTS && want > 0; slot++) {
		if (p->procs[slot].pid != 0)
			continue;
		parent_start_dispatcher(p, slot);
		want--;
	}
	if (want > 0)
		log_error("event=spawn-error reason=\"no free dispatcher slot\"");
}

/* ---- signals --------------------------------------------------------- */

static void parent_kill_all(struct parent *p, int sig)
{
	unsigned i;

	for (i = 0; i < CONN_LIMITS_SLOTS; i++)
		if (p->procs[i].pid > 0)
			kill(p->procs[i].pid, sig);
	for (i = 0; i < N_ROLES; i++)
		if (p->roles[i].pid > 0)
			kill(p->roles[i].pid, sig);
}

static void parent_kill_dispatchers(struct parent *p, int sig)
{
	unsigned i;

	for (i = 0; i < CONN_LIMITS_SLOTS; i++)
		if (p->procs[i].pid > 0)
			kill(p->procs[i].pid, sig);
}

static int parent_dispatchers_left(const struct parent *p)
{
	unsigned i;

	for (i = 0; i < CONN_LIMITS_SLOTS; i++)
		if (p->procs[i].pid > 0)
			return 1;
	return 0;
}

static void parent_shutdown(struct parent *p, int status)
{
	if (p->shutting_down)
		return;
	p->shutting_down = 1;
	p->exit_status = status;
	parent_notify_stopping();
	log_info("event=shutdown");
	/* dispatchers first: their sessions need the queue until they end */
	parent_kill_dispatchers(p, SIGTERM);
	if (!parent_dispatchers_left(p))
		parent_kill_all(p, SIGTERM);
	event_base_loopexit(p->base, &(struct timeval){10, 0});
}

static int parent_children_left(const struct parent *p)
{
	unsigned i;

	for (i = 0; i < CONN_LIMITS_SLOTS; i++)
		if (p->procs[i].pid > 0)
			return 1;
	for (i = 0; i < N_ROLES; i++)
		if (p->roles[i].pid > 0)
			return 1;
	return 0;
}

/* One child is gone: a dispatcher of the current generation is started
 * again; the loss of the queue or lookup role stops the server. */
static void parent_child_gone(struct parent *p, pid_t pid, int status)
{
	unsigned i;

	if (parent_metrics_exited(pid, status, p->shutting_down))
		return;
	for (i = 0; i < N_ROLES; i++) {
		if (pid != p->roles[i].pid)
			continue;
		p->roles[i].pid = 0;
		if (!p->shutting_down) {
			log_error("event=role-exited role=%s status=%d", parent_role_names[i],
			          status);
			parent_shutdown(p, 1);
		}
		return;
	}
	for (i = 0; i < CONN_LIMITS_SLOTS; i++) {
		struct parent_dispatcher *d = &p->procs[i];
		if (d->pid != pid)
			continue;
		d->pid = 0;
		conn_limits_clear_slot(p->limits, i);
		if (p->shutting_down || d->retiring || d->generation != p->generation) {
			log_info("event=dispatcher-exited pid=%d retired=yes", (int)pid);
			return;
		}
		log_error("event=dispatcher-exited pid=%d status=%d restarting=yes", (int)pid,
		          status);
		parent_start_dispatcher(p, i);
		return;
	}
}

/* The readiness wait forgets PID only once its loss is dealt with: the
 * last role to come up failing shuts the server down, and a dispatcher's
 * replacement is waited for, before the wait can end in READY=1. */
static void parent_child_exited(struct parent *p, pid_t pid, int status)
{
	parent_child_gone(p, pid, status);
	parent_ready_forget(&p->ready, pid);
}

static void parent_sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	struct parent *p = arg;
	int status;
	pid_t pid;

	log_funnel_drain(); /* a child's last lines before the parent's word on it */
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		parent_child_exited(p, pid, status);
	if (p->shutting_down && !parent_dispatchers_left(p))
		parent_kill_all(p, SIGTERM); /* then the queue and lookup */
	if (p->shutting_down && !parent_children_left(p))
		event_base_loopbreak(p->base);
}

/* Closes the listening sockets CFG no longer uses and keeps FDS. */
static void parent_take_listeners(struct parent *p, const struct config *cfg, const int *fds)
{
	unsigned i, j;

	for (i = 0; i < p->cfg->n_listeners; i++) {
		int reused = 0;
		for (j = 0; j < cfg->n_listeners; j++)
			reused |= fds[j] == p->listen_fds[i];
		if (!reused)
			close(p->listen_fds[i]);
	}
	memcpy(p->listen_fds, fds, sizeof(p->listen_fds));
}

/* SIGHUP: a new configuration and new certificates for new dispatchers; the
 * old dispatchers finish their sessions. Anything wrong keeps what runs. */
static void parent_reload(struct parent *p)
{
	struct config *cfg = xmalloc(sizeof(*cfg));
	int fds[CONFIG_MAX_LISTENERS];
	struct tls_cert_set certs;
	struct tls_settings settings;
	char *errors = NULL, *text = NULL;
	size_t text_len = 0;
	const char *why;
	unsigned i, kept;

	if (config_load_file(cfg, p->cfg->path, &text, &text_len, &errors) < 0) {
		parent_log_reload_failed(errors);
		free(errors);
		free(cfg);
		return;
	}
	if (strcmp(cfg->data_dir, p->cfg->data_dir) != 0) {
		log_warn("event=reload-warning reason=\"data_dir changes need a restart\"");
		strlcpy_checked(cfg->data_dir, p->cfg->data_dir, sizeof(cfg->data_dir));
	}
	tls_settings_from_config(cfg, &settings);
	if (tls_cert_set_reload(&settings, &p->certs, &certs, &why) < 0) {
		parent_log_reload_failed(why);
		free(text);
		free(cfg);
		return;
	}
	if (parent_bind_all(cfg, fds, p->cfg, p->listen_fds) < 0) {
		log_error("event=reload-failed reason=\"cannot listen\"");
		tls_cert_set_free(&certs);
		free(text);
		free(cfg);
		return;
	}
	parent_take_listeners(p, cfg, fds);
	parent_metrics_reload(cfg, p->cfg);
	free(p->cfg);
	p->cfg = cfg;
	free(p->cfg_text);
	p->cfg_text = text;
	p->cfg_text_len = text_len;
	tls_cert_set_free(&p->certs);
	p->certs = certs;
	/* The dispatchers forked below keep this frame for their whole life:
	 * a copy of the ticket seed left in it would never be ratcheted. */
	explicit_bzero(&certs, sizeof(certs));
	parent_send_config(p);
	parent_send_users(p, 1);
	for (i = 0; i < CONN_LIMITS_SLOTS; i++)
		if (p->procs[i].pid > 0 && !p->procs[i].retiring) {
			p->procs[i].retiring = 1;
			kill(p->procs[i].pid, SIGUSR2);
		}
	p->generation++;
	parent_start_generation(p);
	kept = parent_certs_log(p->cfg, &p->certs); /* a warning when one stays old */
	parent_log_reloaded(&p->made_from, p->generation, kept, p->cfg, p->cfg_text,
	                    p->cfg_text_len, &p->certs);
}

static void parent_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct parent *p = arg;

	if (sig == SIGHUP && !p->shutting_down) {
		parent_notify_reloading();
		parent_log_reopen(p->cfg);
		parent_reload(p);
		parent_ready_arm(&p->ready); /* READY=1 once the new generation is up */
	} else if (sig == SIGTERM || sig == SIGINT)
		parent_shutdown(p, 0);
}

/* ---- start-up ---------------------------------------------------------- */

/* As root: find the unprivileged user, give it data_dir, and make and open
 * the empty directory dispatchers are chrooted into. */
static void parent_prepare_dirs(struct parent *p)
{
	char empty[4200];
	int fd;

	if (mkdir_p(p->cfg->data_dir, 0750) < 0)
		fatal("event=fatal reason=\"cannot create data_dir %s: %s\"", p->cfg->data_dir,
		      strerror(errno));
	if (!p->root)
		return;
	if (chown(p->cfg->data_dir, p->uid, p->gid) < 0)
		fatal("event=fatal reason=\"chown %s: %s\"", p->cfg->data_dir, strerror(errno));
	snprintf(empty, sizeof(empty), "%s/empty", p->cfg->data_dir);
	if (mkdir(empty, 0555) < 0 && errno != EEXIST)
		fatal("event=fatal reason=\"mkdir %s: %s\"", empty, strerror(errno));
	/* data_dir is the user's: what it put in place of empty/ is not
	 * followed (chown and chmod through a link would give root's file
	 * away) */
	fd = open(empty, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && (errno == ELOOP || errno == ENOTDIR))
		fatal("event=fatal reason=\"%s: not a directory of its own (a link?)\"", empty);
	if (fd < 0 || fchown(fd, 0, 0) < 0 || fchmod(fd, 0555) < 0)
		fatal("event=fatal reason=\"%s: %s\"", empty, strerror(errno));
	p->empty_fd = fd; /* every chroot into it goes through this descriptor */
}

static void parent_find_user(struct parent *p)
{
	struct passwd *pw;

	p->root = geteuid() == 0;
	if (!p->root)
		return;
	pw = getpwnam(p->cfg->user);
	if (pw == NULL)
		fatal("event=fatal reason=\"user '%s' does not exist; create it (scripts/deps "
		      "does) or set [server] user\"",
		      p->cfg->user);
	p->uid = pw->pw_uid;
	p->gid = pw->pw_gid;
}

static void parent_daemonize(void)
{
	int fd;

	if (fork() != 0)
		_exit(0);
	setsid();
	if (fork() != 0)
		_exit(0);
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
}

/* Signals are caught before any role starts, so an early SIGHUP or SIGTERM
 * is handled, not fatal. */
static void parent_watch_signals(struct parent *p)
{
	static const int sigs[] = {SIGHUP, SIGTERM, SIGINT};
	struct event *ev[4];
	sigset_t set;
	unsigned i;

	/* Signals first in their turn: a dead child's last lines are read by
	 * the SIGCHLD drain, not the log pipe's event; libevent goes by signal
	 * number, so a SIGTERM sent to the whole group precedes its exits. */
	for (i = 0; i < 4; i++) {
		ev[i] = evsignal_new(p->base, i < 3 ? sigs[i] : SIGCHLD,
		                     i < 3 ? parent_signal_cb : parent_sigchld_cb, p);
		event_priority_set(ev[i], 0);
		event_add(ev[i], NULL);
	}
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
}

/* Reads the configuration, finds the user, and checks the certificates
 * while errors still reach the terminal; the keys read for that are wiped,
 * to be read again once the roles that need none are forked. Returns 0,
 * or -1 after saying why on stderr. */
static int parent_load(struct parent *p, const char *config_path)
{
	struct tls_settings settings;
	char *errors = NULL;
	const char *why;

	p->cfg = xmalloc(sizeof(*p->cfg));
	if (config_load_file(p->cfg, config_path, &p->cfg_text, &p->cfg_text_len, &errors) < 0) {
		fprintf(stderr, "%s\n", errors);
		return -1;
	}
	parent_find_user(p);
	tls_settings_from_config(p->cfg, &settings);
	if (tls_cert_set_load(&settings, &p->certs, &why) < 0) {
		fprintf(stderr, "sealmail: certificate: %s\n", why);
		return -1;
	}
	tls_cert_set_free(&p->certs);
	return 0;
}

/* Starts the queue and lookup roles, then reads the certificates and keys
 * for the dispatchers, and starts those. Returns 0, or -1 (logged). */
static int parent_start_roles(struct parent *p)
{
	struct tls_settings settings;
	const char *why;

	parent_start_role(p, ROLE_QUEUE);
	parent_start_role(p, ROLE_LOOKUP);
	parent_start_role(p, ROLE_STORE);
	tls_settings_from_config(p->cfg, &settings);
	if (tls_cert_set_load(&settings, &p->certs, &why) < 0) {
		log_error("event=fatal reason=\"certificate: %s\"", why);
		return -1;
	}
	(void)parent_certs_log(p->cfg, &p->certs);
	parent_send_users(p, 1);
	parent_snapshot_take(&p->made_from, p->cfg, p->cfg_text, p->cfg_text_len, &p->certs);
	p->ev_users = event_new(p->base, -1, EV_PERSIST, parent_users_timer_cb, p);
	event_add(p->ev_users, &(struct timeval){0, PARENT_USERS_CHECK_MSEC * 1000});
	parent_start_generation(p);
	return 0;
}

static void parent_log_started(const struct parent *p)
{
	unsigned i;

	for (i = 0; i < p->cfg->n_listeners; i++)
		log_info("event=listening listener=%s address=%s tls=%s", p->cfg->listeners[i].name,
		         p->cfg->listeners[i].address_text,
		         listener_tls_name(p->cfg->listeners[i].tls));
	log_info("event=started hostname=%s data_dir=%s dispatchers=%u user=%s", p->cfg->hostname,
	         p->cfg->data_dir, parent_dispatcher_count(p->cfg),
	         p->root ? p->cfg->user : "(unchanged)");
}

/* Every child of a start or a reload has reported in: systemd hears it. */
static void parent_ready_done(void *arg)
{
	struct parent *p = arg;
	unsigned n = parent_dispatcher_count(p->cfg);

	if (p->shutting_down)
		return;
	log_info("event=ready generation=%u dispatchers=%u", p->generation, n);
	parent_notify_ready("running: %u listeners, %u dispatchers, generation %u",
	                    p->cfg->n_listeners, n, p->generation);
}

/* Claims the pidfile, or says on stderr why not. */
static int parent_claim_pidfile(const struct parent *p)
{
	char path[4200];
	const char *why;
	pid_t other;

	config_pidfile(p->cfg, path, sizeof(path));
	if (pidfile_claim(path, &other, &why) == 0)
		return 0;
	fprintf(stderr, "sealmail: pidfile %s\n", why);
	return -1;
}

/* Ends every child and removes the local socket; returns the exit status. */
static int parent_stop(struct parent *p)
{
	parent_kill_all(p, SIGKILL);
	parent_metrics_stop();
	while (waitpid(-1, NULL, 0) > 0)
		;
	if (p->local_fd >= 0) {
		char path[108];
		config_submit_socket(p->cfg, p->root, path, sizeof(path));
		unlink(path);
	}
	tls_cert_set_free(&p->certs);
	log_funnel_drain(); /* the children's last lines */
	log_info("event=stopped");
	pidfile_remove();
	return p->exit_status;
}

int parent_main(const char *config_path, int foreground)
{
	struct parent *p = xcalloc(1, sizeof(*p));
	sigset_t block;

	/* Held until parent_watch_signals(): nothing may kill us half-started. */
	sigemptyset(&block);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, NULL);
	p->empty_fd = -1;
	p->users_watch.type = IMSG_CTL_USERS;
	p->aliases_watch.type = IMSG_CTL_ALIASES;
	if (parent_load(p, config_path) < 0)
		return 1;
	proctitle_set("sealmail-parent", "parent");
	log_init("parent", 1); /* stderr until parent_log_setup() */
	tzset();
	signal(SIGPIPE, SIG_IGN);
	parent_prepare_dirs(p);
	if (parent_log_setup(p->cfg, foreground) < 0 || parent_claim_pidfile(p) < 0)
		return 1;
	if (parent_bind_all(p->cfg, p->listen_fds, NULL, NULL) < 0) {
		fprintf(stderr, "sealmail: cannot listen (see the log line above)\n");
		return 1;
	}
	p->local_fd = parent_bind_local(p->cfg, p->root);
	if (parent_metrics_prepare(p->cfg) < 0)
		return 1;
	if (!foreground) {
		parent_daemonize();
		(void)pidfile_update();
		parent_log_detached();
	}
	p->self = getpid();
	p->limits = conn_limits_new();
	if (parent_metrics_start(p->listen_fds, p->cfg->n_listeners, p->local_fd) == 0)
		parent_run_metrics(p);
	p->base = event_base_new();
	if (p->base == NULL || event_base_priority_init(p->base, PARENT_PRIORITIES) < 0)
		fatal("event=fatal reason=\"cannot create the event loop\"");
	if (parent_ready_init(&p->ready, p->base, parent_ready_done, p) < 0)
		fatal("event=fatal reason=\"readiness pipe: %s\"", strerror(errno));
	parent_log_watch(p->base);
	parent_watch_signals(p);
	if (parent_start_roles(p) < 0) {
		p->exit_status = 1;
		return parent_stop(p);
	}
	parent_log_started(p);
	parent_ready_arm(&p->ready);
	event_base_dispatch(p->base);
	return parent_stop(p);
}
