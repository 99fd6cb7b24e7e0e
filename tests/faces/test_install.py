"""The built wheel, installed into a fresh virtual environment, run from an empty folder."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path  # noqa: F401 (types)

import pytest

from helpers import ROOT, SAMPLE

pytestmark = pytest.mark.slow

# Reads the sample's new-template alert ("Token for GSTIN ... renewed by ... at 2026-11-22T14:32 IST"),
# which no shipped format knows.
USER_FORMAT = textwrap.dedent("""\
    id: email_token_renewed_iso
    kind: token_refreshed
    channel: email
    description: a wording with ISO times, written by the user
    subject: '^Authentication token refreshed for your GSTIN\\b'
    body: 'renewed by'
    fields:
      gstin: 'Token for GSTIN ([0-9A-Z]{15})'
      asp_name: 'renewed by (.+?) at \\d'
      occurred_at: 'at (\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2})'
    required: [gstin, occurred_at, asp_name]
    date_formats: ['%Y-%m-%dT%H:%M']
    """)
SHIPPED_RULE_IDS = sorted(p.stem for p in (ROOT / "rules").glob("*.sql"))


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A fresh venv with nothing but the wheel built from this checkout (and its dependencies)."""
    root = tmp_path_factory.mktemp("install")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(root / "dist"), str(ROOT)],
                   check=True, capture_output=True)
    (wheel,) = (root / "dist").glob("alertproc-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True)
    subprocess.run([str(root / "venv" / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(wheel)],
                   check=True, capture_output=True)
    return root / "venv"


def run(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_wheel_runs_init_a_user_format_and_the_sample_job(venv, tmp_path):
    where = run(venv, "python", "-c", "import alertproc; print(alertproc.__file__)", cwd=tmp_path)
    assert where.stdout.startswith(str(venv))  # the installed copy, not this checkout
    assert run(venv, "alertproc", "init", cwd=tmp_path).returncode == 0
    policy = tmp_path / "rules" / "policy.yaml"  # the user makes init's example theirs (here: as it is)
    policy.write_text(policy.read_text().replace("example: true", "example: false", 1))
    (tmp_path / "rules" / "formats").mkdir()
    (tmp_path / "rules" / "formats" / "email_token_renewed_iso.yaml").write_text(USER_FORMAT)
    listed = run(venv, "alertproc", "formats", "list", cwd=tmp_path)
    assert "email_token_renewed_iso" in listed.stdout and listed.stdout.count("(shipped)") == 9
    done = run(venv, "alertproc", "run", "--source", str(SAMPLE / "mail"), "--sms", str(SAMPLE / "sms-backup.xml"),
               "--access-log", str(SAMPLE / "access-log.csv"), "--tokens", str(SAMPLE / "active-tokens.csv"),
               "--week", "2026-W47", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert sorted(summary["findings"]["by_rule"]) == SHIPPED_RULE_IDS
    assert (tmp_path / "reports" / "out" / "alertproc-2026-W47.html").is_file()
    count = run(venv, "alertproc", "sql", "select count(*) as n from events where format_id = 'email_token_renewed_iso'",
                "--format", "csv", cwd=tmp_path)
    assert count.stdout.split() == ["n", "1"], count.stderr


def test_the_wheel_from_python(venv, tmp_path):
    (tmp_path / "rules" / "formats").mkdir(parents=True)
    (tmp_path / "rules" / "formats" / "email_token_renewed_iso.yaml").write_text(USER_FORMAT)
    script = textwrap.dedent(f"""
        import json, alertproc
        with alertproc.open("audit.duckdb", policy={str(ROOT / "rules" / "policy.yaml")!r}) as ap:
            stats = ap.import_mail({str(SAMPLE / "mail")!r})
            ap.import_sms({str(SAMPLE / "sms-backup.xml")!r})
            ap.import_access_log({str(SAMPLE / "access-log.csv")!r})
            ap.import_tokens({str(SAMPLE / "active-tokens.csv")!r})
            found = ap.detect()
            report = ap.report(week="2026-W47")
            frame = ap.sql("select rule_id, count(*) as n from findings group by 1 order by 1").df()
            mine = ap.sql("select count(*) from events where format_id = $f", {{"f": "email_token_renewed_iso"}}).fetchall()
        print(json.dumps({{"parsed": stats.parsed, "rules": list(frame.rule_id), "total": found.total,
                          "mine": mine[0][0], "report": str(report)}}))
        """)
    done = run(venv, "python", "-c", script, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["rules"] == SHIPPED_RULE_IDS and result["mine"] == 1 and result["parsed"] > 300
    assert (tmp_path / result["report"]).is_file()
