/*
 * parent_listen.h: the sockets the parent binds before any role forks:
 * every [listen NAME] and the local submission socket.
 */
#ifndef SEALMAIL_PARENT_LISTEN_H
#define SEALMAIL_PARENT_LISTEN_H

#include "conf/config.h"

/* Binds every listener of CFG into FDS, reusing a socket of OLD_CFG/OLD_FDS
 * with the same address. Returns 0, or -1 after closing what it bound. */
int parent_bind_all(const struct config *cfg, int *fds, const struct config *old_cfg,
                    const int *old_fds);
/* The local submission socket (`sealmail send`): any local user may
 * connect; the dispatcher learns who from the kernel. Returns the socket or
 * -1 (logged: local injection is then unavailable, the server runs on). */
int parent_bind_local(const struct config *cfg, int root);

#endif
