/*
 * check_conn.h: one blocking SMTP client connection with deadlines, for
 * `sealmail tls-check` (ctl/tls_check.c): connect, read a reply, send a
 * command, switch to TLS through lib/tls_probe.h. Not the delivery
 * client (smtp/mta_session.c), which runs on the event loop; this one
 * only looks.
 */
#ifndef SEALMAIL_CHECK_CONN_H
#define SEALMAIL_CHECK_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "lib/tls_probe.h"
#include "smtp/smtp_reply.h"

#define CHECK_CONN_INPUT 8192 /* octets buffered */

struct check_conn {
	int fd;
	struct tls_probe *tls;  /* after STARTTLS */
	uint64_t deadline_usec; /* of the step under way */
	char in[CHECK_CONN_INPUT];
	size_t len;
	struct smtp_reply_parser parser;
};

/* Connects to ADDR (an IPv4 or IPv6 literal) port PORT within SECONDS.
 * Returns 0, or -1 with *error_r. */
int check_conn_open(struct check_conn *c, const char *addr, unsigned port, unsigned seconds,
                    const char **error_r);
/* The next step must end within SECONDS. */
void check_conn_deadline(struct check_conn *c, unsigned seconds);
/* Reads one reply. Returns 0, or -1 with *error_r. */
int check_conn_reply(struct check_conn *c, struct smtp_reply *reply, const char **error_r);
/* Sends LINE and CRLF. Returns 0, or -1 with *error_r. */
int check_conn_send(struct check_conn *c, const char *line, const char **error_r);
/* After "220" to STARTTLS: whatever the server sent with it is dropped
 * (RFC 3207 5: none of it may be trusted; returns how many octets), and
 * the handshake of lib/tls_probe.h runs. Returns 0, or -1 with *error_r. */
int check_conn_starttls(struct check_conn *c, struct tls_client *client,
                        const struct tls_probe_params *params, struct tls_probe_result *result,
                        size_t *dropped_r, const char **error_r);
/* Closes (close_notify for TLS, not awaited). */
void check_conn_close(struct check_conn *c);

#endif
