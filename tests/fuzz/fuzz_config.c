/*
 * fuzz_config.c: libFuzzer harness for the configuration file
 * (conf/config.c): the input is a sealmail.conf text, read with
 * config_load_string(). A refusal must say why; an accepted file must give
 * values within the bounds the rest of the server relies on, and `config
 * show` must write it as a file that loads to the same configuration,
 * with --all and without (conf/config_show.c).
 */
#include "conf/config.h"
#include "fuzz_common.h"

/* CFG written by config_write(); malloc'ed. */
static char *shown(const struct config *cfg, int all)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	CHECK(f != NULL);
	CHECK(config_write(f, cfg, all) == 0);
	CHECK(fclose(f) == 0);
	return text;
}

/* The text of config show --all for CFG, the file config show printed for
 * it loaded again, and --all of that: the same, with ALL and without. */
static void check_round_trip(const struct config *cfg)
{
	static struct config again;
	char *everything = shown(cfg, 1), *errors = NULL;

	for (int all = 0; all <= 1; all++) {
		char *text = all ? everything : shown(cfg, 0), *second;
		CHECK(config_load_string(&again, "shown.conf", text, &errors) == 0);
		second = shown(&again, 1);
		CHECK(strcmp(second, everything) == 0);
		free(second);
		if (!all)
			free(text);
	}
	free(everything);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config cfg;
	char *text = fuzz_strndup(data, size), *errors = NULL;
	int r;

	fuzz_quiet_logs();
	r = config_load_string(&cfg, "fuzz.conf", text, &errors);
	CHECK(r == 0 || r == -1);
	if (r < 0) {
		CHECK(errors != NULL && strncmp(errors, "fuzz.conf", 9) == 0);
	} else {
		CHECK(cfg.n_listeners <= CONFIG_MAX_LISTENERS);
		CHECK(cfg.n_local_domains <= CONFIG_MAX_DOMAINS);
		CHECK(cfg.n_certs <= CONFIG_MAX_CERTS && cfg.n_routes <= CONFIG_MAX_ROUTES);
		CHECK(cfg.n_tls_policies <= CONFIG_MAX_POLICIES);
		CHECK(cfg.n_retry >= 1 && cfg.n_retry <= CONFIG_MAX_RETRY);
		CHECK(memchr(cfg.hostname, '\0', sizeof(cfg.hostname)) != NULL);
		CHECK(cfg.limits.errors >= 1 && cfg.limits.recipients >= 1);
		check_round_trip(&cfg);
	}
	free(errors);
	free(text);
	return 0;
}
