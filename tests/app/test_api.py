"""The Python API (`alertproc.open`) on its own, fast: what docs/api.md promises a notebook.

It was tested only inside the slow wheel test (issue #29). Each call here goes to a real
DuckDB file under tmp_path with the shipped rules and the sample's mail and exports."""

from __future__ import annotations

import zipfile

import duckdb
import pytest

import alertproc
from alertproc.errors import ConfigError
from helpers import ROOT, SAMPLE


@pytest.fixture
def app(tmp_path):
    with alertproc.open(tmp_path / "a.duckdb", archive=str(tmp_path / "archive"), report_dir=str(tmp_path / "out"),
                        policy=str(ROOT / "rules" / "policy.yaml")) as opened:
        yield opened


def loaded(app):
    stats = app.import_mail(SAMPLE / "mail", "eml")
    app.import_sms(SAMPLE / "sms-backup.xml")
    app.import_access_log(SAMPLE / "access-log.csv")
    app.import_tokens(SAMPLE / "active-tokens.csv")
    return stats


def test_import_detect_report_and_read_back(app, tmp_path):
    stats = loaded(app)
    assert stats.seen == 386 and stats.parsed > 300
    found = app.detect()
    rules = {row[0] for row in app.sql("select distinct rule_id from findings").fetchall()}
    assert found.total == app.sql("select count(*) from findings").fetchall()[0][0] and len(rules) == 13
    report = app.report(week="2026-W47")
    assert report.is_file() and report.parent == tmp_path / "out" and "<html" in report.read_text()[:500].lower()
    frame = app.sql("select rule_id, count(*) as n from findings where gstin = $g group by 1",
                    {"g": "27AAPFU0939F1ZV"}).df()
    assert list(frame.columns) == ["rule_id", "n"] and frame.n.sum() > 0


def test_triage_is_recorded_and_findings_filter_by_state(app):
    loaded(app)
    app.detect()
    first = app.findings("open")[0]
    entry = app.triage(first["finding_id"], "acknowledged", note="vendor confirmed", by="auditor")
    assert entry["action"] == "acknowledged" and entry["note"] == "vendor confirmed"
    assert first["finding_id"] in {f["finding_id"] for f in app.findings("acknowledged")}
    assert first["finding_id"] not in {f["finding_id"] for f in app.findings("open")}
    app.detect()  # triage survives a new detect
    assert first["finding_id"] in {f["finding_id"] for f in app.findings("acknowledged")}


def test_an_evidence_pack_of_one_finding_checks_itself(app, tmp_path):
    loaded(app)
    app.detect()
    finding = app.findings("open")[0]["finding_id"]
    pack = app.evidence(tmp_path / "pack.zip", finding=finding)
    with zipfile.ZipFile(tmp_path / "pack.zip") as archive:
        names = archive.namelist()
    assert "SHA256SUMS" in names and "findings.csv" in names and pack is not None


def test_reading_never_writes_and_a_missing_database_is_named(app, tmp_path):
    loaded(app)
    for query in ("delete from events", f"copy (select 1) to '{tmp_path / 'x.csv'}'"):
        with pytest.raises(duckdb.Error):  # read-only; no file access in the sandbox
            app.sql(query).fetchall()
    assert not (tmp_path / "x.csv").exists()
    with pytest.raises(ConfigError, match=f"no alertproc database at {tmp_path / 'none.duckdb'}: point at yours"):
        alertproc.open(tmp_path / "none.duckdb").sql("select 1")
    assert not (tmp_path / "none.duckdb").exists()


def test_bad_settings_are_refused_when_opened(tmp_path):
    with pytest.raises(ConfigError):
        alertproc.open(tmp_path / "a.duckdb", policy=str(tmp_path / "no-such-policy.yaml"))
