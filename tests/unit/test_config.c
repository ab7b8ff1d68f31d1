/*
 * test_config.c: sealmail.conf parsing, defaults, validation and messages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/config.h"

/* A listener every valid config below needs; plain, so no [tls] either. */
#define LISTEN_PLAIN "[listen mx]\naddress = 127.0.0.1:2525\ntls = none\n"

struct fixture {
	struct config cfg;
	char *errors;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	free(f->errors);
	free(f);
	return 0;
}

/* Loads TEXT as "t.conf"; returns config_load_string's result. */
static int load(struct fixture *f, const char *text)
{
	free(f->errors);
	f->errors = NULL;
	return config_load_string(&f->cfg, "t.conf", text, &f->errors);
}

/* Loads TEXT and checks it is rejected with exactly EXPECTED. */
static void expect_errors(struct fixture *f, const char *text, const char *expected)
{
	assert_int_equal(load(f, text), -1);
	assert_non_null(f->errors);
	assert_string_equal(f->errors, expected);
}

/* Loads TEXT and checks it is accepted. */
static void expect_ok(struct fixture *f, const char *text)
{
	int r = load(f, text);
	if (r != 0)
		fail_msg("unexpected errors:\n%s", f->errors ? f->errors : "(null)");
	assert_null(f->errors);
}

/* Writes LEN octets of DATA to a new temporary file; returns its path. */
static char *temp_file(const void *data, size_t len)
{
	const char *dir = getenv("TMPDIR");
	char *path;
	assert_true(asprintf(&path, "%s/test_config.XXXXXX", dir ? dir : "/tmp") > 0);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

static void check_ipv4(const struct config_listener *l, const char *addr, unsigned port)
{
	const struct sockaddr_in *a = (const struct sockaddr_in *)&l->address;
	char text[INET_ADDRSTRLEN];
	assert_int_equal(l->address_len, sizeof *a);
	assert_int_equal(a->sin_family, AF_INET);
	assert_int_equal(ntohs(a->sin_port), port);
	assert_non_null(inet_ntop(AF_INET, &a->sin_addr, text, sizeof text));
	assert_string_equal(text, addr);
}

static void check_ipv6(const struct config_listener *l, const char *addr, unsigned port)
{
	const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&l->address;
	char text[INET6_ADDRSTRLEN];
	assert_int_equal(l->address_len, sizeof *a);
	assert_int_equal(a->sin6_family, AF_INET6);
	assert_int_equal(ntohs(a->sin6_port), port);
	assert_non_null(inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text));
	assert_string_equal(text, addr);
}

/* ---- defaults and valid files --------------------------------------------- */

static void test_defaults(void **state)
{
	struct config *cfg = &((struct fixture *)*state)->cfg;
	char host[256] = "";
	config_defaults(cfg);
	assert_int_equal(gethostname(host, sizeof host - 1), 0);
	assert_string_equal(cfg->hostname, host);
	/* where the build's install puts them (CMake's localstatedir, sysconfdir) */
	assert_string_equal(cfg->data_dir, SEALMAIL_LOCALSTATEDIR "/lib/sealmail");
	assert_string_equal(cfg->users, SEALMAIL_SYSCONFDIR "/sealmail/users");
	assert_string_equal(cfg->user, "sealmail");
	assert_int_equal(cfg->n_local_domains, 0);
	assert_int_equal(cfg->dispatchers, 0);
	assert_int_equal(cfg->n_certs, 0);
	assert_int_equal(cfg->min_version, TLS1_2_VERSION);
	assert_string_equal(cfg->ciphers,
	                    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
	                    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
	                    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256");
	assert_string_equal(cfg->ciphersuites,
	                    "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:"
	                    "TLS_AES_128_GCM_SHA256");
	assert_int_equal(cfg->limits.command_line, 512);
	assert_int_equal(cfg->limits.text_line, 1000);
	assert_int_equal(cfg->limits.message_size, 26214400);
	assert_int_equal(cfg->limits.recipients, 100);
	assert_int_equal(cfg->limits.errors, 10);
	assert_int_equal(cfg->limits.command_timeout, 300);
	assert_int_equal(cfg->limits.data_timeout, 180);
	assert_int_equal(cfg->limits.connections, 1000);
	assert_int_equal(cfg->limits.connections_per_client, 50);
	assert_int_equal(cfg->n_listeners, 0);
	assert_string_equal(cfg->aliases, "");
	assert_int_equal(cfg->log_auth_in_header, 0);
	assert_int_equal(cfg->check_from_header, 1);
	assert_int_equal(cfg->auth_failures, 3);
}

static void test_minimal_file_keeps_defaults(void **state)
{
	struct fixture *f = *state;
	struct config *cfg = &f->cfg;
	expect_ok(f, "[server]\nhostname = mx.local.test\n" LISTEN_PLAIN);
	assert_string_equal(cfg->path, "t.conf");
	assert_string_equal(cfg->hostname, "mx.local.test");
	assert_string_equal(cfg->data_dir, SEALMAIL_LOCALSTATEDIR "/lib/sealmail");
	assert_int_equal(cfg->limits.message_size, 26214400);
	assert_int_equal(cfg->limits.command_timeout, 300);
	assert_int_equal(cfg->min_version, TLS1_2_VERSION);
	assert_int_equal(cfg->n_certs, 0);
	assert_int_equal(cfg->n_listeners, 1);
	assert_string_equal(cfg->listeners[0].name, "mx");
	assert_int_equal(cfg->listeners[0].line, 3);
	assert_int_equal(cfg->listeners[0].protocol, LISTENER_SMTP);
	assert_int_equal(cfg->listeners[0].tls, LISTENER_TLS_NONE);
}

static const char full_config[] =
    "; sealmail.conf with every key\n"                               /* 1 */
    "[server]\n"                                                     /* 2 */
    "hostname = mx.local.test\n"                                     /* 3 */
    "data_dir = /srv/sealmail\n"                                     /* 4 */
    "local_domains = Local.TEST, other.test\texample.org\n"          /* 5 */
    "users = etc/users\n"                                            /* 6 */
    "user = mail-daemon\n"                                           /* 7 */
    "dispatchers = 2\n"                                              /* 8 */
    "\n"                                                             /* 9 */
    "[tls]\n"                                                        /* 10 */
    "certificate = /etc/sealmail/cert.pem\n"                         /* 11 */
    "key = /etc/sealmail/key.pem\n"                                  /* 12 */
    "min_version = TLSv1.3\n"                                        /* 13 */
    "ciphers = ECDHE-RSA-AES256-GCM-SHA384\n"                        /* 14 */
    "ciphersuites = TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384\n" /* 15 */
    "\n"                                                             /* 16 */
    "[tls mail.other.test]\n"                                        /* 17 */
    "certificate = other.pem\n"                                      /* 18 */
    "key = other.key\n"                                              /* 19 */
    "[tls *.Example.ORG]\n"                                          /* 20 */
    "certificate = wild.pem\n"                                       /* 21 */
    "key = wild.key\n"                                               /* 22 */
    "\n"                                                             /* 23 */
    "[limits]\n"                                                     /* 24 */
    "command_line = 1k\n"                                            /* 25 */
    "text_line = 2000\n"                                             /* 26 */
    "message_size = 50M\n"                                           /* 27 */
    "recipients = 500\n"                                             /* 28 */
    "errors = 3\n"                                                   /* 29 */
    "command_timeout = 10m\n"                                        /* 30 */
    "data_timeout = 1h\n"                                            /* 31 */
    "connections = 300\n"                                            /* 32 */
    "connections_per_client = 5\n"                                   /* 33 */
    "\n"                                                             /* 34 */
    "[listen mx]\n"                                                  /* 35 */
    "address = *:25\n"                                               /* 36 */
    "protocol = smtp\n"                                              /* 37 */
    "tls = optional\n"                                               /* 38 */
    "[listen loopback6]\n"                                           /* 39 */
    "address = [::1]:2525\n"                                         /* 40 */
    "tls = required\n"                                               /* 41 */
    "[listen smtps]\n"                                               /* 42 */
    "address = 192.0.2.1:465\n"                                      /* 43 */
    "tls = implicit\n"                                               /* 44 */
    "[listen plain]\n"                                               /* 45 */
    "address = [2001:db8::1]:65535\n"                                /* 46 */
    "tls = none\n";                                                  /* 47 */

static void check_full_config(const struct config *cfg)
{
	assert_string_equal(cfg->hostname, "mx.local.test");
	assert_string_equal(cfg->data_dir, "/srv/sealmail");
	assert_int_equal(cfg->n_local_domains, 3);
	assert_string_equal(cfg->local_domains[0], "local.test");
	assert_string_equal(cfg->local_domains[1], "other.test");
	assert_string_equal(cfg->local_domains[2], "example.org");
	assert_string_equal(cfg->users, "etc/users");
	assert_string_equal(cfg->user, "mail-daemon");
	assert_int_equal(cfg->dispatchers, 2);

	assert_int_equal(cfg->n_certs, 3);
	assert_string_equal(cfg->certs[0].name, "");
	assert_string_equal(cfg->certs[0].certificate, "/etc/sealmail/cert.pem");
	assert_string_equal(cfg->certs[0].key, "/etc/sealmail/key.pem");
	assert_int_equal(cfg->certs[0].line, 10);
	assert_string_equal(cfg->certs[1].name, "mail.other.test");
	assert_string_equal(cfg->certs[1].certificate, "other.pem");
	assert_string_equal(cfg->certs[1].key, "other.key");
	assert_int_equal(cfg->certs[1].line, 17);
	assert_string_equal(cfg->certs[2].name, "*.example.org");
	assert_string_equal(cfg->certs[2].certificate, "wild.pem");
	assert_string_equal(cfg->certs[2].key, "wild.key");
	assert_int_equal(cfg->certs[2].line, 20);
	assert_int_equal(cfg->min_version, TLS1_3_VERSION);
	assert_string_equal(cfg->ciphers, "ECDHE-RSA-AES256-GCM-SHA384");
	assert_string_equal(cfg->ciphersuites, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384");

	assert_int_equal(cfg->limits.command_line, 1024);
	assert_int_equal(cfg->limits.text_line, 2000);
	assert_int_equal(cfg->limits.message_size, 50 * 1024 * 1024);
	assert_int_equal(cfg->limits.recipients, 500);
	assert_int_equal(cfg->limits.errors, 3);
	assert_int_equal(cfg->limits.command_timeout, 600);
	assert_int_equal(cfg->limits.data_timeout, 3600);
	assert_int_equal(cfg->limits.connections, 300);
	assert_int_equal(cfg->limits.connections_per_client, 5);

	assert_int_equal(cfg->n_listeners, 4);
	const struct config_listener *l = cfg->listeners;
	assert_string_equal(l[0].name, "mx");
	assert_string_equal(l[0].address_text, "*:25");
	check_ipv4(&l[0], "0.0.0.0", 25);
	assert_int_equal(l[0].protocol, LISTENER_SMTP);
	assert_int_equal(l[0].tls, LISTENER_TLS_OPTIONAL);
	assert_int_equal(l[0].line, 35);
	assert_string_equal(l[1].name, "loopback6");
	check_ipv6(&l[1], "::1", 2525);
	assert_int_equal(l[1].tls, LISTENER_TLS_REQUIRED);
	assert_string_equal(l[2].name, "smtps");
	check_ipv4(&l[2], "192.0.2.1", 465);
	assert_int_equal(l[2].tls, LISTENER_TLS_IMPLICIT);
	assert_string_equal(l[3].name, "plain");
	check_ipv6(&l[3], "2001:db8::1", 65535);
	assert_string_equal(l[3].address_text, "[2001:db8::1]:65535");
	assert_int_equal(l[3].tls, LISTENER_TLS_NONE);
}

static void test_full_config(void **state)
{
	struct fixture *f = *state;
	expect_ok(f, full_config);
	check_full_config(&f->cfg);
	assert_true(config_is_local_domain(&f->cfg, "local.test"));
	assert_true(config_is_local_domain(&f->cfg, "OTHER.Test"));
	assert_false(config_is_local_domain(&f->cfg, "mx.local.test"));
	assert_false(config_is_local_domain(&f->cfg, "test"));
}

static void test_full_config_from_file(void **state)
{
	struct fixture *f = *state;
	char *path = temp_file(full_config, sizeof full_config - 1);
	assert_int_equal(config_load(&f->cfg, path, &f->errors), 0);
	assert_null(f->errors);
	assert_string_equal(f->cfg.path, path);
	check_full_config(&f->cfg);
	unlink(path);
	free(path);
}

static void test_cannot_open(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(config_load(&f->cfg, "/nonexistent/sealmail.conf", &f->errors), -1);
	assert_string_equal(f->errors,
	                    "/nonexistent/sealmail.conf: cannot open: No such file or directory");
}

/* `config check` opens [dns] trust_anchor; loading does not. */
static void test_check_files_trust_anchor(void **state)
{
	struct fixture *f = *state;
	char dir[] = "/tmp/test_config_XXXXXX", text[512], path[600], *errors = NULL;

	expect_ok(f, "[server]\nhostname = mx.local.test\n" LISTEN_PLAIN);
	assert_int_equal(config_check_files(&f->cfg, &errors), 0);
	assert_null(errors);

	expect_ok(f, "[server]\nhostname = mx.local.test\n" LISTEN_PLAIN
	             "[dns]\ntrust_anchor = /nonexistent/root.ds\n");
	assert_int_equal(config_check_files(&f->cfg, &errors), -1);
	assert_string_equal(errors, "t.conf:7: [dns] trust_anchor: /nonexistent/root.ds: "
	                            "No such file or directory");
	free(errors);

	assert_non_null(mkdtemp(dir));
	snprintf(text, sizeof(text),
	         "[server]\nhostname = mx.local.test\n" LISTEN_PLAIN "[dns]\ntrust_anchor = %s\n",
	         dir);
	expect_ok(f, text);
	assert_int_equal(config_check_files(&f->cfg, &errors), -1);
	snprintf(path, sizeof(path), "t.conf:7: [dns] trust_anchor: %s: not a regular file", dir);
	assert_string_equal(errors, path);
	free(errors);

	snprintf(path, sizeof(path), "%s/root.ds", dir);
	FILE *a = fopen(path, "w");
	assert_non_null(a);
	fputs(". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n", a);
	fclose(a);
	snprintf(text, sizeof(text),
	         "[server]\nhostname = mx.local.test\n" LISTEN_PLAIN "[dns]\ntrust_anchor = %s\n",
	         path);
	expect_ok(f, text);
	assert_int_equal(config_check_files(&f->cfg, &errors), 0);
	assert_null(errors);
	unlink(path);
	rmdir(dir);
}

/* Every section, for the reload round trip below. */
static const char reload_config[] =
    "[server]\nhostname = mx.local.test\nlocal_domains = a.test b.test\n"
    "trusted_networks = 192.0.2.0/24 2001:db8::/32\naliases = /etc/aliases\n"
    "[tls]\ncertificate = c.pem\nkey = k.pem\n"
    "[tls mail.b.test]\ncertificate = b.pem\nkey = b.key\n"
    "[listen mx]\naddress = *:25\n"
    "[listen submission]\naddress = [::1]:587\nprotocol = submission\ntls = required\n"
    "[submission]\ncheck_from_header = no\nauth_failures = 5\n"
    "[dns]\nresolver = 127.0.0.1:5353\n"
    "[outbound]\ntls = encrypt\nrelayhost = [relay.test]:2525\nhelo = out.local.test\n"
    "[outbound.domains]\npartner.test = verify match=mx.partner.test:.partner.test\n"
    ".sub.test = none\n"
    "[routes]\nroute.test = 192.0.2.7:26\n.mx.test = mail.mx.test\n"
    "[queue]\nretry = 1m 5m 1h\nmax_lifetime = 2d\ndelay_warning = 2h\n";

/* Reload carries the file's text: what a role parses from the message is
 * the configuration the parent loaded from the file, octet for octet. */
static void test_reload_round_trip(void **state)
{
	struct fixture *f = *state;
	char *path = temp_file(reload_config, sizeof reload_config - 1), *text = NULL;
	size_t text_len = 0, msg_len;
	struct config *role = calloc(1, sizeof *role);
	assert_non_null(role);
	assert_int_equal(config_load_file(&f->cfg, path, &text, &text_len, &f->errors), 0);
	assert_int_equal(text_len, sizeof reload_config - 1);
	void *msg = config_message(f->cfg.path, text, text_len, &msg_len);
	snprintf(role->data_dir, sizeof role->data_dir, "%s", f->cfg.data_dir);
	assert_int_equal(config_reload_message(role, msg, msg_len), 0);
	assert_string_equal(role->path, path);
	assert_int_equal(role->n_tls_policies, 2);
	assert_int_equal(role->n_routes, 2);
	assert_memory_equal(role, &f->cfg, sizeof *role);
	free(msg);
	free(text);
	free(role);
	unlink(path);
	free(path);
}

/* A role keeps the configuration it runs when the new one does not parse,
 * or the message is not one; and it keeps its data_dir. */
static void test_reload_keeps_running(void **state)
{
	struct fixture *f = *state;
	static const char bad[] = "[server]\nbogus = 1\n";
	size_t len;
	assert_int_equal(load(f, reload_config), 0);
	struct config *before = malloc(sizeof *before);
	assert_non_null(before);
	memcpy(before, &f->cfg, sizeof *before);
	void *msg = config_message("r.conf", bad, sizeof bad - 1, &len);
	assert_int_equal(config_reload_message(&f->cfg, msg, len), -1);
	free(msg);
	assert_int_equal(config_reload_message(&f->cfg, "no path", 7), -1);
	assert_int_equal(config_reload_message(&f->cfg, "\0[server]\n", 10), -1);
	assert_memory_equal(before, &f->cfg, sizeof *before);
	assert_int_equal(config_load_message(before, "", 0, &f->errors), -1);
	assert_string_equal(f->errors, "malformed configuration message: no path");
	msg = config_message("r.conf", reload_config, sizeof reload_config - 1, &len);
	snprintf(f->cfg.data_dir, sizeof f->cfg.data_dir, "/running");
	assert_int_equal(config_reload_message(&f->cfg, msg, len), 0);
	assert_string_equal(f->cfg.data_dir, "/running");
	assert_string_equal(f->cfg.path, "r.conf");
	free(msg);
	free(before);
}

/* The file is read whole, NUL octets included, so the file and its text
 * give the same messages. */
static void test_file_with_nul(void **state)
{
	struct fixture *f = *state;
	static const char text[] = "[server]\nhostname = a\0b.test\n" LISTEN_PLAIN;
	char *path = temp_file(text, sizeof text - 1);
	assert_int_equal(config_load(&f->cfg, path, &f->errors), -1);
	assert_non_null(strstr(f->errors, ":2: the line contains a NUL octet"));
	unlink(path);
	free(path);
}

static void test_comments_and_layout(void **state)
{
	struct fixture *f = *state;
	expect_ok(f, "\xEF\xBB\xBF# a comment\n"
	             "; another\n"
	             "[server]   ; trailing comment\n"
	             "hostname = mx.local.test   # hash comment\n"
	             "data_dir = /var/lib/sealmail   ; spool and mailboxes\n"
	             "  users = /etc/a;b#c\r\n"
	             "\tuser = sealmail\r\n" LISTEN_PLAIN);
	assert_string_equal(f->cfg.hostname, "mx.local.test");
	assert_string_equal(f->cfg.data_dir, "/var/lib/sealmail");
	assert_string_equal(f->cfg.users, "/etc/a;b#c");
	assert_string_equal(f->cfg.user, "sealmail");
	/* ';' only starts a comment after white space */
	expect_errors(f, "[server]\nlocal_domains=a.test;comment\n" LISTEN_PLAIN,
	              "t.conf:2: local_domains: 'a.test;comment' is not a valid domain: only "
	              "letters, digits, '-' and '.' are allowed (write international names in "
	              "their xn-- form)");
}

static void test_long_lines(void **state)
{
	struct fixture *f = *state;
	char path[301], host[81], suites[400], text[2000];
	memset(path, 'p', sizeof path - 1);
	path[0] = '/';
	path[sizeof path - 1] = '\0';
	snprintf(host, sizeof host, "%s.example.test",
	         "a-rather-long-host-name-for-sni-tests-1234567890-abcdefghij");
	snprintf(suites, sizeof suites, "%s",
	         "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:"
	         "TLS_AES_128_CCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:"
	         "TLS_AES_128_GCM_SHA256:TLS_AES_128_CCM_SHA256:TLS_AES_256_GCM_SHA384");
	snprintf(text, sizeof text,
	         "[server]\nhostname = mx.local.test\ndata_dir = %s   ; comment\n"
	         "[tls]\ncertificate = c\nkey = k\nciphersuites = %s\n"
	         "[tls %s]\ncertificate = c2\nkey = k2\n" LISTEN_PLAIN,
	         path, suites, host);
	expect_ok(f, text);
	assert_string_equal(f->cfg.data_dir, path);
	assert_string_equal(f->cfg.ciphersuites, suites);
	assert_int_equal(f->cfg.n_certs, 2);
	assert_string_equal(f->cfg.certs[1].name, host);
	assert_int_equal(f->cfg.n_listeners, 1);
	assert_int_equal(f->cfg.listeners[0].line, 11);
}

static void test_addresses(void **state)
{
	struct fixture *f = *state;
	expect_ok(f, "[server]\nhostname = h.test\n"
	             "[listen a]\naddress = 0.0.0.0:1\ntls = none\n"
	             "[listen b]\naddress = [::]:25\ntls = none\n"
	             "[listen c]\naddress = [::ffff:127.0.0.1]:25\ntls = none\n"
	             "[listen d]\naddress = 127.0.0.1:25\ntls = none\n");
	check_ipv4(&f->cfg.listeners[0], "0.0.0.0", 1);
	check_ipv6(&f->cfg.listeners[1], "::", 25);
	check_ipv6(&f->cfg.listeners[2], "::ffff:127.0.0.1", 25);
	check_ipv4(&f->cfg.listeners[3], "127.0.0.1", 25);
}

/* ---- errors ----------------------------------------------------------------- */

static void test_unknown_key(void **state)
{
	expect_errors(
	    *state, "[server]\nhostname = h.test\ncolour = red\n" LISTEN_PLAIN,
	    "t.conf:3: colour: unknown key; [server] accepts hostname, data_dir, "
	    "local_domains, users, user, dispatchers, trusted_networks, aliases, submit_socket, log, pidfile");
	expect_errors(*state,
	              "[server]\nhostname = h.test\n" LISTEN_PLAIN "[tls a.test]\ncertificate = "
	              "c\nkey = k\nmin_version = TLSv1.3\n",
	              "t.conf:9: min_version: unknown key; [tls a.test] accepts certificate, key\n"
	              "t.conf:0: [tls] certificate: required because [tls a.test] (line 6) needs "
	              "a default certificate to fall back on\n"
	              "t.conf:0: [tls] key: required because [tls a.test] (line 6) needs a "
	              "default certificate to fall back on");
	expect_errors(*state, "hostname = h.test\n" LISTEN_PLAIN,
	              "t.conf:1: hostname: not in a section; keys go under [server], [tls], [tls "
	              "NAME], [limits], [listen NAME], [submission], [dns], [outbound], "
	              "[outbound.domains], [routes], [queue], [imap] or [metrics]");
}

static void test_unknown_section(void **state)
{
	/* keys of an unknown section are not reported one by one */
	expect_errors(*state,
	              "[server]\nhostname = h.test\n[smtp]\nbanner = hi\n" LISTEN_PLAIN
	              "[server name]\n[listen]\n[listen bad name]\n",
	              "t.conf:3: [smtp]: unknown section; expected [server], [tls], [tls NAME], "
	              "[limits], [listen NAME], [submission], [dns], [outbound], "
	              "[outbound.domains], [routes], [queue], [imap] or [metrics]\n"
	              "t.conf:8: [server name]: [server] takes no name\n"
	              "t.conf:9: [listen]: a name is required, e.g. [listen mx]\n"
	              "t.conf:10: [listen bad name]: 'bad name' is not a valid listener name: use "
	              "up to 63 letters, digits, '.', '-' or '_', not starting with '-'");
}

static void test_syntax_errors(void **state)
{
	expect_errors(*state,
	              "[server]\nhostname = h.test\njust words\n[limits\nerrors = 5\n"
	              "[limits] extra\n= 5\n" LISTEN_PLAIN,
	              "t.conf:3: 'just words': expected 'key = value', a [section] or a comment\n"
	              "t.conf:4: '[limits': a section header must end with ']'\n"
	              "t.conf:6: [limits]: unexpected text 'extra' after ']'\n"
	              "t.conf:7: '= 5': the key name is missing before '='");
}

static void test_indented_line_is_not_a_continuation(void **state)
{
	/* inih would take the indented line as more of local_domains */
	expect_errors(
	    *state,
	    "[server]\nhostname = h.test\nlocal_domains = a.test\n    b.test\n" LISTEN_PLAIN,
	    "t.conf:4: 'b.test': expected 'key = value', a [section] or a comment");
}

static void test_duplicates(void **state)
{
	expect_errors(*state,
	              "[server]\nhostname = h.test\nhostname = i.test\n"   /* 1-3 */
	              "[listen mx]\naddress = *:25\ntls = none\n"          /* 4-6 */
	              "[server]\nuser = x\n"                               /* 7-8 */
	              "[listen mx]\naddress = *:26\n"                      /* 9-10 */
	              "[listen other]\naddress = 0.0.0.0:25\ntls = none\n" /* 11-13 */
	              "tls = none\n"                                       /* 14 */
	              "[tls a.test]\ncertificate = c\nkey = k\n"           /* 15-17 */
	              "[tls A.TEST]\n"                                     /* 18 */
	              "[tls]\ncertificate = c\nkey = k\n",                 /* 19-21 */
	              "t.conf:3: hostname: given twice in [server] (first at line 2)\n"
	              "t.conf:7: [server]: section given twice (first at line 1); merge them\n"
	              "t.conf:9: [listen mx]: listener 'mx' was already defined at line 4\n"
	              "t.conf:14: tls: given twice in [listen other] (first at line 13)\n"
	              "t.conf:18: [tls A.TEST]: a certificate for 'a.test' was given at line 15\n"
	              "t.conf:12: address: 0.0.0.0:25 is already used by [listen mx] (line 5)");
	assert_string_equal(((struct fixture *)*state)->cfg.hostname, "h.test");
}

static void test_bad_values(void **state)
{
	expect_errors(
	    *state,
	    "[server]\n"                                                          /* 1 */
	    "hostname = bad_host.test\n"                                          /* 2 */
	    "local_domains = ok.test, -bad.test 1.2.3.4 a..b\n"                   /* 3 */
	    "user = -x\n"                                                         /* 4 */
	    "dispatchers = 65\n"                                                  /* 5 */
	    "data_dir =\n"                                                        /* 6 */
	    "[tls]\ncertificate = c\nkey = k\n"                                   /* 7-9 */
	    "min_version = TLSv1.1\n"                                             /* 10 */
	    "ciphers = NO-SUCH-CIPHER\n"                                          /* 11 */
	    "ciphersuites = TLS_AES_256_GCM_SHA384:ECDHE-RSA-AES256-GCM-SHA384\n" /* 12 */
	    "[limits]\n"                                                          /* 13 */
	    "command_line = 511\n"                                                /* 14 */
	    "text_line = 1k\n"                                                    /* 15 */
	    "message_size = 25MB\n"                                               /* 16 */
	    "recipients = 10001\n"                                                /* 17 */
	    "errors = many\n"                                                     /* 18 */
	    "command_timeout = 5 min\n"                                           /* 19 */
	    "data_timeout = 0\n"                                                  /* 20 */
	    "connections = -1\n"                                                  /* 21 */
	    "connections_per_client = 99999999999\n"                              /* 22 */
	    "[listen mx]\n"                                                       /* 23 */
	    "address = *:25\n"                                                    /* 24 */
	    "protocol = lmtp\n"                                                   /* 25 */
	    "tls = maybe\n",                                                      /* 26 */
	    "t.conf:2: hostname: 'bad_host.test' is not a valid domain: only letters, digits, "
	    "'-' and '.' are allowed (write international names in their xn-- form)\n"
	    "t.conf:3: local_domains: '-bad.test' is not a valid domain: a label starts or "
	    "ends with '-'\n"
	    "t.conf:3: local_domains: '1.2.3.4' is not a valid domain: the last label is "
	    "numeric (an IP address is not a domain)\n"
	    "t.conf:3: local_domains: 'a..b' is not a valid domain: it has an empty label (a "
	    "leading, trailing or double dot)\n"
	    "t.conf:4: user: '-x' is not a valid user name: use up to 63 letters, digits, '.', "
	    "'-' or '_', not starting with '-'\n"
	    "t.conf:5: dispatchers: '65' is too large: the maximum is 64\n"
	    "t.conf:6: data_dir: no value given\n"
	    "t.conf:10: min_version: 'TLSv1.1' is not allowed: TLS 1.0 and 1.1 are deprecated "
	    "(RFC 8996); use TLSv1.2 or TLSv1.3\n"
	    "t.conf:11: ciphers: 'NO-SUCH-CIPHER' selects no cipher OpenSSL knows (TLS 1.3 "
	    "suites go in ciphersuites)\n"
	    "t.conf:12: ciphersuites: 'ECDHE-RSA-AES256-GCM-SHA384' is not a TLS 1.3 cipher "
	    "suite OpenSSL knows (TLS 1.2 ciphers go in ciphers)\n"
	    "t.conf:14: command_line: '511' is too small: the minimum is 512 octets per RFC "
	    "5321 4.5.3.1.4\n"
	    "t.conf:16: message_size: '25MB' is not a size: write octets, optionally followed "
	    "by k, M or G (times 1024, 1024^2, 1024^3), e.g. 25M\n"
	    "t.conf:17: recipients: '10001' is too large: the maximum is 10000\n"
	    "t.conf:18: errors: 'many' is not a whole number\n"
	    "t.conf:19: command_timeout: '5 min' is not a duration: write seconds, optionally "
	    "followed by s, m, h or d, e.g. 5m\n"
	    "t.conf:20: data_timeout: '0' is too small: the minimum is 1s\n"
	    "t.conf:21: connections: '-1' is not a whole number\n"
	    "t.conf:22: connections_per_client: '99999999999' is too large: the maximum is "
	    "4294967295\n"
	    "t.conf:25: protocol: 'lmtp' is not supported; write smtp, submission, imap or pop3\n"
	    "t.conf:26: tls: 'maybe' is not one of none, optional, required, implicit");
}

static void test_min_version(void **state)
{
	struct fixture *f = *state;
	expect_ok(f, "[server]\nhostname = h.test\n[tls]\nmin_version = TLSv1.2\n" LISTEN_PLAIN);
	assert_int_equal(f->cfg.min_version, TLS1_2_VERSION);
	expect_errors(f,
	              "[tls]\nmin_version = SSLv3\n[tls]\n[server]\nhostname = h.test\n"
	              "[tls]\n" LISTEN_PLAIN "[tls]\nmin_version = 1.3\n",
	              "t.conf:2: min_version: 'SSLv3' is not allowed: SSL is broken (RFC 7568); "
	              "use TLSv1.2 or TLSv1.3\n"
	              "t.conf:3: [tls]: section given twice (first at line 1); merge them\n"
	              "t.conf:6: [tls]: section given twice (first at line 1); merge them\n"
	              "t.conf:10: [tls]: section given twice (first at line 1); merge them");
}

static void test_bad_addresses(void **state)
{
	expect_errors(*state,
	              "[server]\nhostname = h.test\n"
	              "[listen a]\naddress = 127.0.0.1\n"    /* 3-4 */
	              "[listen b]\naddress = ::1:25\n"       /* 5-6 */
	              "[listen c]\naddress = [::1]25\n"      /* 7-8 */
	              "[listen d]\naddress = [::1:25\n"      /* 9-10 */
	              "[listen e]\naddress = localhost:25\n" /* 11-12 */
	              "[listen f]\naddress = 127.0.0.1:0\n"  /* 13-14 */
	              "[listen g]\naddress = *:65536\n"      /* 15-16 */
	              "[listen h]\naddress = [1.2.3.4]:25\n" /* 17-18 */
	              "[listen i]\naddress = 1.2.3.4:2x\n"   /* 19-20 */
	              "[listen j]\ntls = none\n",            /* 21-22 */
	              "t.conf:4: address: '127.0.0.1' is not valid: the port is missing; write "
	              "a.b.c.d:PORT, [IPv6]:PORT or *:PORT\n"
	              "t.conf:6: address: '::1:25' is not valid: an IPv6 address must be in "
	              "brackets, e.g. [::1]:25; write a.b.c.d:PORT, [IPv6]:PORT or *:PORT\n"
	              "t.conf:8: address: '[::1]25' is not valid: ':PORT' must follow the ']'; "
	              "write a.b.c.d:PORT, [IPv6]:PORT or *:PORT\n"
	              "t.conf:10: address: '[::1:25' is not valid: the ']' is missing; write "
	              "a.b.c.d:PORT, [IPv6]:PORT or *:PORT\n"
	              "t.conf:12: address: 'localhost:25' is not valid: the host part is not an "
	              "IPv4 address (host names are not looked up); write a.b.c.d:PORT, "
	              "[IPv6]:PORT or *:PORT\n"
	              "t.conf:14: address: '127.0.0.1:0' is not valid: the port must be a number "
	              "from 1 to 65535; write a.b.c.d:PORT, [IPv6]:PORT or *:PORT\n"
	              "t.conf:16: address: '*:65536' is not valid: the port must be a number from "
	              "1 to 65535; write a.b.c.d:PORT, [IPv6]:PORT or *:PORT\n"
	              "t.conf:18: address: '[1.2.3.4]:25' is not valid: the part in brackets is "
	              "not an IPv6 address; write a.b.c.d:PORT, [IPv6]:PORT or *:PORT\n"
	              "t.conf:20: address: '1.2.3.4:2x' is not valid: the port must be a number "
	              "from 1 to 65535; write a.b.c.d:PORT, [IPv6]:PORT or *:PORT\n"
	              "t.conf:21: [listen j] address: required, e.g. address = *:25\n"
	              "t.conf:0: [tls] certificate: required because listener 'a' uses tls = "
	              "optional\n"
	              "t.conf:0: [tls] key: required because listener 'a' uses tls = optional");
}

static void test_missing_listener(void **state)
{
	expect_errors(*state, "[server]\nhostname = h.test\n",
	              "t.conf:0: [listen NAME]: no listener; add one, e.g. [listen mx] with "
	              "address = *:25");
	expect_errors(*state, "",
	              "t.conf:0: [listen NAME]: no listener; add one, e.g. [listen mx] with "
	              "address = *:25");
}

static void test_missing_certificate(void **state)
{
	/* no [tls] at all: line 0 */
	expect_errors(*state,
	              "[server]\nhostname = h.test\n[listen mx]\naddress = *:25\n"
	              "[listen sub]\naddress = *:587\ntls = required\n",
	              "t.conf:0: [tls] certificate: required because listener 'mx' uses tls = "
	              "optional\n"
	              "t.conf:0: [tls] key: required because listener 'mx' uses tls = optional");
	/* [tls] without key: its line */
	expect_errors(*state,
	              "[server]\nhostname = h.test\n[tls]\ncertificate = c\n"
	              "[listen mx]\naddress = *:25\ntls = none\n"
	              "[listen s]\naddress = *:465\ntls = implicit\n",
	              "t.conf:3: [tls] key: required because listener 's' uses tls = implicit");
	/* no TLS listener, but half a certificate */
	expect_errors(*state, "[server]\nhostname = h.test\n[tls]\nkey = k\n" LISTEN_PLAIN,
	              "t.conf:3: [tls] certificate: required because key is given");
	/* [tls NAME] needs both */
	expect_errors(*state,
	              "[server]\nhostname = h.test\n[tls]\ncertificate = c\nkey = k\n" LISTEN_PLAIN
	              "[tls mail.other.test]\n[tls *.b.test]\ncertificate = c\n",
	              "t.conf:9: [tls mail.other.test] certificate: required\n"
	              "t.conf:9: [tls mail.other.test] key: required\n"
	              "t.conf:10: [tls *.b.test] key: required");
	/* bad [tls NAME] names */
	expect_errors(*state,
	              "[server]\nhostname = h.test\n" LISTEN_PLAIN "[tls *]\n[tls a.*.test]\n",
	              "t.conf:6: [tls *]: '*' is not a valid host name: only letters, digits, '-' "
	              "and '.' are allowed (write international names in their xn-- form)\n"
	              "t.conf:7: [tls a.*.test]: 'a.*.test' is not a valid host name: only "
	              "letters, digits, '-' and '.' are allowed (write international names in "
	              "their xn-- form)");
}

static void test_many_errors_together(void **state)
{
	expect_errors(
	    *state,
	    "[server]\n"
	    "hostname = h.test\n"
	    "speed = fast\n"
	    "[limits]\n"
	    "recipients = 0\n"
	    "recipients = 5\n"
	    "[nonsense]\n"
	    "[listen mx]\n"
	    "tls = sometimes\n",
	    "t.conf:3: speed: unknown key; [server] accepts hostname, data_dir, "
	    "local_domains, users, user, dispatchers, trusted_networks, aliases, submit_socket, log, pidfile\n"
	    "t.conf:5: recipients: '0' is too small: the minimum is 1\n"
	    "t.conf:6: recipients: given twice in [limits] (first at line 5)\n"
	    "t.conf:7: [nonsense]: unknown section; expected [server], [tls], [tls "
	    "NAME], [limits], [listen NAME], [submission], [dns], [outbound], "
	    "[outbound.domains], [routes], [queue], [imap] or [metrics]\n"
	    "t.conf:9: tls: 'sometimes' is not one of none, optional, required, implicit\n"
	    "t.conf:8: [listen mx] address: required, e.g. address = *:25\n"
	    "t.conf:0: [tls] certificate: required because listener 'mx' uses tls = "
	    "optional\n"
	    "t.conf:0: [tls] key: required because listener 'mx' uses tls = optional");
}

/* ---- submission and AUTH ------------------------------------------------------- */

#define TLS_CERT "[tls]\ncertificate = c.pem\nkey = k.pem\n"

static void test_submission_config(void **state)
{
	struct fixture *f = *state;
	expect_ok(f, "[server]\n"                              /* 1 */
	             "hostname = mx.local.test\n"              /* 2 */
	             "aliases = /etc/sealmail/aliases\n"       /* 3 */
	          TLS_CERT                                     /* 4-6 */
	             "[listen mx]\naddress = *:25\n"           /* 7-8 */
	             "[listen submission]\n"                   /* 9 */
	             "address = *:587\n"                       /* 10 */
	             "protocol = Submission\n"                 /* 11 */
	             "tls = required\n"                        /* 12 */
	             "[listen submissions]\n"                  /* 13 */
	             "address = *:465\n"                       /* 14 */
	             "tls = implicit\n"                        /* 15 */
	             "auth = optional\n"                       /* 16 */
	             "protocol = submission\n"                 /* 17 */
	             "[listen certs]\n"                        /* 18 */
	             "address = *:1465\n"                      /* 19 */
	             "protocol = submission\n"                 /* 20 */
	             "tls = implicit\n"                        /* 21 */
	             "auth = CERTIFICATE\n"                    /* 22 */
	             "client_ca = /etc/sealmail/clients.pem\n" /* 23 */
	             "[listen mx-auth]\n"                      /* 24 */
	             "address = *:2525\n"                      /* 25 */
	             "auth = required\n"                       /* 26 */
	             "[submission]\n"                          /* 27 */
	             "log_auth_in_header = yes\n"              /* 28 */
	             "check_from_header = off\n"               /* 29 */
	             "auth_failures = 5\n");                   /* 30 */
	const struct config *cfg = &f->cfg;
	const struct config_listener *l = cfg->listeners;
	assert_string_equal(cfg->aliases, "/etc/sealmail/aliases");
	assert_int_equal(cfg->n_listeners, 5);
	assert_int_equal(l[0].protocol, LISTENER_SMTP);
	assert_int_equal(l[0].auth, LISTENER_AUTH_NONE);
	assert_string_equal(l[0].client_ca, "");
	assert_int_equal(l[1].protocol, LISTENER_SUBMISSION);
	assert_int_equal(l[1].tls, LISTENER_TLS_REQUIRED);
	assert_int_equal(l[1].auth, LISTENER_AUTH_REQUIRED);
	/* auth written before protocol is not overridden by the default */
	assert_int_equal(l[2].protocol, LISTENER_SUBMISSION);
	assert_int_equal(l[2].auth, LISTENER_AUTH_OPTIONAL);
	assert_int_equal(l[3].auth, LISTENER_AUTH_CERTIFICATE);
	assert_string_equal(l[3].client_ca, "/etc/sealmail/clients.pem");
	assert_int_equal(l[4].protocol, LISTENER_SMTP);
	assert_int_equal(l[4].tls, LISTENER_TLS_OPTIONAL);
	assert_int_equal(l[4].auth, LISTENER_AUTH_REQUIRED);
	assert_int_equal(cfg->log_auth_in_header, 1);
	assert_int_equal(cfg->check_from_header, 0);
	assert_int_equal(cfg->auth_failures, 5);
}

/* IMAP and POP3 listeners: TLS required by default and never off; no auth
 * or client_ca; [imap] values and their defaults. */
static void test_imap_config(void **state)
{
	struct fixture *f = *state;
	expect_ok(f, "[server]\nhostname = mx.local.test\n" TLS_CERT /* 1-5 */
	             "[listen imap]\naddress = *:143\nprotocol = imap\n"   /* 6-8 */
	             "[listen imaps]\naddress = *:993\nprotocol = IMAP\ntls = implicit\n"
	             "[listen pop3]\naddress = *:110\nprotocol = pop3\ntls = required\n"
	             "[limits]\nmessage_size = 10M\n"
	             "[imap]\nidle_timeout = 31m\nsessions_per_user = 5\n");
	const struct config *cfg = &f->cfg;
	assert_int_equal(cfg->listeners[0].protocol, LISTENER_IMAP);
	assert_int_equal(cfg->listeners[0].tls, LISTENER_TLS_REQUIRED);
	assert_int_equal(cfg->listeners[1].tls, LISTENER_TLS_IMPLICIT);
	assert_int_equal(cfg->listeners[2].protocol, LISTENER_POP3);
	assert_int_equal(cfg->imap.idle_timeout, 31 * 60);
	assert_int_equal(cfg->imap.idle_command_timeout, 29 * 60);
	assert_int_equal(cfg->imap.sessions_per_user, 5);
	assert_int_equal(cfg->imap.append_limit, 10 * 1024 * 1024);
	assert_int_equal(cfg->imap.literal_before_login, 8192);
	assert_int_equal(cfg->imap.pop3_timeout, 600);

	expect_errors(f,
	              "[server]\nhostname = mx.local.test\n" TLS_CERT       /* 1-5 */
	              "[listen imap]\naddress = *:143\nprotocol = imap\n"  /* 6-8 */
	              "tls = optional\nauth = required\n"                   /* 9-10 */
	              "[listen pop3]\naddress = *:110\nprotocol = pop3\n"  /* 11-13 */
	              "tls = none\nclient_ca = ca.pem\n"                    /* 14-15 */
	              "[imap]\nidle_timeout = 10m\nidle_command_timeout = 40m\n"
	              "pop3_timeout = 1m\n",                                /* 16-19 */
	              "t.conf:17: idle_timeout: '10m' is too small: the minimum is 1800s per RFC "
	              "9051 5.4\n"
	              "t.conf:19: pop3_timeout: '1m' is too small: the minimum is 600s per RFC "
	              "1939 3\n"
	              "t.conf:9: tls: 'optional' is not allowed with protocol = imap: logins "
	              "must not be in cleartext; use required (STARTTLS or STLS, ports 143 and "
	              "110) or implicit (TLS from the first byte, ports 993 and 995, RFC 8314)\n"
	              "t.conf:10: auth: not used with protocol = imap: every session logs in, "
	              "after TLS; remove the key\n"
	              "t.conf:14: tls: 'none' is not allowed with protocol = pop3: logins must "
	              "not be in cleartext; use required (STARTTLS or STLS, ports 143 and 110) "
	              "or implicit (TLS from the first byte, ports 993 and 995, RFC 8314)\n"
	              "t.conf:15: client_ca: not supported with protocol = pop3 (logins are by "
	              "password); remove the key\n"
	              "t.conf:18: [imap] idle_command_timeout: 2400s is not shorter than "
	              "idle_timeout (1800s); clients restart IDLE before idle_timeout only if it "
	              "is");
}

static void test_submission_booleans(void **state)
{
	static const struct {
		const char *text;
		int value;
	} cases[] = {
	    {"yes", 1}, {"YES", 1}, {"true", 1},  {"On", 1},  {"1", 1},
	    {"no", 0},  {"No", 0},  {"false", 0}, {"OFF", 0}, {"0", 0},
	};
	struct fixture *f = *state;
	char text[300];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(text, sizeof text,
		         "[server]\nhostname = h.test\n" LISTEN_PLAIN
		         "[submission]\nlog_auth_in_header = %s\ncheck_from_header = %s\n",
		         cases[i].text, cases[i].text);
		expect_ok(f, text);
		assert_int_equal(f->cfg.log_auth_in_header, cases[i].value);
		assert_int_equal(f->cfg.check_from_header, cases[i].value);
	}
}

static void test_submission_errors(void **state)
{
	expect_errors(
	    *state,
	    "[server]\nhostname = h.test\n" TLS_CERT                               /* 1-5 */
	    "[listen a]\naddress = *:587\nprotocol = submission\ntls = none\n"     /* 6-9 */
	    "[listen b]\naddress = *:588\nprotocol = submission\ntls = optional\n" /* 10-13 */
	    "[listen c]\naddress = *:589\nprotocol = submission\n"                 /* 14-16 */
	    "[listen d]\naddress = *:25\ntls = none\nauth = optional\n"            /* 17-20 */
	    "[listen e]\naddress = *:26\nauth = certificate\n"                     /* 21-23 */
	    "[listen f]\naddress = *:27\nauth = maybe\nprotocol = lmtp\n"          /* 24-27 */
	    "[listen g]\naddress = *:28\nprotocol = submission\ntls = none\n"      /* 28-31 */
	    "auth = required\n"                                                    /* 32 */
	    "[listen h]\naddress = *:29\ntls = none\nclient_ca = ca.pem\n"         /* 33-36 */
	    "auth = certificate\n"                                                 /* 37 */
	    "[submission]\nlog_auth_in_header = sometimes\ncheck_from_header =\n"  /* 38-40 */
	    "auth_failures = 0\nauth_failures = 3\nsecret = x\n"                   /* 41-43 */
	    "[submission]\nauth_failures = 101\n"                                  /* 44-45 */
	    "[server]\n"                                                           /* 46 */
	    "[submission x]\n",                                                    /* 47 */
	    "t.conf:26: auth: 'maybe' is not one of none, optional, required, certificate\n"
	    "t.conf:27: protocol: 'lmtp' is not supported; write smtp, submission, imap or pop3\n"
	    "t.conf:39: log_auth_in_header: 'sometimes' is not yes or no (true/false, on/off "
	    "and 1/0 are accepted too)\n"
	    "t.conf:40: check_from_header: no value given\n"
	    "t.conf:41: auth_failures: '0' is too small: the minimum is 1\n"
	    "t.conf:42: auth_failures: given twice in [submission] (first at line 41)\n"
	    "t.conf:43: secret: unknown key; [submission] accepts log_auth_in_header, "
	    "check_from_header, auth_failures, auth_failures_per_client, auth_failures_per_account, "
	    "auth_failure_window\n"
	    "t.conf:44: [submission]: section given twice (first at line 38); merge them\n"
	    "t.conf:46: [server]: section given twice (first at line 1); merge them\n"
	    "t.conf:47: [submission x]: [submission] takes no name\n"
	    "t.conf:9: tls: 'none' is not allowed with protocol = submission: submission must "
	    "not be in cleartext (RFC 8314); use required (STARTTLS, port 587) or implicit (TLS "
	    "from the first byte, port 465)\n"
	    "t.conf:13: tls: 'optional' is not allowed with protocol = submission: submission "
	    "must not be in cleartext (RFC 8314); use required (STARTTLS, port 587) or implicit "
	    "(TLS from the first byte, port 465)\n"
	    "t.conf:14: [listen c] tls: the default, optional, is not allowed with protocol = "
	    "submission: submission must not be in cleartext (RFC 8314); use required "
	    "(STARTTLS, port 587) or implicit (TLS from the first byte, port 465)\n"
	    "t.conf:20: auth: 'optional' needs TLS but the listener has tls = none (AUTH is "
	    "never offered without TLS); set tls to optional, required or implicit, or auth = "
	    "none\n"
	    "t.conf:23: auth: 'certificate' requires client_ca (the PEM CA bundle client "
	    "certificates are checked against)\n"
	    "t.conf:31: tls: 'none' is not allowed with protocol = submission: submission must "
	    "not be in cleartext (RFC 8314); use required (STARTTLS, port 587) or implicit (TLS "
	    "from the first byte, port 465)\n"
	    "t.conf:37: auth: 'certificate' needs TLS but the listener has tls = none (AUTH is "
	    "never offered without TLS); set tls to optional, required or implicit, or auth = "
	    "none");
	struct fixture *f = *state;
	/* a bad value keeps the default */
	assert_int_equal(f->cfg.auth_failures, 3);
	assert_int_equal(f->cfg.log_auth_in_header, 0);
}

static void test_auth_failures_range(void **state)
{
	struct fixture *f = *state;
	expect_ok(f,
	          "[server]\nhostname = h.test\n" LISTEN_PLAIN "[submission]\nauth_failures = 1\n");
	assert_int_equal(f->cfg.auth_failures, 1);
	expect_ok(f, "[server]\nhostname = h.test\n" LISTEN_PLAIN
	             "[submission]\nauth_failures = 100\n");
	assert_int_equal(f->cfg.auth_failures, 100);
	expect_errors(
	    f, "[server]\nhostname = h.test\n" LISTEN_PLAIN "[submission]\nauth_failures = three\n",
	    "t.conf:7: auth_failures: 'three' is not a whole number");
	expect_errors(
	    f, "[server]\nhostname = h.test\n" LISTEN_PLAIN "[submission]\nauth_failures = 101\n",
	    "t.conf:7: auth_failures: '101' is too large: the maximum is 100");
}

static void test_listener_auth_names(void **state)
{
	(void)state;
	assert_string_equal(listener_auth_name(LISTENER_AUTH_NONE), "none");
	assert_string_equal(listener_auth_name(LISTENER_AUTH_OPTIONAL), "optional");
	assert_string_equal(listener_auth_name(LISTENER_AUTH_REQUIRED), "required");
	assert_string_equal(listener_auth_name(LISTENER_AUTH_CERTIFICATE), "certificate");
	assert_string_equal(listener_auth_name((enum listener_auth)42), "?");
}

static void test_file_errors(void **state)
{
	struct fixture *f = *state;
	static const char text[] = "[server]\nhostname = h.test\nuser = a\0b\n" LISTEN_PLAIN;
	char *path = temp_file(text, sizeof text - 1), *expected;
	assert_int_equal(config_load(&f->cfg, path, &f->errors), -1);
	assert_true(asprintf(&expected, "%s:3: the line contains a NUL octet", path) > 0);
	assert_string_equal(f->errors, expected);
	free(expected);
	unlink(path);
	free(path);
}

static void test_too_many_listeners(void **state)
{
	char text[8192];
	size_t n = (size_t)snprintf(text, sizeof text, "[server]\nhostname = h.test\n");
	for (int i = 0; i <= CONFIG_MAX_LISTENERS; i++)
		n += (size_t)snprintf(text + n, sizeof text - n,
		                      "[listen l%d]\naddress = *:%d\ntls = none\n", i, 1000 + i);
	expect_errors(*state, text, "t.conf:99: [listen l32]: too many listeners (at most 32)");
}

/* ---- outbound delivery ---------------------------------------------------- */

static const char outbound_config[] =
    "[server]\n"                                                                  /* 1 */
    "hostname = mx.local.test\n"                                                  /* 2 */
    "trusted_networks = 127.0.0.0/8 ::1/128, 192.0.2.7 2001:DB8::/32 "            /* 3 */
    "::ffff:10.0.0.0/104\n"                                                       /* 3 */
    "[dns]\n"                                                                     /* 4 */
    "resolver = 127.0.0.1:5353\n"                                                 /* 5 */
    "[outbound]\n"                                                                /* 6 */
    "tls = Encrypt\n"                                                             /* 7 */
    "relayhost = [SMTP.example.net]:587\n"                                        /* 8 */
    "port = 2526\n"                                                               /* 9 */
    "ca_file = /etc/ssl/ca.pem\n"                                                 /* 10 */
    "min_version = TLSv1.3\n"                                                     /* 11 */
    "ciphers = ECDHE-RSA-AES256-GCM-SHA384\n"                                     /* 12 */
    "ciphersuites = TLS_AES_128_GCM_SHA256\n"                                     /* 13 */
    "helo = out.local.test\n"                                                     /* 14 */
    "connect_timeout = 1m\n"                                                      /* 15 */
    "command_timeout = 10m\n"                                                     /* 16 */
    "[outbound.domains]\n"                                                        /* 17 */
    "example.com = verify\n"                                                      /* 18 */
    ".Example.COM = encrypt   ; every subdomain\n"                                /* 19 */
    "partner.test = VERIFY match=MX1.partner.net:*.mx.partner.net:.partner.org\n" /* 20 */
    "plain.test = none\n"                                                         /* 21 */
    "dane.test = dane\n"                                                          /* 22 */
    "[routes]\n"                                                                  /* 23 */
    "example.test = 127.0.0.1:2600\n"                                             /* 24 */
    ".example.test = [relay.example.net]\n"                                       /* 25 */
    "v6.test = [2001:DB8::1]:25\n"                                                /* 26 */
    "mx.test = relay.example.org\n"                                               /* 27 */
    "port.test = relay.example.org:2525\n"                                        /* 28 */
    "bare.test = 192.0.2.1\n"                                                     /* 29 */
    "[queue]\n"                                                                   /* 30 */
    "retry = 1m, 2m 1h 1d\n"                                                      /* 31 */
    "max_lifetime = 3d\n"                                                         /* 32 */
    "delay_warning = 0\n"                                                         /* 33 */
    LISTEN_PLAIN;                                                                 /* 34-36 */

static void check_route(const struct config_route *r, const char *domain, const char *host,
                        unsigned port, int mx_lookup, int line)
{
	assert_string_equal(r->domain, domain);
	assert_string_equal(r->host, host);
	assert_int_equal(r->port, port);
	assert_int_equal(r->mx_lookup, mx_lookup);
	assert_int_equal(r->line, line);
}

static void check_policy(const struct config_tls_policy *p, const char *domain,
                         const char *level, const char *match, int line)
{
	assert_string_equal(p->domain, domain);
	assert_string_equal(p->level, level);
	assert_string_equal(p->match, match);
	assert_int_equal(p->line, line);
}

static void check_network(const struct config_network *n, int family, const char *addr,
                          unsigned prefix)
{
	char text[INET6_ADDRSTRLEN];
	assert_int_equal(n->family, family);
	assert_non_null(inet_ntop(family, n->addr, text, sizeof text));
	assert_string_equal(text, addr);
	assert_int_equal(n->prefix, prefix);
}

static void test_outbound_defaults(void **state)
{
	struct fixture *f = *state;
	struct config *cfg = &f->cfg;
	config_defaults(cfg);
	assert_string_equal(cfg->outbound_helo, cfg->hostname);
	expect_ok(f, "[server]\nhostname = mx.local.test\n" LISTEN_PLAIN);
	assert_int_equal(cfg->n_trusted_networks, 0);
	assert_string_equal(cfg->dns_resolver, "");
	assert_int_equal(cfg->dns_resolver_address_len, 0);
	assert_string_equal(cfg->outbound_tls, "dane");
	assert_int_equal(cfg->outbound_tls_line, 0);
	assert_int_equal(cfg->outbound_remember_tls, 30 * 86400);
	assert_int_equal(cfg->outbound_tls_report, 1);
	assert_string_equal(cfg->outbound_tls_report_from, "tlsrpt-noreply@mx.local.test");
	assert_string_equal(cfg->outbound_tls_report_org, "mx.local.test");
	assert_string_equal(cfg->dns_trust_anchor, "");
	assert_string_equal(cfg->relayhost.host, "");
	assert_int_equal(cfg->outbound_port, 25);
	assert_string_equal(cfg->outbound_ca_file, "");
	assert_int_equal(cfg->outbound_min_version, TLS1_2_VERSION);
	assert_string_equal(cfg->outbound_ciphers, cfg->ciphers);
	assert_string_equal(cfg->outbound_ciphersuites, cfg->ciphersuites);
	assert_string_equal(cfg->outbound_helo, "mx.local.test");
	assert_int_equal(cfg->outbound_connect_timeout, 30);
	assert_int_equal(cfg->outbound_command_timeout, 300);
	assert_int_equal(cfg->n_tls_policies, 0);
	assert_int_equal(cfg->n_routes, 0);
	assert_int_equal(cfg->n_retry, 5);
	assert_int_equal(cfg->retry[0], 300);
	assert_int_equal(cfg->retry[1], 600);
	assert_int_equal(cfg->retry[2], 1200);
	assert_int_equal(cfg->retry[3], 2400);
	assert_int_equal(cfg->retry[4], 3600);
	assert_int_equal(cfg->max_lifetime, 5 * 86400);
	assert_int_equal(cfg->delay_warning, 4 * 3600);
	/* the outbound cipher defaults do not follow a changed [tls] */
	expect_ok(f, "[server]\nhostname = h.test\n[tls]\nciphers = ECDHE-RSA-AES128-GCM-SHA256\n"
	             "ciphersuites = TLS_AES_128_GCM_SHA256\n" LISTEN_PLAIN);
	config_defaults(cfg);
	char defaults[2][1024];
	memcpy(defaults[0], cfg->ciphers, sizeof defaults[0]);
	memcpy(defaults[1], cfg->ciphersuites, sizeof defaults[1]);
	expect_ok(f, "[server]\nhostname = h.test\n[tls]\nciphers = ECDHE-RSA-AES128-GCM-SHA256\n"
	             "ciphersuites = TLS_AES_128_GCM_SHA256\n" LISTEN_PLAIN);
	assert_string_equal(cfg->outbound_ciphers, defaults[0]);
	assert_string_equal(cfg->outbound_ciphersuites, defaults[1]);
}

static void test_outbound_config(void **state)
{
	struct fixture *f = *state;
	const struct config *cfg = &f->cfg;
	expect_ok(f, outbound_config);

	assert_int_equal(cfg->n_trusted_networks, 5);
	check_network(&cfg->trusted_networks[0], AF_INET, "127.0.0.0", 8);
	check_network(&cfg->trusted_networks[1], AF_INET6, "::1", 128);
	check_network(&cfg->trusted_networks[2], AF_INET, "192.0.2.7", 32);
	check_network(&cfg->trusted_networks[3], AF_INET6, "2001:db8::", 32);
	check_network(&cfg->trusted_networks[4], AF_INET, "10.0.0.0", 8); /* mapped */

	assert_string_equal(cfg->dns_resolver, "127.0.0.1:5353");
	const struct sockaddr_in *a4 = (const struct sockaddr_in *)&cfg->dns_resolver_address;
	assert_int_equal(cfg->dns_resolver_address_len, sizeof *a4);
	assert_int_equal(a4->sin_family, AF_INET);
	assert_int_equal(ntohs(a4->sin_port), 5353);
	assert_int_equal(ntohl(a4->sin_addr.s_addr), 0x7f000001);

	assert_string_equal(cfg->outbound_tls, "encrypt");
	assert_int_equal(cfg->outbound_tls_line, 7);
	check_route(&cfg->relayhost, "", "smtp.example.net", 587, 0, 8);
	assert_int_equal(cfg->outbound_port, 2526);
	assert_string_equal(cfg->outbound_ca_file, "/etc/ssl/ca.pem");
	assert_int_equal(cfg->outbound_min_version, TLS1_3_VERSION);
	assert_int_equal(cfg->min_version, TLS1_2_VERSION);
	assert_string_equal(cfg->outbound_ciphers, "ECDHE-RSA-AES256-GCM-SHA384");
	assert_string_equal(cfg->outbound_ciphersuites, "TLS_AES_128_GCM_SHA256");
	assert_string_equal(cfg->outbound_helo, "out.local.test");
	assert_int_equal(cfg->outbound_connect_timeout, 60);
	assert_int_equal(cfg->outbound_command_timeout, 600);

	assert_int_equal(cfg->n_tls_policies, 5);
	check_policy(&cfg->tls_policies[0], "example.com", "verify", "", 18);
	check_policy(&cfg->tls_policies[1], ".example.com", "encrypt", "", 19);
	check_policy(&cfg->tls_policies[2], "partner.test", "verify",
	             "mx1.partner.net:*.mx.partner.net:.partner.org", 20);
	check_policy(&cfg->tls_policies[3], "plain.test", "none", "", 21);
	check_policy(&cfg->tls_policies[4], "dane.test", "dane", "", 22);

	/* a route without a port takes [outbound] port, even when written later */
	assert_int_equal(cfg->n_routes, 6);
	check_route(&cfg->routes[0], "example.test", "127.0.0.1", 2600, 0, 24);
	check_route(&cfg->routes[1], ".example.test", "relay.example.net", 2526, 0, 25);
	check_route(&cfg->routes[2], "v6.test", "2001:db8::1", 25, 0, 26);
	check_route(&cfg->routes[3], "mx.test", "relay.example.org", 2526, 1, 27);
	check_route(&cfg->routes[4], "port.test", "relay.example.org", 2525, 1, 28);
	check_route(&cfg->routes[5], "bare.test", "192.0.2.1", 2526, 0, 29);

	assert_int_equal(cfg->n_retry, 4);
	assert_int_equal(cfg->retry[0], 60);
	assert_int_equal(cfg->retry[1], 120);
	assert_int_equal(cfg->retry[2], 3600);
	assert_int_equal(cfg->retry[3], 86400);
	assert_int_equal(cfg->max_lifetime, 3 * 86400);
	assert_int_equal(cfg->delay_warning, 0);
}

static void test_relayhost_forms(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *value, *host;
		unsigned port;
		int mx_lookup;
	} cases[] = {
	    {"smtp.example.net", "smtp.example.net", 25, 1},
	    {"Smtp.Example.NET:587", "smtp.example.net", 587, 1},
	    {"[smtp.example.net]", "smtp.example.net", 25, 0},
	    {"[smtp.example.net]:587", "smtp.example.net", 587, 0},
	    {"[2001:db8::1]:25", "2001:db8::1", 25, 0},
	    {"[2001:db8::1]", "2001:db8::1", 25, 0},
	    {"192.0.2.1:25", "192.0.2.1", 25, 0},
	    {"192.0.2.1", "192.0.2.1", 25, 0},
	    {"[192.0.2.1]:2525", "192.0.2.1", 2525, 0},
	    {"localhost:65535", "localhost", 65535, 1},
	};
	char text[512];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(text, sizeof text,
		         "[server]\nhostname = h.test\n[outbound]\nrelayhost = %s\n" LISTEN_PLAIN,
		         cases[i].value);
		expect_ok(f, text);
		check_route(&f->cfg.relayhost, "", cases[i].host, cases[i].port, cases[i].mx_lookup,
		            4);
	}
}

static void test_resolver_forms(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *value, *stored;
		int family;
		unsigned port;
	} cases[] = {
	    {"127.0.0.1:5353", "127.0.0.1:5353", AF_INET, 5353},
	    {"192.0.2.53", "192.0.2.53:53", AF_INET, 53},
	    {"::1", "[::1]:53", AF_INET6, 53},
	    {"[::1]", "[::1]:53", AF_INET6, 53},
	    {"[2001:DB8::53]:5300", "[2001:db8::53]:5300", AF_INET6, 5300},
	};
	char text[512];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(text, sizeof text,
		         "[server]\nhostname = h.test\n[dns]\nresolver = %s\n" LISTEN_PLAIN,
		         cases[i].value);
		expect_ok(f, text);
		const struct config *cfg = &f->cfg;
		assert_string_equal(cfg->dns_resolver, cases[i].stored);
		assert_int_equal(cfg->dns_resolver_address.ss_family, cases[i].family);
		if (cases[i].family == AF_INET6) {
			const struct sockaddr_in6 *a6 =
			    (const struct sockaddr_in6 *)&cfg->dns_resolver_address;
			assert_int_equal(cfg->dns_resolver_address_len, sizeof *a6);
			assert_int_equal(ntohs(a6->sin6_port), cases[i].port);
		} else {
			const struct sockaddr_in *a4 =
			    (const struct sockaddr_in *)&cfg->dns_resolver_address;
			assert_int_equal(cfg->dns_resolver_address_len, sizeof *a4);
			assert_int_equal(ntohs(a4->sin_port), cases[i].port);
		}
	}
}

static void test_outbound_errors(void **state)
{
	expect_errors(
	    *state,
	    "[server]\n"                                                              /* 1 */
	    "hostname = h.test\n"                                                     /* 2 */
	    "trusted_networks = 10.0.0.0/33 10.1.2.3/8 host.test ::1/129 10.0.0.0/x " /* 3 */
	    "192.0.2.0/24 /8\n"                                                       /* 3 */
	    "[outbound]\n"                                                            /* 4 */
	    "tls = maybe\n"                                                           /* 5 */
	    "port = 0\n"                                                              /* 6 */
	    "helo = bad_helo.test\n"                                                  /* 7 */
	    "connect_timeout = 1w\n"                                                  /* 8 */
	    "command_timeout = 0\n"                                                   /* 9 */
	    "colour = red\n"                                                          /* 10 */
	    "min_version = TLSv1.1\n"                                                 /* 11 */
	    "[outbound.domains]\n"                                                    /* 12 */
	    "example.com = secure\n"                                                  /* 13 */
	    "a.test = encrypt match=mx.a.test\n"                                      /* 14 */
	    "b.test = verify match=\n"                                                /* 15 */
	    "c.test = verify match=ok.test:bad_name.test\n"                           /* 16 */
	    "d.test = verify foo=bar\n"                                               /* 17 */
	    "e.test = may\n"                                                          /* 18 */
	    "E.Test = verify\n"                                                       /* 19 */
	    "bad_domain.test = may\n"                                                 /* 20 */
	    ".1.2.3.4 = may\n"                                                        /* 21 */
	    "f.test = verify match=a.test match=b.test\n"                             /* 22 */
	    "g.test =\n"                                                              /* 23 */
	    "h.test = dane match=mx.h.test\n"                                         /* 24 */
	    "i.test = verify match=a.test::b.test\n"                                  /* 25 */
	    ". = none\n"                                                              /* 26 */
	    "[outbound.domains]\n"                                                    /* 27 */
	    "[outbound.domains x]\n"                                                  /* 28 */
	    LISTEN_PLAIN,                                                             /* 29-31 */
	    "t.conf:3: trusted_networks: '10.0.0.0/33' is not a network: the prefix length must "
	    "be a number from 0 to 32; write an address or ADDRESS/PREFIX, e.g. 192.0.2.0/24 or "
	    "2001:db8::/32\n"
	    "t.conf:3: trusted_networks: '10.1.2.3/8' is not a network: bits are set after the "
	    "prefix; the network is 10.0.0.0/8; write an address or ADDRESS/PREFIX, e.g. "
	    "192.0.2.0/24 or 2001:db8::/32\n"
	    "t.conf:3: trusted_networks: 'host.test' is not a network: not an IPv4 or IPv6 "
	    "address (host names are not looked up); write an address or ADDRESS/PREFIX, e.g. "
	    "192.0.2.0/24 or 2001:db8::/32\n"
	    "t.conf:3: trusted_networks: '::1/129' is not a network: the prefix length must be a "
	    "number from 0 to 128; write an address or ADDRESS/PREFIX, e.g. 192.0.2.0/24 or "
	    "2001:db8::/32\n"
	    "t.conf:3: trusted_networks: '10.0.0.0/x' is not a network: the prefix length must "
	    "be a number from 0 to 32; write an address or ADDRESS/PREFIX, e.g. 192.0.2.0/24 or "
	    "2001:db8::/32\n"
	    "t.conf:3: trusted_networks: '/8' is not a network: not an IPv4 or IPv6 address "
	    "(host names are not looked up); write an address or ADDRESS/PREFIX, e.g. "
	    "192.0.2.0/24 or 2001:db8::/32\n"
	    "t.conf:5: tls: 'maybe' is not one of none, may, encrypt, dane, dane-only, verify\n"
	    "t.conf:6: port: '0' is not a port: write a number from 1 to 65535\n"
	    "t.conf:7: helo: 'bad_helo.test' is not a valid domain: only letters, digits, '-' "
	    "and '.' are allowed (write international names in their xn-- form)\n"
	    "t.conf:8: connect_timeout: '1w' is not a duration: write seconds, optionally "
	    "followed by s, m, h or d, e.g. 5m\n"
	    "t.conf:9: command_timeout: '0' is too small: the minimum is 1s\n"
	    "t.conf:10: colour: unknown key; [outbound] accepts tls, relayhost, port, ca_file, "
	    "min_version, ciphers, ciphersuites, helo, connect_timeout, command_timeout, "
	    "sts_ca_file, remember_tls, tls_report, tls_report_from, tls_report_org\n"
	    "t.conf:11: min_version: 'TLSv1.1' is not allowed: TLS 1.0 and 1.1 are deprecated "
	    "(RFC 8996); use TLSv1.2 or TLSv1.3\n"
	    "t.conf:13: example.com: 'secure' is not one of none, may, encrypt, dane, dane-only, verify\n"
	    "t.conf:14: a.test: match= is only allowed with verify (the other levels check no "
	    "name)\n"
	    "t.conf:15: b.test: match= needs at least one name\n"
	    "t.conf:16: c.test: 'bad_name.test' in match= is not a valid host name: only "
	    "letters, digits, '-' and '.' are allowed (write international names in their xn-- "
	    "form)\n"
	    "t.conf:17: d.test: 'foo=bar' is not understood; after the level only "
	    "match=NAME:NAME... (with verify) and testing may follow\n"
	    "t.conf:19: E.Test: given twice in [outbound.domains] (first at line 18)\n"
	    "t.conf:20: bad_domain.test: not a valid domain: only letters, digits, '-' and '.' "
	    "are allowed (write international names in their xn-- form) (keys here are "
	    "domains, or .domain for every subdomain)\n"
	    "t.conf:21: .1.2.3.4: not a valid domain: the last label is numeric (an IP address "
	    "is not a domain) (keys here are domains, or .domain for every subdomain)\n"
	    "t.conf:22: f.test: match= given twice; separate the names with ':'\n"
	    "t.conf:23: g.test: no value given\n"
	    "t.conf:24: h.test: match= is only allowed with verify (the other levels check no "
	    "name)\n"
	    "t.conf:25: i.test: '' in match= is not a valid host name: it is empty (two ':' in "
	    "a row, or one at an end)\n"
	    "t.conf:26: .: not a valid domain: it is empty (keys here are domains, or .domain "
	    "for every subdomain)\n"
	    "t.conf:27: [outbound.domains]: section given twice (first at line 12); merge them\n"
	    "t.conf:28: [outbound.domains x]: [outbound.domains] takes no name");
}

static void test_bad_relayhost_and_resolver(void **state)
{
	static const struct {
		const char *key, *value, *why;
	} cases[] = {
	    {"relayhost", "[smtp.example.net", "the ']' is missing"},
	    {"relayhost", "[smtp.example.net]587", "only ':PORT' may follow the ']'"},
	    {"relayhost", "2001:db8::1",
	     "an IPv6 address must be in brackets, e.g. [2001:db8::1]:25"},
	    {"relayhost", "smtp.example.net:0", "the port must be a number from 1 to 65535"},
	    {"relayhost", "smtp.example.net:65536", "the port must be a number from 1 to 65535"},
	    {"relayhost", "smtp.example.net:", "the port must be a number from 1 to 65535"},
	    {"relayhost", "[smtp.example.net]:25x", "the port must be a number from 1 to 65535"},
	    {"relayhost", "[]:25", "the host is missing"},
	    {"relayhost", ":25", "the host is missing"},
	    {"relayhost", "[fe80::zz]:25", "the part in brackets is not an IPv6 address"},
	    {"relayhost", "smtp_host.test",
	     "'smtp_host.test' is not a valid host name: only letters, digits, '-' and '.' are "
	     "allowed (write international names in their xn-- form)"},
	    {"relayhost", "999.1.1.1:25",
	     "'999.1.1.1' is not a valid host name: the last label is numeric (an IP address "
	     "is not a domain)"},
	    {"resolver", "localhost", "not an IP address (host names are not looked up)"},
	    {"resolver", "localhost:53",
	     "the host part is not an IPv4 address (host names are not looked up)"},
	    {"resolver", "*:53", "'*' is not an address here"},
	    {"resolver", "127.0.0.1:0", "the port must be a number from 1 to 65535"},
	    {"resolver", "[::1]53", "':PORT' must follow the ']'"},
	    {"resolver", "[::1", "the ']' is missing"},
	    {"resolver", "[1.2.3.4]", "the part in brackets is not an IPv6 address"},
	};
	char text[512], expected[1024];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int relay = strcmp(cases[i].key, "relayhost") == 0;
		snprintf(text, sizeof text,
		         "[server]\nhostname = h.test\n[%s]\n%s = %s\n" LISTEN_PLAIN,
		         relay ? "outbound" : "dns", cases[i].key, cases[i].value);
		snprintf(expected, sizeof expected, "t.conf:4: %s: '%s' is not valid: %s; %s",
		         cases[i].key, cases[i].value, cases[i].why,
		         relay
		             ? "write HOST, HOST:PORT, [HOST], [HOST]:PORT or an IP address (IPv6 "
		               "in brackets)"
		             : "write a.b.c.d, [IPv6], a.b.c.d:PORT or [IPv6]:PORT");
		expect_errors(*state, text, expected);
	}
}

static void test_route_and_queue_errors(void **state)
{
	expect_errors(
	    *state,
	    "[server]\nhostname = h.test\n"             /* 1-2 */
	    "[routes]\n"                                /* 3 */
	    "example.test = 127.0.0.1:2600\n"           /* 4 */
	    "Example.Test = [relay.test]\n"             /* 5 */
	    ".example.test = relay.test:99999\n"        /* 6 */
	    "bad_key.test = relay.test\n"               /* 7 */
	    "x.test = ::1\n"                            /* 8 */
	    "y.test = [relay.test]:25:26\n"             /* 9 */
	    "[queue]\n"                                 /* 10 */
	    "retry = 5m 10x 0 1h\n"                     /* 11 */
	    "max_lifetime = 2w\n"                       /* 12 */
	    "delay_warning = -1\n"                      /* 13 */
	    "[queue]\n"                                 /* 14 */
	    "[dns]\nresolver = 127.0.0.1\nserver = x\n" /* 15-17 */
	    LISTEN_PLAIN,
	    "t.conf:5: Example.Test: given twice in [routes] (first at line 4)\n"
	    "t.conf:6: .example.test: 'relay.test:99999' is not valid: the port must be a "
	    "number from 1 to 65535; write HOST, HOST:PORT, [HOST], [HOST]:PORT or an "
	    "IP address (IPv6 in brackets)\n"
	    "t.conf:7: bad_key.test: not a valid domain: only letters, digits, '-' and "
	    "'.' are allowed (write international names in their xn-- form) (keys here "
	    "are domains, or .domain for every subdomain)\n"
	    "t.conf:8: x.test: '::1' is not valid: an IPv6 address must be in brackets, "
	    "e.g. [2001:db8::1]:25; write HOST, HOST:PORT, [HOST], [HOST]:PORT or an IP "
	    "address (IPv6 in brackets)\n"
	    "t.conf:9: y.test: '[relay.test]:25:26' is not valid: the port must be a "
	    "number from 1 to 65535; write HOST, HOST:PORT, [HOST], [HOST]:PORT or an "
	    "IP address (IPv6 in brackets)\n"
	    "t.conf:11: retry: '10x' is not a duration: write seconds, optionally "
	    "followed by s, m, h or d, e.g. 5m\n"
	    "t.conf:11: retry: '0' is too small: the minimum is 1s\n"
	    "t.conf:12: max_lifetime: '2w' is not a duration: write seconds, optionally "
	    "followed by s, m, h or d, e.g. 5m\n"
	    "t.conf:13: delay_warning: '-1' is not a duration: write seconds, optionally "
	    "followed by s, m, h or d, e.g. 5m\n"
	    "t.conf:14: [queue]: section given twice (first at line 10); merge them\n"
	    "t.conf:17: server: unknown key; [dns] accepts resolver, trust_anchor");
	/* a bad retry list keeps the default */
	assert_int_equal(((struct fixture *)*state)->cfg.n_retry, 5);
}

static void test_retry_limits(void **state)
{
	struct fixture *f = *state;
	char list[256] = "", text[512];
	for (int i = 1; i <= CONFIG_MAX_RETRY; i++)
		snprintf(list + strlen(list), sizeof list - strlen(list), "%dm ", i);
	snprintf(text, sizeof text,
	         "[server]\nhostname = h.test\n[queue]\nretry = %s\n" LISTEN_PLAIN, list);
	expect_ok(f, text);
	assert_int_equal(f->cfg.n_retry, CONFIG_MAX_RETRY);
	assert_int_equal(f->cfg.retry[CONFIG_MAX_RETRY - 1], CONFIG_MAX_RETRY * 60);
	snprintf(text, sizeof text,
	         "[server]\nhostname = h.test\n[queue]\nretry = %s 2d\n" LISTEN_PLAIN, list);
	expect_errors(f, text, "t.conf:4: retry: more than 16 waits (the last one repeats)");
	assert_int_equal(f->cfg.n_retry, 5);
	expect_ok(f, "[server]\nhostname = h.test\n[queue]\nretry = 1d\n" LISTEN_PLAIN);
	assert_int_equal(f->cfg.n_retry, 1);
	assert_int_equal(f->cfg.retry[0], 86400);
}

static void test_day_durations_and_delay_warning(void **state)
{
	struct fixture *f = *state;
	expect_ok(f, "[server]\nhostname = h.test\n[limits]\ncommand_timeout = 1d\n"
	             "[queue]\nmax_lifetime = 7d\ndelay_warning = 1d\n" LISTEN_PLAIN);
	assert_int_equal(f->cfg.limits.command_timeout, 86400);
	assert_int_equal(f->cfg.max_lifetime, 7 * 86400);
	assert_int_equal(f->cfg.delay_warning, 86400);
	/* a short max_lifetime silences the default delay_warning ... */
	expect_ok(f, "[server]\nhostname = h.test\n[queue]\nmax_lifetime = 1h\n" LISTEN_PLAIN);
	/* ... but not one written in the file */
	expect_errors(f,
	              "[server]\nhostname = h.test\n[queue]\ndelay_warning = 2d\n"
	              "max_lifetime = 1d\n" LISTEN_PLAIN,
	              "t.conf:4: [queue] delay_warning: 172800s is not shorter than max_lifetime "
	              "(86400s), so no delay notice would be sent; shorten it, or write 0 to send "
	              "none");
}

static void test_helo_follows_hostname(void **state)
{
	struct fixture *f = *state;
	/* [outbound] before [server]: helo is filled after the whole file */
	expect_ok(f,
	          "[outbound]\ntls = none\n[server]\nhostname = Late.Example.TEST\n" LISTEN_PLAIN);
	assert_string_equal(f->cfg.outbound_helo, "Late.Example.TEST");
	assert_string_equal(f->cfg.outbound_tls, "none");
	assert_int_equal(f->cfg.outbound_tls_line, 2);
}

static struct sockaddr_storage ipv4(const char *addr)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	a4->sin_family = AF_INET;
	a4->sin_port = htons(40000);
	assert_int_equal(inet_pton(AF_INET, addr, &a4->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage ipv6(const char *addr)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	a6->sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, addr, &a6->sin6_addr), 1);
	return ss;
}

static int trusted(const struct config *cfg, struct sockaddr_storage ss)
{
	return config_is_trusted_client(cfg, (const struct sockaddr *)&ss);
}

static void test_trusted_clients(void **state)
{
	struct fixture *f = *state;
	const struct config *cfg = &f->cfg;
	expect_ok(f, "[server]\nhostname = h.test\ntrusted_networks = 127.0.0.0/8, 192.0.2.7 "
	             "198.51.100.0/23 2001:db8:1::/48 ::1\n" LISTEN_PLAIN);
	assert_true(trusted(cfg, ipv4("127.0.0.1")));
	assert_true(trusted(cfg, ipv4("127.255.255.255")));
	assert_false(trusted(cfg, ipv4("128.0.0.1")));
	assert_true(trusted(cfg, ipv4("192.0.2.7")));
	assert_false(trusted(cfg, ipv4("192.0.2.8")));
	assert_true(trusted(cfg, ipv4("198.51.100.1")));
	assert_true(trusted(cfg, ipv4("198.51.101.254")));
	assert_false(trusted(cfg, ipv4("198.51.102.1")));
	assert_true(trusted(cfg, ipv6("::1")));
	assert_false(trusted(cfg, ipv6("::2")));
	assert_true(trusted(cfg, ipv6("2001:db8:1:ffff::25")));
	assert_false(trusted(cfg, ipv6("2001:db8:2::25")));
	/* an IPv4 client on a dual-stack socket */
	assert_true(trusted(cfg, ipv6("::ffff:127.0.0.1")));
	assert_true(trusted(cfg, ipv6("::ffff:198.51.101.9")));
	assert_false(trusted(cfg, ipv6("::ffff:10.0.0.1")));
	/* IPv4 networks do not match IPv6 addresses that merely end alike */
	assert_false(trusted(cfg, ipv6("::127.0.0.1")));
	struct sockaddr_storage unix_addr = {.ss_family = AF_UNIX};
	assert_false(trusted(cfg, unix_addr));
	assert_false(config_is_trusted_client(cfg, NULL));

	/* /0 trusts everything of its family; a mapped network is an IPv4 one */
	expect_ok(f, "[server]\nhostname = h.test\ntrusted_networks = 0.0.0.0/0 "
	             "::ffff:10.1.0.0/112\n" LISTEN_PLAIN);
	assert_true(trusted(cfg, ipv4("203.0.113.9")));
	assert_true(trusted(cfg, ipv6("::ffff:203.0.113.9")));
	assert_false(trusted(cfg, ipv6("2001:db8::1")));
	check_network(&cfg->trusted_networks[1], AF_INET, "10.1.0.0", 16);

	expect_ok(f, "[server]\nhostname = h.test\n" LISTEN_PLAIN);
	assert_false(trusted(cfg, ipv4("127.0.0.1")));
}

static void test_too_many_networks(void **state)
{
	char text[4096];
	size_t n = (size_t)snprintf(text, sizeof text,
	                            "[server]\nhostname = h.test\n"
	                            "trusted_networks =");
	for (int i = 0; i <= CONFIG_MAX_NETWORKS; i++)
		n += (size_t)snprintf(text + n, sizeof text - n, " 10.0.%d.0/24", i);
	snprintf(text + n, sizeof text - n, "\n" LISTEN_PLAIN);
	expect_errors(*state, text, "t.conf:3: trusted_networks: more than 64 networks");
}

/* ---- helpers ---------------------------------------------------------------- */

static void test_parse_size(void **state)
{
	uint64_t v;
	(void)state;
	assert_int_equal(config_parse_size("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(config_parse_size("1024", &v), 0);
	assert_int_equal(v, 1024);
	assert_int_equal(config_parse_size("2k", &v), 0);
	assert_int_equal(v, 2048);
	assert_int_equal(config_parse_size("2K", &v), 0);
	assert_int_equal(v, 2048);
	assert_int_equal(config_parse_size("25M", &v), 0);
	assert_int_equal(v, 26214400);
	assert_int_equal(config_parse_size("3G", &v), 0);
	assert_int_equal(v, 3221225472ULL);
	assert_int_equal(config_parse_size("18446744073709551615", &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(config_parse_size("18446744073709551616", &v), -1);
	assert_int_equal(config_parse_size("17179869184G", &v), -1);
	assert_int_equal(config_parse_size("", &v), -1);
	assert_int_equal(config_parse_size("M", &v), -1);
	assert_int_equal(config_parse_size("-1", &v), -1);
	assert_int_equal(config_parse_size("+1", &v), -1);
	assert_int_equal(config_parse_size(" 1", &v), -1);
	assert_int_equal(config_parse_size("1 M", &v), -1);
	assert_int_equal(config_parse_size("1m", &v), -1);
	assert_int_equal(config_parse_size("1MB", &v), -1);
	assert_int_equal(config_parse_size("1.5M", &v), -1);
}

static void test_parse_duration(void **state)
{
	unsigned v;
	(void)state;
	assert_int_equal(config_parse_duration("300", &v), 0);
	assert_int_equal(v, 300);
	assert_int_equal(config_parse_duration("45s", &v), 0);
	assert_int_equal(v, 45);
	assert_int_equal(config_parse_duration("5m", &v), 0);
	assert_int_equal(v, 300);
	assert_int_equal(config_parse_duration("2h", &v), 0);
	assert_int_equal(v, 7200);
	assert_int_equal(config_parse_duration("4294967295", &v), 0);
	assert_int_equal(v, 4294967295U);
	assert_int_equal(config_parse_duration("4294967296", &v), -1);
	assert_int_equal(config_parse_duration("1193047h", &v), -1);
	assert_int_equal(config_parse_duration("", &v), -1);
	assert_int_equal(config_parse_duration("m", &v), -1);
	assert_int_equal(config_parse_duration("5M", &v), -1);
	assert_int_equal(config_parse_duration("5 m", &v), -1);
	assert_int_equal(config_parse_duration("5ms", &v), -1);
	assert_int_equal(config_parse_duration("1d", &v), 0);
	assert_int_equal(v, 86400);
	assert_int_equal(config_parse_duration("5d", &v), 0);
	assert_int_equal(v, 432000);
	assert_int_equal(config_parse_duration("49710d", &v), 0);
	assert_int_equal(v, 4294944000U);
	assert_int_equal(config_parse_duration("49711d", &v), -1);
	assert_int_equal(config_parse_duration("1D", &v), -1);
	assert_int_equal(config_parse_duration("1dd", &v), -1);
	assert_int_equal(config_parse_duration("d", &v), -1);
	assert_int_equal(config_parse_duration("-5", &v), -1);
}

static void test_listener_tls_name(void **state)
{
	(void)state;
	assert_string_equal(listener_tls_name(LISTENER_TLS_NONE), "none");
	assert_string_equal(listener_tls_name(LISTENER_TLS_OPTIONAL), "optional");
	assert_string_equal(listener_tls_name(LISTENER_TLS_REQUIRED), "required");
	assert_string_equal(listener_tls_name(LISTENER_TLS_IMPLICIT), "implicit");
	assert_string_equal(listener_tls_name((enum listener_tls)42), "?");
}

static void test_is_local_domain(void **state)
{
	struct fixture *f = *state;
	expect_ok(
	    f, "[server]\nhostname = h.test\nlocal_domains = A.test,a.TEST b.test\n" LISTEN_PLAIN);
	assert_int_equal(f->cfg.n_local_domains, 2);
	assert_true(config_is_local_domain(&f->cfg, "a.test"));
	assert_true(config_is_local_domain(&f->cfg, "B.TEST"));
	assert_false(config_is_local_domain(&f->cfg, "c.test"));
	assert_false(config_is_local_domain(&f->cfg, "a.test.evil"));
	assert_false(config_is_local_domain(&f->cfg, ""));
	assert_false(config_is_local_domain(&f->cfg, NULL));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_defaults),
	    T(test_minimal_file_keeps_defaults),
	    T(test_full_config),
	    T(test_full_config_from_file),
	    T(test_cannot_open),
	    T(test_check_files_trust_anchor),
	    T(test_reload_round_trip),
	    T(test_reload_keeps_running),
	    T(test_file_with_nul),
	    T(test_comments_and_layout),
	    T(test_long_lines),
	    T(test_addresses),
	    T(test_unknown_key),
	    T(test_unknown_section),
	    T(test_syntax_errors),
	    T(test_indented_line_is_not_a_continuation),
	    T(test_duplicates),
	    T(test_bad_values),
	    T(test_min_version),
	    T(test_bad_addresses),
	    T(test_missing_listener),
	    T(test_missing_certificate),
	    T(test_many_errors_together),
	    T(test_submission_config),
	    T(test_submission_booleans),
	    T(test_imap_config),
	    T(test_submission_errors),
	    T(test_auth_failures_range),
	    T(test_listener_auth_names),
	    T(test_file_errors),
	    T(test_too_many_listeners),
	    T(test_outbound_defaults),
	    T(test_outbound_config),
	    T(test_relayhost_forms),
	    T(test_resolver_forms),
	    T(test_outbound_errors),
	    T(test_bad_relayhost_and_resolver),
	    T(test_route_and_queue_errors),
	    T(test_retry_limits),
	    T(test_day_durations_and_delay_warning),
	    T(test_helo_follows_hostname),
	    T(test_trusted_clients),
	    T(test_too_many_networks),
	    T(test_parse_size),
	    T(test_parse_duration),
	    T(test_listener_tls_name),
	    T(test_is_local_domain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
