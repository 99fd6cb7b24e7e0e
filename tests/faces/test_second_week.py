"""The smaller things a finance user met in their second week (#30 item 10): init's example
policy, the doctor, -v and shared options on either side of the command, the sql prompt,
acknowledging twice, the token list's time, policy errors at the right line, status in IST."""

from __future__ import annotations

import builtins

import pytest
from click.testing import CliRunner

import alertproc
from alertproc.cli import cli
from alertproc.cli.data import repl
from alertproc.errors import ConfigError
from helpers import POLICY, POLICY_OPTION, SAMPLE, run_alertproc


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("ALERTPROC_DB", "ALERTPROC_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
def loaded(workdir):
    done = CliRunner().invoke(cli, ["run", "--source", str(SAMPLE / "mail"), "--tokens",
                                    str(SAMPLE / "active-tokens.csv"), "--week", "2026-W47", *POLICY_OPTION])
    assert done.exit_code == 0, done.output
    return workdir


def test_init_marks_its_example_policy_says_what_next_and_the_example_checks_no_approvals(workdir):
    done = CliRunner().invoke(cli, ["init"])
    assert done.exit_code == 0 and "next steps:" in done.output and "example: true" in done.output
    assert (workdir / "rules" / "policy.yaml").read_text().startswith("example: true")
    doctor = CliRunner().invoke(cli, ["doctor"])
    assert "warn policy: approvals were not checked: rules/policy.yaml is still the example" in doctor.output
    assert "FAIL policy" not in doctor.output
    (workdir / "alertproc.toml").unlink()  # no [imap]: import a folder instead
    run = CliRunner().invoke(cli, ["run", "--source", str(SAMPLE / "mail"), "--week", "2026-W47"])
    assert run.exit_code == 0, run.output
    assert "unknown_gstin" in run.output.split("skipped", 1)[1]  # approval rules skipped, with the reason
    report = (workdir / "reports" / "out" / "alertproc-2026-W47.html").read_text()
    assert "is still the example" in report
    # The user makes it theirs: the approval rules run.
    policy = workdir / "rules" / "policy.yaml"
    policy.write_text("\n".join(policy.read_text().splitlines()[2:]) + "\n")
    again = CliRunner().invoke(cli, ["detect"])
    assert again.exit_code == 0 and "skipped" not in again.output and "unknown_gstin" in again.output


def test_the_doctor_warns_but_does_not_fail_without_the_optional_policy(workdir):
    done = CliRunner().invoke(cli, ["doctor"])
    assert "warn policy: approvals were not checked: there is no policy file" in done.output
    assert done.exit_code == 0, done.output  # nothing else is configured that could fail


def test_verbose_and_shared_options_work_before_and_after_the_command(loaded):
    after = run_alertproc("run", "-v", "--source", str(SAMPLE / "mail"), "--week", "2026-W47", *POLICY_OPTION,
                          cwd=loaded)
    assert after.returncode == 0 and "INFO" in after.stderr and "report written" in after.stderr
    before = run_alertproc("-v", "status", cwd=loaded)
    assert before.returncode == 0 and "INFO" not in before.stdout
    elsewhere = loaded / "elsewhere"
    elsewhere.mkdir()
    config = loaded / "site.toml"
    config.write_text(f'[alertproc]\ndb = "{loaded / "alertproc.duckdb"}"\n')
    for args in (["--config", str(config), "status"], ["status", "--config", str(config)],
                 ["--db", str(loaded / "alertproc.duckdb"), "findings", "list"]):
        done = run_alertproc(*args, cwd=elsewhere)
        assert done.returncode == 0, (args, done.stderr)


def test_status_says_when_in_ist_and_names_each_asp_once(loaded):
    done = CliRunner().invoke(cli, ["status"])
    assert done.exit_code == 0
    runs = done.output.split("last runs:")[1].split("mailboxes:")[0]
    assert " IST" in runs and "+00:00" not in runs
    names = [line.split()[1:4] for line in done.output.split("(IST):")[1].splitlines() if line.startswith("  ")]
    assert ["Acme", "TaxCloud", "22-11-2026"] not in names and ["Acme", "Tax", "Cloud"] in names


def test_the_sql_prompt_knows_its_commands_survives_ctrl_c_and_shows_null(loaded, monkeypatch, capsys):
    lines = iter(["help", ".tables", ".schema asp_names", "select 1 as a, null as b, sum(2) as c;",
                  "select 'dropped'", KeyboardInterrupt, "select 'after' as x;", ".quit", "select 'never';"])

    def typed(prompt=""):
        line = next(lines)
        if line is KeyboardInterrupt:
            raise KeyboardInterrupt
        return line

    monkeypatch.setattr(builtins, "input", typed)
    with alertproc.open(loaded / "alertproc.duckdb", policy=POLICY) as app:
        repl(app, "table", allow_files=False)  # what `alertproc sql` runs on a terminal
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert ".schema NAME" in out and "unique_events" in out and "pair_key" in out
    assert "NULL" in out and "NaN" not in out and "None" not in out and "2.0" not in out
    assert "statement dropped" in out and "dropped\n" not in out.split("statement dropped")[1]
    assert "after" in out and "never" not in out


def test_acknowledging_twice_is_refused_and_keeps_the_first_note(loaded):
    with alertproc.open(loaded / "alertproc.duckdb", policy=POLICY) as app:
        finding = app.findings("open")[0]["finding_id"]
    first = CliRunner().invoke(cli, ["findings", "ack", finding, "--note", "approved by the CFO", "--by", "anita"])
    second = CliRunner().invoke(cli, ["findings", "ack", finding, "--note", "oops", "--by", "ravi"])
    assert first.exit_code == 0 and isinstance(second.exception, ConfigError)  # exit 2 from the CLI
    assert "acknowledged already, by anita" in str(second.exception) and "findings reopen" in str(second.exception)
    with alertproc.open(loaded / "alertproc.duckdb", policy=POLICY) as app:
        [acked] = app.findings("acknowledged")
        listed = app.query("findings-by-severity", {"severity": "info"}).df()
    assert acked["triage_note"] == "approved by the CFO"
    assert len(listed) and set(listed.triage_status) == {"open"}  # the canned query lists what needs someone


def test_a_token_import_reports_the_lists_own_taken_at_time(loaded):
    done = CliRunner().invoke(cli, ["import", "tokens", str(SAMPLE / "active-tokens.csv")])
    assert done.exit_code == 0
    assert "as of 22-11-2026 22:00 IST (from its Taken At column)" in done.output


POLICY_MISTAKES = """\
gstins:
  - 27AAPFU0939F1ZV
  - 29AAPFU0939F1ZX
approved_asps:
  - asp: Acme
    gstins: ["*"]
  - asp: Other
    gstins:
      - 27AAPFU0939F1ZV
      - 27AAPFU0939F1ZQ
thresholds:
  refresh_burst: fast
"""


def test_policy_errors_point_at_the_line_of_the_mistake_once(loaded):
    (loaded / "p.yaml").write_text(POLICY_MISTAKES)
    done = CliRunner().invoke(cli, ["detect", "--policy", "p.yaml"])
    assert isinstance(done.exception, ConfigError)  # exit 2 from the CLI
    problems = [line.strip() for line in str(done.exception).splitlines() if line.startswith("  ")]
    assert problems == ["p.yaml:3: '29AAPFU0939F1ZX' is not a valid GSTIN (check character)",
                        "p.yaml:10: '27AAPFU0939F1ZQ' is not a valid GSTIN",
                        "p.yaml:12: thresholds.refresh_burst is a mapping of window and count, e.g. "
                        "{window: 6h, count: 12}"]
