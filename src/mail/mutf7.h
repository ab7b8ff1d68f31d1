/*
 * mutf7.h: modified UTF-7 (RFC 3501 5.1.3) <-> UTF-8 for folder names, and a
 * strict UTF-8 check. The IMAP session converts names for clients that did
 * not ENABLE UTF8=ACCEPT; the store names Maildir++ folders in modified UTF-7
 * on disk, as Dovecot does.
 */
#ifndef SEALMAIL_MUTF7_H
#define SEALMAIL_MUTF7_H

#include <stddef.h>

/* Modified UTF-7 IN (NUL-terminated) -> UTF-8 in OUT of SIZE bytes. Returns 0,
 * or -1 when IN is not valid (bad shift, non-minimal encoding, a character
 * that must not be shifted, lone surrogates) or OUT is too small. */
int mutf7_to_utf8(const char *in, char *out, size_t size);
/* UTF-8 IN (NUL-terminated) -> modified UTF-7 in OUT of SIZE bytes. Returns 0,
 * or -1 when IN is not valid UTF-8 or OUT is too small. */
int utf8_to_mutf7(const char *in, char *out, size_t size);
/* 1 when S[0..LEN) is valid UTF-8 (RFC 3629: shortest forms, no surrogates,
 * nothing above U+10FFFF), 0 when not. */
int utf8_is_valid(const char *s, size_t len);

#endif
