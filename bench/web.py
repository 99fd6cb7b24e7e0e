"""The web app's response times at scale, while the scheduled job writes.

    python bench/web.py               # 1 M generated events and their findings (setting up takes 10 minutes)
    python bench/web.py --events 200000 --requests 20
    python bench/web.py --smoke       # 20,000 events: checks the benchmark works, enforces nothing
    python bench/web.py --keep /srv/bench-1m   # build the database there once; later runs reuse it

`alertproc serve` (uvicorn, its own process) runs over a database of generated events, detect's
findings and one auditor. Every page and API call is asked REQUESTS times while `alertproc run`
imports the sample mail into the same database again and again, and each one's median and 95th
percentile are printed, with the stylesheet (no database work) as the baseline taken in the same
run. The target: p95 under 300 ms for every page. Writes bench/web-results.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from helpers.synthetic import generate, write_policy  # noqa: E402
from helpers.web_server import Server, login  # noqa: E402

import alertproc  # noqa: E402
from alertproc.storage import published, store  # noqa: E402

TARGET_MS = 300
REQUESTS = 40
PASSWORD = "bench password 1"


def database(folder: Path, events: int) -> tuple[int, str, str]:
    """Generated events in ``folder``'s database, findings detected, an auditor; returns the
    findings, a finding id and a GSTIN for the pages that need them."""
    policy = write_policy(folder / "policy.yaml", events)
    con = store.connect(published.working_file(folder / "alertproc.duckdb"))
    generate(con, events)
    con.close()
    with alertproc.open(folder / "alertproc.duckdb", policy=str(policy), archive=str(folder / "archive"),
                        report_dir=str(folder / "out")) as app:
        found = app.detect()
        app.add_user("bench", "auditor", PASSWORD)
        some = app.findings("open", severity="high")[0]
        app.report(week="2026-W46")
    return found.total, some["finding_id"], some["gstin"]


def kept(folder: Path, events: int) -> tuple[int, str, str]:
    """:func:`database` in a folder kept between runs: built the first time, then reused (after
    a detect: it brings the database to this alertproc's schema and rules)."""
    ready = folder / "bench-ready.json"
    if ready.is_file() and json.loads(ready.read_text())["events"] == events:
        with alertproc.open(folder / "alertproc.duckdb", policy=str(folder / "policy.yaml"),
                            archive=str(folder / "archive"), report_dir=str(folder / "out")) as app:
            found = app.detect()
            some = app.findings("open", severity="high")[0]
        return found.total, some["finding_id"], some["gstin"]
    folder.mkdir(parents=True, exist_ok=True)
    found = database(folder, events)
    ready.write_text(json.dumps({"events": events, "found": found}))
    return found


def timed(client, path: str, count: int) -> list[float]:
    out = []
    for _ in range(count):
        started = time.perf_counter()
        answer = client.get(path)
        out.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise SystemExit(f"{path}: HTTP {answer.status_code}")
    return out


def writer(folder: Path, stop: threading.Event, runs: list[int]) -> None:
    """`alertproc run` importing the sample mail, over and over, while the pages are asked."""
    while not stop.is_set():
        done = subprocess.run([sys.executable, "-m", "alertproc", "run", "--source", str(ROOT / "sample_mailbox" / "mail"),
                               "--policy", str(folder / "policy.yaml"), "--week", "2026-W46", "--report-dir", "out"],
                              cwd=folder, capture_output=True, text=True,
                              env={"PATH": os.environ["PATH"], "HOME": str(folder), "PYTHONPATH": str(ROOT)})
        runs.append(done.returncode)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="20,000 events; enforce nothing")
    parser.add_argument("--events", type=int, default=1_000_000, help="generated events [default: 1,000,000]")
    parser.add_argument("--requests", type=int, default=REQUESTS, help=f"requests a page [default: {REQUESTS}]")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="build the database in DIR and keep it; a later run with the same DIR reuses it")
    args = parser.parse_args()
    events = 20_000 if args.smoke else args.events
    print(f"alertproc web bench on {platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}")
    with contextlib.ExitStack() as stack:
        folder = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        started = time.perf_counter()
        findings, finding, gstin = kept(folder, events) if args.keep else database(folder, events)
        print(f"  {events:,} events, {findings:,} findings ready in {time.perf_counter() - started:.0f} s", flush=True)
        server = Server(folder)
        stop, runs = threading.Event(), []
        job = threading.Thread(target=writer, args=(folder, stop, runs))
        try:
            client = server.client()
            assert login(client, "bench", PASSWORD).status_code == 303
            paths = ["/static/app.css", "/", "/findings", "/findings?severity=high&status=all",
                     "/asps/ACMETAXCLOUD?since=09-11-2026&until=15-11-2026",
                     f"/findings/{finding}", f"/gstins/{gstin}", "/api/findings", f"/sql?query=weekly-trend&p.gstin={gstin}",
                     "/reports"]
            for path in paths:
                timed(client, path, 3)  # warm-up
            job.start()
            results = {path: timed(client, path, args.requests) for path in paths}
        finally:
            stop.set()
            if job.is_alive():
                job.join()
            log = server.stop()
            if "Traceback" in log:
                print(log[log.index("Traceback"):][-2500:])
    base = statistics.median(results["/static/app.css"])
    missed = 0
    lines = ["# Web app response times", "", f"{events:,} events, {findings:,} findings, {args.requests} requests a page "
             f"while `alertproc run` imported mail {len(runs)} times ({runs.count(0)} ok).", "",
             "| page | median ms | p95 ms | median / stylesheet | target |", "|---|---|---|---|---|"]
    for path, times in results.items():
        p95 = statistics.quantiles(times, n=20)[18]
        ok = p95 <= TARGET_MS
        missed += not ok and not args.smoke
        row = (f"| `{path}` | {statistics.median(times):.0f} | {p95:.0f} | {statistics.median(times) / base:.1f}x | "
               f"p95 <= {TARGET_MS}: {'ok' if ok else 'MISSED'} |")
        lines.append(row)
        print(f"  {path:<45} median {statistics.median(times):6.0f} ms  p95 {p95:6.0f} ms  "
              f"{statistics.median(times) / base:5.1f}x the stylesheet  {'ok' if ok else 'MISSED'}", flush=True)
    print(f"  alertproc run while measuring: {len(runs)} runs, {runs.count(0)} ok")
    if not args.smoke:
        (ROOT / "bench" / "web-results.md").write_text("\n".join(lines) + "\n")
    if any(runs) and not args.smoke:
        missed += 1
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
