"""``alertproc run``, ``import``, ``detect``, ``report`` and ``reparse``: the pipeline's jobs."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from datetime import date
from pathlib import Path

import click

from ..app.alertproc import Alertproc
from ..app.inputs import INPUTS, MAIL_KINDS
from ..domain import IST, SEVERITIES
from .common import (DAY, EXIT_FAILURE, MOMENT, cli, exit_for_findings, print_filing, print_findings, print_import, progress_bar,
                     say, settings_options)


# `run`'s option for each registered input that has one (alertproc.app.inputs), by parameter name.
RUN_INPUTS = {f"input_{one.kind.replace('-', '_')}": one for one in INPUTS.values() if one.run_option}


def input_options(func):
    """``--sms``, ``--access-log``, ``--tokens``: one repeatable option of `run` for every
    registered input that has one."""
    for name, one in reversed(RUN_INPUTS.items()):
        func = click.option(f"--{one.run_option}", name, multiple=True,
                            type=click.Path(exists=True, dir_okay=False, path_type=Path),
                            help=f"Also import this {one.noun} (repeatable).")(func)
    return func


@cli.command()
@click.option("--source", type=click.Path(exists=True, path_type=Path),
              help="A folder of .eml files, a Maildir, or an mbox file [default: the [imap] account of the config].")
@click.option("--kind", type=click.Choice(MAIL_KINDS), help="Kind of source [default: guessed].")
@input_options
@click.option("--week", help="Report on this ISO week, e.g. 2026-W47 [default: last complete week].")
@click.option("--fail-on", type=click.Choice(SEVERITIES), help="Exit 3 when findings of this severity or worse exist.")
@click.option("--no-file-away", is_flag=True, help="Fetch, archive and load, but move nothing on the server.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@settings_options
def run(app: Alertproc, source: Path | None, kind: str | None, week: str | None, fail_on: str | None,
        no_file_away: bool, as_json: bool, **inputs: tuple[Path, ...]) -> None:
    """Run the whole job: import or fetch mail, detect findings, write the report.

    With --source, local files are imported; without it, every [imap] / [[imap]] account
    of the config file is fetched (and alerts filed away), as `alertproc fetch` does. An
    account that fails is named and the others go on; the exit code is then 1.

    \b
    Example:
      alertproc run --source sample_mailbox --week 2026-W47
      alertproc run --source mail/ --sms sms.xml --access-log view-logs.csv --tokens active-tokens.csv
      alertproc run --config /etc/alertproc/alertproc.toml --fail-on high
    """
    with progress_bar("importing" if source else "fetching", None) as progress:
        summary = app.run(source, kind, week=week, file_away=not no_file_away, progress=progress,
                          inputs={RUN_INPUTS[name].kind: list(paths) for name, paths in inputs.items()})
    if as_json:
        click.echo(json.dumps(summary.as_dict(), indent=2, default=str))
    else:
        print_import(summary.imported)
        for fetched in summary.fetched:
            print_filing(fetched)
        print_findings(summary.detect)
        if summary.notified:
            say(f"notified: {summary.notified.sent or 'nothing new'}"
                + (f"; failed: {summary.notified.failed}" if summary.notified.failed else ""))
        click.echo(f"report: {summary.report}")
        if summary.client_reports:
            folder = next(iter(summary.client_reports.values())).parent.parent
            click.echo(f"client reports: {len(summary.client_reports)}, one folder each in {folder}")
    for name, why in summary.failed.items():
        say(f"alertproc: error: mailbox {name} was not synced: {why}", err=True)
    if summary.failed:
        sys.exit(EXIT_FAILURE)  # before findings: a mailbox not read means the findings are incomplete
    exit_for_findings(fail_on, summary.detect.by_severity)


def _with_option(option: str) -> str:
    return " and ".join(f"`import {i.kind}`" for i in INPUTS.values() if option in i.options)


KINDS_HELP = "\n".join(f"  {one.kind:<11} {one.describe}" for one in INPUTS.values())
IMPORT_HELP = f"""Import local files: mail, an SMS export, or a portal access log.

\b
KIND is one of:
{KINDS_HELP}

Importing the same file again adds nothing. Only --file-away changes the source.

\b
Example:
  alertproc import maildir ~/Maildir/.GST
  alertproc import maildir ~/Maildir --file-away --dry-run
  alertproc import sms sms-20261122.xml
  alertproc import access-log view-logs.xlsx --gstin 27AAPFU0939F1ZV
  alertproc import tokens active-tokens.csv --gstin 27AAPFU0939F1ZV --taken-at "30-11-2026 10:15"
"""


@cli.command("import", help=IMPORT_HELP)
@click.argument("kind", type=click.Choice(list(INPUTS)))
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--gstin", help="access-log, tokens: the GSTIN the file belongs to, when it has no GSTIN column.")
@click.option("--taken-at", type=MOMENT,
              help="tokens: when the list was shown on the portal, in IST, e.g. \"30-11-2026 10:15\" "
                   "[default: the file's modification time].")
@click.option("--file-away", is_flag=True, help="maildir: move alerts into its folders .GST.Token alerts and "
                                                 ".GST.Suspicious, as a fetch does on IMAP.")
@click.option("--dry-run", is_flag=True, help="With --file-away: show what would be moved; change nothing.")
@settings_options
def import_(app: Alertproc, kind: str, path: Path, gstin: str | None, taken_at, file_away: bool, dry_run: bool) -> None:
    if taken_at is not None and "taken_at" not in INPUTS[kind].options:
        raise click.UsageError(f"--taken-at is for {_with_option('taken_at')} only")
    if (file_away or dry_run) and kind != "maildir":
        raise click.UsageError("--file-away and --dry-run are for `import maildir` only")
    if dry_run and not file_away:
        raise click.UsageError("--dry-run shows what --file-away would move: give both")
    if file_away:
        result = app.file_maildir(path, dry_run=dry_run)
        print_filing(result)
        for row in result.plan:
            click.echo(f"  {row['action']:<10} {row['uid']}  {row['subject']}")
        if not dry_run:
            print_import(result.imported)
        return
    options = {name: value for name, value in (("gstin", gstin), ("taken_at", taken_at))
               if name in INPUTS[kind].options}
    with progress_bar("importing", None) as progress:
        result = app.import_file(kind, path, progress, **options)
    if kind == "tokens":
        seen = f"{result.taken_at.astimezone(IST):%d-%m-%Y %H:%M} IST" if result.taken_at else "unknown"
        click.echo(f"tokens: {result.rows} rows as of {seen} (from {result.taken_from}), {result.events_new} new, "
                   f"{result.known} already imported, {result.rejected} rejected")
    elif kind == "access-log":
        click.echo(f"rows: {result.rows}, {result.events_new} new events, {result.known} already imported, "
                   f"{result.rejected} rejected")
    elif kind == "sms":
        click.echo(f"sms: {result.seen} read, {result.new} new from GST senders, {result.known} already imported; "
                   f"{result.parsed} parsed, {result.unparsed} unparsed, {result.not_alerts} not alerts; "
                   f"{result.events_new} new events")
    else:
        print_import(result)
    for problem in getattr(result, "problems", ()):
        click.echo(f"  rejected {problem}", err=True)


@cli.command()
@click.option("--fail-on", type=click.Choice(SEVERITIES), help="Exit 3 when findings of this severity or worse exist.")
@click.option("--lake", help="Run on this Parquet lake (from `export lake`) instead of the database; "
                             "new finding versions are added to <lake>/findings.")
@click.option("--engine", type=click.Choice(Alertproc.ENGINES), default="duckdb", show_default=True,
              help="Engine for --lake: DuckDB on this machine, or Spark (needs the 'spark' extra).")
@click.option("--spark-master", help="Spark master URL, e.g. yarn or spark://host:7077 [default: what spark-submit "
                                     "set, else local[*]].")
@click.option("--json", "as_json", is_flag=True, help="Print the findings summary as JSON.")
@settings_options
def detect(app: Alertproc, fail_on: str | None, lake: str | None, engine: str, spark_master: str | None,
           as_json: bool) -> None:
    """Recompute findings from the events with every rule in the rules folder.

    With --lake the rules read a Parquet lake written by `alertproc export lake` (on this
    machine with DuckDB, or on Spark, where the rule SQL is transpiled by sqlglot) and the
    findings are added to the lake, not to the database. See docs/scale.md.

    \b
    Example:
      alertproc detect --policy rules/policy.yaml --fail-on high
      alertproc detect --lake /data/gst-lake --engine spark
    """
    found = app.detect(lake=lake, engine=engine, spark_master=spark_master)
    if as_json:
        click.echo(json.dumps(asdict(found)))
    else:
        print_findings(found)
        if found.lake_findings_added is not None:
            click.echo(f"lake {lake}: {found.lake_findings_added} new finding version(s) added")
    exit_for_findings(fail_on, found.by_severity)


@cli.command()
@click.option("--week", help="ISO week, e.g. 2026-W47 [default: last complete week, IST].")
@click.option("--since", type=DAY, help="First day (IST), e.g. 01-11-2026; use with --until.")
@click.option("--until", type=DAY, help="Last day (IST), inclusive, e.g. 30-11-2026.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Output file [default: <report-dir>/alertproc-<period>.html].")
@click.option("--mail-to", "mail_to", multiple=True,
              help="Also send the report to this address (repeatable; needs [smtp] in the config).")
@click.option("--client", help="Only this client's GSTINs (the policy's clients:), nothing of the others.")
@click.option("--every-client", is_flag=True, help="Write each client's report (as `run` does), mailing each "
                                                   "to its report_to when [smtp] is set.")
@settings_options
def report(app: Alertproc, week: str | None, since: date | None, until: date | None, out: Path | None,
           mail_to: tuple[str, ...], client: str | None, every_client: bool) -> None:
    """Write the HTML audit report for a week or a date range.

    One self-contained file (no network requests), readable printed. With --mail-to it
    is also sent as an HTML mail with the file attached, through the [smtp] server. With
    --client it holds that client's GSTINs only, in <report-dir>/<client>/.

    \b
    Example:
      alertproc report --week 2026-W47
      alertproc report --since 01-11-2026 --until 30-11-2026 --out november.html
      alertproc report --client "Example Traders" --mail-to accounts@example-traders.in
      alertproc report --week 2026-W47 --every-client
      alertproc report --mail-to audit@example.com --config /etc/alertproc/alertproc.toml
    """
    if every_client:
        if client or out or mail_to:
            raise click.UsageError("--every-client writes each client's report where `run` does: "
                                   "leave out --client, --out and --mail-to")
        with progress_bar("client reports", None) as progress:
            written = app.client_reports(week, since, until, progress)
        click.echo(f"client reports: {len(written)}, one folder each in {app.settings.report_dir}")
        return
    path = app.report(week, since, until, out, mail_to=mail_to, client=client)
    click.echo(f"report: {path}")
    if mail_to:
        click.echo(f"sent to {', '.join(mail_to)}")


@cli.command()
@click.option("--all", "everything", is_flag=True, help="Also re-read alerts that parsed before.")
@settings_options
def reparse(app: Alertproc, everything: bool) -> None:
    """Parse archived mail again with the current formats (nothing is fetched).

    After adding a format file to rules/formats/, unparsed alerts that now match become
    events. Nothing is duplicated. Run `alertproc detect` afterwards.

    \b
    Example:
      alertproc reparse && alertproc detect
    """
    with progress_bar("reparsing", None) as progress:
        s = app.reparse(everything, progress)
    click.echo(f"reparsed {s.seen}: {s.parsed} parsed, {s.unparsed} unparsed, {s.not_alerts} not alerts; "
               f"{s.events_new} new events")
