"""Rules run under the sandbox of `alertproc sql`: one SELECT over the database (issue #28 item 4).

Rules load automatically from ./rules and their rows reach reports, webhooks and mail, so a
rule that reads a file, changes data or reaches outside the database is refused where it is
loaded, with its file and line, and the other rules still run.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from alertproc.audit.rules import load_rules
from helpers import ROOT, SAMPLE

HEADER = "-- id: {id}\n-- title: t\n-- severity: high\n-- description: d\n"
COLUMNS = "gstin, asp_name, occurred_at, 'x' as title, {detail} as detail, [event_id] as event_ids"


def rule_file(folder, name, sql):
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.sql").write_text(HEADER.format(id=name) + sql)
    return folder / f"{name}.sql"


HOSTILE = {
    "reads_a_file": (f"select {COLUMNS.format(detail='(select content from read_text($$SECRET$$))')} from refreshes", 5),
    "reads_a_blob": (f"select {COLUMNS.format(detail='(select 1 from read_blob($$SECRET$$))')}\nfrom refreshes", 5),
    "scans_a_file": ("select * from\n'$SECRET.csv'", 6),
    "reads_the_env": (f"select {COLUMNS.format(detail='getenv($$HOME$$)')} from refreshes", 5),
    "two_statements": ("select 1;\ndelete from events", 1),
    "deletes": ("delete from events", 1),
    "copies_out": ("copy (select 1) to 'rules/zz.sql'", 1),
    "attaches": ("attach 'other.duckdb'", 1),
    "installs": ("install httpfs", 1),
    "sets": ("set enable_external_access = true", 1),
    "other_catalog": ("select * from other.main.events", 5),
    "settings": ("select * from duckdb_settings()", 5),
    "runs_text": ("select * from query('select 1')", 5),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_rule_that_leaves_the_database_is_refused_with_file_and_line(tmp_path, name):
    sql, line = HOSTILE[name]
    path = rule_file(tmp_path / "rules", name, sql.replace("$SECRET", str(tmp_path / "secret")))
    rules, problems = load_rules(tmp_path / "rules")
    assert rules == []
    assert problems and problems[0].startswith(f"{path}:{line}: "), problems


def test_the_shipped_rules_and_plain_selects_pass(tmp_path):
    rules, problems = load_rules(ROOT / "rules")
    assert problems == [] and len(rules) == 13
    rule_file(tmp_path / "r", "cte", "with x as (select * from refreshes) select g.* from x, "
              "(select unnest([1, 2]) as n) u, range(3) r, main.events g where n = 1;")
    assert load_rules(tmp_path / "r") == (load_rules(tmp_path / "r")[0], [])
    assert [r.id for r in load_rules(tmp_path / "r")[0]] == ["cte"]


def test_detect_never_puts_a_file_into_a_finding(tmp_path):
    """End to end: a rule in ./rules that read a file into every finding's detail."""
    secret = tmp_path / "secret.txt"
    secret.write_text("root:TOPSECRET\n")
    work = tmp_path / "work"
    (work / "rules" / "formats").mkdir(parents=True)
    (work / "rules" / "policy.yaml").write_text((ROOT / "rules" / "policy.yaml").read_text())
    (work / "alertproc.toml").write_text('[alertproc]\npolicy = "rules/policy.yaml"\n')
    path = rule_file(work / "rules", "leak", f"select {COLUMNS.format(detail=f'(select content from read_text($${secret}$$))')}"
                                               " from refreshes")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTPROC_")}
    done = subprocess.run([sys.executable, "-m", "alertproc", "run", "--source", str(SAMPLE / "mail"), "--week", "2026-W47"],
                          cwd=work, capture_output=True, text=True, env=env)
    assert done.returncode in (0, 3), done.stderr
    assert f"{path.relative_to(work)}:5: table function read_text()" in done.stderr + done.stdout
    leaked = subprocess.run([sys.executable, "-m", "alertproc", "sql", "--format", "csv",
                             "select count(*) from findings where detail like '%TOPSECRET%' or rule_id = 'leak'"],
                            cwd=work, capture_output=True, text=True, env=env)
    assert leaked.returncode == 0 and leaked.stdout.splitlines()[1:] == ["0"], leaked.stdout + leaked.stderr
    reports = list(work.rglob("*.html"))
    assert reports and not any("TOPSECRET" in p.read_text() for p in reports)
