"""`alertproc sql --out` can never write code or configuration (issue #28 item 3)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from helpers import ROOT, SAMPLE


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    work = tmp_path_factory.mktemp("sqlout")
    (work / "rules" / "formats").mkdir(parents=True)
    (work / "rules" / "policy.yaml").write_text((ROOT / "rules" / "policy.yaml").read_text())
    (work / "alertproc.toml").write_text('[alertproc]\npolicy = "rules/policy.yaml"\n')
    done = run(work, "run", "--source", str(SAMPLE / "mail"), "--week", "2026-W47")
    assert done.returncode in (0, 3), done.stderr
    return work


def run(work, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTPROC_")}
    return subprocess.run([sys.executable, "-m", "alertproc", *args], cwd=work, capture_output=True, text=True, env=env)


RULE = 'select 1 as "x\nwhere false; delete from events; --" where false'


@pytest.mark.parametrize("target", ["rules/zz.sql", "rules/formats/zz.yaml", "rules/policy.yaml", "alertproc.toml",
                                    "rules/zz.csv", "notes.sql", "run.sh", "evil.py"])
def test_a_query_result_never_becomes_code_or_config(work, target):
    before = (work / target).read_bytes() if (work / target).exists() else None
    done = run(work, "sql", "--format", "csv", "--out", target, RULE)
    assert done.returncode == 2, done.stderr
    assert ((work / target).read_bytes() if (work / target).exists() else None) == before
    assert run(work, "detect").returncode in (0, 3)
    assert run(work, "sql", "select count(*) as n from events").stdout.split()[-1] != "0"


def test_column_names_are_neutralised_like_values(work):
    done = run(work, "sql", "--format", "csv", "--out", "out.csv", 'select 1 as "=HYPERLINK(""http://x"")"')
    assert done.returncode == 0, done.stderr
    assert (work / "out.csv").read_text().splitlines()[0].startswith("\"'=HYPERLINK")


def test_a_query_result_as_xlsx_is_a_file_neutralised_like_the_exports(work):
    from openpyxl import load_workbook
    done = run(work, "sql", "--query", "weekly-trend", "--format", "xlsx", "--out", "trend.xlsx")
    assert done.returncode == 0, done.stderr
    rows = list(load_workbook(work / "trend.xlsx", read_only=True).active.iter_rows(values_only=True))
    assert "refreshes" in rows[0] and len(rows) > 1
    done = run(work, "sql", "--format", "xlsx", "--out", "evil.xlsx", "select '=cmd|calc' as \"+x\"")
    assert done.returncode == 0, done.stderr
    assert list(load_workbook(work / "evil.xlsx", read_only=True).active.iter_rows(values_only=True)) == [
        ("'+x",), ("'=cmd|calc",)]
    to_screen = run(work, "sql", "--format", "xlsx", "select 1")
    assert to_screen.returncode == 2 and "--out" in to_screen.stderr
    wrong_name = run(work, "sql", "--format", "xlsx", "--out", "trend.csv", "select 1")
    assert wrong_name.returncode == 2 and ".xlsx" in wrong_name.stderr
