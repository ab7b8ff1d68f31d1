/*
 * imap_cmd_select.c: the selected state's commands that move or remove
 * messages or leave the mailbox: CLOSE and UNSELECT (RFC 9051 6.4.1,
 * 6.4.2), EXPUNGE and UID EXPUNGE (6.4.3, RFC 4315 2.1), COPY and MOVE
 * with their UID forms (6.4.7, 6.4.8, RFC 6851; COPYUID of UIDPLUS), CHECK
 * (RFC 3501 6.4.1) and IDLE (RFC 9051 6.3.13, also in the authenticated
 * state). FETCH and STORE are in imap_cmd_fetch.c, SEARCH in
 * imap_cmd_search.c. The EXPUNGE lines themselves come from the updates
 * every command ends with (imap_session_update.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_parse.h"
#include "imap/imap_session_private.h"
#include "lib/ipc.h"
#include "lib/util.h"
#include "proto/proto.h"
#include "proto/store.h"

/* ---- CLOSE and UNSELECT ----------------------------------------------------- */

static void imap_unselect_reply(struct imap_session *s, uint32_t type, const void *data, size_t len,
                                int fd)
{
	struct imap_reply r;

	/* the mailbox is left whatever the store said (RFC 9051 6.4.1) */
	s->state = IMAP_STATE_AUTH;
	s->mailbox[0] = '\0';
	free(s->saved_uids);
	s->saved_uids = NULL;
	r = imap_reply_from_store_result(type, data, len, fd, "");
	if (r.status == IMAP_OK)
		snprintf(r.text, sizeof(r.text), "%s completed", s->cmd.name);
	imap_command_done(s, &r);
}

static struct imap_reply imap_unselect_common(struct imap_session *s, int expunge)
{
	struct proto_store_unselect m = {.expunge = (uint32_t)expunge};
	struct ipc_writer w;

	ipc_writer_init(&w);
	proto_store_unselect_encode(&m, &w);
	imap_store_request(s, IMSG_STORE_UNSELECT, &w, -1, imap_unselect_reply);
	return imap_pending();
}

/* CLOSE removes \Deleted messages silently, unless EXAMINEd (6.4.1). */
struct imap_reply imap_cmd_close(struct imap_session *s, const struct imap_arg *args, unsigned n)
{
	return imap_unselect_common(s, !s->readonly);
}

struct imap_reply imap_cmd_unselect(struct imap_session *s, const struct imap_arg *args, unsigned n)
{
	return imap_unselect_common(s, 0);
}

struct imap_reply imap_cmd_check(struct imap_session *s, const struct imap_arg *args, unsigned n)
{
	return imap_reply_make(IMAP_OK, "", "CHECK completed");
}

/* ---- EXPUNGE ----------------------------------------------------------------- */

static void imap_expunge_reply(struct imap_session *s, uint32_t type, const void *data, size_t len,
                               int fd)
{
	struct imap_reply r;

	r = imap_reply_from_store_result(type, data, len, fd, "");
	if (r.status == IMAP_OK)
		snprintf(r.text, sizeof(r.text), "%s completed", s->cmd.name);
	imap_command_done(s, &r);
}

static struct imap_reply imap_expunge_common(struct imap_session *s, const char *uids)
{
	struct proto_store_expunge *m;
	struct ipc_writer w;

	if (s->readonly)
		return imap_reply_make(IMAP_NO, "READ-ONLY", "The mailbox is read-only");
	m = xcalloc(1, sizeof(*m));
	m->uid_only = uids != NULL;
	snprintf(m->uids, sizeof(m->uids), "%s", uids != NULL ? uids : "");
	ipc_writer_init(&w);
	proto_store_expunge_encode(m, &w);
	free(m);
	imap_store_request(s, IMSG_STORE_EXPUNGE, &w, -1, imap_expunge_reply);
	return imap_pending();
}

struct imap_reply imap_cmd_expunge(struct imap_session *s, const struct imap_arg *args, unsigned n)
{
	return imap_expunge_common(s, NULL);
}

struct imap_reply imap_cmd_uid_expunge(struct imap_session *s, const struct imap_arg *args,
                                       unsigned n)
{
	const char *set, *why;
	int uid = 1;

	if (n != 1 || imap_set_arg(s, &args[0], &set, &uid, &why) < 0)
		return imap_reply_make(IMAP_BAD, "", "Expected UID EXPUNGE uid-set");
	if (set[0] == '\0')
		return imap_reply_make(IMAP_OK, "", "UID EXPUNGE completed");
	return imap_expunge_common(s, set);
}

/* ---- COPY and MOVE ----------------------------------------------------------- */

/* COPY answers COPYUID in its tagged OK; MOVE sends it untagged before
 * the expunges and ends with a plain OK (RFC 6851 3.3). */
static void imap_copy_reply(struct imap_session *s, uint32_t type, const void *data, size_t len,
                            int fd)
{
	struct imap_reply r = imap_reply_from_store_result(type, data, len, fd, "");
	int move = strstr(s->cmd.name, "MOVE") != NULL;

	if (r.status == IMAP_OK) {
		if (move && r.code[0] != '\0') {
			imap_untagged(s, "OK [%s] Moved", r.code);
			r.code[0] = '\0';
		}
		snprintf(r.text, sizeof(r.text), "%s completed", s->cmd.name);
	}
	imap_command_done(s, &r);
}

static struct imap_reply imap_copy_common(struct imap_session *s, const struct imap_arg *args,
                                          unsigned n, int move)
{
	struct proto_store_copy *m;
	struct ipc_writer w;
	const char *set, *why = "Expected sequence-set mailbox";
	int uid = s->cmd.uid;

	m = xcalloc(1, sizeof(*m));
	if (n != 2 || imap_set_arg(s, &args[0], &set, &uid, &why) < 0 ||
	    imap_mailbox_arg(s, &args[1], m->destination, sizeof(m->destination), &why) < 0) {
		free(m);
		return imap_reply_make(IMAP_BAD, "", "%s", why);
	}
	if (move && s->readonly) {
		free(m);
		return imap_reply_make(IMAP_NO, "READ-ONLY", "The mailbox is read-only");
	}
	if (set[0] == '\0') {
		free(m);
		return imap_reply_make(IMAP_OK, "", "%s completed", s->cmd.name);
	}
	m->uid = (uint32_t)uid;
	m->move = (uint32_t)move;
	snprintf(m->set, sizeof(m->set), "%s", set);
	ipc_writer_init(&w);
	proto_store_copy_encode(m, &w);
	free(m);
	imap_store_request(s, IMSG_STORE_COPY, &w, -1, imap_copy_reply);
	return imap_pending();
}

struct imap_reply imap_cmd_copy(struct imap_session *s, const struct imap_arg *args, unsigned n)
{
	return imap_copy_common(s, args, n, 0);
}

struct imap_reply imap_cmd_move(struct imap_session *s, const struct imap_arg *args, unsigned n)
{
	return imap_copy_common(s, args, n, 1);
}

/* ---- IDLE -------------------------------------------------------------------- */

/* "+ idling", then the updates as they happen until DONE (read by the
 * input loop as IMAP_INPUT_IDLE); idle_command_timeout bounds it. */
struct imap_reply imap_cmd_idle(struct imap_session *s, const struct imap_arg *args, unsigned n)
{
	imap_line(s, "+ idling");
	s->input = IMAP_INPUT_IDLE;
	imap_session_set_timeout(s);
	if (s->changed)
		imap_session_changed(s);
	return imap_pending();
}
