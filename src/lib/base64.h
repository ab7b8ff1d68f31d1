/*
 * base64.h: RFC 4648 base64, as SMTP AUTH (RFC 4954) uses it, on top of
 * OpenSSL's block codec.
 */
#ifndef SEALMAIL_BASE64_H
#define SEALMAIL_BASE64_H

#include <stddef.h>

/* Decodes IN (LEN characters, no white space) into OUT (at least LEN * 3 / 4
 * + 1 bytes, NUL-terminated for convenience). Returns the decoded length,
 * or -1 when IN is not canonical base64. */
long base64_decode(const char *in, size_t len, unsigned char *out);

/* Encodes IN into OUT (at least 4 * ((LEN + 2) / 3) + 1 bytes). */
void base64_encode(const unsigned char *in, size_t len, char *out);

#endif
