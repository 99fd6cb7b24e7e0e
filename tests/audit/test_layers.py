"""Shipped rules and formats first, the user's over them: merged by id, never replaced wholesale."""

from __future__ import annotations

import json
import shutil

from helpers import ROOT, SAMPLE, run_alertproc

SAMPLE_ARGS = ("--source", str(SAMPLE / "mail"), "--sms", str(SAMPLE / "sms-backup.xml"),
               "--access-log", str(SAMPLE / "access-log.csv"), "--tokens", str(SAMPLE / "active-tokens.csv"),
               "--week", "2026-W47", "--json")
SHIPPED_RULES = sorted(p.stem for p in (ROOT / "rules").glob("*.sql"))


def test_one_user_format_adds_to_the_shipped_ones(tmp_path):
    (tmp_path / "rules" / "formats").mkdir(parents=True)
    shutil.copy(ROOT / "rules" / "formats" / "email_otp_sent.yaml", tmp_path / "rules" / "formats" / "mine.yaml")
    text = (tmp_path / "rules" / "formats" / "mine.yaml").read_text().replace("id: email_otp_sent", "id: mine")
    (tmp_path / "rules" / "formats" / "mine.yaml").write_text(text)
    listed = run_alertproc("formats", "list", cwd=tmp_path)
    assert listed.returncode == 0 and listed.stdout.count("(shipped)") == 9 and "mine " in listed.stdout
    done = run_alertproc("run", *SAMPLE_ARGS, "--policy", str(ROOT / "rules" / "policy.yaml"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(json.loads(done.stdout)["findings"]["by_rule"]) == SHIPPED_RULES
    assert run_alertproc("rules", "list", cwd=tmp_path).stdout.count("(shipped)") == len(SHIPPED_RULES)


def test_a_user_file_with_a_shipped_id_overrides_it_and_says_so(tmp_path):
    (tmp_path / "rules").mkdir()
    rule = (ROOT / "rules" / "refresh_burst.sql").read_text().replace("-- severity: medium", "-- severity: high")
    (tmp_path / "rules" / "refresh_burst.sql").write_text(rule)
    listed = run_alertproc("rules", "list", cwd=tmp_path).stdout
    line = next(line for line in listed.splitlines() if line.startswith("refresh_burst"))
    assert "high" in line and "overrides shipped refresh_burst.sql" in line
    assert listed.count("(shipped)") == len(SHIPPED_RULES) - 1


def test_disabled_rules_and_formats_are_off_and_none_left_is_an_error(tmp_path):
    (tmp_path / "alertproc.toml").write_text('disabled_rules = ["refresh_burst"]\ndisabled_formats = ["sms_otp_sent"]\n')
    assert "refresh_burst" not in run_alertproc("rules", "list", cwd=tmp_path).stdout
    assert "sms_otp_sent" not in run_alertproc("formats", "list", cwd=tmp_path).stdout
    every = ", ".join(f'"{p.stem}"' for p in (ROOT / "rules" / "formats").glob("email_*.yaml"))
    (tmp_path / "alertproc.toml").write_text(f"disabled_formats = [{every}]\n")
    done = run_alertproc("run", *SAMPLE_ARGS, cwd=tmp_path)
    assert done.returncode == 2 and "no e-mail alert formats loaded" in done.stderr
    assert not (tmp_path / "alertproc.duckdb").exists()  # checked before any work


def test_without_a_policy_mail_is_loaded_and_the_approval_rules_are_skipped(tmp_path):
    done = run_alertproc("run", *SAMPLE_ARGS[:-1], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert ("skipped asp_went_quiet, consent_expiring, gstin_silent, token_without_alerts, unexpected_asp, unknown_gstin: "
            "approvals were not checked"
            in done.stdout)
    assert "approvals were not checked" in (tmp_path / "reports" / "out" / "alertproc-2026-W47.html").read_text().lower()
    count = run_alertproc("sql", "select count(*) as n from findings where rule_id = 'unexpected_asp'", "--format", "csv",
                      cwd=tmp_path)
    assert count.stdout.split() == ["n", "0"]
    named = run_alertproc("run", *SAMPLE_ARGS, "--policy", "missing.yaml", cwd=tmp_path)
    assert named.returncode == 2 and "missing.yaml: policy file not found" in named.stderr


def test_report_templates_can_be_overridden_from_a_user_folder(tmp_path):
    (tmp_path / "reports" / "templates").mkdir(parents=True)
    css = (ROOT / "reports" / "templates" / "report.css").read_text() + "\n/* house style */\n"
    (tmp_path / "reports" / "templates" / "report.css").write_text(css)
    assert run_alertproc("run", *SAMPLE_ARGS, cwd=tmp_path).returncode == 0
    assert "/* house style */" in (tmp_path / "reports" / "out" / "alertproc-2026-W47.html").read_text()


def test_every_config_section_is_checked_before_any_work(tmp_path):
    """A mistake in [imap] stops even a run that imports local files, before anything is written."""
    (tmp_path / "alertproc.toml").write_text('[imap]\nhost = "imap.example.com"\nusername = "a"\n'
                                             'password_env = "P"\nbatch_size = "many"\n')
    done = run_alertproc("run", *SAMPLE_ARGS, cwd=tmp_path)
    assert done.returncode == 2 and "[imap]: 'batch_size' must be a whole number" in done.stderr
    assert not (tmp_path / "alertproc.duckdb").exists()


def test_a_rules_folder_that_does_not_exist_is_an_error_not_nothing(tmp_path):
    done = run_alertproc("rules", "list", "--rules", "no-such-folder", cwd=tmp_path)
    assert done.returncode == 2 and "--rules / rules: folder no-such-folder not found" in done.stderr
    (tmp_path / "alertproc.toml").write_text('formats_dirs = ["typo"]\n')
    done = run_alertproc("formats", "list", cwd=tmp_path)
    assert done.returncode == 2 and f"formats_dirs: folder {tmp_path / 'typo'} not found" in done.stderr


def test_formats_rules_and_queries_share_one_loader_and_one_error_policy(tmp_path):
    """The same mistakes read the same for every kind (alertproc.layered): two files with one id in
    a folder, a disabled id that names nothing; formats and queries then refuse, rules report."""
    import pytest

    from alertproc.audit.canned import load_queries
    from alertproc.audit.rules import load_rules
    from alertproc.errors import ConfigError
    from alertproc.reading.formats import load_formats

    kinds = {"formats": ROOT / "rules" / "formats" / "email_otp_sent.yaml", "rules": ROOT / "rules" / "consent_expiring.sql",
             "queries": ROOT / "rules" / "queries" / "asp-activity.sql"}
    for name, shipped in kinds.items():
        (tmp_path / name).mkdir()
        for copy in ("a", "b"):
            shutil.copy(shipped, tmp_path / name / f"{copy}{shipped.suffix}")
    with pytest.raises(ConfigError, match=r"b\.yaml:1: alert format 'email_otp_sent' is also in .*a\.yaml") as formats:
        load_formats(tmp_path / "formats", disabled=("nothing",))
    assert "disabled_formats: 'nothing' names no loaded alert format" in str(formats.value)
    rules, problems = load_rules(tmp_path / "rules", disabled=("nothing",))
    assert [r.id for r in rules] == ["consent_expiring"] and len(problems) == 2
    assert "b.sql:1: rule 'consent_expiring' is also in" in problems[0]
    assert problems[1] == "disabled_rules: 'nothing' names no loaded rule"
    with pytest.raises(ConfigError, match=r"b\.sql:1: canned query 'asp-activity' is also in .*a\.sql"):
        load_queries(tmp_path / "queries")
