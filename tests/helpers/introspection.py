"""A small OAuth2 token-introspection endpoint (RFC 7662) on 127.0.0.1, for Dovecot's
``oauth2`` passdb: a token it was given is active for its user, any other is not."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from .dovecot import OTHER_USER


class Introspection:
    """``tokens`` maps an access token to the user it belongs to; ``asked`` lists every token
    the server was asked about, in order."""

    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}
        self.asked: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                token = parse_qs(body).get("token", [""])[0]
                owner.asked.append(token)
                user = owner.tokens.get(token)
                answer = {"active": True, "username": user, "scope": "imap"} if user else {"active": False}
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/introspect"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "Introspection":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


TOKEN = "ya29.a0-test-ACCESS-token-7d1f"  # what the introspection endpoint is told is OTHER_USER's


def token_script(folder: Path, token: str = TOKEN) -> Path:
    """A token helper as users write them: prints the token, chats on stderr (the token too)."""
    calls = folder / "token-calls"
    script = folder / "token.sh"
    script.write_text(f"#!/bin/sh\necho x >> {calls}\necho 'refreshed token {token} for {OTHER_USER}' >&2\n"
                      f"echo '{token}'\n")
    script.chmod(0o755)
    return script
