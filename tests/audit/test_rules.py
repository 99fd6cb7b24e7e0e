"""The rule loader, the engine, and every shipped rule's fixture scenarios."""

from pathlib import Path

import pytest

from alertproc.audit.rules import load_rules, run_rules
from alertproc.audit.rulestest import run_rule_tests
from helpers import ROOT, SAMPLE, Staged, app_of

RULES, PROBLEMS = load_rules(ROOT / "rules")
SCENARIOS = run_rule_tests(RULES, ROOT / "rules" / "tests")


def test_shipped_rules_load_cleanly():
    assert PROBLEMS == []
    assert {"unexpected_asp", "refresh_after_revocation"} <= {r.id for r in RULES}


@pytest.mark.parametrize("result", SCENARIOS, ids=[f"{r.rule_id}: {r.name}" for r in SCENARIOS])
def test_rule_scenario(result):
    assert result.ok, f"{result.where}: {result.message}"


def test_every_rule_has_a_firing_and_a_quiet_scenario():
    import yaml
    for rule in RULES:
        doc = yaml.safe_load((ROOT / "rules" / "tests" / f"{rule.id}.yaml").read_text())
        expects = [bool(s.get("expect")) for s in doc["scenarios"]]
        assert True in expects and False in expects, rule.id


def test_a_wrong_expectation_fails(tmp_path):
    (tmp_path / "t.yaml").write_text(
        "rule: unexpected_asp\nscenarios:\n  - name: wrong\n    events:\n"
        "      - {kind: token_refreshed, asp: Nobody Ltd, at: '2026-11-01 10:00'}\n    expect: []\n")
    (result,) = run_rule_tests(RULES, tmp_path)
    assert not result.ok and "unexpected finding" in result.message


def write_rule(directory: Path, name: str, text: str) -> None:
    (directory / name).write_text(text)


def test_header_problems_name_file_and_line(tmp_path):
    write_rule(tmp_path, "a.sql", "-- id: a\n-- title: A\n-- severity: urgent\n-- description: d\nselect 1")
    write_rule(tmp_path, "b.sql", "-- id: b\nselect 1")
    write_rule(tmp_path, "c.sql", "-- id: a\n-- title: C\n-- severity: low\n-- description: d\nselect 1")
    rules, problems = load_rules(tmp_path)
    assert any("a.sql:1: severity 'urgent'" in p for p in problems)
    assert any("b.sql:1: header is missing '-- title" in p for p in problems)
    assert rules == [] or all(r.id != "a" or r.path.name == "c.sql" for r in rules)


def test_a_broken_user_rule_is_reported_and_the_others_still_run(rules_copy, settings, con):
    write_rule(rules_copy, "zz_broken.sql", "-- id: broken\n-- title: B\n-- severity: low\n-- description: d\n"
                                             "select gstin, asp_name, occurred_at, title\nfrom no_such_table")
    write_rule(rules_copy, "zz_columns.sql", "-- id: columns\n-- title: C\n-- severity: low\n-- description: d\n"
                                              "select 1 as gstin")
    from dataclasses import replace
    settings = replace(settings, rules=str(rules_copy))
    Staged(con, settings).import_mail(SAMPLE / "mail", "eml")
    found = Staged(con, settings).detect()
    assert any("zz_broken.sql" in p and "no_such_table" in p for p in found.problems)
    assert any("zz_columns.sql:1" in p and "event_ids" in p for p in found.problems)
    assert found.by_rule["unexpected_asp"] >= 1 and found.by_rule["refresh_after_revocation"] >= 1


def test_findings_are_stable_across_runs_and_keep_first_detection(settings, con):
    Staged(con, settings).import_mail(SAMPLE / "mail", "eml")
    Staged(con, settings).detect()
    first = con.execute("select finding_id, first_detected_at, event_ids from findings order by 1").fetchall()
    Staged(con, settings).detect()
    assert con.execute("select finding_id, first_detected_at, event_ids from findings order by 1").fetchall() == first


def test_duplicate_rows_from_a_rule_make_one_finding(con, tmp_path):
    write_rule(tmp_path, "d.sql", "-- id: dup\n-- title: D\n-- severity: info\n-- description: d\n"
               "select 'G' as gstin, null as asp_name, now() as occurred_at, 't' as title, 'd' as detail, ['e1'] as event_ids "
               "from range(3)")
    rules, _ = load_rules(tmp_path)
    total, problems = run_rules(con, rules)
    assert (total, problems) == (1, [])


def test_the_shipped_samples_give_every_rule_a_finding_with_evidence(settings, con):
    from alertproc.portal.accesslog import import_access_log
    from alertproc.portal.sms import import_sms, read_sms
    Staged(con, settings).import_mail(SAMPLE / "mail", "eml")
    import_sms(con, read_sms(SAMPLE / "sms-backup.xml"), app_of(settings).reader().formats, settings.sms_senders)
    import_access_log(con, SAMPLE / "access-log.csv")
    from alertproc.portal.portal_tokens import import_tokens
    import_tokens(con, SAMPLE / "active-tokens.csv")
    found = Staged(con, settings).detect()
    assert found.problems == []
    assert set(found.by_rule) == {r.id for r in RULES}
    linked = con.execute("""
        select f.rule_id, bool_and(e.event_id is not null), bool_or(m.archive_path is not null or e.channel <> 'email')
        from findings f, unnest(f.event_ids) as u(id)
        left join events e on e.event_id = u.id
        left join messages m on m.sha256 = e.source_sha256
        group by 1""").fetchall()
    assert all(every_id_known and has_source for _, every_id_known, has_source in linked), linked
