"""Fetch, file away, resume and clean up — against a real Dovecot on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest

from alertproc.mail import fetch as fetch_module
from alertproc.storage import store
from alertproc.config import imap_settings
from alertproc.errors import ConfigError, FetchError
from alertproc.mail.imap import ImapMailbox, uid_sets
from helpers import ROOT, cleanup_one, fetch_one, make, run_alertproc
from helpers.dovecot import PASSWORD, USER, Dovecot
from helpers.imap import ALERTS, ENV, FILED, NOT_ALERTS, SPOOFS, SUSPICIOUS, append, contents, counts, fetch, imap_cfg, scenario

def test_first_sync_files_exactly_the_alerts_and_leaves_everything_else_untouched(dovecot, settings):
    append(dovecot, ALERTS + SPOOFS)
    append(dovecot, NOT_ALERTS, flags=[b"\\Flagged"])
    before = contents(dovecot, "INBOX")
    result = fetch(settings, dovecot)
    assert (result.candidates, result.filed, result.suspicious) == (len(ALERTS) + 2, len(ALERTS), 2)
    assert result.imported.new == len(ALERTS) + 2 and result.imported.parsed == len(ALERTS)
    left = contents(dovecot, "INBOX")
    assert left == sorted(item for item in before if item[0] in {raw for _, raw in NOT_ALERTS})
    assert all(flags == (b"\\Flagged",) for _, flags in left)  # not \Seen, nothing added
    assert sorted(raw for raw, _ in contents(dovecot, FILED)) == sorted(raw for _, raw in ALERTS)
    assert all(b"\\Seen" not in flags for _, flags in contents(dovecot, FILED))
    assert sorted(raw for raw, _ in contents(dovecot, SUSPICIOUS)) == sorted(raw for _, raw in SPOOFS)
    assert counts(settings) == (len(ALERTS) + 2, len(ALERTS) + 2)  # each spoof suspect is one suspicious_alert event


def test_no_op_sync_costs_a_constant_number_of_commands(dovecot, settings):
    append(dovecot, ALERTS + NOT_ALERTS)
    fetch(settings, dovecot)
    again = fetch(settings, dovecot)
    assert (again.candidates, again.imported.seen, again.filed) == (0, 0, 0)
    assert again.imap_commands <= 4  # CAPABILITY, LOGIN, SELECT (+ LOGOUT): no SEARCH, no FETCH
    append(dovecot, scenario({"other"}) + ALERTS[:5], folder="Archive")
    append(dovecot, scenario({"other"}) * 20)  # non-alert mail arriving keeps the no-op cheap
    fetch(settings, dovecot)
    assert fetch(settings, dovecot).imap_commands == again.imap_commands


def test_new_mail_between_runs_is_fetched_once(dovecot, settings):
    append(dovecot, ALERTS[:20])
    fetch(settings, dovecot)
    append(dovecot, ALERTS[20:] + NOT_ALERTS)
    second = fetch(settings, dovecot)
    assert second.candidates == len(ALERTS) - 20 and second.imported.new == len(ALERTS) - 20
    assert counts(settings)[0] == len(ALERTS)
    assert len(contents(dovecot, FILED)) == len(ALERTS)


# The UIDVALIDITY change, first sync, rerun and new mail: tests/mail/test_servers.py, on Dovecot and pymap.


def test_without_move_capability_copy_and_uid_expunge_touch_nothing_else(settings):
    with Dovecot(move=False) as server:
        append(server, ALERTS)
        append(server, NOT_ALERTS, flags=[b"\\Deleted"])  # someone else's pending deletions
        mailbox = ImapMailbox(imap_cfg(server), ENV)
        with mailbox:
            assert not mailbox.has("MOVE") and mailbox.has("UIDPLUS")
        result = fetch(settings, server)
        assert result.filed == len(ALERTS)
        # One batched look for copies already in the target, not a SEARCH per alert (17 s of a
        # 20 s run on Cyrus): LOGIN to LOGOUT stays a few dozen commands for 40 alerts.
        assert result.imap_commands < 30, result.imap_commands
        assert len(contents(server, "INBOX")) == len(NOT_ALERTS)  # not expunged by us
        assert sorted(raw for raw, _ in contents(server, FILED)) == sorted(raw for _, raw in ALERTS)


def test_without_move_or_uidplus_a_run_loads_records_and_reports_but_files_nothing(tmp_path):
    with Dovecot(move=False, uidplus=False) as server:
        append(server, ALERTS + NOT_ALERTS)
        (tmp_path / "alertproc.toml").write_text(server.imap_table())
        first = cli(tmp_path, "run", "--policy", str(ROOT / "rules" / "policy.yaml"))
        assert first.returncode == 0, first.stderr
        assert "filing skipped" in first.stderr and "neither MOVE nor UIDPLUS" in first.stderr
        assert f"{len(ALERTS)} candidates" in first.stdout and "report:" in first.stdout
        assert len(contents(server, "INBOX")) == len(ALERTS + NOT_ALERTS)  # nothing moved or expunged
        again = cli(tmp_path, "run", "--no-file-away", "--policy", str(ROOT / "rules" / "policy.yaml"))
        assert again.returncode == 0 and "0 candidates" in again.stdout  # sync state kept: no refetch
        assert "filing skipped" not in again.stderr  # --no-file-away: nothing to skip


def test_copy_fallback_after_a_crash_between_copy_and_expunge_makes_no_second_copy(settings):
    with Dovecot(move=False) as server:
        append(server, ALERTS[:5])
        client = server.client()  # what a crash after COPY leaves: copies made, originals still there
        client.create_folder(FILED)
        client.select_folder("INBOX")
        client.copy(client.search(["ALL"])[:3], FILED)
        client.logout()
        fetch(settings, server)
        assert sorted(raw for raw, _ in contents(server, FILED)) == sorted(raw for _, raw in ALERTS[:5])


@pytest.mark.parametrize("uids, sets", [
    ([1, 2, 3, 5, 7, 8, 9, 20], ["1:3,5,7:9,20"]),
    ([4], ["4"]),
    ([], []),
    (list(range(1, 40, 2)), ["1,3,5,7,9,11,13,15,17,19,21,23", "25,27,29,31,33,35,37,39"]),
])
def test_uid_sets_collapse_runs_and_stay_under_the_limit(uids, sets):
    assert uid_sets(uids, limit=30) == sets


def test_committed_batches_are_moved_in_groups(dovecot, settings, monkeypatch):
    append(dovecot, ALERTS + NOT_ALERTS)
    grouped = fetch(settings, dovecot, cfg=imap_cfg(dovecot, batch_size=7))
    assert grouped.filed == len(ALERTS) and len(contents(dovecot, FILED)) == len(ALERTS)
    monkeypatch.setattr(fetch_module, "MOVE_GROUP", 1)
    with Dovecot() as other:
        append(other, ALERTS + NOT_ALERTS)
        one_by_one = fetch_one(replace(settings, db=settings.db + "2", archive=settings.archive + "2"),
                                        imap_cfg(other, batch_size=7), environ=ENV)
    assert one_by_one.filed == grouped.filed
    assert one_by_one.imap_commands - grouped.imap_commands >= len(ALERTS) // 7 - 1  # a MOVE per batch


@pytest.fixture
def move_every_batch(monkeypatch):
    """Move each batch on its own, so progress (and a dropped connection) comes mid-run."""
    monkeypatch.setattr(fetch_module, "MOVE_GROUP", 1)


def test_dropped_connection_mid_fetch_reconnects_and_finishes(dovecot, settings, move_every_batch):
    append(dovecot, ALERTS + NOT_ALERTS)
    kicked = []

    def drop_once(done: int) -> None:
        if not kicked:
            kicked.append(done)
            dovecot.kick()

    result = fetch(settings, dovecot, cfg=imap_cfg(dovecot, batch_size=7), progress=drop_once)
    assert kicked and result.filed == len(ALERTS) and result.imported.new == len(ALERTS)
    assert len(contents(dovecot, FILED)) == len(ALERTS) and len(contents(dovecot, "INBOX")) == len(NOT_ALERTS)


def cli(workdir: Path, *args: str, crash_at: str | None = None) -> subprocess.CompletedProcess:
    return run_alertproc(*args, cwd=workdir, env={**ENV, **({"ALERTPROC_TEST_CRASH_AT": crash_at} if crash_at else {})},
                         timeout=120)


def snapshot(server: Dovecot, workdir: Path):
    con = store.connect(str(workdir / "alertproc.duckdb"), read_only=True)
    try:
        rows = con.execute("select sha256, parse_status, archive_path from messages order by 1").fetchall()
        events = con.execute("select event_id from events order by 1").fetchall()
    finally:
        con.close()
    archive = sorted(p.relative_to(workdir).as_posix() for p in (workdir / "archive").rglob("*") if p.is_file())
    folders = {f: contents(server, f) for f in ("INBOX", FILED, SUSPICIOUS)}
    return rows, events, archive, folders


@pytest.mark.parametrize("crash_at", ["after_archive_write", "after_db_commit", "after_move"])
def test_kill_9_mid_run_then_rerun_equals_a_clean_run(tmp_path, crash_at):
    mails = ALERTS + NOT_ALERTS + SPOOFS
    results = []
    for name, crash in (("clean", None), ("crashed", crash_at)):
        workdir = tmp_path / name
        workdir.mkdir()
        with Dovecot() as server:
            append(server, mails)
            (workdir / "alertproc.toml").write_text(server.imap_table(batch_size=10))
            if crash:
                died = cli(workdir, "fetch", crash_at=crash)
                assert died.returncode == -9, died.stderr
            assert cli(workdir, "fetch").returncode == 0
            results.append(snapshot(server, workdir))
    assert results[0] == results[1]


def test_cleanup_deletes_only_verified_old_alerts(dovecot, settings):
    append(dovecot, ALERTS)
    fetch(settings, dovecot)
    con = store.connect(settings.db, read_only=True)
    victim = con.execute("select archive_path from messages where parse_status = 'parsed' order by 1 limit 1").fetchone()[0]
    con.close()
    (Path(settings.archive) / victim).write_bytes(b"tampered")
    cfg = imap_cfg(dovecot)
    tomorrow = date.today() + timedelta(days=1)
    plan = cleanup_one(settings, cfg, tomorrow, apply=False, environ=ENV)
    assert (plan.candidates, plan.verified, plan.deleted) == (len(ALERTS), len(ALERTS) - 1, 0)
    assert len(contents(dovecot, FILED)) == len(ALERTS)
    done = cleanup_one(settings, cfg, tomorrow, apply=True, environ=ENV)
    assert done.deleted == len(ALERTS) - 1 and len(done.kept_unverified) == 1
    assert "altered" in done.kept_unverified[0]["reason"]
    assert len(contents(dovecot, FILED)) == 1
    nothing_old = cleanup_one(settings, cfg, date(2020, 1, 1), apply=True, environ=ENV)
    assert nothing_old.candidates == 0


def test_dry_run_changes_nothing_anywhere(dovecot, settings):
    append(dovecot, ALERTS + NOT_ALERTS + SPOOFS)
    before = contents(dovecot, "INBOX")
    result = fetch(settings, dovecot, dry_run=True)
    assert (result.filed, result.suspicious) == (len(ALERTS), 2)
    assert {p["action"] for p in result.plan} == {"filed", "suspicious"}
    assert contents(dovecot, "INBOX") == before and contents(dovecot, FILED) == []
    assert not Path(settings.db).exists() and not Path(settings.archive).exists()


def test_since_until_backfill_leaves_sync_state_alone(dovecot, settings):
    append(dovecot, ALERTS)
    window = fetch(settings, dovecot, since=date(2026, 10, 26), until=date(2026, 10, 27))
    assert 0 < window.candidates < len(ALERTS)
    rest = fetch(settings, dovecot)
    assert rest.candidates == len(ALERTS) - window.filed


def test_tls_is_verified_and_plain_text_is_loopback_only(settings):
    with Dovecot(tls=True) as server:
        append(server, ALERTS[:3])
        strict = imap_settings({"host": "127.0.0.1", "port": server.port, "username": USER,
                                "password_env": "TEST_IMAP_PASSWORD"}, "test")
        with pytest.raises(FetchError, match="certificate of 127.0.0.1 could not be verified"):
            fetch(settings, server, cfg=strict)
        trusted = replace(strict, ca_file=str(server.ca_file))
        assert fetch(settings, server, cfg=trusted).filed == 3
    with pytest.raises(ConfigError, match="only allowed on loopback"):
        ImapMailbox(imap_settings({"host": "imap.example.com", "tls": "none", "username": "u",
                                   "password_env": "X"}, "test"), {})


def test_secrets_never_appear_in_output_errors_json_db_or_report(dovecot, tmp_path):
    append(dovecot, ALERTS + SPOOFS)
    (tmp_path / "alertproc.toml").write_text(dovecot.imap_table())
    outputs = [cli(tmp_path, "-v", "run", "--json", "--policy", str(ROOT / "rules" / "policy.yaml"), "--week", "2026-W47"),
               cli(tmp_path, "-v", "fetch", "--dry-run", "--json"), cli(tmp_path, "doctor")]
    assert outputs[0].returncode == 0, outputs[0].stderr
    (tmp_path / "bad.toml").write_text(dovecot.imap_table().replace("TEST_IMAP_PASSWORD", "WRONG_VAR"))
    env_bad = cli(tmp_path, "fetch", "--config", "bad.toml")
    assert env_bad.returncode == 2 and "WRONG_VAR" in env_bad.stderr
    (tmp_path / "cmd.toml").write_text(dovecot.imap_table().replace(
        'password_env = "TEST_IMAP_PASSWORD"', f'password_command = "echo {PASSWORD}-wrong"'))
    wrong = cli(tmp_path, "-v", "fetch", "--config", "cmd.toml")
    assert wrong.returncode == 1 and "login as alice" in wrong.stderr
    outputs += [env_bad, wrong]
    for done in outputs:
        assert PASSWORD not in done.stdout + done.stderr
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix != ".toml":
            assert PASSWORD.encode() not in path.read_bytes(), path


def test_doctor_reports_capabilities_and_folders(dovecot, tmp_path):
    (tmp_path / "alertproc.toml").write_text(dovecot.imap_table())
    done = cli(tmp_path, "doctor", "--policy", str(ROOT / "rules" / "policy.yaml"))
    assert done.returncode == 0, done.stdout
    assert "filing with MOVE" in done.stdout and "will be created on the first fetch" in done.stdout
    (tmp_path / "alertproc.toml").write_text(dovecot.imap_table(folder="NoSuchFolder"))
    broken = cli(tmp_path, "doctor", "--policy", str(ROOT / "rules" / "policy.yaml"))
    assert broken.returncode == 1 and "FAIL imap folder" in broken.stdout and "→" in broken.stdout


def test_doctor_runs_the_search_fetch_sends_and_names_a_server_without_uidnext(dovecot, tmp_path):
    """A server that answers BAD to the fetch search (nested OR, valid RFC 3501) passed doctor and
    failed every fetch; a server without UIDNEXT in SELECT (Courier) is named."""
    from helpers.imap_proxy import RewritingProxy
    append(dovecot, ALERTS[:3] + NOT_ALERTS)
    policy = str(ROOT / "rules" / "policy.yaml")
    with RewritingProxy(dovecot.port, rewrite=lambda line: None if b"[UIDNEXT " in line else line,
                        refuse=lambda line: b"(OR (FROM" in line.upper()) as proxy:
        (tmp_path / "alertproc.toml").write_text(dovecot.imap_table(port=proxy.port))
        done = cli(tmp_path, "doctor", "--policy", policy)
        fetched = cli(tmp_path, "fetch")
    assert done.returncode == 1 and "FAIL imap fetch search" in done.stdout, done.stdout
    assert "ok   imap search: SEARCH ALL, SEARCH UID and FETCH agree" in done.stdout
    assert "SELECT gives no UIDNEXT" in done.stdout
    assert fetched.returncode != 0
    (tmp_path / "alertproc.toml").write_text(dovecot.imap_table())
    good = cli(tmp_path, "doctor", "--policy", policy)
    assert good.returncode == 0 and "the search of `fetch` runs: 3 possible alerts" in good.stdout, good.stdout


def test_without_move_a_second_mail_with_a_known_message_id_is_copied_before_it_is_expunged(settings):
    """COPY + EXPUNGE skipped the copy of a mail whose Message-ID the target held, and expunged it:
    a second delivery with other bytes (another Received line) vanished from the server."""
    with Dovecot(move=False) as server:
        slug, raw = ALERTS[0]
        append(server, [(slug, raw)])
        assert fetch(settings, server).filed == 1
        again = b"Received: from relay2.example.in by mx.example.in; Sat, 21 Nov 2026 10:00:00 +0530\r\n" + raw
        append(server, [(slug, again)])
        second = fetch(settings, server)
        assert second.filed == 1 and second.imported.duplicates == 1
        assert sorted(r for r, _ in contents(server, FILED)) == sorted([raw, again])
        assert contents(server, "INBOX") == []


def test_a_server_without_uidvalidity_is_a_clear_error(dovecot, settings):
    """It was a KeyError (issue #28 item 12)."""
    from helpers.imap_proxy import RewritingProxy
    append(dovecot, ALERTS[:2])
    with RewritingProxy(dovecot.port, rewrite=lambda line: None if b"[UIDVALIDITY " in line else line) as proxy:
        with pytest.raises(FetchError, match="gave no UIDVALIDITY"):
            fetch(settings, dovecot, cfg=replace(imap_cfg(dovecot), port=proxy.port))


def test_mark_seen_marks_only_filed_mail(dovecot, settings):
    append(dovecot, ALERTS[:5] + NOT_ALERTS)
    fetch(settings, dovecot, cfg=imap_cfg(dovecot, mark_seen=True))
    assert all(b"\\Seen" in flags for _, flags in contents(dovecot, FILED))
    assert all(b"\\Seen" not in flags for _, flags in contents(dovecot, "INBOX"))


def test_the_secret_command_runs_again_on_every_reconnect(dovecot, settings, tmp_path, move_every_batch):
    calls = tmp_path / "calls"
    script = tmp_path / "secret.sh"
    script.write_text(f"#!/bin/sh\necho x >> {calls}\necho '{PASSWORD}'\n")
    script.chmod(0o755)
    append(dovecot, ALERTS)
    cfg = imap_settings({"host": "127.0.0.1", "port": dovecot.port, "tls": "none", "username": USER,
                         "password_command": str(script), "batch_size": 10}, "test")
    kicked = []
    result = fetch(settings, dovecot, cfg=cfg, progress=lambda n: kicked or (kicked.append(n), dovecot.kick()))
    assert result.filed == len(ALERTS)
    # Two logins (the main connection and the one that fetches ahead), then at least one more after
    # the kick: every (re)connect runs the command, so a token never outlives its use.
    assert len(calls.read_text().split()) >= 3


def test_kill_9_during_cleanup_then_rerun_equals_a_clean_cleanup(tmp_path):
    results = []
    for name, crash in (("clean", None), ("crashed", "after_cleanup_delete")):
        workdir = tmp_path / name
        workdir.mkdir()
        with Dovecot() as server:
            append(server, ALERTS)
            (workdir / "alertproc.toml").write_text(server.imap_table(batch_size=10))
            assert cli(workdir, "fetch").returncode == 0
            if crash:
                assert cli(workdir, "cleanup", "--older-than", "2026-10-27", "--apply", crash_at=crash).returncode == -9
            done = cli(workdir, "cleanup", "--older-than", "2026-10-27", "--apply")
            assert done.returncode == 0, done.stderr
            results.append(snapshot(server, workdir))
    assert results[0] == results[1] and 0 < len(results[0][3][FILED]) < len(ALERTS)


def test_overlapping_runs_and_a_reader_while_a_run_writes(dovecot, tmp_path):
    half = len(ALERTS) // 2
    append(dovecot, ALERTS[:half])
    (tmp_path / "alertproc.toml").write_text(dovecot.imap_table(batch_size=10))
    assert cli(tmp_path, "fetch").returncode == 0
    append(dovecot, ALERTS[half:])
    flag = tmp_path / "paused"
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **ENV,
           "ALERTPROC_TEST_PAUSE_AT": "after_db_commit", "ALERTPROC_TEST_PAUSE_FILE": str(flag)}
    first = subprocess.Popen([sys.executable, "-m", "alertproc", "fetch"], cwd=tmp_path, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):
            if flag.exists() or first.poll() is not None:
                break
            time.sleep(0.05)
        assert flag.exists(), first.stderr.read() if first.poll() is not None else "never paused"
        second = run_alertproc("fetch", cwd=tmp_path, env={**ENV, "ALERTPROC_LOCK_WAIT": "0"})
        assert second.returncode == 75 and f"pid {first.pid}, `alertproc fetch`" in second.stderr
        # A reader is not in the writer's way: it reads what the last finished fetch published.
        reader = cli(tmp_path, "sql", "select count(*) from messages")
        assert reader.returncode == 0 and reader.stdout.split()[-1] == str(half)
    finally:
        flag.unlink(missing_ok=True)
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert cli(tmp_path, "sql", "select count(*) from messages").stdout.split()[-1] == str(len(ALERTS))


def test_mail_as_transport_leaves_it_is_filed_right(dovecot, settings):
    """A folded spf=fail spoof goes to the suspicious folder; a tagged, a forwarded-prefix and an
    Outlook-wrapped alert are filed; GST mail about API access in an unknown wording stays put."""
    from helpers.mangle import alerts, folded_spf_fail, microsoft_365_fail, subject_tagged, wrapped
    clean = {a.name: a for a in alerts()}
    spoofs = [("folded", folded_spf_fail(clean["E1-refresh-text"])), ("m365", microsoft_365_fail(clean["E3-consent"]))]
    filed = [("tagged", subject_tagged("[EXTERNAL] ")(clean["E2-refresh-table"])),
             ("prefixed", subject_tagged("WG: AW: ")(clean["E4-revoked"])), ("wrapped", wrapped(72)(clean["E6-otp"]))]
    new_wording = [("new", make.other(make.GST, f"API access token generated for your GSTIN {make.PUNE}", make.START,
                                      "new1", "An access token was generated.\n").as_bytes())]
    append(dovecot, spoofs + filed + new_wording)
    result = fetch(settings, dovecot)
    assert (result.filed, result.suspicious) == (len(filed), len(spoofs))
    assert sorted(raw for raw, _ in contents(dovecot, SUSPICIOUS)) == sorted(raw.replace(b"\r\n", b"\n").replace(
        b"\n", b"\r\n") for _, raw in spoofs)
    assert len(contents(dovecot, FILED)) == len(filed)
    assert [raw for raw, _ in contents(dovecot, "INBOX")] == [new_wording[0][1].replace(b"\n", b"\r\n")]
    con = store.connect(settings.db, read_only=True)
    try:
        rows = con.execute("select parse_status, count(*) from messages group by 1 order by 1").fetchall()
        kinds = con.execute("select kind, count(*) from events group by 1 order by 1").fetchall()
    finally:
        con.close()
    assert rows == [("parsed", 3), ("suspicious", 2), ("unparsed", 1)]
    assert kinds == [("access_revoked", 1), ("otp_sent", 1), ("suspicious_alert", 2), ("token_refreshed", 1)]


def test_the_search_names_an_explicit_uid_range_never_n_star():
    """GNU imap4d answers nothing to any 'UID n:*', Dovecot the highest UID even when nothing is new:
    a sync searches 'last+1:highest', the highest being a UID the server showed."""
    from alertproc.mail.imap import search_criteria
    cfg = imap_settings({"host": "h", "username": "u", "password_env": "X"}, "test")
    later = search_criteria(cfg, ["donotreply@gst.gov.in"], ["token"], "42:97")
    backfill = search_criteria(cfg, ["donotreply@gst.gov.in"], ["token"], None, since=date(2026, 11, 1))
    assert later[:2] == ["UID", "42:97"] and "UID" not in backfill and "*" not in repr(later)


@pytest.mark.parametrize("lie", ["bogus-uidnext", "no-uidnext"])
def test_a_lying_or_silent_uidnext_never_hides_new_alerts(dovecot, settings, lie):
    """One bogus 'UIDNEXT 4294967295' stored last_uid = 4294967294 and every later fetch found
    nothing; a server without UIDNEXT in SELECT (Courier) must work too."""
    import re as regex
    from helpers.imap_proxy import RewritingProxy
    state = {"lying": True}

    def rewrite(line: bytes) -> bytes | None:
        if b"[UIDNEXT " not in line:
            return line
        if lie == "no-uidnext":
            return None
        return regex.sub(rb"UIDNEXT \d+", b"UIDNEXT 4294967295", line) if state["lying"] else line
    append(dovecot, ALERTS[:5])
    with RewritingProxy(dovecot.port, rewrite) as proxy:
        cfg = replace(imap_cfg(dovecot), port=proxy.port)
        first = fetch(settings, dovecot, cfg=cfg)
        assert first.imported.new == 5 and first.filed == 5
        state["lying"] = False  # once: the next SELECT tells the truth again
        append(dovecot, ALERTS[5:12])
        second = fetch(settings, dovecot, cfg=cfg)
        assert second.imported.new == 7 and second.filed == 7
        assert fetch(settings, dovecot, cfg=cfg).candidates == 0
    con = store.connect(settings.db, read_only=True)
    try:
        assert con.execute("select max(last_uid) from sync_state").fetchone()[0] < 100
    finally:
        con.close()
