/*
 * pidfile.h: the pidfile of `sealmail serve` and the checks of `sealmail
 * status` and `stop`. The file holds the pid in decimal and a newline; it
 * is created with O_EXCL, so two servers never both believe they own it,
 * and one left by a server that died is recognised as stale (no such
 * process, a zombie, or a process that is not sealmail) and replaced.
 */
#ifndef SEALMAIL_PIDFILE_H
#define SEALMAIL_PIDFILE_H

#include <stddef.h>
#include <sys/types.h>

/* Creates PATH holding this process's pid, replacing a stale one, and
 * removes it when this process exits. Returns 0; or -1 with the reason in
 * ERROR_R (ERROR_R's text lives until the next call), and the live owner's
 * pid in OTHER_R when another server holds it (else 0). */
int pidfile_claim(const char *path, pid_t *other_r, const char **error_r);
/* Writes this process's pid into the file claimed (after detaching). */
int pidfile_update(void);
/* Removes the file claimed if it still names this process. */
void pidfile_remove(void);

/* The pid in the LEN bytes at BUF: decimal digits, no leading zero, an
 * optional final newline, at most 2^31-1. Returns 0, or -1. */
int pidfile_parse(const char *buf, size_t len, pid_t *pid_r);
/* Reads the pid in PATH (a regular file, not followed if a link): 1; 0 when PATH does not exist; -1
 * with errno (EINVAL: no pid in it). */
int pidfile_read(const char *path, pid_t *pid_r);
/* 1 when PID is a live (not zombie) process that is sealmail's parent
 * (its name sealmail-parent). */
int pidfile_process_alive(pid_t pid);

#endif
