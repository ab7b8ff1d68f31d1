/*
 * parent_changes.c: see parent_changes.h. Called by parent.c at start-up
 * and on each reload.
 */
#include "daemon/parent_changes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/hash.h"
#include "lib/log.h"
#include "lib/util.h"

#define PARENT_FILE_DIGEST_MAX (64u << 20) /* larger files are not sent either */

/* Mixes the LEN bytes at P into *H. */
static void digest_add(uint64_t *h, const void *p, size_t len)
{
	*h = hash_bytes(*h, p, len);
}

static void digest_str(uint64_t *h, const char *s)
{
	digest_add(h, s ? s : "", s ? strlen(s) + 1 : 1);
}

/* PATH and what it holds; the content is wiped (the users file holds
 * password hashes). */
static uint64_t digest_file(const char *path)
{
	uint64_t h = 0;
	size_t len = 0;
	char *text;

	digest_str(&h, path);
	if (path[0] == '\0' || (text = read_file(path, PARENT_FILE_DIGEST_MAX, &len)) == NULL)
		return h;
	digest_add(&h, text, len);
	explicit_bzero(text, len);
	free(text);
	return h;
}

static uint64_t digest_listeners(const struct config *cfg)
{
	uint64_t h = 0;
	unsigned i;

	for (i = 0; i < cfg->n_listeners; i++) {
		const struct config_listener *l = &cfg->listeners[i];
		int modes[3] = {(int)l->protocol, (int)l->tls, (int)l->auth};
		digest_str(&h, l->name);
		digest_str(&h, l->address_text);
		digest_add(&h, modes, sizeof(modes));
		digest_str(&h, l->client_ca);
	}
	return h;
}

static uint64_t digest_certificates(const struct tls_cert_set *certs)
{
	uint64_t h = 0;
	unsigned i;

	for (i = 0; i < certs->n; i++) {
		digest_str(&h, certs->certs[i].name);
		digest_str(&h, certs->certs[i].cert_pem);
		digest_str(&h, certs->certs[i].key_pem);
	}
	for (i = 0; i < TLS_MAX_LISTENERS; i++)
		digest_str(&h, certs->client_ca_pem[i]);
	digest_str(&h, certs->outbound_ca_pem);
	return h;
}

void parent_snapshot_take(struct parent_snapshot *s, const struct config *cfg, const char *text,
                          size_t len, const struct tls_cert_set *certs)
{
	memset(s, 0, sizeof(*s));
	digest_add(&s->config, text ? text : "", text ? len : 0);
	s->listeners = digest_listeners(cfg);
	s->certificates = digest_certificates(certs);
	s->users = digest_file(cfg->users);
	s->aliases = digest_file(cfg->aliases);
}

const char *parent_snapshot_changes(const struct parent_snapshot *before,
                                    const struct parent_snapshot *after, char *buf, size_t size)
{
	const struct {
		const char *word;
		int changed;
	} parts[] = {
	    {"config", before->config != after->config},
	    {"listeners", before->listeners != after->listeners},
	    {"certificates", before->certificates != after->certificates},
	    {"users", before->users != after->users},
	    {"aliases", before->aliases != after->aliases},
	};
	size_t o = 0, i;

	buf[0] = '\0';
	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		if (parts[i].changed && o < size)
			o += (size_t)snprintf(buf + o, size - o, "%s%s", o ? "," : "",
			                      parts[i].word);
	if (o == 0)
		snprintf(buf, size, "unchanged");
	return buf;
}

void parent_log_reloaded(struct parent_snapshot *made_from, unsigned generation, unsigned kept,
                         const struct config *cfg, const char *text, size_t len,
                         const struct tls_cert_set *certs)
{
	struct parent_snapshot now;
	char changed[80];

	parent_snapshot_take(&now, cfg, text, len, certs);
	parent_snapshot_changes(made_from, &now, changed, sizeof(changed));
	if (kept)
		log_warn("event=reloaded generation=%u changed=%s certificates_kept=%u", generation,
		         changed, kept);
	else
		log_info("event=reloaded generation=%u changed=%s certificates_kept=%u", generation,
		         changed, kept);
	*made_from = now;
}
