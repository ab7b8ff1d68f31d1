/*
 * test_cert_info.c: lib/cert_info.h on certificates made once with the
 * openssl command line (a CA, a leaf it issued, a self-signed leaf) and
 * clocks the test sets: what each certificate says, the 30-day boundary,
 * expired and not yet valid, a lone leaf, a self-signed leaf alone, a
 * chain out of order, and a client_ca file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "lib/cert_info.h"

#define DAY ((int64_t)86400)

static const char LEAF[] = "-----BEGIN CERTIFICATE-----\n"
                           "MIIBajCCARCgAwIBAgIBAjAKBggqhkjOPQQDAjASMRAwDgYDVQQDDAdVbml0IENB\n"
                           "MB4XDTI2MTIwMTIwMDAyN1oXDTI3MTIwMTIwMDAyN1owGTEXMBUGA1UEAwwObWFp\n"
                           "bC51bml0LnRlc3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAARD6JioFQznkyeM\n"
                           "zQGWGk3sMvwLLj6uEW0qp6avBnnKM+AD09fkuYrX6eKD5na5hRJepahddT2X8kSs\n"
                           "K2r1C1s5o1AwTjAMBgNVHRMBAf8EAjAAMB0GA1UdDgQWBBTpRGBiod6kqjon8S6V\n"
                           "0uqmX7J6pTAfBgNVHSMEGDAWgBQpJan1VlLb6Aw2j7blJ0TnuUM2QTAKBggqhkjO\n"
                           "PQQDAgNIADBFAiEA5W3vkIjmfUz6/VjEc8PejncA6q1h9a43jVdCV1BzEJ4CIAGQ\n"
                           "8yd7PfjGXmeALukCFB0XZYnVhy3ugSOchg0KL4uE\n"
                           "-----END CERTIFICATE-----\n";

static const char CA[] = "-----BEGIN CERTIFICATE-----\n"
                         "MIIBijCCAS+gAwIBAgIUUp5847/QWXxF5fTWqKliElhkQjAwCgYIKoZIzj0EAwIw\n"
                         "EjEQMA4GA1UEAwwHVW5pdCBDQTAeFw0yNjEyMDEyMDAwMjdaFw0zNjExMjgyMDAw\n"
                         "MjdaMBIxEDAOBgNVBAMMB1VuaXQgQ0EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC\n"
                         "AAR5EHtCf8JsP7nQnDX3L+CZvjVkN5lRww6K1jCYBNvbffGKnXfwvG9jb/Wgh4Jv\n"
                         "2G9iUEmFqpl+h2y0bf5b1fkSo2MwYTAdBgNVHQ4EFgQUKSWp9VZS2+gMNo+25SdE\n"
                         "57lDNkEwHwYDVR0jBBgwFoAUKSWp9VZS2+gMNo+25SdE57lDNkEwDwYDVR0TAQH/\n"
                         "BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAgQwCgYIKoZIzj0EAwIDSQAwRgIhAOOr27SI\n"
                         "Pr4K7H40TdJwnu14FB0Kj+qOnFcIt43tu6sJAiEA+JbVGd9++k4YlBqZgmkbsLJc\n"
                         "wGwOkcObGWg6O/9EfiA=\n"
                         "-----END CERTIFICATE-----\n";

static const char SELF[] = "-----BEGIN CERTIFICATE-----\n"
                           "MIIBhzCCAS2gAwIBAgIUImec3UR1Rcruh43BexZSQly4W4EwCgYIKoZIzj0EAwIw\n"
                           "GTEXMBUGA1UEAwwOc2VsZi51bml0LnRlc3QwHhcNMjYxMjAxMjAwMDI3WhcNMjcx\n"
                           "MjAxMjAwMDI3WjAZMRcwFQYDVQQDDA5zZWxmLnVuaXQudGVzdDBZMBMGByqGSM49\n"
                           "AgEGCCqGSM49AwEHA0IABEPomKgVDOeTJ4zNAZYaTewy/AsuPq4RbSqnpq8Gecoz\n"
                           "4APT1+S5itfp4oPmdrmFEl6lqF11PZfyRKwravULWzmjUzBRMB0GA1UdDgQWBBTp\n"
                           "RGBiod6kqjon8S6V0uqmX7J6pTAfBgNVHSMEGDAWgBTpRGBiod6kqjon8S6V0uqm\n"
                           "X7J6pTAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIQDa2xqyO0OQ\n"
                           "d/56RkFLynL96zBNX3LSL45wUxCXrXGGvQIgR2U+UOb8bZWBKir/k7K1s3iHzVRa\n"
                           "cRN+k5GTZVxLe9Y=\n"
                           "-----END CERTIFICATE-----\n";

#define LEAF_NOT_BEFORE ((int64_t)1796155227)
#define LEAF_NOT_AFTER ((int64_t)1827691227)
#define CA_NOT_AFTER ((int64_t)2111515227)

/* PEM texts glued together, malloc'ed. */
static char *pem_join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = b ? strlen(b) : 0;
	char *s = malloc(la + lb + 1);

	assert_non_null(s);
	memcpy(s, a, la);
	if (b)
		memcpy(s + la, b, lb);
	s[la + lb] = '\0';
	return s;
}

static void test_count(void **state)
{
	char *chain = pem_join(LEAF, CA);

	(void)state;
	assert_int_equal(cert_info_count(chain), 2);
	assert_int_equal(cert_info_count(LEAF), 1);
	assert_int_equal(cert_info_count("garbage\n"), 0);
	assert_int_equal(cert_info_count(""), 0);
	free(chain);
}

static void test_read_chain(void **state)
{
	char *chain = pem_join(LEAF, CA);
	struct cert_info info;

	(void)state;
	assert_int_equal(cert_info_read(chain, 0, &info), 0);
	assert_string_equal(info.subject, "/CN=mail.unit.test");
	assert_string_equal(info.issuer, "/CN=Unit CA");
	assert_string_equal(info.not_after, "2027-12-01T20:00:27Z");
	assert_true(info.not_after_time == LEAF_NOT_AFTER);
	assert_true(info.not_before_time == LEAF_NOT_BEFORE);
	assert_int_equal(info.self_signed, 0);
	assert_int_equal(info.is_ca, 0);
	assert_int_equal(info.issued_by_next, 1);
	assert_int_equal(cert_info_read(chain, 1, &info), 0);
	assert_string_equal(info.subject, "/CN=Unit CA");
	assert_int_equal(info.self_signed, 1);
	assert_int_equal(info.is_ca, 1);
	assert_int_equal(info.issued_by_next, -1);
	assert_int_equal(cert_info_read(chain, 2, &info), -1);
	assert_int_equal(cert_info_read("garbage", 0, &info), -1);
	free(chain);
}

static void test_validity_boundaries(void **state)
{
	struct cert_info info;
	int64_t days;

	(void)state;
	assert_int_equal(cert_info_read(LEAF, 0, &info), 0);
	assert_int_equal(cert_info_validity(&info, LEAF_NOT_AFTER - 31 * DAY, &days), CERT_VALID);
	assert_int_equal(days, 31);
	assert_int_equal(cert_info_validity(&info, LEAF_NOT_AFTER - 30 * DAY, &days), CERT_VALID);
	assert_int_equal(cert_info_validity(&info, LEAF_NOT_AFTER - 30 * DAY + 1, &days),
	                 CERT_EXPIRES_SOON);
	assert_int_equal(days, 30);
	assert_int_equal(cert_info_validity(&info, LEAF_NOT_AFTER - 29 * DAY + 5, &days),
	                 CERT_EXPIRES_SOON);
	assert_int_equal(days, 29);
	assert_int_equal(cert_info_validity(&info, LEAF_NOT_AFTER, &days), CERT_EXPIRES_SOON);
	assert_int_equal(cert_info_validity(&info, LEAF_NOT_AFTER + 1, &days), CERT_EXPIRED);
	assert_int_equal(cert_info_validity(&info, LEAF_NOT_BEFORE - 1, &days), CERT_NOT_YET_VALID);
}

/* The problems of PEM (KIND) at NOW; their count. */
static unsigned problems(const char *pem, enum cert_file_kind kind, int64_t now,
                         struct cert_problem *p)
{
	memset(p, 0, CERT_PROBLEMS_MAX * sizeof(*p));
	return cert_info_problems(pem, kind, now, p);
}

static void test_problems(void **state)
{
	struct cert_problem *p = calloc(CERT_PROBLEMS_MAX, sizeof(*p));
	char *chain = pem_join(LEAF, CA), *reversed = pem_join(CA, LEAF);
	int64_t mid = LEAF_NOT_BEFORE + 100 * DAY;

	(void)state;
	assert_int_equal(problems(chain, CERT_FILE_SERVER, mid, p), 0);
	assert_int_equal(problems(SELF, CERT_FILE_SERVER, mid, p), 0);
	/* a lone leaf: one warning */
	assert_int_equal(problems(LEAF, CERT_FILE_SERVER, mid, p), 1);
	assert_int_equal(p[0].error, 0);
	assert_string_equal(p[0].text,
	                    "the file holds only the leaf certificate /CN=mail.unit.test, issued "
	                    "by /CN=Unit CA: clients that lack the intermediate fail with 'unable "
	                    "to verify the first certificate'; append the CA's chain after it");
	/* 29 days left: a warning */
	assert_int_equal(problems(chain, CERT_FILE_SERVER, LEAF_NOT_AFTER - 29 * DAY, p), 1);
	assert_int_equal(p[0].error, 0);
	assert_string_equal(p[0].text, "certificate /CN=mail.unit.test expires in 29 days, on "
	                               "2027-12-01T20:00:27Z; renew it");
	/* expired: an error */
	assert_int_equal(problems(chain, CERT_FILE_SERVER, LEAF_NOT_AFTER + 1, p), 1);
	assert_int_equal(p[0].error, 1);
	assert_string_equal(p[0].text,
	                    "certificate /CN=mail.unit.test expired on 2027-12-01T20:00:27Z");
	/* out of order: the leaf second, and it did not issue the CA before it */
	assert_int_equal(problems(reversed, CERT_FILE_SERVER, mid, p), 1);
	assert_int_equal(p[0].error, 0);
	assert_non_null(strstr(p[0].text, "certificate 2 of the chain (/CN=mail.unit.test) did "
	                                  "not issue certificate 1 (/CN=Unit CA"));
	/* a client_ca file: no chain rules, its expiry an error */
	assert_int_equal(problems(LEAF, CERT_FILE_CA, mid, p), 0);
	assert_int_equal(problems(CA, CERT_FILE_CA, CA_NOT_AFTER + 1, p), 1);
	assert_int_equal(p[0].error, 1);
	assert_int_equal(problems("garbage\n", CERT_FILE_SERVER, mid, p), 0);
	free(chain);
	free(reversed);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_count),
	    cmocka_unit_test(test_read_chain),
	    cmocka_unit_test(test_validity_boundaries),
	    cmocka_unit_test(test_problems),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
