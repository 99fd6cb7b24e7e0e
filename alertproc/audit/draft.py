"""``alertproc policy draft``: a first policy written from what the database has seen (#32).

Every GSTIN an alert named (with its state and a label to fill in), and every ASP seen on each
with first and last seen, what it did, its GSPs and its consents' validity. An ASP the current
policy approves is written as approved; every other one as a commented entry, "seen, not
approved": the user approves by deleting the ``#`` of its lines. The file loads as a policy as
it is. Names come from mail, so each is written as a quoted YAML scalar and comments hold no
line break: a hostile ASP name cannot add a line to the policy. Nothing else of a mail (no
body, no address) and no setting or secret goes into it.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict

import duckdb

from ..domain import IST, state_of
from ..storage.queries import package_queries
from ..storage.store import now, records

_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


# What YAML does not take as it is inside a quoted scalar: its line breaks (U+0085, U+2028,
# U+2029) and the characters outside its printable set.
_NOT_YAML_PRINTABLE = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")


def _quoted(value: str) -> str:
    """A YAML double-quoted scalar on one line whatever it holds (JSON's string syntax is
    YAML's; what YAML would read as a line break or refuse is escaped as \\uXXXX)."""
    return _NOT_YAML_PRINTABLE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", json.dumps(value, ensure_ascii=False))


def _said(value: object) -> str:
    """Text for a comment: one line, control characters shown as spaces."""
    return _UNPRINTABLE.sub(" ", str(value))


def draft(con: duckdb.DuckDBPyConnection) -> str:
    queries = package_queries("draft.sql")
    gstins = records(con, queries["gstins"])
    pairs = records(con, queries["pairs"])
    today = now().astimezone(IST).strftime("%d-%m-%Y")
    lines = [
        f"# alertproc policy, drafted on {today} from the alerts in the database (`alertproc policy draft`).",
        "# Check it, then point alertproc at it (policy = \"...\" in alertproc.toml, or --policy FILE).",
        "# To approve an ASP, delete the '#' at the start of the lines of its entry below (keep the",
        "# two spaces before '- asp'). Or record the decision with who and why instead of editing:",
        "#   alertproc approve --gstin GSTIN --asp \"NAME\" --note \"why\"",
        "# Dates are day first (31-12-2026); times without an offset are IST.",
        "",
        "gstins:                         # every GSTIN an alert named; give each a label people know",
    ]
    valid = [g for g in gstins if g["valid"]]
    for g in valid:
        seen = f"{g['alerts']:,} alert(s), {g['first_ist']} to {g['last_ist']}" if g["alerts"] else "no alert seen"
        lines.append(f"  - gstin: {g['gstin']}    # {state_of(g['gstin']) or 'unknown state code'}; {seen}")
        lines.append(f"    label: {_quoted(g['label'])}" if g["label"] else "    label:             # e.g. \"Pune plant\"")
    if not valid:
        lines[-1] = "gstins: []                      # no alert named a valid GSTIN yet"
    for g in (g for g in gstins if not g["valid"]):
        lines.append(f"  # {_said(g['gstin'])}: not a valid GSTIN (check character), in {g['alerts']:,} alert(s): "
                     "a typo in the alert, or a forgery")
    lines += ["", "approved_asps:                  # each ASP seen, per GSTIN it touched"]
    by_asp: dict[str, list[dict]] = defaultdict(list)
    for row in pairs:
        by_asp[row["pair_key"]].append(row)
    for rows in by_asp.values():
        name, gsps = rows[0]["asp_name"], sorted({gsp for r in rows for gsp in (r["gsps"] or [])})
        spellings = sorted({s for r in rows for s in (r["spellings"] or [])} - {name})
        for approved in (True, False):
            mine = [r for r in rows if r["approved"] is approved]
            if not mine:
                continue
            mark = "" if approved else "#"
            lines.append("")
            lines.append(f"  # {_said(name)}: {'approved in the current policy' if approved else 'seen, not approved'}"
                         + (f"; GSP {', '.join(_said(g) for g in gsps)}" if gsps else ""))
            if spellings:
                lines.append(f"  #   also spelt: {'; '.join(_said(s) for s in spellings)}")
            for r in mine:
                consent = (f", last consent valid until {r['consent_until_ist']}" if r["consent_until_ist"]
                           else ", no consent seen")
                lines.append(f"  #   {r['gstin']}: {r['first_ist']} to {r['last_ist']}; {r['refreshes']:,} refresh(es), "
                             f"{r['consents']:,} consent(s), {r['revocations']:,} revocation(s), "
                             f"{r['accesses']:,} portal access(es){consent}")
            lines.append(f"{mark}  - asp: {_quoted(name)}")
            aliases = sorted({a for r in mine for a in (r["aliases"] or [])})
            if aliases:
                lines.append(f"{mark}    aliases: [{', '.join(_quoted(a) for a in aliases)}]")
            if len(gsps) == 1:
                lines.append(f"{mark}    gsp: {_quoted(gsps[0])}")
            lines.append(f"{mark}    gstins: [{', '.join(r['gstin'] for r in mine)}]")
    if not by_asp:
        lines[-1] = "approved_asps: []               # no ASP seen yet"
    lines += [
        "",
        "# A CA firm: group the GSTINs by client, for a report per client (`alertproc report --client NAME`).",
        "# clients:",
        "#   - name: Example Traders",
        "#     gstins: [27AAPFU0939F1ZV]",
        "#     report_to: [accounts@example-traders.in]",
        "",
        "# thresholds: the defaults suit most; see docs/policy.md to change them.",
        "",
    ]
    return "\n".join(lines)
