"""Evidence packs: what an auditor asked to "prove it" gets — one zip that checks itself.

A pack holds the requested findings (CSV and JSON, with their triage history), every event
behind them, the portal's access-log and active-token rows among those, every raw mail
behind them exactly as archived (``mail/<sha256>.eml``), the period's HTML report (not in
a one-finding pack: it would show the period's other findings), a ``manifest.json`` and a
``SHA256SUMS`` with the SHA-256 of every file, and a README saying how to check it. Nothing
outside the requested findings goes in.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib.metadata import version
from pathlib import Path

import duckdb

from ..storage.archive import Archive, sha256_hex
from ..errors import ArchiveError, ConfigError
from .files import neutralised, replacing
from ..domain import IST
from ..period import Period, week_of
from ..storage.store import now, records

CHECK_FILES = ("manifest.json", "SHA256SUMS")
README = """alertproc evidence pack
=======================

What is here
  findings.csv, findings.json   the findings this pack was made for, with their triage history
  events.csv                    every event the findings rest on (their event_ids)
  access-log.csv                those of them from the portal's access log (View Logs)
  active-tokens.csv             those of them from the portal's Active Tokens list
  sms.csv                       the SMS behind them, as imported (OTP digits masked)
  mail/<sha256>.eml             every raw mail behind the events, byte for byte as received;
                                the file name is the SHA-256 of its content
  report.html                   the audit report of the period (not in a one-finding pack:
                                it would show the period's other findings)
  manifest.json, SHA256SUMS     the SHA-256 of every other file

How to check it
  alertproc evidence verify {name}
or, without alertproc, in the unpacked folder:
  sha256sum -c SHA256SUMS                 (Linux; macOS: shasum -a 256 -c SHA256SUMS)
and for each mail:  sha256sum mail/*.eml  — each sum must equal the file's name.
A mail can be opened in any mail program; its Authentication-Results and DKIM-Signature
headers show what the receiving server checked.

Selection: {selection}
Made {made} by alertproc {version}.
"""


@dataclass
class Pack:
    """What went into a pack."""

    path: Path
    findings: int = 0
    events: int = 0
    mails: int = 0
    files: dict[str, str] = field(default_factory=dict)  # name -> sha256


def _table(rows: list[dict]) -> bytes:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _plain(v) for k, v in row.items()})
    return out.getvalue().encode()


def _plain(value: object) -> object:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, list):
        return " ".join(map(str, value))
    return neutralised(value)  # a spreadsheet must not run an ASP name as a formula


def select_findings(con: duckdb.DuckDBPyConnection, period: Period | None, finding_id: str | None) -> list[dict]:
    """The findings of ``period``, or the one ``finding_id`` names (its first characters do)."""
    base = ("select finding_id, rule_id, severity, gstin, asp_name, occurred_at, occurred_at_ist, title, detail, "
            "event_ids, first_detected_at, triage_status, triage_note, triage_by, suppressed_until "
            "from findings_triaged ")
    if finding_id:
        found = records(con, base + "where finding_id = ? or finding_id like ? || '%' order by finding_id",
                      [finding_id, finding_id])
        exact = [f for f in found if f["finding_id"] == finding_id]
        if exact:
            return exact
        if len(found) != 1:
            raise ConfigError(f"--finding {finding_id} matches {len(found)} findings; "
                              "give more of its id (`alertproc findings list --status all`)")
        return found
    return records(con, base + "where occurred_at >= ? and occurred_at < ? order by occurred_at, finding_id",
                 [period.since, period.until])


def build(con: duckdb.DuckDBPyConnection, archive: Archive, out: Path, write_report, *,
          period: Period | None = None, finding_id: str | None = None, protected: list[Path] = ()) -> Pack:
    """Write the pack of ``period``'s findings (or of one finding) to ``out``.

    ``write_report(period, path)`` renders the report of a period to a file. A mail whose
    archived copy is missing or altered stops the pack: evidence with a hole is no evidence.
    """
    if (period is None) == (finding_id is None):
        raise ConfigError("give a period (--week, or --since and --until) or --finding, not both")
    findings = select_findings(con, period, finding_id)
    if not findings:
        raise ConfigError("no findings in that selection: nothing to prove (see `alertproc findings list --status all`)")
    single = period is None
    if single:  # one finding: dated by the week it happened in, but without that week's report
        period = week_of((findings[0]["occurred_at"] or findings[0]["first_detected_at"]).astimezone(IST).date())
    event_ids = sorted({e for f in findings for e in (f["event_ids"] or [])})
    events = records(con, "select * from events where event_id in (select unnest(?)) order by occurred_at, event_id",
                   [event_ids])
    history = records(con, "select finding_id, action, note, by_user, triaged_at, until_day from finding_triage "
                         "where finding_id in (select unnest(?)) order by triage_id", [[f["finding_id"] for f in findings]])
    shas = sorted({e["source_sha256"] for e in events if e["source_sha256"]})
    messages = records(con, "select sha256, archive_path from messages where sha256 in (select unnest(?)) "
                          "and archive_path is not null order by sha256", [shas])
    sms = records(con, "select sha256, from_addr as sender, received_at, subject as text, source_ref from messages "
                     "where sha256 in (select unnest(?)) and source = 'sms' order by received_at", [shas])
    files: dict[str, bytes] = {}
    for message in messages:
        raw = archive.read(message["archive_path"])
        if sha256_hex(raw) != message["sha256"]:
            raise ArchiveError(f"the archived copy of {message['sha256'][:12]} ({message['archive_path']}) does not "
                               "match its hash: restore it from a backup before making a pack")
        files[f"mail/{message['sha256']}.eml"] = raw
    for finding in findings:
        finding["triage_history"] = [{k: v for k, v in h.items() if k != "finding_id"}
                                     for h in history if h["finding_id"] == finding["finding_id"]]
    files["findings.json"] = json.dumps(findings, indent=2, default=str, ensure_ascii=False).encode()
    files["findings.csv"] = _table([{k: v for k, v in f.items() if k != "triage_history"} for f in findings])
    files["events.csv"] = _table(events)
    files["access-log.csv"] = _table([e for e in events if e["channel"] == "portal_log"])
    files["active-tokens.csv"] = _table([e for e in events if e["channel"] == "portal_tokens"])
    files["sms.csv"] = _table(sms)  # SMS are stored as read (OTPs masked), not as raw files
    if not single:  # a week's report shows the week's other findings: not for a one-finding pack
        report_tmp = out.parent / f".{out.name}.report.html"
        try:
            write_report(period, report_tmp)
            files["report.html"] = report_tmp.read_bytes()
        finally:
            report_tmp.unlink(missing_ok=True)
    selection = f"finding {findings[0]['finding_id']}" if finding_id else f"findings of {period.label}"
    files["README.txt"] = README.format(name=out.name, selection=selection, made=now().isoformat(timespec="seconds"),
                                        version=version("alertproc")).encode()
    sums = {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())}
    manifest = {"made_at": now().isoformat(), "alertproc": version("alertproc"), "selection": selection,
                "period": {"since": period.since.isoformat(), "until": period.until.isoformat()},
                "findings": [f["finding_id"] for f in findings], "files": sums}
    files["manifest.json"] = json.dumps(manifest, indent=2).encode()
    files["SHA256SUMS"] = "".join(f"{digest}  {name}\n" for name, digest in sums.items()).encode()
    with replacing(out, list(protected)) as temporary:
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as pack:
            for name, data in files.items():
                pack.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data,
                              compress_type=zipfile.ZIP_DEFLATED)
    return Pack(out, len(findings), len(events), len(messages), sums)


@dataclass
class Verification:
    """What ``evidence verify`` found: files checked, and every problem."""

    checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.checked > 0 and not self.problems


MAX_MEMBER = 512 << 20  # a pack's largest file: a report or a mail, far below this


def _plain_relative(name: str) -> bool:
    """A member name that extracts inside the folder it is extracted to, on any system."""
    parts = name.replace("\\", "/").split("/")
    return bool(name) and not name.startswith(("/", "\\")) and ":" not in name and ".." not in parts


def verify(path: Path) -> Verification:
    """Re-check every hash of a pack (without unpacking it anywhere)."""
    result = Verification()
    try:
        pack = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ConfigError(f"{path}: not an evidence pack (not a zip file: {exc})") from None
    with pack:
        infos = pack.infolist()
        names = {info.filename: info for info in infos}
        # What verify reads must be what unzip extracts: zipfile reads the last entry of a name,
        # unzip the first, so a pack with a name twice could hide a forged copy.
        counts = Counter(info.filename for info in infos)
        for name in sorted(n for n, c in counts.items() if c > 1):
            result.problems.append(f"{name}: in the pack more than once (a forged copy could be extracted)")
        for name in sorted(n for n in names if not _plain_relative(n)):
            result.problems.append(f"{name}: not a plain relative name (absolute, '..' or a drive): never extract it")
        if "manifest.json" not in names:
            raise ConfigError(f"{path}: not an evidence pack (no manifest.json)")
        if any(names[n].file_size > MAX_MEMBER for n in CHECK_FILES if n in names):
            raise ConfigError(f"{path}: not an evidence pack (its manifest is larger than any pack's)")
        manifest = json.loads(pack.read("manifest.json"))
        listed: dict[str, str] = manifest.get("files", {})
        sums = pack.read("SHA256SUMS").decode() if "SHA256SUMS" in names else ""
        if sums != "".join(f"{digest}  {name}\n" for name, digest in sorted(listed.items())):
            result.problems.append("SHA256SUMS does not match manifest.json")
        for name in sorted(set(names) - set(listed) - set(CHECK_FILES)):
            result.problems.append(f"{name}: in the pack but not in the manifest")
        for name, digest in sorted(listed.items()):
            info = names.get(name)
            if info is None:
                result.problems.append(f"{name}: listed in the manifest but missing")
                continue
            if info.file_size > MAX_MEMBER:
                result.problems.append(f"{name}: {info.file_size} bytes, larger than any pack file")
                continue
            actual = hashlib.sha256(pack.read(name)).hexdigest()
            result.checked += 1
            if actual != digest:
                result.problems.append(f"{name}: SHA-256 {actual[:16]}… differs from the manifest's {digest[:16]}…")
            elif name.startswith("mail/") and name != f"mail/{actual}.eml":
                result.problems.append(f"{name}: its content's SHA-256 is not its name")
    return result
