/*
 * test_config_show.c: config_write() (conf/config_show.c), the text of
 * `sealmail config show`: values in the form the file takes them, only
 * what differs from the defaults without --all, every key with it, and
 * what is written loading back to itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf/config.h"

#define BASE                                                                                       \
	"[server]\nhostname = mx.local.test\n"                                                     \
	"[listen mx]\naddress = 127.0.0.1:25\ntls = none\n"

#define BASE_SHOWN                                                                                 \
	"[server]\nhostname = mx.local.test\n\n"                                                   \
	"[listen mx]\naddress = 127.0.0.1:25\ntls = none\n"

static struct config cfg, again;

/* TEXT loaded and written by config_write(); malloc'ed. */
static char *show(const char *text, int all)
{
	char *errors = NULL, *out = NULL;
	size_t len = 0;
	FILE *f;

	if (config_load_string(&cfg, "t.conf", text, &errors) != 0)
		fail_msg("does not load: %s", errors);
	f = open_memstream(&out, &len);
	assert_non_null(f);
	assert_int_equal(config_write(f, &cfg, all), 0);
	assert_int_equal(fclose(f), 0);
	return out;
}

static void expect_shown(const char *text, const char *expected)
{
	char *out = show(text, 0);
	assert_string_equal(out, expected);
	free(out);
}

static void test_defaults_are_not_shown(void **state)
{
	(void)state;
	expect_shown(BASE "[limits]\nrecipients = 100\n[outbound]\nhelo = mx.local.test\n",
	             BASE_SHOWN);
}

static void test_sizes_and_durations(void **state)
{
	(void)state;
	expect_shown(BASE "[limits]\ncommand_line = 1024\nmessage_size = 1025\n"
	                  "text_line = 3G\ncommand_timeout = 90\ndata_timeout = 3600\n"
	                  "helo_timeout = 1d\ndata_min_rate = 0\n"
	                  "[queue]\ndelay_warning = 0\nretry = 86400 120,7200s\n",
	             "[server]\nhostname = mx.local.test\n\n"
	             "[limits]\ncommand_line = 1k\ntext_line = 3G\nmessage_size = 1025\n"
	             "command_timeout = 90s\ndata_timeout = 1h\nhelo_timeout = 1d\n"
	             "data_min_rate = 0\n\n"
	             "[listen mx]\naddress = 127.0.0.1:25\ntls = none\n\n"
	             "[queue]\nretry = 1d 2m 2h\ndelay_warning = 0\n");
}

static void test_routes(void **state)
{
	(void)state;
	expect_shown(BASE "[outbound]\nport = 2525\nrelayhost = [192.0.2.1]\n"
	                  "[routes]\na.test = relay.example\nb.test = [relay.example]\n"
	                  "c.test = [2001:DB8::1]:26\n.d.test = 192.0.2.2:27\n",
	             BASE_SHOWN "\n[outbound]\nrelayhost = 192.0.2.1:2525\nport = 2525\n\n"
	                        "[routes]\na.test = relay.example:2525\n"
	                        "b.test = [relay.example]:2525\nc.test = [2001:db8::1]:26\n"
	                        ".d.test = 192.0.2.2:27\n");
}

static void test_listener_defaults_follow_the_protocol(void **state)
{
	(void)state;
	/* imap's tls is required by default, submission's auth required */
	expect_shown(BASE
	             "[tls]\ncertificate = c.pem\nkey = k.pem\n"
	             "[listen imap]\naddress = 127.0.0.1:143\nprotocol = imap\ntls = required\n"
	             "[listen sub]\naddress = 127.0.0.1:587\nprotocol = submission\n"
	             "tls = required\nauth = required\n",
	             "[server]\nhostname = mx.local.test\n\n"
	             "[tls]\ncertificate = c.pem\nkey = k.pem\n\n"
	             "[listen mx]\naddress = 127.0.0.1:25\ntls = none\n\n"
	             "[listen imap]\naddress = 127.0.0.1:143\nprotocol = imap\n\n"
	             "[listen sub]\naddress = 127.0.0.1:587\nprotocol = submission\n"
	             "tls = required\n");
}

/* A value starting with a comment character is written without the space
 * that would make it a comment. */
static void test_value_like_a_comment(void **state)
{
	(void)state;
	expect_shown("[server]\nhostname = mx.local.test\nusers =#users\naliases =;a\n"
	             "[listen mx]\naddress = 127.0.0.1:25\ntls = none\n",
	             "[server]\nhostname = mx.local.test\nusers =#users\naliases =;a\n\n"
	             "[listen mx]\naddress = 127.0.0.1:25\ntls = none\n");
}

static void test_all_comments_what_has_no_value(void **state)
{
	char *out = show(BASE, 1);
	(void)state;
	assert_non_null(strstr(out, "\n#aliases =\n"));
	assert_non_null(strstr(out, "\n#relayhost =\n"));
	assert_non_null(strstr(out, "\n#certificate =\n"));
	assert_non_null(strstr(out, "\nauth = none\n#client_ca =\n"));
	assert_non_null(strstr(out, "\n[outbound.domains]\n\n[routes]\n\n[queue]\n"));
	free(out);
}

/* --all reads back to itself, and so does the short form. */
static void test_round_trip(void **state)
{
	static const char text[] =
	    "[server]\nhostname = mx.local.test\n"
	    "trusted_networks = 192.0.2.0/24 ::ffff:198.51.100.0/120\n"
	    "[listen mx]\naddress = 127.0.0.1:25\n"
	    "[tls]\ncertificate = c.pem\nkey = k.pem\nmin_version = TLSv1.3\n"
	    "[tls *.other.test]\ncertificate = o.pem\nkey = o.key\n"
	    "[dns]\nresolver = ::1\n"
	    "[outbound.domains]\nx.test = verify match=*.x.test:.y.test testing\n"
	    "[submission]\nlog_auth_in_header = on\n";
	char *all = show(text, 1), *brief = show(text, 0), *errors = NULL;
	char *second = NULL;
	size_t len = 0;
	(void)state;
	for (int i = 0; i < 2; i++) {
		FILE *f = open_memstream(&second, &len);
		assert_int_equal(config_load_string(&again, "again", i ? all : brief, &errors), 0);
		assert_int_equal(config_write(f, &again, 1), 0);
		assert_int_equal(fclose(f), 0);
		assert_string_equal(second, all);
		free(second);
	}
	assert_non_null(strstr(brief, "trusted_networks = 192.0.2.0/24 198.51.100.0/24\n"));
	assert_non_null(strstr(brief, "[tls *.other.test]\ncertificate = o.pem\n"));
	assert_non_null(strstr(brief, "resolver = [::1]:53\n"));
	assert_non_null(strstr(brief, "log_auth_in_header = yes\n"));
	free(all);
	free(brief);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults_are_not_shown),
	    cmocka_unit_test(test_sizes_and_durations),
	    cmocka_unit_test(test_routes),
	    cmocka_unit_test(test_listener_defaults_follow_the_protocol),
	    cmocka_unit_test(test_value_like_a_comment),
	    cmocka_unit_test(test_all_comments_what_has_no_value),
	    cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
