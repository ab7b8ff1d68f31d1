/*
 * queue.c: encoders and decoders of the dispatcher <-> queue messages; see
 * queue.h. Called by daemon/dispatcher.c and the queue (src/queue/).
 */
#include "proto/queue.h"

#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

void proto_queue_pool_encode(const struct proto_queue_pool *m, struct ipc_writer *w)
{
	ipc_put_u32(w, m->count);
}

int proto_queue_pool_decode(struct proto_queue_pool *m, const void *data, size_t len,
                            const char **error_r)
{
	struct ipc_reader r;

	ipc_reader_init(&r, data, len);
	m->count = ipc_get_u32(&r);
	if (!r.error && m->count > PROTO_QUEUE_POOL_MAX)
		r.error = 1;
	if (proto_decode_done(&r, "malformed pool request", error_r) < 0) {
		memset(m, 0, sizeof(*m));
		return -1;
	}
	return 0;
}

/* The "u32 result, str text" of both replies. */
static int proto_queue_reply_decode(uint32_t *result, char *text, size_t size, const void *data,
                                    size_t len, const char *what, const char **error_r)
{
	struct ipc_reader r;

	ipc_reader_init(&r, data, len);
	*result = ipc_get_u32(&r);
	ipc_get_str(&r, text, size);
	if (!r.error && *result > QUEUE_RESULT_NO_SPACE)
		r.error = 1;
	if (proto_decode_done(&r, what, error_r) < 0) {
		*result = QUEUE_RESULT_FAILED;
		memset(text, 0, size);
		return -1;
	}
	return 0;
}

void proto_queue_pool_file_encode(const struct proto_queue_pool_file *m, struct ipc_writer *w)
{
	ipc_put_u32(w, m->result);
	ipc_put_str(w, m->id);
}

int proto_queue_pool_file_decode(struct proto_queue_pool_file *m, const void *data, size_t len,
                                 const char **error_r)
{
	return proto_queue_reply_decode(&m->result, m->id, sizeof(m->id), data, len,
	                                "malformed pool file message", error_r);
}

void proto_queue_commit_result_encode(const struct proto_queue_commit_result *m,
                                      struct ipc_writer *w)
{
	ipc_put_u32(w, m->result);
	ipc_put_str(w, m->text);
}

int proto_queue_commit_result_decode(struct proto_queue_commit_result *m, const void *data,
                                     size_t len, const char **error_r)
{
	return proto_queue_reply_decode(&m->result, m->text, sizeof(m->text), data, len,
	                                "malformed commit result", error_r);
}

void proto_envelope_encode(const struct envelope *env, struct ipc_writer *w)
{
	unsigned i;

	ipc_put_str(w, env->id);
	ipc_put_u64(w, env->time);
	ipc_put_str(w, env->sender);
	ipc_put_str(w, env->helo);
	ipc_put_str(w, env->client);
	ipc_put_str(w, env->tls);
	ipc_put_str(w, env->body);
	ipc_put_str(w, env->ret);
	ipc_put_str(w, env->envid);
	ipc_put_u32(w, env->trusted != 0);
	ipc_put_str(w, env->listener);
	ipc_put_u32(w, env->authenticated != 0);
	ipc_put_str(w, env->auth_user);
	ipc_put_u32(w, env->flags);
	ipc_put_u32(w, env->n_rcpts);
	for (i = 0; i < env->n_rcpts; i++) {
		ipc_put_str(w, env->rcpts[i].addr);
		ipc_put_str(w, env->rcpts[i].orcpt);
		ipc_put_u32(w, env->rcpts[i].notify);
	}
}

/* A recipient is at least two string lengths and a u32 on the wire. */
#define PROTO_RCPT_MIN_OCTETS 12

/* Reads an envelope into ENV (initialised here); sets r->error when it is
 * malformed or holds what the spool file cannot (queue/spool_file.c reads
 * it back at recovery). */
static void proto_envelope_get(struct ipc_reader *r, struct envelope *env)
{
	char addr[ENVELOPE_ADDR_MAX], orcpt[ENVELOPE_ADDR_MAX];
	uint32_t n, i, notify, trusted, authenticated, flags;

	envelope_init(env);
	ipc_get_str(r, env->id, sizeof(env->id));
	env->time = ipc_get_u64(r);
	ipc_get_str(r, env->sender, sizeof(env->sender));
	ipc_get_str(r, env->helo, sizeof(env->helo));
	ipc_get_str(r, env->client, sizeof(env->client));
	ipc_get_str(r, env->tls, sizeof(env->tls));
	ipc_get_str(r, env->body, sizeof(env->body));
	ipc_get_str(r, env->ret, sizeof(env->ret));
	ipc_get_str(r, env->envid, sizeof(env->envid));
	trusted = ipc_get_u32(r);
	env->trusted = trusted == 1;
	ipc_get_str(r, env->listener, sizeof(env->listener));
	authenticated = ipc_get_u32(r);
	env->authenticated = authenticated == 1;
	ipc_get_str(r, env->auth_user, sizeof(env->auth_user));
	flags = ipc_get_u32(r);
	env->flags = flags & ENVELOPE_FLAGS_ALL;
	n = ipc_get_u32(r);
	if (r->error || trusted > 1 || authenticated > 1 ||
	    (flags & ~(uint32_t)ENVELOPE_FLAGS_ALL) != 0 || n == 0 || n > ENVELOPE_MAX_RCPTS ||
	    n > r->left / PROTO_RCPT_MIN_OCTETS) {
		r->error = 1;
		return;
	}
	for (i = 0; i < n && !r->error; i++) {
		ipc_get_str(r, addr, sizeof(addr));
		ipc_get_str(r, orcpt, sizeof(orcpt));
		notify = ipc_get_u32(r);
		/* envelope_add_rcpt() drops an odd ORCPT, which no encoder
		 * writes: on the wire it is malformed */
		if (r->error || notify > ENVELOPE_NOTIFY_ALL ||
		    (orcpt[0] != '\0' && !envelope_orcpt_ok(orcpt)) ||
		    envelope_add_rcpt(env, addr, notify, orcpt) < 0)
			r->error = 1;
	}
}

int proto_envelope_decode(struct envelope *env, struct ipc_reader *r)
{
	proto_envelope_get(r, env);
	return r->error || r->left != 0 ? -1 : 0;
}

void proto_queue_commit_encode(const struct proto_queue_commit *m, struct ipc_writer *w)
{
	ipc_put_str(w, m->queue_id);
	ipc_put_u64(w, m->size);
	ipc_put_u32(w, m->crc);
	proto_envelope_encode(&m->env, w);
}

int proto_queue_commit_decode(struct proto_queue_commit *m, const void *data, size_t len,
                              const char **error_r)
{
	struct ipc_reader r;

	memset(m, 0, sizeof(*m));
	ipc_reader_init(&r, data, len);
	ipc_get_str(&r, m->queue_id, sizeof(m->queue_id));
	m->size = ipc_get_u64(&r);
	m->crc = ipc_get_u32(&r);
	proto_envelope_get(&r, &m->env);
	if (proto_decode_done(&r, "malformed commit", error_r) < 0) {
		proto_queue_commit_free(m);
		return -1;
	}
	return 0;
}

void proto_queue_commit_free(struct proto_queue_commit *m)
{
	envelope_free(&m->env);
	memset(m, 0, sizeof(*m));
}

void proto_queue_abort_encode(const struct proto_queue_abort *m, struct ipc_writer *w)
{
	ipc_put_str(w, m->queue_id);
}

int proto_queue_abort_decode(struct proto_queue_abort *m, const void *data, size_t len,
                             const char **error_r)
{
	struct ipc_reader r;

	ipc_reader_init(&r, data, len);
	ipc_get_str(&r, m->queue_id, sizeof(m->queue_id));
	if (proto_decode_done(&r, "malformed abort", error_r) < 0) {
		memset(m, 0, sizeof(*m));
		return -1;
	}
	return 0;
}

void proto_task_encode(const struct proto_task *m, struct ipc_writer *w)
{
	unsigned i;

	ipc_put_str(w, m->queue_id);
	ipc_put_str(w, m->domain);
	ipc_put_str(w, m->sender);
	ipc_put_str(w, m->body);
	ipc_put_str(w, m->ret);
	ipc_put_str(w, m->envid);
	ipc_put_u64(w, m->header_len);
	ipc_put_u64(w, m->body_len);
	ipc_put_u32(w, m->flags);
	ipc_put_u32(w, m->seen_level);
	ipc_put_u64(w, m->seen_time);
	ipc_put_u32(w, m->n_rcpts);
	for (i = 0; i < m->n_rcpts; i++) {
		ipc_put_str(w, m->rcpts[i].r.addr);
		ipc_put_str(w, m->rcpts[i].r.orcpt);
		ipc_put_u32(w, m->rcpts[i].r.notify);
		ipc_put_u32(w, m->rcpts[i].index);
	}
}

/* A task's recipient: two string lengths and two u32 at least. */
#define PROTO_TASK_RCPT_MIN_OCTETS 16

int proto_task_decode(struct proto_task *m, const void *data, size_t len, const char **error_r)
{
	struct ipc_reader r;
	uint32_t n, i;

	memset(m, 0, sizeof(*m));
	ipc_reader_init(&r, data, len);
	ipc_get_str(&r, m->queue_id, sizeof(m->queue_id));
	ipc_get_str(&r, m->domain, sizeof(m->domain));
	ipc_get_str(&r, m->sender, sizeof(m->sender));
	ipc_get_str(&r, m->body, sizeof(m->body));
	ipc_get_str(&r, m->ret, sizeof(m->ret));
	ipc_get_str(&r, m->envid, sizeof(m->envid));
	m->header_len = ipc_get_u64(&r);
	m->body_len = ipc_get_u64(&r);
	m->flags = ipc_get_u32(&r);
	m->seen_level = ipc_get_u32(&r);
	m->seen_time = ipc_get_u64(&r);
	n = ipc_get_u32(&r);
	if (r.error || n == 0 || m->seen_level > TLS_SEEN_AUTHENTICATED ||
	    (m->flags & ~(uint32_t)(ENVELOPE_FLAGS_ALL | MTA_TASK_TLS_OVERRIDE)) != 0 ||
	    n > ENVELOPE_MAX_RCPTS || n > r.left / PROTO_TASK_RCPT_MIN_OCTETS)
		r.error = 1;
	if (!r.error) {
		m->rcpts = xcalloc(n, sizeof(m->rcpts[0]));
		m->n_rcpts = n;
	}
	for (i = 0; i < m->n_rcpts && !r.error; i++) {
		ipc_get_str(&r, m->rcpts[i].r.addr, sizeof(m->rcpts[i].r.addr));
		ipc_get_str(&r, m->rcpts[i].r.orcpt, sizeof(m->rcpts[i].r.orcpt));
		m->rcpts[i].r.notify = ipc_get_u32(&r);
		m->rcpts[i].index = ipc_get_u32(&r);
		if (m->rcpts[i].r.notify > ENVELOPE_NOTIFY_ALL)
			r.error = 1;
	}
	if (proto_decode_done(&r, "malformed delivery task", error_r) < 0) {
		proto_task_free(m);
		return -1;
	}
	return 0;
}

void proto_task_free(struct proto_task *m)
{
	free(m->rcpts);
	memset(m, 0, sizeof(*m));
}

/* The report part of IMSG_MTA_RESULT. */
static void proto_report_put(struct ipc_writer *w, const struct mta_report *rep)
{
	ipc_put_str(w, rep->relay);
	ipc_put_str(w, rep->tls);
	ipc_put_str(w, rep->peer);
	ipc_put_str(w, rep->policy);
	ipc_put_u32(w, (uint32_t)rep->peer_dsn);
	ipc_put_str(w, rep->source);
	ipc_put_str(w, rep->evidence);
	ipc_put_str(w, rep->testing);
	ipc_put_str(w, rep->rpt_policy);
	ipc_put_str(w, rep->rpt_type);
	ipc_put_str(w, rep->rpt_mx);
	ipc_put_str(w, rep->rpt_ip);
	ipc_put_str(w, rep->sts_id);
	ipc_put_str(w, rep->rua);
	ipc_put_u32(w, rep->policy_blocked);
	ipc_put_u32(w, rep->peer_requiretls);
}

/* Reads the report part; sets r->error on a flag that is not 0 or 1. */
static void proto_report_get(struct ipc_reader *r, struct mta_report *rep)
{
	uint32_t dsn;

	ipc_get_str(r, rep->relay, sizeof(rep->relay));
	ipc_get_str(r, rep->tls, sizeof(rep->tls));
	ipc_get_str(r, rep->peer, sizeof(rep->peer));
	ipc_get_str(r, rep->policy, sizeof(rep->policy));
	dsn = ipc_get_u32(r);
	rep->peer_dsn = (int)dsn;
	ipc_get_str(r, rep->source, sizeof(rep->source));
	ipc_get_str(r, rep->evidence, sizeof(rep->evidence));
	ipc_get_str(r, rep->testing, sizeof(rep->testing));
	ipc_get_str(r, rep->rpt_policy, sizeof(rep->rpt_policy));
	ipc_get_str(r, rep->rpt_type, sizeof(rep->rpt_type));
	ipc_get_str(r, rep->rpt_mx, sizeof(rep->rpt_mx));
	ipc_get_str(r, rep->rpt_ip, sizeof(rep->rpt_ip));
	ipc_get_str(r, rep->sts_id, sizeof(rep->sts_id));
	ipc_get_str(r, rep->rua, sizeof(rep->rua));
	rep->policy_blocked = ipc_get_u32(r);
	rep->peer_requiretls = ipc_get_u32(r);
	if (dsn > 1 || rep->policy_blocked > 1 || rep->peer_requiretls > 1)
		r->error = 1;
}

void proto_task_result_encode(const struct proto_task_result *m, struct ipc_writer *w)
{
	unsigned i;

	proto_report_put(w, &m->report);
	ipc_put_u32(w, m->n_rcpts);
	for (i = 0; i < m->n_rcpts; i++) {
		ipc_put_u32(w, m->rcpts[i].index);
		ipc_put_u32(w, m->rcpts[i].outcome);
		ipc_put_str(w, m->rcpts[i].status.enhanced);
		ipc_put_u32(w, m->rcpts[i].status.reply_code);
		ipc_put_str(w, m->rcpts[i].status.text);
	}
}

/* An outcome: three u32 and two string lengths at least. */
#define PROTO_OUTCOME_MIN_OCTETS 20

/* Reads one recipient's outcome; sets r->error when it is not one the
 * queue can store. */
static void proto_task_outcome_get(struct ipc_reader *r, struct proto_task_outcome *o)
{
	o->index = ipc_get_u32(r);
	o->outcome = ipc_get_u32(r);
	ipc_get_str(r, o->status.enhanced, sizeof(o->status.enhanced));
	o->status.reply_code = ipc_get_u32(r);
	ipc_get_str(r, o->status.text, sizeof(o->status.text));
	if (o->outcome > MTA_PERMFAIL ||
	    (o->status.enhanced[0] != '\0' && !delivery_enhanced_valid(o->status.enhanced)) ||
	    !delivery_reply_code_valid(o->status.reply_code))
		r->error = 1;
}

int proto_task_result_decode(struct proto_task_result *m, const void *data, size_t len,
                             const char **error_r)
{
	struct ipc_reader r;
	uint32_t n, i;

	memset(m, 0, sizeof(*m));
	ipc_reader_init(&r, data, len);
	proto_report_get(&r, &m->report);
	n = ipc_get_u32(&r);
	if (r.error || n > ENVELOPE_MAX_RCPTS || n > r.left / PROTO_OUTCOME_MIN_OCTETS)
		r.error = 1;
	if (!r.error && n > 0) {
		m->rcpts = xcalloc(n, sizeof(m->rcpts[0]));
		m->n_rcpts = n;
	}
	for (i = 0; i < m->n_rcpts && !r.error; i++)
		proto_task_outcome_get(&r, &m->rcpts[i]);
	if (proto_decode_done(&r, "malformed delivery result", error_r) < 0) {
		proto_task_result_free(m);
		return -1;
	}
	return 0;
}

void proto_task_result_free(struct proto_task_result *m)
{
	free(m->rcpts);
	memset(m, 0, sizeof(*m));
}

int proto_queue_retiring_decode(const void *data, size_t len, const char **error_r)
{
	return proto_empty_decode(len, "unexpected payload in a retiring message", error_r);
}
