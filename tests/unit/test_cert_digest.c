/*
 * test_cert_digest.c: the digests `sealmail dns-records` prints: SHA-256
 * as hex (the MTA-STS policy id) and the TLSA 3 1 1 data of a certificate
 * (SHA-256 of its DER SubjectPublicKeyInfo), and whether a certificate
 * names a host (`sealmail init` warns when it does not). The digests are
 * openssl's own:
 *   openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER |
 *   openssl dgst -sha256
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "lib/digest.h"
#include "lib/tls_probe.h"

/* A self-signed P-256 certificate made once for this test. */
static const char cert_pem[] = "-----BEGIN CERTIFICATE-----\n"
                               "MIIBizCCATGgAwIBAgIUP4Xwxkxy4h2VA98+f1Kpcia1F2MwCgYIKoZIzj0EAwIw\n"
                               "GjEYMBYGA1UEAwwPbXguZXhhbXBsZS50ZXN0MCAXDTI2MTIwMTE5NDgyOVoYDzIx\n"
                               "MjYxMTA3MTk0ODI5WjAaMRgwFgYDVQQDDA9teC5leGFtcGxlLnRlc3QwWTATBgcq\n"
                               "hkjOPQIBBggqhkjOPQMBBwNCAAThAAFiBy+Fs/pcrof6Rb6DTgIp3ffM6gJaT4HW\n"
                               "Ms4G7iaAW+Q0urAbb4QtEakMFNhLOSrBoGUi1qOdn6PdZOVFo1MwUTAdBgNVHQ4E\n"
                               "FgQUgXQBze65AGKxHIcInEmjm94RCg8wHwYDVR0jBBgwFoAUgXQBze65AGKxHIcI\n"
                               "nEmjm94RCg8wDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiA2xsqN\n"
                               "FCoBxNQJ+d4tgWBSTjFqZRTVBkFTLC7c4M3D3wIhAJWRPIU00fXiC7uuN3vIFtfA\n"
                               "rdpIoZkmC6RwQDDxuNs6\n"
                               "-----END CERTIFICATE-----\n";
#define CERT_SPKI_SHA256 "73d6ff0cc1e47477c3f0912ba9fc4909e7fc0c06dd6195f3dee2219eb7986160"
#define CERT_DER_SHA256 "103dc0489f237f3c80f9fd30ea751c7db0e007ce971e7eafc9a13d6667f1a9ae"

static void test_sha256_vectors(void **state)
{
	char hex[DIGEST_SHA256_HEX];

	/* FIPS 180-2 B.1, and the empty message */
	assert_int_equal(digest_sha256_hex("abc", 3, hex, sizeof(hex)), 0);
	assert_string_equal(hex,
	                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(digest_sha256_hex("", 0, hex, sizeof(hex)), 0);
	assert_string_equal(hex,
	                    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_sha256_small_buffer(void **state)
{
	char hex[DIGEST_SHA256_HEX];

	memset(hex, 'x', sizeof(hex));
	assert_int_equal(digest_sha256_hex("abc", 3, hex, sizeof(hex) - 1), -1);
	assert_string_equal(hex, "");
}

static void test_tlsa_spki(void **state)
{
	char hex[TLS_PROBE_DIGEST_HEX];
	const char *error = NULL;

	assert_int_equal(tls_tlsa_data_hex(cert_pem, 0, 1, 1, hex, sizeof(hex), &error), 0);
	assert_string_equal(hex, CERT_SPKI_SHA256);
	/* selector 0 is the whole certificate: a different digest */
	assert_int_equal(tls_tlsa_data_hex(cert_pem, 0, 0, 1, hex, sizeof(hex), &error), 0);
	assert_string_equal(hex, CERT_DER_SHA256);
}

static void test_tlsa_errors(void **state)
{
	char hex[TLS_PROBE_DIGEST_HEX];
	const char *error = NULL;

	assert_int_equal(tls_tlsa_data_hex(cert_pem, 1, 1, 1, hex, sizeof(hex), &error), -1);
	assert_non_null(error);
	error = NULL;
	assert_int_equal(tls_tlsa_data_hex("not a certificate", 0, 1, 1, hex, sizeof(hex), &error),
	                 -1);
	assert_non_null(error);
	error = NULL;
	assert_int_equal(tls_tlsa_data_hex(cert_pem, 0, 1, 1, hex, 10, &error), -1);
	assert_non_null(error);
}

static void test_names_host(void **state)
{
	assert_int_equal(tls_pem_names_host(cert_pem, "mx.example.test"), 1);
	assert_int_equal(tls_pem_names_host(cert_pem, "MX.Example.Test"), 1);
	assert_int_equal(tls_pem_names_host(cert_pem, "mail.example.test"), 0);
	assert_int_equal(tls_pem_names_host(cert_pem, "example.test"), 0);
	assert_int_equal(tls_pem_names_host("not a certificate", "mx.example.test"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sha256_vectors), cmocka_unit_test(test_sha256_small_buffer),
	    cmocka_unit_test(test_tlsa_spki),      cmocka_unit_test(test_tlsa_errors),
	    cmocka_unit_test(test_names_host),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
