#!/usr/bin/python3
"""Connection slots under [limits]: a session gives its place back when it
ends (at QUIT, before 221 is written), not when its memory goes, so a
client that sends one message per connection is never refused for its own
previous connection; trusted_networks have no per-client limit, but the
total still holds."""

import sys
import threading

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import SENDER, make_message, token


def settle(srv):
    """Waits until the harness's readiness probe (a connection closed
    without QUIT) has ended: a client leaving without QUIT holds its place
    until the server reads the end of its connection."""
    harness.wait_for(lambda: len(srv.events("disconnect")) == len(srv.listeners),
                     what="the readiness probe's session to end")


class Reconnecting(harness.ServerTestCase):

    def test_reconnecting_clients_are_not_refused(self):
        """As many parallel clients as the per-client limit, each opening
        a new connection at once after reading 221, over two dispatchers
        (the next connection often lands on the other one): none may get
        421. Slots freed only when a session's memory went refused some."""
        clients, cycles = 4, 120
        srv = self.server_for(listeners={"mx": "optional"}, dispatchers=2,
                              limits={"connections_per_client": clients})
        settle(srv)
        refused, errors = [], []

        def client(n):
            try:
                for i in range(cycles):
                    with srv.dialog(greeting=False) as d:
                        r = d.read_reply()
                        if r.code != 220:
                            refused.append((n, i, str(r)))
                            return
                        d.expect("EHLO client.test", 250)
                        d.expect("QUIT", 221)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append("client %d: %r" % (n, e))

        threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(harness.TIMEOUT * 4)
        self.assertEqual(errors, [])
        self.assertEqual(refused, [], "a client was refused for its own closed sessions")
        self.assertEqual(srv.events("connection-refused"), [])

    def test_message_per_connection(self):
        """The same with a message in every connection, each delivered once."""
        clients, cycles = 3, 30
        srv = self.server_for(listeners={"mx": "optional"}, dispatchers=2,
                              limits={"connections_per_client": clients})
        settle(srv)
        toks, errors = [], []

        def client(n):
            try:
                for _ in range(cycles):
                    tok = token()
                    with srv.dialog() as d:
                        d.ehlo()
                        d.mail_transaction(SENDER, ["bob@local.test"], make_message(tok))
                        d.expect("QUIT", 221)
                    toks.append(tok)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append("client %d: %r" % (n, e))

        threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(harness.TIMEOUT * 4)
        self.assertEqual(errors, [])
        self.assertEqual(len(toks), clients * cycles)
        for tok in toks:
            harness.wait_for(lambda: srv.messages_with(tok), what="delivery of " + tok)
            self.assertEqual(len(srv.messages_with(tok)), 1)


class TrustedNetworks(harness.ServerTestCase):

    def test_trusted_clients_have_no_per_client_limit(self):
        srv = self.server_for(listeners={"mx": "optional"}, dispatchers=1,
                              server_options={"trusted_networks": "127.0.0.0/8"},
                              limits={"connections_per_client": 2, "connections": 5})
        held = []
        try:
            for _ in range(5):
                d = srv.dialog()
                self.assertEqual(d.greeting.code, 220, d.greeting)
                held.append(d)
            # the total is still a limit
            with srv.dialog(greeting=False) as d:
                r = d.read_reply()
                self.assertEqual(r.code, 421, r)
                self.assertEqual(r.enhanced, "4.7.0")
            harness.wait_for(lambda: [e["limit"] for e in srv.events("connection-refused")]
                             == ["total"], what="the refusal logged as the total limit")
        finally:
            for d in held:
                d.close()

    def test_untrusted_clients_keep_the_limit(self):
        srv = self.server_for(listeners={"mx": "optional"}, dispatchers=1,
                              limits={"connections_per_client": 2})
        held = [srv.dialog() for _ in range(2)]
        try:
            with srv.dialog(greeting=False) as d:
                r = d.read_reply()
                self.assertEqual(r.code, 421, r)
            harness.wait_for(lambda: [e["limit"] for e in srv.events("connection-refused")]
                             == ["per-client"], what="the refusal logged as the per-client limit")
        finally:
            for d in held:
                d.close()


if __name__ == "__main__":
    harness.main()
