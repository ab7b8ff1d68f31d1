/*
 * imap_session_update.c: how every IMAP command ends, and IDLE's updates.
 *
 * With a mailbox selected, the session asks the store for what changed
 * (IMSG_STORE_UPDATES) before each tagged reply and prints it: FETCH for
 * flag changes, EXPUNGE (or VANISHED under QRESYNC, RFC 7162 3.2.10),
 * EXISTS, RECENT for IMAP4rev1 clients. Expunges are not allowed while a
 * FETCH, STORE or SEARCH by sequence number runs (RFC 9051 7.5.1): those
 * table entries carry IMAP_CMD_SEQ and ask without them, and the store
 * keeps the expunged messages in the session's view until a later ask.
 * During IDLE the same updates go out as soon as the store says
 * something changed (IMSG_STORE_CHANGED). Called by the command groups
 * (imap_command_done) and imap_session.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/config.h"
#include "imap/imap_parse.h"
#include "imap/imap_session_private.h"
#include "lib/io.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "mail/seqset.h"
#include "proto/proto.h"
#include "proto/store.h"

void imap_cmd_release(struct imap_session *s)
{
	if (s->cmd.data != NULL && s->cmd.data_free != NULL)
		s->cmd.data_free(s->cmd.data);
	s->cmd.data = NULL;
	s->cmd.data_free = NULL;
}

void imap_out_flag_fetch(const struct imap_session *s, struct imap_out *o,
                         const struct proto_store_item *item, int silent)
{
	imap_out_printf(o, "* %u FETCH (UID %u", item->seq, item->uid);
	if (!silent) {
		imap_out_printf(o, " FLAGS ");
		imap_out_flags(s, o, item->flags, item->keywords);
	}
	if (imap_condstore(s))
		imap_out_printf(o, " MODSEQ (%llu)", (unsigned long long)item->modseq);
	imap_out_printf(o, ")\r\n");
}

/* ---- asking and printing the updates ------------------------------------ */

static void imap_updates_ask(struct imap_session *s, int expunges, imap_store_fn *next)
{
	struct proto_store_updates u = {
	    .expunges = (uint32_t)expunges,
	    .qresync = (s->enabled & IMAP_ENABLED_QRESYNC) != 0,
	};
	struct ipc_writer w;

	s->changed = 0;
	ipc_writer_init(&w);
	proto_store_updates_encode(&u, &w);
	imap_store_request(s, IMSG_STORE_UPDATES, &w, -1, next);
}

/* How many UIDs a VANISHED set names. */
static uint32_t imap_set_count(const char *text)
{
	struct seqset set;
	const char *why;
	uint64_t n = 0;
	unsigned i;

	if (text == NULL || text[0] == '\0' || seqset_parse(text, &set, &why) < 0)
		return 0;
	for (i = 0; i < set.n; i++)
		n += (uint64_t)set.r[i].hi - set.r[i].lo + 1;
	seqset_free(&set);
	return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

static void imap_updates_render(struct imap_session *s, const struct proto_store_updates_result *r)
{
	uint32_t removed = r->n_expunged, left;
	unsigned i;

	for (i = 0; i < r->n_expunged; i++)
		imap_untagged(s, "%u EXPUNGE", r->expunged[i]);
	if (r->vanished != NULL && r->vanished[0] != '\0') {
		imap_untagged(s, "VANISHED %s", r->vanished);
		removed += imap_set_count(r->vanished);
	}
	left = s->exists > removed ? s->exists - removed : 0;
	/* EXISTS when the count is not what the client can work out itself */
	if (r->exists != left)
		imap_untagged(s, "%u EXISTS", r->exists);
	s->exists = r->exists;
	if (r->recent != s->recent && !(s->enabled & IMAP_ENABLED_REV2))
		imap_untagged(s, "%u RECENT", r->recent);
	s->recent = r->recent;
	if (removed > 0 && imap_condstore(s) && r->highestmodseq != s->highestmodseq)
		imap_untagged(s, "OK [HIGHESTMODSEQ %llu] Highest",
		              (unsigned long long)r->highestmodseq);
	s->highestmodseq = r->highestmodseq;
}

/* Takes one answer to UPDATES: 1 once the whole answer is in. */
static int imap_updates_take(struct imap_session *s, uint32_t type, const void *data, size_t len,
                             int fd)
{
	const char *why;

	if (fd >= 0)
		close(fd);
	if (type == IMSG_STORE_FETCH_ITEM) {
		struct proto_store_item item;
		struct imap_out o = {NULL, 0, 0};

		if (proto_store_item_decode(&item, data, len, &why) < 0) {
			log_warn("event=imap-store-error session=%s reason=\"%s\"", s->id, why);
			return 0;
		}
		imap_out_flag_fetch(s, &o, &item, 0);
		imap_out_flush(s, &o);
		free(o.buf);
		proto_store_item_free(&item);
		return 0;
	}
	if (type == IMSG_STORE_UPDATES_RESULT) {
		struct proto_store_updates_result r;

		if (proto_store_updates_result_decode(&r, data, len, &why) < 0) {
			/* the store's view moved on without us: any sequence
			 * number from now on could name another message */
			log_warn("event=imap-store-error session=%s reason=\"%s\"", s->id, why);
			imap_untagged(s, "BYE Lost track of the mailbox");
			imap_close_after_output(s);
			return 1;
		}
		imap_updates_render(s, &r);
		proto_store_updates_result_free(&r);
		return 1;
	}
	log_warn("event=imap-store-error session=%s reason=\"unexpected type %u\"", s->id, type);
	return 1;
}

/* ---- the end of a command ------------------------------------------------ */

/* The tagged reply; a BAD counts towards bad_commands; then what the
 * command asked to happen once its reply is out. */
static void imap_command_end(struct imap_session *s)
{
	const struct imap_reply *r = &s->cmd.reply;

	s->wait = IMAP_WAIT_NONE;
	s->on_store = NULL;
	s->input = IMAP_INPUT_COMMAND;
	imap_tagged(s, s->cmd.tag, r);
	imap_cmd_release(s);
	if (r->status != IMAP_BAD) {
		s->bad_in_row = 0;
	} else if (++s->bad_in_row >= s->env->cfg->imap.bad_commands) {
		imap_untagged(s, "BYE Too many invalid commands");
		log_info("event=imap-too-many-errors session=%s errors=%u", s->id, s->bad_in_row);
		imap_close_after_output(s);
		return;
	}
	if (s->cmd.close_after) {
		imap_close_after_output(s);
	} else if (s->cmd.start_tls && r->status == IMAP_OK) {
		/* the handshake starts once the OK has left (imap_session.c) */
		s->state = IMAP_STATE_TLS;
		io_pause(s->io);
	}
}

static void imap_updates_then_end(struct imap_session *s, uint32_t type, const void *data,
                                  size_t len, int fd)
{
	if (imap_updates_take(s, type, data, len, fd))
		imap_command_end(s);
}

void imap_command_done(struct imap_session *s, const struct imap_reply *r)
{
	s->cmd.reply = *r;
	s->input = IMAP_INPUT_COMMAND;
	if (s->state == IMAP_STATE_SELECTED && !s->cmd.no_updates && s->io != NULL) {
		imap_updates_ask(s, !(s->cmd.flags & IMAP_CMD_SEQ), imap_updates_then_end);
		return;
	}
	imap_command_end(s);
}

/* ---- IDLE ------------------------------------------------------------------ */

static void imap_idle_updates(struct imap_session *s, uint32_t type, const void *data, size_t len,
                              int fd)
{
	if (!imap_updates_take(s, type, data, len, fd))
		return;
	s->wait = IMAP_WAIT_NONE;
	s->on_store = NULL;
	if (s->changed && s->state == IMAP_STATE_SELECTED)
		imap_updates_ask(s, 1, imap_idle_updates);
}

void imap_session_changed(struct imap_session *s)
{
	if (s->state != IMAP_STATE_SELECTED)
		return;
	s->changed = 1;
	if (s->input == IMAP_INPUT_IDLE && s->wait == IMAP_WAIT_NONE)
		imap_updates_ask(s, 1, imap_idle_updates);
}

void imap_idle_done(struct imap_session *s, int done_ok)
{
	struct imap_reply r = done_ok ? imap_reply_make(IMAP_OK, "", "IDLE terminated")
	                              : imap_reply_make(IMAP_BAD, "", "Expected DONE");

	s->input = IMAP_INPUT_COMMAND;
	imap_session_set_timeout(s);
	imap_command_done(s, &r);
}
