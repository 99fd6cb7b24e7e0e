"""The rules at scale: DuckDB on this machine against Spark in local mode, over one lake.

    python bench/lake.py --millions 5     # generate 5 M events, export the lake, run both engines
    python bench/lake.py --smoke          # 20,000 events: checks the benchmark works

Prints one line per figure (`name value`) with the machine's cores and memory, checks that
both engines found identical findings (exit 1 if not), and writes bench/lake-results.md.
Spark is skipped, and says so, when the 'spark' extra is not installed.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from helpers.synthetic import generate, write_policy  # noqa: E402

from alertproc.storage import store  # noqa: E402
from alertproc.config import Settings  # noqa: E402
from alertproc.lake.engines import detect_lake  # noqa: E402
from alertproc.lake import export_lake  # noqa: E402
from alertproc.audit.policy import apply_policy, load_policy  # noqa: E402
from alertproc.audit.rules import load_rules, run_rules  # noqa: E402

LINES: list[tuple[str, str]] = []


def say(name: str, value: str) -> None:
    LINES.append((name, value))
    print(f"{name} {value}", flush=True)


def timed(func, *args):
    started = time.perf_counter()
    result = func(*args)
    return time.perf_counter() - started, result


def memory_gib() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


def lake_findings(lake: Path) -> set[tuple]:
    files = [str(p) for p in sorted((lake / "findings").glob("month=*/*.parquet"))]
    rows = duckdb.sql("select finding_id, title, detail, array_to_string(event_ids, ',') from read_parquet(?)",
                      params=[files]).fetchall()
    return set(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--millions", type=float, default=2.0, help="events to generate, in millions [2]")
    parser.add_argument("--smoke", action="store_true", help="20,000 events: check the benchmark works")
    args = parser.parse_args()
    count = 20_000 if args.smoke else int(args.millions * 1_000_000)
    has_spark = importlib.util.find_spec("pyspark") is not None
    say("machine", f"{platform.node()}: {os.cpu_count()} cores, {memory_gib():.0f} GiB, Python {platform.python_version()}, "
                   f"DuckDB {duckdb.__version__}")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        settings = Settings(policy=str(write_policy(work / "policy.yaml", count)), rules=str(ROOT / "rules"))
        con = store.connect(str(work / "a.duckdb"))
        seconds, events = timed(generate, con, count)
        say("events", f"{events:,} (generated in {seconds:.1f} s)")
        apply_policy(con, load_policy(Path(settings.policy)))
        rules, _ = load_rules(Path(settings.rules))
        seconds, (found, _) = timed(run_rules, con, rules)
        say("duckdb_rules_on_database", f"{seconds:.2f} s = {events / seconds:,.0f} events/s ({found:,} findings)")
        seconds, written = timed(export_lake, con, work / "lake")
        con.close()
        say("export_lake", f"{seconds:.2f} s = {written.rows['events'] / seconds:,.0f} events/s, "
                           f"{sum(written.files.values())} files")
        (work / "lake" / "findings").rename(work / "exported-findings")
        engines = ["duckdb"] + (["spark"] if has_spark else [])
        if has_spark:  # started once here, so that the rules' time is the rules' (detect reuses it)
            from alertproc.lake import spark
            seconds, _ = timed(spark.session)
            say("spark_start", f"{seconds:.1f} s (local mode, {os.cpu_count()} cores)")
        found_by = {}
        for engine in engines:
            lake = work / f"lake-{engine}"  # the same events and messages, findings of its own
            lake.mkdir()
            for table in ("events", "messages"):
                (lake / table).symlink_to(work / "lake" / table, target_is_directory=True)
            seconds, result = timed(detect_lake, settings, str(lake), engine)
            say(f"{engine}_rules_on_lake", f"{seconds:.2f} s = {events / seconds:,.0f} events/s "
                                           f"({result.total:,} findings)")
            found_by[engine] = lake_findings(lake)
        if not has_spark:
            say("spark", "skipped: the 'spark' extra is not installed (pip install -e '.[spark]')")
            same = True
        else:
            same = found_by["duckdb"] == found_by["spark"]
            say("parity", f"{'identical' if same else 'DIFFERENT'} findings on DuckDB and Spark ({len(found_by['spark']):,})")
    how = "--smoke" if args.smoke else f"--millions {args.millions:g}"
    lines = ["# Lake benchmark", "", f"Run: `python bench/lake.py {how}`", "",
             "| figure | value |", "|---|---|"] + [f"| {n} | {v} |" for n, v in LINES]
    (ROOT / "bench" / "lake-results.md").write_text("\n".join(lines) + "\n")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
