/*
 * lookup.c: the lookup role's event loop. The users file is looked at again
 * (a stat) before each answer, so edits apply without a restart.
 */
#include "lookup/lookup.h"

#include <errno.h>
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
	int users_error_logged;
};

/* Makes sure the users file is current; logs a failure once. */
static int lookup_refresh_users(struct lookup *l)
{
	int r = users_db_refresh(&l->users, l->cfg.users);

	if (r < 0) {
		if (!l->users_error_logged)
			log_error("event=users-file-error file=%s reason=\"%s\"", l->cfg.users,
				  strerror(errno));
		l->users_error_logged = 1;
		return l->users.addresses != NULL ? 0 : -1;
	}
	if (r == 1)
		log_info("event=users-loaded file=%s users=%zu", l->cfg.users, l->users.n);
	l->users_error_logged = 0;
	return 0;
}

static enum lookup_result lookup_rcpt(struct lookup *l, const char *address)
{
	const char *at = strrchr(address, '@');

	if (at == NULL || !config_is_local_domain(&l->cfg, at + 1))
		return LOOKUP_NOT_LOCAL;
	if (lookup_refresh_users(l) < 0)
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
	if (type == IMSG_CTL_CONFIG && len == sizeof(l->cfg)) {
		memcpy(&l->cfg, data, len);
		users_db_free(&l->users);
	}
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
	lookup_refresh_users(l);
	event_base_dispatch(l->base);
	return 0;
}
