"""``alertproc evidence``: a self-checking zip of findings and every mail and row behind them."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..app.alertproc import Alertproc
from .common import DAY, EXIT_FAILURE, cli, settings_options


@cli.group(invoke_without_command=True)
@click.option("--week", help="The findings of this ISO week, e.g. 2026-W47.")
@click.option("--since", type=DAY, help="First day (IST) of a period, e.g. 01-11-2026; with --until.")
@click.option("--until", type=DAY, help="Last day (IST), inclusive.")
@click.option("--finding", "finding_id", help="One finding (the first characters of its id do).")
@click.option("--client", help="Only this client's GSTINs (the policy's clients:), nothing of the others.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="The zip to write, e.g. pack.zip.")
@settings_options
@click.pass_context
def evidence(ctx: click.Context, app: Alertproc, week: str | None, since, until,
             finding_id: str | None, client: str | None, out: Path | None) -> None:
    """Make an evidence pack: the findings, every raw mail and portal row behind them, the
    period's report (not for one --finding), and the SHA-256 of every file; `evidence verify`
    checks one.

    The mails are the archived bytes as received (mail/<sha256>.eml). Nothing outside the
    requested findings goes in. A mail whose archived copy fails its hash stops the pack.

    \b
    Example:
      alertproc evidence --since 01-11-2026 --until 30-11-2026 --out gst-november.zip
      alertproc evidence --finding 3f2a9c --out finding.zip
      alertproc evidence --week 2026-W47 --client "Example Traders" --out traders-w47.zip
      alertproc evidence verify gst-november.zip
    """
    if ctx.invoked_subcommand is not None:
        return
    if out is None:
        raise click.UsageError("--out is required, e.g. --out pack.zip")
    pack = app.evidence(out, week=week, since=since, until=until, finding=finding_id, client=client)
    click.echo(f"wrote {pack.path}: {pack.findings} finding(s), {pack.events} event(s), {pack.mails} mail(s), "
               f"{len(pack.files)} files with their SHA-256; check it with `alertproc evidence verify {pack.path}`")


@evidence.command("verify")
@click.argument("pack", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def evidence_verify(pack: Path) -> None:
    """Check every file of an evidence pack against its manifest (exit 1 if any differs).

    \b
    Example:
      alertproc evidence verify gst-november.zip
    """
    result = Alertproc.verify_evidence(pack)
    for problem in result.problems:
        click.echo(f"FAIL {problem}")
    if not result.ok:
        click.echo(f"{pack}: NOT intact ({len(result.problems)} problem(s))")
        sys.exit(EXIT_FAILURE)
    click.echo(f"{pack}: intact, {result.checked} files match their SHA-256")
