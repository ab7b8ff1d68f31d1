/*
 * spool_file.c: the envelope as the queue stores it after the message in a
 * spool file, and the trailer that seals the file; see spool_file.h. Pure:
 * bytes in, values out. Called by the queue at commit, at loading and at
 * recovery.
 */
#include "queue/spool_file.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

#define SPOOL_MAGIC "sealmail-queue 1\n"

/* A value may not hold a line end: it would forge a record. */
static int spool_value_ok(const char *s)
{
	return strpbrk(s, "\r\n") == NULL;
}

char *spool_envelope_format(const struct envelope *env, size_t *len_r)
{
	/* the fixed records, auth-user's address, then the recipients */
	size_t cap = 2048 + ENVELOPE_ADDR_MAX + (size_t)env->n_rcpts * (2 * ENVELOPE_ADDR_MAX + 16);
	size_t len;
	char *buf = xmalloc(cap);
	unsigned i;
	int n;

	if (!spool_value_ok(env->id) || !spool_value_ok(env->sender) ||
	    !spool_value_ok(env->helo) || !spool_value_ok(env->client) ||
	    !spool_value_ok(env->tls) || !spool_value_ok(env->envid) ||
	    strchr(env->envid, ' ') != NULL || !spool_value_ok(env->ret) ||
	    !spool_value_ok(env->body) || !spool_value_ok(env->listener) ||
	    !spool_value_ok(env->auth_user)) {
		free(buf);
		return NULL;
	}
	n = snprintf(buf, cap,
	             SPOOL_MAGIC "id %s\ntime %" PRIu64 "\nfrom %s\nhelo %s\nclient %s\n"
	                         "tls %s\nbody %s\nret %s\nenvid %s\ntrusted %d\n",
	             env->id, env->time, env->sender, env->helo, env->client, env->tls, env->body,
	             env->ret, env->envid, env->trusted != 0);
	len = (size_t)n;
	if (env->flags != 0)
		len += (size_t)snprintf(buf + len, cap - len, "flags %u\n", env->flags);
	/* written only when set, as "flags": older files have neither */
	if (env->listener[0] != '\0')
		len += (size_t)snprintf(buf + len, cap - len, "listener %s\n", env->listener);
	if (env->authenticated)
		len += (size_t)snprintf(buf + len, cap - len, "auth 1\n");
	if (env->auth_user[0] != '\0')
		len += (size_t)snprintf(buf + len, cap - len, "auth-user %s\n", env->auth_user);
	for (i = 0; i < env->n_rcpts; i++) {
		const struct envelope_rcpt *r = &env->rcpts[i];
		if (!spool_value_ok(r->addr) || !spool_value_ok(r->orcpt) ||
		    strchr(r->orcpt, ' ') != NULL) {
			free(buf);
			return NULL;
		}
		len += (size_t)snprintf(buf + len, cap - len, "rcpt %u %s %s\n", r->notify,
		                        r->orcpt[0] ? r->orcpt : "-", r->addr);
	}
	buf[len++] = '\n';
	*len_r = len;
	return buf;
}

/* "NOTIFY ORCPT ADDRESS" */
static int spool_rcpt_record(struct envelope *env, const char *val)
{
	const char *sp1 = strchr(val, ' '), *sp2;
	char orcpt[ENVELOPE_ADDR_MAX];
	char *end;
	unsigned long notify = strtoul(val, &end, 10);

	if (sp1 == NULL || end != sp1 || notify > ENVELOPE_NOTIFY_ALL)
		return -1;
	sp2 = strchr(sp1 + 1, ' ');
	if (sp2 == NULL || (size_t)(sp2 - sp1 - 1) >= sizeof(orcpt))
		return -1;
	memcpy(orcpt, sp1 + 1, (size_t)(sp2 - sp1 - 1));
	orcpt[sp2 - sp1 - 1] = '\0';
	return envelope_add_rcpt(env, sp2 + 1, (unsigned)notify,
	                         strcmp(orcpt, "-") == 0 ? NULL : orcpt);
}

/* "flags N": known ENVELOPE_* bits only, in decimal digits. */
static int spool_flags_record(struct envelope *env, const char *val)
{
	char *end;
	unsigned long flags;

	if (val[0] < '0' || val[0] > '9' || strlen(val) > 3)
		return -1;
	flags = strtoul(val, &end, 10);
	if (*end != '\0' || (flags & ~(unsigned long)ENVELOPE_FLAGS_ALL) != 0)
		return -1;
	env->flags = (unsigned)flags;
	return 0;
}

/* "0" or "1" into *FLAG. */
static int spool_bool_record(int *flag, const char *val)
{
	if (strcmp(val, "0") != 0 && strcmp(val, "1") != 0)
		return -1;
	*flag = val[0] == '1';
	return 0;
}

/* Stores one "key value" record into ENV. */
static int spool_record(struct envelope *env, const char *key, size_t klen, const char *val)
{
	struct {
		const char *key;
		char *dst;
		size_t size;
	} fields[] = {
	    {"id", env->id, sizeof(env->id)},
	    {"from", env->sender, sizeof(env->sender)},
	    {"helo", env->helo, sizeof(env->helo)},
	    {"client", env->client, sizeof(env->client)},
	    {"tls", env->tls, sizeof(env->tls)},
	    {"body", env->body, sizeof(env->body)},
	    {"ret", env->ret, sizeof(env->ret)},
	    {"envid", env->envid, sizeof(env->envid)},
	    {"listener", env->listener, sizeof(env->listener)},
	    {"auth-user", env->auth_user, sizeof(env->auth_user)},
	};
	size_t i;

	if (klen == 4 && memcmp(key, "rcpt", 4) == 0)
		return spool_rcpt_record(env, val);
	if (klen == 4 && memcmp(key, "time", 4) == 0) {
		env->time = strtoull(val, NULL, 10);
		return 0;
	}
	if (klen == 7 && memcmp(key, "trusted", 7) == 0)
		return spool_bool_record(&env->trusted, val);
	if (klen == 4 && memcmp(key, "auth", 4) == 0)
		return spool_bool_record(&env->authenticated, val);
	if (klen == 5 && memcmp(key, "flags", 5) == 0)
		return spool_flags_record(env, val);
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strlen(fields[i].key) == klen && memcmp(fields[i].key, key, klen) == 0)
			return strlcpy_checked(fields[i].dst, val, fields[i].size);
	return -1;
}

int spool_envelope_parse(struct envelope *env, const char *buf, size_t len, size_t *header_len_r,
                         const char **error_r)
{
	size_t off = sizeof(SPOOL_MAGIC) - 1;
	char val[2 * ENVELOPE_ADDR_MAX + 32];

	envelope_init(env);
	if (len < off || memcmp(buf, SPOOL_MAGIC, off) != 0) {
		*error_r = "not a sealmail spool file";
		return -1;
	}
	for (;;) {
		const char *nl = memchr(buf + off, '\n', len - off);
		const char *sp;
		size_t vlen;

		if (nl == NULL) {
			*error_r = "truncated envelope";
			goto fail;
		}
		if (nl == buf + off)
			break;
		sp = memchr(buf + off, ' ', (size_t)(nl - (buf + off)));
		vlen = sp ? (size_t)(nl - sp - 1) : 0;
		if (sp == NULL || vlen >= sizeof(val)) {
			*error_r = "malformed envelope record";
			goto fail;
		}
		memcpy(val, sp + 1, vlen);
		val[vlen] = '\0';
		if (spool_record(env, buf + off, (size_t)(sp - (buf + off)), val) < 0) {
			*error_r = "unknown or over-long envelope record";
			goto fail;
		}
		off = (size_t)(nl - buf) + 1;
	}
	if (env->id[0] == '\0' || env->n_rcpts == 0) {
		*error_r = "envelope without id or recipients";
		goto fail;
	}
	*header_len_r = off + 1;
	return 0;
fail:
	envelope_free(env);
	return -1;
}

char *spool_block_format(const struct envelope *env, uint64_t body_len, uint32_t body_crc,
                         size_t *len_r)
{
	size_t len;
	char *buf = spool_envelope_format(env, &len);

	if (buf == NULL)
		return NULL;
	buf = xrealloc(buf, len + SPOOL_TRAILER_LEN + 1);
	snprintf(buf + len, SPOOL_TRAILER_LEN + 1, "\nsealmail-env %016" PRIx64 " %08" PRIx32 "\n",
	         body_len, body_crc);
	*len_r = len + SPOOL_TRAILER_LEN;
	return buf;
}

int spool_trailer_parse(const char *tail, size_t len, uint64_t *body_len_r, uint32_t *body_crc_r)
{
	char hex[17], *end;

	if (len != SPOOL_TRAILER_LEN || memcmp(tail, "\nsealmail-env ", 14) != 0 ||
	    tail[30] != ' ' || tail[39] != '\n')
		return -1;
	memcpy(hex, tail + 14, 16);
	hex[16] = '\0';
	*body_len_r = strtoull(hex, &end, 16);
	if (*end != '\0')
		return -1;
	memcpy(hex, tail + 31, 8);
	hex[8] = '\0';
	*body_crc_r = (uint32_t)strtoul(hex, &end, 16);
	return *end == '\0' ? 0 : -1;
}
