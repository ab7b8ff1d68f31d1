/*
 * tls_failure.c: see io.h (io_tls_failure). Sorts OpenSSL's reason for a
 * failed server handshake into the few kinds an operator acts on
 * differently: scanners and non-TLS clients (protocol), old clients
 * (version, cipher), client certificates, and clients that refuse ours
 * (alert).
 */
#include "lib/io.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

const char *const io_tls_failure_words[IO_TLS_FAILURES] = {
    [IO_TLS_FAIL_PROTOCOL] = "protocol", [IO_TLS_FAIL_VERSION] = "version",
    [IO_TLS_FAIL_CIPHER] = "cipher",     [IO_TLS_FAIL_CERTIFICATE] = "certificate",
    [IO_TLS_FAIL_ALERT] = "alert",       [IO_TLS_FAIL_TIMEOUT] = "timeout",
    [IO_TLS_FAIL_CLOSED] = "closed",     [IO_TLS_FAIL_OTHER] = "other",
};

enum io_tls_failure io_tls_failure_of_error(unsigned long e)
{
	int reason = ERR_GET_REASON(e);

	if (e == 0 || ERR_GET_LIB(e) != ERR_LIB_SSL)
		return IO_TLS_FAIL_OTHER;
	switch (reason) {
	case SSL_R_UNSUPPORTED_PROTOCOL:
	case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
	case SSL_R_VERSION_TOO_LOW:
	case SSL_R_VERSION_TOO_HIGH:
	case SSL_R_WRONG_SSL_VERSION:
	case SSL_R_UNKNOWN_SSL_VERSION:
		return IO_TLS_FAIL_VERSION;
	case SSL_R_NO_SHARED_CIPHER:
	case SSL_R_NO_SHARED_GROUPS:
	case SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM:
	case SSL_R_NO_CIPHERS_AVAILABLE:
	case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
		return IO_TLS_FAIL_CIPHER;
	case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
	case SSL_R_CERTIFICATE_VERIFY_FAILED:
	case SSL_R_NO_CERTIFICATES_RETURNED:
		return IO_TLS_FAIL_CERTIFICATE;
	case SSL_R_WRONG_VERSION_NUMBER:
	case SSL_R_HTTP_REQUEST:
	case SSL_R_HTTPS_PROXY_REQUEST:
	case SSL_R_PACKET_LENGTH_TOO_LONG:
	case SSL_R_RECORD_LENGTH_MISMATCH:
	case SSL_R_UNEXPECTED_MESSAGE:
	case SSL_R_UNEXPECTED_RECORD:
	case SSL_R_LENGTH_MISMATCH:
	case SSL_R_LENGTH_TOO_SHORT:
	case SSL_R_BAD_PACKET_LENGTH:
	case SSL_R_UNKNOWN_PROTOCOL:
	case SSL_R_BAD_LENGTH:
	case SSL_R_BAD_EXTENSION:
	case SSL_R_PARSE_TLSEXT:
		return IO_TLS_FAIL_PROTOCOL;
	default:
		break;
	}
	/* the alerts a peer sends are SSL_AD_REASON_OFFSET + their number */
	if (reason >= SSL_AD_REASON_OFFSET && reason < SSL_AD_REASON_OFFSET + 256)
		return IO_TLS_FAIL_ALERT;
	return IO_TLS_FAIL_OTHER;
}
