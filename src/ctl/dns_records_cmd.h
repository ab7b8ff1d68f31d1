/*
 * dns_records_cmd.h: `sealmail dns-records DOMAIN [-c FILE]`, the DNS
 * records a local domain needs for this configuration, printed in zone
 * file syntax (RFC 1035 5) with a comment line explaining each. Reads the
 * configuration and the certificates only; asks no DNS server and no
 * running sealmail. Called by main.c.
 */
#ifndef SEALMAIL_DNS_RECORDS_CMD_H
#define SEALMAIL_DNS_RECORDS_CMD_H

/* ARGV[0] is "dns-records". Returns the exit status: 0, 1 (the
 * configuration or a certificate does not load, DOMAIN is not local),
 * 2 (usage). */
int cmd_dns_records(int argc, char **argv);

#endif
