/*
 * config_show_cmd.c: `sealmail config show [--all] [-c FILE]` (see
 * config_show_cmd.h). The file is loaded and checked as `config check`
 * loads it, so what is printed is what the server would run.
 */
#include "ctl/config_show_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "conf/config.h"
#include "ctl/ctl_client.h"

static void show_usage(FILE *f)
{
	fprintf(f, "usage: sealmail config show [--all] [-c FILE]\n");
}

int cmd_config_show(int argc, char **argv)
{
	const char *path = config_default_path();
	struct config *cfg;
	int all = 0, r;

	if (ctl_parse_options(argc, argv, "all", &path, &all, show_usage) < 0 || optind != argc) {
		show_usage(stderr);
		return 2;
	}
	if ((cfg = ctl_config_load(path)) == NULL)
		return 1;
	r = config_write(stdout, cfg, all);
	free(cfg);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("sealmail config show: stdout");
		return 1;
	}
	return r < 0 ? 1 : 0;
}
