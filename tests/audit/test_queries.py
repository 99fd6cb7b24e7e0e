"""Canned queries, the cookbook, the SQL command's formats and the exports."""

import csv
import json
import re

import openpyxl
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import alertproc

from alertproc.storage import store
from alertproc.audit.canned import load_queries, run
from alertproc.cli import cli
from alertproc.errors import ConfigError
from alertproc.outputs.export import export
from alertproc.period import range_period
from helpers import ROOT, SAMPLE, Staged, app_of

QUERIES = load_queries(ROOT / "rules" / "queries")
EXAMPLES = {"gstin": "27AAPFU0939F1ZV", "since": "2026-11-01", "until": "2026-11-30", "severity": "medium"}


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory):
    from alertproc.config import Settings
    from alertproc.portal.sms import import_sms, read_sms
    from alertproc.portal.accesslog import import_access_log
    base = tmp_path_factory.mktemp("sample")
    settings = Settings(db=str(base / "a.duckdb"), archive=str(base / "archive"),
                        policy=str(ROOT / "rules" / "policy.yaml"), rules=str(ROOT / "rules"))
    con = store.connect(settings.db)
    Staged(con, settings).import_mail(SAMPLE / "mail", "eml")
    import_sms(con, read_sms(SAMPLE / "sms-backup.xml"), app_of(settings).reader().formats, settings.sms_senders)
    import_access_log(con, SAMPLE / "access-log.csv")
    Staged(con, settings).detect()
    con.close()
    return settings


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_every_canned_query_answers_on_the_sample(sample_db, name):
    con = store.connect(sample_db.db, read_only=True)
    query = QUERIES[name]
    rows = run(con, query, {p: EXAMPLES[p] for p in query.params}).fetchall()
    con.close()
    assert rows, f"{name} returned nothing on the sample data"


def test_the_cookbook_shows_every_query_verbatim():
    text = (ROOT / "docs" / "queries.md").read_text()
    assert len(re.findall(r"^## ", text, flags=re.MULTILINE)) == len(QUERIES) >= 10
    for query in QUERIES.values():
        assert f"```sql\n{query.sql}\n```" in text and f"--query {query.name}" in text


def test_parameters_are_bound_and_checked(sample_db):
    con = store.connect(sample_db.db, read_only=True)
    query = QUERIES["weekly-trend"]
    assert run(con, query, {"gstin": "27AAPFU0939F1ZV' or '1'='1"}).fetchall() == []  # bound, not pasted
    every = run(con, query, {}).fetchall()  # gstin is optional: every GSTIN
    assert {row[1] for row in every} >= {"27AAPFU0939F1ZV", "29AAPFU0939F1ZR"}
    assert {row[1] for row in run(con, query, {"gstin": "27AAPFU0939F1ZV"}).fetchall()} == {"27AAPFU0939F1ZV"}
    with pytest.raises(ConfigError, match="missing gstin"):
        run(con, QUERIES["asp-activity"], {"since": "01-11-2026", "until": "30-11-2026"})
    with pytest.raises(ConfigError, match="unknown extra"):
        run(con, query, {"gstin": "x", "extra": "y"})
    con.close()


def test_a_query_file_whose_params_do_not_match_its_sql_is_refused(tmp_path):
    (tmp_path / "q.sql").write_text("-- name: q\n-- description: d\n-- params: a\nselect $b")
    with pytest.raises(ConfigError, match=r"q.sql:1: params lists \['a'\] but the SQL uses \['b'\]"):
        load_queries(tmp_path)


@pytest.mark.parametrize("fmt", ["table", "csv", "json", "markdown"])
def test_sql_formats_and_out_file(sample_db, tmp_path, fmt):
    out = tmp_path / f"result.{ {'table': 'txt', 'markdown': 'md'}.get(fmt, fmt)}"  # a data file's ending
    result = CliRunner().invoke(cli, ["sql", "--db", sample_db.db, "--rules", str(ROOT / "rules"), "--format", fmt,
                                      "--out", str(out), "select rule_id, count(*) as n from findings group by 1 order by 1"])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "refresh_after_revocation" in text
    if fmt == "json":
        assert json.loads(text)[0]["rule_id"] == "access_without_alert"
    if fmt == "markdown":
        assert text.startswith("| rule_id")


def test_sql_from_a_file_and_from_stdin(sample_db, tmp_path):
    (tmp_path / "q.sql").write_text("select count(*) as n from refreshes;")
    runner = CliRunner()
    from_file = runner.invoke(cli, ["sql", "--db", sample_db.db, "-f", str(tmp_path / "q.sql"), "--format", "csv"])
    from_stdin = runner.invoke(cli, ["sql", "--db", sample_db.db, "--format", "csv"], input="select count(*) as n from refreshes")
    assert from_file.output == from_stdin.output and int(from_file.output.split()[1]) > 300


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet", "xlsx"])
def test_exports_in_every_format(sample_db, tmp_path, fmt):
    con = store.connect(sample_db.db, read_only=True)
    total = con.execute("select count(*) from events").fetchone()[0]
    out = tmp_path / f"events.{fmt}"
    assert export(con, "events", fmt, out) == total
    week = range_period("2026-11-16", "2026-11-22")
    in_week = export(con, "findings", fmt, tmp_path / f"f.{fmt}", week)
    assert 0 < in_week < con.execute("select count(*) from findings").fetchone()[0]
    con.close()
    if fmt == "csv":
        rows = list(csv.DictReader(out.open()))
        assert len(rows) == total and rows[0]["occurred_at_ist"]
    elif fmt == "json":
        assert len(out.read_text().splitlines()) == total
    elif fmt == "parquet":
        assert pq.read_table(out).num_rows == total
    else:
        rows = list(openpyxl.load_workbook(out, read_only=True).active.iter_rows(values_only=True))
        header, first = rows[0], rows[1]
        assert header[0] == "event_id" and len(rows) == total + 1
        assert type(first[header.index("occurred_at (UTC)")]).__name__ == "datetime"  # a real date cell, not text
        assert first[header.index("gstin_valid")] in (True, False)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_findings_export_carries_triage_sorted_worst_and_newest_first_in_ist(sample_db, tmp_path, fmt):
    with alertproc.open(sample_db.db, archive=sample_db.archive, policy=sample_db.policy) as app:
        first = app.findings("open")[-1]["finding_id"]
        app.triage(first, "acknowledged", note="approved by the CFO", by="anita")
        out = tmp_path / f"findings.{fmt}"
        total = app.export("findings", out, fmt=fmt)
        expected = app.sql("select finding_id from findings_triaged order by case severity when 'high' then 0 "
                           "when 'medium' then 1 when 'low' then 2 else 3 end, occurred_at desc, rule_id, "
                           "finding_id").fetchall()
    if fmt == "csv":
        rows = list(csv.DictReader(out.open()))
    else:
        table = list(openpyxl.load_workbook(out, read_only=True).active.iter_rows(values_only=True))
        rows = [dict(zip(table[0], row)) for row in table[1:]]
    assert len(rows) == total == len(expected) and [r["finding_id"] for r in rows] == [e[0] for e in expected]
    assert {"triage_status", "triage_note", "triage_by", "triage_at_ist", "occurred_at_ist"} <= set(rows[0])
    assert not [name for name in rows[0] if "_at" in name and not name.endswith("_ist")]  # every time says IST
    acked = next(r for r in rows if r["finding_id"] == first)
    assert (acked["triage_status"], acked["triage_note"], acked["triage_by"]) == ("acknowledged", "approved by the CFO",
                                                                                  "anita")
    assert acked["triage_at_ist"] and {r["triage_status"] for r in rows} == {"open", "acknowledged"}


def test_xlsx_export_streams(tmp_path):
    import tracemalloc
    con = store.connect(str(tmp_path / "big.duckdb"))
    export(con, "events", "xlsx", tmp_path / "warm-up.xlsx")  # first use imports openpyxl's modules
    con.execute("insert into events (event_id, kind, gstin, asp_name, occurred_at, channel, imported_at) "
                "select 'e' || i, 'token_refreshed', '27AAPFU0939F1ZV', 'Acme', "
                "timestamptz '2026-01-01 00:00+00' + i * interval 1 minute, 'email', now() from range(12000) t(i)")
    tracemalloc.start()
    assert export(con, "events", "xlsx", tmp_path / "big.xlsx") == 12000
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 3 * 1024 * 1024  # the 12,000 rows x 16 columns alone would take about 10 MB
