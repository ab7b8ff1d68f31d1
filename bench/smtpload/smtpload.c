/*
 * smtpload.c: smtpload's main: builds the message once, the TLS context
 * and the session slots, hands out message numbers (as fast as the slots
 * take them, or -q at an even rate from a timer), runs the libevent loop
 * and prints the result, or the first failure and exit status 1.
 * Idle mode (-i) opens connections instead, at most -s at a time, and holds
 * them until stdin reaches EOF or SIGTERM comes.
 */
#include "smtpload.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>

#define BODY_LINE 78           /* octets of text in a body line */
#define BODIES_MAX (1ul << 30) /* -s times -l: every slot keeps its copy */

double now_seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double elapsed(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

void run_fail(struct smtpload_run *run, const char *fmt, ...)
{
	va_list ap;

	if (run->failed)
		return;
	run->failed = 1;
	va_start(ap, fmt);
	vsnprintf(run->error, sizeof(run->error), fmt, ap);
	va_end(ap);
	event_base_loopbreak(run->base);
}

int run_all_taken(const struct smtpload_run *run)
{
	return run->taken >= run->o->messages;
}

int run_take_message(struct smtpload_run *run, unsigned long *number_r)
{
	if (run_all_taken(run) || (run->o->rate > 0 && run->taken >= run->released))
		return 0;
	*number_r = run->taken++;
	return 1;
}

void run_park(struct smtpload_run *run, struct smtpload_session *s)
{
	s->state = SESSION_WAITING;
	if (s->bev != NULL)
		bufferevent_set_timeouts(s->bev, NULL, NULL); /* no reply is awaited */
	s->next_waiting = run->waiting;
	run->waiting = s;
}

void run_message_done(struct smtpload_run *run, uint32_t latency_us)
{
	run->latency_us[run->completed++] = latency_us;
}

void run_session_finished(struct smtpload_run *run, struct smtpload_session *s)
{
	s->state = SESSION_FINISHED;
	if (--run->open_sessions == 0) {
		clock_gettime(CLOCK_MONOTONIC, &run->ended_at);
		event_base_loopbreak(run->base);
	}
}

/* Idle mode: starts slots until -s are connecting at once or all are. */
static void idle_start_more(struct smtpload_run *run)
{
	while (!run->closing && run->handshaking < run->o->sessions &&
	       run->started_sessions < run->n_sessions) {
		struct smtpload_session *s = &run->sessions[run->started_sessions++];
		run->handshaking++;
		session_connect(s);
	}
}

static void idle_close(struct smtpload_run *run);

void run_session_ready(struct smtpload_run *run, struct smtpload_session *s)
{
	run->handshaking--;
	if (run->closing) {
		session_quit(s);
		return;
	}
	run->ready_sessions++;
	idle_start_more(run);
	if (run->ready_sessions == run->n_sessions) {
		printf("smtpload: idle %u ready\n", run->n_sessions);
		fflush(stdout);
		if (run->stdin_ended)
			idle_close(run);
	}
}

/* Idle mode: stdin's EOF or SIGTERM: QUIT on every held connection; slots
 * still handshaking QUIT when ready, unstarted ones never start. */
static void idle_close(struct smtpload_run *run)
{
	if (run->closing)
		return;
	run->closing = 1;
	run->open_sessions -= run->n_sessions - run->started_sessions;
	for (unsigned i = 0; i < run->started_sessions; i++) {
		if (run->sessions[i].state == SESSION_HOLDING)
			session_quit(&run->sessions[i]);
	}
	if (run->open_sessions == 0)
		event_base_loopbreak(run->base);
}

static void stdin_cb(evutil_socket_t fd, short what, void *arg)
{
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		idle_close(arg);
}

static void sigterm_cb(evutil_socket_t sig, short what, void *arg)
{
	idle_close(arg);
}

/* Open loop: releases the messages due by now, gives them to waiting
 * slots, and sets the timer for the next one. */
static void rate_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtpload_run *run = arg;
	const struct smtpload_options *o = run->o;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	double due = floor(elapsed(&run->started_at, &now) * o->rate) + 1;
	run->released = due >= (double)o->messages ? o->messages : (unsigned long)due;
	while (run->waiting != NULL && (run->taken < run->released || run_all_taken(run))) {
		struct smtpload_session *s = run->waiting;
		run->waiting = s->next_waiting;
		s->has_message = run_take_message(run, &s->message);
		session_wake(s);
		if (run->failed)
			return;
	}
	if (run->released < o->messages) {
		double next = (double)run->released / o->rate - elapsed(&run->started_at, &now);
		struct timeval tv = {0, 0};
		if (next > 0) {
			tv.tv_sec = (time_t)next;
			tv.tv_usec = (suseconds_t)((next - (double)tv.tv_sec) * 1e6);
		}
		evtimer_add(run->rate_timer, &tv);
	}
}

/* Builds the message: a few headers, a Message-ID whose 10-digit number
 * each slot fills in, text lines up to -l octets in all, and the final
 * ".". Only its numbers change from one message to the next. */
static int build_body(struct smtpload_run *run)
{
	const struct smtpload_options *o = run->o;
	size_t cap = o->size + 4096, len, rest;
	char *b = malloc(cap);

	if (b == NULL)
		return -1;
	len = (size_t)snprintf(b, cap,
	                       "From: <%s>\r\nTo: <%s>\r\nSubject: smtpload\r\n"
	                       "Message-ID: <",
	                       o->sender, o->rcpts[0]);
	run->body_seq_offset = len;
	len += (size_t)snprintf(b + len, cap - len, "0000000000.%lx.%lx@%s>\r\n\r\n",
	                        (unsigned long)getpid(), (unsigned long)time(NULL), o->ehlo);
	rest = o->size > len ? o->size - len : 0;
	for (size_t line = 0; rest > 0; line++) {
		size_t n = rest >= BODY_LINE + 2 ? BODY_LINE : rest >= 2 ? rest - 2 : 0;
		if (rest - n - 2 == 1)
			n++; /* no 1-octet remainder: the last line takes it */
		for (size_t i = 0; i < n; i++)
			b[len + i] = (char)('a' + (line + i) % 26);
		memcpy(b + len + n, "\r\n", 2);
		len += n + 2;
		rest = rest > n + 2 ? rest - n - 2 : 0;
	}
	memcpy(b + len, ".\r\n", 3);
	run->body_template = b;
	run->body_len = len + 3;
	return 0;
}

/* The TLS context: TLS 1.2 and later, no certificate check (a benchmark
 * client), and with -R the client session cache of session.c. */
static int make_ssl_ctx(struct smtpload_run *run)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL)
		return -1;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (run->o->resume) {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
		                                        SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_sess_set_new_cb(ctx, session_new_ticket);
	} else {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	}
	if (run->o->idle)
		SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS); /* held, not used */
	run->ssl_ctx = ctx;
	return 0;
}

/* Allocates the slots, their bodies and the shared buffers; 0 or -1. */
static int make_sessions(struct smtpload_run *run)
{
	const struct smtpload_options *o = run->o;
	size_t rcpt_line = SMTPLOAD_ADDRESS_MAX + 16;

	run->n_sessions =
	    o->idle ? o->idle : (o->messages < o->sessions ? (unsigned)o->messages : o->sessions);
	run->sessions = calloc(run->n_sessions, sizeof(*run->sessions));
	run->latency_us = calloc(o->idle ? 1 : o->messages, sizeof(*run->latency_us));
	run->group_size = rcpt_line * (o->rcpts_per_message + 2);
	run->group_buffer = malloc(run->group_size);
	if (run->sessions == NULL || run->latency_us == NULL || run->group_buffer == NULL)
		return -1;
	for (unsigned i = 0; i < run->n_sessions; i++) {
		session_init(&run->sessions[i], run, i + 1);
		if (o->idle)
			continue;
		run->sessions[i].body = malloc(run->body_len);
		if (run->sessions[i].body == NULL)
			return -1;
		memcpy(run->sessions[i].body, run->body_template, run->body_len);
	}
	run->open_sessions = run->n_sessions;
	return 0;
}

/* Starts every slot (message mode): reused connections open at once; with
 * -N a slot opens one when it gets a message number. */
static void start_messages(struct smtpload_run *run)
{
	if (run->o->rate > 0) {
		run->released = 1;
		run->rate_timer = evtimer_new(run->base, rate_cb, run);
		struct timeval tv = {0, (suseconds_t)(1e6 / run->o->rate)};
		if (1.0 / run->o->rate >= 1.0)
			tv = (struct timeval){(time_t)(1.0 / run->o->rate), 0};
		evtimer_add(run->rate_timer, &tv);
	}
	for (unsigned i = 0; i < run->n_sessions && !run->failed; i++) {
		struct smtpload_session *s = &run->sessions[i];
		if (!run->o->new_connection) {
			session_connect(s);
			continue;
		}
		s->has_message = run_take_message(run, &s->message);
		if (s->has_message)
			session_connect(s);
		else
			run_park(run, s);
	}
}

static int compare_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The nearest-rank percentile P of the sorted latencies, in ms. */
static double percentile(const struct smtpload_run *run, double p)
{
	unsigned long n = run->completed, rank;

	if (n == 0)
		return 0;
	rank = (unsigned long)ceil(p / 100.0 * (double)n);
	return (double)run->latency_us[(rank ? rank : 1) - 1] / 1000.0;
}

static void print_result(struct smtpload_run *run)
{
	double seconds = elapsed(&run->started_at, &run->ended_at);
	double rate = seconds > 0 ? (double)run->completed / seconds : 0;

	qsort(run->latency_us, run->completed, sizeof(*run->latency_us), compare_u32);
	double p50 = percentile(run, 50), p90 = percentile(run, 90), p99 = percentile(run, 99);
	double max = percentile(run, 100);
	if (run->o->json) {
		printf("{\"messages\":%lu,\"seconds\":%.3f,\"rate\":%.1f,\"sessions\":%u,"
		       "\"connections\":%llu,\"tls\":%llu,\"resumed\":%llu,\"p50_ms\":%.3f,"
		       "\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f}\n",
		       run->completed, seconds, rate, run->n_sessions, run->connections, run->tls,
		       run->resumed, p50, p90, p99, max);
		return;
	}
	printf(
	    "smtpload: %lu messages in %.3f s: %.1f msg/s; sessions %u connections %llu tls %llu "
	    "resumed %llu; DATA-to-250 ms p50 %.3f p90 %.3f p99 %.3f max %.3f\n",
	    run->completed, seconds, rate, run->n_sessions, run->connections, run->tls,
	    run->resumed, p50, p90, p99, max);
}

/* Idle mode's watchers: stdin and SIGTERM. A stdin that epoll cannot watch
 * (a file, /dev/null) is read to its end at once: the connections are then
 * closed as soon as they are all ready. */
static void watch_idle_end(struct smtpload_run *run, struct event **stdin_ev,
                           struct event **term_ev)
{
	struct stat st;

	*term_ev = evsignal_new(run->base, SIGTERM, sigterm_cb, run);
	event_add(*term_ev, NULL);
	if (fstat(0, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || isatty(0))) {
		evutil_make_socket_nonblocking(0);
		*stdin_ev = event_new(run->base, 0, EV_READ | EV_PERSIST, stdin_cb, run);
		if (*stdin_ev != NULL && event_add(*stdin_ev, NULL) == 0)
			return;
	}
	char buf[4096];
	while (read(0, buf, sizeof(buf)) > 0)
		;
	run->stdin_ended = 1;
}

/* More descriptors than the default 1024, for -i and large -s. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Runs the loop to the end or the first failure; the exit status. */
static int run_loop(struct smtpload_run *run)
{
	struct event *stdin_ev = NULL, *term_ev = NULL;

	clock_gettime(CLOCK_MONOTONIC, &run->started_at);
	if (run->o->idle) {
		watch_idle_end(run, &stdin_ev, &term_ev);
		idle_start_more(run);
	} else {
		start_messages(run);
	}
	if (!run->failed)
		event_base_dispatch(run->base);
	if (stdin_ev != NULL)
		event_free(stdin_ev);
	if (term_ev != NULL)
		event_free(term_ev);
	if (run->failed) {
		fprintf(stderr, "smtpload: %s\n", run->error);
		fprintf(stderr, "smtpload: aborted after %lu of %lu messages\n", run->completed,
		        run->o->idle ? 0 : run->o->messages);
		return 1;
	}
	if (!run->o->idle)
		print_result(run);
	return 0;
}

static void run_free(struct smtpload_run *run)
{
	for (unsigned i = 0; run->sessions != NULL && i < run->n_sessions; i++)
		session_free(&run->sessions[i]);
	free(run->sessions);
	free(run->latency_us);
	free(run->group_buffer);
	free(run->body_template);
	if (run->rate_timer != NULL)
		event_free(run->rate_timer);
	if (run->ssl_ctx != NULL)
		SSL_CTX_free(run->ssl_ctx);
	if (run->base != NULL)
		event_base_free(run->base);
}

int main(int argc, char **argv)
{
	static struct smtpload_options o;
	struct smtpload_run run = {.o = &o};
	int status;

	if (smtpload_options_parse(&o, argc, argv) < 0)
		return 2;
	if (!o.idle && (unsigned long long)o.sessions * (o.size + 4096) > BODIES_MAX) {
		fprintf(stderr, "smtpload: -s times -l is over 1 GiB\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	run.base = event_base_new();
	if (run.base == NULL || make_ssl_ctx(&run) < 0 || build_body(&run) < 0 ||
	    make_sessions(&run) < 0) {
		fprintf(stderr, "smtpload: cannot set up (out of memory?)\n");
		run_free(&run);
		return 1;
	}
	status = run_loop(&run);
	run_free(&run);
	return status;
}
