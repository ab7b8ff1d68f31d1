/*
 * imap_cmd_fetch.c: FETCH and STORE with their UID forms (RFC 9051 6.4.5,
 * 6.4.6, 6.4.9; RFC 7162 CHANGEDSINCE, VANISHED, UNCHANGEDSINCE and
 * MODIFIED). Items are parsed and rendered by imap_fetch.h; this file
 * runs the exchange with the store and paces it: the store answers at
 * most PROTO_STORE_FETCH_BATCH items per request, each is rendered into
 * the io as it arrives (the message file's fd is read and closed here),
 * and the next batch is asked (start += received) only once the output
 * is no longer full, so FETCH 1:* of 100,000 messages holds one batch at
 * a time. STORE's answers (the messages whose flags changed) come the
 * same way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "imap/imap_fetch.h"
#include "imap/imap_parse.h"
#include "imap/imap_session_private.h"
#include "lib/io.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/util.h"
#include "proto/proto.h"
#include "proto/store.h"

#define IMAP_MODIFIED_MAX (64 * 1024) /* the MODIFIED set kept across batches */

struct imap_fetch_ctx {
	int is_store;
	struct imap_fetch_request req;  /* FETCH */
	struct proto_store_fetch fetch; /* FETCH: the request, start moving on */
	struct proto_store_flags flags; /* STORE */
	int silent;
	uint32_t received; /* items of the current batch */
	int unknown_cte;   /* a BINARY part could not be decoded (RFC 3516 4.2) */
	int hold_output;   /* UID FETCH (VANISHED): the first batch waits in out for
	                      the VANISHED (EARLIER) that must precede it */
	char *modified;    /* STORE UNCHANGEDSINCE: the set that failed */
	struct imap_out out;
};

static void imap_fetch_ctx_free(void *p)
{
	struct imap_fetch_ctx *c = p;

	imap_fetch_request_free(&c->req);
	free(c->modified);
	free(c->out.buf);
	free(c);
}

static void imap_fetch_reply(struct imap_session *s, uint32_t type, const void *data, size_t len,
                             int fd);

/* Asks the current batch. */
static void imap_fetch_ask(struct imap_session *s)
{
	struct imap_fetch_ctx *c = s->cmd.data;
	struct ipc_writer w;

	c->received = 0;
	ipc_writer_init(&w);
	if (c->is_store)
		proto_store_flags_encode(&c->flags, &w);
	else
		proto_store_fetch_encode(&c->fetch, &w);
	imap_store_request(s, c->is_store ? IMSG_STORE_FLAGS : IMSG_STORE_FETCH, &w, -1,
	                   imap_fetch_reply);
}

/* One FETCH_ITEM: rendered into the io at once. */
static void imap_fetch_item(struct imap_session *s, const void *data, size_t len, int fd)
{
	struct imap_fetch_ctx *c = s->cmd.data;
	struct proto_store_item item;
	unsigned flags = (imap_condstore(s) ? IMAP_FETCH_RENDER_CONDSTORE : 0) |
	                 (s->enabled & IMAP_ENABLED_REV2 ? 0 : IMAP_FETCH_RENDER_REV1);
	const char *why;

	c->received++;
	if (proto_store_item_decode(&item, data, len, &why) < 0) {
		log_warn("event=imap-store-error session=%s reason=\"%s\"", s->id, why);
		return;
	}
	if (c->is_store) {
		if (!c->silent || imap_condstore(s))
			imap_out_flag_fetch(s, &c->out, &item, c->silent);
	} else if (imap_fetch_render(&c->req, &item, fd, flags, &c->out) < 0) {
		c->unknown_cte = 1;
	}
	if (!c->hold_output)
		imap_out_flush(s, &c->out);
	proto_store_item_free(&item);
}

/* Keeps STORE's MODIFIED set of one batch (joined across batches). */
static void imap_fetch_keep_modified(struct imap_fetch_ctx *c, const char *modified)
{
	char *joined;

	if (modified == NULL || modified[0] == '\0')
		return;
	if (c->modified == NULL) {
		c->modified = xstrdup(modified);
		return;
	}
	if (strlen(c->modified) + strlen(modified) + 2 > IMAP_MODIFIED_MAX)
		return;
	joined = xasprintf("%s,%s", c->modified, modified);
	free(c->modified);
	c->modified = joined;
}

/* "MODIFIED SET" into CODE. A set too long for the code keeps its first
 * ranges and joins the rest into one range up to its last number: a
 * superset, so the client re-reads a few messages that did change rather
 * than believe a change was made that was not (RFC 7162 3.1.3). */
static void imap_modified_code(char *code, size_t size, const char *set)
{
	const char *last = strrchr(set, ',');
	const char *tail, *cut;
	size_t keep;

	if (snprintf(code, size, "MODIFIED %s", set) < (int)size || last == NULL)
		return;
	last++;
	tail = strchr(last, ':') != NULL ? strchr(last, ':') + 1 : last;
	/* room for "MODIFIED ", ",", a number, ":", the tail and the NUL */
	keep = size - strlen("MODIFIED ") - strlen(tail) - 14;
	cut = set + keep;
	while (cut > set && *cut != ',')
		cut--;
	if (cut == set) {
		snprintf(code, size, "MODIFIED %.*s:%s", (int)strcspn(set, ":,"), set, tail);
		return;
	}
	snprintf(code, size, "MODIFIED %.*s,%.*s:%s", (int)(cut - set), set,
	         (int)strcspn(cut + 1, ":,"), cut + 1, tail);
}

/* The end of the command, from the last FETCH_DONE. */
static void imap_fetch_finish(struct imap_session *s, const struct proto_store_fetch_done *d)
{
	struct imap_fetch_ctx *c = s->cmd.data;
	struct imap_reply r;

	if (d->status != PROTO_STORE_OK)
		r = imap_reply_from_store(d->status, d->code, d->text, "");
	else if (c->unknown_cte)
		r = imap_reply_make(IMAP_NO, "UNKNOWN-CTE", "Cannot decode a part");
	else if (c->modified != NULL)
		r = imap_reply_make(IMAP_OK, "", "Conditional %s failed", s->cmd.name);
	else
		r = imap_reply_make(IMAP_OK, "", "%s completed", s->cmd.name);
	if (c->modified != NULL && d->status == PROTO_STORE_OK)
		imap_modified_code(r.code, sizeof(r.code), c->modified);
	imap_command_done(s, &r);
}

static void imap_fetch_done(struct imap_session *s, const void *data, size_t len)
{
	struct imap_fetch_ctx *c = s->cmd.data;
	struct proto_store_fetch_done d;
	struct imap_reply r;
	const char *why;

	if (proto_store_fetch_done_decode(&d, data, len, &why) < 0) {
		r = imap_reply_make(IMAP_NO, "SERVERBUG", "The mail store did not answer");
		imap_command_done(s, &r);
		return;
	}
	if (d.vanished != NULL && d.vanished[0] != '\0')
		imap_untagged(s, "VANISHED (EARLIER) %s", d.vanished);
	if (c->hold_output) {
		c->hold_output = 0;
		c->fetch.max = PROTO_STORE_FETCH_BATCH;
		imap_out_flush(s, &c->out);
	}
	imap_fetch_keep_modified(c, d.modified);
	if (d.status == PROTO_STORE_OK && d.more && c->received > 0) {
		c->fetch.start += c->received;
		c->flags.start += c->received;
		/* the next batch once the output drained (imap_session.c) */
		if (io_output_full(s->io)) {
			s->on_store = NULL;
			imap_wait_drain(s, imap_fetch_ask);
		} else {
			imap_fetch_ask(s);
		}
	} else {
		imap_fetch_finish(s, &d);
	}
	proto_store_fetch_done_free(&d);
}

static void imap_fetch_reply(struct imap_session *s, uint32_t type, const void *data, size_t len,
                             int fd)
{
	struct imap_reply r;

	if (type == IMSG_STORE_FETCH_ITEM) {
		imap_fetch_item(s, data, len, fd);
		if (fd >= 0)
			close(fd);
		return;
	}
	if (fd >= 0)
		close(fd);
	if (type == IMSG_STORE_FETCH_DONE) {
		imap_fetch_done(s, data, len);
		return;
	}
	r = imap_reply_make(IMAP_NO, "SERVERBUG", "The mail store did not answer");
	imap_command_done(s, &r);
}

/* ---- FETCH ------------------------------------------------------------------- */

static struct imap_fetch_ctx *imap_fetch_ctx_new(struct imap_session *s)
{
	struct imap_fetch_ctx *c = xcalloc(1, sizeof(*c));

	s->cmd.data = c;
	s->cmd.data_free = imap_fetch_ctx_free;
	return c;
}

struct imap_reply imap_cmd_fetch(struct imap_session *s, const struct imap_arg *args, unsigned n)
{
	struct imap_fetch_ctx *c = imap_fetch_ctx_new(s);
	unsigned mode = (s->cmd.uid ? IMAP_FETCH_MODE_UID : 0) |
	                (imap_condstore(s) ? IMAP_FETCH_MODE_CONDSTORE : 0);
	const char *set, *why = "Expected FETCH sequence-set items";
	int uid = s->cmd.uid;

	if (n < 2 || imap_set_arg(s, &args[0], &set, &uid, &why) < 0 ||
	    imap_fetch_parse(args + 1, n - 1, mode, &c->req, &why) < 0)
		return imap_reply_make(IMAP_BAD, "", "%s", why);
	/* RFC 7162 3.2.6: VANISHED only in UID FETCH, once QRESYNC is enabled */
	if (c->req.vanished && (!s->cmd.uid || !(s->enabled & IMAP_ENABLED_QRESYNC)))
		return imap_reply_make(IMAP_BAD, "", "VANISHED needs UID FETCH and QRESYNC");
	/* RFC 7162 3.1: FETCH MODSEQ or CHANGEDSINCE enables CONDSTORE */
	if (c->req.changedsince != 0 || (c->req.want & STORE_WANT_MODSEQ))
		s->enabled |= IMAP_ENABLED_CONDSTORE;
	if (s->readonly)
		c->req.want &= ~(uint32_t)STORE_WANT_MARK_SEEN;
	if (set[0] == '\0')
		return imap_reply_make(IMAP_OK, "", "%s completed", s->cmd.name);
	c->fetch.uid = (uint32_t)uid;
	snprintf(c->fetch.set, sizeof(c->fetch.set), "%s", set);
	c->fetch.want = c->req.want;
	c->fetch.changedsince = c->req.changedsince;
	c->fetch.vanished = (uint32_t)c->req.vanished;
	c->fetch.max = PROTO_STORE_FETCH_BATCH;
	/* RFC 7162 3.2.6: VANISHED (EARLIER) comes before the FETCH responses,
	 * but the store reports it with the first batch's end: that batch is
	 * one item, held until then, so what is held stays one message */
	if (c->req.vanished) {
		c->hold_output = 1;
		c->fetch.max = 1;
	}
	imap_fetch_ask(s);
	return imap_pending();
}

/* ---- STORE ------------------------------------------------------------------- */

/* "FLAGS", "+FLAGS.SILENT", ... -> the operation and SILENT. */
static int imap_store_item(const struct imap_arg *a, uint32_t *op_r, int *silent_r)
{
	const char *t = a->type == IMAP_ARG_ATOM ? a->str : "";

	*op_r = t[0] == '+'   ? STORE_FLAGS_ADD
	        : t[0] == '-' ? STORE_FLAGS_REMOVE
	                      : STORE_FLAGS_REPLACE;
	if (t[0] == '+' || t[0] == '-')
		t++;
	*silent_r = strcasecmp(t, "FLAGS.SILENT") == 0;
	return *silent_r || strcasecmp(t, "FLAGS") == 0 ? 0 : -1;
}

/* (UNCHANGEDSINCE n), RFC 7162 3.1.3. */
static int imap_store_modifiers(const struct imap_arg *a, uint64_t *since_r)
{
	char *end;

	if (a->type != IMAP_ARG_LIST || a->n != 2 || !imap_arg_is(&a->list[0], "UNCHANGEDSINCE") ||
	    a->list[1].type != IMAP_ARG_ATOM)
		return -1;
	*since_r = strtoull(a->list[1].str, &end, 10);
	return *end == '\0' && a->list[1].str[0] >= '0' && a->list[1].str[0] <= '9' ? 0 : -1;
}

/* The flags: one list, or flags one by one (RFC 9051 9: store-att-flags). */
static int imap_store_flags(const struct imap_arg *args, unsigned n, struct proto_store_flags *m,
                            const char **error_r)
{
	struct imap_arg list;

	if (n == 1)
		return imap_flags_parse(&args[0], &m->flags, m->keywords, sizeof(m->keywords),
		                        error_r);
	memset(&list, 0, sizeof(list));
	list.type = IMAP_ARG_LIST;
	list.list = (struct imap_arg *)args;
	list.n = n;
	return imap_flags_parse(&list, &m->flags, m->keywords, sizeof(m->keywords), error_r);
}

struct imap_reply imap_cmd_store(struct imap_session *s, const struct imap_arg *args, unsigned n)
{
	struct imap_fetch_ctx *c = imap_fetch_ctx_new(s);
	const char *set, *why = "Expected STORE sequence-set [(UNCHANGEDSINCE n)] item flags";
	unsigned i = 1;
	int uid = s->cmd.uid;

	c->is_store = 1;
	if (n < 3 || imap_set_arg(s, &args[0], &set, &uid, &why) < 0)
		return imap_reply_make(IMAP_BAD, "", "%s", why);
	if (args[1].type == IMAP_ARG_LIST) {
		if (imap_store_modifiers(&args[1], &c->flags.unchangedsince) < 0)
			return imap_reply_make(IMAP_BAD, "", "Unknown STORE modifier");
		s->enabled |= IMAP_ENABLED_CONDSTORE;
		i = 2;
	}
	if (n < i + 2 || imap_store_item(&args[i], &c->flags.op, &c->silent) < 0 ||
	    imap_store_flags(args + i + 1, n - i - 1, &c->flags, &why) < 0)
		return imap_reply_make(IMAP_BAD, "", "%s", why);
	if (s->readonly)
		return imap_reply_make(IMAP_NO, "READ-ONLY", "The mailbox is read-only");
	if (set[0] == '\0')
		return imap_reply_make(IMAP_OK, "", "%s completed", s->cmd.name);
	c->flags.uid = (uint32_t)uid;
	snprintf(c->flags.set, sizeof(c->flags.set), "%s", set);
	c->flags.max = PROTO_STORE_FETCH_BATCH;
	imap_fetch_ask(s);
	return imap_pending();
}
