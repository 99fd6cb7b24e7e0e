"""The operations doc's example files: the ones documented, with the keys that make them work."""

import configparser
import shutil
import subprocess

import pytest

from alertproc.cli import EXIT_FINDINGS, EXIT_LOCKED, EXIT_USAGE
from helpers import ROOT

SYSTEMD = ROOT / "docs" / "systemd"
DOC = (ROOT / "docs" / "operations.md").read_text()


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(SYSTEMD / name)
    return parser


def test_every_example_file_is_the_one_the_doc_names():
    for path in SYSTEMD.iterdir():
        assert f"(systemd/{path.name})" in DOC, path.name
    for line in (SYSTEMD / "crontab").read_text().splitlines():
        if not line.startswith("#"):
            assert line in DOC


def test_scheduled_service_and_timer():
    service, timer = unit("alertproc.service"), unit("alertproc.timer")
    assert service["Service"]["Type"] == "oneshot"
    assert service["Service"]["ExecStart"].split()[1:3] == ["run", "--fail-on"]
    assert set(service["Service"]["SuccessExitStatus"].split()) == {str(EXIT_FINDINGS), str(EXIT_LOCKED)}
    assert timer["Timer"]["OnCalendar"] and timer["Timer"]["Persistent"] == "true"
    assert timer["Install"]["WantedBy"] == "timers.target"


def test_watch_service():
    service = unit("alertproc-watch.service")
    assert service["Service"]["ExecStart"].endswith("alertproc watch")
    assert service["Service"]["KillSignal"] == "SIGTERM" and service["Service"]["Restart"] == "on-failure"
    assert service["Install"]["WantedBy"] == "multi-user.target"


def test_exit_code_table_matches_the_code():
    for code in (0, 1, EXIT_USAGE, EXIT_FINDINGS, EXIT_LOCKED):
        assert f"| {code} |" in DOC


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_units_verify():
    done = subprocess.run(["systemd-analyze", "verify", *[str(p) for p in SYSTEMD.glob("*.service")]],
                          capture_output=True, text=True)
    assert "Unknown key" not in done.stderr and "Unknown section" not in done.stderr, done.stderr
