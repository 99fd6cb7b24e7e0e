"""No false all-clear (issue #30 item 7): a command run in the wrong folder never creates an empty
database and reports nothing found; it says where it looked and how to point at the right one.
Relative paths in a config file are relative to that file, wherever the command runs."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from alertproc.cli import cli
from alertproc.errors import ConfigError
from helpers import SAMPLE


@pytest.mark.parametrize("args", [["detect", "--fail-on", "high"], ["status"], ["findings", "list"], ["reparse"],
                                  ["report", "--week", "2026-W47"], ["sql", "select 1"],
                                  ["export", "findings", "--out", "f.csv"], ["findings", "ack", "3f2a", "--note", "x"],
                                  ["evidence", "--week", "2026-W47", "--out", "p.zip"]])
def test_a_command_in_an_empty_folder_says_where_it_looked(tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ALERTPROC_DB", raising=False)
    monkeypatch.delenv("ALERTPROC_CONFIG", raising=False)
    done = CliRunner().invoke(cli, args)
    assert isinstance(done.exception, ConfigError) and done.exception.exit_code == 2, done.output
    said = str(done.exception)
    assert f"no alertproc database at {tmp_path / 'alertproc.duckdb'}" in said
    assert "--db PATH" in said and "$ALERTPROC_DB" in said
    assert list(tmp_path.iterdir()) == []  # nothing created: no database, no lock, no output


def test_relative_paths_in_a_config_file_are_relative_to_the_file(tmp_path, monkeypatch):
    config = tmp_path / "etc" / "alertproc.toml"
    config.parent.mkdir()
    config.write_text('db = "data/gst.duckdb"\narchive = "data/archive"\nreport_dir = "reports"\n')
    elsewhere = tmp_path / "cron"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    done = CliRunner().invoke(cli, ["run", "--source", str(SAMPLE / "mail"), "--week", "2026-W47",
                                    "--config", "../etc/alertproc.toml"])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "etc" / "data" / "gst.duckdb").is_file() and (tmp_path / "etc" / "data" / "archive").is_dir()
    assert (tmp_path / "etc" / "reports" / "alertproc-2026-W47.html").is_file()
    assert list(elsewhere.iterdir()) == []
    status = CliRunner().invoke(cli, ["status", "--config", str(config)])
    assert status.exit_code == 0 and "findings:" in status.output, status.output
