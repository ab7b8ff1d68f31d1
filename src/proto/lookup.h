/*
 * lookup.h: the messages between a dispatcher and the lookup role, each a
 * struct with one encoder and one decoder (the contract is in proto.h).
 * The dispatcher (daemon/dispatcher.c) asks; the lookup role
 * (lookup/lookup.c) answers with the request's id.
 *
 *   IMSG_LOOKUP_RCPT         dispatcher -> lookup  struct proto_lookup_rcpt
 *   IMSG_LOOKUP_RCPT_RESULT  lookup -> dispatcher  struct proto_lookup_rcpt_result
 *   IMSG_AUTH_CHECK          dispatcher -> lookup  struct proto_auth_check
 *   IMSG_AUTH_RESULT         lookup -> dispatcher  struct proto_auth_result
 *   IMSG_LOOKUP_HOSTS        dispatcher -> lookup  struct proto_lookup_hosts
 *   IMSG_LOOKUP_HOSTS_RESULT lookup -> dispatcher  struct proto_lookup_hosts_result
 *   IMSG_LOOKUP_FORGET       lookup -> dispatcher  no payload: the users or
 *                            aliases changed; forget remembered recipients
 */
#ifndef SEALMAIL_PROTO_LOOKUP_H
#define SEALMAIL_PROTO_LOOKUP_H

#include "mail/envelope.h"
#include "mail/tls_evidence.h"
#include "proto/proto.h"

#define PROTO_PASSWORD_MAX 1024
#define PROTO_CLIENT_MAX 64
#define PROTO_HOST_NAME_MAX 256
#define PROTO_HOST_ADDR_MAX 64
#define PROTO_LOOKUP_ERROR_MAX 256
#define PROTO_RUA_MAX 512

/* str address */
struct proto_lookup_rcpt {
	char address[ENVELOPE_ADDR_MAX];
};

/* u32 enum lookup_result, u32 n, n x str recipient (the address, or what
 * its alias expands to) */
struct proto_lookup_rcpt_result {
	uint32_t result; /* enum lookup_result */
	struct proto_strings targets;
};

/* str user, u32 has_password, str password (a client certificate login
 * has none), str client (the session's peer address, which failed logins
 * are counted by). The caller wipes the struct and the encoded payload. */
struct proto_auth_check {
	char user[ENVELOPE_ADDR_MAX];
	uint32_t has_password;
	char password[PROTO_PASSWORD_MAX];
	char client[PROTO_CLIENT_MAX];
};

/* The ok of IMSG_AUTH_RESULT; a temporary failure is 454 4.7.0 (RFC 4954 6). */
enum proto_auth_ok {
	PROTO_AUTH_FAILED = 0,
	PROTO_AUTH_OK = 1,
	PROTO_AUTH_TEMPFAIL = 2,
};

/* u32 ok (enum proto_auth_ok), u32 by_certificate, str canonical user, u32 n, n x str address
 * the user may send as */
struct proto_auth_result {
	uint32_t ok;
	uint32_t by_certificate;
	char user[ENVELOPE_ADDR_MAX];
	struct proto_strings owned;
};

/* str name, u32 mx_lookup, u32 port, u32 policy */
struct proto_lookup_hosts {
	char name[PROTO_HOST_NAME_MAX];
	uint32_t mx_lookup;
	uint32_t port;   /* the port the hosts are connected to: TLSA is at _PORT._tcp.HOST */
	uint32_t policy; /* PROTO_LOOKUP_* flags: what to look up beside the hosts */
};

/* IMSG_LOOKUP_HOSTS policy flags. */
#define PROTO_LOOKUP_TLSA 0x1   /* each host's TLSA records at _PORT._tcp (RFC 7672) */
#define PROTO_LOOKUP_DOMAIN 0x2 /* NAME is the recipient domain: its MTA-STS policy and
                                   TLS-RPT record (RFC 8461, 8460); not for a route host */

struct proto_host {
	char name[PROTO_HOST_NAME_MAX];
	uint32_t pref;
	char addr[PROTO_HOST_ADDR_MAX];
	uint32_t secure;      /* enum dnssec_status of the host's address records */
	uint32_t tlsa_status; /* enum dnssec_status of its TLSA lookup (insecure when none) */
	uint32_t n_tlsa;
	struct tlsa_record tlsa[TLSA_MAX];
};

/* u32 enum lookup_hosts_status, str error, u32 secure, u32 n, n x (str
 * host, u32 preference, str address, u32 secure, u32 tlsa_status, u32
 * n_tlsa, n_tlsa x (u32 usage, u32 selector, u32 mtype, u32 len, bytes)),
 * in the order to try them; then the MTA-STS policy (u32 mode, str id, u32
 * max_age, u64 fetched, u32 n_mx, n_mx x str, str error) and str rua */
struct proto_lookup_hosts_result {
	uint32_t status; /* enum lookup_hosts_status */
	char error[PROTO_LOOKUP_ERROR_MAX];
	uint32_t secure; /* enum dnssec_status of the MX RRset (or of NAME's addresses) */
	struct proto_host *hosts;
	unsigned n_hosts;
	struct sts_policy sts;   /* mode STS_MODE_ABSENT when none */
	char rua[PROTO_RUA_MAX]; /* rua= of _smtp._tls.NAME, "" when none */
};

void proto_lookup_rcpt_encode(const struct proto_lookup_rcpt *m, struct ipc_writer *w);
int proto_lookup_rcpt_decode(struct proto_lookup_rcpt *m, const void *data, size_t len,
                             const char **error_r);

void proto_lookup_rcpt_result_encode(const struct proto_lookup_rcpt_result *m,
                                     struct ipc_writer *w);
int proto_lookup_rcpt_result_decode(struct proto_lookup_rcpt_result *m, const void *data,
                                    size_t len, const char **error_r);
void proto_lookup_rcpt_result_free(struct proto_lookup_rcpt_result *m);

void proto_auth_check_encode(const struct proto_auth_check *m, struct ipc_writer *w);
int proto_auth_check_decode(struct proto_auth_check *m, const void *data, size_t len,
                            const char **error_r);

void proto_auth_result_encode(const struct proto_auth_result *m, struct ipc_writer *w);
int proto_auth_result_decode(struct proto_auth_result *m, const void *data, size_t len,
                             const char **error_r);
void proto_auth_result_free(struct proto_auth_result *m);

void proto_lookup_hosts_encode(const struct proto_lookup_hosts *m, struct ipc_writer *w);
int proto_lookup_hosts_decode(struct proto_lookup_hosts *m, const void *data, size_t len,
                              const char **error_r);

void proto_lookup_hosts_result_encode(const struct proto_lookup_hosts_result *m,
                                      struct ipc_writer *w);
int proto_lookup_hosts_result_decode(struct proto_lookup_hosts_result *m, const void *data,
                                     size_t len, const char **error_r);
void proto_lookup_hosts_result_free(struct proto_lookup_hosts_result *m);

/* IMSG_LOOKUP_FORGET carries nothing. */
int proto_lookup_forget_decode(const void *data, size_t len, const char **error_r);

#endif
