"""A CA firm's year (#32 item 6): 500 GSTINs with two approved ASPs each, about 1.5 M alerts.

    python bench/firm.py                  # the year: 500 GSTINs, 1.5 M events (setting up takes a minute)
    python bench/firm.py --smoke          # 20 GSTINs, 40,000 events: checks the benchmark works
    python bench/firm.py --keep DIR       # build the database in DIR once; later runs reuse it

Measures `detect`, the firm-wide report of the year's last week, and every client's report
(clients of two GSTINs: 250 at full size), each client's on its own. The baseline, taken in the
same run, is reading the week's events counted once (unique_events_in), the floor any report
stands on; each figure is also printed as a ratio to it. Targets: each client report under
1 s, all of them under 2 minutes. Writes bench/firm-results.md (not with --smoke).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from helpers.synthetic import firm_pairs, generate, write_firm_policy  # noqa: E402

import alertproc  # noqa: E402
from alertproc.storage import published, store  # noqa: E402

WEEK = "2026-W46"  # the generated year ends on 20 Nov 2026
PER_CLIENT = 2
EACH_TARGET_S, ALL_TARGET_S = 1.0, 120.0


def build(folder: Path, gstins: int, events: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_firm_policy(folder / "policy.yaml", gstins, PER_CLIENT)
    con = store.connect(published.working_file(folder / "alertproc.duckdb"))
    generate(con, events, firm_pairs(gstins))
    con.close()


def opened(folder: Path):
    return alertproc.open(folder / "alertproc.duckdb", policy=str(folder / "policy.yaml"),
                          archive=str(folder / "archive"), report_dir=str(folder / "out"))


def baseline(app) -> float:
    """Seconds to count the week's events once (mail and SMS twins paired)."""
    from alertproc.period import week_period
    period = week_period(WEEK)
    started = time.perf_counter()
    app.sql("select kind, count(*) from unique_events_in($since, $until) group by all",
            {"since": period.since, "until": period.until}).fetchall()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="20 GSTINs, 40,000 events; enforce nothing")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="build the database in DIR once and reuse it")
    args = parser.parse_args()
    gstins, events = (20, 40_000) if args.smoke else (500, 1_500_000)
    print(f"alertproc firm bench on {platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}")
    with contextlib.ExitStack() as stack:
        folder = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        ready = folder / "bench-ready.json"
        started = time.perf_counter()
        if not (ready.is_file() and json.loads(ready.read_text()) == {"gstins": gstins, "events": events}):
            build(folder, gstins, events)
            ready.write_text(json.dumps({"gstins": gstins, "events": events}))
        print(f"  {gstins} GSTINs, {events:,} events ready in {time.perf_counter() - started:.0f} s", flush=True)
        with opened(folder) as app:
            started = time.perf_counter()
            found = app.detect()
            detect_s = time.perf_counter() - started
        with opened(folder) as app:
            floor = statistics.median(baseline(app) for _ in range(3))
            started = time.perf_counter()
            app.report(week=WEEK)
            firm_s = time.perf_counter() - started
            times = []
            clients = app.effective_policy().clients
            for name in clients:
                started = time.perf_counter()
                app.report(week=WEEK, client=name)
                times.append(time.perf_counter() - started)
            started = time.perf_counter()
            app.client_reports(week=WEEK)  # all of them in one go, as a run writes them
            all_s = time.perf_counter() - started
    worst, total = max(times), sum(times)
    rows = [("detect", detect_s, f"{found.total:,} findings"),
            ("firm-wide report", firm_s, ""),
            ("one client's report, median", statistics.median(times), f"{len(times)} clients of {PER_CLIENT} GSTINs"),
            ("one client's report, slowest", worst, f"target under {EACH_TARGET_S:.0f} s"),
            ("every client's report, one by one", total, ""),
            ("every client's report, as a run writes them", all_s, f"target under {ALL_TARGET_S:.0f} s")]
    lines = ["# A CA firm's year", "", f"{gstins} GSTINs, 2 ASPs each, {events:,} events; week {WEEK}. Baseline: "
             f"counting the week's events once, {floor * 1000:.0f} ms (median of 3).", "",
             "| what | seconds | / baseline | note |", "|---|---|---|---|"]
    for what, seconds, note in rows:
        lines.append(f"| {what} | {seconds:.2f} | {seconds / floor:.1f}x | {note} |")
        print(f"  {what:<46} {seconds:8.2f} s  {seconds / floor:7.1f}x  {note}", flush=True)
    met = worst < EACH_TARGET_S and all_s < ALL_TARGET_S
    print(f"  targets (each client < {EACH_TARGET_S:.0f} s, all < {ALL_TARGET_S:.0f} s): {'met' if met else 'MISSED'}")
    if not args.smoke:
        (ROOT / "bench" / "firm-results.md").write_text("\n".join(lines) + "\n")
    return 0 if met or args.smoke else 1


if __name__ == "__main__":
    sys.exit(main())
