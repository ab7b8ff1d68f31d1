/*
 * fuzz_config.c: libFuzzer harness for the configuration file
 * (conf/config.c): the input is a sealmail.conf text, read with
 * config_load_string(). A refusal must say why; an accepted file must give
 * values within the bounds the rest of the server relies on.
 */
#include "conf/config.h"
#include "fuzz_common.h"

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
	}
	free(errors);
	free(text);
	return 0;
}
