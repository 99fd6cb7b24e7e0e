"""Readers never block the writer (#30 item 1), and the file they open is one the DuckDB tools
users have can read (#30 item 2): alertproc writes a working file and publishes a copy."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

import alertproc
from alertproc.storage import published
from helpers import POLICY, POLICY_OPTION, SAMPLE, run_alertproc
from helpers.local_server import TEST_CACHE

READERS = TEST_CACHE / "duckdb-readers"
OLDEST_DUCKDB = READERS / "python-1.1.3"  # the oldest DuckDB that reads the published file
DUCKDB_CLI = READERS / "cli-1.5.6" / "duckdb_cli" / "duckdb"  # the newest duckdb CLI on PyPI
SAMPLE_RUN = ["run", "--source", str(SAMPLE / "mail"), "--sms", str(SAMPLE / "sms-backup.xml"),
              "--access-log", str(SAMPLE / "access-log.csv"), "--tokens", str(SAMPLE / "active-tokens.csv"),
              "--week", "2026-W47", *POLICY_OPTION]

# A program that keeps a plain read-only DuckDB connection open (as Harlequin or DBeaver do)
# and answers queries sent on its standard input, one per line.
HELD_READER = textwrap.dedent("""
    import sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    print("open", flush=True)
    for line in sys.stdin:
        if line.strip() == "reconnect":
            con.close()
            con = duckdb.connect(sys.argv[1], read_only=True)
            print("reconnected", flush=True)
        else:
            print(con.execute(line).fetchall()[0][0], flush=True)
""")

HELD_WRITER = textwrap.dedent("""
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])
    print("open", flush=True)
    time.sleep(120)
""")

LOCK_HOLDER = textwrap.dedent("""
    import sys, time
    from alertproc.storage import lock
    with lock.exclusive(sys.argv[1], doing="run"):
        print("held", flush=True)
        time.sleep(float(sys.argv[2]))
""")


def started(script: str, *args: str, stdin: bool = False) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True,
                               stdin=subprocess.PIPE if stdin else None)
    assert process.stdout.readline().strip() in ("open", "held")
    return process


def ask(reader: subprocess.Popen, query: str) -> str:
    reader.stdin.write(query + "\n")
    reader.stdin.flush()
    return reader.stdout.readline().strip()


def stop(process: subprocess.Popen) -> None:
    process.kill()
    process.wait()


@pytest.fixture
def loaded(tmp_path: Path) -> Path:
    done = run_alertproc(*SAMPLE_RUN, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return tmp_path


def test_open_readers_do_not_stop_run_detect_or_ack_and_see_the_news_when_they_reconnect(loaded):
    db = loaded / "alertproc.duckdb"
    held = started(HELD_READER, str(db), stdin=True)
    notebook = alertproc.open(db, archive=str(loaded / "archive"), report_dir=str(loaded / "out"), policy=POLICY)
    try:
        runs_before = int(ask(held, "select count(*) from runs"))
        first = notebook.findings("open")[0]["finding_id"]
        for args in (SAMPLE_RUN, ["detect", *POLICY_OPTION], ["findings", "ack", first, "--note", "ours"]):
            done = run_alertproc(*args, cwd=loaded)
            assert done.returncode == 0, (args, done.stderr)
        # The open connection still reads the copy it opened, whole; reconnected, the new one.
        assert int(ask(held, "select count(*) from runs")) == runs_before
        assert ask(held, "reconnect") == "reconnected"
        assert int(ask(held, "select count(*) from runs")) == runs_before + 2
        # The notebook's next call reads the newest copy without being told.
        acknowledged = notebook.findings("acknowledged")
        assert [f["finding_id"] for f in acknowledged] == [first] and acknowledged[0]["triage_note"] == "ours"
    finally:
        notebook.close()
        stop(held)


def test_a_program_writing_the_published_copy_blocks_readers_with_a_clear_word_but_never_the_writer(loaded):
    db = loaded / "alertproc.duckdb"
    holder = started(HELD_WRITER, str(db))
    try:
        reading = run_alertproc("findings", "list", cwd=loaded)
        assert reading.returncode == 75
        assert f"pid {holder.pid}" in reading.stderr and "read-only" in reading.stderr
        assert run_alertproc("detect", *POLICY_OPTION, cwd=loaded).returncode == 0
    finally:
        stop(holder)
    # What that program did to its copy is kept beside the database, not lost or published over.
    assert run_alertproc("findings", "list", cwd=loaded).returncode == 0


def test_a_published_copy_changed_by_someone_else_is_kept_aside_not_overwritten(loaded):
    db = loaded / "alertproc.duckdb"
    con = duckdb.connect(str(db))
    con.execute("create table mine as select 42 as answer")
    con.close()
    done = run_alertproc("detect", *POLICY_OPTION, cwd=loaded)
    assert done.returncode == 0 and "changed outside alertproc" in done.stderr
    [aside] = loaded.glob("alertproc.duckdb.changed-*")
    assert duckdb.connect(str(aside), read_only=True).execute("select answer from mine").fetchall() == [(42,)]
    tables = duckdb.connect(str(db), read_only=True).execute("select table_name from duckdb_tables()").fetchall()
    assert ("mine",) not in tables and ("events",) in tables
    again = run_alertproc("detect", *POLICY_OPTION, cwd=loaded)
    assert again.returncode == 0 and "changed outside" not in again.stderr and len(list(loaded.glob("*.changed-*"))) == 1


def test_a_writer_waits_a_bounded_time_for_another_and_names_it_when_it_gives_up(loaded):
    db = str(loaded / "alertproc.duckdb")
    holder = started(LOCK_HOLDER, db, "60")
    try:
        gave_up = run_alertproc("detect", *POLICY_OPTION, cwd=loaded, env={"ALERTPROC_LOCK_WAIT": "1"})
    finally:
        stop(holder)
    assert gave_up.returncode == 75
    assert f"pid {holder.pid}, `alertproc run`, since" in gave_up.stderr and "waited 1 s" in gave_up.stderr
    assert "ALERTPROC_LOCK_WAIT" in gave_up.stderr

    with alertproc.open(db, policy=POLICY) as app:
        first = app.findings("open")[0]["finding_id"]
    holder = started(LOCK_HOLDER, db, "2")
    begun = time.monotonic()
    try:
        waited = run_alertproc("findings", "ack", first, "--note", "x", cwd=loaded, env={"ALERTPROC_LOCK_WAIT": "60"})
    finally:
        stop(holder)
    assert waited.returncode == 0, waited.stderr
    assert "waiting up to 60 s" in waited.stderr and time.monotonic() - begun < 60


def test_the_published_file_opens_in_the_oldest_supported_duckdb_and_the_duckdb_cli(loaded):
    if not (OLDEST_DUCKDB / "duckdb").is_dir() or not DUCKDB_CLI.is_file():
        pytest.fail(f"the other DuckDBs are not in {READERS}: run `bash tests/setup-system.sh` (the README's test "
                    "command does)")
    db = loaded / "alertproc.duckdb"
    assert published.storage_version(db) == 64
    con = duckdb.connect(str(db), read_only=True)
    views = [name for (name,) in con.execute("select view_name from duckdb_views() where not internal "
                                             "and database_name = current_database() order by 1").fetchall()]
    expected = {name: con.execute(f'select count(*) from "{name}"').fetchall()[0][0] for name in [*views, "events"]}
    con.close()
    assert len(views) >= 7 and expected["events"] > 400
    counts = "; ".join(f"select '{name}', count(*) from \"{name}\"" for name in expected)
    old = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import sys, duckdb
        con = duckdb.connect(sys.argv[1], read_only=True)
        print(duckdb.__version__)
        for name in {list(expected)!r}:
            print(name, con.execute(f'select count(*) from "{{name}}"').fetchall()[0][0])
        """), str(db)], capture_output=True, text=True, env={"PYTHONPATH": str(OLDEST_DUCKDB)})
    assert old.returncode == 0, old.stderr
    assert old.stdout.splitlines() == ["1.1.3", *(f"{name} {count}" for name, count in expected.items())]
    cli = subprocess.run([str(DUCKDB_CLI), "-readonly", "-csv", "-noheader", str(db), "-c", counts],
                         capture_output=True, text=True)
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.split() == [f"{name},{count}" for name, count in expected.items()]


def test_a_database_of_the_previous_release_is_converted_to_the_readable_version_keeping_everything(loaded):
    db = loaded / "alertproc.duckdb"
    previous = loaded / "previous.duckdb"
    con = duckdb.connect()  # the previous release wrote DuckDB 2.0's own storage version, in place
    con.execute("attach ? as now (read_only)", [str(db)])
    con.execute("attach ? as previous", [str(previous)])
    con.execute("copy from database now to previous")
    con.close()
    for file in published.files(db):
        file.unlink(missing_ok=True)
    previous.replace(db)
    assert published.storage_version(db) not in published.READABLE_VERSIONS
    before = duckdb.connect(str(db), read_only=True)
    counts = before.execute("select (select count(*) from events), (select max(run_id) from runs)").fetchall()[0]
    before.close()

    done = run_alertproc("detect", *POLICY_OPTION, cwd=loaded)
    assert done.returncode == 0, done.stderr
    assert published.storage_version(db) == 64 and not list(loaded.glob("*.changed-*"))
    after = duckdb.connect(str(db), read_only=True)
    events, last_run = after.execute("select (select count(*) from events), max(run_id) from runs "
                                     "where command = 'detect'").fetchall()[0]
    after.close()
    assert events == counts[0] and last_run == counts[1] + 1  # the run ids go on where they stopped


def test_a_backup_of_the_published_file_restores_as_docs_operations_says(loaded):
    db = loaded / "alertproc.duckdb"
    backup = loaded / "backup.duckdb"
    backup.write_bytes(db.read_bytes())  # taken while nothing holds anything: always consistent
    with alertproc.open(db, policy=POLICY) as app:
        first = app.findings("open")[0]["finding_id"]
    assert run_alertproc("findings", "ack", first, "--note", "after the backup", cwd=loaded).returncode == 0
    db.write_bytes(backup.read_bytes())
    published.working_file(db).unlink()
    done = run_alertproc("detect", *POLICY_OPTION, cwd=loaded)
    assert done.returncode == 0 and "changed outside" not in done.stderr
    with alertproc.open(db, policy=POLICY) as app:
        assert first in [f["finding_id"] for f in app.findings("open")]  # as it was at the backup
