/*
 * queue_ctl.c: the control socket, data_dir/control.sock, through which
 * `sealmail queue ...` lists and acts on the queue, and `sealmail policy
 * forget DOMAIN` clears the downgrade memory of a domain. Only root and the
 * user the queue runs as may connect (SO_PEERCRED). A request is one line;
 * the answer is an exit status line ("0" or "1") followed by text, then EOF.
 *
 *   queue list | mailq | show ID | flush [ID] | hold ID
 *   | release ID [--tls-override] | delete ID
 *   policy forget DOMAIN
 *
 * `queue show` gives each recipient's record of its last remote attempt as
 * "key: value" lines (attempted, relay, tls, peer, policy, policy-source,
 * evidence, testing, held), in that order, each only when it has a value.
 *
 * Called by queue.c (queue_control_listen at start-up; then the event loop
 * runs the callbacks); calls queue_msg.c, queue_state_file.c, tls_memory.c
 * and queue.c's queue_schedule_flush().
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "queue/queue_ctl.h"
#include "queue/queue_msg.h"
#include "queue/queue_state_file.h"
#include "queue/queue_tlsrpt.h"
#include "queue/tls_memory.h"

#define CONTROL_PATH "control.sock"
#define CONTROL_LINE_MAX 1024
#define CONTROL_TIMEOUT 30
#define CONTROL_ARGS_MAX 4

/* The socket as bound, to remove it at exit only if it is still there. */
static struct stat control_made;

/* A connection to the control socket: who it is, for the audit log. */
struct queue_ctl_conn {
	struct queue *q;
	uid_t uid;
};

static struct queue_msg_list *queue_list_at(struct queue *q, unsigned i)
{
	return i == 0 ? &q->ready : i == 1 ? &q->active : &q->deferred;
}

/* The message ID (any case) on the ready, active or deferred list, and that
 * list; NULL when none is (one still being received or committed is not). */
static struct queue_msg *queue_find(struct queue *q, const char *id, struct queue_msg_list **list_r)
{
	struct queue_msg *m;
	unsigned i;

	for (i = 0; i < 3; i++)
		TAILQ_FOREACH(m, queue_list_at(q, i), entry)
	if (strcasecmp(m->id, id) == 0) {
		*list_r = queue_list_at(q, i);
		return m;
	}
	return NULL;
}

/* T as "2026-12-01T19:50:00Z" ("" for none). */
static void queue_ctl_time(time_t t, char *buf, size_t size)
{
	struct tm tm;

	buf[0] = '\0';
	if (t > 0 && gmtime_r(&t, &tm) != NULL)
		strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* "5m", "2h", "3d". */
static void queue_age(time_t seconds, char *buf, size_t size)
{
	if (seconds < 120)
		snprintf(buf, size, "%llds", (long long)seconds);
	else if (seconds < 7200)
		snprintf(buf, size, "%lldm", (long long)seconds / 60);
	else if (seconds < 172800)
		snprintf(buf, size, "%lldh", (long long)seconds / 3600);
	else
		snprintf(buf, size, "%lldd", (long long)seconds / 86400);
}

/* Loads M for reading if it is not; returns whether it was loaded here. */
static int queue_ctl_load(struct queue *q, struct queue_msg *m, struct evbuffer *out)
{
	const char *why;
	int was_loaded = m->fd >= 0;

	if (queue_msg_load(q, m, &why) < 0) {
		evbuffer_add_printf(out, "%s: cannot read: %s\n", m->id, why);
		queue_msg_unload(m);
		return -1;
	}
	return !was_loaded;
}

/* The state words `queue list`, `queue show` and the README share. A
 * recipient is pending (not tried yet), active (in the attempt in
 * progress), deferred (tried, to be tried again at the message's next
 * attempt; its last reason is shown), held (its message is on hold),
 * delivered or bounced (failed for good: its DSN is due, if asked for). */
static const char *queue_rcpt_state(const struct queue_msg *m, const struct queue_rcpt *r)
{
	if (r->inflight)
		return "active";
	if (r->status == RCPT_DELIVERED)
		return "delivered";
	if (r->status == RCPT_FAILED)
		return "bounced";
	if (m->held)
		return "held";
	return r->last.text[0] != '\0' || r->via != NULL ? "deferred" : "pending";
}

/* A message is held, active (an attempt in progress), deferred (tried:
 * the next attempt is due at not_before) or pending (not tried yet). */
static const char *queue_msg_state(const struct queue *q, const struct queue_msg *m,
                                   const struct queue_msg_list *list)
{
	if (m->held)
		return "held";
	if (list == &q->active)
		return "active";
	return m->attempts > 0 ? "deferred" : "pending";
}

/* 1 when a pending recipient of M waits because TLS policy alone deferred
 * it. */
static int queue_msg_tls_held(const struct queue_msg *m)
{
	for (unsigned i = 0; i < m->n_rcpts; i++)
		if (queue_rcpt_tls_held(&m->rcpts[i]))
			return 1;
	return 0;
}

/* VALUE with control characters as spaces, so that it stays on its line. */
static void queue_ctl_printable(struct evbuffer *out, const char *value)
{
	for (; *value != '\0'; value++) {
		char c = (unsigned char)*value < 0x20 || *value == 0x7f ? ' ' : *value;
		evbuffer_add(out, &c, 1);
	}
}

/* One "        key: value" line of a record; none for an empty VALUE. */
static void queue_ctl_field(struct evbuffer *out, const char *key, const char *value)
{
	if (value == NULL || value[0] == '\0')
		return;
	evbuffer_add_printf(out, "        %s: ", key);
	queue_ctl_printable(out, value);
	evbuffer_add(out, "\n", 1);
}

/* R's record, field by field (`queue show`). */
static void queue_ctl_record(const struct queue_rcpt *r, struct evbuffer *out)
{
	const struct queue_rcpt_record *rec = r->via;
	char when[32], held[DELIVERY_TEXT_MAX + 16];

	if (rec == NULL)
		return;
	queue_ctl_time(rec->when, when, sizeof(when));
	queue_ctl_field(out, "attempted", when);
	queue_ctl_field(out, "relay", rec->relay[0] ? rec->relay : "none");
	queue_ctl_field(out, "tls", rec->tls[0] ? rec->tls : "none");
	queue_ctl_field(out, "peer", rec->peer);
	queue_ctl_field(out, "policy", rec->policy);
	queue_ctl_field(out, "policy-source", rec->source);
	queue_ctl_field(out, "evidence", rec->evidence);
	queue_ctl_field(out, "testing", rec->testing);
	if (queue_rcpt_tls_held(r)) {
		snprintf(held, sizeof(held), "tls-policy: %s", r->last.text);
		queue_ctl_field(out, "held", held);
	}
}

/* One message's block in `queue list` / `queue show`. */
static void queue_ctl_describe(struct queue *q, struct queue_msg *m,
                               const struct queue_msg_list *list, int all_rcpts,
                               struct evbuffer *out)
{
	time_t now = time(NULL);
	char age[32], next[32], v[900];
	const char *state = queue_msg_state(q, m, list);
	int loaded = queue_ctl_load(q, m, out);
	unsigned i;

	if (loaded < 0)
		return;
	queue_age(now - m->arrival, age, sizeof(age));
	if (m->not_before > now)
		queue_age(m->not_before - now, next, sizeof(next));
	else
		strlcpy_checked(next, "now", sizeof(next));
	evbuffer_add_printf(out, "%s age=%s size=%" PRIu64 " from=<%s> state=%s attempts=%u", m->id,
	                    age, m->body_len, m->env.sender, state, m->attempts);
	if (strcmp(state, "deferred") == 0)
		evbuffer_add_printf(out, " next=%s", next);
	if (queue_msg_tls_held(m))
		evbuffer_add_printf(out, " held-by=tls-policy");
	evbuffer_add(out, "\n", 1);
	for (i = 0; i < m->n_rcpts; i++) {
		const struct queue_rcpt *r = &m->rcpts[i];
		if (!all_rcpts && r->status == RCPT_DELIVERED)
			continue;
		evbuffer_add_printf(out, "    to=<%s> state=%s", m->env.rcpts[i].addr,
		                    queue_rcpt_state(m, r));
		if (r->last.enhanced[0] != '\0')
			evbuffer_add_printf(out, " dsn=%s", r->last.enhanced);
		if (r->last.reply_code != 0)
			evbuffer_add_printf(out, " reply_code=%u", r->last.reply_code);
		if (r->last.text[0] != '\0')
			evbuffer_add_printf(out, " %s=%s",
			                    r->status == RCPT_DELIVERED ? "reply" : "last_error",
			                    log_value(r->last.text, v, sizeof(v)));
		if (queue_rcpt_tls_held(r))
			evbuffer_add_printf(out, " held-by=tls-policy");
		evbuffer_add(out, "\n", 1);
		if (all_rcpts)
			queue_ctl_record(r, out);
	}
	if (loaded)
		queue_msg_unload(m);
}

static int queue_ctl_list(struct queue *q, struct evbuffer *out)
{
	struct queue_msg *m;
	unsigned i, n = 0;

	for (i = 0; i < 3; i++)
		TAILQ_FOREACH(m, queue_list_at(q, i), entry)
		{
			queue_ctl_describe(q, m, queue_list_at(q, i), 0, out);
			n++;
		}
	evbuffer_add_printf(out, "%u message%s in the queue\n", n, n == 1 ? "" : "s");
	return 0;
}

/* Who submitted M, in words: the SMTP AUTH identity when it is kept. */
static void queue_ctl_auth_words(const struct envelope *env, char *buf, size_t size)
{
	if (env->auth_user[0] != '\0')
		snprintf(buf, size, "%s (logged in with SMTP AUTH)", env->auth_user);
	else if (env->authenticated)
		snprintf(buf, size, "logged in, name not recorded (queued by a version that did not "
		                    "keep it)");
	else if (strcmp(env->listener, "local") == 0)
		snprintf(buf, size, "none (local submission: the Received: header names the uid)");
	else if (env->listener[0] == '\0')
		snprintf(buf, size, "none (a notice this server wrote itself)");
	else
		snprintf(buf, size, "none (the client did not log in)");
}

/* The envelope's DSN and body parameters, explained (RFC 6152, RFC 3461). */
static void queue_ctl_params(const struct queue_msg *m, struct evbuffer *out)
{
	const struct envelope *env = &m->env;
	const char *ret = queue_msg_ret(m);

	evbuffer_add_printf(out, "body: %s\n",
	                    strcmp(env->body, "8bitmime") == 0 ? "8bitmime (BODY=8BITMIME)"
	                    : strcmp(env->body, "7bit") == 0   ? "7bit (BODY=7BIT)"
	                                                       : "7bit (no BODY= given)");
	if (env->ret[0] == '\0')
		evbuffer_add_printf(out, "ret: not requested (a bounce returns the headers only)\n");
	else if (strcmp(ret, env->ret) != 0)
		evbuffer_add_printf(out, "ret: hdrs (RET=FULL ignored: the client neither logged in "
		                         "nor is trusted)\n");
	else
		evbuffer_add_printf(out, "ret: %s (RET=%s: a bounce returns %s)\n", ret,
		                    strcmp(ret, "full") == 0 ? "FULL" : "HDRS",
		                    strcmp(ret, "full") == 0 ? "the whole message"
		                                             : "the headers only");
	if (env->envid[0] == '\0')
		evbuffer_add_printf(out, "envid: none (no ENVID= given)\n");
	else
		evbuffer_add_printf(out, "envid: %s (ENVID=, as given)\n", env->envid);
}

/* ---- `mailq` ----------------------------------------------------------------
 *
 * The sendmail / Postfix `mailq` layout, for the scripts and the fingers
 * that expect it, in the columns of Postfix's long queue ids widened to
 * ours: a heading, then per message its id marked "*" while a delivery is
 * in progress or "!" when held, its size, arrival time (local time,
 * asctime() without the year) and sender ("MAILER-DAEMON" for the null
 * sender), then every recipient not yet delivered, each after its last
 * deferral reason in parentheses (right-aligned to column 78) when it
 * differs from the one before; "Mail queue is empty", or a trailer
 * "-- N Kbytes in M Requests.". */

#define MAILQ_COLUMNS "%-19s %8s %-19s %s\n"

static void queue_ctl_mailq_msg(struct queue *q, struct queue_msg *m,
                                const struct queue_msg_list *list, struct evbuffer *out)
{
	char when[32] = "??", id[sizeof(m->id) + 1], *nl;
	const char *reason = "";
	struct tm tm;
	time_t arrival = m->arrival;
	int loaded = queue_ctl_load(q, m, out);

	if (loaded < 0)
		return;
	if (arrival > 0 && localtime_r(&arrival, &tm) != NULL && asctime_r(&tm, when) != NULL &&
	    (nl = strchr(when, '\n')) != NULL)
		*nl = '\0';
	snprintf(id, sizeof(id), "%s%s", m->id, m->held ? "!" : list == &q->active ? "*" : "");
	evbuffer_add_printf(out, "%-19s %8" PRIu64 " %-19.19s %s\n", id, m->body_len, when,
	                    m->env.sender[0] ? m->env.sender : "MAILER-DAEMON");
	for (unsigned i = 0; i < m->n_rcpts; i++) {
		const struct queue_rcpt *r = &m->rcpts[i];
		int pad = 76 - (int)strlen(r->last.text);

		if (r->status == RCPT_DELIVERED)
			continue;
		if (r->last.text[0] != '\0' && strcmp(r->last.text, reason) != 0) {
			reason = r->last.text;
			evbuffer_add_printf(out, "%*s(", pad > 0 ? pad : 0, "");
			queue_ctl_printable(out, reason);
			evbuffer_add_printf(out, ")\n");
		}
		evbuffer_add_printf(out, MAILQ_COLUMNS, "", "", "", m->env.rcpts[i].addr);
	}
	if (loaded)
		queue_msg_unload(m);
}

static int queue_ctl_mailq(struct queue *q, struct evbuffer *out)
{
	struct queue_msg *m;
	uint64_t bytes = 0;
	unsigned i, n = 0;

	for (i = 0; i < 3; i++)
		TAILQ_FOREACH(m, queue_list_at(q, i), entry)
		{
			if (n++ == 0)
				evbuffer_add_printf(out, MAILQ_COLUMNS, "-----Queue ID------", "--Size--",
				                    "---Arrival Time----", "--Sender/Recipient------");
			else
				evbuffer_add(out, "\n", 1);
			queue_ctl_mailq_msg(q, m, queue_list_at(q, i), out);
			bytes += m->body_len;
		}
	if (n == 0)
		evbuffer_add_printf(out, "Mail queue is empty\n");
	else
		evbuffer_add_printf(out, "\n-- %" PRIu64 " Kbytes in %u Request%s.\n", bytes / 1024,
		                    n, n == 1 ? "" : "s");
	return 0;
}

/* `queue show ID`'s lines about the message as a whole, after its block. */
static void queue_ctl_show_envelope(struct queue *q, struct queue_msg *m,
                                    const struct queue_msg_list *list, struct evbuffer *out)
{
	char when[32], auth[ENVELOPE_ADDR_MAX + 64];
	time_t now = time(NULL);

	queue_ctl_time(m->arrival, when, sizeof(when));
	evbuffer_add_printf(out, "arrived: %s\n", when);
	if (strcmp(queue_msg_state(q, m, list), "deferred") == 0) {
		queue_ctl_time(m->not_before > now ? m->not_before : now, when, sizeof(when));
		evbuffer_add_printf(out, "next attempt: %s\n", when);
	}
	evbuffer_add_printf(out, "client: %s helo=%s tls=%s listener=%s\n",
	                    strcmp(m->env.listener, "local") == 0 ? "local" : m->env.client,
	                    m->env.helo, m->env.tls[0] ? m->env.tls : "none",
	                    m->env.listener[0] ? m->env.listener : "none");
	queue_ctl_auth_words(&m->env, auth, sizeof(auth));
	evbuffer_add_printf(out, "auth: %s\n", auth);
	queue_ctl_params(m, out);
	evbuffer_add(out, "\n", 1);
}

/* `queue show ID`: the envelope, every recipient, the message's header. */
static int queue_ctl_show(struct queue *q, struct queue_msg *m, const struct queue_msg_list *list,
                          struct evbuffer *out)
{
	char head[65536];
	int loaded;
	ssize_t n;
	char *end;

	queue_ctl_describe(q, m, list, 1, out);
	loaded = queue_ctl_load(q, m, out);
	if (loaded < 0)
		return 0;
	queue_ctl_show_envelope(q, m, list, out);
	n = pread(m->fd, head, sizeof(head) - 1, (off_t)m->header_len);
	if (n > 0) {
		head[n] = '\0';
		end = strstr(head, "\r\n\r\n");
		evbuffer_add(out, head, end ? (size_t)(end - head) + 2 : (size_t)n);
	}
	if (loaded)
		queue_msg_unload(m);
	return 0;
}

/* Moves M to the ready list and wakes the flush. A deferred message's
 * attempt is then an extra one: the time its next scheduled attempt was
 * due is kept, so a failed manual attempt does not move the schedule. */
static void queue_ctl_make_ready(struct queue *q, struct queue_msg *m, struct queue_msg_list *list)
{
	if (list == &q->ready || list == &q->active)
		return;
	if (m->attempts > 0 && !m->manual) {
		m->manual = 1;
		m->scheduled = m->not_before;
	}
	m->not_before = 0;
	TAILQ_REMOVE(list, m, entry);
	TAILQ_INSERT_TAIL(&q->ready, m, entry);
	queue_schedule_flush(q);
}

static int queue_ctl_flush(struct queue *q, const char *id, struct evbuffer *out)
{
	struct queue_msg *m, *next;
	struct queue_msg_list *list;
	unsigned n = 0;

	if (id != NULL) {
		if ((m = queue_find(q, id, &list)) == NULL) {
			evbuffer_add_printf(out, "%s: no such message in the queue\n", id);
			return 1;
		}
		if (m->held) {
			evbuffer_add_printf(out, "%s: on hold; release it first\n", id);
			return 1;
		}
		queue_ctl_make_ready(q, m, list);
		evbuffer_add_printf(out, "%s: scheduled for delivery now\n", m->id);
		return 0;
	}
	for (m = TAILQ_FIRST(&q->deferred); m != NULL; m = next) {
		next = TAILQ_NEXT(m, entry);
		if (m->held)
			continue;
		queue_ctl_make_ready(q, m, &q->deferred);
		n++;
	}
	evbuffer_add_printf(out, "%u message%s scheduled for delivery now\n", n, n == 1 ? "" : "s");
	return 0;
}

/* Saves the hold flag, loading the message's state if need be. */
static void queue_ctl_save(struct queue *q, struct queue_msg *m)
{
	const char *why;
	int was_loaded = m->fd >= 0;

	if (m->n_rcpts == 0 && queue_msg_load(q, m, &why) < 0) {
		queue_msg_unload(m); /* a half-read message must not pass for a loaded one */
		return;
	}
	queue_state_write(m);
	if (!was_loaded && m->tasks == 0)
		queue_msg_unload(m);
}

/* `queue hold ID`, `queue release ID` and, with OVERRIDE, `queue release ID
 * --tls-override`: the next attempt only is made with the TLS level
 * lowered to "may" (REQUIRETLS still holds: policy/decide.c), audited in
 * the log with the caller's UID. */
static int queue_ctl_hold(struct queue *q, const char *id, int hold, int override, uid_t uid,
                          struct evbuffer *out)
{
	struct queue_msg_list *list;
	struct queue_msg *m = queue_find(q, id, &list);

	if (m == NULL) {
		evbuffer_add_printf(out, "%s: no such message in the queue\n", id);
		return 1;
	}
	if (override) {
		m->tls_override = 1;
		log_warn("event=tls-override id=%s by=%u", m->id, (unsigned)uid);
		evbuffer_add_printf(out, "%s: the next attempt is made with TLS level may "
		                         "(REQUIRETLS still holds)\n",
		                    m->id);
	}
	m->held = hold;
	if (hold && list == &q->ready) {
		TAILQ_REMOVE(list, m, entry);
		TAILQ_INSERT_TAIL(&q->deferred, m, entry);
	}
	if (!hold)
		queue_ctl_make_ready(q, m, list);
	queue_ctl_save(q, m);
	log_info(hold ? "event=held id=%s" : "event=released id=%s", m->id);
	evbuffer_add_printf(out, "%s: %s\n", m->id,
	                    hold ? "on hold" : "released, scheduled for delivery now");
	return 0;
}

static int queue_ctl_delete(struct queue *q, const char *id, struct evbuffer *out)
{
	struct queue_msg_list *list;
	struct queue_msg *m = queue_find(q, id, &list);

	if (m == NULL) {
		evbuffer_add_printf(out, "%s: no such message in the queue\n", id);
		return 1;
	}
	if (list == &q->active) {
		/* Deliveries in flight: it goes when they are back. */
		m->deleted = 1;
		evbuffer_add_printf(
		    out, "%s: will be deleted when its deliveries in progress end\n", m->id);
		return 0;
	}
	TAILQ_REMOVE(list, m, entry);
	queue_msg_remove_files(m);
	log_info("event=removed id=%s reason=deleted", m->id);
	evbuffer_add_printf(out, "%s: deleted\n", m->id);
	queue_msg_free(m);
	return 0;
}

/* `policy forget DOMAIN`: the downgrade memory of DOMAIN is cleared and
 * written at once, audited with the caller's UID. */
static int queue_ctl_forget(struct queue *q, const char *domain, uid_t uid, struct evbuffer *out)
{
	char d[600];

	log_value(domain, d, sizeof(d));
	if (!tls_seen_forget(q->tls_seen, domain)) {
		evbuffer_add_printf(out, "%s: nothing remembered\n", domain);
		return 0;
	}
	if (tls_memory_save(q->tls_seen, q->cfg.outbound_remember_tls) < 0) {
		evbuffer_add_printf(out, "%s: forgotten, but the memory file could not be written "
		                         "(see the log); it is tried again every second\n",
		                    domain);
		return 1;
	}
	log_info("event=tls-memory-forget domain=%s by=%u", d, (unsigned)uid);
	evbuffer_add_printf(out, "%s: forgotten\n", domain);
	return 0;
}

/* The `queue release` and `policy` requests. */
static int queue_ctl_run_more(struct queue *q, int argc, char **argv, uid_t uid,
                              struct evbuffer *out)
{
	if (argc == 4 && strcmp(argv[0], "queue") == 0 && strcmp(argv[1], "release") == 0 &&
	    strcmp(argv[3], "--tls-override") == 0)
		return queue_ctl_hold(q, argv[2], 0, 1, uid, out);
	if (argc == 3 && strcmp(argv[0], "policy") == 0 && strcmp(argv[1], "forget") == 0)
		return queue_ctl_forget(q, argv[2], uid, out);
	evbuffer_add_printf(out, "unknown request\n");
	return 1;
}

/* Runs one request line; writes the text to OUT; returns the exit status. */
static int queue_ctl_run(struct queue *q, char *line, uid_t uid, struct evbuffer *out)
{
	char *argv[CONTROL_ARGS_MAX + 1], *save = NULL;
	struct queue_msg_list *list;
	struct queue_msg *m;
	int argc = 0;

	for (char *t = strtok_r(line, " \t", &save); t && argc <= CONTROL_ARGS_MAX;
	     t = strtok_r(NULL, " \t", &save))
		argv[argc++] = t;
	if (argc > CONTROL_ARGS_MAX) {
		evbuffer_add_printf(out, "unknown request\n");
		return 1;
	}
	if (argc >= 2 && strcmp(argv[0], "tls-report") == 0)
		return queue_tlsrpt_ctl(argv, argc, out);
	if (argc >= 2 && strcmp(argv[0], "queue") == 0) {
		if (argc == 2 && strcmp(argv[1], "list") == 0)
			return queue_ctl_list(q, out);
		if (argc == 2 && strcmp(argv[1], "mailq") == 0)
			return queue_ctl_mailq(q, out);
		if (argc == 3 && strcmp(argv[1], "show") == 0) {
			if ((m = queue_find(q, argv[2], &list)) == NULL) {
				evbuffer_add_printf(out, "%s: no such message in the queue\n",
				                    argv[2]);
				return 1;
			}
			return queue_ctl_show(q, m, list, out);
		}
		if ((argc == 2 || argc == 3) && strcmp(argv[1], "flush") == 0)
			return queue_ctl_flush(q, argc == 3 ? argv[2] : NULL, out);
		if (argc == 3 && strcmp(argv[1], "hold") == 0)
			return queue_ctl_hold(q, argv[2], 1, 0, uid, out);
		if (argc == 3 && strcmp(argv[1], "release") == 0)
			return queue_ctl_hold(q, argv[2], 0, 0, uid, out);
		if (argc == 3 && strcmp(argv[1], "delete") == 0)
			return queue_ctl_delete(q, argv[2], out);
	}
	return queue_ctl_run_more(q, argc, argv, uid, out);
}

/* Ends connection ARG (a struct queue_ctl_conn) on BEV. */
static void queue_ctl_close(struct bufferevent *bev, void *arg)
{
	bufferevent_free(bev);
	free(arg);
}

static void queue_ctl_write_cb(struct bufferevent *bev, void *arg)
{
	queue_ctl_close(bev, arg);
}

static void queue_ctl_event_cb(struct bufferevent *bev, short what, void *arg)
{
	queue_ctl_close(bev, arg);
}

static void queue_ctl_read_cb(struct bufferevent *bev, void *arg)
{
	struct queue_ctl_conn *conn = arg;
	struct queue *q = conn->q;
	struct evbuffer *in = bufferevent_get_input(bev), *text;
	size_t len;
	char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
	int status;

	if (line == NULL) {
		if (evbuffer_get_length(in) > CONTROL_LINE_MAX)
			queue_ctl_close(bev, conn);
		return;
	}
	bufferevent_disable(bev, EV_READ);
	text = evbuffer_new();
	status = len > CONTROL_LINE_MAX ? 1 : queue_ctl_run(q, line, conn->uid, text);
	free(line);
	evbuffer_add_printf(bufferevent_get_output(bev), "%d\n", status);
	evbuffer_add_buffer(bufferevent_get_output(bev), text);
	evbuffer_free(text);
	bufferevent_setcb(bev, NULL, queue_ctl_write_cb, queue_ctl_event_cb, conn);
}

static void queue_ctl_accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                                int salen, void *arg)
{
	struct queue *q = arg;
	struct queue_ctl_conn *conn;
	struct bufferevent *bev;
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    (cred.uid != 0 && cred.uid != getuid())) {
		static const char msg[] = "1\npermission denied: only root and the sealmail user\n";
		(void)!write(fd, msg, sizeof(msg) - 1);
		close(fd);
		return;
	}
	evutil_make_socket_nonblocking(fd);
	bev = bufferevent_socket_new(q->base, fd, BEV_OPT_CLOSE_ON_FREE);
	conn = xcalloc(1, sizeof(*conn));
	conn->q = q;
	conn->uid = cred.uid;
	bufferevent_setcb(bev, queue_ctl_read_cb, NULL, queue_ctl_event_cb, conn);
	bufferevent_set_timeouts(bev, &(struct timeval){CONTROL_TIMEOUT, 0},
	                         &(struct timeval){CONTROL_TIMEOUT, 0});
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

int queue_control_listen(struct queue *q, const char **error_r)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy_checked(sun.sun_path, CONTROL_PATH, sizeof(sun.sun_path));
	unlink(CONTROL_PATH);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    chmod(CONTROL_PATH, 0600) < 0 || listen(fd, 16) < 0) {
		*error_r = strerror(errno);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (lstat(CONTROL_PATH, &control_made) < 0)
		memset(&control_made, 0, sizeof(control_made));
	q->control =
	    evconnlistener_new(q->base, queue_ctl_accept_cb, q, LEV_OPT_CLOSE_ON_FREE, -1, fd);
	return 0;
}

void queue_control_close(struct queue *q)
{
	struct stat st;

	if (q->control != NULL)
		evconnlistener_free(q->control);
	q->control = NULL;
	/* data_dir is the user's: a name put there since is not ours to remove */
	if (lstat(CONTROL_PATH, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_dev == control_made.st_dev && st.st_ino == control_made.st_ino)
		unlink(CONTROL_PATH);
}
