/*
 * metrics_role.h: the metrics role. It serves GET /metrics over plain
 * HTTP (libmicrohttpd) on the one socket the parent bound for it, from
 * the counters the other roles keep in shared memory (proto/metrics.h),
 * which it maps read-only. It opens no other socket, no file, and talks
 * to no other role: there is nothing it could be asked to do but render
 * numbers.
 */
#ifndef SEALMAIL_METRICS_ROLE_H
#define SEALMAIL_METRICS_ROLE_H

/* Bounds on the HTTP side: Prometheus scrapes with one connection. */
#define METRICS_HTTP_CONNECTIONS 16       /* at once, in total */
#define METRICS_HTTP_CONNECTIONS_PER_IP 4 /* at once, per client address */
#define METRICS_HTTP_TIMEOUT 10           /* seconds a connection may idle */
#define METRICS_HTTP_MEMORY (16 * 1024)   /* octets of request per connection */

/* Serves on LISTEN_FD from REGION (read-only, metrics_region_size()
 * octets) until SIGTERM or SIGINT. Returns the exit status. */
int metrics_role_main(int listen_fd, const void *region);

#endif
