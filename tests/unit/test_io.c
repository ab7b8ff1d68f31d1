/*
 * test_io.c: the connection layer (lib/io.h) over socket pairs in one
 * event loop: input and line reading, IO_DRAINED, the output bound that
 * stops reading, idle timeout and deadline, the peer closing, a
 * STARTTLS-style switch that drops the plaintext sent behind the command,
 * the peer checks of the TLS client, and the close_notify of io_close()
 * (which keeps a TLS 1.2 session resumable).
 *
 * The certificate is made here, at test time: no key is committed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/io.h"
#include "lib/tls.h"
#include "lib/tls_client.h"

#define TEST_HOST "mx.io.test"

/* What one io's callback saw. */
struct side {
	struct io *io;
	unsigned events[IO_CLOSED + 1];
	char lines[8][128];
	unsigned n_lines;
	int starttls;      /* server: STARTTLS read, switch once drained */
	int peer_starttls; /* client: send STARTTLS, switch on its 220 */
	const char *names; /* client: names the certificate must carry */
	size_t dropped;    /* server: input buffered when TLS started */
};

static struct event_base *base;
static int sv[2];
static struct tls_server *server_ctx;
static struct tls_client *client_ctx;
static char *cert_pem, *key_pem;

/* ---- a certificate for TEST_HOST, made now ------------------------------ */

static char *bio_text(BIO *bio)
{
	char *data, *copy;
	long n = BIO_get_mem_data(bio, &data);

	copy = calloc(1, (size_t)n + 1);
	memcpy(copy, data, (size_t)n);
	BIO_free(bio);
	return copy;
}

/* A self-signed certificate for TEST_HOST (its own trust anchor). */
static void make_certificate(void)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = X509_new();
	X509_NAME *name = X509_get_subject_name(x);
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	BIO *bio;

	assert_non_null(key);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)TEST_HOST, -1,
	                           -1, 0);
	X509_set_issuer_name(x, name);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:" TEST_HOST);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	bio = BIO_new(BIO_s_mem());
	PEM_write_bio_X509(bio, x);
	cert_pem = bio_text(bio);
	bio = BIO_new(BIO_s_mem());
	PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
	key_pem = bio_text(bio);
	X509_free(x);
	EVP_PKEY_free(key);
}

static int group_setup(void **state)
{
	struct tls_settings settings = {
	    .min_version = TLS1_2_VERSION,
	    .ciphers = "ECDHE+AESGCM",
	    .ciphersuites = "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256",
	};
	struct tls_client_settings client = {
	    .min_version = TLS1_2_VERSION,
	    .ciphers = "ECDHE+AESGCM",
	    .ciphersuites = "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256",
	};
	struct tls_cert_pem pem = {.name = ""};
	struct tls_cert_set set = {.certs = &pem, .n = 1};
	const char *why = NULL;

	make_certificate();
	pem.cert_pem = cert_pem;
	pem.key_pem = key_pem;
	server_ctx = tls_server_new(&settings, &set, &why);
	assert_non_null(server_ctx);
	client.ca_pem = cert_pem;
	client_ctx = tls_client_new(&client, &why);
	assert_non_null(client_ctx);
	return 0;
}

static int group_teardown(void **state)
{
	tls_server_free(&server_ctx);
	tls_client_free(&client_ctx);
	free(cert_pem);
	free(key_pem);
	return 0;
}

static int setup(void **state)
{
	base = event_base_new();
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	return 0;
}

static int teardown(void **state)
{
	if (sv[1] >= 0)
		close(sv[1]);
	event_base_free(base);
	return 0;
}

/* ---- the loop ------------------------------------------------------------- */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs the loop until *FLAG is set or SECONDS have passed; returns *FLAG. */
static unsigned run_until(const unsigned *flag, double seconds)
{
	double end = now() + seconds;

	while (*flag == 0 && now() < end) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
	return *flag;
}

static void run_for(double seconds)
{
	static const unsigned never = 0;

	run_until(&never, seconds);
}

static void write_all_fd(int fd, const char *text)
{
	size_t len = strlen(text);

	assert_int_equal(write(fd, text, len), (ssize_t)len);
}

/* Reads what there is on FD; returns how much. */
static size_t drain_fd(int fd)
{
	char buf[65536];
	size_t total = 0;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += (size_t)n;
	return total;
}

/* ---- the callback ----------------------------------------------------------- */

/* Takes whole lines; a server side switches to TLS after "STARTTLS"
 * once its 220 has left, a client side on the 220. */
static void take_lines(struct side *side)
{
	const char *line, *why;
	size_t len;

	while (!side->starttls && io_read_line(side->io, 100, &line, &len) == IO_LINE_OK) {
		if (side->n_lines < 8)
			snprintf(side->lines[side->n_lines++], sizeof(side->lines[0]), "%s", line);
		if (strcmp(line, "STARTTLS") == 0) {
			io_printf(side->io, "220 go ahead\r\n");
			io_pause(side->io);
			side->starttls = 1;
		} else if (side->peer_starttls && strcmp(line, "220 go ahead") == 0) {
			side->peer_starttls = 0;
			assert_int_equal(io_start_tls_client(side->io, client_ctx, TEST_HOST,
			                                     side->names, 5, &why),
			                 0);
		}
	}
}

static void on_event(struct io *io, enum io_event event, void *arg)
{
	struct side *side = arg;
	const char *why;

	side->events[event]++;
	if (event == IO_DATA)
		take_lines(side);
	if (event == IO_DRAINED && side->starttls && io_output_length(io) == 0) {
		side->starttls = 0;
		side->dropped = io_input_length(io);
		assert_int_equal(io_start_tls_server(io, server_ctx, 0, 5, &why), 0);
	}
}

/* ---- plaintext ---------------------------------------------------------------- */

static void test_data_and_lines(void **state)
{
	struct side s = {0};
	const char *line;
	size_t len;
	char big[300];

	s.io = io_new(base, sv[0], on_event, &s);
	write_all_fd(sv[1], "HELO a\r\nNOOP\nQUI");
	assert_true(run_until(&s.events[IO_DATA], 2));
	assert_int_equal(s.n_lines, 2);
	assert_string_equal(s.lines[0], "HELO a");
	assert_string_equal(s.lines[1], "NOOP");
	assert_int_equal(io_input_length(s.io), 3); /* "QUI" waits for its end */
	assert_int_equal(io_read_line(s.io, 100, &line, &len), IO_LINE_MORE);
	/* a line over the bound stays for the caller to drop */
	memset(big, 'x', sizeof(big) - 3);
	memcpy(big + sizeof(big) - 3, "\r\n", 3);
	io_drain(s.io, 3);
	io_pause(s.io);
	write_all_fd(sv[1], big);
	io_resume(s.io);
	run_for(0.1);
	assert_int_equal(io_read_line(s.io, 100, &line, &len), IO_LINE_TOO_LONG);
	assert_int_equal(io_input_length(s.io), strlen(big));
	assert_int_equal(io_read_line(s.io, sizeof(big), &line, &len), IO_LINE_OK);
	assert_int_equal(len, sizeof(big) - 3);
	io_free(&s.io);
	assert_null(s.io);
}

static void test_drained(void **state)
{
	struct side s = {0};
	char buf[64];

	s.io = io_new(base, sv[0], on_event, &s);
	io_printf(s.io, "220 %s ready\r\n", TEST_HOST);
	assert_false(io_output_full(s.io));
	assert_true(run_until(&s.events[IO_DRAINED], 2));
	assert_int_equal(io_output_length(s.io), 0);
	assert_int_equal(read(sv[1], buf, sizeof(buf)), strlen("220 " TEST_HOST " ready\r\n"));
	io_free(&s.io);
}

/* A peer that never reads: past IO_OUTPUT_MAX the io reads nothing more,
 * and reads again once the peer took the output. */
static void test_output_bound(void **state)
{
	struct side s = {0};
	static char chunk[IO_OUTPUT_MAX];
	int small = 4096;
	size_t got = 0, sent = 0;
	double end;

	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	s.io = io_new(base, sv[0], on_event, &s);
	memset(chunk, 'o', sizeof(chunk));
	while (!io_output_full(s.io)) {
		io_write(s.io, chunk, sizeof(chunk));
		sent += sizeof(chunk);
	}
	write_all_fd(sv[1], "NOOP\r\n");
	run_for(0.3);
	assert_true(io_output_full(s.io));
	assert_int_equal(s.events[IO_DATA], 0);
	assert_int_equal(io_input_length(s.io), 0);
	/* the peer reads: the io drains, then reads the command */
	end = now() + 5;
	while (s.events[IO_DATA] == 0 && now() < end) {
		got += drain_fd(sv[1]);
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	assert_true(s.events[IO_DRAINED] > 0);
	assert_int_equal(s.events[IO_DATA], 1);
	assert_false(io_output_full(s.io));
	assert_int_equal(s.n_lines, 1);
	assert_string_equal(s.lines[0], "NOOP");
	end = now() + 5;
	while (got < sent && now() < end) {
		got += drain_fd(sv[1]);
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	assert_int_equal(got, sent);
	io_free(&s.io);
}

static void test_idle_timeout(void **state)
{
	struct side s = {0};
	double start = now();

	s.io = io_new(base, sv[0], on_event, &s);
	io_set_timeout(s.io, 1);
	assert_true(run_until(&s.events[IO_TIMEOUT], 3));
	assert_true(now() - start >= 0.9);
	assert_string_equal(io_error(s.io), "timed out");
	io_free(&s.io);
}

struct ticker {
	struct event *ev;
	int fd;
};

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ticker *t = arg;

	write_all_fd(t->fd, "NOOP\r\n");
}

/* The deadline fires whatever the traffic; a cleared one never does. */
static void test_deadline(void **state)
{
	struct side s = {0};
	struct ticker t = {.fd = sv[1]};
	double start;

	s.io = io_new(base, sv[0], on_event, &s);
	t.ev = event_new(base, -1, EV_PERSIST, tick_cb, &t);
	event_add(t.ev, &(struct timeval){0, 200000});
	io_set_timeout(s.io, 1);
	io_set_deadline(s.io, 1);
	io_clear_deadline(s.io);
	run_for(1.5);
	assert_int_equal(s.events[IO_TIMEOUT], 0); /* traffic kept it from idling */
	assert_true(s.events[IO_DATA] >= 5);
	start = now();
	io_set_deadline(s.io, 1);
	assert_true(run_until(&s.events[IO_TIMEOUT], 3));
	assert_true(now() - start >= 0.9);
	assert_string_equal(io_error(s.io), "deadline reached");
	event_free(t.ev);
	io_free(&s.io);
}

static void test_closed(void **state)
{
	struct side s = {0};

	s.io = io_new(base, sv[0], on_event, &s);
	write_all_fd(sv[1], "QUIT\r\n");
	close(sv[1]);
	sv[1] = -1;
	assert_true(run_until(&s.events[IO_CLOSED], 2));
	assert_int_equal(s.n_lines, 1);
	assert_int_equal(s.events[IO_ERROR], 0);
	io_free(&s.io);
}

/* io_close() on plaintext sends what is queued before closing. */
static void test_close_flushes(void **state)
{
	struct side s = {0};
	char buf[64];
	ssize_t n;

	s.io = io_new(base, sv[0], on_event, &s);
	io_printf(s.io, "221 bye\r\n");
	io_close(&s.io);
	assert_null(s.io);
	run_for(0.1);
	n = read(sv[1], buf, sizeof(buf));
	assert_int_equal(n, 9);
	assert_int_equal(read(sv[1], buf, sizeof(buf)), 0); /* and closed */
	assert_int_equal(s.events[IO_DRAINED], 0);          /* no event after io_close */
}

/* ---- TLS ------------------------------------------------------------------------ */

/* A server io and a client io do STARTTLS; what the client sent behind
 * STARTTLS is never seen by the server. */
static void test_starttls_drops_plaintext(void **state)
{
	struct side srv = {0}, cli = {.peer_starttls = 1, .names = TEST_HOST};
	const struct io_tls_info *info;

	srv.io = io_new(base, sv[0], on_event, &srv);
	cli.io = io_new(base, sv[1], on_event, &cli);
	sv[1] = -1; /* the client io's now */
	io_printf(cli.io, "STARTTLS\r\nMAIL FROM:<injected@evil.test>\r\n");
	assert_true(run_until(&cli.events[IO_READY], 5));
	assert_true(run_until(&srv.events[IO_READY], 5));
	/* the injected command was read with STARTTLS, and dropped */
	assert_int_equal(srv.dropped, strlen("MAIL FROM:<injected@evil.test>\r\n"));
	info = io_tls_info(cli.io);
	assert_true(info->active);
	assert_string_equal(info->version, "TLSv1.3");
	assert_true(info->bits >= 128);
	assert_true(info->verified);
	assert_string_equal(info->reason, "");
	assert_string_equal(info->peer_names, TEST_HOST);
	info = io_tls_info(srv.io);
	assert_string_equal(info->sni, TEST_HOST);
	assert_false(info->peer_certificate);
	assert_string_equal(info->identity, "");
	io_printf(cli.io, "EHLO client.test\r\n");
	srv.events[IO_DATA] = 0;
	assert_true(run_until(&srv.events[IO_DATA], 5));
	assert_int_equal(srv.n_lines, 2);
	assert_string_equal(srv.lines[0], "STARTTLS");
	assert_string_equal(srv.lines[1], "EHLO client.test");
	io_free(&srv.io);
	io_free(&cli.io);
}

/* The client's peer check names what is wrong with the certificate. */
static void test_client_name_mismatch(void **state)
{
	struct side srv = {0}, cli = {.peer_starttls = 1, .names = "other.test:mx.other.test"};
	const struct io_tls_info *info;

	srv.io = io_new(base, sv[0], on_event, &srv);
	cli.io = io_new(base, sv[1], on_event, &cli);
	sv[1] = -1;
	io_printf(cli.io, "STARTTLS\r\n");
	assert_true(run_until(&cli.events[IO_READY], 5));
	info = io_tls_info(cli.io);
	assert_true(info->peer_certificate);
	assert_false(info->verified);
	assert_string_equal(info->reason, "certificate name mismatch (expected other.test or "
	                                  "mx.other.test, got " TEST_HOST ")");
	io_free(&srv.io);
	io_free(&cli.io);
}

/* Drives a plain OpenSSL client on FD until its handshake is done. */
static SSL *raw_client_connect(SSL_CTX *ctx, int fd)
{
	SSL *ssl = SSL_new(ctx);
	double end = now() + 5;
	int r;

	SSL_set_fd(ssl, fd);
	SSL_set_tlsext_host_name(ssl, TEST_HOST);
	while ((r = SSL_connect(ssl)) != 1 && now() < end) {
		int e = SSL_get_error(ssl, r);
		assert_true(e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE);
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
	assert_int_equal(r, 1);
	return ssl;
}

/* io_close() sends its output, then close_notify: the peer reads a clean
 * end (SSL_ERROR_ZERO_RETURN), not a truncation. */
static void test_close_notify(void **state)
{
	struct side srv = {0};
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	const char *why;
	char buf[256];
	size_t got = 0;
	double end;
	SSL *ssl;
	int r = -1, e = 0;

	srv.io = io_new(base, sv[0], on_event, &srv);
	assert_int_equal(io_start_tls_server(srv.io, server_ctx, 0, 5, &why), 0);
	ssl = raw_client_connect(ctx, sv[1]);
	assert_true(run_until(&srv.events[IO_READY], 5));
	io_printf(srv.io, "221 2.0.0 Bye\r\n");
	io_close(&srv.io);
	end = now() + 5;
	while (now() < end) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		r = SSL_read(ssl, buf + got, (int)(sizeof(buf) - got));
		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		e = SSL_get_error(ssl, r);
		if (e != SSL_ERROR_WANT_READ)
			break;
		usleep(1000);
	}
	assert_int_equal(r, 0);
	assert_int_equal(e, SSL_ERROR_ZERO_RETURN);
	assert_int_equal(got, strlen("221 2.0.0 Bye\r\n"));
	assert_memory_equal(buf, "221 2.0.0 Bye\r\n", got);
	/* our close_notify lets the closing io finish (and free itself) */
	SSL_shutdown(ssl);
	run_for(0.2);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	ERR_clear_error();
}

/* One TLS 1.2 connection (no tickets: the server's session cache) to a
 * server io, ended by io_close() and the client's close_notify. Returns
 * whether the server saw a resumed session. */
static int tls12_connection(SSL_CTX *ctx, int fd_server, int fd_client, SSL_SESSION **session)
{
	struct side srv = {0};
	const char *why;
	int resumed;
	SSL *ssl;

	srv.io = io_new(base, fd_server, on_event, &srv);
	assert_int_equal(io_start_tls_server(srv.io, server_ctx, 0, 5, &why), 0);
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd_client);
	if (*session != NULL)
		SSL_set_session(ssl, *session);
	while (SSL_connect(ssl) != 1) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
	assert_true(run_until(&srv.events[IO_READY], 5));
	resumed = io_tls_info(srv.io)->resumed;
	assert_int_equal(resumed, SSL_session_reused(ssl));
	io_close(&srv.io);
	while (SSL_read(ssl, (char[16]){0}, 16) > 0 || SSL_want_read(ssl)) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
	SSL_shutdown(ssl);
	run_for(0.1);
	SSL_SESSION_free(*session);
	*session = SSL_get1_session(ssl);
	SSL_free(ssl);
	return resumed;
}

/* io_close()'s close_notify keeps the session in the server's cache:
 * the next connection resumes it (TLS 1.2 session IDs). */
static void test_tls12_session_resumed(void **state)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL_SESSION *session = NULL;
	int again[2];

	SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	assert_false(tls12_connection(ctx, sv[0], sv[1], &session));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, again), 0);
	assert_true(tls12_connection(ctx, again[0], again[1], &session));
	close(again[1]);
	SSL_SESSION_free(session);
	SSL_CTX_free(ctx);
	ERR_clear_error();
}

/* A handshake that never comes ends with IO_TIMEOUT at its deadline. */
static void test_handshake_deadline(void **state)
{
	struct side srv = {0};
	const char *why;

	srv.io = io_new(base, sv[0], on_event, &srv);
	assert_int_equal(io_start_tls_server(srv.io, server_ctx, 0, 1, &why), 0);
	assert_true(run_until(&srv.events[IO_TIMEOUT], 3));
	assert_string_equal(io_error(srv.io), "TLS handshake timed out");
	assert_false(io_tls_info(srv.io)->active);
	io_free(&srv.io);
}

/* Plaintext where a handshake is due: IO_ERROR with OpenSSL's reason. */
static void test_handshake_error(void **state)
{
	struct side srv = {0};
	const char *why;

	srv.io = io_new(base, sv[0], on_event, &srv);
	assert_int_equal(io_start_tls_server(srv.io, server_ctx, 0, 5, &why), 0);
	write_all_fd(sv[1], "EHLO plaintext.test\r\n");
	assert_true(run_until(&srv.events[IO_ERROR], 3));
	assert_non_null(strstr(io_error(srv.io), "SSL routines"));
	io_free(&srv.io);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_data_and_lines, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_drained, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_output_bound, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_idle_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deadline, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_closed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_close_flushes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_starttls_drops_plaintext, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_client_name_mismatch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_close_notify, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tls12_session_resumed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_handshake_deadline, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_handshake_error, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
