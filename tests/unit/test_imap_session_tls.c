/*
 * test_imap_session_tls.c: STARTTLS on a real IMAP session over a socket
 * pair, against a TLS client made of the same io layer: the command
 * pipelined behind STARTTLS in cleartext is never answered (RFC 9051
 * 6.2.1; the io drops it and the parser forgets it), after the handshake
 * the capabilities offer AUTH=PLAIN and no STARTTLS, and a second
 * STARTTLS is refused.
 *
 * The certificate is made here, at test time: no key is committed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conf/config.h"
#include "imap/imap_session.h"
#include "lib/io.h"
#include "lib/ipc.h"
#include "lib/tls.h"
#include "lib/tls_client.h"

#define TEST_HOST "imap.tls.test"

static char *cert_pem, *key_pem;
static struct event_base *base;
static int client_ready;

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

static void fake_auth_check(void *owner, uint64_t handle, const char *user, const char *password)
{
}

static void fake_store_send(void *owner, uint64_t handle, uint32_t type, struct ipc_writer *w,
                            int fd)
{
	ipc_writer_free(w);
	if (fd >= 0)
		close(fd);
}

static void fake_closed(void *owner, uint64_t handle)
{
}

static void client_cb(struct io *io, enum io_event event, void *arg)
{
	if (event == IO_READY)
		client_ready = 1;
}

/* Runs the loop until the client's input holds NEEDLE; returns it all. */
static char *client_expect(struct io *io, const char *needle)
{
	static char buf[8192];
	time_t end = time(NULL) + 5;
	size_t n;

	for (;;) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		n = io_input_length(io);
		if (n >= sizeof(buf))
			n = sizeof(buf) - 1;
		evbuffer_copyout(io_input(io), buf, n);
		buf[n] = '\0';
		if (strstr(buf, needle) != NULL || time(NULL) > end)
			break;
		usleep(1000);
	}
	if (strstr(buf, needle) == NULL)
		fail_msg("expected \"%s\", got \"%s\"", needle, buf);
	io_drain(io, n);
	return buf;
}

static void test_starttls(void **state)
{
	struct tls_settings settings = {.min_version = TLS1_2_VERSION,
	                                .ciphers = "ECDHE+AESGCM",
	                                .ciphersuites = "TLS_AES_128_GCM_SHA256"};
	struct tls_client_settings csettings = {.min_version = TLS1_2_VERSION,
	                                        .ciphers = "ECDHE+AESGCM",
	                                        .ciphersuites = "TLS_AES_128_GCM_SHA256"};
	struct tls_cert_pem pem = {.name = ""};
	struct tls_cert_set set = {.certs = &pem, .n = 1};
	static struct config cfg;
	struct tls_server *srv;
	struct tls_client *cli;
	struct imap_env env;
	struct io *client;
	const char *why = NULL;
	char *out;
	int sv[2];

	make_certificate();
	pem.cert_pem = cert_pem;
	pem.key_pem = key_pem;
	srv = tls_server_new(&settings, &set, &why);
	assert_non_null(srv);
	csettings.ca_pem = cert_pem;
	cli = tls_client_new(&csettings, &why);
	assert_non_null(cli);
	base = event_base_new();
	config_defaults(&cfg);
	cfg.imap.append_limit = 1024 * 1024;
	cfg.n_listeners = 1;
	snprintf(cfg.listeners[0].name, sizeof(cfg.listeners[0].name), "imap");
	cfg.listeners[0].protocol = LISTENER_IMAP;
	cfg.listeners[0].tls = LISTENER_TLS_REQUIRED;
	env = (struct imap_env){.base = base,
	                        .cfg = &cfg,
	                        .tls = srv,
	                        .auth_check = fake_auth_check,
	                        .store_send = fake_store_send,
	                        .closed = fake_closed};
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_non_null(imap_session_new(&env, &cfg.listeners[0], sv[0], NULL, 0, 1));
	client = io_new(base, sv[1], client_cb, NULL);
	client_expect(client, "sealmail ready\r\n");
	/* a command pipelined behind STARTTLS, in cleartext */
	io_printf(client, "t1 STARTTLS\r\nt2 LOGIN alice secret\r\n");
	out = client_expect(client, "t1 OK Begin TLS negotiation now\r\n");
	assert_null(strstr(out, "t2"));
	assert_int_equal(io_start_tls_client(client, cli, TEST_HOST, TEST_HOST, 10, &why), 0);
	for (time_t end = time(NULL) + 5; !client_ready && time(NULL) <= end;)
		event_base_loop(base, EVLOOP_NONBLOCK);
	assert_true(client_ready);
	io_printf(client, "c1 CAPABILITY\r\n");
	out = client_expect(client, "c1 OK");
	assert_null(strstr(out, "t2"));
	assert_non_null(strstr(out, "AUTH=PLAIN"));
	assert_null(strstr(out, "STARTTLS"));
	assert_null(strstr(out, "LOGINDISABLED"));
	io_printf(client, "c2 STARTTLS\r\nc3 LOGOUT\r\n");
	out = client_expect(client, "c3 OK");
	assert_non_null(strstr(out, "c2 BAD"));
	for (int i = 0; i < 50; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	io_free(&client);
	/* the session's io_close() sees the peer gone and lets go */
	for (int i = 0; i < 50; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	tls_server_free(&srv);
	tls_client_free(&cli);
	event_base_free(base);
	free(cert_pem);
	free(key_pem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_starttls),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
