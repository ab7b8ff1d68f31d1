/*
 * config_show.c: the configuration written back as text, for `sealmail
 * config show [--all]` (ctl/config_show_cmd.c): each key of the key table
 * (config_keys.c) formatted from its field by the kind of value its setter
 * stores, the listeners and certificates section by section, and the
 * entries of [outbound.domains] and [routes]. What is written reads back
 * to the same values, so the output of --all is a complete configuration
 * file; without --all only what differs from the defaults is written, as
 * Postfix's `postconf -n` does.
 */
#include "conf/config_parse.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"

/* One run of config_write(). */
struct show {
	FILE *out;
	const struct config *cfg;
	struct config *def; /* the defaults, fitted to cfg (see fit_defaults()) */
	int all;
	int sections; /* written so far, for the blank line between them */
	int bad;      /* a key had no way to be written */
};

/* Where key K's field is in CFG, for the certificate or listener INDEX. */
static const void *field_of(const struct config *cfg, const struct key_def *k, unsigned index)
{
	const char *base = (const char *)cfg;
	if (k->base == BASE_CERT)
		base = (const char *)&cfg->certs[index];
	else if (k->base == BASE_LISTENER)
		base = (const char *)&cfg->listeners[index];
	return base + k->offset;
}

/* V octets as the largest unit that holds it exactly: 26214400 is "25M". */
static void write_size(FILE *f, uint64_t v)
{
	static const struct {
		uint64_t mult;
		char suffix;
	} units[] = {{1024 * 1024 * 1024, 'G'}, {1024 * 1024, 'M'}, {1024, 'k'}};
	for (size_t i = 0; v && i < ARRAY_LEN(units); i++) {
		if (v % units[i].mult == 0) {
			fprintf(f, "%llu%c", (unsigned long long)(v / units[i].mult),
			        units[i].suffix);
			return;
		}
	}
	fprintf(f, "%llu", (unsigned long long)v);
}

/* V seconds likewise: 300 is "5m", 0 is "0". */
static void write_duration(FILE *f, unsigned v)
{
	static const struct {
		unsigned mult;
		char suffix;
	} units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
	for (size_t i = 0; v && i < ARRAY_LEN(units); i++) {
		if (v % units[i].mult == 0) {
			fprintf(f, "%u%c", v / units[i].mult, units[i].suffix);
			return;
		}
	}
	fprintf(f, "%u", v);
}

/* A route as [routes] and relayhost take it: a name looked up through MX
 * bare, any other name in brackets, an address as itself. */
static void write_route(FILE *f, const struct config_route *r)
{
	unsigned char addr[16];
	int v6 = strchr(r->host, ':') != NULL;
	if (r->mx_lookup || (!v6 && inet_pton(AF_INET, r->host, addr) == 1))
		fprintf(f, "%s", r->host);
	else
		fprintf(f, "[%s]", r->host);
	if (r->port)
		fprintf(f, ":%u", r->port);
}

static void write_networks(FILE *f, const struct config *cfg)
{
	char text[INET6_ADDRSTRLEN];
	for (unsigned i = 0; i < cfg->n_trusted_networks; i++) {
		const struct config_network *n = &cfg->trusted_networks[i];
		inet_ntop(n->family, n->addr, text, sizeof text);
		fprintf(f, "%s%s/%u", i ? " " : "", text, n->prefix);
	}
}

/* Writes the value of key K of CFG (certificate or listener INDEX) to F;
 * nothing when it has none. -1 when K's kind is unknown. */
static int write_value(FILE *f, const struct config *cfg, const struct key_def *k, unsigned index)
{
	const void *p = field_of(cfg, k, index);
	switch (conf_key_kind(k)) {
	case VALUE_STRING:
		fputs(p, f);
		break;
	case VALUE_DOMAINS:
		for (unsigned i = 0; i < cfg->n_local_domains; i++)
			fprintf(f, "%s%s", i ? " " : "", cfg->local_domains[i]);
		break;
	case VALUE_NETWORKS:
		write_networks(f, cfg);
		break;
	case VALUE_COUNT:
		fprintf(f, "%u", *(const unsigned *)p);
		break;
	case VALUE_SIZE:
		write_size(f, *(const size_t *)p);
		break;
	case VALUE_DURATION:
		write_duration(f, *(const unsigned *)p);
		break;
	case VALUE_TLS_VERSION:
		fputs(*(const int *)p == TLS1_3_VERSION ? "TLSv1.3" : "TLSv1.2", f);
		break;
	case VALUE_PROTOCOL:
		fputs(listener_protocol_name(*(const enum listener_protocol *)p), f);
		break;
	case VALUE_LISTENER_TLS:
		fputs(listener_tls_name(*(const enum listener_tls *)p), f);
		break;
	case VALUE_LISTENER_AUTH:
		fputs(listener_auth_name(*(const enum listener_auth *)p), f);
		break;
	case VALUE_PORT:
		fprintf(f, "%u", *(const uint16_t *)p);
		break;
	case VALUE_RETRY:
		for (unsigned i = 0; i < cfg->n_retry; i++) {
			fputs(i ? " " : "", f);
			write_duration(f, cfg->retry[i]);
		}
		break;
	case VALUE_BOOL:
		fputs(*(const int *)p ? "yes" : "no", f);
		break;
	case VALUE_ROUTE:
		if (((const struct config_route *)p)->host[0])
			write_route(f, p);
		break;
	case VALUE_UNKNOWN:
		return -1;
	}
	return 0;
}

/* The value of key K as a string (malloc'ed; "" when it has none), or NULL
 * when its kind is unknown. */
static char *value_text(const struct config *cfg, const struct key_def *k, unsigned index)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		fatal("config show: out of memory");
	int r = write_value(f, cfg, k, index);
	if (fclose(f) != 0)
		fatal("config show: out of memory");
	if (r < 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* Keys a listener of that protocol does not take (config_check.c). */
static int key_applies(const struct show *s, const struct key_def *k, unsigned index)
{
	const struct config_listener *l = &s->cfg->listeners[index];
	if (k->section != SEC_LISTEN ||
	    (l->protocol != LISTENER_IMAP && l->protocol != LISTENER_POP3))
		return 1;
	return strcmp(k->name, "auth") != 0 && strcmp(k->name, "client_ca") != 0;
}

/* Writes key K's line to SEC when --all or when it differs from the
 * default: "key = value", or "#key =" for a key without a value. */
static void show_key(struct show *s, FILE *sec, const struct key_def *k, const char *title,
                     unsigned index)
{
	char *value = value_text(s->cfg, k, index), *dflt = value_text(s->def, k, index);
	if (!value || !dflt) {
		fprintf(stderr,
		        "sealmail config show: [%s] %s: its kind of value cannot be written\n",
		        title, k->name);
		s->bad = 1;
	} else if (s->all || strcmp(value, dflt) != 0) {
		if (*value == '#' || *value == ';') /* after a space it would start a comment */
			fprintf(sec, "%s =%s\n", k->name, value);
		else if (*value)
			fprintf(sec, "%s = %s\n", k->name, value);
		else
			fprintf(sec, "#%s =\n", k->name);
	}
	free(value);
	free(dflt);
}

/* Writes the section [TITLE] when it has a line to write (or ALWAYS): its
 * keys of KIND for the certificate or listener INDEX, then EXTRA's lines. */
static void show_section(struct show *s, enum section_kind kind, const char *title, unsigned index,
                         int always, void (*extra)(struct show *, FILE *))
{
	char *text = NULL;
	size_t len = 0;
	FILE *sec = open_memstream(&text, &len);
	if (!sec)
		fatal("config show: out of memory");
	for (size_t i = 0; i < CONF_N_KEYS; i++)
		if (conf_keys[i].section == kind && key_applies(s, &conf_keys[i], index))
			show_key(s, sec, &conf_keys[i], title, index);
	if (extra)
		extra(s, sec);
	if (fclose(sec) != 0)
		fatal("config show: out of memory");
	if (len || always || s->all)
		fprintf(s->out, "%s[%s]\n%s", s->sections++ ? "\n" : "", title, text);
	free(text);
}

static void show_tls_policies(struct show *s, FILE *sec)
{
	for (unsigned i = 0; i < s->cfg->n_tls_policies; i++) {
		const struct config_tls_policy *p = &s->cfg->tls_policies[i];
		fprintf(sec, "%s = %s%s%s%s\n", p->domain, p->level, p->testing ? " testing" : "",
		        p->match[0] ? " match=" : "", p->match);
	}
}

static void show_routes(struct show *s, FILE *sec)
{
	for (unsigned i = 0; i < s->cfg->n_routes; i++) {
		fprintf(sec, "%s = ", s->cfg->routes[i].domain);
		write_route(sec, &s->cfg->routes[i]);
		fputc('\n', sec);
	}
}

/* Makes s->def what CFG's values are compared with: the defaults, with
 * those that follow other keys (helo follows hostname, append_limit
 * message_size, ...) following CFG's, and each listener's tls and auth
 * defaults for its protocol. */
static void fit_defaults(struct show *s)
{
	const struct config *cfg = s->cfg;
	struct config *def = s->def;
	config_defaults(def);
	memcpy(def->outbound_helo, cfg->hostname, sizeof def->outbound_helo);
	snprintf(def->outbound_tls_report_from, sizeof def->outbound_tls_report_from,
	         "tlsrpt-noreply@%s", cfg->hostname);
	snprintf(def->outbound_tls_report_org, sizeof def->outbound_tls_report_org, "%s",
	         cfg->hostname);
	def->imap.append_limit = cfg->limits.message_size;
	for (unsigned i = 0; i < cfg->n_listeners; i++) {
		struct config_listener *l = &def->listeners[i];
		enum listener_protocol protocol = cfg->listeners[i].protocol;
		l->protocol = LISTENER_SMTP; /* the default; tls and auth follow the protocol */
		l->tls = protocol == LISTENER_IMAP || protocol == LISTENER_POP3
		             ? LISTENER_TLS_REQUIRED
		             : LISTENER_TLS_OPTIONAL;
		l->auth =
		    protocol == LISTENER_SUBMISSION ? LISTENER_AUTH_REQUIRED : LISTENER_AUTH_NONE;
	}
}

int config_write(FILE *out, const struct config *cfg, int all)
{
	struct show s = {.out = out, .cfg = cfg, .def = xmalloc(sizeof *s.def), .all = all};
	char title[300];
	fit_defaults(&s);
	show_section(&s, SEC_SERVER, "server", 0, 0, NULL);
	show_section(&s, SEC_TLS, "tls", 0, 0, NULL);
	for (unsigned i = 1; i < cfg->n_certs; i++) {
		snprintf(title, sizeof title, "tls %s", cfg->certs[i].name);
		show_section(&s, SEC_SNI, title, i, 1, NULL);
	}
	show_section(&s, SEC_LIMITS, "limits", 0, 0, NULL);
	for (unsigned i = 0; i < cfg->n_listeners; i++) {
		snprintf(title, sizeof title, "listen %s", cfg->listeners[i].name);
		show_section(&s, SEC_LISTEN, title, i, 1, NULL);
	}
	show_section(&s, SEC_SUBMISSION, "submission", 0, 0, NULL);
	show_section(&s, SEC_DNS, "dns", 0, 0, NULL);
	show_section(&s, SEC_OUTBOUND, "outbound", 0, 0, NULL);
	show_section(&s, SEC_OUTBOUND_DOMAINS, "outbound.domains", 0, 0, show_tls_policies);
	show_section(&s, SEC_ROUTES, "routes", 0, 0, show_routes);
	show_section(&s, SEC_QUEUE, "queue", 0, 0, NULL);
	show_section(&s, SEC_IMAP, "imap", 0, 0, NULL);
	show_section(&s, SEC_METRICS, "metrics", 0, 0, NULL);
	free(s.def);
	return s.bad ? -1 : 0;
}
