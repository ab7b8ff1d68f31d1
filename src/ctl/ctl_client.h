/*
 * ctl_client.h: what the client commands (main.c's `queue`, `policy
 * forget`, `policy explain`, `tls-check`, `tls-report`) share: the
 * configuration loaded with its errors said, their `-c FILE [--FLAG] WORD`
 * options, and one request line sent over data_dir/control.sock to the
 * running queue (answered by queue/queue_ctl.c).
 */
#ifndef SEALMAIL_CTL_CLIENT_H
#define SEALMAIL_CTL_CLIENT_H

#include <stdio.h>

struct config;

/* Loads the configuration at PATH; NULL (its errors said on stderr) when
 * it does not load. The caller frees the result. */
struct config *ctl_config_load(const char *path);

/* Parses ARGV[1..) for -c FILE (into *CONFIG_R), -h (USAGE to stdout,
 * exit 0) and, when FLAG is not NULL, --FLAG (sets *FLAG_R). Leaves optind
 * at the first word; -1 on an unknown option. */
int ctl_parse_options(int argc, char **argv, const char *flag, const char **config_r, int *flag_r,
                      void (*usage)(FILE *));

/* Sends REQUEST as one line over data_dir/control.sock and copies the
 * answer's text to stdout, or to stderr when its status line says it
 * failed. Returns the exit status: 0, or 1 (refused, or no server). */
int ctl_request(const struct config *cfg, const char *request);

#endif
