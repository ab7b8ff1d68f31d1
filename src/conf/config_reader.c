/*
 * config_reader.c: parses the text of sealmail.conf (see config.h):
 * config_load_text(), sections, and FILE:LINE messages. config_text.c
 * reads the file and carries the text to the roles.
 *
 * inih splits "key = value" lines. A reader in front of it hands over one
 * physical line per call, so the handler, which inih calls right after the
 * reader returned the line, knows the line number. The reader also does what
 * the Debian build of inih cannot:
 *   - it parses section headers itself and gives inih a blank line instead:
 *     inih cuts section names at 49 octets and never tells the handler where
 *     a section starts or that it is empty;
 *   - it drops leading white space, so an indented line is never taken as a
 *     multi-line continuation of the previous value;
 *   - ';' and '#' start a comment at the start of a line or after white
 *     space (inih itself only knows ';' inline);
 *   - a line longer than inih's 200-octet buffer keeps its value here, and
 *     inih gets "key=" only, instead of cutting the line in pieces;
 *   - every syntax error is reported, inih only returns the first.
 */
#include "conf/config_parse.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

/* Appends formatted text to the error list; remembers a failed allocation. */
__attribute__((format(printf, 2, 0))) static void append_v(struct parse_ctx *c, const char *fmt,
                                                           va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || c->oom)
		return;
	char *p = realloc(c->errors, c->errors_len + (size_t)n + 1);
	if (!p) {
		c->oom = 1;
		return;
	}
	vsnprintf(p + c->errors_len, (size_t)n + 1, fmt, ap);
	c->errors = p;
	c->errors_len += (size_t)n;
}

__attribute__((format(printf, 2, 3))) static void append(struct parse_ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	append_v(c, fmt, ap);
	va_end(ap);
}

/* Starts a new message line: "NAME:LINE: ", or "NAME: " when LINE < 0. */
static void begin_error(struct parse_ctx *c, int line)
{
	if (c->n_errors++)
		append(c, "\n");
	if (line < 0)
		append(c, "%s: ", c->name);
	else
		append(c, "%s:%d: ", c->name, line);
}

/* Reports "NAME:LINE: message". */
__attribute__((format(printf, 3, 4))) void conf_error_at(struct parse_ctx *c, int line,
                                                         const char *fmt, ...)
{
	va_list ap;
	begin_error(c, line);
	va_start(ap, fmt);
	append_v(c, fmt, ap);
	va_end(ap);
}

/* Reports "NAME:LINE: KEY: message" for the key being set. */
__attribute__((format(printf, 2, 3))) void conf_key_error(struct parse_ctx *c, const char *fmt, ...)
{
	va_list ap;
	begin_error(c, c->line);
	append(c, "%s: ", c->key);
	va_start(ap, fmt);
	append_v(c, fmt, ap);
	va_end(ap);
}

/* Reports "NAME:LINE: [TITLE]: message" for the section header on this line. */
__attribute__((format(printf, 3, 4))) static void
section_error(struct parse_ctx *c, const char *title, const char *fmt, ...)
{
	va_list ap;
	begin_error(c, c->line);
	append(c, "[%s]: ", title);
	va_start(ap, fmt);
	append_v(c, fmt, ap);
	va_end(ap);
}

static char *ltrim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	return s;
}

static char *rtrim(char *s)
{
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

static const char *const section_names[] = {
    [SEC_SERVER] = "[server]",
    [SEC_TLS] = "[tls]",
    [SEC_SNI] = "[tls NAME]",
    [SEC_LIMITS] = "[limits]",
    [SEC_LISTEN] = "[listen NAME]",
    [SEC_SUBMISSION] = "[submission]",
    [SEC_DNS] = "[dns]",
    [SEC_OUTBOUND] = "[outbound]",
    [SEC_OUTBOUND_DOMAINS] = "[outbound.domains]",
    [SEC_ROUTES] = "[routes]",
    [SEC_QUEUE] = "[queue]",
    [SEC_IMAP] = "[imap]",
    [SEC_METRICS] = "[metrics]",
};

#define ALL_SECTIONS                                                                               \
	"[server], [tls], [tls NAME], [limits], [listen NAME], [submission], [dns], [outbound], "  \
	"[outbound.domains], [routes], [queue], [imap] or [metrics]"

/* The sections written without a name, at most once, and where their
 * struct section is in struct parse_ctx. [tls] is one too, but shares its
 * word with [tls NAME]. */
static const struct {
	const char *word;
	enum section_kind kind;
	size_t offset;
} single_sections[] = {
    {"server", SEC_SERVER, offsetof(struct parse_ctx, server)},
    {"limits", SEC_LIMITS, offsetof(struct parse_ctx, limits)},
    {"submission", SEC_SUBMISSION, offsetof(struct parse_ctx, submission)},
    {"dns", SEC_DNS, offsetof(struct parse_ctx, dns)},
    {"outbound", SEC_OUTBOUND, offsetof(struct parse_ctx, outbound)},
    {"outbound.domains", SEC_OUTBOUND_DOMAINS, offsetof(struct parse_ctx, outbound_domains)},
    {"routes", SEC_ROUTES, offsetof(struct parse_ctx, routes)},
    {"queue", SEC_QUEUE, offsetof(struct parse_ctx, queue)},
    {"imap", SEC_IMAP, offsetof(struct parse_ctx, imap)},
    {"metrics", SEC_METRICS, offsetof(struct parse_ctx, metrics)},
};

/* The struct section of single_sections[I] in C. */
static struct section *single_section(struct parse_ctx *c, size_t i)
{
	return (struct section *)((char *)c + single_sections[i].offset);
}

/* Makes SEC, of KIND and written as TITLE, the one the next keys go to. */
static void enter(struct parse_ctx *c, struct section *sec, enum section_kind kind,
                  const char *title)
{
	sec->kind = kind;
	sec->line = c->line;
	snprintf(sec->title, sizeof sec->title, "%s", title);
	c->cur = sec;
	c->skipping = 0;
}

/* A section of single_sections[], or [tls]: no name, once. */
static void begin_single(struct parse_ctx *c, struct section *sec, enum section_kind kind,
                         const char *title, const char *arg)
{
	if (*arg)
		section_error(c, title, "%s takes no name", section_names[kind]);
	else if (sec->line)
		section_error(c, title, "section given twice (first at line %d); merge them",
		              sec->line);
	else
		enter(c, sec, kind, title);
}

/* [tls NAME]: a certificate chosen by SNI. */
static void begin_sni(struct parse_ctx *c, const char *title, const char *arg)
{
	char name[sizeof c->cfg->certs[0].name] = {0}; /* copied whole: no stray bytes */
	const char *problem = "it is longer than 253 characters";
	if (strlen(arg) < sizeof name) {
		snprintf(name, sizeof name, "%s", arg);
		conf_lower(name);
		problem = conf_domain_problem(strncmp(name, "*.", 2) == 0 ? name + 2 : name);
	}
	if (problem) {
		section_error(c, title, "'%s' is not a valid host name: %s", arg, problem);
		return;
	}
	for (unsigned i = 0; i < c->n_sni; i++) {
		if (strcmp(c->cfg->certs[c->sni[i].index].name, name) == 0) {
			section_error(c, title, "a certificate for '%s' was given at line %d", name,
			              c->sni[i].line);
			return;
		}
	}
	if (c->n_sni == ARRAY_LEN(c->sni)) {
		section_error(c, title, "too many [tls NAME] sections (at most %zu)",
		              ARRAY_LEN(c->sni));
		return;
	}
	struct section *sec = &c->sni[c->n_sni];
	sec->index = 1 + c->n_sni++;
	struct config_cert *cert = &c->cfg->certs[sec->index];
	memcpy(cert->name, name, sizeof name);
	cert->line = c->line;
	enter(c, sec, SEC_SNI, title);
}

/* [listen NAME]: one more listener, with the defaults. */
static void begin_listener(struct parse_ctx *c, const char *title, const char *arg)
{
	struct config *cfg = c->cfg;
	if (!*arg) {
		section_error(c, title, "a name is required, e.g. [listen mx]");
		return;
	}
	if (!conf_valid_word(arg)) {
		section_error(c, title,
		              "'%s' is not a valid listener name: use up to 63 letters, digits, "
		              "'.', '-' or '_', not starting with '-'",
		              arg);
		return;
	}
	for (unsigned i = 0; i < cfg->n_listeners; i++) {
		if (strcmp(cfg->listeners[i].name, arg) == 0) {
			section_error(c, title, "listener '%s' was already defined at line %d", arg,
			              cfg->listeners[i].line);
			return;
		}
	}
	if (cfg->n_listeners == CONFIG_MAX_LISTENERS) {
		section_error(c, title, "too many listeners (at most %d)", CONFIG_MAX_LISTENERS);
		return;
	}
	struct config_listener *l = &cfg->listeners[cfg->n_listeners];
	memset(l, 0, sizeof *l);
	snprintf(l->name, sizeof l->name, "%s", arg);
	l->protocol = LISTENER_SMTP;
	l->tls = LISTENER_TLS_OPTIONAL;
	l->line = c->line;
	c->listen[cfg->n_listeners].index = cfg->n_listeners;
	enter(c, &c->listen[cfg->n_listeners++], SEC_LISTEN, title);
}

/* Opens the section whose header reads TITLE (between the brackets, trimmed). */
static void begin_section(struct parse_ctx *c, char *title)
{
	size_t n = strcspn(title, " \t");
	const char *arg = ltrim(title + n);
	for (size_t i = 0; i < ARRAY_LEN(single_sections); i++) {
		if (strlen(single_sections[i].word) == n &&
		    strncmp(title, single_sections[i].word, n) == 0) {
			begin_single(c, single_section(c, i), single_sections[i].kind, title, arg);
			return;
		}
	}
	if (n == 3 && strncmp(title, "tls", n) == 0 && !*arg)
		begin_single(c, &c->tls, SEC_TLS, title, arg);
	else if (n == 3 && strncmp(title, "tls", n) == 0)
		begin_sni(c, title, arg);
	else if (n == 6 && strncmp(title, "listen", n) == 0)
		begin_listener(c, title, arg);
	else
		section_error(c, title, "unknown section; expected " ALL_SECTIONS);
}

/* Handles the header line S (starting with '['). Keys up to the next header
 * are skipped when it is bad. */
static void section_line(struct parse_ctx *c, char *s)
{
	char *close = strchr(s, ']');
	c->cur = NULL;
	c->skipping = 1;
	if (!close) {
		conf_error_at(c, c->line, "'%.60s': a section header must end with ']'", s);
		return;
	}
	*close = '\0';
	char *title = rtrim(ltrim(s + 1));
	if (close[1])
		section_error(c, title, "unexpected text '%.60s' after ']'", ltrim(close + 1));
	begin_section(c, title);
}

/* Makes room for N octets in c->raw; 0 when out of memory. */
static int reserve_raw(struct parse_ctx *c, size_t n)
{
	if (n <= c->raw_size)
		return 1;
	char *p = realloc(c->raw, n);
	if (!p) {
		c->oom = 1;
		return 0;
	}
	c->raw = p;
	c->raw_size = n;
	return 1;
}

/* Reads the next physical line into c->raw, without its end; returns its
 * length, or -1 at the end of the input. A NUL octet stays in the line, for
 * clean_line() to report. */
static long read_raw(struct parse_ctx *c)
{
	size_t left = (size_t)(c->end - c->text);
	if (left == 0)
		return -1;
	const char *nl = memchr(c->text, '\n', left);
	size_t n = nl ? (size_t)(nl - c->text) : left;
	if (!reserve_raw(c, n + 1))
		return -1;
	memcpy(c->raw, c->text, n);
	c->raw[n] = '\0';
	c->text += n + (nl != NULL);
	return (long)n;
}

/* Cuts a comment (';' or '#' at the start or after white space) off S. */
static void cut_comment(char *s)
{
	for (char *p = s; *p; p++) {
		if ((*p == ';' || *p == '#') && (p == s || isspace((unsigned char)p[-1]))) {
			*p = '\0';
			return;
		}
	}
}

/* The current line (of LEN octets) without BOM, comment and outer white
 * space. */
static char *clean_line(struct parse_ctx *c, size_t len)
{
	char *s = c->raw;
	if (strlen(s) != len) {
		conf_error_at(c, c->line, "the line contains a NUL octet");
		s[0] = '\0';
	}
	if (c->line == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;
	s = ltrim(s);
	cut_comment(s);
	return rtrim(s);
}

/* Puts the "key = value" line S into inih's buffer STR of NUM octets; when it
 * does not fit, puts only "key=" and keeps the value in c->long_value. */
static void key_line(struct parse_ctx *c, char *s, char *str, size_t num)
{
	char *sep = s + strcspn(s, "=:");
	if (!*sep) {
		conf_error_at(c, c->line,
		              "'%.60s': expected 'key = value', a [section] or a comment", s);
		return;
	}
	if (sep == s) {
		conf_error_at(c, c->line, "'%.60s': the key name is missing before '%c'", s, *sep);
		return;
	}
	size_t len = strlen(s);
	if (len + 2 <= num) {
		snprintf(str, num, "%s\n", s);
		return;
	}
	*sep = '\0';
	rtrim(s);
	if (strlen(s) + 3 > num) {
		conf_error_at(c, c->line, "'%.60s...': the key name is too long", s);
		return;
	}
	c->long_value = ltrim(sep + 1);
	snprintf(str, num, "%s=\n", s);
}

/* inih's reader: one physical line per call, prepared as explained on top. */
static char *read_line(char *str, int num, void *stream)
{
	struct parse_ctx *c = stream;
	c->long_value = NULL;
	long len = read_raw(c);
	if (len < 0 || num < 3)
		return NULL;
	c->line++;
	char *s = clean_line(c, (size_t)len);
	snprintf(str, (size_t)num, "\n");
	if (*s == '[')
		section_line(c, s);
	else if (*s)
		key_line(c, s, str, (size_t)num);
	return str;
}

static void unknown_key(struct parse_ctx *c)
{
	begin_error(c, c->line);
	append(c, "%s: unknown key; [%s] accepts", c->key, c->cur->title);
	const char *sep = " ";
	for (size_t i = 0; i < CONF_N_KEYS; i++) {
		if (conf_keys[i].section == c->cur->kind) {
			append(c, "%s%s", sep, conf_keys[i].name);
			sep = ", ";
		}
	}
}

/* inih's handler, for the line the reader just returned. */
static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *c = user;
	(void)section; /* the reader keeps track of sections */
	c->key = name;
	if (c->long_value)
		value = c->long_value;
	if (!c->cur) {
		if (!c->skipping)
			conf_key_error(c, "not in a section; keys go under " ALL_SECTIONS);
		return 1;
	}
	if (conf_entry_handlers[c->cur->kind]) {
		if (!*value)
			conf_key_error(c, "no value given");
		else
			conf_entry_handlers[c->cur->kind](c, name, value);
		return 1;
	}
	const struct key_def *k = conf_find_key(c->cur->kind, name);
	if (!k) {
		unknown_key(c);
		return 1;
	}
	int *seen = &c->cur->key_line[k - conf_keys];
	if (*seen) {
		conf_key_error(c, "given twice in [%s] (first at line %d)", c->cur->title, *seen);
		return 1;
	}
	*seen = c->line;
	if (!*value)
		conf_key_error(c, "no value given");
	else
		k->set(c, k, value);
	return 1;
}

/* Turns the parse's outcome into config_load_text()'s: *errors_r gets the
 * messages, or "out of memory" when an allocation failed on the way. */
static int finish(struct parse_ctx *c, int out_of_memory, char **errors_r)
{
	free(c->raw);
	if (c->oom || out_of_memory) {
		free(c->errors);
		c->errors = strdup("out of memory");
		c->n_errors = 1;
	}
	if (errors_r)
		*errors_r = c->n_errors ? c->errors : NULL;
	if (!errors_r || !c->n_errors)
		free(c->errors);
	return c->n_errors ? -1 : 0;
}

int config_load_text(struct config *cfg, const char *name, const char *text, size_t len,
                     char **errors_r)
{
	struct parse_ctx c = {.cfg = cfg, .name = name, .text = text, .end = text + len};
	config_defaults(cfg);
	for (size_t i = 0; i < ARRAY_LEN(single_sections); i++)
		single_section(&c, i)->kind = single_sections[i].kind;
	c.tls.kind = SEC_TLS;
	snprintf(c.tls.title, sizeof c.tls.title, "tls");
	snprintf(cfg->path, sizeof cfg->path, "%s", name);
	int ret = ini_parse_stream(read_line, &c, on_key, &c);
	if (ret > 0 && c.n_errors == 0)
		conf_error_at(&c, ret, "syntax error");
	if (!c.oom && ret != -2)
		conf_check_loaded(&c);
	return finish(&c, ret == -2, errors_r);
}

int config_load_string(struct config *cfg, const char *name, const char *text, char **errors_r)
{
	return config_load_text(cfg, name, text, strlen(text), errors_r);
}
