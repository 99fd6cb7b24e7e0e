"""``alertproc findings list|ack|suppress|reopen``: triage that survives detect."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import click

from ..app.alertproc import Alertproc
from ..domain import SEVERITIES
from .common import DAY, cli, say, settings_options

BY = click.option("--by", help="Who decides [default: your login name].")


@cli.group()
def findings() -> None:
    """List findings by triage state, and acknowledge, suppress or reopen them.

    The state is kept by finding id in an append-only history (who, when, why), so a
    finding that `detect` computes again keeps it. The report leads with open findings and
    lists acknowledged and suppressed ones apart, with their notes; notifications never
    announce a suppressed one.

    \b
    Example:
      alertproc findings list
      alertproc findings ack 3f2a9c --note "LedgerLine onboarded, PO 4711"
      alertproc findings suppress 3f2a9c --note "vendor migration" --until 31-12-2026
    """


@findings.command("list")
@click.option("--status", type=click.Choice(Alertproc.TRIAGE_STATES), default="open", show_default=True)
@click.option("--severity", type=click.Choice(SEVERITIES), help="Only findings of this severity.")
@click.option("--rule", help="Only this rule's findings.")
@click.option("--gstin", help="Only findings about this GSTIN.")
@click.option("--asp", help="Only findings about an ASP whose name contains this (any case).")
@click.option("--since", type=DAY, help="Only findings from this day (IST), e.g. 01-11-2026.")
@click.option("--until", type=DAY, help="Only findings up to this day (IST), inclusive.")
@click.option("--client", help="Only findings on this client's GSTINs (the policy's clients:).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@settings_options
def findings_list(app: Alertproc, status: str, severity: str | None, rule: str | None, gstin: str | None,
                  asp: str | None, since, until, client: str | None, fmt: str) -> None:
    """Findings in a triage state, most severe and newest first, narrowed as you ask.

    \b
    Example:
      alertproc findings list --severity high
      alertproc findings list --status all --gstin 27AAPFU0939F1ZV --since 01-11-2026 --until 30-11-2026
      alertproc findings list --status all --rule unexpected_asp --format csv > findings.csv
      alertproc findings list --client "Example Traders"
    """
    rows = app.findings(status, rule, severity=severity, gstin=gstin, asp=asp, since=since, until=until, client=client)
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, default=str))
    elif fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["finding_id"])
        writer.writeheader()
        writer.writerows(rows)
        click.echo(out.getvalue(), nl=False)
    elif not rows:
        click.echo(f"no {status if status != 'all' else ''} findings".replace("  ", " ") + " match")
    else:
        click.echo(f"{'FINDING':<12}  {'SEVERITY':<8} {'WHEN (IST)':<16}  {'RULE':<26} TITLE")
        for row in rows:
            extra = (f"  [{row['triage_status']}: {row['triage_note']} — {row['triage_by']}"
                     + (f", until {row['suppressed_until']:%d-%m-%Y}" if row["suppressed_until"] else "") + "]"
                     if row["triage_status"] != "open" else "")
            say(f"{row['finding_id'][:12]}  {row['severity']:<8} {row['occurred_ist']:<16}  {row['rule_id']:<26} "
                f"{row['title']}{extra}")


def _triage(app: Alertproc, finding_id: str, action: str, note: str | None, by: str | None, until: date | None = None):
    entry = app.triage(finding_id, action, note, by, until)
    until_text = f" until {entry['until_day']}" if entry["until_day"] else ""
    click.echo(f"{entry['finding_id']}: {action}{until_text} by {entry['by_user']}")


@findings.command("ack")
@click.argument("finding_id")
@click.option("--note", required=True, help="Why this is accepted (an auditor reads it).")
@BY
@settings_options
def findings_ack(app: Alertproc, finding_id: str, note: str, by: str | None) -> None:
    """Acknowledge a finding: seen, explained, kept on record (the first characters of its id do).

    \b
    Example:
      alertproc findings ack 3f2a9c --note "approved by the CFO on 20-11-2026, policy updated"
    """
    _triage(app, finding_id, "acknowledged", note, by)


@findings.command("suppress")
@click.argument("finding_id")
@click.option("--note", required=True, help="Why it should not be shown or announced.")
@click.option("--until", type=DAY, help="Last day (IST) it stays suppressed, e.g. 31-12-2026 [default: until reopened].")
@BY
@settings_options
def findings_suppress(app: Alertproc, finding_id: str, note: str, until, by: str | None) -> None:
    """Suppress a finding: listed apart in the report, never notified; reopens after --until.

    \b
    Example:
      alertproc findings suppress 3f2a9c --note "known test GSTIN" --until 31-12-2026
    """
    _triage(app, finding_id, "suppressed", note, by, until)


@findings.command("reopen")
@click.argument("finding_id")
@click.option("--note", help="Why (optional).")
@BY
@settings_options
def findings_reopen(app: Alertproc, finding_id: str, note: str | None, by: str | None) -> None:
    """Reopen an acknowledged or suppressed finding.

    \b
    Example:
      alertproc findings reopen 3f2a9c --note "the ASP is active again"
    """
    _triage(app, finding_id, "reopened", note, by)
