"""Detection: which rules run under which policy, and what they found — one path for the
database (``alertproc detect``) and for a lake on DuckDB or Spark (:mod:`alertproc.lake.engines`).

Without a policy file the rules that compare with approvals (``-- needs: policy``) are skipped
and named; the others run with the default thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from ..config import Settings
from ..period import last_complete_week
from . import approvals, inventory, registry
from .layers import rules_of
from .policy import Policy, apply_policy, no_policy, policy_of, unchecked
from .rules import Rule, run_rules


@dataclass
class DetectResult:
    """Findings after a detect: total, per rule and severity, rule problems, rules skipped."""

    total: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    by_severity: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    lake_findings_added: int | None = None  # detect on a lake: finding versions written to it
    skipped: list[str] = field(default_factory=list)  # rules that need a policy, when there is none
    notice: str | None = None  # why they were skipped


@dataclass
class Detection:
    """What a detect runs: the rules and the policy, with what was left out and why."""

    rules: list[Rule]
    policy: Policy | None
    result: DetectResult  # problems, skipped and notice filled in; the counts come after the run

    def apply_policy(self, con: duckdb.DuckDBPyConnection) -> None:
        """Write the policy tables the rules read (the defaults when there is no policy file)."""
        apply_policy(con, self.policy or no_policy())


def prepare(settings: Settings, policy: Policy | None | bool = True) -> Detection:
    """The rules of every layer and the policy, ``policy`` True meaning: read it now
    (callers that validated it up front pass it)."""
    if policy is True:
        policy = policy_of(settings)
    rules, problems = rules_of(settings)
    notice = unchecked(settings, policy)
    if notice:  # no policy, or init's example: its sample GSTINs would make every real one "unknown"
        policy = None
    skipped = [r.id for r in rules if r.needs_policy] if policy is None else []
    return Detection([r for r in rules if r.id not in skipped], policy,
                     DetectResult(problems=problems, skipped=skipped, notice=notice))


def detect(con: duckdb.DuckDBPyConnection, settings: Settings, policy: Policy | None | bool = True) -> DetectResult:
    """Load the policy, with the recorded approval decisions laid over it, and recompute
    ``findings`` in the database from every rule of every layer; a finding a decision approved
    stays listed, acknowledged with its note (:mod:`alertproc.audit.approvals`). Recorded
    merges of ASP spellings join the policy's aliases (:mod:`alertproc.audit.registry`)."""
    detection = prepare(settings, policy)
    made = approvals.decisions(con)
    if detection.policy is not None:
        detection.policy = approvals.layered(detection.policy, made)
    detection.apply_policy(con)
    registry.apply_merges(con)
    approvals.before_rules(con, made)
    total, problems = run_rules(con, detection.rules)
    if approvals.after_rules(con, made):
        total = con.execute("select count(*) from findings").fetchall()[0][0]
    inventory.refresh(con, last_complete_week().since)
    return counted(con, detection.result, total, problems)


def counted(con: duckdb.DuckDBPyConnection, result: DetectResult, total: int, problems: list[str]) -> DetectResult:
    """``result`` with the counts of ``findings`` per rule and severity, and the problems met running the rules."""
    result.total = total
    result.problems = result.problems + problems
    result.by_rule = dict(con.execute("select rule_id, count(*) from findings group by 1 order by 1").fetchall())
    result.by_severity = dict(con.execute("select severity, count(*) from findings group by 1").fetchall())
    return result
