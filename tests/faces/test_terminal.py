"""Data never drives the terminal (issue #28 item 9): control sequences in an ASP name, a subject
or a note are shown, not obeyed, in every human-readable output; CSV and JSON stay exact."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from alertproc.storage import store
from helpers import ROOT, SAMPLE

EVIL = "Acme\x1b[2J\x1b[32m all clear\x1b]8;;http://evil.example\x07link\x1b]8;;\x07\x1b]0;title\x07\x9b31m\r"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    work = tmp_path_factory.mktemp("terminal")
    done = subprocess.run([sys.executable, "-m", "alertproc", "run", "--source", str(SAMPLE / "mail"), "--week", "2026-W47",
                           "--policy", str(ROOT / "rules" / "policy.yaml")], cwd=work, capture_output=True, text=True,
                          env={**os.environ, "ALERTPROC_DB": str(work / "alertproc.duckdb")})
    assert done.returncode in (0, 3), done.stderr
    con = store.connect(str(work / "alertproc.duckdb"))
    con.execute("update findings set title = ? where finding_id = (select min(finding_id) from findings)", [EVIL])
    con.execute("update events set asp_name = ? where event_id = (select min(event_id) from events)", [EVIL])
    con.execute("update messages set subject = ? where parse_status = 'unparsed'", [EVIL])
    con.close()
    return work


def cli(workdir, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "alertproc", *args], cwd=workdir, capture_output=True,
                          env={**os.environ, "ALERTPROC_DB": str(workdir / "alertproc.duckdb")})
    assert done.returncode == 0, done.stderr
    return done.stdout.decode("utf-8")


@pytest.mark.parametrize("args", [("findings", "list", "--status", "all"), ("status",),
                                  ("sql", "select title from findings"), ("sql", "select asp_name from events"),
                                  ("sql", "--format", "markdown", "select subject from messages")],
                         ids=["findings-list", "status", "sql-table", "sql-asp", "sql-markdown"])
def test_human_output_shows_control_characters_instead_of_obeying_them(workdir, args):
    out = cli(workdir, *args)
    assert not any(ord(c) < 32 and c not in "\n\t" or 0x7f <= ord(c) <= 0x9f for c in out), repr(out[:300])
    assert "\\x1b[2J" in out or "\\x1b" in out


def test_csv_and_json_stay_exact(workdir):
    rows = json.loads(cli(workdir, "sql", "--format", "json", "select title from findings where title like 'Acme%'"))
    assert rows == [{"title": EVIL}]
    listed = json.loads(cli(workdir, "findings", "list", "--status", "all", "--format", "json"))
    assert EVIL in [row["title"] for row in listed]
