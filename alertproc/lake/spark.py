"""The rules on Apache Spark, against a Parquet lake (``alertproc detect --engine spark``).

Rule SQL is transpiled from DuckDB's dialect to Spark SQL by sqlglot (``portable.py``);
the frame that turns a rule's rows into findings and the query that picks the finding
versions the lake lacks are the same portable SQL DuckDB runs, so both engines give the
same findings with the same ids. Policy tables are small: they are built by the same code
as on DuckDB and handed to Spark as DataFrames. Needs the ``spark`` extra (pyspark).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from ..errors import ConfigError, RuleError
from .portable import transpile
from ..storage.queries import package_queries
from ..audit.rules import Rule, check_columns, frame_params, framed
from ..storage.store import now

POLICY_TABLES = ("policy_gstins", "policy_approved_asps", "policy_asp_aliases", "policy_thresholds")
LOCAL_MASTER = "local[*]"


def _pyspark():
    try:
        warnings.filterwarnings("ignore", module="pyspark")  # it warns about pandas versions on import
        import pyspark.sql
        from pyspark.sql.pandas.types import from_arrow_schema
    except ImportError:
        raise ConfigError("--engine spark needs PySpark: pip install 'alertproc[spark]' (and Java 17 or newer)") from None
    return pyspark.sql, from_arrow_schema


def session(master: str | None = None):
    """A Spark session: ``master`` if given, the one spark-submit configured, else local on every core.

    Local mode binds only to 127.0.0.1, without the web UI, and keeps timestamps in UTC.
    """
    sql, _ = _pyspark()
    from pyspark import SparkConf
    builder = sql.SparkSession.builder.appName("alertproc detect")
    submitted = SparkConf().contains("spark.master")
    if master or not submitted:
        builder = builder.master(master or LOCAL_MASTER)
    if (master or LOCAL_MASTER).startswith("local") and not submitted:
        # Read when the JVM starts: Spark's own address lookup stays on loopback (otherwise it takes
        # the first outside interface, and says so on stderr).
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = (builder.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
                   .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
                   # 200 shuffle partitions (the cluster default) make every small step slow on one machine
                   .config("spark.sql.shuffle.partitions", str(4 * (os.cpu_count() or 1))))
    # Constraint propagation trips over a union of many checkpointed plans (a NoSuchElementException
    # in Spark 4.3) and buys nothing for these queries.
    spark = (builder.config("spark.sql.session.timeZone", "UTC").config("spark.sql.constraintPropagation.enabled", "false")
             .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _frame(spark, con: duckdb.DuckDBPyConnection, sql: str):
    """A DuckDB query's result as a Spark DataFrame, with DuckDB's types (empty results too)."""
    _, from_arrow_schema = _pyspark()
    table = con.sql(sql).arrow()
    table = table.read_all() if hasattr(table, "read_all") else table
    if table.num_rows == 0:
        return spark.createDataFrame([], from_arrow_schema(table.schema))
    return spark.createDataFrame(table)


def _lake_table(spark, lake: str, table: str, empty):
    """``<lake>/<table>`` without its partition column, or ``empty`` when the lake has none."""
    try:
        frame = spark.read.option("mergeSchema", "true").parquet(f"{lake.rstrip('/')}/{table}")
    except Exception as exc:  # AnalysisException PATH_NOT_FOUND, under several class names
        if "PATH_NOT_FOUND" not in str(exc) and "does not exist" not in str(exc):
            raise
        return empty
    return frame.drop("month")


def _problem(rule: Rule, exc: Exception) -> str:
    java = getattr(exc, "java_exception", None)  # py4j wraps Spark's internal errors
    text = (java.getMessage() if java is not None else None) or str(exc)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return f"{rule.path}: rule '{rule.id}' failed on Spark: {first}"


@dataclass
class SparkDetect:
    """The findings Spark computed (a DataFrame with the ``findings`` columns) and the rule problems."""

    findings: object
    problems: list[str] = field(default_factory=list)


def register_inputs(spark, con: duckdb.DuckDBPyConnection, lake: str, as_of: datetime | None = None) -> None:
    """Name the lake's events and messages, and ``con``'s policy tables, as the rules expect.

    ``con`` is the in-memory DuckDB the policy was applied to; its ``events`` hold the
    policy's manual revocations, which join the lake's observed events.
    """
    events = _lake_table(spark, lake, "events", _frame(spark, con, "select * from events limit 0"))
    manual = _frame(spark, con, "select * from events")
    events.unionByName(manual, allowMissingColumns=True).createOrReplaceTempView("events")
    _lake_table(spark, lake, "messages", _frame(spark, con, "select * from messages limit 0")).createOrReplaceTempView("messages")
    for table in POLICY_TABLES:
        _frame(spark, con, f"select * from {table}").createOrReplaceTempView(table)
    newest = spark.sql("select max(occurred_at) from events").collect()[0][0]
    clock = now().replace(tzinfo=None)  # Spark hands back UTC timestamps without a zone
    reference = as_of.replace(tzinfo=None) if as_of else min(clock, newest or clock)
    spark.sql("select cast(? as timestamp) as as_of", args=[reference]).createOrReplaceTempView("detect_context")


def run_rules(spark, rules: list[Rule]) -> SparkDetect:
    """Every rule on Spark; a rule that cannot be transpiled or fails is reported, the others run."""
    problems: list[str] = []
    frames = []
    detected_at = now()
    for rule in rules:
        try:
            columns = spark.sql(f"select * from ({transpile(rule.sql, 'spark', rule.path)}) limit 0").columns
            check_columns(rule, columns)
            frame = spark.sql(transpile(framed(rule, columns), "spark", rule.path), args=frame_params(rule, detected_at))
            # Computed here, rule by rule, so that a failure names its rule (Spark is lazy).
            frames.append(frame.localCheckpoint(eager=True))
        except RuleError as exc:
            problems.extend(exc.problems)
        except Exception as exc:  # pyspark's AnalysisException / ParseException and their kin
            problems.append(_problem(rule, exc))
    if not frames:
        return SparkDetect(None, problems)
    union = frames[0]
    for frame in frames[1:]:
        union = union.unionByName(frame)
    # One finding per id even if a rule repeats itself: the same choice DuckDB makes.
    from pyspark.sql import Window, functions
    first = Window.partitionBy("finding_id").orderBy("title", "detail")
    findings = union.withColumn("n", functions.row_number().over(first)).where("n = 1").drop("n")
    return SparkDetect(findings, problems)


def write_findings(spark, findings, lake: str) -> int:
    """Append to ``<lake>/findings`` the finding versions it does not hold yet; return how many."""
    findings.createOrReplaceTempView("findings")
    lake_findings = _lake_table(spark, lake, "findings", spark.createDataFrame(
        [], "finding_id string, first_detected_at timestamp, version_id string"))
    lake_findings.createOrReplaceTempView("lake_findings")
    versions = spark.sql(transpile(package_queries("lake.sql")["findings"], "spark", "alertproc/sql/lake.sql")).cache()
    count = versions.count()
    if count:
        versions.write.mode("append").partitionBy("month").parquet(f"{lake.rstrip('/')}/findings")
    versions.unpersist()
    return count
