/*
 * ctl.c: encoders and decoders of the parent's messages to the roles; see
 * ctl.h. Called by daemon/parent.c, the queue and the lookup role.
 */
#include "proto/ctl.h"

#include <string.h>

int proto_ctl_add_channel_decode(const void *data, size_t len, const char **error_r)
{
	return proto_empty_decode(len, "unexpected payload in an add-channel message", error_r);
}

void proto_ctl_config_encode(const struct proto_ctl_config *m, struct ipc_writer *w)
{
	ipc_put_str(w, m->path);
	ipc_put_u32(w, (uint32_t)m->text_len);
	ipc_put_bytes(w, m->text, m->text_len);
}

int proto_ctl_config_decode(struct proto_ctl_config *m, const void *data, size_t len,
                            const char **error_r)
{
	struct ipc_reader r;
	uint32_t n;

	memset(m, 0, sizeof(*m));
	ipc_reader_init(&r, data, len);
	ipc_get_str(&r, m->path, sizeof(m->path));
	n = ipc_get_u32(&r);
	m->text = ipc_get_bytes(&r, n);
	m->text_len = n;
	if (!r.error && m->path[0] == '\0')
		r.error = 1;
	if (proto_decode_done(&r, "malformed configuration message", error_r) < 0) {
		memset(m, 0, sizeof(*m));
		return -1;
	}
	return 0;
}

void proto_ctl_file_encode(const struct proto_ctl_file *m, struct ipc_writer *w)
{
	ipc_put_u32(w, m->readable);
	ipc_put_u32(w, m->readable ? (uint32_t)m->len : 0);
	if (m->readable)
		ipc_put_bytes(w, m->text, m->len);
}

int proto_ctl_file_decode(struct proto_ctl_file *m, const void *data, size_t len,
                          const char **error_r)
{
	struct ipc_reader r;
	uint32_t n;

	memset(m, 0, sizeof(*m));
	ipc_reader_init(&r, data, len);
	m->readable = ipc_get_u32(&r);
	n = ipc_get_u32(&r);
	m->text = ipc_get_bytes(&r, n);
	m->len = n;
	if (!r.error && (m->readable > 1 || (!m->readable && n > 0)))
		r.error = 1;
	if (proto_decode_done(&r, "malformed file message", error_r) < 0) {
		memset(m, 0, sizeof(*m));
		return -1;
	}
	return 0;
}
