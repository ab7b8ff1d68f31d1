/*
 * config_check.c: the checks that need the whole file, run by the reader
 * (config_reader.c) after the last line: a listener for every address
 * once, submission only over TLS (RFC 8314), AUTH never in cleartext,
 * the certificates TLS needs, a delay notice before the bounce. Each
 * problem is reported at the line it is about. config_check_files(), for
 * `sealmail config check` only, opens the files the server opens later.
 */
#include "conf/config_parse.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/util.h"

static void check_hostname(struct parse_ctx *c)
{
	const char *h = c->cfg->hostname;
	const char *problem = conf_domain_problem(h);
	if (conf_given(&c->server, "hostname") || !problem)
		return;
	if (*h)
		conf_error_at(c, c->server.line,
		              "[server] hostname: the system host name '%s' is not a valid domain "
		              "(%s); set hostname",
		              h, problem);
	else
		conf_error_at(c, c->server.line,
		              "[server] hostname: the system host name is unknown; set hostname");
}

static int same_address(const struct config_listener *a, const struct config_listener *b)
{
	return a->address_len && a->address_len == b->address_len &&
	       memcmp(&a->address, &b->address, a->address_len) == 0;
}

#define TLS_FOR_SUBMISSION                                                                         \
	"submission must not be in cleartext (RFC 8314); use required (STARTTLS, port 587) or "    \
	"implicit (TLS from the first byte, port 465)"

/* RFC 8314: submission only over TLS. 0, or -1 (reported) when the listener
 * allows cleartext. */
static int check_submission_tls(struct parse_ctx *c, unsigned i)
{
	const struct config_listener *l = &c->cfg->listeners[i];
	int line = conf_given(&c->listen[i], "tls");
	if (l->protocol != LISTENER_SUBMISSION || l->tls == LISTENER_TLS_REQUIRED ||
	    l->tls == LISTENER_TLS_IMPLICIT)
		return 0;
	if (line)
		conf_error_at(c, line, "tls: '%s' is not allowed with protocol = submission: %s",
		              listener_tls_name(l->tls), TLS_FOR_SUBMISSION);
	else
		conf_error_at(
		    c, l->line,
		    "[listen %s] tls: the default, optional, is not allowed with protocol = "
		    "submission: %s",
		    l->name, TLS_FOR_SUBMISSION);
	return -1;
}

#define TLS_FOR_MAILBOXES                                                                          \
	"logins must not be in cleartext; use required (STARTTLS or STLS, ports 143 and 110) or "  \
	"implicit (TLS from the first byte, ports 993 and 995, RFC 8314)"

/* An IMAP or POP3 listener (I): TLS is required by default and cannot be
 * turned off, so no password crosses the network in cleartext; logins are
 * always required, so auth and client_ca have no meaning there. */
static void check_mailbox_listener(struct parse_ctx *c, unsigned i)
{
	struct config_listener *l = &c->cfg->listeners[i];
	const char *proto = l->protocol == LISTENER_IMAP ? "imap" : "pop3";
	int line = conf_given(&c->listen[i], "tls");

	if (!line)
		l->tls = LISTENER_TLS_REQUIRED;
	else if (l->tls != LISTENER_TLS_REQUIRED && l->tls != LISTENER_TLS_IMPLICIT)
		conf_error_at(c, line, "tls: '%s' is not allowed with protocol = %s: %s",
		              listener_tls_name(l->tls), proto, TLS_FOR_MAILBOXES);
	if ((line = conf_given(&c->listen[i], "auth")) != 0)
		conf_error_at(c, line,
		              "auth: not used with protocol = %s: every session logs in, after TLS; "
		              "remove the key",
		              proto);
	if ((line = conf_given(&c->listen[i], "client_ca")) != 0)
		conf_error_at(c, line,
		              "client_ca: not supported with protocol = %s (logins are by password); "
		              "remove the key",
		              proto);
}

/* Fills in the default auth of listener I (required for submission, none
 * for smtp) and checks it against tls and client_ca. */
static void check_listener_auth(struct parse_ctx *c, unsigned i)
{
	struct config_listener *l = &c->cfg->listeners[i];
	int line = conf_given(&c->listen[i], "auth");
	if (l->protocol == LISTENER_IMAP || l->protocol == LISTENER_POP3) {
		check_mailbox_listener(c, i);
		return;
	}
	if (!line)
		l->auth = l->protocol == LISTENER_SUBMISSION ? LISTENER_AUTH_REQUIRED
		                                             : LISTENER_AUTH_NONE;
	if (check_submission_tls(c, i) < 0 || !line)
		return;
	/* RFC 4954 4: credentials must not cross the network in cleartext */
	if (l->auth != LISTENER_AUTH_NONE && l->tls == LISTENER_TLS_NONE)
		conf_error_at(
		    c, line,
		    "auth: '%s' needs TLS but the listener has tls = none (AUTH is never "
		    "offered without TLS); set tls to optional, required or implicit, or auth "
		    "= none",
		    listener_auth_name(l->auth));
	else if (l->auth == LISTENER_AUTH_CERTIFICATE && !l->client_ca[0])
		conf_error_at(c, line,
		              "auth: 'certificate' requires client_ca (the PEM CA bundle client "
		              "certificates are checked against)");
}

static void check_listeners(struct parse_ctx *c)
{
	const struct config *cfg = c->cfg;
	if (cfg->n_listeners == 0)
		conf_error_at(c, 0,
		              "[listen NAME]: no listener; add one, e.g. [listen mx] with "
		              "address = *:25");
	for (unsigned i = 0; i < cfg->n_listeners; i++) {
		const struct config_listener *l = &cfg->listeners[i];
		int line = conf_given(&c->listen[i], "address");
		if (!line)
			conf_error_at(c, l->line,
			              "[listen %s] address: required, e.g. address = *:25",
			              l->name);
		check_listener_auth(c, i);
		for (unsigned j = 0; j < i; j++) {
			if (same_address(l, &cfg->listeners[j])) {
				conf_error_at(
				    c, line, "address: %s is already used by [listen %s] (line %d)",
				    l->address_text, cfg->listeners[j].name,
				    conf_given(&c->listen[j], "address"));
				break;
			}
		}
	}
}

/* Reports [tls] KEY missing; OTHER is the other one of certificate and key. */
static void require_default(struct parse_ctx *c, const char *key, const char *other)
{
	const struct config *cfg = c->cfg;
	if (conf_given(&c->tls, key))
		return;
	for (unsigned i = 0; i < cfg->n_listeners; i++) {
		const struct config_listener *l = &cfg->listeners[i];
		if (l->tls != LISTENER_TLS_NONE) {
			conf_error_at(c, c->tls.line,
			              "[tls] %s: required because listener '%s' uses tls = %s", key,
			              l->name, listener_tls_name(l->tls));
			return;
		}
	}
	if (conf_given(&c->tls, other))
		conf_error_at(c, c->tls.line, "[tls] %s: required because %s is given", key, other);
	else if (c->n_sni)
		conf_error_at(
		    c, c->tls.line,
		    "[tls] %s: required because [%s] (line %d) needs a default certificate to "
		    "fall back on",
		    key, c->sni[0].title, c->sni[0].line);
}

static void check_certs(struct parse_ctx *c)
{
	static const char *const both[] = {"certificate", "key"};
	require_default(c, "certificate", "key");
	require_default(c, "key", "certificate");
	for (unsigned i = 0; i < c->n_sni; i++)
		for (size_t j = 0; j < ARRAY_LEN(both); j++)
			if (!conf_given(&c->sni[i], both[j]))
				conf_error_at(c, c->sni[i].line, "[%s] %s: required",
				              c->sni[i].title, both[j]);
	c->cfg->certs[0].line = c->tls.line;
	c->cfg->n_certs = conf_given(&c->tls, "certificate") || c->n_sni ? 1 + c->n_sni : 0;
}

/* A delay_warning written in the file must come before the message is
 * returned; the default one just never fires when max_lifetime is shorter. */
static void check_queue(struct parse_ctx *c)
{
	const struct config *cfg = c->cfg;
	int line = conf_given(&c->queue, "delay_warning");
	if (!line || !cfg->delay_warning || cfg->delay_warning < cfg->max_lifetime)
		return;
	conf_error_at(
	    c, line,
	    "[queue] delay_warning: %us is not shorter than max_lifetime (%us), so no delay "
	    "notice would be sent; shorten it, or write 0 to send none",
	    cfg->delay_warning, cfg->max_lifetime);
}

/* [imap]: APPENDLIMIT defaults to the SMTP message size, and IDLE must end
 * before the idle timeout would (RFC 9051 5.4). */
static void check_imap(struct parse_ctx *c)
{
	struct config *cfg = c->cfg;
	int line = conf_given(&c->imap, "idle_command_timeout");
	if (!conf_given(&c->imap, "append_limit"))
		cfg->imap.append_limit = cfg->limits.message_size;
	if (line && cfg->imap.idle_command_timeout >= cfg->imap.idle_timeout)
		conf_error_at(c, line,
		              "[imap] idle_command_timeout: %us is not shorter than idle_timeout "
		              "(%us); clients restart IDLE before idle_timeout only if it is",
		              cfg->imap.idle_command_timeout, cfg->imap.idle_timeout);
}

/* Runs every check that needs the whole file; see config_parse.h. */
void conf_check_loaded(struct parse_ctx *c)
{
	check_hostname(c);
	check_listeners(c);
	check_certs(c);
	conf_finish_outbound(c);
	check_queue(c);
	check_imap(c);
	c->cfg->dns_trust_anchor_line = conf_given(&c->dns, "trust_anchor");
}

/* Not in conf_check_loaded(): the server reads its configuration again on
 * reload, and says an unreadable anchor itself when its resolver opens it. */
int config_check_files(const struct config *cfg, char **errors_r)
{
	const char *path = cfg->dns_trust_anchor, *problem = NULL;
	struct stat st;
	int fd;

	*errors_r = NULL;
	if (path[0] == '\0')
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0)
		problem = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		problem = "not a regular file";
	if (fd >= 0)
		close(fd);
	if (problem == NULL)
		return 0;
	if (asprintf(errors_r, "%s:%d: [dns] trust_anchor: %s: %s", cfg->path,
	             cfg->dns_trust_anchor_line, path, problem) < 0)
		*errors_r = xstrdup("[dns] trust_anchor: out of memory");
	return -1;
}
