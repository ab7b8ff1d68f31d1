#!/usr/bin/python3
"""Login by client certificate (auth = certificate, client_ca): a
certificate from the client CA naming a user (subjectAltName email, else
the CN) logs that user in, who may then relay and only send as herself; a
certificate from another CA, for a name that is no user, or none at all
does not log anybody in.

Addresses of this file: 127.24.0.0/16."""

import ssl
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
import outbound  # noqa: E402
from harness import make_message, token  # noqa: E402
from outbound import a, mx  # noqa: E402

NET = "127.24.0."
ALICE = "alice@local.test"
ALICE_PW = "alice-Pw-%s" % token()[:8]  # a password too: not used here

REFUSED_ERRORS = (ssl.SSLError, harness.ConnectionClosed, ConnectionResetError,
                  BrokenPipeError)


class ClientCertificate(outbound.OutboundTestCase):

    @classmethod
    def setUpClass(cls):
        outbound.need_peers()
        cls.client_ca = harness.TestCA()   # issues the users' certificates
        cls.rogue_ca = harness.TestCA()    # a CA the server knows nothing of
        cls.alice = cls.client_ca.issue_client(email=ALICE, cn="Alice Example")
        cls.alice_cn = cls.client_ca.issue_client(email=None, cn=ALICE)
        cls.mallory = cls.client_ca.issue_client(email="mallory@local.test")
        cls.rogue_alice = cls.rogue_ca.issue_client(email=ALICE)
        # The CA of the server's own certificate is not a client CA either.
        cls.server_ca_alice = harness.ca().issue_client(email=ALICE)

        cls.mxport = outbound.common_port([NET + "1"])
        cls.dns = cls.start_unbound(mx("remote.test", (10, "mx.remote.test")) +
                                    a("mx.remote.test", NET + "1"))
        cls.mx = cls.fake(NET + "1", cls.mxport, name="mx.remote.test")
        srv = harness.Server(
            listeners={"certs": {"protocol": "submission", "tls": "implicit",
                                 "auth": "certificate", "client_ca": cls.client_ca.cert},
                       # another listener trusting another CA: its sessions
                       # must not resume on "certs"
                       "rogue": {"protocol": "submission", "tls": "implicit",
                                 "auth": "certificate", "client_ca": cls.rogue_ca.cert},
                       "mx": "optional"},
            passwords={ALICE: ALICE_PW}, submit_socket=True,
            server_options={"trusted_networks": "192.0.2.0/24"},
            extra_config=outbound.outbound_config(cls.dns.resolver(), cls.mxport))
        cls.addClassCleanup(srv.close)
        cls.srv = srv

    def connect(self, cert):
        ctx = harness.client_context()
        if cert is not None:
            ctx.load_cert_chain(cert.cert, cert.key)
        d = self.srv.dialog("certs", context=ctx)
        self.addCleanup(d.close)
        return d

    def mail_reply(self, cert, sender=ALICE):
        """Connects with CERT, EHLO, MAIL FROM:<SENDER>: the reply to MAIL, or
        the exception if the server ended the TLS session first."""
        try:
            d = self.connect(cert)
            d.ehlo()
            return d.cmd("MAIL FROM:<%s>" % sender)
        except REFUSED_ERRORS as e:
            return e

    def assert_refused(self, cert, what):
        # The server completes the handshake whatever the client presents
        # and logs nobody in: MAIL needs authentication.
        r = self.mail_reply(cert)
        self.assertNotIsInstance(r, Exception, "%s: the session failed: %r" % (what, r))
        self.assertEqual((r.code, r.enhanced), (530, "5.7.0"),
                         "%s: MAIL was answered %s" % (what, r))

    def test_certificate_logs_in_and_relays(self):
        tok = token()
        rcpt = "far-%s@remote.test" % token()[:8]
        d = self.connect(self.alice)
        d.ehlo()
        d.expect("MAIL FROM:<%s>" % ALICE, 250)
        r = d.cmd("RCPT TO:<%s>" % rcpt)
        self.assertEqual(r.code, 250, "relaying refused after certificate login: %s" % r)
        d.expect("RCPT TO:<bob@local.test>", 250)
        d.expect("DATA", 354)
        msg = make_message(tok, sender=ALICE, to=rcpt)
        d.send(harness.dot_stuff(msg) + b".\r\n")
        self.assertEqual(d.read_reply().code, 250)
        d.quit()
        [tx] = self.mx.wait_message(tok, server=self.srv)
        self.assertEqual((tx.sender, tx.rcpt_addresses()), (ALICE, [rcpt]))
        self.assertTrue(tx.data.endswith(msg), tx.data[-300:])
        harness.wait_for(lambda: self.srv.messages_with(tok), what="local copy for bob")
        self.check_fakes_healthy(self.mx)

    def test_common_name_when_no_email(self):
        d = self.connect(self.alice_cn)
        d.ehlo()
        d.expect("MAIL FROM:<%s>" % ALICE, 250)
        r = d.cmd("RCPT TO:<someone@remote.test>")
        self.assertEqual(r.code, 250, "relaying refused after certificate login (CN): %s" % r)
        d.expect("RSET", 250)
        d.quit()

    def test_certificate_user_sends_only_as_herself(self):
        d = self.connect(self.alice)
        d.ehlo()
        r = d.cmd("MAIL FROM:<bob@local.test>")
        self.assertEqual((r.code, r.enhanced), (553, "5.7.1"), str(r))
        self.assertIn(ALICE, r.text.lower(), str(r))
        d.quit()

    def test_no_certificate(self):
        d = self.connect(None)
        d.ehlo()
        r = d.cmd("MAIL FROM:<%s>" % ALICE)
        self.assertEqual((r.code, r.enhanced), (530, "5.7.0"), str(r))
        d.quit()

    def test_other_ca_refused(self):
        self.assert_refused(self.rogue_alice, "certificate from an unknown CA")

    def test_session_does_not_resume_under_another_client_ca(self):
        """A session whose client certificate was verified against one
        listener's client_ca must not resume on a listener trusting another
        CA: resumed, it would carry the verified identity across. On "certs"
        it is a full handshake that logs nobody in. (Sessions with a client
        certificate do not resume on their own listener either, today; this
        guards the day they do.)"""
        ctx = harness.client_context()
        ctx.load_cert_chain(self.rogue_alice.cert, self.rogue_alice.key)
        first = self.srv.dialog("rogue", context=ctx)
        first.ehlo()  # TLS 1.3: the ticket has come by the EHLO reply
        self.assertEqual(first.cmd("MAIL FROM:<%s>" % ALICE).code, 250,
                         "the rogue listener trusts the rogue CA")
        first.quit()
        session = first.sock.session
        first.close()
        mark = self.srv.log_mark()
        other = self.srv.dialog("certs", context=ctx, session=session)
        self.addCleanup(other.close)
        self.assertFalse(other.sock.session_reused,
                         "a session of the rogue listener resumed on the certs listener")
        other.ehlo()
        r = other.cmd("MAIL FROM:<%s>" % ALICE)
        self.assertEqual((r.code, r.enhanced), (530, "5.7.0"), str(r))
        other.quit()
        self.assertEqual([e["result"] for e in self.srv.events("client-certificate", since=mark)],
                         ["untrusted"])

    def test_server_ca_is_not_a_client_ca(self):
        self.assert_refused(self.server_ca_alice, "certificate from the server's own CA")

    def test_certificate_of_no_user_refused(self):
        self.assert_refused(self.mallory, "certificate for mallory (no such user)")

    def test_certificate_means_nothing_on_the_mx_listener(self):
        # The mx listener does not ask for or use client certificates:
        # relaying stays refused there.
        ctx = harness.client_context()
        ctx.load_cert_chain(self.alice.cert, self.alice.key)
        with self.srv.dialog("mx") as d:
            d.ehlo()
            d.starttls(context=ctx)
            d.ehlo()
            d.expect("MAIL FROM:<%s>" % ALICE, 250)
            r = d.cmd("RCPT TO:<someone@remote.test>")
            self.assertEqual((r.code, r.enhanced), (554, "5.7.1"), str(r))
            d.quit()


if __name__ == "__main__":
    harness.main()
