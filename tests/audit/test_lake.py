"""The Parquet lake: incremental, append-only, crash-safe, and read back to the same findings."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from alertproc.storage import store
from alertproc.lake.engines import detect_lake
from alertproc.errors import ConfigError
from alertproc.lake import export_lake
from alertproc.lake.portable import transpile
from alertproc.audit.rules import load_rules
from helpers import ROOT, SAMPLE, Staged
from helpers.synthetic import generate


def files_with_digests(lake: Path) -> dict[str, str]:
    return {p.relative_to(lake).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in lake.rglob("*") if p.is_file() and not p.name.endswith(".lock")}


def lake_rows(lake: Path, table: str, columns: str) -> list[tuple]:
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    return con.execute(f"select {columns} from read_parquet(?, hive_partitioning = true) order by all",
                       [str(lake / table / "*" / "*.parquet")]).fetchall()


def test_export_writes_hive_partitions_with_every_observed_event(settings, con, tmp_path):
    Staged(con, settings).import_mail(SAMPLE / "mail", None)
    Staged(con, settings).detect()  # adds the policy's manual revocation to events
    written = export_lake(con, tmp_path / "lake")
    observed = con.execute("select event_id, occurred_at from events where channel <> 'manual' order by all").fetchall()
    assert written.rows["events"] == len(observed) > 100
    assert lake_rows(tmp_path / "lake", "events", "event_id, occurred_at") == observed
    months = {p.name for p in (tmp_path / "lake" / "events").iterdir()}
    assert months == {f"month={m}" for (m,) in con.execute(
        "select distinct strftime(occurred_at, '%Y-%m') from events where channel <> 'manual'").fetchall()}
    assert lake_rows(tmp_path / "lake", "messages", "count(*)") == con.execute("select count(*) from messages").fetchall()
    assert written.rows["findings"] == con.execute("select count(*) from findings").fetchall()[0][0] > 0


def test_a_rerun_adds_only_new_rows_as_new_files_and_never_rewrites(settings, con, tmp_path):
    lake = tmp_path / "lake"
    generate(con, 3_000)
    export_lake(con, lake)
    before = files_with_digests(lake)
    again = export_lake(con, lake)
    assert again.rows == {"events": 0, "messages": 0, "findings": 0}
    assert files_with_digests(lake) == before
    Staged(con, settings).import_mail(SAMPLE / "mail", None)
    more = export_lake(con, lake)
    after = files_with_digests(lake)
    assert {k: v for k, v in after.items() if k in before} == before  # history untouched
    assert more.rows["events"] > 0 and more.rows["messages"] > 0
    assert len(after) == len(before) + sum(more.files.values())
    ids = [r[0] for r in lake_rows(lake, "events", "event_id")]
    assert len(ids) == len(set(ids)) == con.execute("select count(*) from events where channel <> 'manual'").fetchall()[0][0]


def test_a_reimported_event_is_not_exported_twice(settings, con, tmp_path):
    generate(con, 1_000)
    export_lake(con, tmp_path / "lake")
    # reparse-like: the same event deleted and inserted again with a newer imported_at
    con.execute("create temp table again as select * replace (now() as imported_at) from events limit 5")
    con.execute("delete from events where event_id in (select event_id from again)")
    con.execute("insert into events select * from again")
    assert export_lake(con, tmp_path / "lake").rows["events"] == 0


def test_a_finding_whose_evidence_grew_gets_a_new_version(settings, con, tmp_path):
    generate(con, 2_000)
    Staged(con, settings).detect()
    lake = tmp_path / "lake"
    first = export_lake(con, lake).rows["findings"]
    con.execute("""insert into events select md5('extra'), 'token_refreshed', gstin, gstin_valid, asp_name, asp_key,
                   gsp_name, occurred_at + interval 1 minute, null, 'email', null, null, null, 'x', now()
                   from events where asp_name = 'Shadow Filings LLP' order by occurred_at desc limit 1""")
    Staged(con, settings).detect()
    assert export_lake(con, lake).rows["findings"] == 1
    rows = lake_rows(lake, "findings", "finding_id, first_detected_at, last_detected_at")
    assert len(rows) == first + 1
    changed = [r for r in rows if sum(1 for s in rows if s[0] == r[0]) == 2]
    assert len(changed) == 2 and changed[0][1] == changed[1][1]  # first seen is kept across versions


def test_detect_on_the_lake_with_duckdb_equals_detect_on_the_database(settings, con, tmp_path):
    generate(con, 5_000)
    found = Staged(con, settings).detect()
    export_lake(con, tmp_path / "lake")
    (tmp_path / "lake" / "findings").rename(tmp_path / "exported-findings")
    on_lake = detect_lake(settings, str(tmp_path / "lake"), "duckdb")
    assert (on_lake.total, on_lake.by_rule, on_lake.problems) == (found.total, found.by_rule, [])
    assert on_lake.lake_findings_added == found.total
    columns = "finding_id, title, detail, event_ids"
    in_db = con.execute(f"select {columns} from findings order by all").fetchall()
    assert lake_rows(tmp_path / "lake", "findings", columns) == in_db


def test_an_object_storage_url_is_refused_with_what_to_do(con):
    with pytest.raises(ConfigError, match="aws s3 sync"):
        export_lake(con, "s3://bucket/lake")


@pytest.mark.parametrize("crash_at", ["after_lake_file_moved", "after_lake_sync"])
def test_kill_9_during_export_then_rerun_writes_every_row_once(tmp_path, crash_at):
    db = tmp_path / "a.duckdb"
    con = store.connect(str(db))
    generate(con, 4_000)  # events over several months, so the export writes several files
    con.close()
    env = {**os.environ, "ALERTPROC_TEST_CRASH_AT": crash_at}
    command = [sys.executable, "-m", "alertproc", "export", "lake", "--out", str(tmp_path / "lake"), "--db", str(db),
               "--policy", str(ROOT / "rules" / "policy.yaml")]
    died = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert died.returncode == -9, died.stderr
    env.pop("ALERTPROC_TEST_CRASH_AT")
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    ids = [r[0] for r in lake_rows(tmp_path / "lake", "events", "event_id")]
    assert len(ids) == len(set(ids)) == 4_000 + 4_000 // 500 + 4_000 // 200 + 2 * (4_000 // 2000)  # see synthetic.py
    assert not (tmp_path / "lake" / "_staging").exists()


def test_every_shipped_rule_is_in_the_portable_subset():
    rules, problems = load_rules(ROOT / "rules")
    assert problems == []
    for rule in rules:
        assert "SELECT" in transpile(rule.sql, "spark", rule.path)
