/*
 * ctl.h: the messages the parent (daemon/parent.c) sends the queue
 * (src/queue/) and the lookup role (lookup/lookup.c), each a struct with
 * one encoder and one decoder (the contract is in proto.h). The roles
 * answer none of them.
 *
 *   IMSG_CTL_ADD_CHANNEL  parent -> queue, lookup  no payload; the fd is a
 *                         socket to a new dispatcher
 *   IMSG_CTL_CONFIG       parent -> queue, lookup  struct proto_ctl_config:
 *                         the configuration file's text, which each role
 *                         parses itself after a reload
 *   IMSG_CTL_USERS        parent -> lookup  struct proto_ctl_file: the users
 *                         file, whenever it changed
 *   IMSG_CTL_ALIASES      parent -> lookup  struct proto_ctl_file: the aliases
 *                         file, as IMSG_CTL_USERS
 */
#ifndef SEALMAIL_PROTO_CTL_H
#define SEALMAIL_PROTO_CTL_H

#include "proto/proto.h"

#define PROTO_CTL_PATH_MAX 4096

/* str path, u32 length, the text. The decoder's TEXT points into the
 * payload (not NUL-terminated). */
struct proto_ctl_config {
	char path[PROTO_CTL_PATH_MAX]; /* not empty */
	const char *text;
	size_t text_len;
};

/* u32 readable (0: the parent could not read the file, and the role keeps
 * what it has), u32 length, the file's text (none when not readable). The
 * decoder's TEXT points into the payload. */
struct proto_ctl_file {
	uint32_t readable;
	const char *text;
	size_t len;
};

int proto_ctl_add_channel_decode(const void *data, size_t len, const char **error_r);

void proto_ctl_config_encode(const struct proto_ctl_config *m, struct ipc_writer *w);
int proto_ctl_config_decode(struct proto_ctl_config *m, const void *data, size_t len,
                            const char **error_r);

void proto_ctl_file_encode(const struct proto_ctl_file *m, struct ipc_writer *w);
int proto_ctl_file_decode(struct proto_ctl_file *m, const void *data, size_t len,
                          const char **error_r);

#endif
