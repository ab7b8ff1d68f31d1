/*
 * handle.h: a table that names objects by handles made of a slot and a
 * generation number, so that a reply coming back for an object that is gone
 * (its slot freed, perhaps reused) finds nothing instead of the wrong one.
 * The handle travels as an IPC request id. Used by the dispatcher (its
 * SMTP sessions) and the SMTP client (its connections waiting for DNS).
 */
#ifndef SEALMAIL_HANDLE_H
#define SEALMAIL_HANDLE_H

#include <stdint.h>

struct handle_table {
	struct handle_slot *slots;
	unsigned n_slots, cap_slots;
	unsigned *free_slots;
	unsigned n_free;
};

void handle_table_init(struct handle_table *t);
/* Frees the table (not the objects). */
void handle_table_free(struct handle_table *t);

/* Stores PTR (not NULL) in a free slot; returns its handle. */
uint64_t handle_table_add(struct handle_table *t, void *ptr);
/* The object HANDLE names, or NULL when it was removed. */
void *handle_table_get(const struct handle_table *t, uint64_t handle);
/* Frees HANDLE's slot; a stale handle is ignored. */
void handle_table_remove(struct handle_table *t, uint64_t handle);
/* Walks the live objects: start with *POS at 0; returns each object in
 * turn, its handle in *HANDLE_R, then NULL. */
void *handle_table_next(const struct handle_table *t, unsigned *pos, uint64_t *handle_r);

#endif
