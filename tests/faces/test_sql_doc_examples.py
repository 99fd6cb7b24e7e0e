"""Every example of docs/sql.md runs as written (#30 item 8), on the sample: the alertproc
command lines, the duckdb CLI session (in duckdb-cli 1.5.6, the newest on PyPI) and the
pandas snippet. Only installing things (pip) and Harlequin's full-screen UI are left out."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import POLICY_OPTION, ROOT, SAMPLE, run_alertproc
from helpers.local_server import TEST_CACHE

DOC = ROOT / "docs" / "sql.md"
DUCKDB_CLI = TEST_CACHE / "duckdb-readers" / "cli-1.5.6" / "duckdb_cli" / "duckdb"
NOT_RUN = ("pip install", "harlequin ")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


def command_lines() -> list[str]:
    lines = []
    for block in blocks("sh"):
        for line in block.splitlines():
            if line.startswith("alertproc "):
                lines.append(re.sub(r"\s+#.*$", "", line).strip())
    return lines


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sqldoc")
    done = run_alertproc("run", "--source", str(SAMPLE / "mail"), "--sms", str(SAMPLE / "sms-backup.xml"),
                         "--access-log", str(SAMPLE / "access-log.csv"), "--tokens",
                         str(SAMPLE / "active-tokens.csv"), "--week", "2026-W47", *POLICY_OPTION, cwd=folder)
    assert done.returncode == 0, done.stderr
    (folder / "rules").mkdir(exist_ok=True)
    (folder / "rules" / "policy.yaml").write_text((Path(POLICY_OPTION[1])).read_text())  # the default policy path
    return folder


def test_the_doc_has_the_examples_this_test_runs():
    assert len(command_lines()) >= 6 and blocks("python") and any("\nD " in "\n" + b for b in blocks("sh"))


@pytest.mark.parametrize("line", command_lines())
def test_each_alertproc_example_runs(sample, line):
    args = shlex.split(line)[1:]
    done = subprocess.run([sys.executable, "-m", "alertproc", *args], cwd=sample, capture_output=True, text=True,
                          input="select count(*) from refreshes;\n", timeout=120,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(sample)})
    assert done.returncode == 0, done.stderr
    out = re.search(r"--out (\S+)", line)
    if out:
        written = sample / out.group(1)
        assert written.is_file() and written.stat().st_size > 100


def test_the_duckdb_cli_session_runs_in_the_newest_duckdb_cli(sample):
    if not DUCKDB_CLI.is_file():
        pytest.fail(f"{DUCKDB_CLI} is missing: run `bash tests/setup-system.sh` (the README's test command does)")
    [session] = [b for b in blocks("sh") if "\nD " in "\n" + b]
    statements = [re.sub(r"\s+--.*$", "", line[2:]) for line in session.splitlines() if line.startswith("D ")]
    assert statements
    done = subprocess.run([str(DUCKDB_CLI), "-readonly", "alertproc.duckdb", "-c", " ".join(statements)],
                          cwd=sample, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "Error" not in done.stdout + done.stderr, done.stderr
    assert "unexpected_asp" in done.stdout


def test_the_pandas_example_runs(sample):
    [snippet] = blocks("python")
    done = subprocess.run([sys.executable, "-c", snippet + "\nprint(len(df), 'rows')\n"], cwd=sample,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-2]) > 0


def test_no_example_is_left_out_silently():
    """Each line of a shell block is run above, is a duckdb session line, or is one of NOT_RUN."""
    for block in blocks("sh"):
        for line in block.splitlines():
            assert line.startswith(("alertproc ", "D ", "duckdb -readonly", *NOT_RUN)), line
