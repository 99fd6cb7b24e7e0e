"""A TCP proxy in front of a real IMAP server that rewrites some of the server's response lines:
a server that announces a bogus UIDNEXT, or none (Courier), without writing a fake server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

from .dovecot import free_port


class RewritingProxy:
    """Listens on 127.0.0.1:``port`` and relays to ``upstream``; each line the server sends passes
    through ``rewrite`` (return None to drop it). Use as a context manager."""

    def __init__(self, upstream: int, rewrite: Callable[[bytes], bytes | None] = lambda line: line,
                 refuse: Callable[[bytes], bool] = lambda line: False, pace: Callable[[bytes], float] = lambda line: 0,
                 answer: Callable[[bytes], bytes | None] = lambda line: None):
        """``refuse``: client command lines the proxy answers with BAD itself, as a server that
        cannot parse them would (never forwarded). ``pace``: seconds between the bytes of a
        server line (a server trickling its answer); 0 sends it at once. ``answer``: what the
        proxy itself answers to a client line instead of forwarding it (None: forward)."""
        self.upstream, self.rewrite, self.refuse, self.pace, self.answer = upstream, rewrite, refuse, pace, answer
        self.port = free_port()
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.sockets: list[socket.socket] = []

    def __enter__(self) -> "RewritingProxy":
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.listener.close()
        for sock in self.sockets:
            try:
                sock.close()
            except OSError:
                pass

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream))
            self.sockets += [client, server]
            threading.Thread(target=self._commands, args=(client, server), daemon=True).start()
            threading.Thread(target=self._lines, args=(server, client), daemon=True).start()

    def _commands(self, client: socket.socket, server: socket.socket) -> None:
        reader = client.makefile("rb")
        try:
            for line in reader:
                answered = self.answer(line)
                if answered is not None:
                    client.sendall(answered)
                elif self.refuse(line):
                    client.sendall(line.split(b" ", 1)[0] + b" BAD Error in IMAP command: unknown argument\r\n")
                else:
                    server.sendall(line)
        except OSError:
            pass
        finally:
            server.close()

    def _lines(self, source: socket.socket, target: socket.socket) -> None:
        reader = source.makefile("rb")
        try:
            for line in reader:
                changed = self.rewrite(line)
                delay = self.pace(line)
                if changed is not None and delay:
                    for byte in changed:
                        target.sendall(bytes([byte]))
                        time.sleep(delay)
                elif changed is not None:
                    target.sendall(changed)
        except OSError:
            pass
        finally:
            target.close()
