/*
 * imap_cmd_any.c: the IMAP commands valid in any state (RFC 9051 6.1:
 * CAPABILITY, NOOP, LOGOUT; RFC 2971 ID) and ENABLE (RFC 5161, with
 * IMAP4rev2, CONDSTORE and QRESYNC, RFC 9051 6.3.1, RFC 7162 3.1/3.2).
 * Entries of the command table (imap_session_command.c).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "imap/imap_parse.h"
#include "imap/imap_session_private.h"
#include "lib/log.h"

#define IMAP_ID_FIELDS_MAX 30  /* RFC 2971 3.3 */
#define IMAP_ID_FIELD_MAX 30   /* octets of a field name */
#define IMAP_ID_VALUE_MAX 1024 /* octets of a value */

struct imap_reply imap_cmd_capability(struct imap_session *s, const struct imap_arg *args,
                                      unsigned n)
{
	char caps[512];

	imap_capabilities(s, caps, sizeof(caps));
	imap_untagged(s, "CAPABILITY %s", caps);
	return imap_reply_make(IMAP_OK, "", "CAPABILITY completed");
}

/* The updates NOOP exists for are printed by imap_command_done(). */
struct imap_reply imap_cmd_noop(struct imap_session *s, const struct imap_arg *args, unsigned n)
{
	return imap_reply_make(IMAP_OK, "", "NOOP completed");
}

struct imap_reply imap_cmd_logout(struct imap_session *s, const struct imap_arg *args, unsigned n)
{
	imap_untagged(s, "BYE Logging out");
	s->cmd.close_after = 1;
	s->cmd.no_updates = 1;
	return imap_reply_make(IMAP_OK, "", "LOGOUT completed");
}

/* Checks the client's ID list (NIL or pairs of strings within RFC 2971's
 * bounds) and logs its name and version. */
static int imap_id_check(const struct imap_session *s, const struct imap_arg *a)
{
	const char *name = "", *version = "";
	char v1[80], v2[80];
	unsigned i;

	if (a->type == IMAP_ARG_NIL)
		return 0;
	if (a->type != IMAP_ARG_LIST || a->n % 2 != 0 || a->n > 2 * IMAP_ID_FIELDS_MAX)
		return -1;
	for (i = 0; i < a->n; i += 2) {
		const struct imap_arg *f = &a->list[i], *v = &a->list[i + 1];

		if (f->type != IMAP_ARG_STRING && f->type != IMAP_ARG_LITERAL)
			return -1;
		if (f->len > IMAP_ID_FIELD_MAX ||
		    (v->type != IMAP_ARG_NIL && v->len > IMAP_ID_VALUE_MAX))
			return -1;
		if (v->type == IMAP_ARG_LIST)
			return -1;
		if (strcasecmp(f->str, "name") == 0 && v->type != IMAP_ARG_NIL)
			name = v->str;
		if (strcasecmp(f->str, "version") == 0 && v->type != IMAP_ARG_NIL)
			version = v->str;
	}
	snprintf(v1, sizeof(v1), "%s", name);
	snprintf(v2, sizeof(v2), "%s", version);
	log_info("event=imap-id session=%s name=%s version=%s", s->id,
	         log_value(v1, (char[96]){0}, 96), log_value(v2, (char[96]){0}, 96));
	return 0;
}

struct imap_reply imap_cmd_id(struct imap_session *s, const struct imap_arg *args, unsigned n)
{
	if (n != 1 || imap_id_check(s, &args[0]) < 0)
		return imap_reply_make(IMAP_BAD, "",
		                       "Expected ID NIL or a list of field/value pairs");
	imap_untagged(s, "ID (\"name\" \"sealmail\")");
	return imap_reply_make(IMAP_OK, "", "ID completed");
}

/* ENABLE lists what it newly enabled (RFC 5161 3.1); QRESYNC implies
 * CONDSTORE (RFC 7162 3.2.3); unknown extensions are ignored. */
struct imap_reply imap_cmd_enable(struct imap_session *s, const struct imap_arg *args, unsigned n)
{
	static const struct {
		const char *name;
		unsigned own, bits;
	} known[] = {
	    {"IMAP4rev2", IMAP_ENABLED_REV2, IMAP_ENABLED_REV2},
	    {"CONDSTORE", IMAP_ENABLED_CONDSTORE, IMAP_ENABLED_CONDSTORE},
	    {"QRESYNC", IMAP_ENABLED_QRESYNC, IMAP_ENABLED_QRESYNC | IMAP_ENABLED_CONDSTORE},
	};
	char list[128] = "";
	unsigned i, k;

	if (n == 0)
		return imap_reply_make(IMAP_BAD, "", "ENABLE needs at least one extension");
	for (i = 0; i < n; i++) {
		if (args[i].type != IMAP_ARG_ATOM)
			return imap_reply_make(IMAP_BAD, "", "Extensions are atoms");
		for (k = 0; k < sizeof(known) / sizeof(known[0]); k++) {
			if (strcasecmp(args[i].str, known[k].name) != 0 ||
			    (s->enabled & known[k].own))
				continue;
			s->enabled |= known[k].bits;
			snprintf(list + strlen(list), sizeof(list) - strlen(list), " %s",
			         known[k].name);
		}
	}
	imap_untagged(s, "ENABLED%s", list);
	return imap_reply_make(IMAP_OK, "", "ENABLE completed");
}
