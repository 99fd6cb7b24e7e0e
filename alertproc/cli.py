"""The ``alertproc`` command: parse options, call one library function, print the outcome."""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import date
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path

import click

from . import pipeline, store
from .config import load_imap, load_optional, load_settings, load_smtp
from .watch import Watcher
from .status import operator_status
from .mailer import send_report
from .fetch import FetchResult, retention_cutoff
from .doctor import diagnose, init as init_files
from .ingest import IngestStats
from .errors import AlertprocError, ConfigError, LockedError
from .report import choose_period
from .rules import SEVERITIES, load_rules
from .rulestest import run_rule_tests
from .canned import load_queries, run as run_canned
from .export import export as export_rows

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
               f"{s.parsed} parsed, {s.unparsed} unparsed, {s.suspicious} suspicious, {s.ignored} not alerts; "
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
                   f"{stats.parsed} parsed, {stats.unparsed} unparsed, {stats.ignored} not alerts; {stats.events_new} new events")
    else:
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
    click.echo(f"reparsed {s.seen}: {s.parsed} parsed, {s.unparsed} unparsed, {s.ignored} not alerts; {s.events_new} new events")


def write_relation(relation, fmt: str, out: Path | None) -> None:
    """Print or save a query result as a table, CSV, JSON or Markdown."""
    if relation is None:
        click.echo("ok")
        return
    frame = relation.df()
    if fmt == "table":
        text = frame.to_string(index=False, max_colwidth=80) + "\n"
    elif fmt == "csv":
        text = frame.to_csv(index=False)
    elif fmt == "markdown":
        text = frame.to_markdown(index=False) + "\n"
    else:
        text = frame.to_json(orient="records", date_format="iso") + "\n"
    if out:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {len(frame)} rows to {out}", err=True)
    else:
        click.echo(text, nl=False)


def repl(con, fmt: str) -> None:
    """A small read-only SQL prompt: statements end with ';', an empty line or Ctrl-D quits."""
    click.echo("read-only SQL on the alertproc database; end statements with ';', Ctrl-D to quit", err=True)
    buffer = ""
    while True:
        try:
            line = input("alertproc> " if not buffer else "      ...> ")
        except EOFError:
            click.echo("", err=True)
            return
        buffer += line + "\n"
        if buffer.strip().endswith(";"):
            try:
                write_relation(con.sql(buffer), fmt, None)
            except store.duckdb.Error as exc:
                click.echo(f"error: {exc}", err=True)
            buffer = ""


@cli.command()
@click.argument("query", required=False)
@click.option("-f", "--file", "query_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Read the query from a .sql file.")
@click.option("--query", "-q", "canned_name", help="Run a canned query from rules/queries/ by name.")
@click.option("--param", "-p", "params", multiple=True, help="A canned query parameter, name=value (repeatable).")
@click.option("--list", "list_queries", is_flag=True, help="List the canned queries and their parameters.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json", "markdown"]), default="table", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the result to a file.")
@settings_options
def sql(settings, query: str | None, query_file: Path | None, canned_name: str | None, params: tuple[str, ...],
        list_queries: bool, fmt: str, out: Path | None) -> None:
    """Query the database read-only: SQL text, a .sql file, a canned query, or a prompt.

    Tables and views are documented in docs/schema.md; canned queries live in
    rules/queries/ (add your own) and are described in docs/queries.md. Without a query,
    SQL is read from standard input, or from a prompt on a terminal.

    \b
    Example:
      alertproc sql "select rule_id, count(*) from findings group by 1"
      alertproc sql --format csv --out refreshes.csv "select * from refreshes"
      alertproc sql --query asp-activity -p gstin=27AAPFU0939F1ZV -p since=2026-07-01 -p until=2026-09-30
      alertproc sql -f my-question.sql --format markdown
    """
    canned = load_queries(Path(settings.rules) / "queries")
    if list_queries:
        for item in canned.values():
            click.echo(f"{item.name}: {item.description}")
            click.echo(f"    params: {', '.join(item.params) or 'none'}  ({item.path})")
        return
    values = {}
    for param in params:
        name, sep, value = param.partition("=")
        if not sep:
            raise ConfigError(f"--param '{param}' must look like name=value")
        values[name.strip()] = value
    if canned_name and canned_name not in canned:
        raise ConfigError(f"no canned query '{canned_name}' (see `alertproc sql --list`)")
    con = store.connect(settings.db, read_only=True)
    try:
        if canned_name:
            relation = run_canned(con, canned[canned_name], values)
        elif query or query_file:
            relation = con.sql(query if query else query_file.read_text(encoding="utf-8"))
        elif sys.stdin.isatty():
            repl(con, fmt)
            return
        else:
            relation = con.sql(sys.stdin.read())
        write_relation(relation, fmt, out)
    except store.duckdb.Error as exc:
        raise store.DatabaseError(str(exc).strip()) from exc
    finally:
        con.close()


@cli.command("export")
@click.argument("what", type=click.Choice(["findings", "events"]))
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "json", "parquet"]), default="csv", show_default=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Output file.")
@click.option("--since", help="First day (IST), e.g. 2026-11-01; use with --until.")
@click.option("--until", help="Last day (IST), inclusive.")
@settings_options
def export_(settings, what: str, fmt: str, out: Path, since: str | None, until: str | None) -> None:
    """Export findings or events as CSV, XLSX, JSON lines or Parquet.

    Times are given in UTC and, in *_ist columns, in IST. CSV, JSON and Parquet are written
    by DuckDB directly and XLSX is streamed, so a million events do not fill memory.

    \b
    Example:
      alertproc export findings --format xlsx --out findings.xlsx
      alertproc export events --format parquet --out events.parquet --since 2026-10-01 --until 2026-12-31
    """
    period = choose_period(None, since, until) if (since or until) else None
    con = store.connect(settings.db, read_only=True)
    try:
        rows = export_rows(con, what, fmt, out, period)
    finally:
        con.close()
    click.echo(f"wrote {rows} {what} to {out}")


@cli.command()
@click.option("--dry-run", is_flag=True, help="Show what would be fetched and moved; change nothing anywhere.")
@click.option("--no-file-away", is_flag=True, help="Fetch, archive and load, but move nothing on the server.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="Only mail from this day on (a first backfill).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Only mail up to this day (inclusive).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@settings_options
def fetch(settings, dry_run: bool, no_file_away: bool, since, until, as_json: bool) -> None:
    """Fetch new alerts over IMAP, archive and load them, and file them away.

    Only mail from a configured sender with an alert subject is moved (to filed_folder);
    mail failing the sender check goes to suspicious_folder; everything else, including
    GSTN's reminders and notices, stays where it is, unflagged. The password comes from
    password_env or password_command in the config, never from the command line.

    \b
    Example:
      alertproc fetch --config alertproc.toml --dry-run
      alertproc fetch --since 2026-01-01 --until 2026-03-31
    """
    imap = load_imap(click.get_current_context().meta["config"])
    with progress_bar("fetching", None) as progress:
        result = pipeline.fetch_job(settings, imap, dry_run=dry_run, file_away=not no_file_away,
                                    since=since.date() if since else None, until=until.date() if until else None,
                                    progress=progress)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2, default=str))
        return
    if dry_run:
        for item in result.plan:
            click.echo(f"  uid {item['uid']}: {item['action']:<10} {item['from'] or '?'} | {item['subject']}")
    else:
        print_import(result.imported)
    print_filing(result)


@cli.command()
@click.option("--older-than", required=True, help="Retention: 90d, 12w, or a date; older filed alerts are removed.")
@click.option("--apply", is_flag=True, help="Really delete; without it, only show what would be deleted.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@settings_options
def cleanup(settings, older_than: str, apply: bool, as_json: bool) -> None:
    """Remove old filed alerts from the server — only those whose archived copy verifies.

    Each message is downloaded and hashed; it is deleted only if the archive holds a file
    with the same SHA-256. Anything unverified is kept and listed.

    \b
    Example:
      alertproc cleanup --older-than 90d            # dry run: what would go
      alertproc cleanup --older-than 90d --apply
    """
    imap = load_imap(click.get_current_context().meta["config"])
    cutoff = retention_cutoff(older_than, date.today())
    with progress_bar("verifying", None) as progress:
        result = pipeline.cleanup_job(settings, imap, cutoff, apply, progress)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
        return
    verb = "deleted" if apply else "would delete"
    click.echo(f"{result.folder}: {result.candidates} filed before {cutoff}; {result.verified} verified, "
               f"{verb} {result.deleted if apply else result.verified}; {len(result.kept_unverified)} kept unverified")
    for item in result.kept_unverified:
        click.echo(f"  kept uid {item['uid']}: {item['reason']}", err=True)


@cli.command()
@settings_options
def doctor(settings) -> None:
    """Check the set-up: config, policy, formats, rules, database, archive, IMAP.

    Exit 1 when something needs fixing; each failing line says what to do.

    \b
    Example:
      alertproc doctor --config /etc/alertproc/alertproc.toml
    """
    config = click.get_current_context().meta["config"]
    try:
        imap = load_imap(config)
    except ConfigError as exc:
        imap = None
        if config or "no [imap] section" not in str(exc) and "not found" not in str(exc):
            click.echo(f"FAIL imap config: {exc}")
    checks = diagnose(settings, imap, dict(os.environ))
    for check in checks:
        click.echo(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
        if not check.ok and check.advice:
            click.echo(f"     → {check.advice}")
    if not all(c.ok for c in checks):
        sys.exit(EXIT_FAILURE)


@cli.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True)
def init(directory: Path) -> None:
    """Write a commented alertproc.toml and an example rules/policy.yaml (never overwrites).

    \b
    Example:
      alertproc init && $EDITOR alertproc.toml rules/policy.yaml
    """
    written = init_files(directory)
    for path in written:
        click.echo(f"wrote {path}")
    if not written:
        click.echo("nothing written: alertproc.toml and rules/policy.yaml exist already")


@cli.command()
@settings_options
def watch(settings) -> None:
    """Stay connected and process alerts as they arrive (IMAP IDLE, or polling).

    Runs the same pipeline as `alertproc run` on every new mail, then notifies ([notify]
    in the config) about new findings at once. Logs one line per batch and per cycle.
    SIGTERM or Ctrl-C stops it after the batch in hand is committed. Run it as a service:
    docs/operations.md.

    \b
    Example:
      alertproc watch --config /etc/alertproc/alertproc.toml
    """
    config = click.get_current_context().meta["config"]
    imap = load_imap(config)
    notify_cfg = load_optional(config, "notify")
    smtp = load_optional(config, "smtp")
    logging.getLogger("alertproc").setLevel(logging.INFO)
    if not logging.getLogger().handlers or not click.get_current_context().find_root().params.get("verbose"):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        logging.getLogger("alertproc.watch").addHandler(handler)
        logging.getLogger("alertproc.watch").propagate = False
    sys.exit(Watcher(settings, imap, notify_cfg, smtp, dict(os.environ)).run())


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@settings_options
def status(settings, as_json: bool) -> None:
    """What an operator checks first: last runs, sync state, findings, last alerts, archive.

    \b
    Example:
      alertproc status
    """
    con = store.connect(settings.db, read_only=True)
    try:
        report_ = operator_status(con, Path(settings.archive))
    finally:
        con.close()
    if as_json:
        click.echo(json.dumps(report_, indent=2, default=str))
        return
    click.echo("last runs:")
    for run_ in report_["runs"]:
        click.echo(f"  {run_['command']:<18} {run_['status']:<7} {run_['finished_at'] or run_['started_at']}  "
                   f"{run_['source'] or ''}{'  ' + run_['error'] if run_['error'] else ''}")
    click.echo("mailboxes:")
    for sync in report_["sync"]:
        click.echo(f"  {sync['account']} {sync['folder']}: last UID {sync['last_uid']} at {sync['updated_at']}")
    click.echo("findings: " + (", ".join(f"{k} {v}" for k, v in report_["findings"].items()) or "none")
               + f"; not yet notified: {report_['not_notified']}")
    click.echo("last alert per GSTIN and ASP (IST):")
    for row in report_["last_seen"]:
        click.echo(f"  {row['gstin']}  {row['asp_name']:<40} {row['last_ist']}")
    click.echo(f"archive: {report_['archive_files']} files, {report_['archive_mb']} MB in {settings.archive}")


@cli.group()
def rules() -> None:
    """List the detection rules, or run their fixture scenarios.

    \b
    Example:
      alertproc rules list
      alertproc rules test --rules ./rules
    """


@rules.command("list")
@settings_options
def rules_list(settings) -> None:
    """List every rule: id, severity, title and file. Broken rule files are reported.

    \b
    Example:
      alertproc rules list --rules ./my-rules
    """
    found, problems = load_rules(Path(settings.rules))
    width = max((len(r.id) for r in found), default=10)
    for rule in found:
        click.echo(f"{rule.id:<{width}}  {rule.severity:<6}  {rule.title}  ({rule.path})")
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    if problems:
        sys.exit(EXIT_USAGE)


@rules.command("test")
@click.option("--tests", "tests_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of scenario files [default: <rules>/tests].")
@settings_options
def rules_test(settings, tests_dir: Path | None) -> None:
    """Run every rule's fixture scenarios (events in, expected findings out).

    Scenario files live in rules/tests/ (format: rules/tests/README.md). Exit 1 if any
    scenario fails.

    \b
    Example:
      alertproc rules test
    """
    found, problems = load_rules(Path(settings.rules))
    results = run_rule_tests(found, tests_dir or Path(settings.rules) / "tests")
    for result in results:
        click.echo(f"{'ok  ' if result.ok else 'FAIL'} {result.rule_id}: {result.name}")
        if not result.ok:
            click.echo(f"     {result.where}: {result.message}")
    tested = {r.rule_id for r in results}
    for rule in found:
        if rule.id not in tested:
            click.echo(f"warning: rule {rule.id} has no scenarios ({rule.path})", err=True)
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    failed = sum(not r.ok for r in results)
    click.echo(f"{len(results) - failed} passed, {failed} failed")
    if failed or problems:
        sys.exit(EXIT_FAILURE)


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
