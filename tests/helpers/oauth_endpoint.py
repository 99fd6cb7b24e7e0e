"""A local stand-in for Microsoft's and Google's OAuth2 endpoints, over HTTPS on 127.0.0.1
with a throwaway CA, so msal and google-auth run their real flows offline.

Every access token it issues is registered with an :class:`~introspection.Introspection`, so
the Dovecot of the tests accepts it: a token from msal's device-code flow logs in to a real
IMAP server. ``grants`` counts the grants asked for (``refresh_token`` among them).
"""

from __future__ import annotations

import base64
import json
import secrets
import ssl
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from .dovecot import make_certificates

TENANT = "contoso.example"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


class OAuthEndpoint:
    """``base`` is the https address; Microsoft's authority is ``base`` + ``/`` + TENANT, Google's
    endpoints are ``base/google/auth`` and ``base/google/token``."""

    def __init__(self, folder: Path, introspection, user: str, lifetime: int = 3600):
        self.ca_file, cert, key = make_certificates(folder)
        self.introspection, self.user, self.lifetime = introspection, user, lifetime
        self.grants: Counter[str] = Counter()
        self.refresh_tokens: set[str] = set()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, answer: dict) -> None:
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                if self.path.endswith("/.well-known/openid-configuration"):
                    root = f"{owner.base}/{TENANT}"
                    self._send(200, {"issuer": f"{root}/v2.0", "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
                                     "token_endpoint": f"{root}/oauth2/v2.0/token",
                                     "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode"})
                else:
                    self._send(404, {"error": "not_found"})

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                form = {k: v[0] for k, v in parse_qs(body).items()}
                path = urlparse(self.path).path
                if path.endswith("/devicecode"):
                    self._send(200, {"device_code": "device-123", "user_code": "ABCD-EFGH", "expires_in": 900,
                                     "interval": 1, "verification_uri": "https://microsoft.com/devicelogin",
                                     "message": "To sign in, open https://microsoft.com/devicelogin and enter ABCD-EFGH"})
                    return
                grant = form.get("grant_type", "")
                owner.grants[grant.rsplit(":", 1)[-1]] += 1
                if grant == "refresh_token" and form.get("refresh_token") not in owner.refresh_tokens:
                    self._send(400, {"error": "invalid_grant", "error_description": "refresh token unknown"})
                    return
                self._send(200, owner.issue(form, google=path.startswith("/google")))

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.base = f"https://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def issue(self, form: dict, google: bool) -> dict:
        token = "at-" + secrets.token_urlsafe(24)
        self.introspection.tokens[token] = self.user
        answer = {"token_type": "Bearer", "access_token": token, "expires_in": self.lifetime}
        if google:
            answer["scope"] = "https://mail.google.com/"
        else:
            answer["scope"] = form.get("scope", "https://outlook.office.com/IMAP.AccessAsUser.All")
        if form.get("grant_type") == "client_credentials" or form.get("grant_type", "").endswith("jwt-bearer"):
            return answer
        refresh = "rt-" + secrets.token_urlsafe(24)
        self.refresh_tokens.add(refresh)
        answer["refresh_token"] = refresh
        if not google:
            now = int(time.time())
            client_id = form.get("client_id", "")
            claims = {"iss": f"{self.base}/{TENANT}/v2.0", "aud": client_id, "iat": now, "nbf": now,
                      "exp": now + 3600, "sub": "sub-1", "oid": "oid-1", "tid": "tid-1",
                      "preferred_username": f"{self.user}@contoso.example"}
            answer["id_token"] = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.sig"
            answer["client_info"] = _b64({"uid": "oid-1", "utid": "tid-1"})
        return answer

    def __enter__(self) -> "OAuthEndpoint":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
