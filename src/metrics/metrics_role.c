/*
 * metrics_role.c: see metrics_role.h.
 *
 * libmicrohttpd runs its own polling thread: this process has nothing
 * else to wait for (no channel to another role, no timer), so the main
 * thread only waits for the signal that ends it. Driving MHD from an
 * event loop instead (MHD_get_fdset, MHD_get_timeout, MHD_run) would
 * buy nothing here and add the code that re-arms its sockets every turn.
 * The counters are read with relaxed loads while the roles write them:
 * a scrape may see one counter a moment newer than its neighbour, which
 * Prometheus tolerates, and never a torn value (aligned 64-bit words).
 */
#include "metrics/metrics_role.h"

#include <microhttpd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "metrics/metrics_render.h"

struct metrics_role {
	const void *region;
	const struct metrics_block *blocks[METRICS_BLOCKS];
};

static enum MHD_Result metrics_reply(struct MHD_Connection *conn, unsigned status, const char *text,
                                     const char *allow)
{
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result r;

	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (allow != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result metrics_page(struct metrics_role *m, struct MHD_Connection *conn)
{
	struct metrics_view v = {
	    .header = m->region,
	    .blocks = m->blocks,
	    .n_blocks = METRICS_BLOCKS,
	    .queue = m->blocks[METRICS_BLOCK_QUEUE],
	    .now = (uint64_t)time(NULL),
	    .version = SEALMAIL_VERSION,
	};
	struct MHD_Response *resp;
	enum MHD_Result r;
	size_t len;
	char *page = metrics_render(&v, &len);

	if (page == NULL)
		return metrics_reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", NULL);
	resp = MHD_create_response_from_buffer(len, page, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(page);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, METRICS_CONTENT_TYPE);
	r = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return r;
}

/* Every request: GET (or HEAD) /metrics, nothing else. A request body is
 * never read: the answer goes out on the first call and MHD closes the
 * connection after it. */
static enum MHD_Result metrics_answer(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
	if (strcmp(url, "/metrics") != 0)
		return metrics_reply(conn, MHD_HTTP_NOT_FOUND, "not found; try /metrics\n", NULL);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return metrics_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n", "GET, HEAD");
	return metrics_page(cls, conn);
}

/* Waits for SIGTERM or SIGINT (blocked in every thread). */
static void metrics_wait_for_end(void)
{
	sigset_t set;
	int sig = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	do
		sigwait(&set, &sig);
	while (sig != SIGTERM && sig != SIGINT);
}

int metrics_role_main(int listen_fd, const void *region)
{
	struct metrics_role *m = calloc(1, sizeof(*m));
	struct MHD_Daemon *d;
	sigset_t set;

	if (m == NULL)
		return 1;
	m->region = region;
	for (unsigned i = 0; i < METRICS_BLOCKS; i++)
		m->blocks[i] = metrics_block_at((void *)region, i);
	/* the MHD thread inherits the mask: the signals come to sigwait */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	d = MHD_start_daemon(MHD_USE_POLL_INTERNAL_THREAD, 0, NULL, NULL, metrics_answer, m,
	                     MHD_OPTION_LISTEN_SOCKET, listen_fd, MHD_OPTION_CONNECTION_LIMIT,
	                     (unsigned)METRICS_HTTP_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	                     (unsigned)METRICS_HTTP_CONNECTIONS_PER_IP,
	                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_HTTP_TIMEOUT,
	                     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)METRICS_HTTP_MEMORY,
	                     MHD_OPTION_END);
	if (d == NULL) {
		log_error("event=metrics-error reason=\"the HTTP server did not start\"");
		return 1;
	}
	log_info("event=metrics-ready");
	metrics_wait_for_end();
	MHD_stop_daemon(d);
	free(m);
	return 0;
}
