"""The command line: help everywhere, the main job, exit codes for cron, read-only SQL."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from alertproc.cli import cli
from helpers import POLICY_OPTION, SAMPLE, run_alertproc


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """An empty working directory, as a new user has; shipped rules come from the package."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ALERTPROC_DB", raising=False)
    monkeypatch.delenv("ALERTPROC_CONFIG", raising=False)
    return tmp_path




def commands(group=cli, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name)
        if hasattr(command, "commands"):
            yield from commands(command, (*prefix, name))


@pytest.mark.parametrize("command", list(commands()))
def test_every_command_has_help_with_an_example(command):
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0 and "Example:" in result.output and "Usage:" in result.output


def test_run_on_the_sample_twice_gives_the_same_counts(workdir):
    runner = CliRunner()
    first = runner.invoke(cli, ["run", "--source", str(SAMPLE), "--week", "2026-W47", *POLICY_OPTION])
    assert first.exit_code == 0, first.output
    assert "unexpected_asp: 1" in first.output and "refresh_after_revocation: 1" in first.output
    assert "386 seen, 385 new" in first.output
    assert (workdir / "reports" / "out" / "alertproc-2026-W47.html").is_file()
    assert any((workdir / "archive").rglob("*.eml"))
    second = runner.invoke(cli, ["run", "--source", str(SAMPLE), "--week", "2026-W47", *POLICY_OPTION])
    assert "0 new, 386 already imported" in second.output
    assert first.output.split("findings:")[1] == second.output.split("findings:")[1]


def test_json_summary_and_sql_formats(workdir):
    runner = CliRunner()
    out = runner.invoke(cli, ["run", "--source", str(SAMPLE), "--json", *POLICY_OPTION]).output
    summary = json.loads(out)
    assert summary["imported"]["new"] == 385 and summary["findings"]["by_rule"]["unexpected_asp"] == 1
    query = "select rule_id, count(*) as n from findings group by 1 order by 1"
    rows = json.loads(runner.invoke(cli, ["sql", "--format", "json", query]).output)
    assert {"rule_id": "refresh_after_revocation", "n": 1} in rows and {"rule_id": "unexpected_asp", "n": 1} in rows
    assert rows == [{"rule_id": k, "n": v} for k, v in sorted(summary["findings"]["by_rule"].items())]
    assert runner.invoke(cli, ["sql", "--format", "csv", query]).output.splitlines()[0] == "rule_id,n"
    assert "refresh_after_revocation" in runner.invoke(cli, ["sql", query]).output


def test_sql_is_read_only_and_bad_sql_is_one_line(workdir):
    run_alertproc("run", "--source", str(SAMPLE), *POLICY_OPTION, cwd=workdir)
    done = run_alertproc("sql", "delete from findings", cwd=workdir)
    assert done.returncode == 1 and "read-only" in done.stderr and "Traceback" not in done.stderr
    done = run_alertproc("sql", "selec 1", cwd=workdir)
    assert done.returncode == 1 and done.stderr.startswith("alertproc: error: Parser Error: syntax error")
    assert "LINE 1: selec 1" in done.stderr and "Traceback" not in done.stderr
    summary = run_alertproc("run", "--source", str(SAMPLE), "--json", *POLICY_OPTION, cwd=workdir).stdout
    total = json.loads(summary)["findings"]["total"]
    assert run_alertproc("sql", "select count(*) from findings", cwd=workdir).stdout.split()[-1] == str(total)


def test_sql_without_a_database_says_what_to_do(workdir):
    done = run_alertproc("sql", "select 1", cwd=workdir)
    assert done.returncode == 2 and "alertproc run" in done.stderr and "--db PATH" in done.stderr
    assert list(workdir.iterdir()) == []


def test_bad_policy_exits_2_with_one_line(workdir):
    (workdir / "p.yaml").write_text("gstins:\n  - gstin: 27AAPFU0939F1ZX\n")
    done = run_alertproc("run", "--source", str(SAMPLE), "--policy", "p.yaml", cwd=workdir)
    assert done.returncode == 2 and "p.yaml:2" in done.stderr and "Traceback" not in done.stderr


def test_usage_error_exits_2(workdir):
    assert run_alertproc("report", "--week", "soon", cwd=workdir).returncode == 2
    assert run_alertproc("run", cwd=workdir).returncode == 2


def test_fail_on_gives_exit_3_for_cron(workdir):
    assert run_alertproc("run", "--source", str(SAMPLE), "--fail-on", "high", *POLICY_OPTION, cwd=workdir).returncode == 3
    assert run_alertproc("detect", "--fail-on", "high", *POLICY_OPTION, cwd=workdir).returncode == 3


def test_env_var_chooses_the_database(workdir):
    done = run_alertproc("import", "eml", str(SAMPLE / "mail"), cwd=workdir, env_db=workdir / "x.duckdb")
    assert done.returncode == 0 and (workdir / "x.duckdb").is_file() and not (workdir / "alertproc.duckdb").exists()


def test_a_second_writer_exits_75_without_changes(workdir):
    from alertproc.storage import lock
    with lock.exclusive(str(workdir / "alertproc.duckdb")):
        done = run_alertproc("run", "--source", str(SAMPLE), *POLICY_OPTION, cwd=workdir,
                             env={"ALERTPROC_LOCK_WAIT": "0"})
    assert done.returncode == 75 and "being changed by another alertproc process" in done.stderr
    assert not (workdir / "alertproc.duckdb").exists()


def test_reparse_turns_unparsed_into_events_after_a_new_format(workdir, rules_copy):
    runner = CliRunner()
    args = ["--rules", str(rules_copy), *POLICY_OPTION]
    runner.invoke(cli, ["import", "eml", str(SAMPLE / "mail"), *args])
    (rules_copy / "formats" / "email_token_refreshed_2026b.yaml").write_text(
        "id: email_token_refreshed_2026b\nkind: token_refreshed\nchannel: email\n"
        "subject: '^Authentication token refreshed for your GSTIN'\n"
        "fields:\n  gstin: 'GSTIN\\s+([0-9A-Z]{15})'\n  asp_name: 'renewed by\\s+(.+?)\\s+at\\s'\n"
        "  occurred_at: 'at\\s+(\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2})'\n"
        "required: [gstin, occurred_at, asp_name]\ndate_formats: ['%Y-%m-%dT%H:%M']\n")
    result = runner.invoke(cli, ["reparse", *args])
    assert result.exit_code == 0 and "1 new events" in result.output, result.output
    again = runner.invoke(cli, ["reparse", "--all", *args])
    assert "0 new events" in again.output
    out = runner.invoke(cli, ["sql", "select count(*) as n from events where format_id = 'email_token_refreshed_2026b'"])
    assert out.output.split()[-1] == "1"


def test_rules_list_and_test(workdir, rules_copy):
    runner = CliRunner()
    listed = runner.invoke(cli, ["rules", "list", "--rules", str(rules_copy)])
    assert listed.exit_code == 0 and "refresh_after_revocation  high" in listed.output
    tested = runner.invoke(cli, ["rules", "test", "--rules", str(rules_copy)])
    assert tested.exit_code == 0 and tested.output.strip().endswith(", 0 failed")
    (rules_copy / "mine.sql").write_text("-- id: mine\n-- title: T\n-- severity: severe\n-- description: d\nselect 1")
    broken = runner.invoke(cli, ["rules", "list", "--rules", str(rules_copy)])
    assert broken.exit_code == 2 and "mine.sql:1: severity 'severe'" in broken.output
    (rules_copy / "tests" / "unexpected_asp.yaml").write_text(
        "rule: unexpected_asp\nscenarios:\n  - name: wrong on purpose\n    events:\n"
        "      - {kind: token_refreshed, asp: Nobody, at: '2026-11-01 10:00'}\n    expect: []\n")
    failing = runner.invoke(cli, ["rules", "test", "--rules", str(rules_copy)])
    assert failing.exit_code == 1 and "FAIL unexpected_asp: wrong on purpose" in failing.output


def test_import_sms_and_access_log_commands(workdir):
    runner = CliRunner()
    sms = runner.invoke(cli, ["import", "sms", str(SAMPLE / "sms-backup.xml")])
    assert sms.exit_code == 0 and "31 parsed" in sms.output
    log = runner.invoke(cli, ["import", "access-log", str(SAMPLE / "access-log.csv")])
    assert log.exit_code == 0 and "31 new events" in log.output
    (workdir / "bad.csv").write_text("When,Who\n1,2\n")
    done = run_alertproc("import", "access-log", "bad.csv", cwd=workdir)
    assert done.returncode == 2 and "required column(s) missing" in done.stderr and "'When', 'Who'" in done.stderr


def test_verbose_shows_the_traceback_and_keeps_the_exit_code(tmp_path):
    quiet = run_alertproc("detect", "--policy", "missing.yaml", cwd=tmp_path)
    loud = run_alertproc("-v", "detect", "--policy", "missing.yaml", cwd=tmp_path)
    assert quiet.returncode == loud.returncode == 2
    assert "Traceback" in loud.stderr and "Traceback" not in quiet.stderr
    assert "missing.yaml: policy file not found" in loud.stderr


def test_a_reader_that_stops_reading_is_no_error(workdir):
    """`alertproc sql ... | head -1`: the pipe closes under a long answer; exit 0 and nothing on stderr
    (it was exit 1, silently)."""
    assert run_alertproc("run", "--source", str(SAMPLE / "mail"), "--week", "2026-W47", cwd=workdir).returncode == 0
    process = subprocess.Popen([sys.executable, "-m", "alertproc", "sql", "select range, repeat('x', 100) as pad "
                                "from range(200000)"], cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={"PATH": "/usr/bin:/bin", "HOME": str(workdir)})
    assert process.stdout.readline().split() == [b"range", b"pad"]
    process.stdout.close()  # as head does after its lines
    assert process.wait(timeout=120) == 0
    assert process.stderr.read() == b""
