/*
 * role_title.h: what `sealmail status` shows of a child of the server, read
 * from its /proc/PID/cmdline. A role sets its title itself, so a role taken
 * over could put any bytes there, terminal escapes among them: only the
 * titles the roles set are shown as names, anything else made visible.
 * Used by status_cmd.c.
 */
#ifndef SEALMAIL_ROLE_TITLE_H
#define SEALMAIL_ROLE_TITLE_H

#include <stddef.h>

/* Bytes of an unknown title shown (its rest as "..."), and the room
 * role_title_name() needs for any title. */
#define ROLE_TITLE_SHOWN 64
#define ROLE_TITLE_NAME_MAX (sizeof("(unknown) \"\"...") + 4 * ROLE_TITLE_SHOWN)

/* The LEN bytes CMDLINE (a title ends at its first NUL) as a name into OUT
 * (SIZE bytes, at least ROLE_TITLE_NAME_MAX): "queue", "lookup", "store",
 * "metrics" or "dispatcher N" for "sealmail: queue" and so on, "(starting)"
 * for "sealmail: parent" (forked, not yet titled), and for any other title
 * "(unknown) " and the title quoted, every byte that is not printable
 * ASCII written in octal (strvis(3)). Returns 0 for a known title, -1 for
 * an unknown one. */
int role_title_name(const char *cmdline, size_t len, char *out, size_t size);

#endif
