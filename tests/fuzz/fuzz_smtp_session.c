/*
 * fuzz_smtp_session.c: libFuzzer harness for the whole SMTP server session
 * (smtp/smtp_session.c and its AUTH sub-machine, smtp_auth.c): the input
 * is what a client sends, through a socket pair inside one event loop, to a
 * real session whose callbacks (struct smtp_env) answer recipients, spool
 * files and commits at once or one loop turn later. The first byte picks the listener
 * (port 25, or one with AUTH), whether the client counts as having
 * finished TLS (so AUTH is reached without a handshake), whether it is a
 * trusted network, and the answer timing; the second how the rest is cut
 * into writes. The loop runs until the session is idle or gone; then the
 * client closes and everything must be freed.
 */
#include <arpa/inet.h>
#include <event2/event.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf/config.h"
#include "proto/proto.h"
#include "fuzz_common.h"
#include "mail/envelope.h"
#include "queue/spool_file.h"
#include "smtp/smtp_session.h"
#include "smtp/smtp_session_private.h"

#define MAX_TURNS 2000

static const char config_text[] = "[server]\n"
                                  "hostname = mx.local.test\n"
                                  "local_domains = local.test\n"
                                  "trusted_networks = 10.0.0.0/8\n"
                                  "[limits]\n"
                                  "message_size = 4k\n"
                                  "recipients = 100\n"
                                  "errors = 10\n"
                                  "[listen mx]\n"
                                  "address = 127.0.0.1:2525\n"
                                  "tls = none\n"
                                  "[listen sub]\n"
                                  "address = 127.0.0.1:2587\n"
                                  "tls = none\n";

static struct config cfg;

/* What the session asked for and is waiting on. */
struct harness {
	struct event_base *base;
	struct smtp_session *s;
	int late; /* answer one loop turn later */
	int pending_lookup, pending_open, pending_commit, pending_auth;
	char auth_user[ENVELOPE_ADDR_MAX];
	int auth_ok;
};

static void lookup_rcpt(void *owner, uint64_t handle, const char *address)
{
	struct harness *h = owner;

	CHECK(h->s != NULL && strlen(address) < ENVELOPE_ADDR_MAX);
	h->pending_lookup = strncmp(address, "unknown", 7) == 0 ? 2
	                    : strncmp(address, "list@", 5) == 0 ? 3
	                    : strncmp(address, "temp", 4) == 0  ? 4
	                                                        : 1;
}

static void answer_lookup(struct harness *h)
{
	static const char *const list[] = {"alice@local.test", "bob@remote.test"};
	const char *self = h->s->pending_rcpt;
	int what = h->pending_lookup;

	h->pending_lookup = 0;
	if (what == 1)
		smtp_session_lookup_done(h->s, LOOKUP_OK, &self, 1);
	else if (what == 2)
		smtp_session_lookup_done(h->s, LOOKUP_UNKNOWN_USER, NULL, 0);
	else if (what == 3)
		smtp_session_lookup_done(h->s, LOOKUP_OK, list, 2);
	else
		smtp_session_lookup_done(h->s, LOOKUP_TEMPFAIL, NULL, 0);
}

static int open_spool(void)
{
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

	CHECK(fd >= 0);
	return fd;
}

static int queue_file(void *owner, uint64_t handle, char *id_r, int *fd_r)
{
	struct harness *h = owner;

	if (h->late) {
		h->pending_open = 1;
		return 0;
	}
	strcpy(id_r, "0123456789ABCDEF");
	*fd_r = open_spool();
	return 1;
}

/* The envelope a session commits must be one the queue can store. */
static void queue_commit(void *owner, uint64_t handle, const char *queue_id, uint64_t size,
                         uint32_t crc, const struct envelope *env)
{
	struct harness *h = owner;
	struct envelope again;
	const char *why;
	size_t len, hlen;
	char *block = spool_block_format(env, size, crc, &len);

	CHECK(env->n_rcpts > 0 && env->n_rcpts <= cfg.limits.recipients);
	CHECK(size <= cfg.limits.message_size + 2048);
	CHECK(block != NULL);
	CHECK(spool_envelope_parse(&again, block, len - SPOOL_TRAILER_LEN, &hlen, &why) == 0 ||
	      env->id[0] == '\0');
	envelope_free(&again);
	free(block);
	h->pending_commit = 1;
}

static void queue_abort(void *owner, uint64_t handle, const char *queue_id)
{
}

static void auth_check(void *owner, uint64_t handle, const char *user, const char *password)
{
	struct harness *h = owner;

	CHECK(user != NULL && strlen(user) < ENVELOPE_ADDR_MAX);
	snprintf(h->auth_user, sizeof(h->auth_user), "%s", user);
	h->auth_ok = password != NULL && strcmp(password, "secret") == 0;
	h->pending_auth = 1;
}

static void closed(void *owner, uint64_t handle)
{
	struct harness *h = owner;

	h->s = NULL;
}

/* Answers what is pending; returns 1 when something was answered. */
static int answer(struct harness *h)
{
	if (h->s == NULL)
		return 0;
	if (h->pending_lookup) {
		answer_lookup(h);
		return 1;
	}
	if (h->pending_open) {
		h->pending_open = 0;
		smtp_session_open_done(h->s, 1, "0123456789ABCDEF", open_spool());
		return 1;
	}
	if (h->pending_commit) {
		h->pending_commit = 0;
		smtp_session_commit_done(h->s, 1, "queued");
		return 1;
	}
	if (h->pending_auth) {
		const char *owned = "alice@local.test";
		h->pending_auth = 0;
		smtp_session_auth_done(h->s, h->auth_ok, 0, h->auth_user, &owned, 1);
		return 1;
	}
	/* a failed login waits before its 535: skip the wait */
	if (h->s->ev_auth_delay != NULL && evtimer_pending(h->s->ev_auth_delay, NULL)) {
		event_del(h->s->ev_auth_delay);
		event_active(h->s->ev_auth_delay, EV_TIMEOUT, 1);
		return 1;
	}
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char *errors = NULL;

	fuzz_quiet_logs();
	if (config_load_string(&cfg, "fuzz.conf", config_text, &errors) < 0) {
		(void)!write(2, errors, strlen(errors));
		abort();
	}
	/* AUTH without certificates: the harness marks sessions as having
	 * done TLS instead */
	cfg.listeners[1].auth = LISTENER_AUTH_OPTIONAL;
	return 0;
}

/* Reads and drops what the server sent. */
static void drain(int fd)
{
	char buf[4096];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct harness h = {0};
	struct smtp_env env;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(40000)};
	size_t off = 2, chunk;
	int sv[2], turns = 0, shut = 0;

	if (size < 2)
		return 0;
	h.base = event_base_new();
	h.late = (data[0] & 8) != 0;
	env = (struct smtp_env){
	    .base = h.base,
	    .cfg = &cfg,
	    .owner = &h,
	    .lookup_rcpt = lookup_rcpt,
	    .queue_file = queue_file,
	    .queue_commit = queue_commit,
	    .queue_abort = queue_abort,
	    .auth_check = auth_check,
	    .closed = closed,
	};
	inet_pton(AF_INET, (data[0] & 4) ? "10.1.2.3" : "192.0.2.1", &sin.sin_addr);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
	h.s = smtp_session_new(&env, &cfg.listeners[data[0] & 1], sv[0], (struct sockaddr *)&sin,
	                       sizeof(sin), 1);
	CHECK(h.s != NULL);
	if (data[0] & 2)
		h.s->tls_active = 1; /* as if after STARTTLS: AUTH is offered */
	chunk = 1 + data[1] % 64;
	if (data[1] >= 0xc0)
		chunk = size;
	while (h.s != NULL && turns++ < MAX_TURNS) {
		int busy = 0;
		if (off < size) {
			size_t n = size - off < chunk ? size - off : chunk;
			ssize_t w = write(sv[1], data + off, n);
			if (w > 0)
				off += (size_t)w;
			busy = 1;
		} else if (!shut && turns > 2) {
			/* all sent: the client hangs up once the session is idle */
			busy = h.s->wait != SMTP_WAIT_NONE;
		}
		event_base_loop(h.base, EVLOOP_NONBLOCK);
		drain(sv[1]);
		busy |= answer(&h);
		if (!busy && off >= size && !shut && turns > 4) {
			shutdown(sv[1], SHUT_WR);
			shut = 1;
		}
	}
	/* a session that never finished is freed by EOF or must be stuck */
	CHECK(h.s == NULL);
	close(sv[1]);
	event_base_free(h.base);
	return 0;
}
