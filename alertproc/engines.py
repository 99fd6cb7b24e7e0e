"""Detection over a Parquet lake, on DuckDB or on Spark (``alertproc detect --lake DIR``).

Both engines read the same lake, the same policy (applied to an in-memory DuckDB, whose
tables Spark receives as DataFrames) and the same rule files, and add the finding versions
the lake lacks to ``<lake>/findings``. The parity test holds them to identical findings.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from . import lock, store
from .config import Settings
from .errors import ConfigError
from .lake import LakeWrite, attach, lake_root, write_findings
from .pipeline import DetectResult
from .policy import apply_policy, load_policy
from .portable import ENGINES
from .rules import load_rules, run_rules

LAKE_LOCK = "_alertproc"  # <lake>/_alertproc.lock: one writer per lake


def _lake_lock(lake: str):
    return lock.exclusive(str(lake_root(lake) / LAKE_LOCK))


def detect_lake(settings: Settings, lake: str, engine: str = "duckdb", spark_master: str | None = None) -> DetectResult:
    """Run every rule over ``lake`` on ``engine``; add new finding versions to the lake."""
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine '{engine}' (use one of: {', '.join(ENGINES)})")
    rules, problems = load_rules(Path(settings.rules))
    con = store.connect(":memory:")
    try:
        apply_policy(con, load_policy(Path(settings.policy)))
        if engine == "spark":
            return _on_spark(con, rules, problems, lake, spark_master)
        root = lake_root(lake)
        with _lake_lock(lake):
            attach(con, root)
            total, run_problems = run_rules(con, rules)
            written = LakeWrite(str(root))
            write_findings(con, root, written)
        result = DetectResult(total=total, problems=problems + run_problems, lake_findings_added=written.rows["findings"])
        result.by_rule = dict(con.execute("select rule_id, count(*) from findings group by 1 order by 1").fetchall())
        result.by_severity = dict(con.execute("select severity, count(*) from findings group by 1").fetchall())
        return result
    finally:
        con.close()


def _on_spark(con, rules, problems: list[str], lake: str, master: str | None) -> DetectResult:
    from . import spark as engine
    session = engine.session(master)
    engine.register_inputs(session, con, lake)
    detected = engine.run_rules(session, rules)
    result = DetectResult(problems=problems + detected.problems)
    if detected.findings is None:
        return result
    by_rule, by_severity = Counter(), Counter()
    for row in detected.findings.groupBy("rule_id", "severity").count().collect():
        by_rule[row["rule_id"]] += row["count"]
        by_severity[row["severity"]] += row["count"]
    result.by_rule, result.by_severity = dict(sorted(by_rule.items())), dict(by_severity)
    result.total = sum(by_rule.values())
    if "://" in lake:  # object storage: Spark's own committer makes the append safe
        result.lake_findings_added = engine.write_findings(session, detected.findings, lake)
    else:
        with _lake_lock(lake):
            result.lake_findings_added = engine.write_findings(session, detected.findings, str(lake_root(lake)))
    return result
