/*
 * dispatcher.h: the dispatcher role, where every network session runs. It
 * accepts on the listening sockets the parent bound, runs SMTP, IMAP
 * and POP3 sessions, and relays their questions to the lookup, queue and
 * store roles.
 */
#ifndef SEALMAIL_DISPATCHER_H
#define SEALMAIL_DISPATCHER_H

struct config;
struct conn_limits;
struct tls_cert_set;

struct dispatcher_args {
	const struct config *cfg;
	struct tls_cert_set *certs; /* wiped once the TLS contexts hold them */
	const int *listen_fds; /* one per cfg->listeners[] */
	int queue_fd, lookup_fd, store_fd;
	int local_fd; /* the local submission socket, or -1 */
	struct conn_limits *limits;
	unsigned slot;
};

/* Runs until SIGTERM (close everything) or SIGUSR2 (stop accepting, finish
 * the sessions in progress, then exit). */
int dispatcher_main(const struct dispatcher_args *args);

#endif
