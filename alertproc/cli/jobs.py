"""``alertproc run``, ``import``, ``detect``, ``report`` and ``reparse``: the pipeline's jobs."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

import click

from .. import pipeline
from ..storage import store
from ..domain import SEVERITIES
from ..lake.engines import detect_lake
from ..errors import ConfigError
from ..outputs.mailer import send_report
from ..lake import ENGINES
from ..period import choose_period
from .common import (EXIT_FAILURE, cli, loaded_config, exit_for_findings, print_filing, print_findings, print_import,
                     progress_bar, say, settings_options)


@cli.command()
@click.option("--source", type=click.Path(exists=True, path_type=Path),
              help="A folder of .eml files, a Maildir, or an mbox file [default: the [imap] account of the config].")
@click.option("--kind", type=click.Choice(["eml", "maildir", "mbox"]), help="Kind of source [default: guessed].")
@click.option("--sms", "sms_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Also import this SMS export (repeatable).")
@click.option("--access-log", "log_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Also import this portal access log, with a GSTIN column (repeatable).")
@click.option("--tokens", "token_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Also import this Active Tokens list, with a GSTIN column (repeatable).")
@click.option("--week", help="Report on this ISO week, e.g. 2026-W47 [default: last complete week].")
@click.option("--fail-on", type=click.Choice(SEVERITIES), help="Exit 3 when findings of this severity or worse exist.")
@click.option("--no-file-away", is_flag=True, help="Fetch, archive and load, but move nothing on the server.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@settings_options
def run(settings, source: Path | None, kind: str | None, sms_files: tuple[Path, ...], log_files: tuple[Path, ...],
        token_files: tuple[Path, ...], week: str | None, fail_on: str | None, no_file_away: bool, as_json: bool) -> None:
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
    period = choose_period(week, None, None)
    config = loaded_config()
    accounts = () if source else config.imap_accounts()
    notify_cfg = config.notify
    smtp = config.smtp if notify_cfg and notify_cfg.email else None
    with progress_bar("importing" if source else "fetching", None) as progress:
        summary = pipeline.run(settings, source, kind=kind, accounts=accounts, period=period, progress=progress,
                               sms=sms_files, access_logs=log_files, notify_cfg=notify_cfg, smtp=smtp,
                               file_away=not no_file_away, tokens=token_files)
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
    for name, why in summary.failed.items():
        say(f"alertproc: error: mailbox {name} was not synced: {why}", err=True)
    if summary.failed:
        sys.exit(EXIT_FAILURE)  # before findings: a mailbox not read means the findings are incomplete
    exit_for_findings(fail_on, summary.detect.by_severity)


@cli.command("import")
@click.argument("kind", type=click.Choice(["eml", "maildir", "mbox", "sms", "access-log", "tokens"]))
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--gstin", help="access-log, tokens: the GSTIN the file belongs to, when it has no GSTIN column.")
@click.option("--taken-at", type=click.DateTime(["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"]),
              help="tokens: when the list was shown on the portal, in IST [default: the file's modification time].")
@click.option("--file-away", is_flag=True, help="maildir: move alerts into its folders .GST.Token alerts and "
                                                 ".GST.Suspicious, as a fetch does on IMAP.")
@click.option("--dry-run", is_flag=True, help="With --file-away: show what would be moved; change nothing.")
@settings_options
def import_(settings, kind: str, path: Path, gstin: str | None, taken_at, file_away: bool, dry_run: bool) -> None:
    """Import local files: mail, an SMS export, or a portal access log.

    \b
    KIND is one of:
      eml         a .eml file or a folder of them (searched recursively)
      maildir     a Maildir (with its sub-folders)
      mbox        an mbox file
      sms         SMS Backup & Restore XML, or CSV/XLSX with date, sender and body columns
      access-log  CSV or XLSX saved from Manage API Access > View Logs
      tokens      CSV or XLSX of Manage API Access > Active Tokens (a snapshot of who holds a token)
    Importing the same file again adds nothing. Only --file-away changes the source.

    \b
    Example:
      alertproc import maildir ~/Maildir/.GST
      alertproc import maildir ~/Maildir --file-away --dry-run
      alertproc import sms sms-20261122.xml
      alertproc import access-log view-logs.xlsx --gstin 27AAPFU0939F1ZV
      alertproc import tokens active-tokens.csv --gstin 27AAPFU0939F1ZV --taken-at "2026-11-30 10:15"
    """
    if taken_at is not None and kind != "tokens":
        raise click.UsageError("--taken-at is for `import tokens` only")
    if (file_away or dry_run) and kind != "maildir":
        raise click.UsageError("--file-away and --dry-run are for `import maildir` only")
    if dry_run and not file_away:
        raise click.UsageError("--dry-run shows what --file-away would move: give both")
    if file_away:
        result = pipeline.file_maildir_job(settings, path, dry_run=dry_run)
        print_filing(result)
        for row in result.plan:
            click.echo(f"  {row['action']:<10} {row['uid']}  {row['subject']}")
        if not dry_run:
            print_import(result.imported)
        return
    with pipeline.writing(settings) as con, pipeline.tracked(con, f"import {kind}", str(path)) as run_id:
        with progress_bar("importing", None) as progress:
            if kind == "tokens":
                tokens = pipeline.import_tokens_file(con, path, gstin, taken_at, run_id)
            elif kind == "access-log":
                log = pipeline.import_access_log_file(con, settings, path, gstin, run_id, progress)
            elif kind == "sms":
                stats = pipeline.import_sms_file(con, settings, path, run_id, progress)
            else:
                stats = pipeline.import_mail(con, settings, path, kind, run_id, progress)
    if kind == "tokens":
        click.echo(f"tokens: {tokens.rows} rows as of {tokens.taken_at:%Y-%m-%d %H:%M} UTC, {tokens.events_new} new, "
                   f"{tokens.known} already imported, {tokens.rejected} rejected")
        for problem in tokens.problems:
            click.echo(f"  rejected {problem}", err=True)
    elif kind == "access-log":
        click.echo(f"rows: {log.rows}, {log.events_new} new events, {log.known} already imported, {log.rejected} rejected")
        for problem in log.problems:
            click.echo(f"  rejected {problem}", err=True)
    elif kind == "sms":
        click.echo(f"sms: {stats.seen} read, {stats.new} new from GST senders, {stats.known} already imported; "
                   f"{stats.parsed} parsed, {stats.unparsed} unparsed, {stats.not_alerts} not alerts; "
                   f"{stats.events_new} new events")
    else:
        print_import(stats)


@cli.command()
@click.option("--fail-on", type=click.Choice(SEVERITIES), help="Exit 3 when findings of this severity or worse exist.")
@click.option("--lake", help="Run on this Parquet lake (from `export lake`) instead of the database; "
                             "new finding versions are added to <lake>/findings.")
@click.option("--engine", type=click.Choice(ENGINES), default="duckdb", show_default=True,
              help="Engine for --lake: DuckDB on this machine, or Spark (needs the 'spark' extra).")
@click.option("--spark-master", help="Spark master URL, e.g. yarn or spark://host:7077 [default: what spark-submit "
                                     "set, else local[*]].")
@click.option("--json", "as_json", is_flag=True, help="Print the findings summary as JSON.")
@settings_options
def detect(settings, fail_on: str | None, lake: str | None, engine: str, spark_master: str | None, as_json: bool) -> None:
    """Recompute findings from the events with every rule in the rules folder.

    With --lake the rules read a Parquet lake written by `alertproc export lake` (on this
    machine with DuckDB, or on Spark, where the rule SQL is transpiled by sqlglot) and the
    findings are added to the lake, not to the database. See docs/scale.md.

    \b
    Example:
      alertproc detect --policy rules/policy.yaml --fail-on high
      alertproc detect --lake /data/gst-lake --engine spark
    """
    if lake is None and (engine != "duckdb" or spark_master):
        raise ConfigError("--engine spark and --spark-master run the rules on a lake: add --lake DIR "
                          "(write one with `alertproc export lake --out DIR`)")
    if lake is not None:
        found = detect_lake(settings, lake, engine, spark_master)
    else:
        with pipeline.writing(settings) as con, pipeline.tracked(con, "detect", None):
            found = pipeline.detect(con, settings)
    if as_json:
        click.echo(json.dumps(asdict(found)))
    else:
        print_findings(found)
        if found.lake_findings_added is not None:
            click.echo(f"lake {lake}: {found.lake_findings_added} new finding version(s) added")
    exit_for_findings(fail_on, found.by_severity)


@cli.command()
@click.option("--week", help="ISO week, e.g. 2026-W47 [default: last complete week, IST].")
@click.option("--since", help="First day (IST), e.g. 2026-11-01; use with --until.")
@click.option("--until", help="Last day (IST), inclusive.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Output file [default: <report-dir>/alertproc-<period>.html].")
@click.option("--mail-to", "mail_to", multiple=True,
              help="Also send the report to this address (repeatable; needs [smtp] in the config).")
@settings_options
def report(settings, week: str | None, since: str | None, until: str | None, out: Path | None,
           mail_to: tuple[str, ...]) -> None:
    """Write the HTML audit report for a week or a date range.

    One self-contained file (no network requests), readable printed. With --mail-to it
    is also sent as an HTML mail with the file attached, through the [smtp] server.

    \b
    Example:
      alertproc report --week 2026-W47
      alertproc report --since 2026-11-01 --until 2026-11-30 --out november.html
      alertproc report --mail-to audit@example.com --config /etc/alertproc/alertproc.toml
    """
    smtp = loaded_config().smtp_server() if mail_to else None
    period = choose_period(week, since, until)
    con = store.connect(settings.db, read_only=True)
    try:
        path = pipeline.report(con, settings, period, out)
    finally:
        con.close()
    click.echo(f"report: {path}")
    if smtp:
        send_report(smtp, path, list(mail_to), f"GST API access audit {period.label}", dict(os.environ))
        click.echo(f"sent to {', '.join(mail_to)}")


@cli.command()
@click.option("--all", "everything", is_flag=True, help="Also re-read alerts that parsed before.")
@settings_options
def reparse(settings, everything: bool) -> None:
    """Parse archived mail again with the current formats (nothing is fetched).

    After adding a format file to rules/formats/, unparsed alerts that now match become
    events. Nothing is duplicated. Run `alertproc detect` afterwards.

    \b
    Example:
      alertproc reparse && alertproc detect
    """
    with pipeline.writing(settings) as con, pipeline.tracked(con, "reparse", None) as run_id:
        with progress_bar("reparsing", None) as progress:
            s = pipeline.reparse(con, settings, everything, progress)
        pipeline.record_stats(con, run_id, s)
    click.echo(f"reparsed {s.seen}: {s.parsed} parsed, {s.unparsed} unparsed, {s.not_alerts} not alerts; "
               f"{s.events_new} new events")
