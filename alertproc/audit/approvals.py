"""Approvals as recorded decisions (#32): ``alertproc approve`` and ``unapprove`` append to the
``approvals`` table who decided what, when and why; :func:`layered` lays them over the policy
file, in the order they were made, so every rule, the report and ``policy show`` see one
effective policy. The file stays the base: a decision never edits it.

An approval closes what it covers: at the next ``detect``, an ``unexpected_asp`` finding the
rule no longer raises because a decision approved it stays listed, acknowledged with the
decision's note (:func:`close_covered`), so the report's triaged section shows the approval.
Unapproving reopens such a finding when the rule raises it again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

import duckdb

from ..domain import IST, asp_key, gstin_is_valid
from ..errors import ConfigError
from ..storage.store import now, records, scalar
from . import triage
from .policy import Approval, Policy

ACTIONS = ("approve", "unapprove")
CLOSES = ("unexpected_asp",)  # the rules an approval answers
_MARK = "approved by decision #"  # how a closing triage note starts: detect finds its own entries by it


@dataclass(frozen=True)
class Decision:
    approval_id: int
    action: str
    gstin: str
    asp_name: str
    asp_key: str
    valid_from: date | None
    valid_to: date | None
    client: str | None
    note: str
    by_user: str
    decided_at: object

    @property
    def source(self) -> str:
        day = self.decided_at.astimezone(IST).strftime("%d-%m-%Y")
        return f"decision #{self.approval_id} ({self.action}) by {self.by_user} on {day}: {self.note}"


def decisions(con: duckdb.DuckDBPyConnection) -> list[Decision]:
    """Every recorded decision, oldest first."""
    return [Decision(**row) for row in records(con, "select * from approvals order by approval_id")]


def record(con: duckdb.DuckDBPyConnection, action: str, gstins: list[str], asp: str, note: str, by: str,
           valid_from: date | None = None, valid_to: date | None = None, client: str | None = None) -> list[Decision]:
    """Append one decision per GSTIN; return them. A note is required: an auditor reads it."""
    if action not in ACTIONS:
        raise ConfigError(f"unknown decision '{action}' (use approve or unapprove)")
    if not (note or "").strip():
        raise ConfigError("say why with --note: an auditor will read it")
    if not asp_key(asp):
        raise ConfigError("--asp: give the ASP's name as the alerts spell it")
    bad = [g for g in gstins if not gstin_is_valid(g)]
    if bad:
        raise ConfigError(f"--gstin {bad[0]} is not a valid GSTIN (check character)")
    if valid_from and valid_to and valid_to < valid_from:
        raise ConfigError("--until is before --from")
    if action == "unapprove" and valid_from is None:
        valid_from = now().astimezone(IST).date()  # not approved from today on; what happened before stays approved
    # the ASP's one name when alerts or the policy know it (any spelling of it was given)
    known = con.execute("select asp_name from asp_names where asp_key = ?", [asp_key(asp)]).fetchall()
    name = known[0][0] if known and known[0][0] else asp.strip()
    made = []
    for gstin in gstins:
        row = {"approval_id": scalar(con, "select nextval('approval_ids')"), "action": action, "gstin": gstin,
               "asp_name": name, "asp_key": asp_key(asp), "valid_from": valid_from,
               "valid_to": valid_to if action == "approve" else None, "client": client, "note": note.strip(),
               "by_user": by, "decided_at": now()}
        con.execute("insert into approvals values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", list(row.values()))
        made.append(Decision(**row))
    return made


def unseen(con: duckdb.DuckDBPyConnection, gstins: list[str], asp: str) -> list[str]:
    """Warnings for a decision about a GSTIN or ASP no alert has named (allowed: it may be new)."""
    warnings = []
    key = asp_key(asp)
    if not scalar(con, "select count(*) from events where asp_key = ?", [key]):
        warnings.append(f"no alert so far names the ASP '{asp}' (key {key}): check the spelling against "
                        "`alertproc asp list`")
    seen = {row[0] for row in con.execute("select distinct gstin from events where gstin in (select unnest(?))",
                                          [gstins]).fetchall()}
    warnings += [f"no alert so far names GSTIN {g}" for g in gstins if g not in seen]
    return warnings


def _canonical(policy: Policy) -> dict[str, str]:
    """Each key (an approved name or an alias of it) -> the approved name it stands for."""
    names = {}
    for approval in policy.approvals:
        for name in (approval.asp, *approval.aliases):
            names.setdefault(asp_key(name), approval.asp)
    return names


def layered(policy: Policy, made: list[Decision]) -> Policy:
    """``policy`` with the decisions applied in order. An approval adds the ASP for its GSTIN and
    dates; an unapproval ends every approval of that ASP and GSTIN (the file's and earlier
    decisions') the day before its ``valid_from``. Each approval says where it comes from."""
    approvals = list(policy.approvals)
    for decision in made:
        names = _canonical(replace(policy, approvals=approvals))
        name = names.get(decision.asp_key, decision.asp_name)
        if decision.action == "approve":
            approvals.append(Approval(name, (), None, (decision.gstin,), decision.valid_from, decision.valid_to,
                                      source=decision.source))
            continue
        last_day = decision.valid_from - timedelta(days=1)
        kept = []
        for approval in approvals:
            same_asp = names.get(asp_key(approval.asp), approval.asp) == name
            if not same_asp or decision.gstin not in approval.gstins:
                kept.append(approval)
                continue
            others = tuple(g for g in approval.gstins if g != decision.gstin)
            if others:
                kept.append(replace(approval, gstins=others))
            if approval.valid_from is None or approval.valid_from <= last_day:
                end = min(approval.valid_to, last_day) if approval.valid_to else last_day
                kept.append(replace(approval, gstins=(decision.gstin,), valid_to=end,
                                    source=f"{approval.source}; ended by {decision.source}"))
        approvals = kept
    return replace(policy, approvals=approvals)


_BEFORE = "findings_before_rules"  # a temporary table: what CLOSES's rules had found before a detect


def before_rules(con: duckdb.DuckDBPyConnection, made: list[Decision]) -> None:
    """Before a detect's rules run: keep the findings an approval may close (when any decision
    approves), for :func:`after_rules`."""
    if any(d.action == "approve" for d in made):
        con.execute(f"create or replace temp table {_BEFORE} as select * from findings "
                    "where rule_id in (select unnest(?))", [list(CLOSES)])


def after_rules(con: duckdb.DuckDBPyConnection, made: list[Decision]) -> int:
    """After a detect's rules ran: reopen what a withdrawn approval no longer covers, and keep
    listed what an approval closed (:func:`close_covered`). Returns the findings closed now."""
    reopen_withdrawn(con)
    approving = [d for d in made if d.action == "approve"]
    if not approving:
        return 0
    try:
        return close_covered(con, approving)
    finally:
        con.execute(f"drop table {_BEFORE}")


def close_covered(con: duckdb.DuckDBPyConnection, approving: list[Decision]) -> int:
    """Keep listed, acknowledged with the decision's note, every finding kept by
    :func:`before_rules` that the rules no longer raise because a decision of ``approving``
    approved its ASP for its GSTIN on its day. Returns the findings closed now."""
    gone = records(con, f"select b.finding_id, b.gstin, b.asp_name, cast(timezone('Asia/Kolkata', b.occurred_at) as date) "
                        f"as day from {_BEFORE} b where b.finding_id not in (select finding_id from findings)")
    aliases = dict(con.execute("select alias_key, asp_key from policy_asp_aliases").fetchall())
    approved = {(a[0], a[1]) for a in con.execute("select gstin, asp_key from policy_approved_asps").fetchall()}
    closed = 0
    for finding in gone:
        key = aliases.get(asp_key(finding["asp_name"]), asp_key(finding["asp_name"]))
        covering = [d for d in approving if d.gstin == finding["gstin"] and aliases.get(d.asp_key, d.asp_key) == key
                    and (d.valid_from is None or d.valid_from <= finding["day"])
                    and (d.valid_to is None or finding["day"] <= d.valid_to)]
        if not covering or (finding["gstin"], key) not in approved:
            continue  # gone for another reason (the file approves it now, the events were re-read): nothing to say
        con.execute(f"insert into findings select * from {_BEFORE} where finding_id = ?", [finding["finding_id"]])
        decision = covering[-1]
        note = f"{_MARK}{decision.approval_id} ({decision.by_user}): {decision.note}"
        latest = con.execute("select action, note from finding_triage where finding_id = ? order by triage_id desc "
                             "limit 1", [finding["finding_id"]]).fetchall()
        if latest and latest[0] == ("acknowledged", note):
            continue
        if latest and latest[0][0] == "acknowledged":  # acknowledged by hand before: the decision is the newer word
            triage.record(con, finding["finding_id"], "reopened", "closed by an approval", decision.by_user)
        triage.record(con, finding["finding_id"], "acknowledged", note, decision.by_user)
        closed += 1
    return closed


def reopen_withdrawn(con: duckdb.DuckDBPyConnection) -> int:
    """Findings the rules raise again although a decision's approval closed them (it was
    withdrawn, or narrowed): reopened, saying so. Returns how many."""
    rows = con.execute("select finding_id, triage_by from findings_triaged where triage_status = 'acknowledged' "
                       "and starts_with(triage_note, ?) and rule_id in (select unnest(?))",
                       [_MARK, list(CLOSES)]).fetchall()
    for finding_id, by in rows:
        triage.record(con, finding_id, "reopened", "its approval was withdrawn or narrowed: the rule raises it again", by)
    return len(rows)
