"""``alertproc policy draft|show``, ``alertproc approve|unapprove`` and ``alertproc asp
list|merge``: from the first run to a working policy, approvals recorded with who, when and
why, and one name per vendor."""

from __future__ import annotations

from pathlib import Path

import click

from ..app.alertproc import Alertproc
from .common import cli, say, settings_options

_DECISION_OPTIONS = [
    click.option("--gstin", "gstins", multiple=True, metavar="GSTIN", help="A GSTIN the decision covers (repeatable)."),
    click.option("--client", help="Every GSTIN of this client (the policy's clients:)."),
    click.option("--asp", required=True, help="The ASP's name, as alerts spell it (any spelling of it does)."),
    click.option("--note", required=True, help="Why: an auditor reads it (the report's triaged section shows it)."),
    click.option("--by", help="Who decides [default: the login name]."),
]


def _decision_options(command):
    for option in reversed(_DECISION_OPTIONS):
        command = option(command)
    return command


@cli.group()
def policy() -> None:
    """The policy: draft a first one from what the database has seen, or show the one in force.

    \b
    Example:
      alertproc policy draft --out rules/policy.yaml
      alertproc policy show
    """


@policy.command("draft")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("policy-draft.yaml"),
              show_default=True, help="The file to write; never an existing one.")
@settings_options
def policy_draft(app: Alertproc, out: Path) -> None:
    """Write a commented policy from the alerts in the database: every GSTIN (its state, a label
    to fill in) and every ASP seen on each, with first and last seen, counts, GSPs and
    consents. ASPs are "seen, not approved" (commented out): approve one by deleting the '#' of
    its lines. The file loads as a policy as it is.

    \b
    Example:
      alertproc run --source ~/Downloads/gst-alerts/      # import what you have first
      alertproc policy draft --out rules/policy.yaml
    """
    written = app.draft_policy(out)
    say(f"wrote {written}: check it, give each GSTIN a label, approve the ASPs you use, then\n"
        f"  alertproc detect --policy {written}")


@policy.command("show")
@settings_options
def policy_show(app: Alertproc) -> None:
    """Print the policy in force: the policy file with every recorded approval decision laid
    over it, and where each approval comes from (a line of the file, or a decision).

    \b
    Example:
      alertproc policy show
    """
    effective = app.effective_policy()
    say(f"policy file: {effective.path or 'none'}")
    say(f"GSTINs ({len(effective.gstins)}):")
    for gstin, label in effective.gstins.items():
        say(f"  {gstin}  {label or ''}".rstrip())
    say("approved ASPs:")
    for approval in effective.approvals:
        days = (f" from {approval.valid_from:%d-%m-%Y}" if approval.valid_from else "") + \
               (f" until {approval.valid_to:%d-%m-%Y}" if approval.valid_to else "")
        say(f"  {approval.asp} for {', '.join(approval.gstins) or 'no GSTIN'}{days}")
        say(f"      from {approval.source or 'the policy file'}")
    if not effective.approvals:
        say("  none")
    for client in effective.clients.values():
        say(f"client {client.name}: {', '.join(client.gstins)}"
            + (f" (reports to {', '.join(client.report_to)})" if client.report_to else ""))


@cli.command()
@_decision_options
@click.option("--from", "since", metavar="DAY", help="First day approved (IST, e.g. 01-04-2026) [default: always].")
@click.option("--until", metavar="DAY", help="Last day approved [default: no end].")
@settings_options
def approve(app: Alertproc, gstins: tuple[str, ...], client: str | None, asp: str, note: str, by: str | None,
            since: str | None, until: str | None) -> None:
    """Record that an ASP is approved for GSTINs (or a client's), with who, when and why. The
    policy file stays as it is; the decision is laid over it, and the next `detect` closes
    the findings it covers (they show as acknowledged with this note).

    \b
    Example:
      alertproc approve --gstin 27AAPFU0939F1ZV --asp "QuickFile GST Services" --note "e-invoicing, PO 4512"
      alertproc approve --client "Example Traders" --asp "Acme Tax Cloud" --from 01-04-2026 --note "engagement letter"
      alertproc detect
    """
    made, warnings = app.approve(asp, gstins=gstins, client=client, since=since, until=until, note=note, by=by)
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    say(f"recorded: {asp} approved for {', '.join(d.gstin for d in made)} (decision #{made[0].approval_id}"
        + (f" to #{made[-1].approval_id}" if len(made) > 1 else "") + "); `alertproc detect` applies it")


@cli.command()
@_decision_options
@click.option("--from", "since", metavar="DAY", help="First day no longer approved (IST) [default: today].")
@settings_options
def unapprove(app: Alertproc, gstins: tuple[str, ...], client: str | None, asp: str, note: str, by: str | None,
              since: str | None) -> None:
    """Record that an ASP is no longer approved for GSTINs (or a client's) from a day on; what it
    did before stays approved. The next `detect` raises what it does after.

    \b
    Example:
      alertproc unapprove --gstin 27AAPFU0939F1ZV --asp "QuickFile GST Services" --note "contract ended"
    """
    made, warnings = app.unapprove(asp, gstins=gstins, client=client, since=since, note=note, by=by)
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    say(f"recorded: {asp} not approved for {', '.join(d.gstin for d in made)} from "
        f"{made[0].valid_from:%d-%m-%Y} (decision #{made[0].approval_id}); `alertproc detect` applies it")


@cli.group()
def asp() -> None:
    """The ASPs seen: one name per vendor, and spellings to merge.

    \b
    Example:
      alertproc asp list
      alertproc asp merge "Acme Tax Clod" "Acme Tax Cloud Pvt Ltd" --note "typo in GSTN's alerts"
    """


@asp.command("list")
@settings_options
def asp_list(app: Alertproc) -> None:
    """Every ASP seen: its one name, the spellings and GSPs seen with it, how many GSTINs and
    alerts, first and last seen, approved or not; then spellings that look like one vendor
    but that the name key does not merge, as `asp merge` suggestions.

    \b
    Example:
      alertproc asp list
    """
    rows, similar = app.asps()
    for row in rows:
        say(f"{row['asp_name']}  [{'approved' if row['approved'] else 'not approved'}]  key {row['pair_key']}")
        say(f"    {row['gstins']} GSTIN(s), {row['alerts']:,} alert(s), {row['first_ist']} to {row['last_ist']}"
            + (f"; GSP {', '.join(row['gsps'])}" if row["gsps"] else ""))
        others = [s for s in row["spellings"] if s != row["asp_name"]]
        if others:
            say(f"    also spelt: {'; '.join(others)}")
    if not rows:
        say("no ASP seen yet")
    for fewer, more, score in similar:
        say(f"looks like one vendor ({score:.0f}% alike): {fewer['asp_name']} / {more['asp_name']}\n"
            f"    alertproc asp merge \"{fewer['asp_name']}\" \"{more['asp_name']}\" --note \"why\"")


@asp.command("merge")
@click.argument("alias")
@click.argument("into")
@click.option("--note", required=True, help="Why they are one vendor: an auditor reads it.")
@click.option("--by", help="Who decides [default: the login name].")
@settings_options
def asp_merge(app: Alertproc, alias: str, into: str, note: str, by: str | None) -> None:
    """Record that ALIAS is another spelling of INTO. The next `detect` counts them as one ASP:
    rules, reports, exports and queries show one name.

    \b
    Example:
      alertproc asp merge "Acme Tax Clod" "Acme Tax Cloud Pvt Ltd" --note "typo in GSTN's alerts"
      alertproc detect
    """
    merged = app.merge_asp(alias, into, note, by)
    say(f"recorded: {merged['alias_name']} is {merged['asp_name']} (merge #{merged['merge_id']}); "
        "`alertproc detect` applies it")
