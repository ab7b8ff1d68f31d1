/*
 * proto_store_kinds.h: every message of src/proto/store.h with a payload
 * as one table row (the layout of tests/proto_kinds.h), so that the unit
 * test (tests/unit/test_proto_store.c) and the fuzz harness
 * (tests/fuzz/fuzz_ipc_store.c) walk all of them the same way. LOGOUT
 * and CHANGED carry nothing (proto_empty_decode).
 */
#ifndef SEALMAIL_TEST_PROTO_STORE_KINDS_H
#define SEALMAIL_TEST_PROTO_STORE_KINDS_H

#include "proto/store.h"

struct proto_store_kind {
	const char *name;
	uint32_t type;
	size_t size; /* of the struct */
	void (*encode)(const void *m, struct ipc_writer *w);
	int (*decode)(void *m, const void *data, size_t len, const char **error_r);
	void (*free)(void *m);
};

#define STORE_KIND_CODEC(name)                                                                     \
	static void store_kind_encode_##name(const void *m, struct ipc_writer *w)                  \
	{                                                                                          \
		proto_store_##name##_encode((const struct proto_store_##name *)m, w);              \
	}                                                                                          \
	static int store_kind_decode_##name(void *m, const void *d, size_t l, const char **e)      \
	{                                                                                          \
		return proto_store_##name##_decode((struct proto_store_##name *)m, d, l, e);       \
	}
#define STORE_KIND_FREE(name)                                                                      \
	static void store_kind_free_##name(void *m)                                                \
	{                                                                                          \
		proto_store_##name##_free((struct proto_store_##name *)m);                         \
	}

STORE_KIND_CODEC(result)
STORE_KIND_CODEC(login)
STORE_KIND_CODEC(list)
STORE_KIND_CODEC(list_result)
STORE_KIND_FREE(list_result)
STORE_KIND_CODEC(mailbox)
STORE_KIND_CODEC(status)
STORE_KIND_CODEC(status_result)
STORE_KIND_CODEC(select)
STORE_KIND_CODEC(select_result)
STORE_KIND_FREE(select_result)
STORE_KIND_CODEC(unselect)
STORE_KIND_CODEC(fetch)
STORE_KIND_CODEC(item)
STORE_KIND_FREE(item)
STORE_KIND_CODEC(fetch_done)
STORE_KIND_FREE(fetch_done)
STORE_KIND_CODEC(flags)
STORE_KIND_CODEC(search)
STORE_KIND_FREE(search)
STORE_KIND_CODEC(search_result)
STORE_KIND_FREE(search_result)
STORE_KIND_CODEC(copy)
STORE_KIND_CODEC(append)
STORE_KIND_CODEC(expunge)
STORE_KIND_CODEC(updates)
STORE_KIND_CODEC(updates_result)
STORE_KIND_FREE(updates_result)

#define STORE_KIND(name, t)                                                                        \
	{                                                                                          \
#name, t, sizeof(struct proto_store_##name), store_kind_encode_##name,             \
		    store_kind_decode_##name, NULL                                                 \
	}
#define STORE_KIND_F(name, t)                                                                      \
	{                                                                                          \
#name, t, sizeof(struct proto_store_##name), store_kind_encode_##name,             \
		    store_kind_decode_##name, store_kind_free_##name                               \
	}

static const struct proto_store_kind proto_store_kinds[] = {
    STORE_KIND(result, IMSG_STORE_RESULT),
    STORE_KIND(login, IMSG_STORE_LOGIN),
    STORE_KIND(list, IMSG_STORE_LIST),
    STORE_KIND_F(list_result, IMSG_STORE_LIST_RESULT),
    STORE_KIND(mailbox, IMSG_STORE_MAILBOX),
    STORE_KIND(status, IMSG_STORE_STATUS),
    STORE_KIND(status_result, IMSG_STORE_STATUS_RESULT),
    STORE_KIND(select, IMSG_STORE_SELECT),
    STORE_KIND_F(select_result, IMSG_STORE_SELECT_RESULT),
    STORE_KIND(unselect, IMSG_STORE_UNSELECT),
    STORE_KIND(fetch, IMSG_STORE_FETCH),
    STORE_KIND_F(item, IMSG_STORE_FETCH_ITEM),
    STORE_KIND_F(fetch_done, IMSG_STORE_FETCH_DONE),
    STORE_KIND(flags, IMSG_STORE_FLAGS),
    STORE_KIND_F(search, IMSG_STORE_SEARCH),
    STORE_KIND_F(search_result, IMSG_STORE_SEARCH_RESULT),
    STORE_KIND(copy, IMSG_STORE_COPY),
    STORE_KIND(append, IMSG_STORE_APPEND),
    STORE_KIND(expunge, IMSG_STORE_EXPUNGE),
    STORE_KIND(updates, IMSG_STORE_UPDATES),
    STORE_KIND_F(updates_result, IMSG_STORE_UPDATES_RESULT),
};
#define PROTO_STORE_N_KINDS (sizeof(proto_store_kinds) / sizeof(proto_store_kinds[0]))

/* Large enough for any store message struct. */
union proto_store_any {
	struct proto_store_result result;
	struct proto_store_login login;
	struct proto_store_list list;
	struct proto_store_list_result list_result;
	struct proto_store_mailbox mailbox;
	struct proto_store_status status;
	struct proto_store_status_result status_result;
	struct proto_store_select select;
	struct proto_store_select_result select_result;
	struct proto_store_unselect unselect;
	struct proto_store_fetch fetch;
	struct proto_store_item item;
	struct proto_store_fetch_done fetch_done;
	struct proto_store_flags flags;
	struct proto_store_search search;
	struct proto_store_search_result search_result;
	struct proto_store_copy copy;
	struct proto_store_append append;
	struct proto_store_expunge expunge;
	struct proto_store_updates updates;
	struct proto_store_updates_result updates_result;
};

#endif
