"""Fixture scenarios for rules: events in, expected findings out (``rules/tests/*.yaml``).

Each file names a rule and lists scenarios; each scenario runs on a fresh in-memory
database with its own policy, so users writing rules get the same harness as the shipped
ones. See ``rules/tests/README.md`` for the format.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..storage import store
from ..domain import to_utc
from ..errors import ConfigError
from ..reading.extract import new_event
from .policy import apply_policy, parse_policy
from .rules import Rule, run_rules
from ..yamlfile import load_yaml, where

_DEFAULT_POLICY = {"gstins": [{"gstin": "27AAPFU0939F1ZV"}],
                   "approved_asps": [{"asp": "Acme Tax Cloud Pvt Ltd", "gstins": ["*"]}]}


@dataclass
class ScenarioResult:
    """The outcome of one scenario."""

    rule_id: str
    name: str
    where: str
    ok: bool
    message: str = ""


def _time(value: object) -> datetime | None:
    if value is None:
        return None
    return to_utc(datetime.fromisoformat(str(value)))


def _events(path: Path, scenario: dict) -> list[dict]:
    rows = []
    for number, item in enumerate(scenario.get("events") or []):
        try:
            at = _time(item["at"])
        except (KeyError, ValueError, TypeError):
            raise ConfigError(f"{where(path, item)}: each event needs 'at' like 2026-11-03 10:15 (IST)") from None
        gstin, asp = item.get("gstin", "27AAPFU0939F1ZV"), item.get("asp")
        channel, status = item.get("channel", "email"), item.get("status")
        event = new_event(item["kind"], gstin, asp, at, channel, status=status, gsp_name=item.get("gsp"),
                          valid_until=_time(item.get("valid_until")), source_sha256=item.get("source_sha256"),
                          source_ref=f"{path.name}#{number}", imported_at=store.now())
        rows.append({**event, "event_id": item.get("id") or event["event_id"]})
    return rows


def _matches(expected: dict, found: dict) -> bool:
    for key, value in expected.items():
        actual = len(found["event_ids"]) if key == "evidence" else found.get(key)
        if str(actual) != str(value):
            return False
    return True


def run_scenario(rule: Rule, path: Path, scenario: dict, policy_doc: dict) -> ScenarioResult:
    """Run ``rule`` on one scenario's events and compare with its ``expect`` list."""
    name, at = str(scenario.get("name", "?")), where(path, scenario)
    con = store.connect(":memory:")
    try:
        apply_policy(con, parse_policy(scenario.get("policy", policy_doc), path))
        store.insert_events(con, _events(path, scenario))
        _, problems = run_rules(con, [rule], as_of=_time(scenario.get("as_of")))
        if problems:
            return ScenarioResult(rule.id, name, at, False, "; ".join(problems))
        found = store.records(con, "select gstin, asp_name, severity, title, event_ids from findings order by occurred_at")
    finally:
        con.close()
    expected = scenario.get("expect") or []
    unmatched = list(found)
    for item in expected:
        hit = next((f for f in unmatched if _matches(item, f)), None)
        if hit is None:
            return ScenarioResult(rule.id, name, at, False, f"expected a finding like {dict(item)}, got {unmatched}")
        unmatched.remove(hit)
    if unmatched:
        return ScenarioResult(rule.id, name, at, False, f"unexpected finding(s): {unmatched}")
    return ScenarioResult(rule.id, name, at, True)


def run_rule_tests(rules: list[Rule], tests_dirs: Path | list[Path], disabled: tuple[str, ...] = ()) -> list[ScenarioResult]:
    """Run every scenario file of ``tests_dirs`` against the rule it names.

    A later folder's file of the same name replaces an earlier one's; files of a rule in
    ``disabled`` are skipped.
    """
    by_id = {rule.id: rule for rule in rules}
    folders = [tests_dirs] if isinstance(tests_dirs, Path) else tests_dirs
    files = {p.name: p for folder in folders if folder.is_dir() for p in sorted(folder.glob("*.yaml"))}
    results = []
    for path in sorted(files.values(), key=lambda p: p.name):
        doc = load_yaml(path)
        if isinstance(doc, dict) and doc.get("rule") in disabled:
            continue
        rule = by_id.get(doc.get("rule")) if isinstance(doc, dict) else None
        if rule is None:
            results.append(ScenarioResult(str(doc.get("rule") if isinstance(doc, dict) else "?"), "(file)",
                                          str(path), False, "names no loaded rule"))
            continue
        for scenario in doc.get("scenarios") or []:
            results.append(run_scenario(rule, path, scenario, doc.get("policy", _DEFAULT_POLICY)))
    return results
