/*
 * imap_session_command.c: the IMAP command table and its checks: the
 * states each command is valid in (RFC 9051 6), what may run before TLS
 * on a tls = required listener (RFC 9051 6.2.1: no login in cleartext),
 * the commands that take no arguments, and the commands by sequence
 * number during which no EXPUNGE may be sent (7.5.1). The input loop
 * (imap_session.c) hands each parsed command to imap_session_command();
 * the handlers live in the imap_cmd_*.c groups.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "conf/config.h"
#include "imap/imap_parse.h"
#include "imap/imap_session_private.h"

struct imap_cmd_def {
	const char *name;
	unsigned states; /* IMAP_IN_* */
	unsigned flags;  /* enum imap_cmd_flag */
	imap_cmd_fn *fn;
};

#define BEFORE_TLS IMAP_CMD_BEFORE_TLS
#define NO_ARGS IMAP_CMD_NO_ARGS
#define SEQ IMAP_CMD_SEQ

static const struct imap_cmd_def imap_commands[] = {
    /* any state (RFC 9051 6.1) */
    {"CAPABILITY", IMAP_IN_ANY, BEFORE_TLS | NO_ARGS, imap_cmd_capability},
    {"NOOP", IMAP_IN_ANY, BEFORE_TLS | NO_ARGS, imap_cmd_noop},
    {"LOGOUT", IMAP_IN_ANY, BEFORE_TLS | NO_ARGS, imap_cmd_logout},
    {"ID", IMAP_IN_ANY, BEFORE_TLS, imap_cmd_id},
    /* not authenticated (6.2) */
    {"STARTTLS", IMAP_IN_NOT_AUTH, BEFORE_TLS | NO_ARGS, imap_cmd_starttls},
    {"LOGIN", IMAP_IN_NOT_AUTH, 0, imap_cmd_login},
    {"AUTHENTICATE", IMAP_IN_NOT_AUTH, 0, imap_cmd_authenticate},
    /* authenticated (6.3) */
    {"ENABLE", IMAP_IN_AUTH, 0, imap_cmd_enable},
    {"SELECT", IMAP_IN_LOGGED_IN, 0, imap_cmd_select},
    {"EXAMINE", IMAP_IN_LOGGED_IN, 0, imap_cmd_examine},
    {"CREATE", IMAP_IN_LOGGED_IN, 0, imap_cmd_create},
    {"DELETE", IMAP_IN_LOGGED_IN, 0, imap_cmd_delete},
    {"RENAME", IMAP_IN_LOGGED_IN, 0, imap_cmd_rename},
    {"SUBSCRIBE", IMAP_IN_LOGGED_IN, 0, imap_cmd_subscribe},
    {"UNSUBSCRIBE", IMAP_IN_LOGGED_IN, 0, imap_cmd_unsubscribe},
    {"LIST", IMAP_IN_LOGGED_IN, 0, imap_cmd_list},
    {"LSUB", IMAP_IN_LOGGED_IN, 0, imap_cmd_lsub},
    {"NAMESPACE", IMAP_IN_LOGGED_IN, NO_ARGS, imap_cmd_namespace},
    {"STATUS", IMAP_IN_LOGGED_IN, 0, imap_cmd_status},
    {"APPEND", IMAP_IN_LOGGED_IN, 0, imap_cmd_append},
    {"IDLE", IMAP_IN_LOGGED_IN, NO_ARGS, imap_cmd_idle},
    /* selected (6.4) */
    {"CHECK", IMAP_IN_SELECTED, NO_ARGS, imap_cmd_check},
    {"CLOSE", IMAP_IN_SELECTED, NO_ARGS, imap_cmd_close},
    {"UNSELECT", IMAP_IN_SELECTED, NO_ARGS, imap_cmd_unselect},
    {"EXPUNGE", IMAP_IN_SELECTED, NO_ARGS, imap_cmd_expunge},
    {"SEARCH", IMAP_IN_SELECTED, SEQ, imap_cmd_search},
    {"FETCH", IMAP_IN_SELECTED, SEQ, imap_cmd_fetch},
    {"STORE", IMAP_IN_SELECTED, SEQ, imap_cmd_store},
    {"COPY", IMAP_IN_SELECTED, 0, imap_cmd_copy},
    {"MOVE", IMAP_IN_SELECTED, 0, imap_cmd_move},
    {"UID SEARCH", IMAP_IN_SELECTED, 0, imap_cmd_search},
    {"UID FETCH", IMAP_IN_SELECTED, 0, imap_cmd_fetch},
    {"UID STORE", IMAP_IN_SELECTED, 0, imap_cmd_store},
    {"UID COPY", IMAP_IN_SELECTED, 0, imap_cmd_copy},
    {"UID MOVE", IMAP_IN_SELECTED, 0, imap_cmd_move},
    {"UID EXPUNGE", IMAP_IN_SELECTED, 0, imap_cmd_uid_expunge},
};

static const struct imap_cmd_def *imap_command_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(imap_commands) / sizeof(imap_commands[0]); i++)
		if (strcmp(imap_commands[i].name, name) == 0)
			return &imap_commands[i];
	return NULL;
}

/* Why DEF may not run in the session's state, or NULL when it may. */
static const char *imap_command_refusal(const struct imap_session *s,
                                        const struct imap_cmd_def *def)
{
	if (def->states & (1u << s->state))
		return NULL;
	if (s->state == IMAP_STATE_NOT_AUTH)
		return "Log in first";
	if (def->states == IMAP_IN_SELECTED)
		return "No mailbox selected";
	if (def->states == IMAP_IN_AUTH)
		return "Not valid with a mailbox selected";
	return "Already logged in";
}

/* The command's name: "UID FETCH" for UID commands (whose name atom is
 * then taken from the arguments). */
static void imap_command_name(struct imap_command *cmd, char *name, size_t size,
                              const struct imap_arg **args, unsigned *n)
{
	size_t i;

	*args = cmd->args;
	*n = cmd->n_args;
	snprintf(name, size, "%s", cmd->name);
	if (strcmp(cmd->name, "UID") != 0 || cmd->n_args == 0 || cmd->args[0].type != IMAP_ARG_ATOM)
		return;
	snprintf(name, size, "UID %s", cmd->args[0].str);
	for (i = 4; name[i] != '\0'; i++)
		name[i] = (char)toupper((unsigned char)name[i]);
	*args = cmd->args + 1;
	*n = cmd->n_args - 1;
}

static struct imap_reply imap_command_run(struct imap_session *s, const struct imap_cmd_def *def,
                                          const struct imap_arg *args, unsigned n)
{
	const char *why;

	if (def == NULL)
		return imap_reply_make(IMAP_BAD, "", "Unknown command");
	if ((why = imap_command_refusal(s, def)) != NULL)
		return imap_reply_make(IMAP_BAD, "", "%s", why);
	if (!(def->flags & IMAP_CMD_BEFORE_TLS) && !imap_session_tls(s))
		return imap_reply_make(IMAP_NO, "PRIVACYREQUIRED", "Use STARTTLS first");
	if ((def->flags & IMAP_CMD_NO_ARGS) && n > 0)
		return imap_reply_make(IMAP_BAD, "", "%s takes no arguments", def->name);
	return def->fn(s, args, n);
}

void imap_session_command(struct imap_session *s, struct imap_command *cmd)
{
	const struct imap_cmd_def *def;
	const struct imap_arg *args;
	struct imap_reply r;
	char name[48];
	unsigned n;

	imap_command_name(cmd, name, sizeof(name), &args, &n);
	def = imap_command_find(name);
	imap_cmd_release(s);
	memset(&s->cmd, 0, sizeof(s->cmd));
	snprintf(s->cmd.tag, sizeof(s->cmd.tag), "%s", cmd->tag);
	snprintf(s->cmd.name, sizeof(s->cmd.name), "%s", name);
	s->cmd.uid = strncmp(name, "UID ", 4) == 0;
	s->cmd.flags = def != NULL ? def->flags : 0;
	r = imap_command_run(s, def, args, n);
	if (r.status != IMAP_PENDING)
		imap_command_done(s, &r);
}
