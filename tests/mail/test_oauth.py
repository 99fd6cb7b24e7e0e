"""OAuth2 without a token helper: msal (Microsoft 365) and google-auth (Google Workspace) run
their real flows against a local stand-in for the providers' endpoints (tests/helpers/oauth_endpoint.py),
and the tokens they get log in to a real Dovecot whose oauth2 passdb checks them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from urllib.parse import parse_qs, urlparse

import pytest

from alertproc.storage import store
from alertproc.config import Settings, imap_settings
from alertproc.errors import ConfigError
from alertproc.mail.oauth import access_token, token_status
from helpers import POLICY, fetch_one
from helpers.dovecot import OTHER_USER, Dovecot
from helpers.introspection import Introspection
from helpers.oauth_endpoint import TENANT, OAuthEndpoint
from helpers.imap import ALERTS, append, contents

pytest.importorskip("msal", reason="the 'm365' extra is not installed")
pytest.importorskip("google_auth_oauthlib", reason="the 'google' extra is not installed")

FILED = "GST.Token alerts"


@pytest.fixture
def world(tmp_path, request):
    """Dovecot with an oauth2 passdb, and the provider stand-in issuing tokens it accepts."""
    lifetime = getattr(request, "param", 3600)
    with Introspection() as introspection, Dovecot(oauth2_url=introspection.url) as server, \
            OAuthEndpoint(tmp_path, introspection, OTHER_USER, lifetime) as endpoint:
        append(server, ALERTS[:6], user=OTHER_USER)
        yield server, endpoint


def account(server, endpoint, tmp_path, **keys) -> str:
    values = {"name": "pune", "host": "127.0.0.1", "port": server.port, "tls": "none", "username": OTHER_USER,
              "oauth2_authority": endpoint.base, "oauth2_token_cache": str(tmp_path / "cache" / "pune.json"), **keys}
    body = "\n".join(f"{k} = {json.dumps(v)}" for k, v in values.items())
    return f"[[imap]]\n{body}\n"


def env(endpoint, tmp_path, **extra) -> dict:
    return {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "REQUESTS_CA_BUNDLE": str(endpoint.ca_file), **extra}


def cli(tmp_path, environment, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "alertproc", *args], cwd=tmp_path, env=environment,
                          capture_output=True, text=True, timeout=120)


def secrets_in(tmp_path, endpoint) -> list[str]:
    """Every token the endpoint issued that shows up in a file or database row under tmp_path
    (the token cache aside: keeping them is its job)."""
    con = store.connect(str(tmp_path / "alertproc.duckdb"), read_only=True)
    try:
        rows = repr([con.execute(f"select * from {t}").fetchall() for t in ("runs", "messages", "events")])
    finally:
        con.close()
    files = "".join(p.read_bytes().decode("utf-8", "replace") for p in tmp_path.rglob("*")
                    if p.is_file() and "cache" not in p.parts and p.suffix != ".duckdb")
    return [t for t in endpoint.introspection.tokens if t in rows + files]


def test_microsoft_device_code_login_then_silent_tokens_log_in_to_imap(world, tmp_path):
    server, endpoint = world
    (tmp_path / "alertproc.toml").write_text(account(server, endpoint, tmp_path, oauth2_provider="microsoft",
                                                     oauth2_client_id="client-1", oauth2_tenant=TENANT))
    environment = env(endpoint, tmp_path)
    before = cli(tmp_path, environment, "auth", "status")
    assert before.returncode == 1 and "run `alertproc auth login --account pune`" in before.stdout

    login = cli(tmp_path, environment, "auth", "login", "--account", "pune")
    assert login.returncode == 0, login.stderr
    assert "enter ABCD-EFGH" in login.stderr and "logged in" in login.stdout
    cache = tmp_path / "cache" / "pune.json"
    assert cache.stat().st_mode & 0o777 == 0o600 and cache.parent.stat().st_mode & 0o777 == 0o700

    fetched = cli(tmp_path, environment, "fetch", "--policy", POLICY)
    assert fetched.returncode == 0, fetched.stderr
    assert len(contents(server, FILED, OTHER_USER)) == 6
    assert endpoint.grants["device_code"] == 1

    status = cli(tmp_path, environment, "auth", "status")
    assert status.returncode == 0, status.stdout
    assert f"ok   pune (microsoft, device code): for {OTHER_USER}@contoso.example" in status.stdout
    assert "IMAP.AccessAsUser.All" in status.stdout and "valid until" in status.stdout
    doctor = cli(tmp_path, environment, "doctor", "--policy", POLICY)
    assert "ok   oauth2 token: microsoft, device code" in doctor.stdout
    outputs = "".join(p.stdout + p.stderr for p in (login, fetched, status, doctor))
    assert not [t for t in endpoint.introspection.tokens if t in outputs]
    assert not secrets_in(tmp_path, endpoint)


@pytest.mark.parametrize("world", [120], indirect=True)  # tokens that expire within msal's five minutes
def test_a_token_about_to_expire_is_refreshed_before_use_and_the_cache_stays_private(world, tmp_path, monkeypatch):
    server, endpoint = world
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(endpoint.ca_file))
    cfg = imap_settings({"name": "pune", "host": "127.0.0.1", "port": server.port, "tls": "none",
                         "username": OTHER_USER, "oauth2_provider": "microsoft", "oauth2_client_id": "client-1",
                         "oauth2_tenant": TENANT, "oauth2_authority": endpoint.base,
                         "oauth2_token_cache": str(tmp_path / "cache" / "pune.json")}, "test")
    from alertproc.mail.oauth import login as oauth_login
    oauth_login(cfg, {}, lambda text: None)
    first = access_token(cfg, {})
    second = access_token(cfg, {})  # each connect asks again: the short-lived token is refreshed
    assert endpoint.grants["refresh_token"] >= 2 and first != second
    assert (tmp_path / "cache" / "pune.json").stat().st_mode & 0o777 == 0o600
    settings = Settings(db=str(tmp_path / "a.duckdb"), archive=str(tmp_path / "archive"), policy=POLICY)
    assert fetch_one(settings, cfg, environ={}).filed == 6  # a reconnect with a refreshed token works

    os.chmod(tmp_path / "cache" / "pune.json", 0o644)
    with pytest.raises(ConfigError, match="readable by others .* chmod 600"):
        access_token(cfg, {})


def test_microsoft_client_credentials_need_no_login(world, tmp_path):
    server, endpoint = world
    (tmp_path / "alertproc.toml").write_text(account(server, endpoint, tmp_path, oauth2_provider="microsoft",
                                                     oauth2_client_id="daemon-1", oauth2_tenant=TENANT,
                                                     oauth2_client_secret_env="M365_SECRET"))
    environment = env(endpoint, tmp_path, M365_SECRET="client-SECRET-value-42")
    fetched = cli(tmp_path, environment, "run", "--policy", POLICY)
    assert fetched.returncode == 0, fetched.stderr
    assert endpoint.grants["client_credentials"] >= 1 and endpoint.grants["device_code"] == 0
    status = cli(tmp_path, environment, "auth", "status")
    assert "ok   pune (microsoft, client credentials): for the app daemon-1" in status.stdout
    assert "client-SECRET-value-42" not in "".join(p.stdout + p.stderr for p in (fetched, status))
    assert not secrets_in(tmp_path, endpoint)


def _browser(process: subprocess.Popen) -> str:
    """Play the user's browser: read the address alertproc prints, 'consent', follow the redirect."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True)
    reader.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for word in " ".join(lines).split():
            if word.startswith("https://") and "client_id=" in word:
                query = parse_qs(urlparse(word).query)
                target = (f"{query['redirect_uri'][0]}?state={query['state'][0]}&code=auth-code-1"
                          "&scope=https://mail.google.com/")
                return urllib.request.urlopen(target, timeout=10).read().decode()
        time.sleep(0.1)
    raise AssertionError(f"no sign-in address printed: {lines}")


@pytest.mark.parametrize("world", [60], indirect=True)  # inside google-auth's refresh threshold
def test_google_installed_app_login_then_refreshed_tokens(world, tmp_path):
    server, endpoint = world
    (tmp_path / "alertproc.toml").write_text(account(
        server, endpoint, tmp_path, oauth2_provider="google", oauth2_client_id="desktop-1.apps.googleusercontent.com",
        oauth2_client_secret_env="GOOGLE_SECRET", oauth2_authority=f"{endpoint.base}/google"))
    environment = env(endpoint, tmp_path, GOOGLE_SECRET="GOCSPX-desktop-secret", PYTHONUNBUFFERED="1")
    process = subprocess.Popen([sys.executable, "-m", "alertproc", "auth", "login"], cwd=tmp_path, env=environment,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "logged in" in _browser(process)
        process.wait(timeout=30)
        err = process.stderr.read()
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert endpoint.grants["authorization_code"] == 1
    assert (tmp_path / "cache" / "pune.json").stat().st_mode & 0o777 == 0o600
    fetched = cli(tmp_path, environment, "fetch", "--policy", POLICY)
    assert fetched.returncode == 0, fetched.stderr
    assert len(contents(server, FILED, OTHER_USER)) == 6
    assert endpoint.grants["refresh_token"] >= 1, (endpoint.grants, fetched.stderr)  # refreshed before use, and saved
    assert (tmp_path / "cache" / "pune.json").stat().st_mode & 0o777 == 0o600
    status = cli(tmp_path, environment, "auth", "status")
    assert f"ok   pune (google, installed app): for {OTHER_USER}; scope https://mail.google.com/" in status.stdout


@pytest.mark.parametrize("world", [60], indirect=True)
def test_google_service_account_with_delegation(world, tmp_path, monkeypatch):
    server, endpoint = world
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(endpoint.ca_file))
    key = tmp_path / "sa.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    info = {"type": "service_account", "project_id": "p", "private_key_id": "k1", "private_key": key.read_text(),
            "client_email": "alertproc@p.iam.gserviceaccount.com", "client_id": "1",
            "token_uri": f"{endpoint.base}/google/token"}
    (tmp_path / "sa.json").write_text(json.dumps(info))
    cfg = imap_settings({"name": "pune", "host": "127.0.0.1", "port": server.port, "tls": "none",
                         "username": OTHER_USER, "oauth2_provider": "google",
                         "oauth2_service_account_file": str(tmp_path / "sa.json")}, "test")
    settings = Settings(db=str(tmp_path / "a.duckdb"), archive=str(tmp_path / "archive"), policy=POLICY)
    assert fetch_one(settings, cfg, environ={}).filed == 6
    assert endpoint.grants["jwt-bearer"] >= 1
    status = token_status(cfg, {})
    assert status.valid and status.flow == "service account" and OTHER_USER in status.detail
