/*
 * lookup.c: the lookup role's event loop. The users file arrives from the
 * parent whenever it changes, so edits apply without a restart.
 */
#include "lookup/lookup.h"

#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/config.h"
#include "daemon/proto.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/util.h"
#include "lookup/users.h"
#include "queue/envelope.h"

struct lookup {
	struct config cfg;
	struct event_base *base;
	struct users_db users;
	int users_loaded;
};

static void lookup_users_warn(unsigned line, const char *reason, void *arg)
{
	const struct lookup *l = arg;

	log_warn("event=users-file-error file=%s line=%u reason=\"%s\"", l->cfg.users, line,
	         reason);
}

/* IMSG_CTL_USERS: the parent read the users file anew. */
static void lookup_users_update(struct lookup *l, uint64_t id, const char *text, size_t len)
{
	char *copy;

	if (id == 1) {
		log_error("event=users-file-error file=%s reason=\"cannot be read; keeping the "
		          "previous contents\"",
		          l->cfg.users);
		return;
	}
	copy = xmalloc(len + 1);
	memcpy(copy, text, len);
	copy[len] = '\0';
	users_db_free(&l->users);
	users_db_parse(&l->users, copy, lookup_users_warn, l);
	l->users_loaded = 1;
	free(copy);
	log_info("event=users-loaded file=%s users=%zu", l->cfg.users, l->users.n);
}

static enum lookup_result lookup_rcpt(struct lookup *l, const char *address)
{
	const char *at = strrchr(address, '@');

	if (at == NULL || !config_is_local_domain(&l->cfg, at + 1))
		return LOOKUP_NOT_LOCAL;
	if (!l->users_loaded)
		return LOOKUP_TEMPFAIL;
	return users_db_contains(&l->users, address) ? LOOKUP_OK : LOOKUP_UNKNOWN_USER;
}

static void lookup_peer_handler(struct ipc_channel *ch, uint32_t type, uint64_t id,
                                const void *data, size_t len, int fd, void *arg)
{
	struct lookup *l = *(struct lookup **)arg;
	char address[ENVELOPE_ADDR_MAX];
	struct ipc_reader r;
	uint32_t result;

	if (fd >= 0)
		close(fd);
	if (type != IMSG_LOOKUP_RCPT) {
		log_error("event=ipc-error reason=\"unexpected message %u from dispatcher\"", type);
		return;
	}
	ipc_reader_init(&r, data, len);
	ipc_get_str(&r, address, sizeof(address));
	result = ipc_reader_done(&r) == 0 ? lookup_rcpt(l, address) : LOOKUP_TEMPFAIL;
	ipc_send(ch, IMSG_LOOKUP_RCPT_RESULT, id, &result, sizeof(result), -1);
}

static void lookup_peer_closed(struct ipc_channel *ch, void *arg)
{
	ipc_channel_free(&ch);
	free(arg);
}

static void lookup_parent_handler(struct ipc_channel *ch, uint32_t type, uint64_t id,
                                  const void *data, size_t len, int fd, void *arg)
{
	struct lookup *l = arg;

	if (type == IMSG_CTL_ADD_CHANNEL && fd >= 0) {
		struct lookup **ctx = xmalloc(sizeof(*ctx));
		*ctx = l;
		ipc_channel_new(l->base, fd, lookup_peer_handler, lookup_peer_closed, ctx);
		return;
	}
	if (type == IMSG_CTL_CONFIG && len == sizeof(l->cfg))
		memcpy(&l->cfg, data, len);
	if (type == IMSG_CTL_USERS)
		lookup_users_update(l, id, data, len);
	if (fd >= 0)
		close(fd);
}

static void lookup_parent_closed(struct ipc_channel *ch, void *arg)
{
	struct lookup *l = arg;

	event_base_loopexit(l->base, NULL);
}

static void lookup_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct lookup *l = arg;

	event_base_loopexit(l->base, NULL);
}

int lookup_main(const struct config *cfg, int parent_fd)
{
	struct lookup *l = xcalloc(1, sizeof(*l));
	struct event *ev_term, *ev_int;

	memcpy(&l->cfg, cfg, sizeof(l->cfg));
	l->base = event_base_new();
	ev_term = evsignal_new(l->base, SIGTERM, lookup_signal_cb, l);
	ev_int = evsignal_new(l->base, SIGINT, lookup_signal_cb, l);
	event_add(ev_term, NULL);
	event_add(ev_int, NULL);
	ipc_channel_new(l->base, parent_fd, lookup_parent_handler, lookup_parent_closed, l);
	event_base_dispatch(l->base);
	return 0;
}
