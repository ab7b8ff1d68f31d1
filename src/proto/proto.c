/*
 * proto.c: the helpers every interface's encoders and decoders share; see
 * proto.h. Called by proto/queue.c, proto/lookup.c and proto/ctl.c.
 */
#include "proto/proto.h"

#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

void proto_put_strings(struct ipc_writer *w, const char *const *v, unsigned n)
{
	unsigned i;

	ipc_put_u32(w, n);
	for (i = 0; i < n; i++)
		ipc_put_str(w, v[i]);
}

void proto_get_strings(struct ipc_reader *r, struct proto_strings *l, unsigned max, size_t size)
{
	uint32_t n = ipc_get_u32(r), i;

	memset(l, 0, sizeof(*l));
	/* each string takes at least its 4-octet length */
	if (r->error || n > max || n > r->left / 4) {
		r->error = 1;
		return;
	}
	l->v = xcalloc(n + 1, sizeof(char *));
	for (i = 0; i < n && !r->error; i++) {
		l->v[i] = ipc_get_strdup(r, size);
		l->n = i + 1;
	}
}

void proto_strings_free(struct proto_strings *l)
{
	unsigned i;

	for (i = 0; l->v != NULL && i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

int proto_decode_done(const struct ipc_reader *r, const char *what, const char **error_r)
{
	if (r->error) {
		*error_r = what;
		return -1;
	}
	if (r->left != 0) {
		*error_r = "trailing bytes after the message";
		return -1;
	}
	return 0;
}

void proto_send(struct ipc_channel *ch, uint32_t type, uint64_t id, struct ipc_writer *w, int fd)
{
	ipc_send(ch, type, id, w->buf, w->len, fd);
	ipc_writer_free(w);
}

int proto_empty_decode(size_t len, const char *what, const char **error_r)
{
	if (len != 0) {
		*error_r = what;
		return -1;
	}
	return 0;
}
