/*
 * xtext.h: RFC 3461 4 xtext ("+" and two hex digits for an octet outside
 * "!" to "~", "+" and "="), as ENVID and ORCPT carry it. Pure.
 */
#ifndef SEALMAIL_XTEXT_H
#define SEALMAIL_XTEXT_H

#include <stddef.h>

/* RFC 3461 4: decodes an xtext value (ENVID, ORCPT) into OUT (SIZE bytes,
 * NUL-terminated). Returns 0, or -1 when malformed, too long, or holding
 * "+00" (a NUL). Like Postfix, lower-case hex digits are accepted too. */
int xtext_decode(const char *in, char *out, size_t size);
/* 1 when S is valid xtext. */
int xtext_valid(const char *s);
/* RFC 3461 4: encodes IN as xtext ("+", "=" and octets outside 33..126 as
 * "+HH") into OUT (SIZE bytes, NUL-terminated). Returns 0, or -1 when it
 * does not fit. */
int xtext_encode(const char *in, char *out, size_t size);

#endif
