"""Shipped rules and formats first, the user's over them: merged by id, never replaced wholesale."""

from __future__ import annotations

import json
import shutil

from conftest import ROOT, SAMPLE
from test_cli import alertproc

SAMPLE_ARGS = ("--source", str(SAMPLE / "mail"), "--sms", str(SAMPLE / "sms-backup.xml"),
               "--access-log", str(SAMPLE / "access-log.csv"), "--tokens", str(SAMPLE / "active-tokens.csv"),
               "--week", "2026-W47", "--json")
SHIPPED_RULES = sorted(p.stem for p in (ROOT / "rules").glob("*.sql"))


def test_one_user_format_adds_to_the_shipped_ones(tmp_path):
    (tmp_path / "rules" / "formats").mkdir(parents=True)
    shutil.copy(ROOT / "rules" / "formats" / "email_otp_sent.yaml", tmp_path / "rules" / "formats" / "mine.yaml")
    text = (tmp_path / "rules" / "formats" / "mine.yaml").read_text().replace("id: email_otp_sent", "id: mine")
    (tmp_path / "rules" / "formats" / "mine.yaml").write_text(text)
    listed = alertproc("formats", "list", cwd=tmp_path)
    assert listed.returncode == 0 and listed.stdout.count("(shipped)") == 9 and "mine " in listed.stdout
    done = alertproc("run", *SAMPLE_ARGS, "--policy", str(ROOT / "rules" / "policy.yaml"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(json.loads(done.stdout)["findings"]["by_rule"]) == SHIPPED_RULES
    assert alertproc("rules", "list", cwd=tmp_path).stdout.count("(shipped)") == len(SHIPPED_RULES)


def test_a_user_file_with_a_shipped_id_overrides_it_and_says_so(tmp_path):
    (tmp_path / "rules").mkdir()
    rule = (ROOT / "rules" / "refresh_burst.sql").read_text().replace("-- severity: medium", "-- severity: high")
    (tmp_path / "rules" / "refresh_burst.sql").write_text(rule)
    listed = alertproc("rules", "list", cwd=tmp_path).stdout
    line = next(line for line in listed.splitlines() if line.startswith("refresh_burst"))
    assert "high" in line and "overrides shipped refresh_burst.sql" in line
    assert listed.count("(shipped)") == len(SHIPPED_RULES) - 1


def test_disabled_rules_and_formats_are_off_and_none_left_is_an_error(tmp_path):
    (tmp_path / "alertproc.toml").write_text('disabled_rules = ["refresh_burst"]\ndisabled_formats = ["sms_otp_sent"]\n')
    assert "refresh_burst" not in alertproc("rules", "list", cwd=tmp_path).stdout
    assert "sms_otp_sent" not in alertproc("formats", "list", cwd=tmp_path).stdout
    every = ", ".join(f'"{p.stem}"' for p in (ROOT / "rules" / "formats").glob("email_*.yaml"))
    (tmp_path / "alertproc.toml").write_text(f"disabled_formats = [{every}]\n")
    done = alertproc("run", *SAMPLE_ARGS, cwd=tmp_path)
    assert done.returncode == 2 and "no e-mail alert formats loaded" in done.stderr
    assert not (tmp_path / "alertproc.duckdb").exists()  # checked before any work


def test_without_a_policy_mail_is_loaded_and_the_approval_rules_are_skipped(tmp_path):
    done = alertproc("run", *SAMPLE_ARGS[:-1], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert ("skipped consent_expiring, token_without_alerts, unexpected_asp, unknown_gstin: approvals were not checked"
            in done.stdout)
    assert "approvals were not checked" in (tmp_path / "reports" / "out" / "alertproc-2026-W47.html").read_text().lower()
    count = alertproc("sql", "select count(*) as n from findings where rule_id = 'unexpected_asp'", "--format", "csv",
                      cwd=tmp_path)
    assert count.stdout.split() == ["n", "0"]
    named = alertproc("run", *SAMPLE_ARGS, "--policy", "missing.yaml", cwd=tmp_path)
    assert named.returncode == 2 and "missing.yaml: policy file not found" in named.stderr


def test_report_templates_can_be_overridden_from_a_user_folder(tmp_path):
    (tmp_path / "reports" / "templates").mkdir(parents=True)
    css = (ROOT / "reports" / "templates" / "report.css").read_text() + "\n/* house style */\n"
    (tmp_path / "reports" / "templates" / "report.css").write_text(css)
    assert alertproc("run", *SAMPLE_ARGS, cwd=tmp_path).returncode == 0
    assert "/* house style */" in (tmp_path / "reports" / "out" / "alertproc-2026-W47.html").read_text()


def test_every_config_section_is_checked_before_any_work(tmp_path):
    """A mistake in [imap] stops even a run that imports local files, before anything is written."""
    (tmp_path / "alertproc.toml").write_text('[imap]\nhost = "imap.example.com"\nusername = "a"\n'
                                             'password_env = "P"\nbatch_size = "many"\n')
    done = alertproc("run", *SAMPLE_ARGS, cwd=tmp_path)
    assert done.returncode == 2 and "[imap]: 'batch_size' must be a whole number" in done.stderr
    assert not (tmp_path / "alertproc.duckdb").exists()


def test_a_rules_folder_that_does_not_exist_is_an_error_not_nothing(tmp_path):
    done = alertproc("rules", "list", "--rules", "no-such-folder", cwd=tmp_path)
    assert done.returncode == 2 and "--rules / rules: folder no-such-folder not found" in done.stderr
    (tmp_path / "alertproc.toml").write_text('formats_dirs = ["typo"]\n')
    done = alertproc("formats", "list", cwd=tmp_path)
    assert done.returncode == 2 and "formats_dirs: folder typo not found" in done.stderr
