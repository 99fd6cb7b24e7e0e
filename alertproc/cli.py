"""The ``alertproc`` command: parse options, call one library function, print the outcome.

This module holds the group, the shared options and the import/detect/report commands;
``cli_mailbox`` (fetch, cleanup, watch, status, doctor, init) and ``cli_data`` (sql, export,
rules) add theirs to the same group.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from functools import wraps
from pathlib import Path

import click

from . import pipeline, store
from .config import load_imap, load_optional, load_settings, load_smtp
from .engines import detect_lake
from .errors import AlertprocError, ConfigError
from .fetch import FetchResult
from .ingest import IngestStats
from .mailer import send_report
from .report import choose_period
from .portable import ENGINES
from .rules import SEVERITIES

EXIT_FAILURE, EXIT_USAGE, EXIT_FINDINGS, EXIT_LOCKED = 1, 2, 3, 75


def settings_options(func: Callable) -> Callable:
    """The options every command shares: where the database, archive, policy and rules are."""
    options = [
        click.option("--config", "config", type=click.Path(dir_okay=False), help="TOML config file [default: $ALERTPROC_CONFIG or ./alertproc.toml]"),
        click.option("--db", help="DuckDB database file [default: $ALERTPROC_DB or alertproc.duckdb]"),
        click.option("--archive", help="raw-mail archive folder [default: archive]"),
        click.option("--policy", help="policy file [default: rules/policy.yaml]"),
        click.option("--rules", help="a folder of your own rules (formats/, queries/, tests/ inside) over the shipped ones and ./rules"),
        click.option("--report-dir", help="folder for HTML reports [default: reports/out]"),
    ]
    for option in reversed(options):
        func = option(func)

    @wraps(func)
    def wrapper(config, db, archive, policy, rules, report_dir, **kwargs):
        click.get_current_context().meta["config"] = config
        settings = load_settings(config, db=db, archive=archive, policy=policy, rules=rules, report_dir=report_dir)
        return func(settings=settings, **kwargs)

    return wrapper


@contextmanager
def progress_bar(label: str, length: int | None) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on a terminal; nothing when output goes to a file or cron."""
    if not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=length, label=label, file=sys.stderr, show_pos=True) as bar:
        yield bar.update


def exit_for_findings(severity: str | None, by_severity: dict[str, int]) -> None:
    """Exit with EXIT_FINDINGS when findings at or above ``severity`` exist."""
    if not severity:
        return
    worse = SEVERITIES[: SEVERITIES.index(severity) + 1]
    if any(by_severity.get(s) for s in worse):
        sys.exit(EXIT_FINDINGS)


def print_import(s: IngestStats) -> None:
    """The import part of a summary."""
    click.echo(f"messages: {s.seen} seen, {s.new} new, {s.known} already imported, {s.duplicates} duplicates; "
               f"{s.parsed} parsed, {s.unparsed} unparsed, {s.suspicious} suspicious, {s.not_alerts} not alerts; "
               f"{s.events_new} new events")


def print_filing(result: FetchResult) -> None:
    """The mailbox part of a summary."""
    verb = "would move" if result.plan else "moved"
    click.echo(f"imap {result.account} {result.folder}: {result.candidates} candidates"
               f"{' (rescan after UIDVALIDITY change)' if result.rescan else ''}; {verb} {result.filed} to the "
               f"filed folder, {result.suspicious} to the suspicious folder; {result.left} left in place")


def print_findings(found: pipeline.DetectResult) -> None:
    """The findings part of a summary."""
    click.echo(f"findings: {found.total} ({', '.join(f'{k} {v}' for k, v in sorted(found.by_severity.items())) or 'none'})")
    for rule_id, count in found.by_rule.items():
        click.echo(f"  {rule_id}: {count}")
    if found.skipped:
        click.echo(f"skipped {', '.join(found.skipped)}: {found.notice}")
    for problem in found.problems:
        click.echo(f"warning: {problem}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log progress and show tracebacks on errors.")
@click.version_option(package_name="alertproc")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Turn GST portal API-access alerts into an audit database and weekly report.

    Alerts ("Authentication token refreshed for your GSTIN ...", consent granted, access
    revoked) are archived, parsed into DuckDB, checked against your policy of approved ASPs,
    and summarised in a self-contained HTML report.

    \b
    Example:
      alertproc run --source sample_mailbox
      alertproc sql "select rule_id, count(*) from findings group by 1"
    """
    ctx.obj = {"verbose": verbose}
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


@cli.command()
@click.option("--source", type=click.Path(exists=True, path_type=Path), help="A folder of .eml files, a Maildir, or an mbox file [default: the [imap] account of the config].")
@click.option("--kind", type=click.Choice(["eml", "maildir", "mbox"]), help="Kind of source [default: guessed].")
@click.option("--sms", "sms_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Also import this SMS export (repeatable).")
@click.option("--access-log", "log_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Also import this portal access log, with a GSTIN column (repeatable).")
@click.option("--week", help="Report on this ISO week, e.g. 2026-W47 [default: last complete week].")
@click.option("--fail-on", type=click.Choice(SEVERITIES), help="Exit 3 when findings of this severity or worse exist.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@settings_options
def run(settings, source: Path | None, kind: str | None, sms_files: tuple[Path, ...], log_files: tuple[Path, ...],
        week: str | None, fail_on: str | None, as_json: bool) -> None:
    """Run the whole job: import or fetch mail, detect findings, write the report.

    With --source, local files are imported; without it, the [imap] account of the
    config file is fetched (and alerts filed away), as `alertproc fetch` does.

    \b
    Example:
      alertproc run --source sample_mailbox --week 2026-W47
      alertproc run --source mail/ --sms sms.xml --access-log view-logs.csv
      alertproc run --config /etc/alertproc/alertproc.toml --fail-on high
    """
    period = choose_period(week, None, None)
    config = click.get_current_context().meta["config"]
    imap = None if source else load_imap(config)
    notify_cfg = load_optional(config, "notify")
    smtp = load_optional(config, "smtp") if notify_cfg and notify_cfg.email else None
    with progress_bar("importing" if source else "fetching", None) as progress:
        summary = pipeline.run(settings, source, kind=kind, imap=imap, period=period, progress=progress,
                               sms=sms_files, access_logs=log_files, notify_cfg=notify_cfg, smtp=smtp)
    if as_json:
        click.echo(json.dumps(summary.as_dict(), indent=2, default=str))
    else:
        print_import(summary.imported)
        if summary.fetched:
            print_filing(summary.fetched)
        print_findings(summary.detect)
        if summary.notified:
            click.echo(f"notified: {summary.notified.sent or 'nothing new'}"
                       + (f"; failed: {summary.notified.failed}" if summary.notified.failed else ""))
        click.echo(f"report: {summary.report}")
    exit_for_findings(fail_on, summary.detect.by_severity)


@cli.command("import")
@click.argument("kind", type=click.Choice(["eml", "maildir", "mbox", "sms", "access-log"]))
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--gstin", help="access-log: the GSTIN the log belongs to, when it has no GSTIN column.")
@settings_options
def import_(settings, kind: str, path: Path, gstin: str | None) -> None:
    """Import local files: mail, an SMS export, or a portal access log.

    \b
    KIND is one of:
      eml         a .eml file or a folder of them (searched recursively)
      maildir     a Maildir (with its sub-folders)
      mbox        an mbox file
      sms         SMS Backup & Restore XML, or CSV/XLSX with date, sender and body columns
      access-log  CSV or XLSX saved from Manage API Access > View Logs
    Importing the same file again adds nothing.

    \b
    Example:
      alertproc import maildir ~/Maildir/.GST
      alertproc import sms sms-20261122.xml
      alertproc import access-log view-logs.xlsx --gstin 27AAPFU0939F1ZV
    """
    with pipeline.writing(settings) as con, pipeline.tracked(con, f"import {kind}", str(path)) as run_id:
        with progress_bar("importing", None) as progress:
            if kind == "access-log":
                log = pipeline.import_access_log_file(con, settings, path, gstin, run_id, progress)
            elif kind == "sms":
                stats = pipeline.import_sms_file(con, settings, path, run_id, progress)
            else:
                stats = pipeline.import_mail(con, settings, path, kind, run_id, progress)
    if kind == "access-log":
        click.echo(f"rows: {log.rows}, {log.events_new} new events, {log.known} already imported, {log.rejected} rejected")
        for problem in log.problems:
            click.echo(f"  rejected {problem}", err=True)
    elif kind == "sms":
        click.echo(f"sms: {stats.seen} read, {stats.new} new from GST senders, {stats.known} already imported; "
                   f"{stats.parsed} parsed, {stats.unparsed} unparsed, {stats.not_alerts} not alerts; {stats.events_new} new events")
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
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Output file [default: <report-dir>/alertproc-<period>.html].")
@click.option("--mail-to", "mail_to", multiple=True, help="Also send the report to this address (repeatable; needs [smtp] in the config).")
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
    smtp = load_smtp(click.get_current_context().meta["config"]) if mail_to else None
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
    click.echo(f"reparsed {s.seen}: {s.parsed} parsed, {s.unparsed} unparsed, {s.not_alerts} not alerts; {s.events_new} new events")


# The other command modules register themselves on ``cli`` when imported.
from . import cli_data, cli_formats, cli_mailbox  # noqa: E402,F401

def main() -> None:
    """Entry point: run the CLI and turn alertproc errors into one-line messages and exit codes."""
    verbose = "-v" in sys.argv[1:] or "--verbose" in sys.argv[1:]
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_FAILURE)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except AlertprocError as exc:
        if verbose:
            traceback.print_exc()
        click.echo(f"alertproc: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # a bug or an environment problem: say so in one line for cron mail
        if verbose:
            raise
        click.echo(f"alertproc: unexpected error: {type(exc).__name__}: {exc} (rerun with -v for details)", err=True)
        sys.exit(EXIT_FAILURE)
