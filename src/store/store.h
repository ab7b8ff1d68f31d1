/*
 * store.h: the store role (DESIGN section 3), the one process that owns the
 * users' Maildirs and their indexes. Dispatchers' IMAP and POP3 sessions
 * ask it over the typed messages of proto/store.h; the parent hands it one
 * channel per dispatcher (IMSG_CTL_ADD_CHANNEL) and the configuration text
 * on reload (IMSG_CTL_CONFIG), as it does for the queue.
 *
 * store_main() runs the role with data_dir as its working directory (and,
 * as root, chrooted there): mail lives in mail/DOMAIN/LOCAL/.
 *
 * The rest of this header is the role without its channels, for the unit
 * tests: a store over an event base, peers whose replies go to a callback,
 * and requests handed in as the channel would hand them.
 */
#ifndef SEALMAIL_STORE_H
#define SEALMAIL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/ipc.h"

struct config;
struct event_base;
struct store;
struct store_peer;

/* Runs the store role until the parent goes away or SIGTERM; returns 0. */
int store_main(const struct config *cfg, int parent_fd);

/* Where a peer's replies go: TYPE and ID of proto/store.h, the payload in W
 * (to be freed by the callee, as proto_send() does) and FD (given away, or
 * -1). */
typedef void store_send_fn(void *arg, uint32_t type, uint64_t id, struct ipc_writer *w, int fd);

/* A store over BASE (for the inotify watch and its timer) with CFG, which
 * must outlive it; the working directory is the data directory. */
struct store *store_new(struct event_base *base, const struct config *cfg);
void store_free(struct store **s);

/* A dispatcher: its sessions live until LOGOUT or store_peer_free(). */
struct store_peer *store_peer_new(struct store *s, store_send_fn *send, void *arg);
void store_peer_free(struct store_peer **p);

/* One request from PEER, as its channel delivers it; FD (or -1) is taken. */
void store_request(struct store_peer *p, uint32_t type, uint64_t id, const void *data, size_t len,
                   int fd);

/* Handles what inotify reported at once instead of after the short delay
 * that coalesces bursts of deliveries (tests). */
void store_watch_flush(struct store *s);

#endif
