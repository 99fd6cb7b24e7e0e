"""The ``alertproc`` group, the options every command shares (which open the application
object for the command), the printing helpers and ``main``."""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps

import click
from click.utils import PacifyFlushWrapper

from ..app.alertproc import Alertproc
from ..config import load_config
from ..domain import SEVERITIES
from ..errors import AlertprocError, disk_full
from ..masking import install_log_filter, mask, printable
from ..period import parse_day, parse_moment

EXIT_FAILURE, EXIT_USAGE, EXIT_FINDINGS, EXIT_LOCKED = 1, 2, 3, 75


class _Read(click.ParamType):
    """An option's text read by one of alertproc's readers; its ConfigError becomes click's usage error (exit 2)."""

    def __init__(self, name: str, read: Callable[[str, str], object]) -> None:
        self.name, self.read = name, read

    def convert(self, value, param, ctx):
        try:
            return self.read(value, f"--{param.name.replace('_', '-')}" if param else self.name.lower())
        except AlertprocError as exc:
            self.fail(str(exc), param, ctx)


# Dates as Indians write them: 31-12-2026, 31/12/2026 or 2026-12-31; a time of day after it (alertproc.period).
DAY, MOMENT = _Read("DATE", parse_day), _Read("DATE TIME", parse_moment)


def settings_options(func: Callable) -> Callable:
    """The options every command shares: where the database, archive, policy and rules are, and
    -v. They may also stand before the command (`alertproc --config X status`), as the group's."""
    options = [
        click.option("-v", "--verbose", is_flag=True, help="Log progress and show tracebacks on errors."),
        click.option("--config", "config", type=click.Path(dir_okay=False),
                     help="TOML config file [default: $ALERTPROC_CONFIG or ./alertproc.toml]"),
        click.option("--db", help="DuckDB database file [default: $ALERTPROC_DB or alertproc.duckdb]"),
        click.option("--archive", help="raw-mail archive folder [default: archive]"),
        click.option("--policy", help="policy file [default: rules/policy.yaml]"),
        click.option("--rules",
                     help="a folder of your own rules (formats/, queries/, tests/ inside) over the shipped ones and ./rules"),
        click.option("--report-dir", help="folder for HTML reports [default: reports/out]"),
    ]
    for option in reversed(options):
        func = option(func)

    @wraps(func)
    def wrapper(verbose, config, db, archive, policy, rules, report_dir, **kwargs):
        group = click.get_current_context().find_root().obj or {}
        if verbose:
            _log_verbosely()
        loaded = load_config(config or group.get("config"), db=db or group.get("db"), archive=archive, policy=policy,
                             rules=rules, report_dir=report_dir)
        app = Alertproc(loaded, dict(os.environ))
        click.get_current_context().call_on_close(app.close)
        return func(app=app, **kwargs)

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


def say(text: str = "", **options) -> None:
    """click.echo of human-readable text that may hold data (see :func:`printable`)."""
    click.echo(printable(text), **options)


def print_import(s) -> None:
    """The import part of a summary."""
    click.echo(f"messages: {s.seen} seen, {s.new} new, {s.known} already imported, {s.duplicates} duplicates"
               + (f", {s.skipped} SMS of other senders skipped" if s.skipped else "") + "; "
               f"{s.parsed} parsed, {s.unparsed} unparsed, {s.suspicious} suspicious, "
               + (f"{s.forwarded} forwarded (not trusted), " if s.forwarded else "") + f"{s.not_alerts} not alerts; "
               f"{s.events_new} new events")


def print_filing(result) -> None:
    """The mailbox part of a summary."""
    verb = "would move" if result.plan else "moved"
    where = f"imap {result.account} {result.folder}" if result.account else f"maildir {result.folder}"
    if result.filing_skipped:
        click.echo(f"{where}: filing skipped: {result.filing_skipped}", err=True)
    click.echo(f"{where}: {result.candidates} candidates"
               f"{' (rescan after UIDVALIDITY change)' if result.rescan else ''}; {verb} {result.filed} to the "
               f"filed folder, {result.suspicious} to the suspicious folder; {result.left} left in place")


def print_findings(found) -> None:
    """The findings part of a summary."""
    click.echo(f"findings: {found.total} ({', '.join(f'{k} {v}' for k, v in sorted(found.by_severity.items())) or 'none'})")
    for rule_id, count in found.by_rule.items():
        click.echo(f"  {rule_id}: {count}")
    if found.skipped:
        click.echo(f"skipped {', '.join(found.skipped)}: {found.notice}")
    for problem in found.problems:
        click.echo(f"warning: {problem}", err=True)


def _log_verbosely() -> None:
    logging.getLogger().setLevel(logging.INFO)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log progress and show tracebacks on errors (also after the command).")
@click.option("--config", type=click.Path(dir_okay=False), help="TOML config file, for any command (also after it).")
@click.option("--db", help="DuckDB database file, for any command (also after it).")
@click.version_option(package_name="alertproc")
@click.pass_context
def cli(ctx: click.Context, verbose: bool, config: str | None, db: str | None) -> None:
    """Turn GST portal API-access alerts into an audit database and weekly report.

    Alerts ("Authentication token refreshed for your GSTIN ...", consent granted, access
    revoked) are archived, parsed into DuckDB, checked against your policy of approved ASPs,
    and summarised in a self-contained HTML report.

    \b
    Example:
      alertproc run --source sample_mailbox
      alertproc sql "select rule_id, count(*) from findings group by 1"
    """
    ctx.obj = {"verbose": verbose, "config": config, "db": db}
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    install_log_filter()  # no password or token in any log line, whatever echoed it


def main() -> None:
    """Entry point: run the CLI and turn alertproc errors into one-line messages and exit codes."""
    verbose = "-v" in sys.argv[1:] or "--verbose" in sys.argv[1:]
    try:
        cli.main(standalone_mode=False)
    except SystemExit as exc:
        # click answers a closed pipe (`alertproc sql ... | head`) by quieting stdout and exiting 1;
        # the reader has what it wanted and the work is committed: no error for cron or pipefail.
        if exc.code == 1 and isinstance(sys.stdout, PacifyFlushWrapper):
            sys.exit(0)
        raise
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_FAILURE)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except AlertprocError as exc:
        if verbose:
            click.echo(mask(traceback.format_exc()), err=True, nl=False)
        click.echo(f"alertproc: error: {mask(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # a bug or an environment problem: say so in one line for cron mail
        if disk_full(exc):
            click.echo(f"alertproc: error: the disk is full ({mask(str(exc).splitlines()[0])}); free space and run "
                       "again: what was not committed is not kept, the next run takes it up", err=True)
            sys.exit(EXIT_FAILURE)
        if verbose:
            click.echo(mask(traceback.format_exc()), err=True, nl=False)
            sys.exit(EXIT_FAILURE)
        click.echo(f"alertproc: unexpected error: {type(exc).__name__}: {mask(str(exc))} (rerun with -v for details)",
                   err=True)
        sys.exit(EXIT_FAILURE)
