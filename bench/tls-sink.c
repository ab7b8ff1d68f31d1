/*
 * bench/tls-sink.c: a small, fast SMTP sink for bench/run.
 *
 * One process, one libevent loop, any number of concurrent sessions. It
 * answers 220, EHLO/HELO, MAIL, RCPT, DATA (354, then 250 at the end of the
 * data), RSET, NOOP and QUIT (221); it offers PIPELINING, and STARTTLS when a
 * certificate is given (-c/-k), so the same sink serves a plaintext and a
 * STARTTLS benchmark. With -I (and a certificate) the listener is implicit
 * TLS instead (RFC 8314: the handshake first, then the greeting; STARTTLS is
 * not offered). Messages are read and thrown away; only counted.
 *
 * The counters (completed messages, connections, TLS handshakes, resumed
 * handshakes, ...) are written as one "key=value ..." line to the file given
 * with -o, every -i milliseconds when they have changed (default 20), and at
 * once on SIGUSR1. The file is replaced with rename(2), so a reader never sees
 * half a line. SIGTERM or SIGINT writes it a last time and exits.
 *
 * Build: cc -O2 -o tls-sink tls-sink.c -lssl -lcrypto -levent -levent_openssl
 * Usage: tls-sink -l 127.0.0.1:PORT -o COUNTFILE [-c CERT -k KEY [-I]] [-i MS]
 *                 [-n HOSTNAME]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#define MAX_LINE 4096    /* a command line longer than this closes the session */
#define IDLE_SECONDS 300 /* a silent client is dropped after this */

struct sink {
	struct event_base *base;
	SSL_CTX *ctx; /* NULL: plaintext only, no STARTTLS offered */
	int implicit; /* TLS from the first byte (-I) */
	const char *hostname;
	const char *count_file;
	char *count_tmp;
	/* counters */
	unsigned long long messages;    /* completed DATA phases */
	unsigned long long connections; /* accepted connections */
	unsigned long long tls;         /* completed TLS handshakes */
	unsigned long long resumed;     /* of which resumed sessions */
	unsigned long long tls_failed;  /* failed handshakes */
	unsigned long long aborted;     /* sessions that ended inside DATA */
	unsigned long long rejected;    /* commands answered 5xx */
	unsigned long open, max_open;
	char written[512]; /* what the file holds */
};

enum state { S_CMD, S_DATA, S_TLS_WAIT, S_QUIT };

struct sess {
	struct sink *k;
	struct bufferevent *bev; /* the plain socket, or the TLS filter on it */
	enum state state;
	int tls;        /* STARTTLS done, or an implicit-TLS session */
	int handshaken; /* the TLS handshake completed */
	int data_start; /* in DATA, nothing read yet: ".\r\n" here ends it */
	int mail, rcpt;
};

static void sess_readcb(struct bufferevent *bev, void *arg);
static void sess_eventcb(struct bufferevent *bev, short what, void *arg);

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("tls-sink: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void write_counts(struct sink *k, int force)
{
	char line[sizeof k->written];
	snprintf(line, sizeof line,
	         "messages=%llu connections=%llu tls=%llu resumed=%llu tls_failed=%llu "
	         "aborted=%llu rejected=%llu open=%lu max_open=%lu\n",
	         k->messages, k->connections, k->tls, k->resumed, k->tls_failed, k->aborted,
	         k->rejected, k->open, k->max_open);
	if (!force && strcmp(line, k->written) == 0)
		return;
	FILE *f = fopen(k->count_tmp, "w");
	if (f == NULL) {
		fprintf(stderr, "tls-sink: %s: %s\n", k->count_tmp, strerror(errno));
		return;
	}
	fputs(line, f);
	if (fclose(f) != 0 || rename(k->count_tmp, k->count_file) != 0) {
		fprintf(stderr, "tls-sink: %s: %s\n", k->count_file, strerror(errno));
		return;
	}
	memcpy(k->written, line, sizeof line);
}

static void sess_free(struct sess *s)
{
	struct sink *k = s->k;
	if (s->state == S_DATA)
		k->aborted++;
	/* BEV_OPT_CLOSE_ON_FREE: the TLS filter frees the SSL object and the
	 * plain bufferevent under it, which closes the socket. */
	bufferevent_free(s->bev);
	k->open--;
	free(s);
}

static void reply(struct sess *s, const char *text)
{
	evbuffer_add(bufferevent_get_output(s->bev), text, strlen(text));
}

static void reset_txn(struct sess *s)
{
	s->mail = 0;
	s->rcpt = 0;
}

static int verb_is(const char *line, size_t n, const char *verb)
{
	size_t v = strlen(verb);
	return n >= v && strncasecmp(line, verb, v) == 0 && (n == v || line[v] == ' ');
}

static void start_tls(struct sess *s)
{
	struct sink *k = s->k;
	struct evbuffer *in = bufferevent_get_input(s->bev);
	SSL *ssl = SSL_new(k->ctx);
	if (ssl == NULL)
		die("SSL_new failed");
	reply(s, "220 2.0.0 Ready to start TLS\r\n");
	/* Plaintext sent after STARTTLS is thrown away (RFC 3207 / CVE-2011-0411). */
	evbuffer_drain(in, evbuffer_get_length(in));
	/* The filter writes into the plain bufferevent's output after the 220,
	 * so the order on the wire is right without waiting for a flush. */
	struct bufferevent *tb = bufferevent_openssl_filter_new(
	    k->base, s->bev, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (tb == NULL)
		die("bufferevent_openssl_filter_new failed");
	bufferevent_openssl_set_allow_dirty_shutdown(tb, 1);
	s->bev = tb;
	s->tls = 1;
	s->state = S_CMD;
	reset_txn(s);
	bufferevent_setcb(tb, sess_readcb, NULL, sess_eventcb, s);
	bufferevent_set_timeouts(tb, &(struct timeval){IDLE_SECONDS, 0}, NULL);
	bufferevent_enable(tb, EV_READ | EV_WRITE);
}

/* MAIL, RCPT and DATA, in their order; returns 0 when LINE is none of them. */
static int transaction_command(struct sess *s, const char *line, size_t n)
{
	struct sink *k = s->k;
	if (verb_is(line, n, "MAIL")) {
		if (s->mail) {
			k->rejected++;
			reply(s, "503 5.5.1 Error: nested MAIL command\r\n");
		} else {
			s->mail = 1;
			reply(s, "250 2.1.0 Ok\r\n");
		}
	} else if (verb_is(line, n, "RCPT")) {
		if (!s->mail) {
			k->rejected++;
			reply(s, "503 5.5.1 Error: need MAIL command\r\n");
		} else {
			s->rcpt++;
			reply(s, "250 2.1.5 Ok\r\n");
		}
	} else if (verb_is(line, n, "DATA")) {
		if (!s->rcpt) {
			k->rejected++;
			reply(s, "503 5.5.1 Error: need RCPT command\r\n");
		} else {
			s->state = S_DATA;
			s->data_start = 1;
			reply(s, "354 End data with <CR><LF>.<CR><LF>\r\n");
		}
	} else {
		return 0;
	}
	return 1;
}

/* Returns 0 to go on reading, -1 when the session was freed or switched. */
static int command(struct sess *s, const char *line, size_t n)
{
	struct sink *k = s->k;
	char buf[512];

	if (verb_is(line, n, "EHLO")) {
		reset_txn(s);
		snprintf(buf, sizeof buf,
		         "250-%s\r\n250-PIPELINING\r\n250-SIZE 104857600\r\n250-8BITMIME\r\n"
		         "250-ENHANCEDSTATUSCODES\r\n%s250 SMTPUTF8\r\n",
		         k->hostname, (k->ctx != NULL && !s->tls) ? "250-STARTTLS\r\n" : "");
		reply(s, buf);
	} else if (verb_is(line, n, "HELO")) {
		reset_txn(s);
		snprintf(buf, sizeof buf, "250 %s\r\n", k->hostname);
		reply(s, buf);
	} else if (transaction_command(s, line, n)) {
		/* answered */
	} else if (verb_is(line, n, "RSET")) {
		reset_txn(s);
		reply(s, "250 2.0.0 Ok\r\n");
	} else if (verb_is(line, n, "NOOP")) {
		reply(s, "250 2.0.0 Ok\r\n");
	} else if (verb_is(line, n, "QUIT")) {
		reply(s, "221 2.0.0 Bye\r\n");
		/* The client closes after reading 221; wait for that (EOF). */
		s->state = S_QUIT;
		bufferevent_set_timeouts(s->bev, &(struct timeval){10, 0}, NULL);
		return -1;
	} else if (verb_is(line, n, "STARTTLS")) {
		if (k->ctx == NULL || s->tls) {
			k->rejected++;
			reply(s, "502 5.5.1 Error: command not implemented\r\n");
		} else {
			start_tls(s);
			return -1;
		}
	} else {
		k->rejected++;
		reply(s, "502 5.5.2 Error: command not recognized\r\n");
	}
	return 0;
}

static void sess_readcb(struct bufferevent *bev, void *arg)
{
	struct sess *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	for (;;) {
		size_t len = evbuffer_get_length(in);
		if (s->state == S_DATA) {
			if (s->data_start) {
				unsigned char head[3];
				if (len < 3)
					return;
				evbuffer_copyout(in, head, 3);
				s->data_start = 0;
				if (memcmp(head, ".\r\n", 3) == 0) { /* empty message */
					evbuffer_drain(in, 3);
					goto done;
				}
			}
			if (len < 5)
				return;
			struct evbuffer_ptr p = evbuffer_search(in, "\r\n.\r\n", 5, NULL);
			if (p.pos < 0) {
				/* Keep the last 4 bytes: the end may straddle reads. */
				evbuffer_drain(in, len - 4);
				return;
			}
			evbuffer_drain(in, (size_t)p.pos + 5);
		done:
			s->k->messages++;
			s->state = S_CMD;
			reset_txn(s);
			reply(s, "250 2.0.0 Ok: queued\r\n");
			continue;
		}
		if (s->state != S_CMD) { /* after QUIT: ignore the rest */
			evbuffer_drain(in, len);
			return;
		}
		size_t n;
		char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
		if (line == NULL) {
			if (len > MAX_LINE) {
				s->k->rejected++;
				sess_free(s);
			}
			return;
		}
		int r = command(s, line, n);
		free(line);
		if (r < 0)
			return;
	}
}

static void sess_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct sess *s = arg;
	struct sink *k = s->k;
	(void)bev;

	if (what & BEV_EVENT_CONNECTED) { /* the TLS handshake is done */
		SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
		s->handshaken = 1;
		k->tls++;
		if (ssl != NULL && SSL_session_reused(ssl))
			k->resumed++;
		return;
	}
	if (s->tls && !s->handshaken && (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)))
		k->tls_failed++; /* the session ended before its handshake did */
	while (ERR_get_error() != 0)
		;
	sess_free(s);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
	struct sink *k = arg;
	(void)l, (void)sa, (void)salen;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct sess *s = calloc(1, sizeof *s);
	if (s == NULL) {
		close(fd);
		return;
	}
	s->k = k;
	if (k->implicit) {
		SSL *ssl = SSL_new(k->ctx);
		if (ssl == NULL)
			die("SSL_new failed");
		/* the greeting written below waits in libevent until the
		 * handshake is done */
		s->bev = bufferevent_openssl_socket_new(k->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
		                                        BEV_OPT_CLOSE_ON_FREE);
		if (s->bev != NULL)
			bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
		else
			SSL_free(ssl);
		s->tls = 1;
	} else {
		s->bev = bufferevent_socket_new(k->base, fd, BEV_OPT_CLOSE_ON_FREE);
	}
	if (s->bev == NULL) {
		close(fd);
		free(s);
		return;
	}
	k->connections++;
	if (++k->open > k->max_open)
		k->max_open = k->open;
	bufferevent_setcb(s->bev, sess_readcb, NULL, sess_eventcb, s);
	bufferevent_set_timeouts(s->bev, &(struct timeval){IDLE_SECONDS, 0}, NULL);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	char buf[300];
	snprintf(buf, sizeof buf, "220 %s ESMTP tls-sink\r\n", k->hostname);
	reply(s, buf);
}

static void accept_error_cb(struct evconnlistener *l, void *arg)
{
	(void)l, (void)arg;
	/* EMFILE and friends: keep going, the client retries. */
	fprintf(stderr, "tls-sink: accept: %s\n", strerror(errno));
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	write_counts(arg, 0);
}

static void usr1_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	write_counts(arg, 1);
}

static void term_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sink *k = arg;
	(void)fd, (void)what;
	write_counts(k, 1);
	event_base_loopbreak(k->base);
}

static void usage(void)
{
	fprintf(stderr, "usage: tls-sink -l ADDR:PORT -o COUNTFILE [-c CERT -k KEY [-I]] [-i MS] "
	                "[-n HOSTNAME]\n");
	exit(2);
}

struct options {
	const char *listen, *cert, *key;
	long interval_ms;
};

/* Fills K and O from the command line; exits 2 (usage) on a bad one. */
static void parse_args(int argc, char **argv, struct sink *k, struct options *o)
{
	int c;
	while ((c = getopt(argc, argv, "l:o:c:k:i:n:I")) != -1) {
		switch (c) {
		case 'l':
			o->listen = optarg;
			break;
		case 'o':
			k->count_file = optarg;
			break;
		case 'c':
			o->cert = optarg;
			break;
		case 'k':
			o->key = optarg;
			break;
		case 'i':
			o->interval_ms = strtol(optarg, NULL, 10);
			break;
		case 'n':
			k->hostname = optarg;
			break;
		case 'I':
			k->implicit = 1;
			break;
		default:
			usage();
		}
	}
	if (o->listen == NULL || k->count_file == NULL || optind != argc ||
	    (o->cert == NULL) != (o->key == NULL) || o->interval_ms < 1 ||
	    (k->implicit && o->cert == NULL))
		usage();
}

/* The server context: TLS 1.2+, a session cache and tickets (so a client
 * may resume), CERT and KEY loaded; exits when they do not load. */
static SSL_CTX *tls_context_new(const char *cert, const char *key)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL)
		die("SSL_CTX_new failed");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"tls-sink", 8);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		die("%s: cannot load the certificate", cert);
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		die("%s: cannot load the key", key);
	return ctx;
}

/* A listener on ADDR:PORT feeding accept_cb; exits when it cannot bind. */
static struct evconnlistener *listen_on(struct sink *k, const char *addr)
{
	struct sockaddr_storage ss;
	int sslen = sizeof ss;
	if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss, &sslen) != 0)
		die("%s: not ADDR:PORT", addr);
	struct evconnlistener *l = evconnlistener_new_bind(
	    k->base, accept_cb, k,
	    LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 1024,
	    (struct sockaddr *)&ss, sslen);
	if (l == NULL)
		die("%s: cannot listen: %s", addr, strerror(errno));
	evconnlistener_set_error_cb(l, accept_error_cb);
	return l;
}

int main(int argc, char **argv)
{
	struct sink k = {.hostname = "sink.bench.local.test"};
	struct options o = {.interval_ms = 20};

	parse_args(argc, argv, &k, &o);
	if (asprintf(&k.count_tmp, "%s.tmp", k.count_file) < 0)
		die("out of memory");
	signal(SIGPIPE, SIG_IGN);
	if (o.cert != NULL)
		k.ctx = tls_context_new(o.cert, o.key);
	k.base = event_base_new();
	if (k.base == NULL)
		die("event_base_new failed");
	struct evconnlistener *l = listen_on(&k, o.listen);

	struct event *timer = event_new(k.base, -1, EV_PERSIST, timer_cb, &k);
	struct timeval iv = {o.interval_ms / 1000, (o.interval_ms % 1000) * 1000};
	event_add(timer, &iv);
	struct event *usr1 = evsignal_new(k.base, SIGUSR1, usr1_cb, &k);
	struct event *term = evsignal_new(k.base, SIGTERM, term_cb, &k);
	struct event *intr = evsignal_new(k.base, SIGINT, term_cb, &k);
	event_add(usr1, NULL);
	event_add(term, NULL);
	event_add(intr, NULL);

	write_counts(&k, 1);
	fprintf(stderr, "tls-sink: listening on %s, %s, counts in %s every %ld ms\n", o.listen,
	        k.implicit ? "implicit TLS"
	        : k.ctx    ? "STARTTLS offered"
	                   : "STARTTLS not offered",
	        k.count_file, o.interval_ms);
	event_base_dispatch(k.base);

	fprintf(stderr,
	        "tls-sink: %llu messages, %llu connections, %llu TLS handshakes (%llu resumed, "
	        "%llu failed), %llu aborted in DATA, %llu commands rejected, at most %lu open\n",
	        k.messages, k.connections, k.tls, k.resumed, k.tls_failed, k.aborted, k.rejected,
	        k.max_open);
	evconnlistener_free(l);
	event_free(timer);
	event_free(usr1);
	event_free(term);
	event_free(intr);
	event_base_free(k.base);
	SSL_CTX_free(k.ctx);
	free(k.count_tmp);
	return 0;
}
