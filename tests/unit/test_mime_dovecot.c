/*
 * test_mime_dovecot.c: the shapes real mail has (Apple Mail
 * multipart/alternative with multipart/related inside, a Thunderbird
 * attachment with an RFC 2231 file name, a forwarded message/rfc822 with
 * base64 parts, a message without MIME-Version, a digest inside a mixed
 * part, encoded-word subjects and names, groups and empty groups, a
 * boundary that never closes, types and parameters in mixed case). The
 * expected ENVELOPE, BODYSTRUCTURE, BODY and FETCH section texts are
 * Dovecot 2.3's answers for the same messages in a Maildir (the server
 * users compare us with), except where a comment says why we keep to the
 * RFC. Each message is also given with LF line ends through
 * mail_to_crlf().
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/mime.h"

static const char MSG_APPLE[] =
    "From: Anna Apple <anna@me.example>\r\nContent-Type: "
    "multipart/"
    "alternative;\r\n\tboundary=\"Apple-Mail=_5C1F2D0E-1B8A-4D2C-9F3A-0A1B2C3D4E5F\"\r\nMime-"
    "Version: "
    "1.0 (Mac OS X Mail 16.0 \\(3731.500.231\\))\r\nSubject: Photo from the trip\r\nMessage-Id: "
    "<5C1F2D0E-1B8A-4D2C-9F3A-0A1B2C3D4E5F@me.example>\r\nDate: Wed, 3 May 2023 "
    "18:04:11 +0200\r\nTo: Ben <ben@example.org>\r\nX-Mailer: Apple Mail "
    "(2.3731.500.231)\r\n\r\n\r\n--Apple-Mail=_5C1F2D0E-1B8A-4D2C-9F3A-0A1B2C3D4E5F\r\nContent-"
    "Transfer-Encoding: "
    "7bit\r\nContent-Type: text/plain;\r\n\tcharset=us-ascii\r\n\r\nLook at "
    "this:\r\n\r\n\r\n--Apple-Mail=_5C1F2D0E-1B8A-4D2C-9F3A-0A1B2C3D4E5F\r\nContent-Type: "
    "multipart/related;\r\n\ttype=\"text/"
    "html\";\r\n\tboundary=\"Apple-Mail=_9E8D7C6B-5A4F-3E2D-1C0B-A9F8E7D6C5B4\"\r\n\r\n\r\n--Apple-"
    "Mail=_9E8D7C6B-5A4F-3E2D-1C0B-A9F8E7D6C5B4\r\nContent-Transfer-Encoding: "
    "7bit\r\nContent-Type: text/html;\r\n\tcharset=us-ascii\r\n\r\n<html><head><meta "
    "http-equiv=\"Content-Type\" content=\"text/html; charset=us-ascii\"></head><body>Look "
    "at this:<img "
    "src=\"cid:A1B2C3@me.example\"></body></"
    "html>\r\n--Apple-Mail=_9E8D7C6B-5A4F-3E2D-1C0B-A9F8E7D6C5B4\r\nContent-Transfer-Encoding: "
    "base64\r\nContent-Disposition: inline;\r\n\tfilename=IMG_0001.png\r\nContent-Type: "
    "image/png;\r\n\tx-unix-mode=0644;\r\n\tname=\"IMG_0001.png\"\r\nContent-Id: "
    "<A1B2C3@me.example>"
    "\r\n\r\niVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA\r\n60e6kgAAAA"
    "BJRU5ErkJggg==\r\n--Apple-Mail=_9E8D7C6B-5A4F-3E2D-1C0B-A9F8E7D6C5B4--\r\n\r\n--Apple-Mail=_"
    "5C1F2D0E-1B8A-4D2C-9F3A-0A1B2C3D4E5F--\r\n";

static const char MSG_THUNDERBIRD[] =
    "Content-Type: multipart/mixed; "
    "boundary=\"------------0R2w8mJ3kYtLq9vXzA1bC4dE\"\r\nMessage-ID: "
    "<7f3e1a2b-4c5d-6e7f-8a9b-0c1d2e3f4a5b@example.net>\r\nDate: Fri, 12 Jan 2024 "
    "09:15:00 +0100\r\nMIME-Version: 1.0\r\nUser-Agent: Mozilla Thunderbird\r\nContent-Language: "
    "de-DE\r\nTo: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jm@example.de>\r\nFrom: Zoe "
    "<zoe@example.net>\r\nSubject: =?UTF-8?Q?Rechnung_f=C3=BCr_Januar?=\r\n\r\nThis "
    "is a multi-part message in MIME "
    "format.\r\n--------------0R2w8mJ3kYtLq9vXzA1bC4dE\r\nContent-Type: "
    "text/plain; charset=UTF-8; format=flowed\r\nContent-Transfer-Encoding: 8bit\r\n\r\nHallo "
    "J\xc3\xbcrgen,\r\n\r\nanbei die "
    "Rechnung.\r\n\r\n--------------0R2w8mJ3kYtLq9vXzA1bC4dE\r\nContent-Type: "
    "application/pdf; name*=UTF-8''Rechnung%20f%C3%BCr%20Januar.pdf\r\nContent-Disposition: "
    "attachment;\r\n filename*0*=UTF-8''%52%65%63%68%6E%75%6E%67%20%66%C3%BC%72%20%4A%61%6E;\r\n "
    "filename*1*=%75%61%72%2E%70%64%66\r\nContent-Transfer-Encoding: "
    "base64\r\n\r\nJVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFIvRmlsdGVyIC9GbGF0ZURl\r\nY29k"
    "ZT4+CnN0cmVhbQp4nCvkCuQCAAKSANcKZW5kc3RyZWFtCmVuZG9iago=\r\n\r\n--------------"
    "0R2w8mJ3kYtLq9vXzA1bC4dE--\r\n";

static const char MSG_FORWARD[] =
    "From: Paul <paul@example.com>\r\nTo: Quinn <quinn@example.com>\r\nSubject: "
    "Fwd: report\r\nDate: Thu, 14 Mar 2024 11:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: "
    "multipart/mixed; boundary=\"fwd-outer\"\r\n\r\n--fwd-outer\r\nContent-Type: "
    "text/plain; charset=\"UTF-8\"\r\n\r\nSee the forwarded "
    "mail.\r\n\r\n--fwd-outer\r\nContent-Type: "
    "message/rfc822; name=\"report.eml\"\r\nContent-Disposition: attachment; "
    "filename=\"report.eml\"\r\n\r\nReturn-Path: "
    "<rita@example.org>\r\nFrom: Rita <rita@example.org>\r\nTo: Paul "
    "<paul@example.com>\r\nSubject: "
    "report\r\nDate: Wed, 13 Mar 2024 17:30:00 -0500\r\nMessage-ID: "
    "<report-1@example.org>\r\nMIME-Version: "
    "1.0\r\nContent-Type: multipart/mixed; boundary=\"in-b\"\r\n\r\n--in-b\r\nContent-Type: "
    "text/plain; charset=utf-8\r\nContent-Transfer-Encoding: "
    "base64\r\n\r\nSGVyZSBpcyB0aGUgcmVwb3J0Lg0KDQotLSBSaXRhDQo=\r\n\r\n--in-b\r\nContent-Type: "
    "text/csv; name=\"data.csv\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: "
    "attachment; "
    "filename=\"data.csv\"\r\n\r\nYSxiLGMKMSwyLDMK\r\n--in-b--\r\n\r\n--fwd-outer--\r\n";

static const char MSG_NOMIME[] =
    "From: old@legacy.example (Old Timer)\r\nTo: list@legacy.example\r\nSubject: "
    "no MIME-Version here\r\nDate: 1 Feb 99 12:00 EST\r\nContent-Type: text/plain; "
    "charset=iso-8859-1\r\n\r\nPlain old text.\r\nSecond line.\r\n";

static const char MSG_DIGEST2[] =
    "From: list-request@example.org\r\nTo: list@example.org\r\nSubject: Digest, "
    "Vol 1, Issue 2\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; "
    "boundary=\"===============1234==\"\r\n\r\n--===============1234==\r\nContent-Type: "
    "text/plain; charset=\"us-ascii\"\r\nContent-Description: Digest contents\r\n\r\nToday's "
    "topics: 2\r\n--===============1234==\r\nContent-Type: multipart/digest; "
    "boundary=\"===============5678==\"\r\n\r\n--===============5678==\r\nContent-Type: "
    "message/rfc822\r\nMIME-Version: 1.0\r\n\r\nFrom: a@example.org\r\nSubject: "
    "topic one\r\nDate: Mon, 1 Jan 2024 00:00:00 "
    "+0000\r\n\r\nfirst\r\n--===============5678==\r\n\r\nFrom: "
    "b@example.org\r\nSubject: topic "
    "two\r\n\r\nsecond\r\n--===============5678==--\r\n\r\n--===============1234==--\r\n";

static const char MSG_SUBJECTS[] =
    "From: =?utf-8?q?S=C3=B8ren?= <soren@example.dk>, \"=?ISO-8859-1?Q?Fran=E7ois?=\" "
    "<f@example.fr>\r\nTo: =?utf-8?b?5pel5pys6Kqe?= <jp@example.jp>\r\nSubject: "
    "=?utf-8?B?8J+YgCBFbW9qaQ==?=\r\n =?utf-8?Q?_and_more?=\r\nDate: Sat, 2 Mar "
    "2024 10:00:00 +0900\r\n\r\nx\r\n";

static const char MSG_GROUPS[] =
    "From: \"Last, First\" <first.last@example.com> (work)\r\nTo: undisclosed-recipients:;\r\nCc: "
    "Team: alice@example.com, \"Bob B.\" <bob@example.com>; , carol@example.com, "
    "Empty:;\r\nBcc: (only a comment)\r\nReply-To: Friends: ;\r\nSender: bare-local\r\nSubject: "
    "groups and empty groups\r\nIn-Reply-To: <a@b> <c@d>\r\nMessage-ID:  <id@example.com> "
    " (comment)\r\n\r\nbody\r\n";

static const char MSG_UNCLOSED[] =
    "From: x@example.com\r\nSubject: broken boundary\r\nMIME-Version: 1.0\r\nContent-Type: "
    "multipart/mixed; boundary=\"brk\"\r\n\r\npreamble\r\n--brk\r\nContent-Type: "
    "text/plain\r\n\r\nfirst part\r\n--brk\r\nContent-Type: multipart/alternative; "
    "boundary=\"inner-brk\"\r\n\r\n--inner-brk\r\nContent-Type: text/plain\r\n\r\ninner "
    "never closed\r\n--brk\r\nContent-Type: text/html\r\n\r\n<p>last</p>\r\n";

static const char MSG_CASING[] =
    "From: X <x@Example.COM>\r\nSubject: case\r\nMIME-Version: 1.0\r\nContent-Type: "
    "Multipart/Mixed; Boundary=\"CaseB\"\r\n\r\n--CaseB\r\nContent-Type: Text/HTML; "
    "Charset=\"UTF-8\"; Format=Flowed\r\nContent-Transfer-Encoding: "
    "Quoted-Printable\r\nContent-Disposition: "
    "Inline; FileName=\"A.html\"\r\n\r\n<b>x</b>\r\n--CaseB\r\nContent-Type: "
    "APPLICATION/OCTET-STREAM\r\nContent-Transfer-Encoding: "
    "BASE64\r\n\r\nAAAA\r\n--CaseB\r\nContent-Type: text/plain; "
    "charset=\r\nContent-ID:\r\nContent-Description: "
    "\r\n\r\nempty params\r\n--CaseB--\r\n";

struct texts_case {
	const char *name, *msg, *envelope, *bodystructure, *body;
};

static const struct texts_case cases[] = {
    {"apple", MSG_APPLE,
     "(\"Wed, 3 May 2023 18:04:11 +0200\" \"Photo from the trip\" ((\"Anna Apple\" "
     "NIL \"anna\" \"me.example\")) ((\"Anna Apple\" NIL \"anna\" \"me.example\")) "
     "((\"Anna Apple\" NIL \"anna\" \"me.example\")) ((\"Ben\" NIL \"ben\" \"example.org\")) "
     "NIL NIL NIL \"<5C1F2D0E-1B8A-4D2C-9F3A-0A1B2C3D4E5F@me.example>\")",
     "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 17 2 NIL NIL "
     "NIL NIL)((\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 155 "
     "0 NIL NIL NIL NIL)(\"image\" \"png\" (\"x-unix-mode\" \"0644\" \"name\" \"IMG_0001.png\") "
     "\"<A1B2C3@me.example>\" NIL \"base64\" 98 NIL (\"inline\" (\"filename\" \"IMG_0001.png\")) "
     "NIL NIL) \"related\" (\"type\" \"text/html\" \"boundary\" "
     "\"Apple-Mail=_9E8D7C6B-5A4F-3E2D-1C0B-A9F8E7D6C5B4\") "
     "NIL NIL NIL) \"alternative\" (\"boundary\" "
     "\"Apple-Mail=_5C1F2D0E-1B8A-4D2C-9F3A-0A1B2C3D4E5F\") "
     "NIL NIL NIL)",
     "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 17 2)((\"text\" "
     "\"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 155 0)(\"image\" \"png\" "
     "(\"x-unix-mode\" \"0644\" \"name\" \"IMG_0001.png\") \"<A1B2C3@me.example>\" "
     "NIL \"base64\" 98) \"related\") \"alternative\")"},
    /* Dovecot 2.3 leaves the RFC 2231 values encoded ("name*"
     * "UTF-8''Rechnung%20f%C3%BCr%20Januar.pdf"); RFC 9051 7.5.2 has them
     * decoded and joined, in UTF-8 under "name*" and "filename*". */
    {"thunderbird", MSG_THUNDERBIRD,
     "(\"Fri, 12 Jan 2024 09:15:00 +0100\" \"=?UTF-8?Q?Rechnung_f=C3=BCr_Januar?=\" "
     "((\"Zoe\" NIL \"zoe\" \"example.net\")) ((\"Zoe\" NIL \"zoe\" \"example.net\")) "
     "((\"Zoe\" NIL \"zoe\" \"example.net\")) ((\"=?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?=\" "
     "NIL \"jm\" \"example.de\")) NIL NIL NIL "
     "\"<7f3e1a2b-4c5d-6e7f-8a9b-0c1d2e3f4a5b@example.net>\")",
     "((\"text\" \"plain\" (\"charset\" \"UTF-8\" \"format\" \"flowed\") NIL NIL "
     "\"8bit\" 39 3 NIL NIL NIL NIL)(\"application\" \"pdf\" (\"name*\" {24}\r\nRechnung "
     "f\xc3\xbcr Januar.pdf) NIL NIL \"base64\" 136 NIL (\"attachment\" (\"filename*\" "
     "{24}\r\nRechnung f\xc3\xbcr Januar.pdf)) NIL NIL) \"mixed\" (\"boundary\" "
     "\"------------0R2w8mJ3kYtLq9vXzA1bC4dE\") "
     "NIL (\"de-DE\") NIL)",
     "((\"text\" \"plain\" (\"charset\" \"UTF-8\" \"format\" \"flowed\") NIL NIL "
     "\"8bit\" 39 3)(\"application\" \"pdf\" (\"name*\" {24}\r\nRechnung f\xc3\xbcr "
     "Januar.pdf) NIL NIL \"base64\" 136) \"mixed\")"},
    {"forward", MSG_FORWARD,
     "(\"Thu, 14 Mar 2024 11:00:00 +0000\" \"Fwd: report\" ((\"Paul\" NIL \"paul\" "
     "\"example.com\")) ((\"Paul\" NIL \"paul\" \"example.com\")) ((\"Paul\" NIL "
     "\"paul\" \"example.com\")) ((\"Quinn\" NIL \"quinn\" \"example.com\")) NIL "
     "NIL NIL NIL)",
     "((\"text\" \"plain\" (\"charset\" \"UTF-8\") NIL NIL \"7bit\" 25 1 NIL NIL "
     "NIL NIL)(\"message\" \"rfc822\" (\"name\" \"report.eml\") NIL NIL \"7bit\" "
     "556 (\"Wed, 13 Mar 2024 17:30:00 -0500\" \"report\" ((\"Rita\" NIL \"rita\" "
     "\"example.org\")) ((\"Rita\" NIL \"rita\" \"example.org\")) ((\"Rita\" NIL "
     "\"rita\" \"example.org\")) ((\"Paul\" NIL \"paul\" \"example.com\")) NIL NIL "
     "NIL \"<report-1@example.org>\") ((\"text\" \"plain\" (\"charset\" \"utf-8\") "
     "NIL NIL \"base64\" 46 1 NIL NIL NIL NIL)(\"text\" \"csv\" (\"name\" \"data.csv\" "
     "\"charset\" \"us-ascii\") NIL NIL \"base64\" 16 0 NIL (\"attachment\" (\"filename\" "
     "\"data.csv\")) NIL NIL) \"mixed\" (\"boundary\" \"in-b\") NIL NIL NIL) 22 NIL "
     "(\"attachment\" (\"filename\" \"report.eml\")) NIL NIL) \"mixed\" (\"boundary\" "
     "\"fwd-outer\") NIL NIL NIL)",
     "((\"text\" \"plain\" (\"charset\" \"UTF-8\") NIL NIL \"7bit\" 25 1)(\"message\" "
     "\"rfc822\" (\"name\" \"report.eml\") NIL NIL \"7bit\" 556 (\"Wed, 13 Mar 2024 "
     "17:30:00 -0500\" \"report\" ((\"Rita\" NIL \"rita\" \"example.org\")) ((\"Rita\" "
     "NIL \"rita\" \"example.org\")) ((\"Rita\" NIL \"rita\" \"example.org\")) ((\"Paul\" "
     "NIL \"paul\" \"example.com\")) NIL NIL NIL \"<report-1@example.org>\") ((\"text\" "
     "\"plain\" (\"charset\" \"utf-8\") NIL NIL \"base64\" 46 1)(\"text\" \"csv\" "
     "(\"name\" \"data.csv\" \"charset\" \"us-ascii\") NIL NIL \"base64\" 16 0) \"mixed\") "
     "22) \"mixed\")"},
    {"nomime", MSG_NOMIME,
     "(\"1 Feb 99 12:00 EST\" \"no MIME-Version here\" ((\"Old Timer\" NIL \"old\" "
     "\"legacy.example\")) ((\"Old Timer\" NIL \"old\" \"legacy.example\")) ((\"Old "
     "Timer\" NIL \"old\" \"legacy.example\")) ((NIL NIL \"list\" \"legacy.example\")) "
     "NIL NIL NIL NIL)",
     "(\"text\" \"plain\" (\"charset\" \"iso-8859-1\") NIL NIL \"7bit\" 31 2 NIL "
     "NIL NIL NIL)",
     "(\"text\" \"plain\" (\"charset\" \"iso-8859-1\") NIL NIL \"7bit\" 31 2)"},
    {"digest2", MSG_DIGEST2,
     "(NIL \"Digest, Vol 1, Issue 2\" ((NIL NIL \"list-request\" \"example.org\")) "
     "((NIL NIL \"list-request\" \"example.org\")) ((NIL NIL \"list-request\" \"example.org\")) "
     "((NIL NIL \"list\" \"example.org\")) NIL NIL NIL NIL)",
     "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL \"Digest contents\" \"7bit\" "
     "17 0 NIL NIL NIL NIL)((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 86 (\"Mon, "
     "1 Jan 2024 00:00:00 +0000\" \"topic one\" ((NIL NIL \"a\" \"example.org\")) "
     "((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) NIL NIL "
     "NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
     "5 0 NIL NIL NIL NIL) 4 NIL NIL NIL NIL)(\"message\" \"rfc822\" NIL NIL NIL "
     "\"7bit\" 49 (NIL \"topic two\" ((NIL NIL \"b\" \"example.org\")) ((NIL NIL "
     "\"b\" \"example.org\")) ((NIL NIL \"b\" \"example.org\")) NIL NIL NIL NIL NIL) "
     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 0 NIL NIL "
     "NIL NIL) 3 NIL NIL NIL NIL) \"digest\" (\"boundary\" \"===============5678==\") "
     "NIL NIL NIL) \"mixed\" (\"boundary\" \"===============1234==\") NIL NIL NIL)",
     "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL \"Digest contents\" \"7bit\" "
     "17 0)((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 86 (\"Mon, 1 Jan 2024 00:00:00 "
     "+0000\" \"topic one\" ((NIL NIL \"a\" \"example.org\")) ((NIL NIL \"a\" \"example.org\")) "
     "((NIL NIL \"a\" \"example.org\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" "
     "(\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 0) 4)(\"message\" \"rfc822\" "
     "NIL NIL NIL \"7bit\" 49 (NIL \"topic two\" ((NIL NIL \"b\" \"example.org\")) "
     "((NIL NIL \"b\" \"example.org\")) ((NIL NIL \"b\" \"example.org\")) NIL NIL "
     "NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
     "6 0) 3) \"digest\") \"mixed\")"},
    /* Dovecot 2.3 sends this subject as a literal ({50}); the same string
     * quoted is the same answer (RFC 9051 4.3). */
    {"subjects", MSG_SUBJECTS,
     "(\"Sat, 2 Mar 2024 10:00:00 +0900\" \"=?utf-8?B?8J+YgCBFbW9qaQ==?= =?utf-8?Q?_and_more?=\" "
     "((\"=?utf-8?q?S=C3=B8ren?=\" NIL \"soren\" \"example.dk\")(\"=?ISO-8859-1?Q?Fran=E7ois?=\" "
     "NIL \"f\" \"example.fr\")) ((\"=?utf-8?q?S=C3=B8ren?=\" NIL \"soren\" "
     "\"example.dk\")(\"=?ISO-8859-1?Q?Fran=E7ois?=\" "
     "NIL \"f\" \"example.fr\")) ((\"=?utf-8?q?S=C3=B8ren?=\" NIL \"soren\" "
     "\"example.dk\")(\"=?ISO-8859-1?Q?Fran=E7ois?=\" "
     "NIL \"f\" \"example.fr\")) ((\"=?utf-8?b?5pel5pys6Kqe?=\" NIL \"jp\" \"example.jp\")) "
     "NIL NIL NIL NIL)",
     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1 NIL NIL "
     "NIL NIL)",
     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)"},
    {"groups", MSG_GROUPS,
     "(NIL \"groups and empty groups\" ((\"Last, First\" NIL \"first.last\" \"example.com\")) "
     "((NIL NIL \"bare-local\" \"MISSING_DOMAIN\")) ((NIL NIL \"Friends\" NIL)(NIL "
     "NIL NIL NIL)) ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) ((NIL "
     "NIL \"Team\" NIL)(NIL NIL \"alice\" \"example.com\")(\"Bob B.\" NIL \"bob\" "
     "\"example.com\")(NIL NIL NIL NIL)(NIL NIL \"carol\" \"example.com\")(NIL NIL "
     "\"Empty\" NIL)(NIL NIL NIL NIL)) NIL \"<a@b> <c@d>\" \"<id@example.com>  (comment)\")",
     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1 NIL NIL "
     "NIL NIL)",
     "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1)"},
    {"unclosed", MSG_UNCLOSED,
     "(NIL \"broken boundary\" ((NIL NIL \"x\" \"example.com\")) ((NIL NIL \"x\" "
     "\"example.com\")) ((NIL NIL \"x\" \"example.com\")) NIL NIL NIL NIL NIL)",
     "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 0 NIL NIL "
     "NIL NIL)((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 18 "
     "0 NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"inner-brk\") NIL NIL NIL)(\"text\" "
     "\"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 13 1 NIL NIL NIL NIL) "
     "\"mixed\" (\"boundary\" \"brk\") NIL NIL NIL)",
     "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 0)((\"text\" "
     "\"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 18 0) \"alternative\")(\"text\" "
     "\"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 13 1) \"mixed\")"},
    {"casing", MSG_CASING,
     "(NIL \"case\" ((\"X\" NIL \"x\" \"Example.COM\")) ((\"X\" NIL \"x\" \"Example.COM\")) "
     "((\"X\" NIL \"x\" \"Example.COM\")) NIL NIL NIL NIL NIL)",
     "((\"Text\" \"HTML\" (\"Charset\" \"UTF-8\" \"Format\" \"Flowed\") NIL NIL "
     "\"Quoted-Printable\" "
     "8 0 NIL (\"Inline\" (\"FileName\" \"A.html\")) NIL NIL)(\"APPLICATION\" \"OCTET-STREAM\" "
     "NIL NIL NIL \"BASE64\" 4 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"\") "
     "\"\" \"\" \"7bit\" 12 0 NIL NIL NIL NIL) \"Mixed\" (\"Boundary\" \"CaseB\") "
     "NIL NIL NIL)",
     "((\"Text\" \"HTML\" (\"Charset\" \"UTF-8\" \"Format\" \"Flowed\") NIL NIL "
     "\"Quoted-Printable\" "
     "8 0)(\"APPLICATION\" \"OCTET-STREAM\" NIL NIL NIL \"BASE64\" 4)(\"text\" \"plain\" "
     "(\"charset\" \"\") \"\" \"\" \"7bit\" 12 0) \"Mixed\")"},
};

struct section_case {
	const char *msg, *section, *expected;
};

static const struct section_case sections[] = {
    {MSG_APPLE, "1", "Look at this:\r\n\r\n"},
    {MSG_APPLE, "1.MIME",
     "Content-Transfer-Encoding: 7bit\r\nContent-Type: text/plain;\r\n\tcharset=us-ascii\r\n\r\n"},
    {MSG_APPLE, "2.1",
     "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; "
     "charset=us-ascii\"></head><body>Look "
     "at this:<img src=\"cid:A1B2C3@me.example\"></body></html>"},
    {MSG_APPLE, "2.2.MIME",
     "Content-Transfer-Encoding: base64\r\nContent-Disposition: "
     "inline;\r\n\tfilename=IMG_0001.png\r\nContent-Type: "
     "image/png;\r\n\tx-unix-mode=0644;\r\n\tname=\"IMG_0001.png\"\r\nContent-Id: "
     "<A1B2C3@me.example>\r\n\r\n"},
    {MSG_APPLE, "2.2.1",
     "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA\r\n60e6kgAAAABJRU5Er"
     "kJggg=="},
    {MSG_APPLE, "2.3", ""},
    {MSG_APPLE, "HEADER.FIELDS (From Subject)",
     "From: Anna Apple <anna@me.example>\r\nSubject: Photo from the trip\r\n\r\n"},
    {MSG_THUNDERBIRD, "1", "Hallo J\xc3\xbcrgen,\r\n\r\nanbei die Rechnung.\r\n"},
    {MSG_THUNDERBIRD, "1.1", "Hallo J\xc3\xbcrgen,\r\n\r\nanbei die Rechnung.\r\n"},
    {MSG_THUNDERBIRD, "2.MIME",
     "Content-Type: application/pdf; "
     "name*=UTF-8''Rechnung%20f%C3%BCr%20Januar.pdf\r\nContent-Disposition: "
     "attachment;\r\n filename*0*=UTF-8''%52%65%63%68%6E%75%6E%67%20%66%C3%BC%72%20%4A%61%6E;\r\n "
     "filename*1*=%75%61%72%2E%70%64%66\r\nContent-Transfer-Encoding: base64\r\n\r\n"},
    {MSG_THUNDERBIRD, "HEADER.FIELDS (Subject To)",
     "To: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jm@example.de>\r\nSubject: "
     "=?UTF-8?Q?Rechnung_f=C3=BCr_Januar?=\r\n\r\n"},
    {MSG_FORWARD, "2.HEADER",
     "Return-Path: <rita@example.org>\r\nFrom: Rita <rita@example.org>\r\nTo: Paul "
     "<paul@example.com>\r\nSubject: report\r\nDate: Wed, 13 Mar 2024 17:30:00 "
     "-0500\r\nMessage-ID: "
     "<report-1@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; "
     "boundary=\"in-b\"\r\n\r\n"},
    {MSG_FORWARD, "2.TEXT",
     "--in-b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: "
     "base64\r\n\r\nSGVyZSBpcyB0aGUgcmVwb3J0Lg0KDQotLSBSaXRhDQo=\r\n\r\n--in-b\r\nContent-Type: "
     "text/csv; name=\"data.csv\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: "
     "attachment; filename=\"data.csv\"\r\n\r\nYSxiLGMKMSwyLDMK\r\n--in-b--\r\n"},
    {MSG_FORWARD, "2.1", "SGVyZSBpcyB0aGUgcmVwb3J0Lg0KDQotLSBSaXRhDQo=\r\n"},
    {MSG_FORWARD, "2.1.MIME",
     "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"},
    {MSG_FORWARD, "2.2", "YSxiLGMKMSwyLDMK"},
    {MSG_FORWARD, "2.2.1", "YSxiLGMKMSwyLDMK"},
    {MSG_FORWARD, "2.HEADER.FIELDS (Subject)", "Subject: report\r\n\r\n"},
    {MSG_FORWARD, "2.MIME",
     "Content-Type: message/rfc822; name=\"report.eml\"\r\nContent-Disposition: attachment; "
     "filename=\"report.eml\"\r\n\r\n"},
    {MSG_NOMIME, "1", "Plain old text.\r\nSecond line.\r\n"},
    {MSG_NOMIME, "TEXT", "Plain old text.\r\nSecond line.\r\n"},
    {MSG_NOMIME, "HEADER.FIELDS.NOT (Date From To)",
     "Subject: no MIME-Version here\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\n"},
    {MSG_DIGEST2, "1", "Today's topics: 2"},
    {MSG_DIGEST2, "2.1.MIME", "Content-Type: message/rfc822\r\nMIME-Version: 1.0\r\n\r\n"},
    {MSG_DIGEST2, "2.1.HEADER",
     "From: a@example.org\r\nSubject: topic one\r\nDate: Mon, 1 Jan 2024 00:00:00 "
     "+0000\r\n\r\n"},
    {MSG_DIGEST2, "2.1.1", "first"},
    {MSG_DIGEST2, "2.2.MIME", "\r\n"},
    {MSG_DIGEST2, "2.2.TEXT", "second"},
    {MSG_DIGEST2, "2.3", ""},
    {MSG_SUBJECTS, "HEADER.FIELDS (Subject)",
     "Subject: =?utf-8?B?8J+YgCBFbW9qaQ==?=\r\n =?utf-8?Q?_and_more?=\r\n\r\n"},
    {MSG_GROUPS, "HEADER.FIELDS (To Cc Bcc)",
     "To: undisclosed-recipients:;\r\nCc: Team: alice@example.com, \"Bob B.\" <bob@example.com>; "
     ", carol@example.com, Empty:;\r\nBcc: (only a comment)\r\n\r\n"},
    {MSG_GROUPS, "1", "body\r\n"},
    {MSG_UNCLOSED, "1", "first part"},
    {MSG_UNCLOSED, "2", "--inner-brk\r\nContent-Type: text/plain\r\n\r\ninner never closed"},
    {MSG_UNCLOSED, "2.1", "inner never closed"},
    {MSG_UNCLOSED, "2.2", ""},
    {MSG_UNCLOSED, "3", "<p>last</p>\r\n"},
    {MSG_UNCLOSED, "3.MIME", "Content-Type: text/html\r\n\r\n"},
    {MSG_CASING, "1.MIME",
     "Content-Type: Text/HTML; Charset=\"UTF-8\"; Format=Flowed\r\nContent-Transfer-Encoding: "
     "Quoted-Printable\r\nContent-Disposition: Inline; FileName=\"A.html\"\r\n\r\n"},
    {MSG_CASING, "2", "AAAA"},
    {MSG_CASING, "3", "empty params"},
    {MSG_CASING, "3.MIME",
     "Content-Type: text/plain; charset=\r\nContent-ID:\r\nContent-Description: \r\n\r\n"},
};

/* MSG without its CRs before LFs (a Maildir file), allocated. */
static char *to_lf(const char *msg, size_t *len_r)
{
	size_t i, o = 0, len = strlen(msg);
	char *out = malloc(len + 1);

	assert_non_null(out);
	for (i = 0; i < len; i++)
		if (!(msg[i] == '\r' && msg[i + 1] == '\n'))
			out[o++] = msg[i];
	out[o] = '\0';
	*len_r = o;
	return out;
}

/* MSG as it is and as a Maildir file read back: two parses, allocated. */
static void parse_both(const char *msg, struct mime_message **m, char **crlf)
{
	size_t lf_len, crlf_len;
	char *lf = to_lf(msg, &lf_len);

	*crlf = mail_to_crlf(lf, lf_len, &crlf_len);
	assert_int_equal(crlf_len, strlen(msg));
	m[0] = mime_parse(msg, strlen(msg));
	m[1] = mime_parse(*crlf, crlf_len);
	free(lf);
}

static void test_texts(void **state)
{
	size_t i, k;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mime_message *m[2];
		char *crlf;

		print_message("message: %s\n", cases[i].name);
		parse_both(cases[i].msg, m, &crlf);
		for (k = 0; k < 2; k++) {
			char *env = mime_envelope(m[k]), *bs = mime_bodystructure(m[k], 1),
			     *body = mime_bodystructure(m[k], 0);
			assert_string_equal(env, cases[i].envelope);
			assert_string_equal(bs, cases[i].bodystructure);
			assert_string_equal(body, cases[i].body);
			free(env);
			free(bs);
			free(body);
			mime_free(&m[k]);
		}
		free(crlf);
	}
}

/* Reads a section text as IMAP writes it ("1.2.HEADER.FIELDS (A B)") into
 * S; the field names point into BUF. */
static void read_section(const char *text, struct mime_section *s, char *buf, char **fields)
{
	char *w = buf, *p;

	strcpy(buf, text);
	memset(s, 0, sizeof(*s));
	while (*w >= '0' && *w <= '9') {
		s->part[s->n_part++] = (unsigned)strtoul(w, &w, 10);
		if (*w == '.')
			w++;
	}
	if (strcmp(w, "HEADER") == 0)
		s->what = MIME_SECTION_HEADER;
	else if (strcmp(w, "TEXT") == 0)
		s->what = MIME_SECTION_TEXT;
	else if (strcmp(w, "MIME") == 0)
		s->what = MIME_SECTION_MIME;
	else if (strncmp(w, "HEADER.FIELDS", 13) == 0) {
		s->what = strncmp(w, "HEADER.FIELDS.NOT", 17) == 0 ? MIME_SECTION_HEADER_FIELDS_NOT
		                                                   : MIME_SECTION_HEADER_FIELDS;
		s->fields = fields;
		p = strchr(w, '(') + 1;
		for (p = strtok(p, " )"); p != NULL; p = strtok(NULL, " )"))
			fields[s->n_fields++] = p;
	} else
		assert_string_equal(w, "");
}

static void test_sections(void **state)
{
	size_t i, k, len;

	for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		const struct section_case *c = &sections[i];
		struct mime_message *m[2];
		struct mime_section s;
		char buf[256], *fields[16], *crlf;

		print_message("section %s\n", c->section);
		read_section(c->section, &s, buf, fields);
		parse_both(c->msg, m, &crlf);
		for (k = 0; k < 2; k++) {
			char *got = mime_section_get(m[k], &s, &len);
			assert_int_equal(len, strlen(c->expected));
			assert_string_equal(got, c->expected);
			free(got);
			mime_free(&m[k]);
		}
		free(crlf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_texts),
	    cmocka_unit_test(test_sections),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
