/*
 * imap_cmd_search.c: SEARCH and UID SEARCH (RFC 9051 6.4.4) with ESEARCH
 * answers (RFC 4731; always once IMAP4rev2 is enabled, 7.3.4), SEARCHRES
 * (RFC 5182: RETURN (SAVE) keeps the result for "$") and MODSEQ (RFC 7162
 * 3.1.5). The keys become a store program (imap_search.h); the store
 * evaluates it against the session's view.
 *
 * The saved result is kept as UIDs, so that it still names the same
 * messages after expunges: a SEARCH by sequence number that saves asks
 * the store for UIDs first, then (when it must also show MIN, MAX or ALL
 * as sequence numbers) asks again for those.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imap/imap_parse.h"
#include "imap/imap_search.h"
#include "imap/imap_session_private.h"
#include "lib/ipc.h"
#include "lib/util.h"
#include "proto/proto.h"
#include "proto/store.h"

struct imap_search_ctx {
	struct proto_store_search prog;
	struct imap_search_options opts;
	int saving; /* this answer is the UID one whose matches SAVE keeps */
};

static void imap_search_ctx_free(void *p)
{
	struct imap_search_ctx *c = p;

	imap_search_program_free(&c->prog);
	free(c);
}

static void imap_search_reply(struct imap_session *s, uint32_t type, const void *data, size_t len,
                              int fd);

static void imap_search_ask(struct imap_session *s)
{
	struct imap_search_ctx *c = s->cmd.data;
	struct ipc_writer w;

	ipc_writer_init(&w);
	proto_store_search_encode(&c->prog, &w);
	imap_store_request(s, IMSG_STORE_SEARCH, &w, -1, imap_search_reply);
}

/* The answer's lines, or the second question (sequence numbers after the
 * UIDs that SAVE keeps). */
static void imap_search_result(struct imap_session *s, struct imap_search_ctx *c,
                               const struct proto_store_search_result *r)
{
	struct imap_out o = {NULL, 0, 0};
	struct imap_reply rep;

	if (c->saving) {
		free(s->saved_uids);
		s->saved_uids = imap_search_save_set(&c->opts, r);
		c->saving = 0;
		if (c->prog.uid != (uint32_t)s->cmd.uid) {
			c->prog.uid = (uint32_t)s->cmd.uid;
			if (c->opts.ret_min || c->opts.ret_max || c->opts.ret_all) {
				imap_search_ask(s);
				return;
			}
		}
	}
	imap_search_render(&c->opts, r, s->cmd.tag, s->cmd.uid, &o);
	imap_out_flush(s, &o);
	free(o.buf);
	rep = imap_reply_make(IMAP_OK, "", "%s completed", s->cmd.name);
	imap_command_done(s, &rep);
}

static void imap_search_reply(struct imap_session *s, uint32_t type, const void *data, size_t len,
                              int fd)
{
	struct imap_search_ctx *c = s->cmd.data;
	struct proto_store_search_result r;
	struct imap_reply rep;
	const char *why;

	if (fd >= 0)
		close(fd);
	if (type != IMSG_STORE_SEARCH_RESULT ||
	    proto_store_search_result_decode(&r, data, len, &why) < 0) {
		rep = imap_reply_make(IMAP_NO, "SERVERBUG", "The mail store did not answer");
		imap_command_done(s, &rep);
		return;
	}
	if (r.status != PROTO_STORE_OK) {
		/* RFC 5182 2.1: a failed SAVE leaves "$" empty */
		if (c->opts.ret_save) {
			free(s->saved_uids);
			s->saved_uids = NULL;
		}
		rep = imap_reply_from_store(r.status, r.code, r.text, "");
		imap_command_done(s, &rep);
	} else {
		imap_search_result(s, c, &r);
	}
	proto_store_search_result_free(&r);
}

struct imap_reply imap_cmd_search(struct imap_session *s, const struct imap_arg *args, unsigned n)
{
	struct imap_search_ctx *c = xcalloc(1, sizeof(*c));
	const char *why = "Invalid SEARCH";
	int rc;

	s->cmd.data = c;
	s->cmd.data_free = imap_search_ctx_free;
	rc = imap_search_parse(args, n, &c->prog, &c->opts, s->saved_uids, &why);
	if (rc == IMAP_SEARCH_BADCHARSET)
		return imap_reply_make(IMAP_NO, "BADCHARSET (US-ASCII UTF-8)", "%s", why);
	if (rc < 0)
		return imap_reply_make(IMAP_BAD, "", "%s", why);
	/* RFC 9051 answers ESEARCH only; RETURN () means ALL (RFC 4731 3.1) */
	if (s->enabled & IMAP_ENABLED_REV2)
		c->opts.esearch = 1;
	if (c->opts.esearch && !c->opts.ret_min && !c->opts.ret_max && !c->opts.ret_count &&
	    !c->opts.ret_all && !c->opts.ret_save)
		c->opts.ret_all = 1;
	if (c->opts.modseq)
		s->enabled |= IMAP_ENABLED_CONDSTORE;
	c->saving = c->opts.ret_save;
	c->prog.uid = c->saving ? 1 : (uint32_t)s->cmd.uid;
	imap_search_ask(s);
	return imap_pending();
}
