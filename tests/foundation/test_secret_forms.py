"""Secrets are masked in every form a server can echo them, in every place, and child
processes do not inherit them (issue #28 item 5)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest

from alertproc.errors import FetchError
from alertproc.mail.imap import ImapMailbox
from alertproc.masking import child_environment, mask, remember, remember_login, secret_variable
from helpers.imap_proxy import RewritingProxy
from helpers.imap import imap_cfg


@pytest.mark.parametrize("secret", ['pa"ss\\word-1', "ünïcode-pass\\", 'q"uote"d'])
def test_every_escaped_form_of_a_password_is_masked(secret):
    remember(secret)
    quoted = '"' + secret.replace("\\", "\\\\").replace('"', '\\"') + '"'  # IMAP's quoted string
    for echoed in (f"a001 LOGIN user {quoted}", json.dumps({"error": secret}), repr(secret),
                   base64.b64encode(secret.encode()).decode()):
        assert "********" in mask(echoed) and secret not in mask(echoed), echoed


def test_the_base64_sasl_strings_of_a_login_are_masked():
    remember_login("gst@example.in", "ya29.token-value")
    xoauth2 = base64.b64encode(b"user=gst@example.in\x01auth=Bearer ya29.token-value\x01\x01").decode()
    plain = base64.b64encode(b"\x00gst@example.in\x00ya29.token-value").decode()
    for echoed in (xoauth2, plain, plain.rstrip("=")):
        assert mask(f"NO rejected {echoed}") == "NO rejected ********"


def test_a_server_echoing_the_xoauth2_string_never_shows_it(dovecot, tmp_path):
    """A hostile server answers AUTHENTICATE XOAUTH2 and echoes the client's base64 in its NO."""
    state = {}

    def answer(line: bytes):
        if b"AUTHENTICATE XOAUTH2" in line.upper():
            state["tag"] = line.split(b" ", 1)[0]
            return b"+ \r\n"
        if "tag" in state and not line.startswith(state["tag"]):
            return state.pop("tag") + b" NO [AUTHENTICATIONFAILED] rejected " + line.strip() + b"\r\n"
        return None

    token = "ya29.SECRET-oauth-token-1234"
    with RewritingProxy(dovecot.port, answer=answer) as proxy:
        cfg = replace(imap_cfg(dovecot, password_env="", oauth2_token_command=f"echo {token}"), port=proxy.port)
        with pytest.raises(FetchError) as raised:
            ImapMailbox(cfg, {}).connect()
    said = str(raised.value)
    sent = base64.b64encode(f"user={cfg.username}\x01auth=Bearer {token}\x01\x01".encode()).decode()
    assert "rejected ********" in said and sent not in said and token not in said, said


def test_a_server_echoing_the_quoted_login_line_never_shows_the_password(dovecot):
    seen = {}

    def answer(line: bytes):
        if b" LOGIN " in line.upper():
            seen["line"] = line.strip()
            return line.split(b" ", 1)[0] + b" NO [AUTHENTICATIONFAILED] you sent: " + line.strip() + b"\r\n"
        return None

    password = 'se"cret\\pass'
    with RewritingProxy(dovecot.port, answer=answer) as proxy:
        cfg = replace(imap_cfg(dovecot), port=proxy.port)
        with pytest.raises(FetchError) as raised:
            ImapMailbox(cfg, {"TEST_IMAP_PASSWORD": password}).connect()
    said = str(raised.value)
    assert b'\\"' in seen["line"] and "you sent:" in said and "cret" not in said, said


def test_child_processes_do_not_inherit_secret_variables(tmp_path):
    secret_variable("ALERTPROC_TEST_SECRET_VAR")
    remember("value-of-another-secret")
    environ = {"PATH": os.environ["PATH"], "ALERTPROC_TEST_SECRET_VAR": "x", "SOME_TOKEN": "value-of-another-secret",
               "HOME": "/root"}
    assert child_environment(environ) == {"PATH": os.environ["PATH"], "HOME": "/root"}


def test_the_notify_command_and_the_password_command_see_no_password_variable(tmp_path):
    """End to end through the CLI: the config names the variable; neither child sees it."""
    seen_by_notify, seen_by_password = tmp_path / "notify-env", tmp_path / "password-env"
    (tmp_path / "alertproc.toml").write_text(
        "[smtp]\nhost = \"127.0.0.1\"\nport = 9\ntls = \"none\"\nfrom_addr = \"a@example.in\"\nusername = \"u\"\n"
        "password_env = \"ALERTPROC_SMTP_SECRET\"\n"
        f"[notify]\ncommand = \"sh -c 'env > {seen_by_notify}'\"\nmin_severity = \"low\"\n"
        "[imap]\nhost = \"127.0.0.1\"\nport = 9\ntls = \"none\"\nusername = \"u\"\n"
        f"password_command = \"sh -c 'env > {seen_by_password}; echo pw-from-command'\"\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTPROC_")}
    env["ALERTPROC_SMTP_SECRET"] = "smtp-secret-value"
    from helpers import SAMPLE
    done = subprocess.run([sys.executable, "-m", "alertproc", "run", "--source", str(SAMPLE / "mail"), "--week",
                           "2026-W47"], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert seen_by_notify.exists(), done.stdout + done.stderr
    assert "ALERTPROC_SMTP_SECRET" not in seen_by_notify.read_text()
    assert "smtp-secret-value" not in seen_by_notify.read_text()
    fetched = subprocess.run([sys.executable, "-m", "alertproc", "fetch"], cwd=tmp_path, capture_output=True, text=True,
                             env=env)
    assert fetched.returncode != 0 and seen_by_password.exists(), fetched.stderr
    assert "ALERTPROC_SMTP_SECRET" not in seen_by_password.read_text()
