"""Detection over a Parquet lake, on DuckDB or on Spark (``alertproc detect --lake DIR``).

Both engines read the same lake, the same policy (applied to an in-memory DuckDB, whose
tables Spark receives as DataFrames) and the same rule files, and add the finding versions
the lake lacks to ``<lake>/findings``. The parity test holds them to identical findings.
"""

from __future__ import annotations

import contextlib
from collections import Counter

from ..storage import store
from ..config import Settings
from ..errors import ConfigError
from .parquet import LakeWrite, attach, lake_lock, lake_root, write_findings
from ..audit.detection import DetectResult, Detection, counted, prepare
from .portable import ENGINES
from ..audit.rules import run_rules

def detect_lake(settings: Settings, lake: str, engine: str = "duckdb", spark_master: str | None = None) -> DetectResult:
    """Run every rule over ``lake`` on ``engine``; add new finding versions to the lake."""
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine '{engine}' (use one of: {', '.join(ENGINES)})")
    detection = prepare(settings)
    con = store.connect(":memory:")
    try:
        detection.apply_policy(con)
        if engine == "spark":
            return _on_spark(con, detection, lake, spark_master)
        with lake_lock(lake) as root:
            attach(con, root)
            total, problems = run_rules(con, detection.rules)
            written = LakeWrite(str(root))
            write_findings(con, root, written)
        result = counted(con, detection.result, total, problems)
        result.lake_findings_added = written.rows["findings"]
        return result
    finally:
        con.close()


def _on_spark(con, detection: Detection, lake: str, master: str | None) -> DetectResult:
    from . import spark as engine
    remote = "://" in lake  # object storage or HDFS: Spark reads and appends there itself
    location = lake if remote else str(lake_root(lake))
    session = engine.session(master)
    engine.register_inputs(session, con, location)
    detected = engine.run_rules(session, detection.rules)
    result = detection.result
    result.problems = result.problems + detected.problems
    if detected.findings is None:
        return result
    by_rule, by_severity = Counter(), Counter()
    for row in detected.findings.groupBy("rule_id", "severity").count().collect():
        by_rule[row["rule_id"]] += row["count"]
        by_severity[row["severity"]] += row["count"]
    result.by_rule, result.by_severity = dict(sorted(by_rule.items())), dict(by_severity)
    result.total = sum(by_rule.values())
    with contextlib.nullcontext() if remote else lake_lock(lake):
        result.lake_findings_added = engine.write_findings(session, detected.findings, location)
    return result
