"""Peak memory of large imports: a 100k-message mailbox and a 1M-row access log.

Each case runs `alertproc import` in a fresh process and reads its peak RSS (ru_maxrss), at
two sizes, and prints the ratio: memory that follows the batch, not the input, stays near 1.

    python bench/large_inputs.py            # 10k vs 100k messages, 100k vs 1M log rows
    python bench/large_inputs.py --quick    # a tenth of that
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from conftest import make  # noqa: E402  (the sample builders)


def write_mbox(path: Path, count: int) -> None:
    start = make.ist("2025-01-01", "00:00")
    with open(path, "wb") as out:
        for i in range(count):
            when = start + timedelta(minutes=7 * i)
            raw = make.refresh_text(make.PUNE, make.ACME, make.EGSP, when, f"b{i}").as_bytes()
            out.write(b"From MAILER-DAEMON Thu Jan  1 00:00:00 2025\n" + raw.replace(b"\nFrom ", b"\n>From ") + b"\n")


def write_log(path: Path, rows: int) -> None:
    start = make.ist("2025-01-01", "00:00")
    with open(path, "w") as out:
        out.write("GSTIN,Date Time,ASP Name,GSP Name,Status,API Name,IP Address\n")
        for i in range(rows):
            when = (start + timedelta(seconds=31 * i)).strftime("%d-%m-%Y %H:%M:%S")
            out.write(f"{make.PUNE},{when},{make.ACME},{make.EGSP},{('Successful', 'Failed')[i % 7 == 0]},GSTR1,203.0.113.{i % 250}\n")


CHILD = """
import resource, runpy, sys
sys.argv = ["alertproc", "import", sys.argv[1], sys.argv[2]]
try:
    runpy.run_module("alertproc", run_name="__main__")
except SystemExit as exit:
    assert not exit.code, exit.code
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def measure(kind: str, path: Path, workdir: Path) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one import, in a process of its own."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, kind, str(path)], cwd=workdir, check=True, text=True,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          env={**os.environ, "ALERTPROC_DB": str(workdir / f"{path.stem}.duckdb")})
    return time.perf_counter() - started, int(done.stderr.split()[-1]) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    results = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for label, kind, writer, small, large in (
            ("mailbox messages", "mbox", write_mbox, 10_000 // scale, 100_000 // scale),
            ("access-log rows", "access-log", write_log, 100_000 // scale, 1_000_000 // scale),
        ):
            figures = []
            for size in (small, large):
                path = work / f"{kind}-{size}.{'mbox' if kind == 'mbox' else 'csv'}"
                writer(path, size)
                seconds, peak = measure(kind, path, work)
                figures.append((size, seconds, peak))
                print(f"{label:17} {size:>9,}  {seconds:7.1f} s  {size / seconds:>9,.0f}/s  peak RSS {peak:6.0f} MB", flush=True)
            results.append((label, figures))
    for label, ((small, _, low), (large, _, high)) in results:
        print(f"{label}: peak RSS at {large:,} / at {small:,} = {high / low:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
