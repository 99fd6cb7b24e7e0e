"""Peak memory of large imports: a 100k-message mailbox, a 1M-row access log, mails of 40 MB,
an SMS export full of MMS, and an XLSX whose text table would swell (refused).

Each case runs `alertproc import` in a fresh process and reads its peak RSS (VmHWM), at
two sizes, and prints the ratio: memory that follows the batch, not the input, stays near 1.

    python bench/large_inputs.py            # 10k vs 100k messages, 100k vs 1M log rows, 2 vs 10 mails
                                            # of 40 MB, 50 vs 400 MB of MMS, one 140 MB text table
    python bench/large_inputs.py --quick    # a tenth of that (the 40 MB mails: 1 vs 3)
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
from helpers import make  # noqa: E402  (the sample builders)


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
            status = ("Successful", "Failed")[i % 7 == 0]
            out.write(f"{make.PUNE},{when},{make.ACME},{make.EGSP},{status},GSTR1,203.0.113.{i % 250}\n")


def write_large_mails(path: Path, count: int) -> None:
    """Alerts carrying a 40 MB attachment each (over max_mail_mb: archived, not parsed)."""
    import email.mime.application
    start = make.ist("2025-01-01", "00:00")
    blob = os.urandom(40 * 2**20)
    with open(path, "wb") as out:
        for i in range(count):
            mail = make.refresh_text(make.PUNE, make.ACME, make.EGSP, start + timedelta(minutes=7 * i), f"L{i}")
            mail.make_mixed()
            mail.attach(email.mime.application.MIMEApplication(blob + i.to_bytes(4, "big"), Name="ledger.pdf"))
            out.write(b"From MAILER-DAEMON Thu Jan  1 00:00:00 2025\n" + mail.as_bytes().replace(b"\nFrom ", b"\n>From ")
                      + b"\n")


def write_sms_mms(path: Path, megabytes: int) -> None:
    """SMS Backup & Restore XML: ``megabytes`` of MMS (1 MB photos) in one run, then the GST SMS
    (a group chat's photos in a row: the reader used to drop records only at an SMS's end)."""
    photo = "A" * 2**20
    with open(path, "w") as out:
        out.write("<?xml version='1.0' encoding='UTF-8'?><smses>")
        for n in range(megabytes):
            out.write(f'<mms date="1735689600{n % 1000:03d}" address="+919800000000"><parts>'
                      f'<part ct="image/jpeg" data="{photo}"/></parts></mms>')
        for n in range(100):
            out.write(f'<sms address="VM-GSTIND" date="1735689600{n:03d}" body="alert {n}"/>')
        out.write("</smses>")


def write_swelling_xlsx(path: Path, megabytes: int) -> None:
    """A real XLSX whose sharedStrings.xml unpacks to about ``megabytes`` MB (deflate packs it
    many times over): openpyxl holds every shared string in memory."""
    import zipfile
    import openpyxl
    plain = path.with_suffix(".plain.xlsx")
    book = openpyxl.Workbook()
    book.active.append(["GSTIN", "Date Time", "ASP Name", "GSP Name", "Status", "API Name", "IP Address"])
    book.save(plain)
    count = megabytes * 2**20 // 60
    strings = "".join(f"<si><t>{make.PUNE} {n:012d} {make.ACME}</t></si>" for n in range(count))
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for item in source.infolist():  # openpyxl writes strings inline: add a shared-string table
            data = source.read(item).decode()
            if item.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace("</Relationships>", '<Relationship Id="rId9" Target="sharedStrings.xml" Type='
                                    '"http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"/>'
                                    "</Relationships>")
            elif item.filename == "[Content_Types].xml":
                data = data.replace("</Types>", '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                                    'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
            out.writestr(item, data)
        out.writestr("xl/sharedStrings.xml", f'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                                             f'count="{count}" uniqueCount="{count}">{strings}</sst>')
    plain.unlink()


CHILD = """
import runpy, sys
sys.argv = ["alertproc", "import", sys.argv[1], sys.argv[2]]
try:
    runpy.run_module("alertproc", run_name="__main__")
except SystemExit as exit:
    assert not exit.code or sys.argv[-1].endswith(".xlsx"), exit.code  # the XLSX case is refused on purpose
# VmHWM, not ru_maxrss: the latter survives exec, so it would report the (large) benchmark
# process that forked this one.
print(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")), file=sys.stderr)
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
        for label, kind, writer, small, large, ending in (
            ("mailbox messages", "mbox", write_mbox, 10_000 // scale, 100_000 // scale, "mbox"),
            ("access-log rows", "access-log", write_log, 100_000 // scale, 1_000_000 // scale, "csv"),
            ("mails of 40 MB", "mbox", write_large_mails, 2 if scale == 1 else 1, 10 if scale == 1 else 3, "mbox"),
            ("MB of MMS in SMS", "sms", write_sms_mms, 50 // scale, 400 // scale, "xml"),
            ("MB of XLSX text", "access-log", write_swelling_xlsx, 14 // scale, 140 // scale, "xlsx"),
        ):
            figures = []
            for size in (small, large):
                path = work / f"{writer.__name__}-{size}.{ending}"
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
