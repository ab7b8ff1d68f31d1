/*
 * imap_session_reply.c: what the IMAP session writes and how it reads the
 * small things every command group shares: replies as values and their
 * tagged and untagged lines, the CAPABILITY list for each state, flag
 * lists both ways, mailbox names (modified UTF-7 for IMAP4rev1 clients,
 * UTF-8 once IMAP4rev2 is enabled, RFC 9051 5.1) and SEARCHRES's "$" in
 * sets. Used by imap_session.c and the imap_cmd_*.c files.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf/config.h"
#include "imap/imap_fetch.h"
#include "imap/imap_parse.h"
#include "imap/imap_session_private.h"
#include "lib/io.h"
#include "lib/util.h"
#include "mail/mutf7.h"
#include "mail/seqset.h"
#include "proto/store.h"

/* ---- replies as values ------------------------------------------------------ */

struct imap_reply imap_reply_make(enum imap_status status, const char *code, const char *fmt, ...)
{
	struct imap_reply r;
	va_list ap;

	r.status = status;
	snprintf(r.code, sizeof(r.code), "%s", code != NULL ? code : "");
	va_start(ap, fmt);
	vsnprintf(r.text, sizeof(r.text), fmt, ap);
	va_end(ap);
	return r;
}

struct imap_reply imap_pending(void)
{
	struct imap_reply r;

	memset(&r, 0, sizeof(r));
	r.status = IMAP_PENDING;
	return r;
}

/* The store's OK / NO / BAD as a reply; OK_TEXT when the store gave no
 * text on success. */
struct imap_reply imap_reply_from_store(uint32_t status, const char *code, const char *text,
                                        const char *ok_text)
{
	enum imap_status st = status == PROTO_STORE_OK    ? IMAP_OK
	                      : status == PROTO_STORE_BAD ? IMAP_BAD
	                                                  : IMAP_NO;

	if (st == IMAP_OK && text[0] == '\0')
		text = ok_text;
	else if (text[0] == '\0')
		text = "Failed";
	return imap_reply_make(st, code, "%s", text);
}

struct imap_reply imap_reply_from_store_result(uint32_t type, const void *data, size_t len, int fd,
                                               const char *ok_text)
{
	struct proto_store_result m;
	const char *why;

	if (fd >= 0)
		close(fd);
	if (type != IMSG_STORE_RESULT || proto_store_result_decode(&m, data, len, &why) < 0)
		return imap_reply_make(IMAP_NO, "SERVERBUG", "The mail store did not answer");
	return imap_reply_from_store(m.status, m.code, m.text, ok_text);
}

/* ---- lines ------------------------------------------------------------------- */

void imap_untagged(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;

	if (s->io == NULL)
		return;
	io_write(s->io, "* ", 2);
	va_start(ap, fmt);
	io_vprintf(s->io, fmt, ap);
	va_end(ap);
	io_write(s->io, "\r\n", 2);
}

void imap_line(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;

	if (s->io == NULL)
		return;
	va_start(ap, fmt);
	io_vprintf(s->io, fmt, ap);
	va_end(ap);
	io_write(s->io, "\r\n", 2);
}

void imap_out_flush(struct imap_session *s, struct imap_out *o)
{
	if (s->io != NULL && o->len > 0)
		io_write(s->io, o->buf, o->len);
	o->len = 0;
}

void imap_tagged(struct imap_session *s, const char *tag, const struct imap_reply *r)
{
	static const char *const words[] = {"OK", "NO", "BAD", "OK"};

	if (s->io == NULL)
		return;
	if (r->code[0] != '\0')
		io_printf(s->io, "%s %s [%s] %s\r\n", tag, words[r->status], r->code, r->text);
	else
		io_printf(s->io, "%s %s %s\r\n", tag, words[r->status], r->text);
}

/* ---- CAPABILITY -------------------------------------------------------------- */

/* Before TLS: no way to log in (RFC 9051 6.2.3 LOGINDISABLED, no AUTH=);
 * after TLS: PLAIN with SASL-IR; after login: every extension served. */
void imap_capabilities(const struct imap_session *s, char *buf, size_t size)
{
	if (s->state == IMAP_STATE_AUTH || s->state == IMAP_STATE_SELECTED) {
		snprintf(
		    buf, size,
		    "IMAP4rev1 IMAP4rev2 SASL-IR LITERAL+ ENABLE IDLE NAMESPACE UNSELECT "
		    "UIDPLUS MOVE CONDSTORE QRESYNC ESEARCH SEARCHRES LIST-EXTENDED LIST-STATUS "
		    "SPECIAL-USE CHILDREN STATUS=SIZE APPENDLIMIT=%llu ID",
		    (unsigned long long)s->env->cfg->imap.append_limit);
		return;
	}
	if (!imap_session_tls(s)) {
		snprintf(buf, size, "IMAP4rev1 IMAP4rev2 STARTTLS LOGINDISABLED LITERAL- ID");
		return;
	}
	snprintf(buf, size, "IMAP4rev1 IMAP4rev2 SASL-IR LITERAL- ENABLE IDLE ID AUTH=PLAIN");
}

/* ---- flags ------------------------------------------------------------------- */

static const struct {
	const char *name;
	uint32_t flag;
} imap_system_flags[] = {
    {"\\Answered", STORE_FLAG_ANSWERED}, {"\\Flagged", STORE_FLAG_FLAGGED},
    {"\\Deleted", STORE_FLAG_DELETED},   {"\\Seen", STORE_FLAG_SEEN},
    {"\\Draft", STORE_FLAG_DRAFT},
};
#define IMAP_N_SYSTEM_FLAGS (sizeof(imap_system_flags) / sizeof(imap_system_flags[0]))

/* With its parentheses; \Recent only for IMAP4rev1 (RFC 9051 removed it). */
void imap_out_flags(const struct imap_session *s, struct imap_out *o, uint32_t flags,
                    const char *keywords)
{
	imap_fetch_out_flags(o, flags, keywords, !(s->enabled & IMAP_ENABLED_REV2));
}

/* A keyword is an atom without '\' (RFC 9051 9: flag-keyword). */
static int imap_keyword_ok(const char *k)
{
	if (k[0] == '\0')
		return 0;
	for (; *k; k++)
		if ((unsigned char)*k <= ' ' || (unsigned char)*k >= 0x7f ||
		    strchr("(){%*\"\\]", *k))
			return 0;
	return 1;
}

/* Adds flag F to *FLAGS_R or KEYWORDS (once, in any case). */
static int imap_flag_add(const char *f, uint32_t *flags_r, char *keywords, size_t size,
                         const char **error_r)
{
	size_t klen = strlen(keywords), flen = strlen(f);
	unsigned i;
	const char *p;

	if (f[0] == '\\') {
		for (i = 0; i < IMAP_N_SYSTEM_FLAGS; i++)
			if (strcasecmp(f, imap_system_flags[i].name) == 0) {
				*flags_r |= imap_system_flags[i].flag;
				return 0;
			}
		*error_r = strcasecmp(f, "\\Recent") == 0 ? "\\Recent cannot be set"
		                                          : "Unknown system flag";
		return -1;
	}
	if (!imap_keyword_ok(f)) {
		*error_r = "Invalid keyword";
		return -1;
	}
	for (p = keywords; (p = strcasestr(p, f)) != NULL; p += flen)
		if ((p == keywords || p[-1] == ' ') && (p[flen] == ' ' || p[flen] == '\0'))
			return 0;
	if (klen + flen + 2 > size) {
		*error_r = "Too many keywords";
		return -1;
	}
	snprintf(keywords + klen, size - klen, "%s%s", klen ? " " : "", f);
	return 0;
}

int imap_flags_parse(const struct imap_arg *arg, uint32_t *flags_r, char *keywords, size_t size,
                     const char **error_r)
{
	const struct imap_arg *v = arg;
	unsigned n = 1, i;

	*flags_r = 0;
	keywords[0] = '\0';
	if (arg->type == IMAP_ARG_LIST) {
		v = arg->list;
		n = arg->n;
	}
	for (i = 0; i < n; i++) {
		if (v[i].type != IMAP_ARG_ATOM) {
			*error_r = "Flags must be atoms";
			return -1;
		}
		if (imap_flag_add(v[i].str, flags_r, keywords, size, error_r) < 0)
			return -1;
	}
	return 0;
}

/* ---- arguments --------------------------------------------------------------- */

const char *imap_arg_text(const struct imap_arg *a)
{
	/* the atom NIL is an astring too; its text is kept */
	if (a->type == IMAP_ARG_ATOM || a->type == IMAP_ARG_STRING || a->type == IMAP_ARG_LITERAL ||
	    (a->type == IMAP_ARG_NIL && a->str != NULL))
		return a->str;
	return NULL;
}

int imap_arg_is(const struct imap_arg *a, const char *word)
{
	return a->type == IMAP_ARG_ATOM && strcasecmp(a->str, word) == 0;
}

int imap_condstore(const struct imap_session *s)
{
	return (s->enabled & (IMAP_ENABLED_CONDSTORE | IMAP_ENABLED_QRESYNC)) != 0;
}

int imap_mailbox_arg(const struct imap_session *s, const struct imap_arg *a, char *out, size_t size,
                     const char **error_r)
{
	const char *text = imap_arg_text(a);

	if (text == NULL || strlen(text) != a->len || a->len >= size) {
		*error_r = "Invalid mailbox name";
		return -1;
	}
	if (strcasecmp(text, "INBOX") == 0) {
		snprintf(out, size, "INBOX");
		return 0;
	}
	if (s->enabled & IMAP_ENABLED_REV2) {
		if (!utf8_is_valid(text, a->len)) {
			*error_r = "Mailbox name is not UTF-8";
			return -1;
		}
		snprintf(out, size, "%s", text);
		return 0;
	}
	if (mutf7_to_utf8(text, out, size) < 0) {
		*error_r = "Mailbox name is not valid modified UTF-7";
		return -1;
	}
	return 0;
}

void imap_out_mailbox(const struct imap_session *s, struct imap_out *o, const char *name)
{
	char buf[PROTO_STORE_NAME_MAX * 4];

	if (!(s->enabled & IMAP_ENABLED_REV2) && utf8_to_mutf7(name, buf, sizeof(buf)) == 0)
		name = buf;
	imap_out_astring(o, name, strlen(name));
}

int imap_set_arg(const struct imap_session *s, const struct imap_arg *a, const char **set_r,
                 int *uid_r, const char **error_r)
{
	struct seqset set = {NULL, 0};

	if (a->type != IMAP_ARG_ATOM || a->len >= PROTO_STORE_SET_MAX) {
		*error_r = "Invalid sequence set";
		return -1;
	}
	if (strcmp(a->str, "$") == 0) {
		/* RFC 5182 2.1: the saved result, empty until a SEARCH saved one */
		*set_r = s->saved_uids != NULL ? s->saved_uids : "";
		*uid_r = 1;
		return 0;
	}
	if (seqset_parse(a->str, &set, error_r) < 0)
		return -1;
	seqset_free(&set);
	*set_r = a->str;
	return 0;
}
