"""Dates as Indians write them (issue #30 item 6): every date option, canned-query parameter and
--taken-at reads 31-12-2026, 31/12/2026 and 2026-12-31, day first; anything else is exit 2 with
an example."""

from __future__ import annotations

import sys
from datetime import date, datetime

import pytest
from click.testing import CliRunner

from alertproc.cli import cli, main
from alertproc.errors import ConfigError
from alertproc.period import choose_period, parse_day, parse_moment
from helpers import POLICY_OPTION, SAMPLE


@pytest.mark.parametrize("text", ["31-12-2026", "31/12/2026", "2026-12-31", " 31-12-2026 "])
def test_the_three_ways_of_writing_a_day(text):
    assert parse_day(text) == date(2026, 12, 31)


@pytest.mark.parametrize("text", ["01/02/2026", "1-2-2026"])
def test_the_day_comes_first(text):
    assert parse_day(text) == date(2026, 2, 1)


@pytest.mark.parametrize("text", ["12/31/2026", "2026/12/31", "31-12-26", "31.12.2026", "31-12/2026", "30-02-2026",
                                  "tomorrow", ""])
def test_anything_else_is_refused_with_an_example(text):
    with pytest.raises(ConfigError, match=r"--since '.*' is not a date: write it as 31-12-2026 \(day first\)"):
        parse_day(text, "--since")


def test_a_moment_and_a_period_read_the_same_way():
    assert parse_moment("30-11-2026 10:15") == datetime(2026, 11, 30, 10, 15)
    assert parse_moment("2026-11-30T10:15:05") == datetime(2026, 11, 30, 10, 15, 5)
    with pytest.raises(ConfigError, match="write it as 30-11-2026 10:15"):
        parse_moment("30-11-2026")
    assert choose_period(None, "01-11-2026", "30/11/2026") == choose_period(None, "2026-11-01", "2026-11-30")
    assert choose_period(None, "01-11-2026", "30-11-2026").label == "01-11-2026 to 30-11-2026"


@pytest.fixture
def loaded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    done = runner.invoke(cli, ["run", "--source", str(SAMPLE / "mail"), "--week", "2026-W47", *POLICY_OPTION])
    assert done.exit_code == 0, done.output
    return runner


def test_every_date_option_takes_an_indian_date(loaded, tmp_path):
    report = loaded.invoke(cli, ["report", "--since", "01-11-2026", "--until", "30/11/2026", "--out", "nov.html"])
    assert report.exit_code == 0, report.output
    assert "01-11-2026 to 30-11-2026" in (tmp_path / "nov.html").read_text()
    exported = loaded.invoke(cli, ["export", "events", "--since", "01-11-2026", "--until", "30-11-2026",
                                   "--out", "nov.csv"])
    assert exported.exit_code == 0 and int(exported.output.split()[1]) > 100, exported.output
    finding = loaded.invoke(cli, ["findings", "list", "--format", "csv"]).output.splitlines()[1].split(",")[0]
    suppressed = loaded.invoke(cli, ["findings", "suppress", finding, "--note", "vendor migration",
                                     "--until", "31-12-2026"])
    assert suppressed.exit_code == 0 and "until 2026-12-31" in suppressed.output, suppressed.output
    query = loaded.invoke(cli, ["sql", "-q", "asp-activity", "-p", "gstin=27AAPFU0939F1ZV", "-p", "since=01-11-2026",
                                "-p", "until=30/11/2026", "--format", "csv"])
    assert query.exit_code == 0 and query.output.count("\n") > 1, query.output
    tokens = loaded.invoke(cli, ["import", "tokens", str(SAMPLE / "active-tokens.csv"), "--taken-at", "30-11-2026 10:15"])
    assert tokens.exit_code == 0 and "as of 30-11-2026 10:15 IST (from --taken-at)" in tokens.output, tokens.output


@pytest.mark.parametrize("args", [["report", "--since", "11/30/2026", "--until", "30-11-2026"],
                                  ["export", "events", "--since", "2026/11/01", "--until", "30-11-2026", "--out", "x.csv"],
                                  ["sql", "-q", "asp-activity", "-p", "gstin=27AAPFU0939F1ZV", "-p", "since=11/30/2026",
                                   "-p", "until=30-11-2026"],
                                  ["import", "tokens", str(SAMPLE / "active-tokens.csv"), "--taken-at", "30-11-2026"]])
def test_a_date_written_otherwise_is_exit_2_with_an_example(loaded, args, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["alertproc", *args])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 2
    said = capsys.readouterr().err
    assert "is not a date" in said and ("31-12-2026 (day first)" in said or "30-11-2026 10:15 (day first)" in said), said
