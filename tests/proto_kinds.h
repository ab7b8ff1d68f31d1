/*
 * proto_kinds.h: every IPC message of src/proto/ as one table row (its
 * type, struct size, encoder, decoder, free), so that the unit test
 * (tests/unit/test_proto.c) and the fuzz harness (tests/fuzz/fuzz_proto.c)
 * walk all of them the same way. Messages without payload have no encoder.
 */
#ifndef SEALMAIL_TEST_PROTO_KINDS_H
#define SEALMAIL_TEST_PROTO_KINDS_H

#include "proto/ctl.h"
#include "proto/lookup.h"
#include "proto/queue.h"

struct proto_kind {
	const char *name;
	uint32_t type;
	size_t size; /* of the struct; 0 for a message without payload */
	void (*encode)(const void *m, struct ipc_writer *w);
	int (*decode)(void *m, const void *data, size_t len, const char **error_r);
	void (*free)(void *m);
};

#define PROTO_KIND_CODEC(name, type_)                                                              \
	static void proto_kind_encode_##name(const void *m, struct ipc_writer *w)                  \
	{                                                                                          \
		proto_##name##_encode((const struct type_ *)m, w);                                 \
	}                                                                                          \
	static int proto_kind_decode_##name(void *m, const void *d, size_t l, const char **e)      \
	{                                                                                          \
		return proto_##name##_decode((struct type_ *)m, d, l, e);                          \
	}
#define PROTO_KIND_FREE(name, type_)                                                               \
	static void proto_kind_free_##name(void *m)                                                \
	{                                                                                          \
		proto_##name##_free((struct type_ *)m);                                            \
	}
#define PROTO_KIND_EMPTY(name)                                                                     \
	static int proto_kind_decode_##name(void *m, const void *d, size_t l, const char **e)      \
	{                                                                                          \
		(void)m;                                                                           \
		return proto_##name##_decode(d, l, e);                                             \
	}

PROTO_KIND_CODEC(lookup_rcpt, proto_lookup_rcpt)
PROTO_KIND_CODEC(lookup_rcpt_result, proto_lookup_rcpt_result)
PROTO_KIND_FREE(lookup_rcpt_result, proto_lookup_rcpt_result)
PROTO_KIND_CODEC(auth_check, proto_auth_check)
PROTO_KIND_CODEC(auth_result, proto_auth_result)
PROTO_KIND_FREE(auth_result, proto_auth_result)
PROTO_KIND_CODEC(lookup_hosts, proto_lookup_hosts)
PROTO_KIND_CODEC(lookup_hosts_result, proto_lookup_hosts_result)
PROTO_KIND_FREE(lookup_hosts_result, proto_lookup_hosts_result)
PROTO_KIND_EMPTY(lookup_forget)
PROTO_KIND_CODEC(queue_pool, proto_queue_pool)
PROTO_KIND_CODEC(queue_pool_file, proto_queue_pool_file)
PROTO_KIND_CODEC(queue_commit, proto_queue_commit)
PROTO_KIND_FREE(queue_commit, proto_queue_commit)
PROTO_KIND_CODEC(queue_commit_result, proto_queue_commit_result)
PROTO_KIND_CODEC(queue_abort, proto_queue_abort)
PROTO_KIND_CODEC(task, proto_task)
PROTO_KIND_FREE(task, proto_task)
PROTO_KIND_CODEC(task_result, proto_task_result)
PROTO_KIND_FREE(task_result, proto_task_result)
PROTO_KIND_EMPTY(queue_retiring)
PROTO_KIND_EMPTY(ctl_add_channel)
PROTO_KIND_CODEC(ctl_config, proto_ctl_config)
PROTO_KIND_CODEC(ctl_file, proto_ctl_file)

#define PROTO_KIND(name, type_, t, f)                                                              \
	{                                                                                          \
#name, t, sizeof(struct type_), proto_kind_encode_##name,                          \
		    proto_kind_decode_##name, f                                                    \
	}
#define PROTO_KIND_NOPAYLOAD(name, t)                                                              \
	{                                                                                          \
#name, t, 0, NULL, proto_kind_decode_##name, NULL                                  \
	}

static const struct proto_kind proto_kinds[] = {
    PROTO_KIND(lookup_rcpt, proto_lookup_rcpt, IMSG_LOOKUP_RCPT, NULL),
    PROTO_KIND(lookup_rcpt_result, proto_lookup_rcpt_result, IMSG_LOOKUP_RCPT_RESULT,
               proto_kind_free_lookup_rcpt_result),
    PROTO_KIND(auth_check, proto_auth_check, IMSG_AUTH_CHECK, NULL),
    PROTO_KIND(auth_result, proto_auth_result, IMSG_AUTH_RESULT, proto_kind_free_auth_result),
    PROTO_KIND(lookup_hosts, proto_lookup_hosts, IMSG_LOOKUP_HOSTS, NULL),
    PROTO_KIND(lookup_hosts_result, proto_lookup_hosts_result, IMSG_LOOKUP_HOSTS_RESULT,
               proto_kind_free_lookup_hosts_result),
    PROTO_KIND_NOPAYLOAD(lookup_forget, IMSG_LOOKUP_FORGET),
    PROTO_KIND(queue_pool, proto_queue_pool, IMSG_QUEUE_POOL, NULL),
    PROTO_KIND(queue_pool_file, proto_queue_pool_file, IMSG_QUEUE_POOL_FILE, NULL),
    PROTO_KIND(queue_commit, proto_queue_commit, IMSG_QUEUE_COMMIT, proto_kind_free_queue_commit),
    PROTO_KIND(queue_commit_result, proto_queue_commit_result, IMSG_QUEUE_COMMIT_RESULT, NULL),
    PROTO_KIND(queue_abort, proto_queue_abort, IMSG_QUEUE_ABORT, NULL),
    PROTO_KIND(task, proto_task, IMSG_MTA_DELIVER, proto_kind_free_task),
    PROTO_KIND(task_result, proto_task_result, IMSG_MTA_RESULT, proto_kind_free_task_result),
    PROTO_KIND_NOPAYLOAD(queue_retiring, IMSG_DISPATCHER_RETIRING),
    PROTO_KIND_NOPAYLOAD(ctl_add_channel, IMSG_CTL_ADD_CHANNEL),
    PROTO_KIND(ctl_config, proto_ctl_config, IMSG_CTL_CONFIG, NULL),
    PROTO_KIND(ctl_file, proto_ctl_file, IMSG_CTL_USERS, NULL),
};
#define PROTO_N_KINDS (sizeof(proto_kinds) / sizeof(proto_kinds[0]))

#endif
