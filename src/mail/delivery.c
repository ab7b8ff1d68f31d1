/*
 * delivery.c: how delivery tasks and their results travel between the queue
 * and the dispatcher (IMSG_MTA_DELIVER, IMSG_MTA_RESULT); see delivery.h.
 */
#include "mail/delivery.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/ipc.h"
#include "lib/util.h"

void delivery_status_set(struct delivery_status *st, const char *enhanced, unsigned reply_code,
                         const char *text)
{
	memset(st, 0, sizeof(*st));
	if (delivery_enhanced_valid(enhanced))
		strlcpy_checked(st->enhanced, enhanced, sizeof(st->enhanced));
	st->reply_code = reply_code;
	/* a text that does not fit is cut, not refused */
	(void)strlcpy_checked(st->text, text, sizeof(st->text));
}

int delivery_enhanced_valid(const char *s)
{
	size_t n;

	if (s == NULL || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return 0;
	s += 2;
	for (int part = 0; part < 2; part++) {
		for (n = 0; n < 3 && s[n] >= '0' && s[n] <= '9'; n++)
			;
		if (n == 0 || s[n] != (part == 0 ? '.' : '\0'))
			return 0;
		s += n + 1;
	}
	return 1;
}

int delivery_reply_code_valid(unsigned code)
{
	return code == 0 || (code >= 200 && code <= 599);
}

void mta_task_free(struct mta_task *task)
{
	if (task == NULL)
		return;
	if (task->fd >= 0)
		close(task->fd);
	free(task->rcpts);
	free(task);
}

void mta_task_encode(const struct mta_task *t, struct ipc_writer *w)
{
	unsigned i;

	ipc_put_str(w, t->queue_id);
	ipc_put_str(w, t->domain);
	ipc_put_str(w, t->sender);
	ipc_put_str(w, t->body);
	ipc_put_str(w, t->ret);
	ipc_put_str(w, t->envid);
	ipc_put_u64(w, t->header_len);
	ipc_put_u64(w, t->body_len);
	ipc_put_u32(w, t->n_rcpts);
	for (i = 0; i < t->n_rcpts; i++) {
		ipc_put_str(w, t->rcpts[i].r.addr);
		ipc_put_str(w, t->rcpts[i].r.orcpt);
		ipc_put_u32(w, t->rcpts[i].r.notify);
		ipc_put_u32(w, t->rcpts[i].index);
	}
}

struct mta_task *mta_task_decode(uint64_t id, const void *data, size_t len, int fd)
{
	struct mta_task *t = xcalloc(1, sizeof(*t));
	struct ipc_reader r;
	uint32_t n, i;

	t->id = id;
	t->fd = fd;
	ipc_reader_init(&r, data, len);
	ipc_get_str(&r, t->queue_id, sizeof(t->queue_id));
	ipc_get_str(&r, t->domain, sizeof(t->domain));
	ipc_get_str(&r, t->sender, sizeof(t->sender));
	ipc_get_str(&r, t->body, sizeof(t->body));
	ipc_get_str(&r, t->ret, sizeof(t->ret));
	ipc_get_str(&r, t->envid, sizeof(t->envid));
	t->header_len = ipc_get_u64(&r);
	t->body_len = ipc_get_u64(&r);
	n = ipc_get_u32(&r);
	if (r.error || n == 0 || n > ENVELOPE_MAX_RCPTS || fd < 0) {
		mta_task_free(t);
		return NULL;
	}
	t->rcpts = xcalloc(n, sizeof(t->rcpts[0]));
	t->n_rcpts = n;
	for (i = 0; i < n; i++) {
		ipc_get_str(&r, t->rcpts[i].r.addr, sizeof(t->rcpts[i].r.addr));
		ipc_get_str(&r, t->rcpts[i].r.orcpt, sizeof(t->rcpts[i].r.orcpt));
		t->rcpts[i].r.notify = ipc_get_u32(&r);
		t->rcpts[i].index = ipc_get_u32(&r);
	}
	if (ipc_reader_done(&r) < 0) {
		mta_task_free(t);
		return NULL;
	}
	return t;
}

void mta_result_encode(const struct mta_task *t, struct ipc_writer *w)
{
	unsigned i;

	ipc_put_str(w, t->report.relay);
	ipc_put_str(w, t->report.tls);
	ipc_put_str(w, t->report.peer);
	ipc_put_str(w, t->report.policy);
	ipc_put_u32(w, (uint32_t)t->report.peer_dsn);
	ipc_put_u32(w, t->n_rcpts);
	for (i = 0; i < t->n_rcpts; i++) {
		ipc_put_u32(w, t->rcpts[i].index);
		ipc_put_u32(w, t->rcpts[i].outcome);
		ipc_put_str(w, t->rcpts[i].status.enhanced);
		ipc_put_u32(w, t->rcpts[i].status.reply_code);
		ipc_put_str(w, t->rcpts[i].status.text);
	}
}

int mta_result_decode(struct mta_task *t, const void *data, size_t len)
{
	struct ipc_reader r;
	uint32_t n, i, j;

	ipc_reader_init(&r, data, len);
	ipc_get_str(&r, t->report.relay, sizeof(t->report.relay));
	ipc_get_str(&r, t->report.tls, sizeof(t->report.tls));
	ipc_get_str(&r, t->report.peer, sizeof(t->report.peer));
	ipc_get_str(&r, t->report.policy, sizeof(t->report.policy));
	t->report.peer_dsn = (int)ipc_get_u32(&r);
	n = ipc_get_u32(&r);
	if (r.error || n != t->n_rcpts)
		return -1;
	for (i = 0; i < n; i++) {
		struct mta_rcpt got;
		memset(&got, 0, sizeof(got));
		got.index = ipc_get_u32(&r);
		got.outcome = (enum mta_outcome)ipc_get_u32(&r);
		ipc_get_str(&r, got.status.enhanced, sizeof(got.status.enhanced));
		got.status.reply_code = ipc_get_u32(&r);
		ipc_get_str(&r, got.status.text, sizeof(got.status.text));
		if (r.error || got.outcome > MTA_PERMFAIL ||
		    (got.status.enhanced[0] != '\0' && !delivery_enhanced_valid(got.status.enhanced)) ||
		    !delivery_reply_code_valid(got.status.reply_code))
			return -1;
		for (j = 0; j < t->n_rcpts; j++)
			if (t->rcpts[j].index == got.index) {
				t->rcpts[j].outcome = got.outcome;
				t->rcpts[j].status = got.status;
			}
	}
	return ipc_reader_done(&r);
}
