/*
 * config_paths.c: paths derived from the configuration.
 */
#include <stdio.h>

#include "conf/config.h"

void config_submit_socket(const struct config *cfg, int as_root, char *buf, size_t size)
{
	if (cfg->submit_socket[0] != '\0')
		snprintf(buf, size, "%s", cfg->submit_socket);
	else if (as_root)
		snprintf(buf, size, "/run/sealmail/submit.sock");
	else
		snprintf(buf, size, "%s/submit.sock", cfg->data_dir);
}
