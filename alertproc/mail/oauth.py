"""OAuth2 access tokens for IMAP without a helper script: Microsoft 365 (msal, extra ``m365``)
and Google Workspace (google-auth-oauthlib, extra ``google``).

Interactive set-ups log in once (``alertproc auth login``: Microsoft's device-code flow,
Google's installed-app flow, since Google's device flow does not allow the mail scope) and
keep a refresh token in a cache file created 0600; every connect then asks for an access
token silently, refreshed by the library when it expires within minutes. Unattended set-ups
need no login: Microsoft client credentials (a secret or a certificate) or a Google service
account with domain-wide delegation. See docs/mailboxes.md.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..config import ImapSettings
from ..credentials import from_command, from_env
from ..errors import ConfigError
from ..masking import remember

MICROSOFT_AUTHORITY = "https://login.microsoftonline.com"
MICROSOFT_DELEGATED = ["https://outlook.office.com/IMAP.AccessAsUser.All"]  # msal adds offline_access itself
MICROSOFT_APP = ["https://outlook.office365.com/.default"]  # client credentials: the app's own IMAP permission
GOOGLE_SCOPE = ["https://mail.google.com/"]  # the only scope Gmail's IMAP accepts
GOOGLE_AUTH_URI, GOOGLE_TOKEN_URI = "https://accounts.google.com/o/oauth2/auth", "https://oauth2.googleapis.com/token"
EXTRA = {"microsoft": "m365", "google": "google"}


@dataclass
class TokenStatus:
    """What ``auth status`` and ``doctor`` say about an account's token."""

    account: str
    provider: str
    flow: str  # device code, installed app, client credentials, service account, token command
    valid: bool
    detail: str  # for whom, which scope, until when — or what to do


def cache_path(cfg: ImapSettings) -> Path:
    """The account's token cache file: ``oauth2_token_cache``, else one per account under
    ``~/.cache/alertproc`` (``$XDG_CACHE_HOME`` honoured)."""
    if cfg.oauth2_token_cache:
        return Path(cfg.oauth2_token_cache).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "alertproc"
    return base / (re.sub(r"[^A-Za-z0-9._-]+", "_", cfg.label) + ".tokens.json")


def read_cache(path: Path) -> str | None:
    """The cache's text, or None when there is none; refuses a file others can read."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    if mode & 0o077:
        raise ConfigError(f"{path}: the token cache is readable by others (mode {mode & 0o777:o}); "
                          f"chmod 600 {path} — and since others could read it, log in again")
    return path.read_text()


def write_cache(path: Path, text: str) -> None:
    """Replace the cache atomically with a file created 0600 (its folder 0700)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle, temporary = tempfile.mkstemp(prefix=".tokens-", dir=path.parent)  # mkstemp creates it 0600
    try:
        with os.fdopen(handle, "w") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _library(provider: str, module: str):
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        raise ConfigError(f"oauth2_provider = \"{provider}\" needs the '{EXTRA[provider]}' extra: "
                          f"pip install 'alertproc[{EXTRA[provider]}]'") from None


def _client_secret(cfg: ImapSettings, environ: dict[str, str]) -> str | None:
    if cfg.oauth2_client_secret_command:
        return from_command(cfg.oauth2_client_secret_command, "oauth2_client_secret_command")
    if cfg.oauth2_client_secret_env:
        return from_env(environ, cfg.oauth2_client_secret_env, "oauth2_client_secret_env")
    return None


# --- Microsoft 365 ---------------------------------------------------------------------


def _certificate(path: str) -> dict:
    """msal's certificate credential from one PEM file holding the private key and certificate."""
    text = Path(path).expanduser().read_text()
    found = re.search(r"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", text, re.S)
    if not found or "PRIVATE KEY-----" not in text:
        raise ConfigError(f"{path}: oauth2_certificate must be one PEM file with the private key and the certificate")
    der = base64.b64decode("".join(found.group(1).split()))
    return {"private_key": text, "thumbprint": hashlib.sha1(der).hexdigest()}  # noqa: S324 (what Entra ID names it by)


class _Microsoft:
    def __init__(self, cfg: ImapSettings, environ: dict[str, str]):
        msal = _library("microsoft", "msal")
        self.cfg, self.path = cfg, cache_path(cfg)
        self.cache = msal.SerializableTokenCache()
        if (text := read_cache(self.path)) is not None:
            self.cache.deserialize(text)
        authority = f"{(cfg.oauth2_authority or MICROSOFT_AUTHORITY).rstrip('/')}/{cfg.oauth2_tenant}"
        options = {"authority": authority, "token_cache": self.cache}
        if cfg.oauth2_authority:  # a national cloud (or a test endpoint): no discovery at Microsoft's
            options.update(instance_discovery=False, validate_authority=False)
        secret = _client_secret(cfg, environ)
        if cfg.oauth2_certificate:
            credential = _certificate(cfg.oauth2_certificate)
        else:
            credential = secret
        self.unattended = credential is not None
        if self.unattended:
            self.app = msal.ConfidentialClientApplication(cfg.oauth2_client_id, client_credential=credential, **options)
        else:
            self.app = msal.PublicClientApplication(cfg.oauth2_client_id, **options)

    @property
    def flow(self) -> str:
        return "client credentials" if self.unattended else "device code"

    def _save(self) -> None:
        if self.cache.has_state_changed:
            write_cache(self.path, self.cache.serialize())

    def _checked(self, result: dict | None) -> str:
        self._save()
        if result and "access_token" in result:
            return remember(result["access_token"])
        if result is None:
            raise ConfigError(f"no Microsoft token for {self.cfg.username} in {self.path}: "
                              f"run `alertproc auth login --account {self.cfg.label}`")
        raise ConfigError(f"Microsoft refused a token for {self.cfg.username}: {result.get('error')}: "
                          f"{(result.get('error_description') or '').splitlines()[0][:200]}")

    def token(self) -> str:
        if self.unattended:
            return self._checked(self.app.acquire_token_for_client(MICROSOFT_APP))
        accounts = self.app.get_accounts(username=self.cfg.username) or self.app.get_accounts()
        result = self.app.acquire_token_silent(MICROSOFT_DELEGATED, account=accounts[0]) if accounts else None
        return self._checked(result)

    def login(self, say: Callable[[str], None]) -> str:
        if self.unattended:
            self.token()
            return f"client credentials work for {self.cfg.oauth2_client_id}; nothing to log in"
        flow = self.app.initiate_device_flow(scopes=MICROSOFT_DELEGATED)
        if "user_code" not in flow:
            raise ConfigError(f"Microsoft refused the device-code flow: {flow.get('error')}: "
                              f"{flow.get('error_description', '')[:200]}")
        say(flow["message"])
        self._checked(self.app.acquire_token_by_device_flow(flow))
        return f"logged in; token cache {self.path}"

    def status(self) -> tuple[bool, str]:
        tokens = self.cache.find(self.cache.CredentialType.ACCESS_TOKEN)
        refresh = self.cache.find(self.cache.CredentialType.REFRESH_TOKEN)
        accounts = [a.get("username") for a in self.cache.find(self.cache.CredentialType.ACCOUNT)]
        try:
            self.token()
        except ConfigError as exc:
            return False, str(exc)
        tokens = self.cache.find(self.cache.CredentialType.ACCESS_TOKEN) or tokens
        latest = max(tokens, key=lambda t: int(t.get("expires_on", 0)), default={})
        until = datetime.fromtimestamp(int(latest.get("expires_on", 0)), timezone.utc) if latest else None
        whom = ", ".join(a for a in accounts if a) or f"the app {self.cfg.oauth2_client_id}"
        return True, (f"for {whom}; scope {latest.get('target', '?')}; valid until "
                      f"{until:%Y-%m-%d %H:%M} UTC{'; refresh token kept' if refresh else ''}; cache {self.path}")


# --- Google Workspace ------------------------------------------------------------------


class _Google:
    def __init__(self, cfg: ImapSettings, environ: dict[str, str]):
        self.cfg, self.path, self.environ = cfg, cache_path(cfg), environ
        _library("google", "google.auth")
        base = cfg.oauth2_authority.rstrip("/") if cfg.oauth2_authority else ""
        self.auth_uri = f"{base}/auth" if base else GOOGLE_AUTH_URI
        self.token_uri = f"{base}/token" if base else GOOGLE_TOKEN_URI
        self.unattended = bool(cfg.oauth2_service_account_file)

    @property
    def flow(self) -> str:
        return "service account" if self.unattended else "installed app"

    def _request(self):
        from google.auth.transport.requests import Request
        return Request()

    def _credentials(self):
        if self.unattended:
            from google.oauth2 import service_account
            return service_account.Credentials.from_service_account_file(
                self.cfg.oauth2_service_account_file, scopes=GOOGLE_SCOPE, subject=self.cfg.username)
        from google.oauth2.credentials import Credentials
        text = read_cache(self.path)
        if text is None:
            raise ConfigError(f"no Google token for {self.cfg.username} in {self.path}: "
                              f"run `alertproc auth login --account {self.cfg.label}`")
        cached = Credentials.from_authorized_user_info(json.loads(text), GOOGLE_SCOPE)
        # google-auth ignores a cached token_uri (always Google's; with_token_uri() drops the
        # expiry): ours comes from the config.
        return Credentials(cached.token, refresh_token=cached.refresh_token, token_uri=self.token_uri,
                           client_id=cached.client_id, client_secret=cached.client_secret, scopes=GOOGLE_SCOPE,
                           expiry=cached.expiry)

    def token(self) -> str:
        from google.auth.exceptions import GoogleAuthError
        credentials = self._credentials()
        if not credentials.valid:  # google-auth counts a token expiring within minutes as expired
            try:
                credentials.refresh(self._request())
            except GoogleAuthError as exc:
                raise ConfigError(f"Google refused a token for {self.cfg.username}: {str(exc)[:200]}; "
                                  f"run `alertproc auth login --account {self.cfg.label}`") from None
            if not self.unattended:
                write_cache(self.path, credentials.to_json())
        return remember(credentials.token)

    def login(self, say: Callable[[str], None]) -> str:
        if self.unattended:
            self.token()
            return f"the service account works for {self.cfg.username}; nothing to log in"
        flow_module = _library("google", "google_auth_oauthlib.flow")
        secret = _client_secret(self.cfg, self.environ)
        client = {"installed": {"client_id": self.cfg.oauth2_client_id, "client_secret": secret or "",
                                "auth_uri": self.auth_uri, "token_uri": self.token_uri,
                                "redirect_uris": ["http://localhost"]}}
        flow = flow_module.InstalledAppFlow.from_client_config(client, GOOGLE_SCOPE)
        credentials = flow.run_local_server(
            host="localhost", bind_addr="127.0.0.1", port=0, open_browser=False, login_hint=self.cfg.username,
            authorization_prompt_message="Open this address in a browser on this machine (or through "
                                         "`ssh -L`), and sign in as the mailbox's user:\n{url}",
            success_message="alertproc is logged in; you can close this window.")
        remember(credentials.token)
        write_cache(self.path, credentials.to_json())
        return f"logged in; token cache {self.path}"

    def status(self) -> tuple[bool, str]:
        try:
            token = self.token()
            credentials = self._credentials()
        except ConfigError as exc:
            return False, str(exc)
        until = f"; valid until {credentials.expiry:%Y-%m-%d %H:%M} UTC" if getattr(credentials, "expiry", None) else ""
        cache = "" if self.unattended else f"; cache {self.path}"
        return bool(token), f"for {self.cfg.username}; scope {' '.join(GOOGLE_SCOPE)}{until}{cache}"


# --- the account's provider -----------------------------------------------------------


def _provider(cfg: ImapSettings, environ: dict[str, str]):
    if cfg.oauth2_provider == "microsoft":
        return _Microsoft(cfg, environ)
    if cfg.oauth2_provider == "google":
        return _Google(cfg, environ)
    raise ConfigError(f"{cfg.label}: no oauth2_provider set (microsoft or google)")


def access_token(cfg: ImapSettings, environ: dict[str, str]) -> str:
    """A valid access token for ``cfg``, refreshed (and the cache rewritten) when needed."""
    return _provider(cfg, environ).token()


def login(cfg: ImapSettings, environ: dict[str, str], say: Callable[[str], None]) -> str:
    """The one interactive log-in of an account (``say`` shows the user what to do)."""
    return _provider(cfg, environ).login(say)


def token_status(cfg: ImapSettings, environ: dict[str, str]) -> TokenStatus | None:
    """The token's state for an OAuth2 account, or None for a password account."""
    if cfg.oauth2_token_command and not cfg.oauth2_provider:
        try:
            token = from_command(cfg.oauth2_token_command, "oauth2_token_command")
        except ConfigError as exc:
            return TokenStatus(cfg.label, "command", "token command", False, str(exc))
        return TokenStatus(cfg.label, "command", "token command", True,
                           f"oauth2_token_command printed a token ({len(token)} characters); the server decides if it is valid")
    if not cfg.oauth2_provider:
        return None
    try:
        provider = _provider(cfg, environ)
    except ConfigError as exc:
        return TokenStatus(cfg.label, cfg.oauth2_provider, "?", False, str(exc))
    valid, detail = provider.status()
    return TokenStatus(cfg.label, cfg.oauth2_provider, provider.flow, valid, detail)
