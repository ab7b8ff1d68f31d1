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
	assert_string_equal(cfg->data_dir, "/var/lib/sealmail");
	assert_string_equal(cfg->users, "/etc/sealmail/users");
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
	assert_int_equal(cfg->limits.connections_per_client, 20);
	assert_int_equal(cfg->n_listeners, 0);
}

static void test_minimal_file_keeps_defaults(void **state)
{
	struct fixture *f = *state;
	struct config *cfg = &f->cfg;
	expect_ok(f, "[server]\nhostname = mx.local.test\n" LISTEN_PLAIN);
	assert_string_equal(cfg->path, "t.conf");
	assert_string_equal(cfg->hostname, "mx.local.test");
	assert_string_equal(cfg->data_dir, "/var/lib/sealmail");
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
	expect_errors(*state, "[server]\nhostname = h.test\ncolour = red\n" LISTEN_PLAIN,
	              "t.conf:3: colour: unknown key; [server] accepts hostname, data_dir, "
	              "local_domains, users, user, dispatchers");
	expect_errors(*state,
	              "[server]\nhostname = h.test\n" LISTEN_PLAIN "[tls a.test]\ncertificate = "
	              "c\nkey = k\nmin_version = TLSv1.3\n",
	              "t.conf:9: min_version: unknown key; [tls a.test] accepts certificate, key\n"
	              "t.conf:0: [tls] certificate: required because [tls a.test] (line 6) needs "
	              "a default certificate to fall back on\n"
	              "t.conf:0: [tls] key: required because [tls a.test] (line 6) needs a "
	              "default certificate to fall back on");
	expect_errors(*state, "hostname = h.test\n" LISTEN_PLAIN,
	              "t.conf:1: hostname: not in a section; keys go under [server], [tls], "
	              "[limits] or [listen NAME]");
}

static void test_unknown_section(void **state)
{
	/* keys of an unknown section are not reported one by one */
	expect_errors(*state,
	              "[server]\nhostname = h.test\n[smtp]\nbanner = hi\n" LISTEN_PLAIN
	              "[server name]\n[listen]\n[listen bad name]\n",
	              "t.conf:3: [smtp]: unknown section; expected [server], [tls], [tls NAME], "
	              "[limits] or [listen NAME]\n"
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
	    "protocol = imap\n"                                                   /* 25 */
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
	    "followed by s, m or h, e.g. 5m\n"
	    "t.conf:20: data_timeout: '0' is too small: the minimum is 1s\n"
	    "t.conf:21: connections: '-1' is not a whole number\n"
	    "t.conf:22: connections_per_client: '99999999999' is too large: the maximum is "
	    "4294967295\n"
	    "t.conf:25: protocol: 'imap' is not supported; the only protocol is smtp\n"
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
	    "local_domains, users, user, dispatchers\n"
	    "t.conf:5: recipients: '0' is too small: the minimum is 1\n"
	    "t.conf:6: recipients: given twice in [limits] (first at line 5)\n"
	    "t.conf:7: [nonsense]: unknown section; expected [server], [tls], [tls "
	    "NAME], [limits] or [listen NAME]\n"
	    "t.conf:9: tls: 'sometimes' is not one of none, optional, required, implicit\n"
	    "t.conf:8: [listen mx] address: required, e.g. address = *:25\n"
	    "t.conf:0: [tls] certificate: required because listener 'mx' uses tls = "
	    "optional\n"
	    "t.conf:0: [tls] key: required because listener 'mx' uses tls = optional");
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
	assert_int_equal(config_parse_duration("1d", &v), -1);
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
	    T(test_file_errors),
	    T(test_too_many_listeners),
	    T(test_parse_size),
	    T(test_parse_duration),
	    T(test_listener_tls_name),
	    T(test_is_local_domain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
