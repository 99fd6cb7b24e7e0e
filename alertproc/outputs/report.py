"""The HTML audit report: one self-contained file per week or date range."""

from __future__ import annotations

import functools
import os
import re
from datetime import timedelta
from pathlib import Path

import duckdb
import jinja2

from ..audit import inventory
from ..domain import IST, SEVERITIES
from ..markup import keep_words
from .files import check_target, replacing
from ..period import Period
from ..storage.queries import package_queries
from ..storage.store import now, records

def _rows(con: duckdb.DuckDBPyConnection, name: str, period: Period, extra: dict | None = None) -> list[dict]:
    sql = package_queries("report.sql")[name]
    values = {"since": period.since, "until": period.until, **(extra or {})}
    return records(con, sql, {key: value for key, value in values.items() if f"${key}" in sql})  # DuckDB refuses extras


def _counts(con: duckdb.DuckDBPyConnection, period: Period) -> dict[str, int]:
    counts = {f"findings_{s}": 0 for s in SEVERITIES}
    for row in _rows(con, "event_counts", period):
        key = row["kind"] if row["kind"] != "access_attempt" else f"access_{row['status']}"
        counts[key] = counts.get(key, 0) + row["n"]
    for row in _rows(con, "message_counts", period):
        counts[f"mail_{row['parse_status']}"] = row["n"]
    for row in _rows(con, "finding_counts", period):
        counts[f"findings_{row['severity']}"] = row["n"]
    return counts


LANES = ("refresh", "consent", "revocation", "access successful", "access failed", "access revoked", "api access changed")
CHART_WIDTH, LANE_HEIGHT, CHART_LEFT = 760, 18, 130


def timelines(rows: list[dict], period: Period) -> list[dict]:
    """Per GSTIN, the SVG geometry of its events: one lane per kind, x by time in the period."""
    start, span = period.since.timestamp(), (period.until - period.since).total_seconds()
    days = int(span // 86400)
    charts: dict[str, dict] = {}
    for row in rows:
        chart = charts.setdefault(row["gstin"], {"gstin": row["gstin"], "points": [], "lanes": []})
        if row["lane"] not in chart["lanes"]:
            chart["lanes"].append(row["lane"])
        chart["points"].append(row)
    for chart in charts.values():
        chart["lanes"].sort(key=lambda lane: LANES.index(lane) if lane in LANES else len(LANES))
        chart["height"] = 24 + LANE_HEIGHT * len(chart["lanes"])
        for point in chart["points"]:
            point["x"] = round(CHART_LEFT + (float(point["at_s"]) - start) / span * (CHART_WIDTH - CHART_LEFT), 1)
            point["y"] = 12 + LANE_HEIGHT * chart["lanes"].index(point["lane"])
        chart["days"] = [{"x": round(CHART_LEFT + d / days * (CHART_WIDTH - CHART_LEFT), 1),
                          "label": (period.first_day + timedelta(days=d)).strftime("%a %d")}
                         for d in range(days + 1)] if days <= 31 else []
    return list(charts.values())


# What an evidence item is called in a finding's row, by the channel of its event.
EVIDENCE_LABELS = {"email": "mail", "sms": "SMS", "portal_log": "access-log row", "portal_tokens": "token row",
                   "policy": "policy entry"}
# Evidence rows per finding in the report's evidence section; `alertproc evidence` packs them all.
# A finding of the backlog (from before the period) shows only the rows its findings-table links
# open: a year imported untriaged is 15,000 open findings, and with 50 rows each the report was
# 150 MB at 1 M events.
EVIDENCE_SHOWN, BACKLOG_EVIDENCE_SHOWN = 50, 5


def _evidence(rows: list[dict], link) -> dict[str, list[dict]]:
    """Per finding, each evidence item with what opens it: its archived mail, or its row in
    the report's evidence section (an SMS, an access-log or token row, a policy entry)."""
    found: dict[str, list[dict]] = {}
    for row in rows:
        items = found.setdefault(row["finding_id"], [])
        label = EVIDENCE_LABELS.get(row["channel"], row["channel"] or "event")
        number = sum(item["label"] == label for item in items) + 1
        anchor = f"ev-{row['finding_id'][:12]}-{row['event_id'][:12]}"
        items.append({**row, "label": label, "text": f"{label} {number}", "anchor": anchor,
                      "mail": link(row["archive_path"]) if row["archive_path"] else None,
                      "href": link(row["archive_path"]) if row["archive_path"] else f"#{anchor}"})
    return found


def plain_reason(error: str | None) -> str:
    """Why a mail was not read, in words: "email_token_refreshed_text: no text matching its
    body pattern; ..." becomes what it means for the reader (the format ids stay in the details)."""
    if not error:
        return "No reason was recorded."
    tried = re.findall(r"(?:^|; )[\w.-]+: ([^;]+)", error)
    if tried and len(tried) == error.count(": ") and error.split(":", 1)[0].replace("_", "").isalnum():
        return (f"The subject is a known alert, but the wording of its text matched none of the {len(tried)} "
                "format(s) for it: the portal may have changed the mail. `alertproc explain` on it shows where "
                "the reading stops; a new format file and `alertproc reparse` read it.")
    if error.startswith("GST mail about API access whose subject matches no format"):
        return ("A GST mail about API access whose subject no format knows: a new kind of alert, or new wording "
                "of a known one.")
    if error.startswith("parser error"):
        return "The mail is damaged: its MIME structure could not be read. The raw mail is archived as it came."
    return error


def _client_gstins(rows: list[dict], clients: dict[str, tuple[str, ...]] | None) -> list[dict]:
    """Each client (in the policy's order) with its GSTINs' last alerts; the policy's GSTINs of
    no client under "No client" (or all of them under "Your GSTINs" when there are no clients).
    A client none of whose GSTINs this database holds is left out: a client's copy
    (storage/scoped.py) must not name the others."""
    by_gstin = {row["gstin"]: row for row in rows}
    groups, claimed = [], set()
    for name, gstins in (clients or {}).items():
        held = [by_gstin[g] for g in gstins if g in by_gstin]
        if held:
            groups.append({"name": name, "gstins": held})
        claimed.update(gstins)
    rest = [row for row in rows if row["gstin"] not in claimed]
    if rest:
        groups.append({"name": "No client" if clients else "Your GSTINs", "gstins": rest})
    return groups


def gather(con: duckdb.DuckDBPyConnection, period: Period, archive_root: Path, out_dir: Path,
           rule_notes: dict[str, dict] | None = None, clients: dict[str, tuple[str, ...]] | None = None) -> dict:
    """Everything the template shows, as plain Python values. ``clients``: name -> GSTINs, for
    the section of each client's GSTINs and their last alert."""
    def link(relative: str) -> str:
        return Path(os.path.relpath(archive_root / relative, out_dir)).as_posix()

    findings = _rows(con, "findings", period)
    evidence = _evidence(_rows(con, "evidence", period, {"shown": EVIDENCE_SHOWN, "backlog_shown": BACKLOG_EVIDENCE_SHOWN}), link)
    for finding in findings:
        finding["evidence"] = evidence.get(finding["finding_id"], [])
        finding["key"] = finding["finding_id"][:12]
    unparsed = _rows(con, "unparsed", period)
    suspicious = _rows(con, "suspicious", period)
    forwarded = _rows(con, "forwarded", period)
    for row in unparsed + suspicious + forwarded:
        row["link"] = link(row["archive_path"]) if row["archive_path"] else None
    for row in unparsed:
        row["why"] = plain_reason(row["parse_error"])
    return {
        "evidence_shown": EVIDENCE_SHOWN,
        "finding_totals": _rows(con, "finding_totals", period)[0],
        "rule_notes": rule_notes or {},
        "suspicious": suspicious,
        "forwarded": forwarded,
        "timelines": timelines(_rows(con, "timeline", period), period),
        "inventory": _rows(con, "inventory", period, inventory.source(con, period.since)),
        "coverage": _rows(con, "coverage", period),
        "silent_gstins": _rows(con, "silent_gstins", period),
        "client_gstins": _client_gstins(_rows(con, "last_alerts", period), clients),
        "chart": {"width": CHART_WIDTH, "left": CHART_LEFT, "lane_height": LANE_HEIGHT},
        "period": period,
        "generated_ist": now().astimezone(IST).strftime("%d-%m-%Y %H:%M"),
        "counts": _counts(con, period),
        "previous": _counts(con, period.previous()),
        "severities": SEVERITIES,
        "findings": findings,
        "pairs": _rows(con, "pairs", period),
        "unparsed": unparsed,
        "reconciliation": _rows(con, "reconciliation", period),
        "reconciliation_gaps": _rows(con, "reconciliation_gaps", period),
    }


def environment(templates: Path | list[Path]) -> jinja2.Environment:
    """Jinja2 with autoescaping always on: report content comes from untrusted mail.

    ``templates`` may be several folders: the first that has a file wins (a user's own
    report.css or report.html.j2 over the shipped one). One environment per set of folders is
    kept, so the template compiles once (0.15 s) however many reports a run writes; jinja2
    still reloads a template whose file changed.
    """
    folders = [templates] if isinstance(templates, Path) else templates
    return _environment(tuple(str(f) for f in folders))


@functools.lru_cache(maxsize=8)
def _environment(folders: tuple[str, ...]) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(list(folders)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["words"] = keep_words
    return env


def client_folder(name: str) -> str:
    """The folder of a client's reports under the report folder: its name with anything but
    letters, digits, '.' and '-' made '-' (a policy's client names are checked; never a path)."""
    return re.sub(r"[^\w.-]+", "-", name).strip("-.") or "client"


def write_report(con: duckdb.DuckDBPyConnection, period: Period, templates: Path | list[Path], archive_root: Path,
                 out: Path | None = None, out_dir: Path = Path("reports/out"),
                 rule_notes: dict[str, dict] | None = None, notices: list[str] | None = None,
                 protected: list[Path] = (), client: str | None = None,
                 clients: dict[str, tuple[str, ...]] | None = None) -> Path:
    """Render the report for ``period`` to ``out`` (default ``<out_dir>/alertproc-<period>.html``).

    ``rule_notes`` maps rule ids to their title and description, shown with each finding;
    ``notices`` are shown above the summary (e.g. that approvals were not checked); ``client``
    names the client a report is for (``con`` then holds only its part); ``clients`` groups the
    GSTINs in the section of last alerts (name -> GSTINs). The file
    is written beside ``out`` and renamed over it, never over one of ``protected`` or
    anything but a regular file (:mod:`alertproc.outputs.files`).
    """
    out = out or out_dir / f"alertproc-{period.slug}.html"
    check_target(out, list(protected))
    out.parent.mkdir(parents=True, exist_ok=True)
    context = gather(con, period, archive_root.resolve(), out.parent.resolve(), rule_notes, clients)
    html = environment(templates).get_template("report.html.j2").render(**context, notices=notices or [], client=client)
    with replacing(out, list(protected)) as temporary:
        temporary.write_text(html, encoding="utf-8")
    return out
