"""The core IMAP scenario against two independent server implementations: Dovecot (C, Maildir)
and pymap (pure Python, in memory), which differ in delimiter ('.' and '/'), NAMESPACE
(announced or not) and first UID (1 and 101)."""

from __future__ import annotations

import pytest

from dovecot import Dovecot
from pymap_server import Pymap
from test_imap import ALERTS, NOT_ALERTS, SPOOFS, append, contents, counts, fetch, imap_cfg


@pytest.fixture(params=["dovecot", "pymap"])
def server(request):
    with (Dovecot() if request.param == "dovecot" else Pymap()) as running:
        running.delimiter = getattr(running, "delimiter", ".")
        yield running


def folder(server, path: str) -> str:
    return path.replace("/", server.delimiter)


def test_first_sync_rerun_new_mail_and_filing(server, settings):
    filed, suspicious = folder(server, "GST/Token alerts"), folder(server, "GST/Suspicious")
    append(server, ALERTS[:20] + SPOOFS)
    append(server, NOT_ALERTS, flags=[b"\\Flagged"])
    before = contents(server, "INBOX")

    first = fetch(settings, server)
    assert (first.candidates, first.filed, first.suspicious) == (22, 20, 2)
    assert first.imported.parsed == 20 and first.imported.suspicious == 2
    assert sorted(raw for raw, _ in contents(server, filed)) == sorted(raw for _, raw in ALERTS[:20])
    assert sorted(raw for raw, _ in contents(server, suspicious)) == sorted(raw for _, raw in SPOOFS)
    left = contents(server, "INBOX")
    assert left == sorted(item for item in before if item[0] in {raw for _, raw in NOT_ALERTS})
    assert all(flags == (b"\\Flagged",) for _, flags in left)  # other mail untouched: not read, not moved

    again = fetch(settings, server)
    assert (again.candidates, again.imported.seen, again.filed) == (0, 0, 0)

    append(server, ALERTS[20:])
    third = fetch(settings, server)
    assert (third.candidates, third.imported.new, third.filed) == (20, 20, 20)
    assert len(contents(server, filed)) == len(ALERTS)
    assert counts(settings)[0] == len(ALERTS) + len(SPOOFS)


def test_uidvalidity_change_rescans_without_duplicates(server, settings):
    cfg = imap_cfg(server, folder="Alerts")
    append(server, ALERTS[:20], folder="Alerts")
    fetch(settings, server, cfg=cfg, file_away=False)
    client = server.client()
    client.delete_folder("Alerts")  # a server rebuild: same name, new UIDVALIDITY
    client.logout()
    append(server, ALERTS, folder="Alerts")
    result = fetch(settings, server, cfg=cfg)
    assert result.rescan and result.candidates == len(ALERTS)
    assert (result.imported.known, result.imported.new) == (20, len(ALERTS) - 20)
    assert counts(settings)[0] == len(ALERTS)
    assert contents(server, "Alerts") == [] and len(contents(server, folder(server, "GST/Token alerts"))) == len(ALERTS)


def test_two_accounts_one_by_xoauth2_on_the_second_server(tmp_path):
    """pymap's in-memory backend serves one user, so two accounts are two pymap servers: alice by
    password, bob by XOAUTH2 (a launcher adds the mechanism: tests/pymap_server.py). pymap has no
    NAMESPACE, so the folders go at the top with its '/' (the INBOX. namespace: test_accounts.py)."""
    from dovecot import USER
    from test_accounts import cli, token_script, TOKEN
    with Pymap() as first, Pymap(user="bob", token=TOKEN) as second:
        append(first, ALERTS[:10] + NOT_ALERTS)
        append(second, ALERTS[10:25] + NOT_ALERTS)
        (tmp_path / "alertproc.toml").write_text(
            f'[[imap]]\nname = "east"\nhost = "127.0.0.1"\nport = {first.port}\ntls = "none"\n'
            f'username = "{USER}"\npassword_env = "TEST_IMAP_PASSWORD"\n\n'
            f'[[imap]]\nname = "west"\nhost = "127.0.0.1"\nport = {second.port}\ntls = "none"\n'
            f'username = "bob"\noauth2_token_command = "{token_script(tmp_path)}"\n')
        done = cli(tmp_path, "run")
        assert done.returncode == 0, done.stderr
        assert len(contents(first, "GST/Token alerts")) == 10 and len(contents(second, "GST/Token alerts")) == 15
        for box in (first, second):
            assert sorted(raw for raw, _ in contents(box, "INBOX")) == sorted(raw for _, raw in NOT_ALERTS)
        assert TOKEN not in done.stdout + done.stderr
        again = cli(tmp_path, "run")
        assert again.stdout.count(": 0 candidates") == 2
