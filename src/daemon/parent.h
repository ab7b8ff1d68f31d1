/*
 * parent.h: `sealmail serve`. The parent reads the configuration, binds the
 * listening sockets, loads certificates, forks the roles (queue, lookup,
 * dispatchers) with their privileges dropped, restarts a dispatcher that
 * dies, and on SIGHUP starts a new generation of dispatchers with the new
 * configuration and certificates while the old one finishes its sessions.
 */
#ifndef SEALMAIL_PARENT_H
#define SEALMAIL_PARENT_H

/* Runs the server from CONFIG_PATH. Returns the process exit status. */
int parent_main(const char *config_path, int foreground);

#endif
