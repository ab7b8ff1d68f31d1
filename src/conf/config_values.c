/*
 * config_values.c: the syntaxes of config values that several keys share:
 * numbers, sizes, durations, domains, words, listen and resolver addresses,
 * client networks. Pure: they take text and return a value or what is
 * wrong; the key setters (config_keys.c, config_outbound.c) report it as
 * FILE:LINE: key: ..., and the unit tests call config_parse_size() and
 * config_parse_duration() directly.
 */
#include "conf/config_parse.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Parses decimal digits at S into *out, setting *end after them; -1 when
 * there is no digit or the number overflows. */
int conf_parse_digits(const char *s, const char **end, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*end = p;
	*out = v;
	return p == s ? -1 : 0;
}

/* The multiplier for SUFFIX, a single letter of LETTERS whose multiplier is
 * MULTS at the same index; "" means 1; 0 when not allowed. */
static uint64_t suffix_multiplier(const char *suffix, const char *letters, const uint64_t *mults)
{
	if (!*suffix)
		return 1;
	if (suffix[1])
		return 0;
	const char *p = strchr(letters, *suffix);
	return p ? mults[p - letters] : 0;
}

int config_parse_size(const char *s, uint64_t *out)
{
	static const uint64_t mults[] = {1024, 1024, 1024 * 1024, 1024 * 1024 * 1024};
	const char *end;
	uint64_t v;
	if (conf_parse_digits(s, &end, &v) < 0)
		return -1;
	uint64_t m = suffix_multiplier(end, "kKMG", mults);
	if (!m || v > UINT64_MAX / m)
		return -1;
	*out = v * m;
	return 0;
}

int config_parse_duration(const char *s, unsigned *seconds)
{
	static const uint64_t mults[] = {1, 60, 3600, 86400};
	const char *end;
	uint64_t v;
	if (conf_parse_digits(s, &end, &v) < 0)
		return -1;
	uint64_t m = suffix_multiplier(end, "smhd", mults);
	if (!m || v > UINT_MAX / m)
		return -1;
	*seconds = (unsigned)(v * m);
	return 0;
}

/* NULL when D is a valid domain (letters, digits and '-' in dot-separated
 * labels, RFC 1035 2.3.1 / RFC 1123 2.1), else what is wrong with it. */
const char *conf_domain_problem(const char *d)
{
	size_t len = strlen(d);
	if (len == 0)
		return "it is empty";
	if (len > 253)
		return "it is longer than 253 characters";
	const char *label = d;
	for (;;) {
		size_t n = strcspn(label, ".");
		if (n == 0)
			return "it has an empty label (a leading, trailing or double dot)";
		if (n > 63)
			return "a label is longer than 63 characters";
		if (strspn(label,
		           "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") < n)
			return "only letters, digits, '-' and '.' are allowed (write international "
			       "names in their xn-- form)";
		if (label[0] == '-' || label[n - 1] == '-')
			return "a label starts or ends with '-'";
		if (!label[n])
			break;
		label += n + 1;
	}
	if (label != d && strspn(label, "0123456789") == strlen(label))
		return "the last label is numeric (an IP address is not a domain)";
	return NULL;
}

void conf_lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* 1 when S is 1 to 63 of letters, digits, '.', '-', '_' not starting with '-'. */
int conf_valid_word(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n < 64 && s[0] != '-' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* Index of VALUE (any case) among the NAMES, or -1. */
int conf_lookup_name(const char *value, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(value, names[i]) == 0)
			return (int)i;
	return -1;
}

/* Formats the reason something is wrong into WHY of SIZE; returns -1. */
__attribute__((format(printf, 3, 4))) int conf_why_not(char *why, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, size, fmt, ap);
	va_end(ap);
	return -1;
}

/* Copies the LEN octets at P into BUF of SIZE as a string; -1 when they do
 * not fit. */
int conf_copy_token(char *buf, size_t size, const char *p, size_t len)
{
	if (len >= size)
		return -1;
	memcpy(buf, p, len);
	buf[len] = '\0';
	return 0;
}

/* Fills *ss and *len for HOST (no brackets; "*" = any) and PORT; -1 when
 * HOST is not an address of that family. */
static int make_address(const char *host, int v6, uint16_t port, struct sockaddr_storage *ss,
                        socklen_t *len)
{
	memset(ss, 0, sizeof *ss);
	if (v6) {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		*len = sizeof *a6;
		return inet_pton(AF_INET6, host, &a6->sin6_addr) == 1 ? 0 : -1;
	}
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	a4->sin_family = AF_INET;
	a4->sin_port = htons(port);
	a4->sin_addr.s_addr = htonl(INADDR_ANY);
	*len = sizeof *a4;
	return strcmp(host, "*") == 0 || inet_pton(AF_INET, host, &a4->sin_addr) == 1 ? 0 : -1;
}

/* Parses "a.b.c.d:port", "[v6]:port" or "*:port" into *ss and *len; NULL, or
 * what is wrong. */
const char *conf_parse_address(const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(text, ':'), *host_end = colon, *end;
	int v6 = text[0] == '[';
	uint64_t port;
	if (!colon)
		return "the port is missing";
	if (v6) {
		host_end = strchr(text, ']');
		if (!host_end)
			return "the ']' is missing";
		if (host_end + 1 != colon)
			return "':PORT' must follow the ']'";
		text++;
	} else if (memchr(text, ':', (size_t)(colon - text))) {
		return "an IPv6 address must be in brackets, e.g. [::1]:25";
	}
	size_t n = (size_t)(host_end - text);
	if (n >= sizeof host)
		return v6 ? "the part in brackets is not an IPv6 address"
		          : "the host part is not an IPv4 address";
	memcpy(host, text, n);
	host[n] = '\0';
	if (conf_parse_digits(colon + 1, &end, &port) < 0 || *end || port < 1 || port > 65535)
		return "the port must be a number from 1 to 65535";
	if (make_address(host, v6, (uint16_t)port, ss, len) == 0)
		return NULL;
	*len = 0;
	return v6 ? "the part in brackets is not an IPv6 address"
	          : "the host part is not an IPv4 address (host names are not looked up)";
}

/* Clears the bits of ADDR (BITS long) after the first PREFIX; 1 when one was
 * set. */
static int clear_host_bits(unsigned char *addr, unsigned prefix, unsigned bits)
{
	int was_set = 0;
	for (unsigned i = prefix; i < bits; i++) {
		unsigned char bit = (unsigned char)(0x80 >> (i % 8));
		was_set |= (addr[i / 8] & bit) != 0;
		addr[i / 8] &= (unsigned char)~bit;
	}
	return was_set;
}

/* Parses "address" or "address/prefix" into *net; an IPv4-mapped IPv6
 * network becomes the IPv4 network it maps. 0, or -1 with the reason in
 * WHY. */
int conf_parse_network(const char *text, struct config_network *net, char *why, size_t size)
{
	char addr[INET6_ADDRSTRLEN];
	size_t n = strcspn(text, "/");
	memset(net, 0, sizeof *net);
	net->family = memchr(text, ':', n) ? AF_INET6 : AF_INET;
	if (conf_copy_token(addr, sizeof addr, text, n) < 0 ||
	    inet_pton(net->family, addr, net->addr) != 1)
		return conf_why_not(why, size,
		                    "not an IPv4 or IPv6 address (host names are not looked up)");
	unsigned bits = net->family == AF_INET6 ? 128 : 32;
	net->prefix = bits;
	if (text[n]) {
		const char *end;
		uint64_t v;
		if (conf_parse_digits(text + n + 1, &end, &v) < 0 || *end || v > bits)
			return conf_why_not(
			    why, size, "the prefix length must be a number from 0 to %u", bits);
		net->prefix = (unsigned)v;
	}
	if (clear_host_bits(net->addr, net->prefix, bits)) {
		inet_ntop(net->family, net->addr, addr, sizeof addr);
		return conf_why_not(why, size,
		                    "bits are set after the prefix; the network is %s/%u", addr,
		                    net->prefix);
	}
	if (net->family == AF_INET6 && net->prefix >= 96 &&
	    IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)net->addr)) {
		memmove(net->addr, net->addr + 12, 4);
		memset(net->addr + 4, 0, 12);
		net->family = AF_INET;
		net->prefix -= 96;
	}
	return 0;
}

/* Parses a resolver address: "a.b.c.d", "IPv6", "[IPv6]" (port 53),
 * "a.b.c.d:PORT" or "[IPv6]:PORT". NULL, or what is wrong. */
const char *conf_parse_resolver(const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN];
	size_t n = strlen(text);
	if (text[0] == '*')
		return "'*' is not an address here";
	if (make_address(text, 0, 53, ss, len) == 0 || make_address(text, 1, 53, ss, len) == 0)
		return NULL;
	if (text[0] == '[' && text[n - 1] == ']' &&
	    conf_copy_token(host, sizeof host, text + 1, n - 2) == 0)
		return make_address(host, 1, 53, ss, len) == 0
		           ? NULL
		           : "the part in brackets is not an IPv6 address";
	if (!strchr(text, ':'))
		return "not an IP address (host names are not looked up)";
	return conf_parse_address(text, ss, len);
}
