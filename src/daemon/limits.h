/*
 * limits.h: connection counts shared by every dispatcher, so the limits in
 * total and per client address hold for the server as a whole.
 *
 * A shared anonymous mapping made by the parent before it forks. Each
 * dispatcher writes only its own slot (no locking needed); a check reads
 * every slot. Client addresses are hashed into buckets with a random key;
 * two addresses sharing a bucket share its count, which errs on the side of
 * refusing.
 */
#ifndef SEALMAIL_LIMITS_H
#define SEALMAIL_LIMITS_H

#include <stdint.h>
#include <sys/socket.h>

#define CONN_LIMITS_SLOTS 160
#define CONN_LIMITS_BUCKETS 4096

struct conn_limits;

struct conn_limits *conn_limits_new(void);
/* Counts a new connection of SA in SLOT if both limits allow it. Returns 0,
 * or -1 with *which_r "total" or "per-client". SA NULL (a client under no
 * per-client limit) counts in the total only: counted under its address
 * it would fill the bucket that other addresses share with it. */
int conn_limits_acquire(struct conn_limits *cl, unsigned slot, const struct sockaddr *sa,
                        unsigned max_total, unsigned max_per_client, const char **which_r);
/* Gives back a connection counted with SA (the same, or NULL). */
void conn_limits_release(struct conn_limits *cl, unsigned slot, const struct sockaddr *sa);
/* Forgets what a dead dispatcher counted. */
void conn_limits_clear_slot(struct conn_limits *cl, unsigned slot);

#endif
