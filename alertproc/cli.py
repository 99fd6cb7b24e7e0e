"""The ``alertproc`` command: parse options, call one library function, print the outcome."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path

import click

from . import pipeline, store
from .config import load_settings
from .ingest import IngestStats
from .errors import AlertprocError, ConfigError, LockedError
from .report import choose_period
from .rules import SEVERITIES

EXIT_FAILURE, EXIT_USAGE, EXIT_FINDINGS, EXIT_LOCKED = 1, 2, 3, 75


def settings_options(func: Callable) -> Callable:
    """The options every command shares: where the database, archive, policy and rules are."""
    options = [
        click.option("--config", "config", type=click.Path(dir_okay=False), help="TOML config file [default: $ALERTPROC_CONFIG or ./alertproc.toml]"),
        click.option("--db", help="DuckDB database file [default: $ALERTPROC_DB or alertproc.duckdb]"),
        click.option("--archive", help="raw-mail archive folder [default: archive]"),
        click.option("--policy", help="policy file [default: rules/policy.yaml]"),
        click.option("--rules", help="rules folder with formats/ inside [default: ./rules or the shipped rules]"),
        click.option("--report-dir", help="folder for HTML reports [default: reports/out]"),
    ]
    for option in reversed(options):
        func = option(func)

    @wraps(func)
    def wrapper(config, db, archive, policy, rules, report_dir, **kwargs):
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


def fail_on(severity: str | None, by_severity: dict[str, int]) -> None:
    """Exit with EXIT_FINDINGS when findings at or above ``severity`` exist."""
    if not severity:
        return
    worse = SEVERITIES[: SEVERITIES.index(severity) + 1]
    if any(by_severity.get(s) for s in worse):
        sys.exit(EXIT_FINDINGS)


def print_import(s: IngestStats) -> None:
    """The import part of a summary."""
    click.echo(f"messages: {s.seen} seen, {s.new} new, {s.known} already imported, {s.duplicates} duplicates; "
               f"{s.parsed} parsed, {s.unparsed} unparsed, {s.ignored} not alerts; {s.events_new} new events")


def print_findings(found: pipeline.DetectResult) -> None:
    """The findings part of a summary."""
    click.echo(f"findings: {found.total} ({', '.join(f'{k} {v}' for k, v in sorted(found.by_severity.items())) or 'none'})")
    for rule_id, count in found.by_rule.items():
        click.echo(f"  {rule_id}: {count}")
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
@click.option("--source", required=True, type=click.Path(exists=True, path_type=Path), help="A folder of .eml files, a Maildir, or an mbox file.")
@click.option("--kind", type=click.Choice(["eml", "maildir", "mbox"]), help="Kind of source [default: guessed].")
@click.option("--week", help="Report on this ISO week, e.g. 2026-W47 [default: last complete week].")
@click.option("--fail-on", type=click.Choice(SEVERITIES), help="Exit 3 when findings of this severity or worse exist.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@settings_options
def run(settings, source: Path, kind: str | None, week: str | None, fail_on: str | None, as_json: bool) -> None:
    """Run the whole job: import mail, detect findings, write the report.

    \b
    Example:
      alertproc run --source sample_mailbox --week 2026-W47
    """
    period = choose_period(week, None, None)
    with progress_bar("importing", None) as progress:
        summary = pipeline.run(settings, source, kind=kind, period=period, progress=progress)
    if as_json:
        click.echo(json.dumps(summary.as_dict(), indent=2))
    else:
        print_import(summary.imported)
        print_findings(summary.detect)
        click.echo(f"report: {summary.report}")
    fail_on_severity = fail_on
    globals()["fail_on"](fail_on_severity, summary.detect.by_severity)


@cli.command("import")
@click.argument("kind", type=click.Choice(["eml", "maildir", "mbox"]))
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@settings_options
def import_(settings, kind: str, path: Path) -> None:
    """Import mail from local files into the archive and database.

    KIND is eml (a .eml file or a folder of them, searched recursively), maildir or mbox.
    Importing the same files again adds nothing.

    \b
    Example:
      alertproc import maildir ~/Maildir/.GST
    """
    with pipeline.writing(settings) as con, pipeline.tracked(con, f"import {kind}", str(path)) as run_id:
        with progress_bar("importing", None) as progress:
            stats = pipeline.import_mail(con, settings, path, kind, run_id, progress)
    print_import(stats)


@cli.command()
@click.option("--fail-on", type=click.Choice(SEVERITIES), help="Exit 3 when findings of this severity or worse exist.")
@settings_options
def detect(settings, fail_on: str | None) -> None:
    """Recompute findings from the events with every rule in the rules folder.

    \b
    Example:
      alertproc detect --policy rules/policy.yaml --fail-on high
    """
    with pipeline.writing(settings) as con, pipeline.tracked(con, "detect", None):
        found = pipeline.detect(con, settings)
    print_findings(found)
    globals()["fail_on"](fail_on, found.by_severity)


@cli.command()
@click.option("--week", help="ISO week, e.g. 2026-W47 [default: last complete week, IST].")
@click.option("--since", help="First day (IST), e.g. 2026-11-01; use with --until.")
@click.option("--until", help="Last day (IST), inclusive.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Output file [default: <report-dir>/alertproc-<period>.html].")
@settings_options
def report(settings, week: str | None, since: str | None, until: str | None, out: Path | None) -> None:
    """Write the HTML audit report for a week or a date range.

    \b
    Example:
      alertproc report --week 2026-W47
      alertproc report --since 2026-11-01 --until 2026-11-30 --out november.html
    """
    period = choose_period(week, since, until)
    con = store.connect(settings.db, read_only=True)
    try:
        path = pipeline.report(con, settings, period, out)
    finally:
        con.close()
    click.echo(f"report: {path}")


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
    click.echo(f"reparsed {s.seen}: {s.parsed} parsed, {s.unparsed} unparsed, {s.ignored} not alerts; {s.events_new} new events")


@cli.command()
@click.argument("query")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@settings_options
def sql(settings, query: str, fmt: str) -> None:
    """Run a read-only SQL query against the database.

    Tables and views are documented in docs/schema.md.

    \b
    Example:
      alertproc sql "select rule_id, count(*) from findings group by 1"
      alertproc sql --format csv "select * from refreshes" > refreshes.csv
    """
    con = store.connect(settings.db, read_only=True)
    try:
        relation = con.sql(query)
        if relation is None:
            click.echo("ok")
        else:
            frame = relation.df()
            if fmt == "table":
                click.echo(frame.to_string(index=False, max_colwidth=80))
            elif fmt == "csv":
                click.echo(frame.to_csv(index=False), nl=False)
            else:
                click.echo(frame.to_json(orient="records", date_format="iso"))
    except store.duckdb.Error as exc:
        raise store.DatabaseError(str(exc).strip()) from exc
    finally:
        con.close()


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
            raise
        click.echo(f"alertproc: error: {exc}", err=True)
        sys.exit(EXIT_LOCKED if isinstance(exc, LockedError) else EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_FAILURE)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # a bug or an environment problem: say so in one line for cron mail
        if verbose:
            raise
        click.echo(f"alertproc: unexpected error: {type(exc).__name__}: {exc} (rerun with -v for details)", err=True)
        sys.exit(EXIT_FAILURE)
