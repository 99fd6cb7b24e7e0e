"""Several mailboxes from one config, one by password and one by OAuth2, on a Dovecot whose
personal namespace is ``INBOX.`` (as on Courier and Cyrus) — against a real Dovecot whose
``oauth2`` passdb asks a token-introspection endpoint (RFC 7662) on 127.0.0.1."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from alertproc.storage import store
from alertproc.config import Settings, imap_settings
from alertproc.errors import FetchError
from helpers import POLICY, fetch_one, run_alertproc
from helpers.dovecot import OTHER_USER, PASSWORD, USER, Dovecot
from helpers.introspection import Introspection, TOKEN, token_script
from helpers.imap import ALERTS, NOT_ALERTS, SPOOFS, append, contents

FILED = "INBOX.GST.Token alerts"


@pytest.fixture
def oauth_server():
    with Introspection() as introspection, Dovecot(oauth2_url=introspection.url, namespace_prefix="INBOX.") as server:
        introspection.tokens[TOKEN] = OTHER_USER
        server.introspection = introspection
        yield server


def two_accounts(server: Dovecot, folder: Path, token: str = TOKEN, mechanism: str = "xoauth2") -> str:
    return (f'[[imap]]\nname = "mumbai"\nhost = "127.0.0.1"\nport = {server.port}\ntls = "none"\n'
            f'username = "{USER}"\npassword_env = "TEST_IMAP_PASSWORD"\n\n'
            f'[[imap]]\nname = "pune"\nhost = "127.0.0.1"\nport = {server.port}\ntls = "none"\n'
            f'username = "{OTHER_USER}"\noauth2_token_command = "{token_script(folder, token)}"\n'
            f'oauth2_mechanism = "{mechanism}"\n')


def cli(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return run_alertproc(*args, cwd=workdir, env={"TEST_IMAP_PASSWORD": PASSWORD})


def every_file_and_row(workdir: Path) -> bytes:
    con = store.connect(str(workdir / "alertproc.duckdb"), read_only=True)
    try:
        rows = repr([con.execute(f"select * from {table}").fetchall()
                     for table in ("runs", "messages", "sync_state", "events")]).encode()
    finally:
        con.close()
    files = b"".join(p.read_bytes() for p in workdir.rglob("*") if p.is_file() and p.suffix != ".sh")
    return rows + files


def test_two_accounts_password_and_xoauth2_under_the_inbox_namespace(oauth_server, tmp_path):
    server = oauth_server
    append(server, ALERTS[:20] + SPOOFS[:1])
    append(server, NOT_ALERTS, flags=[b"\\Flagged"])
    append(server, ALERTS[20:] + SPOOFS[1:], user=OTHER_USER)
    append(server, NOT_ALERTS, user=OTHER_USER)
    (tmp_path / "alertproc.toml").write_text(two_accounts(server, tmp_path))

    doctor = cli(tmp_path, "doctor", "--policy", POLICY)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "pune imap namespace: personal prefix 'INBOX.', delimiter '.'" in doctor.stdout
    assert f"pune filed_folder: {FILED} will be created" in doctor.stdout
    assert "mumbai imap search: SEARCH ALL, SEARCH UID and FETCH agree" in doctor.stdout

    done = cli(tmp_path, "run", "--policy", POLICY, "--week", "2026-W44")
    assert done.returncode == 0, done.stderr
    assert f"imap {USER}@127.0.0.1:{server.port} INBOX: 21 candidates" in done.stdout
    assert f"imap {OTHER_USER}@127.0.0.1:{server.port} INBOX: 21 candidates" in done.stdout
    for user, alerts in ((USER, ALERTS[:20]), (OTHER_USER, ALERTS[20:])):
        assert sorted(raw for raw, _ in contents(server, FILED, user)) == sorted(raw for _, raw in alerts)
        assert sorted(raw for raw, _ in contents(server, "INBOX", user)) == sorted(raw for _, raw in NOT_ALERTS)
    assert len(contents(server, "INBOX.GST.Suspicious")) == len(contents(server, "INBOX.GST.Suspicious", OTHER_USER)) == 1
    assert not contents(server, "GST.Token alerts")  # nothing outside the personal namespace

    # The token helper's stderr reaches the user, its token masked; the token is nowhere.
    assert f"oauth2_token_command: refreshed token ******** for {OTHER_USER}" in done.stderr
    assert TOKEN not in done.stdout + done.stderr + doctor.stdout + doctor.stderr
    assert TOKEN.encode() not in every_file_and_row(tmp_path)

    report = cli(tmp_path, "report", "--since", "2026-10-01", "--until", "2026-11-30")
    html = (tmp_path / report.stdout.split()[-1]).read_text() if report.returncode == 0 else report.stderr
    html = re.sub(r"</?span[^>]*>", "", html)  # addresses are kept whole on a line by a span
    assert f"from {USER}@127.0.0.1:{server.port}" in html and f"from {OTHER_USER}@127.0.0.1:{server.port}" in html

    again = cli(tmp_path, "run", "--policy", POLICY, "--week", "2026-W44")
    assert "0 new" in again.stdout and again.returncode == 0


def test_a_failing_account_is_named_and_the_others_go_on(oauth_server, tmp_path):
    server = oauth_server
    append(server, ALERTS[:5])
    append(server, ALERTS[5:10], user=OTHER_USER)
    (tmp_path / "alertproc.toml").write_text(two_accounts(server, tmp_path, token="expired-token-0000"))
    done = cli(tmp_path, "run", "--policy", POLICY)
    assert done.returncode == 1
    assert "mailbox pune was not synced" in done.stderr and "AUTHENTICATIONFAILED" in done.stderr  # the server's words
    assert len(contents(server, FILED)) == 5  # mumbai was filed all the same
    assert "report:" in done.stdout
    fetched = cli(tmp_path, "fetch")
    assert fetched.returncode == 1 and "1 of 2 mailboxes failed: pune" in fetched.stderr
    con = store.connect(str(tmp_path / "alertproc.duckdb"), read_only=True)
    try:
        assert con.execute("select status, error like 'pune: %' from runs where command = 'run'").fetchall() == [
            ("partial", True)]
    finally:
        con.close()


def test_oauthbearer_logs_in_and_a_bad_token_fails_with_the_servers_words(oauth_server, tmp_path):
    server = oauth_server
    append(server, ALERTS[:3], user=OTHER_USER)
    (tmp_path / "alertproc.toml").write_text(two_accounts(server, tmp_path, mechanism="oauthbearer"))
    done = cli(tmp_path, "fetch", "--account", "pune")
    assert done.returncode == 0, done.stderr
    assert "moved 3 to the filed folder" in done.stdout
    log = (server.root / "dovecot.log").read_text()
    assert f"user=<{OTHER_USER}>, method=OAUTHBEARER" in log


def test_the_token_command_runs_again_on_every_reconnect(oauth_server, tmp_path, monkeypatch):
    from alertproc.mail import fetch as fetch_module
    monkeypatch.setattr(fetch_module, "MOVE_GROUP", 1)
    server = oauth_server
    append(server, ALERTS, user=OTHER_USER)
    settings = Settings(db=str(tmp_path / "a.duckdb"), archive=str(tmp_path / "archive"), policy=POLICY)
    cfg = imap_settings({"host": "127.0.0.1", "port": server.port, "tls": "none", "username": OTHER_USER,
                         "oauth2_token_command": str(token_script(tmp_path)), "batch_size": 10}, "test")
    kicked = []
    result = fetch_one(settings, cfg, environ={},
                                progress=lambda n: kicked or (kicked.append(n), server.kick(OTHER_USER)))
    assert result.filed == len(ALERTS)
    # Two logins (the main connection and the one that fetches ahead), then at least one more
    # after the kick: each (re)connect asks for a token, and the server checked each one.
    calls = len((tmp_path / "token-calls").read_text().split())
    assert calls >= 3 and server.introspection.asked.count(TOKEN) >= calls


def test_a_bad_token_is_a_login_error_naming_the_account(oauth_server, tmp_path):
    cfg = imap_settings({"host": "127.0.0.1", "port": oauth_server.port, "tls": "none", "username": OTHER_USER,
                         "oauth2_token_command": str(token_script(tmp_path, "not-a-valid-token"))}, "test")
    settings = Settings(db=str(tmp_path / "a.duckdb"), archive=str(tmp_path / "archive"), policy=POLICY)
    with pytest.raises(FetchError, match=f"login as {OTHER_USER} on 127.0.0.1 failed: .*AUTHENTICATIONFAILED") as error:
        fetch_one(settings, cfg, environ={})
    assert "not-a-valid-token" not in str(error.value)
