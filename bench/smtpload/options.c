/*
 * options.c: smtpload's command line (the contract is in README.md beside
 * this file): every number range-checked, every name bounded and free of
 * what would break an SMTP command line, HOST:PORT resolved once.
 */
#include "smtpload.h"

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: smtpload [options] HOST:PORT\n"
    "  -s N      parallel sessions (default 20)\n"
    "  -m N      messages in total (default 1000)\n"
    "  -l BYTES  message size, headers included (default 1024)\n"
    "  -r N      recipients per message (default 1)\n"
    "  -f ADDR   sender (default a@example.test)\n"
    "  -t ADDR   recipient (default user@example.test); may be repeated\n"
    "  -T none|starttls|implicit   transport (default none)\n"
    "  -N        new connection per message\n"
    "  -R        TLS session resumption on new connections\n"
    "  -P        no PIPELINING\n"
    "  -q RATE   open loop: RATE messages per second in total\n"
    "  -i N      idle mode: hold N connections until stdin's EOF or SIGTERM\n"
    "  -e NAME   EHLO name (default smtpload.test)\n"
    "  -S NAME   SNI server name (default none)\n"
    "  -w SECS   per-reply timeout (default 30)\n"
    "  -j        print one JSON object instead of the text line\n";

/* Prints WHY and the usage; returns -1. */
static int usage(const char *why, const char *arg)
{
	fprintf(stderr, "smtpload: %s%s%s\n%s", why, arg ? ": " : "", arg ? arg : "", usage_text);
	return -1;
}

/* Parses ARG as an integer in [MIN, MAX] into *VALUE_R; 0 or -1. */
static int parse_number(const char *arg, unsigned long min, unsigned long max,
                        unsigned long *value_r)
{
	char *end;
	unsigned long v;

	if (arg[0] < '0' || arg[0] > '9')
		return -1;
	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*value_r = v;
	return 0;
}

/* 0 when ARG fits in an SMTP command as a name or an address: 1 to MAX
 * printable octets, no space, '<', '>' or control character. */
static int check_word(const char *arg, size_t max)
{
	size_t n = strlen(arg);

	if (n == 0 || n > max)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)arg[i];
		if (c <= ' ' || c >= 0x7f || c == '<' || c == '>')
			return -1;
	}
	return 0;
}

/* Resolves HOST:PORT (HOST may be [v6]) into o->addr; 0 or -1. */
static int parse_target(struct smtpload_options *o, const char *target)
{
	char host[SMTPLOAD_NAME_MAX + 1];
	const char *colon = strrchr(target, ':');
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
	size_t n;

	if (colon == NULL || colon == target || colon[1] == '\0')
		return usage("expected HOST:PORT", target);
	n = (size_t)(colon - target);
	if (target[0] == '[' && n > 2 && target[n - 1] == ']') {
		target++;
		n -= 2;
	}
	if (n > SMTPLOAD_NAME_MAX)
		return usage("host name too long", target);
	memcpy(host, target, n);
	host[n] = '\0';
	int rc = getaddrinfo(host, colon + 1, &hints, &res);
	if (rc != 0)
		return usage(gai_strerror(rc), target);
	memcpy(&o->addr, res->ai_addr, res->ai_addrlen);
	o->addr_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int parse_transport(struct smtpload_options *o, const char *arg)
{
	if (strcmp(arg, "none") == 0)
		o->transport = TRANSPORT_NONE;
	else if (strcmp(arg, "starttls") == 0)
		o->transport = TRANSPORT_STARTTLS;
	else if (strcmp(arg, "implicit") == 0)
		o->transport = TRANSPORT_IMPLICIT;
	else
		return usage("-T takes none, starttls or implicit", arg);
	return 0;
}

static int parse_rate(struct smtpload_options *o, const char *arg)
{
	char *end;

	errno = 0;
	o->rate = strtod(arg, &end);
	if (errno != 0 || *end != '\0' || end == arg || !(o->rate > 0) ||
	    o->rate > SMTPLOAD_RATE_MAX)
		return usage("-q takes a rate in messages per second, up to 1000000", arg);
	return 0;
}

/* A numeric option C with argument ARG; 0 or -1. */
static int parse_number_option(struct smtpload_options *o, int c, const char *arg)
{
	unsigned long v = 0;

	switch (c) {
	case 'm':
		if (parse_number(arg, 1, SMTPLOAD_MESSAGES_MAX, &o->messages) < 0)
			return usage("-m: number out of range (1-10000000)", arg);
		return 0;
	case 'l':
		if (parse_number(arg, 1, SMTPLOAD_SIZE_MAX, &o->size) < 0)
			return usage("-l: size out of range (1-67108864)", arg);
		return 0;
	case 'w':
		if (parse_number(arg, 1, SMTPLOAD_TIMEOUT_MAX, &v) < 0)
			return usage("-w: seconds out of range (1-3600)", arg);
		o->timeout = (unsigned)v;
		return 0;
	case 'r':
		if (parse_number(arg, 1, SMTPLOAD_RCPTS_MAX, &v) < 0)
			return usage("-r: number out of range (1-1000)", arg);
		o->rcpts_per_message = (unsigned)v;
		return 0;
	default:
		if (parse_number(arg, 1, SMTPLOAD_SESSIONS_MAX, &v) < 0)
			return usage("-s/-i: number out of range (1-100000)", arg);
		*(c == 's' ? &o->sessions : &o->idle) = (unsigned)v;
		return 0;
	}
}

/* One option C with argument ARG (NULL for flags); 0 or -1. */
static int parse_option(struct smtpload_options *o, int c, const char *arg)
{
	switch (c) {
	case 's':
	case 'r':
	case 'i':
	case 'm':
	case 'l':
	case 'w':
		return parse_number_option(o, c, arg);
	case 'f':
	case 't':
		if (check_word(arg, SMTPLOAD_ADDRESS_MAX) < 0)
			return usage("not a usable address", arg);
		if (c == 'f') {
			o->sender = arg;
			return 0;
		}
		if (o->n_rcpts == SMTPLOAD_RCPTS_MAX)
			return usage("too many -t", arg);
		o->rcpts[o->n_rcpts++] = arg;
		return 0;
	case 'e':
	case 'S':
		if (check_word(arg, SMTPLOAD_NAME_MAX) < 0)
			return usage("not a usable name", arg);
		*(c == 'e' ? &o->ehlo : &o->sni) = arg;
		return 0;
	case 'T':
		return parse_transport(o, arg);
	case 'q':
		return parse_rate(o, arg);
	case 'N':
		o->new_connection = 1;
		return 0;
	case 'R':
		o->resume = 1;
		return 0;
	case 'P':
		o->no_pipelining = 1;
		return 0;
	case 'j':
		o->json = 1;
		return 0;
	default:
		return usage("unknown option", NULL);
	}
}

int smtpload_options_parse(struct smtpload_options *o, int argc, char **argv)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->sessions = 20;
	o->messages = 1000;
	o->size = 1024;
	o->rcpts_per_message = 1;
	o->sender = "a@example.test";
	o->ehlo = "smtpload.test";
	o->timeout = 30;
	while ((c = getopt(argc, argv, "s:m:l:r:f:t:T:NRPq:i:e:S:w:j")) != -1) {
		if (parse_option(o, c, optarg) < 0)
			return -1;
	}
	if (optind != argc - 1)
		return usage("expected one HOST:PORT", NULL);
	if (o->n_rcpts == 0)
		o->rcpts[o->n_rcpts++] = "user@example.test";
	if (o->resume && o->transport == TRANSPORT_NONE)
		return usage("-R needs -T starttls or -T implicit", NULL);
	o->target = argv[optind];
	return parse_target(o, o->target);
}
