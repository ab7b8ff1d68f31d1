/*
 * handle.c: see handle.h. A handle is (generation << 32) | slot; removing
 * an object bumps its slot's generation, so old handles stop matching.
 */
#include "lib/handle.h"

#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

struct handle_slot {
	void *ptr;
	uint32_t generation;
};

void handle_table_init(struct handle_table *t)
{
	memset(t, 0, sizeof(*t));
}

void handle_table_free(struct handle_table *t)
{
	free(t->slots);
	free(t->free_slots);
	memset(t, 0, sizeof(*t));
}

uint64_t handle_table_add(struct handle_table *t, void *ptr)
{
	unsigned slot;

	if (t->n_free > 0) {
		slot = t->free_slots[--t->n_free];
	} else {
		if (t->n_slots == t->cap_slots) {
			t->cap_slots = t->cap_slots ? t->cap_slots * 2 : 64;
			t->slots = xrealloc(t->slots, t->cap_slots * sizeof(t->slots[0]));
			t->free_slots = xrealloc(t->free_slots, t->cap_slots * sizeof(unsigned));
		}
		slot = t->n_slots++;
		t->slots[slot].generation = 0;
	}
	t->slots[slot].ptr = ptr;
	return ((uint64_t)t->slots[slot].generation << 32) | slot;
}

void *handle_table_get(const struct handle_table *t, uint64_t handle)
{
	unsigned slot = (unsigned)(handle & 0xffffffffu);

	if (slot >= t->n_slots || t->slots[slot].generation != (uint32_t)(handle >> 32))
		return NULL;
	return t->slots[slot].ptr;
}

void handle_table_remove(struct handle_table *t, uint64_t handle)
{
	unsigned slot = (unsigned)(handle & 0xffffffffu);

	if (handle_table_get(t, handle) == NULL)
		return;
	t->slots[slot].ptr = NULL;
	t->slots[slot].generation++;
	t->free_slots[t->n_free++] = slot;
}

void *handle_table_next(const struct handle_table *t, unsigned *pos, uint64_t *handle_r)
{
	for (; *pos < t->n_slots; (*pos)++) {
		unsigned slot = *pos;
		if (t->slots[slot].ptr == NULL)
			continue;
		(*pos)++;
		*handle_r = ((uint64_t)t->slots[slot].generation << 32) | slot;
		return t->slots[slot].ptr;
	}
	return NULL;
}
