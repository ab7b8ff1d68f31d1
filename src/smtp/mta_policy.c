/*
 * mta_policy.c: fills the outbound policy's view from the configuration
 * (see mta_policy.h). The config file holds each level as a checked word;
 * here it becomes policy's enum tls_level.
 */
#include "smtp/mta_policy.h"

#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "lib/util.h"

/* The level a word of the configuration names. conf accepts only the words
 * policy parses (test_policy.c checks it); were one ever missing, the
 * strictest level keeps mail from leaving less protected than asked. */
static enum tls_level level_of(const char *word)
{
	enum tls_level level;

	return tls_level_parse(word, &level) == 0 ? level : TLS_LEVEL_VERIFY;
}

static struct outbound_route route_of(const struct config_route *r)
{
	return (struct outbound_route){
	    .domain = r->domain,
	    .host = r->host,
	    .port = r->port,
	    .mx_lookup = r->mx_lookup,
	    .line = r->line,
	};
}

void mta_policy_view(const struct config *cfg, struct outbound_policy *view)
{
	struct outbound_rule *rules = xcalloc(cfg->n_tls_policies + 1, sizeof(*rules));
	struct outbound_route *routes = xcalloc(cfg->n_routes + 1, sizeof(*routes));
	unsigned i;

	for (i = 0; i < cfg->n_tls_policies; i++) {
		const struct config_tls_policy *p = &cfg->tls_policies[i];
		rules[i] = (struct outbound_rule){.domain = p->domain,
		                                  .level = level_of(p->level),
		                                  .match = p->match,
		                                  .testing = p->testing,
		                                  .line = p->line};
	}
	for (i = 0; i < cfg->n_routes; i++)
		routes[i] = route_of(&cfg->routes[i]);
	*view = (struct outbound_policy){
	    .path = cfg->path,
	    .default_level = level_of(cfg->outbound_tls),
	    .default_line = cfg->outbound_tls_line,
	    .rules = rules,
	    .n_rules = cfg->n_tls_policies,
	    .routes = routes,
	    .n_routes = cfg->n_routes,
	    .relayhost = route_of(&cfg->relayhost),
	    .port = cfg->outbound_port,
	    .ca_file = cfg->outbound_ca_file,
	};
}

void mta_policy_view_free(struct outbound_policy *view)
{
	free((void *)view->rules);
	free((void *)view->routes);
	memset(view, 0, sizeof(*view));
}
