/*
 * store_search.c: the encoder and decoder of IMSG_STORE_SEARCH, a search
 * program in prefix order (store.h); the rest of the store messages are in
 * store.c. Called by the IMAP session and the store role.
 *
 * The decoder checks the program is exactly one well-formed tree (AND
 * takes `count` subtrees, OR two, NOT one, every other key none) of at
 * most PROTO_STORE_SEARCH_NODES nodes, so the store can evaluate it by
 * recursion without checking again; and that each node's fields fit its
 * key: a field name for HEADER only, a single flag bit for FLAG/NOFLAG, a
 * count for AND only, a non-empty set or keyword where one is needed.
 */
#include "proto/store.h"

#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

/* A node on the wire: three u32, one u64 and a string length. */
#define PROTO_STORE_NODE_MIN_OCTETS 24

void proto_store_search_encode(const struct proto_store_search *m, struct ipc_writer *w)
{
	unsigned i;

	ipc_put_u32(w, m->uid);
	ipc_put_u32(w, m->n_nodes);
	for (i = 0; i < m->n_nodes; i++) {
		const struct proto_store_search_node *node = &m->nodes[i];

		ipc_put_u32(w, node->key);
		ipc_put_u32(w, node->count);
		ipc_put_u64(w, node->number);
		ipc_put_str(w, node->field);
		ipc_put_str(w, node->arg != NULL ? node->arg : "");
	}
}

/* How many subtrees follow a node of KEY with COUNT. */
static uint64_t search_children(uint32_t key, uint32_t count)
{
	switch (key) {
	case SEARCH_AND:
		return count;
	case SEARCH_OR:
		return 2;
	case SEARCH_NOT:
		return 1;
	default:
		return 0;
	}
}

/* 1 when NODE's fields fit its key (see the file comment). */
static int search_node_valid(const struct proto_store_search_node *node)
{
	int has_field = node->field[0] != '\0', has_arg = node->arg[0] != '\0';

	if (node->key > SEARCH_YOUNGER || (node->key != SEARCH_AND && node->count != 0) ||
	    (node->key == SEARCH_HEADER) != has_field)
		return 0;
	switch (node->key) {
	case SEARCH_FLAG:
	case SEARCH_NOFLAG:
		return node->number != 0 && node->number <= STORE_FLAG_RECENT &&
		       (node->number & (node->number - 1)) == 0 && !has_arg;
	case SEARCH_SEQSET:
	case SEARCH_UIDSET:
	case SEARCH_KEYWORD:
	case SEARCH_UNKEYWORD:
		return has_arg && node->number == 0;
	case SEARCH_HEADER:
	case SEARCH_BODY:
	case SEARCH_TEXT:
		return node->number == 0;
	default:
		return !has_arg && (node->number == 0 || node->key >= SEARCH_BEFORE);
	}
}

/* Reads one node into NODE; sets r->error when it is malformed. A
 * sequence or UID set may be as long as any set, other text arguments are
 * shorter. */
static void search_node_get(struct ipc_reader *r, struct proto_store_search_node *node)
{
	node->key = ipc_get_u32(r);
	node->count = ipc_get_u32(r);
	node->number = ipc_get_u64(r);
	ipc_get_str(r, node->field, sizeof(node->field));
	node->arg = ipc_get_strdup(r, node->key == SEARCH_SEQSET || node->key == SEARCH_UIDSET
	                                  ? PROTO_STORE_SET_MAX
	                                  : PROTO_STORE_SEARCH_ARG_MAX);
	if (!r->error && !search_node_valid(node))
		r->error = 1;
}

/* Reads N nodes into M->nodes, checking they form exactly one tree: NEED
 * is how many subtrees are still owed, and can never exceed the nodes
 * left. */
static void search_nodes_get(struct ipc_reader *r, struct proto_store_search *m, uint32_t n)
{
	uint64_t need = 1;
	uint32_t i;

	m->nodes = xcalloc(n, sizeof(m->nodes[0]));
	m->n_nodes = n;
	for (i = 0; i < n && !r->error; i++) {
		search_node_get(r, &m->nodes[i]);
		if (need == 0)
			r->error = 1; /* a second tree */
		if (r->error)
			break;
		need = need - 1 + search_children(m->nodes[i].key, m->nodes[i].count);
		if (need > n - i - 1)
			r->error = 1;
	}
	if (need != 0)
		r->error = 1;
}

int proto_store_search_decode(struct proto_store_search *m, const void *data, size_t len,
                              const char **error_r)
{
	struct ipc_reader r;
	uint32_t n;

	memset(m, 0, sizeof(*m));
	ipc_reader_init(&r, data, len);
	m->uid = ipc_get_u32(&r);
	n = ipc_get_u32(&r);
	if (r.error || m->uid > 1 || n == 0 || n > PROTO_STORE_SEARCH_NODES ||
	    n > r.left / PROTO_STORE_NODE_MIN_OCTETS)
		r.error = 1;
	if (!r.error)
		search_nodes_get(&r, m, n);
	if (proto_decode_done(&r, "malformed store search", error_r) < 0) {
		proto_store_search_free(m);
		return -1;
	}
	return 0;
}

void proto_store_search_free(struct proto_store_search *m)
{
	unsigned i;

	for (i = 0; m->nodes != NULL && i < m->n_nodes; i++)
		free(m->nodes[i].arg);
	free(m->nodes);
	memset(m, 0, sizeof(*m));
}
