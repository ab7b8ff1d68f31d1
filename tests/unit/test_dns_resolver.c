/*
 * test_dns_resolver.c: a resolver freed while its queries wait answers
 * each of them once, as a temporary failure ("resolver restarted"), and
 * nothing after: the forwarder is a bound UDP socket that is never read.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dns/dns.h"

struct calls {
	struct dns_resolver *r; /* the resolver being freed */
	unsigned mx, host, tlsa, txt, txt_again;
	char mx_error[256], host_error[256], tlsa_error[256], txt_error[256], again_error[256];
	enum dns_status mx_status, host_status;
	int tlsa_failed, txt_failed, again_failed;
};

static void mx_done(void *arg, const struct dns_answer *a)
{
	struct calls *c = arg;

	c->mx++;
	c->mx_status = a->status;
	snprintf(c->mx_error, sizeof(c->mx_error), "%s", a->error);
}

static void host_done(void *arg, const struct dns_answer *a)
{
	struct calls *c = arg;

	c->host++;
	c->host_status = a->status;
	snprintf(c->host_error, sizeof(c->host_error), "%s", a->error);
}

static void tlsa_done(void *arg, const struct dns_tlsa_answer *a)
{
	struct calls *c = arg;

	c->tlsa++;
	c->tlsa_failed = a->failed;
	snprintf(c->tlsa_error, sizeof(c->tlsa_error), "%s", a->error);
}

static void txt_again_done(void *arg, const struct dns_txt_answer *a)
{
	struct calls *c = arg;

	c->txt_again++;
	c->again_failed = a->failed;
	snprintf(c->again_error, sizeof(c->again_error), "%s", a->error);
}

/* Asks again on the resolver that is being freed: answered at once. */
static void txt_done(void *arg, const struct dns_txt_answer *a)
{
	struct calls *c = arg;

	c->txt++;
	c->txt_failed = a->failed;
	snprintf(c->txt_error, sizeof(c->txt_error), "%s", a->error);
	dns_txt(c->r, "_mta-sts.example.test", txt_again_done, c);
}

/* A UDP socket on 127.0.0.1 that nothing reads; its port into *PORT. */
static int silent_server(unsigned *port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static void test_free_answers_pending_queries(void **state)
{
	struct event_base *base = event_base_new();
	struct timeval tv = {0, 200 * 1000};
	struct dns_resolver *r;
	struct calls c;
	const char *why = NULL;
	char fwd[64];
	unsigned port;
	int fd = silent_server(&port);

	memset(&c, 0, sizeof(c));
	assert_non_null(base);
	snprintf(fwd, sizeof(fwd), "127.0.0.1:%u", port);
	r = dns_resolver_new(base, fwd, "", &why);
	assert_non_null(r);
	c.r = r; /* the callbacks' copy: dns_resolver_free() clears R */
	dns_resolve(c.r, "example.test", 1, mx_done, &c);
	dns_resolve(c.r, "mx.example.test", 0, host_done, &c);
	dns_tlsa(c.r, "mx.example.test", 25, tlsa_done, &c);
	dns_txt(c.r, "_smtp._tls.example.test", txt_done, &c);
	/* the queries go out, and nothing comes back */
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	assert_int_equal(c.mx + c.host + c.tlsa + c.txt, 0);

	dns_resolver_free(&r);
	assert_null(r);
	assert_int_equal(c.mx, 1);
	assert_int_equal(c.mx_status, DNS_TEMPFAIL);
	assert_string_equal(c.mx_error, "MX lookup failed: resolver restarted");
	assert_int_equal(c.host, 1);
	assert_int_equal(c.host_status, DNS_TEMPFAIL);
	assert_string_equal(c.host_error, "mx.example.test: resolver restarted");
	assert_int_equal(c.tlsa, 1);
	assert_true(c.tlsa_failed);
	assert_string_equal(c.tlsa_error, "_25._tcp.mx.example.test: resolver restarted");
	assert_int_equal(c.txt, 1);
	assert_true(c.txt_failed);
	assert_string_equal(c.txt_error, "_smtp._tls.example.test: resolver restarted");
	/* asked from a callback while freeing: answered there, the same way */
	assert_int_equal(c.txt_again, 1);
	assert_true(c.again_failed);
	assert_string_equal(c.again_error, "_mta-sts.example.test: resolver restarted");

	/* and nothing more, however long the loop runs */
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	assert_int_equal(c.mx + c.host + c.tlsa + c.txt + c.txt_again, 5);
	close(fd);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_free_answers_pending_queries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
