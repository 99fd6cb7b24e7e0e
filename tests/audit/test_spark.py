"""Every shipped rule gives identical findings on DuckDB and on Spark (local mode), over a lake."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from alertproc.lake.engines import detect_lake
from alertproc.lake import export_lake
from helpers import ROOT, SAMPLE, Staged
from helpers.synthetic import generate

pytestmark = [pytest.mark.spark, pytest.mark.slow]
pytest.importorskip("pyspark", reason="the 'spark' extra is not installed (pip install -e '.[spark]'): Spark parity not tested")

FINDING = "finding_id, rule_id, severity, gstin, asp_name, occurred_at, title, detail, event_ids"


@pytest.fixture(scope="module")
def spark():
    from alertproc.lake import spark as engine
    session = engine.session("local[2]")
    yield session
    session.stop()


def lake_findings(lake: Path) -> set[tuple]:
    rows = duckdb.sql(f"set TimeZone = 'UTC'; select {FINDING} from read_parquet(?)", params=[
        [str(p) for p in sorted((lake / "findings").glob("month=*/*.parquet"))]]).fetchall()
    return {tuple(tuple(v) if isinstance(v, list) else v for v in row) for row in rows}


def database_findings(con) -> set[tuple]:
    return {tuple(tuple(v) if isinstance(v, list) else v for v in row)
            for row in con.execute(f"select {FINDING} from findings").fetchall()}


def load_sample(settings, con) -> None:
    run = 1
    Staged(con, settings).import_mail(SAMPLE / "mail", None, run)
    Staged(con, settings).read("sms", SAMPLE / "sms-backup.xml", run)
    Staged(con, settings).read("access-log", SAMPLE / "access-log.csv", run)
    Staged(con, settings).read("tokens", SAMPLE / "active-tokens.csv", run)


# The sample mailbox fires every rule. The same parity over 20,160 generated events (many
# pairs, bursts, revocations) is checked by `bench/lake.py --smoke`, which .ci/run runs and
# which fails on any difference: here it cost half a minute of a suite kept under twelve.
def test_every_rule_gives_the_same_findings_on_duckdb_and_spark(spark, settings, con, tmp_path):
    load_sample(settings, con)
    found = Staged(con, settings).detect()
    export_lake(con, tmp_path / "lake")
    on = {}
    for engine in ("duckdb", "spark"):
        lake = tmp_path / engine
        shutil.copytree(tmp_path / "lake", lake, ignore=shutil.ignore_patterns("findings"))
        result = detect_lake(settings, str(lake), engine)
        assert result.problems == []
        assert result.by_rule == found.by_rule
        on[engine] = lake_findings(lake)
    # Every shipped rule fires, so each one is compared, not just run.
    assert {path.stem for path in (ROOT / "rules").glob("*.sql")} == set(found.by_rule)
    assert on["spark"] == on["duckdb"] == database_findings(con)
    assert len(on["spark"]) == found.total
    # Same ids and versions on both engines: neither adds anything to the other's lake.
    assert detect_lake(settings, str(tmp_path / "spark"), "duckdb").lake_findings_added == 0
    assert con.execute("select count(*) from findings").fetchall()[0][0] == found.total  # the database is left alone


def test_a_rule_spark_cannot_run_is_named_and_the_others_still_run(spark, settings, con, rules_copy, tmp_path):
    (rules_copy / "duckdb_only.sql").write_text(
        "-- id: duckdb_only\n-- title: t\n-- severity: low\n-- description: d\n"
        "select gstin, asp_name, occurred_at, 'x' as title, 'y' as detail,\n"
        "       list_reduce([event_id], (a, b) -> a || b) as event_ids\nfrom events\n")
    generate(con, 2_000)
    export_lake(con, tmp_path / "lake")
    result = detect_lake(replace(settings, rules=str(rules_copy)), str(tmp_path / "lake"), "spark")
    assert result.problems == [f"{rules_copy / 'duckdb_only.sql'}:6: function list_reduce() is not in the portable "
                               "subset (DuckDB-only or unknown to sqlglot); write it with standard functions so it runs on spark"]
    assert result.by_rule["unexpected_asp"] > 0 and "duckdb_only" not in result.by_rule
