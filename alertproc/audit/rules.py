"""Detection rules: SQL files under ``rules/`` with a metadata header, run against DuckDB.

A rule is a SELECT that returns the columns ``gstin, asp_name, occurred_at, title, detail,
event_ids`` and optionally ``finding_key`` (what makes two findings "the same"; default: the
sorted event ids). The engine derives ``finding_id`` from rule id and key, so the same
evidence gives the same id on every run, and keeps ``first_detected_at`` across runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from ..domain import SEVERITIES
from ..errors import RuleError
from ..layered import load_layered
from ..storage.sqlcheck import select_problems
from ..storage.sqlfiles import body, read_header
from ..storage.queries import package_queries
from ..storage.store import now, scalar, transaction

REQUIRED_COLUMNS = ("gstin", "asp_name", "occurred_at", "title", "detail", "event_ids")


@dataclass(frozen=True)
class Rule:
    """One detection rule file."""

    id: str
    title: str
    severity: str
    description: str
    sql: str
    path: Path
    overrides: Path | None = None  # the file of the same id this one replaces (a user's over a shipped one)
    needs_policy: bool = False  # "-- needs: policy": it compares with approvals, so it runs only with a policy


def _parse_header(path: Path, text: str, problems: list[str]) -> dict[str, str]:
    meta = read_header(path, text, ("id", "title", "severity", "description", "needs"), problems)
    if meta.get("needs") not in (None, "policy"):
        problems.append(f"{path}:1: 'needs' can only be 'policy', not '{meta['needs']}'")
    for key in ("id", "title", "severity", "description"):
        if not meta.get(key):
            problems.append(f"{path}:1: header is missing '-- {key}: ...'")
    if meta.get("severity") and meta["severity"] not in SEVERITIES:
        problems.append(f"{path}:1: severity '{meta['severity']}' is not one of {', '.join(SEVERITIES)}")
    return meta


# Rules checked before, by (path, size, mtime): checking a rule's SQL asks DuckDB to parse it
# (10 ms a rule), and a run with 500 clients writes 501 reports that name every rule. A
# changed file has another key, so an edit is always read afresh.
_CHECKED: dict[tuple[str, int, int], Rule] = {}


def _load_one(path: Path, problems: list[str]) -> Rule | None:
    info = path.stat()
    key = (str(path.resolve()), info.st_size, info.st_mtime_ns)
    if key in _CHECKED:
        return _CHECKED[key]
    rule = _checked_rule(path, problems)
    if rule is not None:
        _CHECKED[key] = rule
    return rule


def _checked_rule(path: Path, problems: list[str]) -> Rule | None:
    text = path.read_text(encoding="utf-8")
    before = len(problems)
    meta = _parse_header(path, text, problems)
    problems.extend(select_problems(path, text))
    if len(problems) > before:
        return None
    return Rule(meta["id"], meta["title"], meta["severity"], meta["description"], body(text), path,
                needs_policy=meta.get("needs") == "policy")


def load_rules(directories: Path | list[Path], disabled: tuple[str, ...] = ()) -> tuple[list[Rule], list[str]]:
    """Load every ``*.sql`` of ``directories`` by layers (:func:`alertproc.layered.load_layered`);
    return the good rules and a problem per bad file (a broken rule never stops the others).
    Ids in ``disabled`` are left out."""
    loaded = load_layered(directories, "*.sql", _load_one, lambda rule: rule.id, "rule", disabled, "disabled_rules")
    return list(loaded.items.values()), loaded.problems


def _sql_problem(rule: Rule, exc: duckdb.Error) -> str:
    message = str(exc).strip().splitlines()
    line = re.search(r"LINE (\d+):", str(exc))
    where = f"{rule.path}:{line.group(1)}" if line else f"{rule.path}"
    return f"{where}: rule '{rule.id}' failed: {message[0] if message else exc}"


def check_columns(rule: Rule, columns: list[str]) -> None:
    """Raise :class:`RuleError` unless the rule returns every column a finding needs."""
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise RuleError([f"{rule.path}:1: rule '{rule.id}' must return column(s) {', '.join(missing)}"])


def framed(rule: Rule, columns: list[str]) -> str:
    """The rule's SELECT inside the finding frame (``alertproc/sql/rules.sql``), DuckDB dialect.

    Parameters: ``rule_id``, ``severity``, ``detected_at`` (see :func:`frame_params`).
    """
    key = "cast(r.finding_key as varchar)" if "finding_key" in columns else "array_to_string(list_sort(r.event_ids), ',')"
    return package_queries("rules.sql")["finding_rows"].replace("{key}", key).replace("{rule}", rule.sql)


def frame_params(rule: Rule, detected_at: datetime) -> dict[str, object]:
    """The values :func:`framed` binds."""
    return {"rule_id": rule.id, "severity": rule.severity, "detected_at": detected_at}


def run_rules(con: duckdb.DuckDBPyConnection, rules: list[Rule], as_of: datetime | None = None) -> tuple[int, list[str]]:
    """Recompute ``findings`` from every rule; a broken rule is reported, the others still run.

    ``as_of`` is the "now" of time-relative rules (``detect_context``); by default the
    earlier of the clock and the newest event. Returns the number of findings and the
    problems met.
    """
    problems: list[str] = []
    con.execute("delete from detect_context")
    con.execute("insert into detect_context select coalesce(?, least(?, coalesce(max(occurred_at), ?))) from events",
                [as_of, now(), now()])
    con.execute("create or replace temp table new_findings as select * from findings limit 0")
    for rule in rules:
        try:
            columns = [c[0] for c in con.execute(f"select * from ({rule.sql}) limit 0").description]
            check_columns(rule, columns)
            con.execute(f"insert into new_findings {framed(rule, columns)}", frame_params(rule, now()))
        except RuleError as exc:
            problems.extend(exc.problems)
        except duckdb.Error as exc:
            problems.append(_sql_problem(rule, exc))
    with transaction(con):
        # One finding per id even if a rule repeats itself; keep when it was first seen.
        con.execute("""
            create or replace temp table merged as
            select distinct on (n.finding_id)
                   n.* replace (coalesce(f.first_detected_at, n.first_detected_at) as first_detected_at)
            from new_findings n left join findings f using (finding_id)
            order by n.finding_id, n.title, n.detail
        """)
        con.execute("delete from findings")
        con.execute("insert into findings select * from merged")
    total = scalar(con, "select count(*) from findings")
    return total, problems
