/*
 * smtp_parse.c: the pure SMTP parsers declared in smtp_parse.h.
 *
 * No I/O, no global state, no locale: character classes are plain ASCII.
 * Only smtp_line_reader_init() allocates. Every error is a return value plus
 * a static string fit for the text of an SMTP reply.
 */
#include "smtp/smtp_parse.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ERR_CMD_UNRECOGNIZED "Syntax error, command unrecognized"
#define ERR_CMD_CTL "Syntax error: control characters are not allowed"
#define ERR_CMD_NUL "Syntax error: NUL bytes are not allowed"
#define ERR_MAIL_FROM "Syntax error: expected MAIL FROM:<address>"
#define ERR_RCPT_TO "Syntax error: expected RCPT TO:<address>"
#define ERR_BRACKETS "Syntax error: path must be enclosed in <>"
#define ERR_NULL_PATH "Null path is not allowed here"
#define ERR_SOURCE_ROUTE "Source routes are not accepted"
#define ERR_PERCENT "'%' in the local part is not accepted"
#define ERR_BANG "'!' in the local part is not accepted"
#define ERR_8BIT "Non-ASCII addresses are not accepted"
#define ERR_UTF8 "Invalid UTF-8 or a control character in the address"
#define ERR_NO_DOMAIN "Syntax error: address must have a domain"
#define ERR_LOCAL "Syntax error in local part"
#define ERR_QUOTED "Syntax error in quoted local part"
#define ERR_LOCAL_LONG "Local part too long"
#define ERR_DOMAIN "Syntax error in domain"
#define ERR_DOMAIN_LONG "Domain too long"
#define ERR_LITERAL "Invalid address literal"
#define ERR_ADDRESS "Syntax error in address"
#define ERR_PATH_LONG "Path too long"
#define ERR_PARAMS "Syntax error in parameters"
#define ERR_PARAMS_MANY "Too many parameters"
#define ERR_KEYWORD_LONG "Parameter keyword too long"
#define ERR_VALUE_LONG "Parameter value too long"

#define DNS_LABEL_MAX 63 /* RFC 1035 2.3.4 */

/* ---- ASCII helpers ----------------------------------------------------- */

/* 1 if C is an ASCII letter. */
static int is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int is_let_dig(unsigned char c)
{
	return is_alpha(c) || is_digit(c);
}

/* 1 for the control characters of RFC 5234 CTL (0x00-0x1f, 0x7f). */
static int is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

static char to_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : (char)c;
}

static char to_upper(unsigned char c)
{
	return (c >= 'a' && c <= 'z') ? (char)(c - ('a' - 'A')) : (char)c;
}

/* 1 if C is atext (RFC 5322 3.2.3), which RFC 5321 4.1.2 Atom is made of. */
static int is_atext(unsigned char c)
{
	return is_let_dig(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* The length of the valid UTF-8 character at S[0..N) when it is not
 * ASCII (RFC 6531 3.3 UTF8-non-ascii); 0 for ASCII or invalid UTF-8. */
static size_t utf8_at(const char *s, size_t n)
{
	return (unsigned char)s[0] < 0x80 ? 0 : smtp_utf8_char_len(s, n);
}

/* ASCII-only case-insensitive comparison of N bytes; S may be shorter. */
static int ascii_prefix_eq(const char *s, const char *prefix, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\0' ||
		    to_lower((unsigned char)s[i]) != to_lower((unsigned char)prefix[i]))
			return 0;
	}
	return 1;
}

/* ---- lines ------------------------------------------------------------- */

/* Allocates the MAX + 1 byte buffer (room for the NUL); aborts on OOM. */
void smtp_line_reader_init(struct smtp_line_reader *r, size_t max)
{
	if (max == SIZE_MAX)
		abort();
	r->buf = malloc(max + 1);
	if (r->buf == NULL)
		abort();
	r->max = max;
	smtp_line_reader_reset(r);
}

void smtp_line_reader_free(struct smtp_line_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->max = 0;
	smtp_line_reader_reset(r);
}

/* Forgets any partial line, over-long state and pending CR. */
void smtp_line_reader_reset(struct smtp_line_reader *r)
{
	r->len = 0;
	r->overflow = 0;
	r->saw_cr = 0;
}

/* Appends C to the line, or starts discarding once the line incl. CRLF
 * would exceed max; the buffer never holds more than max - 2 bytes. */
static void line_append(struct smtp_line_reader *r, char c)
{
	if (r->overflow)
		return;
	if (r->len + 3 > r->max) {
		r->overflow = 1;
		r->len = 0;
		return;
	}
	r->buf[r->len++] = c;
}

/* Ends the line at a CRLF: OK with the NUL-terminated line, or TOO_LONG. */
static enum smtp_line_status line_finish(struct smtp_line_reader *r, const char **line_r,
                                         size_t *len_r)
{
	int too_long = r->overflow || r->len + 2 > r->max;
	size_t len = r->len;

	smtp_line_reader_reset(r);
	if (too_long)
		return SMTP_LINE_TOO_LONG;
	r->buf[len] = '\0';
	*line_r = r->buf;
	*len_r = len;
	return SMTP_LINE_OK;
}

/* Splits IN into lines; only CRLF ends one (RFC 5321 2.3.8), a bare CR or
 * LF is an error and drops the partial line. */
enum smtp_line_status smtp_line_feed(struct smtp_line_reader *r, const char *in, size_t len,
                                     size_t *consumed_r, const char **line_r, size_t *len_r)
{
	*line_r = "";
	*len_r = 0;
	for (size_t i = 0; i < len; i++) {
		if (r->saw_cr) {
			if (in[i] == '\n') {
				*consumed_r = i + 1;
				return line_finish(r, line_r, len_r);
			}
			/* The CR was bare; IN[i] is the next byte to look at. */
			smtp_line_reader_reset(r);
			*consumed_r = i;
			return SMTP_LINE_BARE_CR;
		}
		if (in[i] == '\r') {
			r->saw_cr = 1;
		} else if (in[i] == '\n') {
			smtp_line_reader_reset(r);
			*consumed_r = i + 1;
			return SMTP_LINE_BARE_LF;
		} else {
			line_append(r, in[i]);
		}
	}
	*consumed_r = len;
	return SMTP_LINE_NEED_MORE;
}

/* ---- commands ---------------------------------------------------------- */

static const struct {
	const char *name;
	enum smtp_verb verb;
} smtp_verbs[] = {
    {"HELO", SMTP_VERB_HELO},         {"EHLO", SMTP_VERB_EHLO}, {"MAIL", SMTP_VERB_MAIL},
    {"RCPT", SMTP_VERB_RCPT},         {"DATA", SMTP_VERB_DATA}, {"RSET", SMTP_VERB_RSET},
    {"NOOP", SMTP_VERB_NOOP},         {"QUIT", SMTP_VERB_QUIT}, {"VRFY", SMTP_VERB_VRFY},
    {"EXPN", SMTP_VERB_EXPN},         {"HELP", SMTP_VERB_HELP}, {"AUTH", SMTP_VERB_AUTH},
    {"STARTTLS", SMTP_VERB_STARTTLS}, {"BDAT", SMTP_VERB_BDAT},
};

/* Maps an upper-cased verb to its enum; SMTP_VERB_UNKNOWN if none. */
static enum smtp_verb verb_lookup(const char *text)
{
	for (size_t i = 0; i < sizeof(smtp_verbs) / sizeof(smtp_verbs[0]); i++) {
		if (strcmp(text, smtp_verbs[i].name) == 0)
			return smtp_verbs[i].verb;
	}
	return SMTP_VERB_UNKNOWN;
}

/* Requires ARG to start with PREFIX ("FROM:"/"TO:", any case, no space
 * before the colon) and moves arg past it and any spaces after it. */
static int command_path_arg(struct smtp_command *cmd, const char *prefix, const char *error,
                            const char **error_r)
{
	size_t n = strlen(prefix);

	if (!ascii_prefix_eq(cmd->arg, prefix, n)) {
		cmd->arg = "";
		*error_r = error;
		return -1;
	}
	cmd->arg += n;
	while (*cmd->arg == ' ')
		cmd->arg++;
	return 0;
}

/* Reads the verb (1 to 15 letters, RFC 5321 4.1.1) into cmd->verb_text and
 * returns its length, or 0 if the line does not start with one. */
static size_t command_verb(const char *line, size_t len, struct smtp_command *cmd)
{
	size_t n = 0;

	while (n < len && line[n] != ' ') {
		if (!is_alpha((unsigned char)line[n]) || n + 1 >= sizeof(cmd->verb_text)) {
			cmd->verb_text[0] = '\0';
			return 0;
		}
		cmd->verb_text[n] = to_upper((unsigned char)line[n]);
		n++;
	}
	cmd->verb_text[n] = '\0';
	return n;
}

/* Splits a command line (RFC 5321 4.1.1) into verb and argument; refuses
 * NUL and other control characters, which 4.1.1.4 does not allow. */
int smtp_command_parse_len(const char *line, size_t len, struct smtp_command *cmd,
                           const char **error_r)
{
	size_t n;

	memset(cmd, 0, sizeof(*cmd));
	cmd->arg = "";
	for (size_t i = 0; i < len; i++) {
		if (is_ctl((unsigned char)line[i])) {
			*error_r = line[i] == '\0' ? ERR_CMD_NUL : ERR_CMD_CTL;
			return -1;
		}
	}
	n = command_verb(line, len, cmd);
	if (n == 0) {
		*error_r = ERR_CMD_UNRECOGNIZED;
		return -1;
	}
	while (n < len && line[n] == ' ')
		n++;
	cmd->arg = line + n;
	cmd->verb = verb_lookup(cmd->verb_text);
	if (cmd->verb == SMTP_VERB_MAIL)
		return command_path_arg(cmd, "FROM:", ERR_MAIL_FROM, error_r);
	if (cmd->verb == SMTP_VERB_RCPT)
		return command_path_arg(cmd, "TO:", ERR_RCPT_TO, error_r);
	return 0;
}

int smtp_command_parse(const char *line, struct smtp_command *cmd, const char **error_r)
{
	return smtp_command_parse_len(line, strlen(line), cmd, error_r);
}

/* ---- domains ----------------------------------------------------------- */

/* 1 if S[0..N) is an RFC 5321 4.1.2 sub-domain: Let-dig [Ldh-str], and at
 * most 63 octets (RFC 1035 2.3.4). With UTF8, a U-label's non-ASCII
 * characters count as letters (RFC 6531 3.3 sub-domain =/ U-label; no IDNA
 * check: its octets, not its A-label form, are bounded by 63). */
static int label_valid(const char *s, size_t n, int utf8)
{
	if (n == 0 || n > DNS_LABEL_MAX || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		size_t u = utf8 ? utf8_at(s + i, n - i) : 0;

		if (u > 0)
			i += u - 1;
		else if (!is_let_dig((unsigned char)s[i]) && s[i] != '-')
			return 0;
	}
	return 1;
}

/* NULL if S[0..N) is an RFC 5321 4.1.2 Domain: sub-domain *("." sub-domain). */
static const char *hostname_check(const char *s, size_t n, int utf8)
{
	size_t start = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		if (!label_valid(s + start, i - start, utf8))
			return ERR_DOMAIN;
		start = i + 1;
	}
	return NULL;
}

/* NULL if S[0..N) is "[IPv4]" or "[IPv6:addr]" (RFC 5321 4.1.3); general
 * (tagged) address literals are refused. */
static const char *literal_check(const char *s, size_t n)
{
	char text[INET6_ADDRSTRLEN + 1];
	unsigned char addr[sizeof(struct in6_addr)];
	int family = AF_INET;

	if (n < 3 || s[0] != '[' || s[n - 1] != ']')
		return ERR_LITERAL;
	s++;
	n -= 2;
	if (n >= 5 && ascii_prefix_eq(s, "IPv6:", 5)) {
		family = AF_INET6;
		s += 5;
		n -= 5;
	}
	if (n >= sizeof(text) || memchr(s, '\0', n) != NULL)
		return ERR_LITERAL;
	memcpy(text, s, n);
	text[n] = '\0';
	if (inet_pton(family, text, addr) != 1)
		return ERR_LITERAL;
	return NULL;
}

/* NULL if S[0..N) is a Domain or address-literal, else why not. Non-ASCII
 * octets need UTF8 (SMTPUTF8, RFC 6531) and then valid UTF-8. */
static const char *domain_check(const char *s, size_t n, int utf8)
{
	if (n == 0)
		return ERR_DOMAIN;
	if (n > SMTP_DOMAIN_MAX)
		return ERR_DOMAIN_LONG; /* RFC 5321 4.5.3.1.2 */
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] >= 0x80 && !utf8)
			return ERR_8BIT;
	}
	if (s[0] == '[')
		return literal_check(s, n);
	return hostname_check(s, n, utf8);
}

/* 1 if S is a Domain or address-literal (RFC 5321 4.1.2). */
int smtp_domain_valid(const char *s)
{
	return domain_check(s, strlen(s), 0) == NULL;
}

/* 1 if S is a Domain, address-literal or (RFC 6531 3.3) a domain of
 * U-labels. */
int smtp_domain_valid_utf8(const char *s)
{
	return domain_check(s, strlen(s), 1) == NULL;
}

/* Stores the valid domain S[0..N) lower-cased into OUT, with an IPv6
 * literal's tag spelt "IPv6:". */
static void domain_store(char *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = to_lower((unsigned char)s[i]);
	out[n] = '\0';
	if (strncmp(out, "[ipv6:", 6) == 0)
		memcpy(out + 1, "IPv6", 4);
}

/* ---- local parts ------------------------------------------------------- */

/* 1 if S[0..N) is a Dot-string: Atom *("." Atom) (RFC 5321 4.1.2), where
 * valid UTF-8 counts as atext (RFC 6531 3.3); the parser refuses it
 * before this without SMTPUTF8. */
static int dot_string_valid(const char *s, size_t n)
{
	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		size_t u = utf8_at(s + i, n - i);

		if (u > 0)
			i += u - 1;
		else if (s[i] == '.' ? s[i + 1] == '.' : !is_atext((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

/* Parses an unquoted local part at *PP up to the '@'; refuses the '%' and
 * '!' relaying forms. Local part length per RFC 5321 4.5.3.1.1. */
static int parse_dot_string(const char **pp, struct smtp_path *path, int utf8,
                            const char **error_r)
{
	const char *s = *pp;
	size_t n, len = strlen(s);

	for (n = 0; s[n] != '@' && s[n] != '>' && s[n] != ' ' && s[n] != '\0'; n++) {
		unsigned char c = (unsigned char)s[n];
		size_t u = utf8 ? utf8_at(s + n, len - n) : 0;

		if (u > 0) {
			n += u - 1;
			path->utf8 = 1;
			continue;
		}
		if (c >= 0x80)
			*error_r = utf8 ? ERR_UTF8 : ERR_8BIT;
		else if (c == '%')
			*error_r = ERR_PERCENT;
		else if (c == '!')
			*error_r = ERR_BANG;
		else if (c != '.' && !is_atext(c))
			*error_r = ERR_LOCAL;
		else
			continue;
		return -1;
	}
	if (n > SMTP_LOCAL_PART_MAX) {
		*error_r = ERR_LOCAL_LONG;
		return -1;
	}
	if (!dot_string_valid(s, n)) {
		*error_r = ERR_LOCAL;
		return -1;
	}
	memcpy(path->local, s, n);
	path->local[n] = '\0';
	*pp = s + n;
	return 0;
}

/* Parses a Quoted-string local part at *PP (RFC 5321 4.1.2: qtextSMTP and
 * quoted-pairSMTP) and stores it unquoted. The 64-octet limit applies to the
 * quoted form as sent. */
static int parse_quoted(const char **pp, struct smtp_path *path, int utf8,
                        const char **error_r)
{
	const char *s = *pp + 1;
	size_t i, out = 0;

	for (i = 0; s[i] != '"'; i++) {
		unsigned char c = (unsigned char)s[i];
		size_t u;

		if (i + 3 > SMTP_LOCAL_PART_MAX) { /* '"' + i + 1 octets + '"' */
			*error_r = c == '\0' ? ERR_QUOTED : ERR_LOCAL_LONG;
			return -1;
		}
		u = utf8 ? utf8_at(s + i, strlen(s + i)) : 0;
		if (u > 0) { /* RFC 6531 3.3 qtextSMTP =/ UTF8-non-ascii */
			if (i + u + 2 > SMTP_LOCAL_PART_MAX) {
				*error_r = ERR_LOCAL_LONG;
				return -1;
			}
			memcpy(path->local + out, s + i, u);
			out += u;
			i += u - 1;
			path->utf8 = 1;
			continue;
		}
		if (c == '\\')
			c = (unsigned char)s[++i];
		if (c >= 0x80 || c < 0x20 || c == 0x7f) {
			*error_r = c < 0x80 ? ERR_QUOTED : utf8 ? ERR_UTF8 : ERR_8BIT;
			return -1;
		}
		path->local[out++] = (char)c;
	}
	if (i + 2 > SMTP_LOCAL_PART_MAX) {
		*error_r = ERR_LOCAL_LONG;
		return -1;
	}
	path->local[out] = '\0';
	path->quoted = 1;
	*pp = s + i + 1;
	return 0;
}

/* ---- paths ------------------------------------------------------------- */

/* 1 if P starts with "postmaster>" in any case (RFC 5321 4.1.1.3). */
static int is_postmaster(const char *p)
{
	return ascii_prefix_eq(p, "postmaster", 10) && p[10] == '>';
}

/* Parses the domain after the '@' at *PP, up to the closing '>'. */
static int parse_domain(const char **pp, struct smtp_path *path, int utf8,
                        const char **error_r)
{
	const char *s = *pp;
	size_t n = strcspn(s, "> ");
	const char *error = domain_check(s, n, utf8);

	if (error != NULL) {
		*error_r = utf8 && !smtp_utf8_valid(s, n) ? ERR_UTF8 : error;
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			path->utf8 = 1;
	domain_store(path->domain, s, n);
	*pp = s + n;
	return 0;
}

/* Parses Mailbox (RFC 5321 4.1.2) at *PP, up to but excluding the '>'. */
static int parse_mailbox(const char **pp, struct smtp_path *path, int utf8, const char **error_r)
{
	const char *p = *pp;
	int ret;

	ret = *p == '"' ? parse_quoted(&p, path, utf8, error_r)
	                : parse_dot_string(&p, path, utf8, error_r);
	if (ret < 0)
		return -1;
	if (*p != '@') {
		*error_r = *p == '>' ? ERR_NO_DOMAIN : *p == '\0' ? ERR_BRACKETS : ERR_ADDRESS;
		return -1;
	}
	p++;
	if (parse_domain(&p, path, utf8, error_r) < 0)
		return -1;
	*pp = p;
	return 0;
}

/* Parses "<...>" at *PP: the null path, <postmaster> or a Mailbox; source
 * routes (RFC 5321 4.1.2 A-d-l, deprecated by C.6) are refused. */
static int parse_path(const char **pp, unsigned flags, struct smtp_path *path,
                      const char **error_r)
{
	const char *p = *pp;
	int allow_null = (flags & SMTP_PATH_NULL) != 0;
	int allow_postmaster = (flags & SMTP_PATH_POSTMASTER) != 0;

	if (*p++ != '<' || *p == '\0') {
		*error_r = ERR_BRACKETS;
		return -1;
	}
	if (*p == '@') {
		*error_r = ERR_SOURCE_ROUTE;
		return -1;
	}
	if (*p == '>') {
		if (!allow_null) {
			*error_r = ERR_NULL_PATH;
			return -1;
		}
		path->null = 1;
	} else if (is_postmaster(p)) {
		if (!allow_postmaster) {
			*error_r = ERR_NO_DOMAIN;
			return -1;
		}
		strcpy(path->local, "postmaster");
		p += 10;
	} else if (parse_mailbox(&p, path, (flags & SMTP_PATH_UTF8) != 0, error_r) < 0) {
		return -1;
	}
	if (*p != '>') {
		*error_r = *p == '\0' ? ERR_BRACKETS : ERR_ADDRESS;
		return -1;
	}
	*pp = p + 1;
	return 0;
}

/* ---- parameters -------------------------------------------------------- */

/* 1 if C may appear in an esmtp-value: %d33-60 / %d62-126 (RFC 5321 4.1.2). */
static int is_esmtp_value(unsigned char c)
{
	return c >= 33 && c <= 126 && c != '=';
}

/* Reads esmtp-keyword at *PP into PARAM->keyword, upper-cased. */
static int parse_keyword(const char **pp, struct smtp_param *param, const char **error_r)
{
	const char *s = *pp;
	size_t n = 0;

	if (!is_let_dig((unsigned char)s[0])) {
		*error_r = ERR_PARAMS;
		return -1;
	}
	while (is_let_dig((unsigned char)s[n]) || s[n] == '-')
		n++;
	if (n >= sizeof(param->keyword)) {
		*error_r = ERR_KEYWORD_LONG;
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		param->keyword[i] = to_upper((unsigned char)s[i]);
	param->keyword[n] = '\0';
	*pp = s + n;
	return 0;
}

/* Reads "=" esmtp-value at *PP, if present, into PARAM->value. */
static int parse_value(const char **pp, struct smtp_param *param, const char **error_r)
{
	const char *s = *pp;
	size_t n = 0;

	if (*s != '=')
		return 0;
	s++;
	while (s[n] != ' ' && s[n] != '\0') {
		if (!is_esmtp_value((unsigned char)s[n])) {
			*error_r = ERR_PARAMS;
			return -1;
		}
		n++;
	}
	if (n == 0 || n >= sizeof(param->value)) {
		*error_r = n == 0 ? ERR_PARAMS : ERR_VALUE_LONG;
		return -1;
	}
	memcpy(param->value, s, n);
	param->value[n] = '\0';
	param->has_value = 1;
	*pp = s + n;
	return 0;
}

/* Parses one esmtp-param: esmtp-keyword ["=" esmtp-value]. */
static int parse_param(const char **pp, struct smtp_param *param, const char **error_r)
{
	memset(param, 0, sizeof(*param));
	if (parse_keyword(pp, param, error_r) < 0 || parse_value(pp, param, error_r) < 0)
		return -1;
	if (**pp != ' ' && **pp != '\0') {
		*error_r = ERR_PARAMS;
		return -1;
	}
	return 0;
}

/* Parses Mail-parameters / Rcpt-parameters: SP-separated esmtp-params
 * (extra and trailing spaces tolerated). */
static int parse_params(const char *p, struct smtp_param *params, unsigned *n_params_r,
                        const char **error_r)
{
	while (*p != '\0') {
		if (*p != ' ') {
			*error_r = ERR_PARAMS;
			return -1;
		}
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		if (*n_params_r == SMTP_MAX_PARAMS) {
			*error_r = ERR_PARAMS_MANY;
			return -1;
		}
		if (parse_param(&p, &params[*n_params_r], error_r) < 0)
			return -1;
		(*n_params_r)++;
	}
	return 0;
}

/* Parses "<path> params"; on error *path is all zero and *n_params_r 0. */
int smtp_path_parse_flags(const char *arg, unsigned flags, struct smtp_path *path,
                          struct smtp_param *params, unsigned *n_params_r, const char **error_r)
{
	const char *p = arg;

	memset(path, 0, sizeof(*path));
	*n_params_r = 0;
	if (parse_path(&p, flags, path, error_r) < 0)
		goto fail;
	if ((size_t)(p - arg) > SMTP_PATH_MAX) {
		*error_r = ERR_PATH_LONG; /* RFC 5321 4.5.3.1.3 */
		goto fail;
	}
	if (parse_params(p, params, n_params_r, error_r) < 0)
		goto fail;
	return 0;
fail:
	memset(path, 0, sizeof(*path));
	*n_params_r = 0;
	return -1;
}

int smtp_path_parse(const char *arg, int allow_null, int allow_postmaster, struct smtp_path *path,
                    struct smtp_param *params, unsigned *n_params_r, const char **error_r)
{
	return smtp_path_parse_flags(arg,
	                             (allow_null ? SMTP_PATH_NULL : 0) |
	                                 (allow_postmaster ? SMTP_PATH_POSTMASTER : 0),
	                             path, params, n_params_r, error_r);
}

/* ---- formatting -------------------------------------------------------- */

struct fmt {
	char *buf;
	size_t size;
	size_t len;
};

/* Appends C if it fits, keeping BUF NUL-terminated (truncates silently). */
static void fmt_putc(struct fmt *f, char c)
{
	if (f->len + 1 >= f->size)
		return;
	f->buf[f->len++] = c;
	f->buf[f->len] = '\0';
}

static void fmt_puts(struct fmt *f, const char *s)
{
	while (*s != '\0')
		fmt_putc(f, *s++);
}

/* 1 if LOCAL must be written as a Quoted-string: not a Dot-string, or
 * containing '%' or '!' (so that our own parser accepts the result). */
static int local_needs_quotes(const char *local)
{
	return !dot_string_valid(local, strlen(local)) || strpbrk(local, "%!") != NULL;
}

/* Writes PATH as local@domain, quoting the local part when needed. */
char *smtp_path_format(const struct smtp_path *path, char *buf, size_t size)
{
	struct fmt f = {buf, size, 0};

	if (size == 0)
		return buf;
	buf[0] = '\0';
	if (path->null)
		return buf;
	if (!local_needs_quotes(path->local)) {
		fmt_puts(&f, path->local);
	} else {
		fmt_putc(&f, '"');
		for (const char *s = path->local; *s != '\0'; s++) {
			if (*s == '"' || *s == '\\')
				fmt_putc(&f, '\\');
			fmt_putc(&f, *s);
		}
		fmt_putc(&f, '"');
	}
	if (path->domain[0] != '\0') {
		fmt_putc(&f, '@');
		fmt_puts(&f, path->domain);
	}
	return buf;
}

/* ---- DATA -------------------------------------------------------------- */

void smtp_data_init(struct smtp_data_parser *p, size_t max_line)
{
	memset(p, 0, sizeof(*p));
	p->state = SMTP_DATA_LINE_START;
	p->max_line = max_line;
}

/* Counts one more octet of the current line (RFC 5321 4.5.3.1.6). */
static void data_count(struct smtp_data_parser *p)
{
	p->line_len++;
	if (p->line_len > p->max_line)
		p->line_too_long = 1;
}

/* Emits C as ordinary line content: a CR may start a CRLF, a LF here is bare
 * and does not end the line. */
static void data_in_line(struct smtp_data_parser *p, char c, char *out, size_t *o)
{
	out[(*o)++] = c;
	if (c == '\r') {
		p->state = SMTP_DATA_CR;
		return;
	}
	if (c == '\n')
		p->bare_lf = 1;
	p->state = SMTP_DATA_IN_LINE;
}

/* Handles the byte after a CR: LF completes a CRLF, anything else makes the
 * CR bare. */
static void data_after_cr(struct smtp_data_parser *p, char c, char *out, size_t *o)
{
	if (c == '\n') {
		out[(*o)++] = c;
		p->state = SMTP_DATA_LINE_START;
		p->line_len = 0;
		return;
	}
	p->bare_cr = 1;
	data_in_line(p, c, out, o);
}

/* Feeds one byte to the machine; returns 1 once <CRLF>.<CRLF> is complete. */
static int data_step(struct smtp_data_parser *p, char c, char *out, size_t *o)
{
	data_count(p);
	switch (p->state) {
	case SMTP_DATA_LINE_START:
		if (c == '.')
			p->state = SMTP_DATA_DOT; /* dot-unstuffing, RFC 5321 4.5.2 */
		else
			data_in_line(p, c, out, o);
		return 0;
	case SMTP_DATA_IN_LINE:
		data_in_line(p, c, out, o);
		return 0;
	case SMTP_DATA_CR:
		data_after_cr(p, c, out, o);
		return 0;
	case SMTP_DATA_DOT:
		if (c == '\r')
			p->state = SMTP_DATA_DOT_CR; /* hold the CR: may be the end */
		else
			data_in_line(p, c, out, o);
		return 0;
	case SMTP_DATA_DOT_CR:
		if (c == '\n') {
			p->state = SMTP_DATA_DONE;
			return 1;
		}
		out[(*o)++] = '\r'; /* the held CR was bare */
		data_after_cr(p, c, out, o);
		return 0;
	case SMTP_DATA_DONE:
		break;
	}
	return 1;
}

/* How many octets at IN (LEN) come before the first CR or LF: the body of
 * a line, which needs no decision octet by octet. */
static size_t data_plain_span(const char *in, size_t len)
{
	const char *cr = memchr(in, '\r', len), *lf;

	if (cr != NULL)
		len = (size_t)(cr - in);
	lf = memchr(in, '\n', len);
	return lf != NULL ? (size_t)(lf - in) : len;
}

/* Runs IN through the machine until the end of data (RFC 5321 4.1.1.4); the
 * output is at most LEN + 1 bytes (a CR held back from the previous call). */
int smtp_data_feed(struct smtp_data_parser *p, const char *in, size_t len, char *out,
                   size_t *out_len_r, size_t *consumed_r)
{
	size_t i = 0, o = 0, n;
	int done = p->state == SMTP_DATA_DONE;

	while (!done && i < len) {
		/* inside a line, what precedes the next CR or LF is copied as
		 * it is: the machine would take each of those octets alike */
		if (p->state == SMTP_DATA_IN_LINE && (n = data_plain_span(in + i, len - i)) > 0) {
			memcpy(out + o, in + i, n);
			o += n;
			i += n;
			p->line_len += n;
			if (p->line_len > p->max_line)
				p->line_too_long = 1;
			continue;
		}
		done = data_step(p, in[i++], out, &o);
	}
	p->size += o;
	*out_len_r = o;
	*consumed_r = i;
	return done;
}
