"""The core IMAP scenario against independent server implementations: Dovecot (C, Maildir),
pymap (pure Python, in memory), GNU Mailutils imap4d (C, mbox) and Cyrus IMAP 3.6 (C, its own
store, unpacked from Debian's packages), which differ in delimiter ('.' and '/'), personal
namespace ('' and 'INBOX.'), NAMESPACE (announced or not), first UID (1 and 101), what a
``UID n:*`` search answers, and whether mail can be moved at all (imap4d has neither MOVE nor
UIDPLUS)."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
from datetime import date

import pytest

from helpers import ROOT, app_of, cleanup_one, make, run_alertproc
from helpers.cyrus_server import Cyrus
from helpers.dovecot import PASSWORD, Dovecot
from helpers.imap4d_server import Imap4d
from helpers.pymap_server import Pymap
from helpers.imap import ALERTS, ENV, NOT_ALERTS, SPOOFS, append, contents, counts, fetch, imap_cfg

SERVERS = {"dovecot": Dovecot, "pymap": Pymap, "imap4d": Imap4d, "cyrus": Cyrus}


def started(kind: str):
    running = SERVERS[kind]().start()
    running.delimiter = getattr(running, "delimiter", ".")
    running.kind = kind
    return running


@pytest.fixture(params=list(SERVERS))
def server(request):
    running = started(request.param)
    yield running
    running.stop()


@pytest.fixture(params=[kind for kind in SERVERS if kind != "imap4d"])
def movable(request):
    """A server that can move mail (imap4d cannot: test_a_server_that_cannot_move_mail_keeps_it_all)."""
    running = started(request.param)
    yield running
    running.stop()


def folder(server, path: str) -> str:
    return getattr(server, "prefix", "") + path.replace("/", server.delimiter)


@functools.cache  # the sample scenario takes a second to build
def gst_team_forward() -> tuple[str, bytes]:
    """A colleague's forward that every server's search finds ("gst" in the From, "token" in the
    subject): it must never be filed or deleted."""
    raw = next(raw for slug, raw in make.scenario() if slug == "forwarded-inline")
    raw = raw.replace(b"Rahul <rahul@pune-plant.example.in>", b"GST Team <gst-team@acme.example>")
    return "gst-team-forward", raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def test_first_sync_rerun_new_mail_and_filing(movable, settings):
    server = movable
    filed, suspicious = folder(server, "GST/Token alerts"), folder(server, "GST/Suspicious")
    append(server, ALERTS[:20] + SPOOFS)
    append(server, NOT_ALERTS + [gst_team_forward()], flags=[b"\\Flagged"])
    before = contents(server, "INBOX")

    plan = fetch(settings, server, dry_run=True)  # the run's own code: it plans exactly what the run does
    first = fetch(settings, server)
    assert (first.candidates, first.filed, first.suspicious) == (23, 20, 2)
    assert (plan.candidates, plan.filed, plan.suspicious, plan.left) == (23, 20, 2, 1)
    assert [p["action"] for p in plan.plan if "gst-team" in (p["from"] or "")] == ["leave"]
    assert first.imported.parsed == 20 and first.imported.suspicious == 2
    assert sorted(raw for raw, _ in contents(server, filed)) == sorted(raw for _, raw in ALERTS[:20])
    assert sorted(raw for raw, _ in contents(server, suspicious)) == sorted(raw for _, raw in SPOOFS)
    left = contents(server, "INBOX")
    assert left == sorted(item for item in before if item[0] in {raw for _, raw in NOT_ALERTS + [gst_team_forward()]})
    assert all(flags == (b"\\Flagged",) for _, flags in left)  # other mail untouched: not read, not moved

    again = fetch(settings, server)
    assert (again.candidates, again.imported.seen, again.filed) == (0, 0, 0)

    append(server, ALERTS[20:])
    third = fetch(settings, server)
    assert (third.candidates, third.imported.new, third.filed) == (20, 20, 20)
    assert len(contents(server, filed)) == len(ALERTS)
    assert counts(settings)[0] == len(ALERTS) + len(SPOOFS) + 1

    # A user drags the colleague's forward into the filed folder: cleanup keeps it, deletes the rest.
    append(server, [gst_team_forward()], folder=filed)
    cleaned = cleanup_one(settings, imap_cfg(server), date(2099, 1, 1), apply=True, environ=ENV)
    assert cleaned.deleted == len(ALERTS) and [k["reason"] for k in cleaned.kept_unverified] == [
        "not GSTN's own alert: never deleted"]
    assert [raw for raw, _ in contents(server, filed)] == [gst_team_forward()[1]]


def test_uidvalidity_change_rescans_without_duplicates(server, settings):
    alerts = folder(server, "Alerts")  # INBOX.Alerts on Cyrus: its top level is not the user's
    cfg = imap_cfg(server, folder=alerts)
    append(server, ALERTS[:20], folder=alerts)
    fetch(settings, server, cfg=cfg, file_away=False)
    client = server.client()
    client.delete_folder(alerts)  # a server rebuild: same name, new UIDVALIDITY
    client.logout()
    append(server, ALERTS, folder=alerts)
    result = fetch(settings, server, cfg=cfg)
    assert result.rescan and result.candidates == len(ALERTS)
    if server.kind == "imap4d":  # its first message carries X-IMAPbase (UIDNEXT): other bytes, same alert
        assert (result.imported.known, result.imported.duplicates) == (19, 1)
    else:
        assert result.imported.known == 20
    assert result.imported.new == len(ALERTS) - 20
    assert counts(settings)[0] == len(ALERTS) + result.imported.duplicates
    if server.kind != "imap4d":  # imap4d cannot move mail
        assert contents(server, alerts) == [] and len(contents(server, folder(server, "GST/Token alerts"))) == len(ALERTS)


def test_two_accounts_one_by_xoauth2_on_the_second_server(tmp_path):
    """pymap's in-memory backend serves one user, so two accounts are two pymap servers: alice by
    password, bob by XOAUTH2 (a launcher adds the mechanism: tests/helpers/pymap_server.py). pymap has no
    NAMESPACE, so the folders go at the top with its '/' (the INBOX. namespace: test_accounts.py)."""
    from helpers.dovecot import USER
    from helpers.introspection import TOKEN, token_script
    with Pymap() as first, Pymap(user="bob", token=TOKEN) as second:
        append(first, ALERTS[:10] + NOT_ALERTS)
        append(second, ALERTS[10:25] + NOT_ALERTS)
        (tmp_path / "alertproc.toml").write_text(
            f'[[imap]]\nname = "east"\nhost = "127.0.0.1"\nport = {first.port}\ntls = "none"\n'
            f'username = "{USER}"\npassword_env = "TEST_IMAP_PASSWORD"\n\n'
            f'[[imap]]\nname = "west"\nhost = "127.0.0.1"\nport = {second.port}\ntls = "none"\n'
            f'username = "bob"\noauth2_token_command = "{token_script(tmp_path)}"\n')
        done = run_alertproc("run", cwd=tmp_path, env=ENV)
        assert done.returncode == 0, done.stderr
        assert len(contents(first, "GST/Token alerts")) == 10 and len(contents(second, "GST/Token alerts")) == 15
        for box in (first, second):
            assert sorted(raw for raw, _ in contents(box, "INBOX")) == sorted(raw for _, raw in NOT_ALERTS)
        assert TOKEN not in done.stdout + done.stderr
        again = run_alertproc("run", cwd=tmp_path, env=ENV)
        assert again.stdout.count(": 0 candidates") == 2


def test_a_server_that_cannot_move_mail_keeps_it_all(settings):
    """GNU imap4d: no MOVE, no UIDPLUS. Every alert is loaded (its 'UID n:*' answers nothing: the
    sync searches explicit ranges), nothing is moved, the dry run plans no move, and cleanup
    refuses to expunge."""
    with Imap4d() as server:
        append(server, ALERTS[:20] + SPOOFS + NOT_ALERTS + [gst_team_forward()])
        plan = fetch(settings, server, dry_run=True)
        assert plan.filing_skipped and plan.filed == plan.suspicious == 0 and plan.candidates == 23
        first = fetch(settings, server)
        assert first.imported.parsed == 20 and first.filed == 0 and "neither MOVE nor UIDPLUS" in first.filing_skipped
        assert fetch(settings, server).candidates == 0
        append(server, ALERTS[20:30])
        assert fetch(settings, server).imported.new == 10
        assert len(contents(server, "INBOX")) == 20 + 2 + len(NOT_ALERTS) + 1 + 10
        with pytest.raises(Exception, match="no UIDPLUS"):
            cleanup_one(settings, imap_cfg(server), date(2099, 1, 1), apply=True, environ=ENV)
        said = {c.name: c for c in app_of(settings, ENV, accounts=(imap_cfg(server),)).doctor()}
        assert "not every server that announces it notifies" in said["imap capabilities"].detail
        assert said["imap fetch search"].ok and not said["imap capabilities"].ok  # no way to file: says so


def test_watch_picks_up_new_mail_within_seconds(server, tmp_path):
    """IDLE on Dovecot, polling where IDLE is silent (imap4d) or absent: new mail within 30 s.
    Progress is read from watch's log: a reader of the database would hold up its writer."""
    from helpers import wait_until
    append(server, ALERTS[:2])
    (tmp_path / "alertproc.toml").write_text(
        f'[imap]\nhost = "127.0.0.1"\nport = {server.port}\ntls = "none"\nusername = "{getattr(server, "user", "alice")}"\n'
        'password_env = "TEST_IMAP_PASSWORD"\npoll_seconds = 2\n')
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "TEST_IMAP_PASSWORD": PASSWORD}
    log = tmp_path / "watch.log"
    with open(log, "w") as err_file:
        watcher = subprocess.Popen([sys.executable, "-m", "alertproc", "watch", "--policy",
                                    str(ROOT / "rules" / "policy.yaml")],
                                   cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=err_file, text=True)
        try:
            assert wait_until(lambda: "cycle: 2 new," in log.read_text()), log.read_text()
            append(server, ALERTS[2:5])
            picked = wait_until(lambda: "cycle: 3 new," in log.read_text(), seconds=30)
        finally:
            watcher.send_signal(signal.SIGTERM)
            watcher.wait(timeout=30)
    err = log.read_text()
    assert picked, f"new mail not picked up within 30 s: {err[-3000:]}"
    assert watcher.returncode == 0, err
    assert err.count("cycle: 0 new") <= 3, err  # no busy loop of full fetch cycles
