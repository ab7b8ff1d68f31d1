/*
 * lookup.h: the lookup role. It answers the dispatchers' questions that
 * need files the dispatcher may not read: for now, whether a recipient is a
 * local user. Later also password checks, DNS and TLS policy.
 */
#ifndef SEALMAIL_LOOKUP_H
#define SEALMAIL_LOOKUP_H

struct config;

/* Runs until the parent goes away. Dispatcher channels arrive over
 * PARENT_FD. */
int lookup_main(const struct config *cfg, int parent_fd);

#endif
