"""``alertproc fetch``, ``cleanup``, ``watch``, ``status``, ``doctor`` and ``init``: the mailbox and its operation."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from ..app.alertproc import Alertproc
from ..domain import IST
from ..masking import MaskingFilter
from .common import DAY, EXIT_FAILURE, cli, print_filing, print_import, progress_bar, say, settings_options


ACCOUNT = click.option("--account", "account", metavar="NAME",
                       help="Only the [[imap]] account with this name (or user@host) [default: every account].")


def report_accounts(outcome, show) -> None:
    """``show(label, result)`` for each account that worked; name each that failed (exit 1), or
    fail as the only one asked for failed (its own message and exit code)."""
    outcome.raise_if_only_account_failed()
    for label, result in outcome.done.items():
        show(label, result)
    for label, why in outcome.reasons().items():
        say(f"alertproc: error: mailbox {label}: {why}", err=True)
    if outcome.failed:
        total = len(outcome.failed) + len(outcome.done)
        say(f"alertproc: {len(outcome.failed)} of {total} mailboxes failed: {', '.join(outcome.failed)}", err=True)
        sys.exit(EXIT_FAILURE)


@cli.command()
@click.option("--dry-run", is_flag=True, help="Show what would be fetched and moved; change nothing anywhere.")
@click.option("--no-file-away", is_flag=True, help="Fetch, archive and load, but move nothing on the server.")
@click.option("--since", type=DAY, help="Only mail from this day on, e.g. 01-01-2026 (a first backfill).")
@click.option("--until", type=DAY, help="Only mail up to this day (inclusive).")
@ACCOUNT
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON (one object per mailbox, one per line).")
@settings_options
def fetch(app: Alertproc, dry_run: bool, no_file_away: bool, since, until, account: str | None, as_json: bool) -> None:
    """Fetch new alerts over IMAP, archive and load them, and file them away.

    Every [imap] / [[imap]] account of the config is fetched in turn (or only --account);
    one that fails is named and the others go on. Only mail from a configured sender with
    an alert subject is moved (to filed_folder); mail failing the sender check goes to
    suspicious_folder; everything else, including GSTN's reminders and notices, stays where
    it is, unflagged. Passwords and tokens come from the config's password_env,
    password_command, oauth2_token_command or oauth2_provider, never from the command line.

    \b
    Example:
      alertproc fetch --config alertproc.toml --dry-run
      alertproc fetch --account pune-office --since 01-01-2026 --until 31-03-2026
    """
    with progress_bar("fetching", None) as progress:
        outcome = app.fetch(dry_run=dry_run, file_away=not no_file_away, since=since, until=until, account=account,
                            progress=progress)

    def show(label: str, result) -> None:
        if as_json:
            click.echo(json.dumps({"mailbox": label, **result.as_dict()}, default=str))
            return
        if dry_run:
            for item in result.plan:
                click.echo(f"  uid {item['uid']}: {item['action']:<10} {item['from'] or '?'} | {item['subject']}")
        else:
            print_import(result.imported)
        print_filing(result)
    report_accounts(outcome, show)


@cli.command()
@click.option("--older-than", required=True,
              help="Retention: 90d, 12w, or a date (31-08-2026); older filed alerts are removed.")
@click.option("--apply", is_flag=True, help="Really delete; without it, only show what would be deleted.")
@ACCOUNT
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON (one object per mailbox, one per line).")
@settings_options
def cleanup(app: Alertproc, older_than: str, apply: bool, account: str | None, as_json: bool) -> None:
    """Remove old filed alerts from the server — only those whose archived copy verifies.

    Each message is downloaded and hashed; it is deleted only if the archive holds a file
    with the same SHA-256. Anything unverified is kept and listed.

    \b
    Example:
      alertproc cleanup --older-than 90d            # dry run: what would go
      alertproc cleanup --older-than 90d --apply
    """
    with progress_bar("verifying", None) as progress:
        outcome = app.cleanup(older_than, apply, account, progress)

    def show(label: str, result) -> None:
        if as_json:
            click.echo(json.dumps({"mailbox": label, **result.as_dict()}))
            return
        verb = "deleted" if apply else "would delete"
        click.echo(f"{label} {result.folder}: {result.candidates} filed before {result.older_than}; {result.verified} "
                   f"verified, {verb} {result.deleted if apply else result.verified}; "
                   f"{len(result.kept_unverified)} kept unverified")
        for item in result.kept_unverified:
            click.echo(f"  kept uid {item['uid']}: {item['reason']}", err=True)
    report_accounts(outcome, show)


@cli.command()
@settings_options
def doctor(app: Alertproc) -> None:
    """Check the set-up: config, policy, formats, rules, database, archive, every IMAP account.

    Exit 1 when something needs fixing; each failing line says what to do. A "warn" line
    (no policy yet, or the example of `alertproc init` still as it was) does not fail.

    \b
    Example:
      alertproc doctor --config /etc/alertproc/alertproc.toml
    """
    checks = app.doctor()
    for check in checks:
        label = "FAIL" if not check.ok else "warn" if check.warning else "ok  "
        click.echo(f"{label} {check.name}: {check.detail}")
        if (not check.ok or check.warning) and check.advice:
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
    written = Alertproc.init(directory)
    for path in written:
        click.echo(f"wrote {path}")
    if not written:
        click.echo("nothing written: alertproc.toml and rules/policy.yaml exist already")
    click.echo(Alertproc.NEXT_STEPS.format(policy=directory / "rules" / "policy.yaml",
                                           config=directory / "alertproc.toml"))


@cli.command()
@ACCOUNT
@settings_options
def watch(app: Alertproc, account: str | None) -> None:
    """Stay connected and process alerts as they arrive (IMAP IDLE, or polling), with one
    listening connection per [imap] / [[imap]] account.

    Runs the same pipeline as `alertproc run` on every new mail, then notifies ([notify]
    in the config) about new findings at once. Logs one line per batch and per cycle.
    SIGTERM or Ctrl-C stops it after the batch in hand is committed. Run it as a service:
    docs/operations.md.

    \b
    Example:
      alertproc watch --config /etc/alertproc/alertproc.toml
    """
    logging.getLogger("alertproc").setLevel(logging.INFO)
    if not logging.getLogger().handlers or not click.get_current_context().find_root().params.get("verbose"):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        handler.addFilter(MaskingFilter())
        logging.getLogger("alertproc.watch").addHandler(handler)
        logging.getLogger("alertproc.watch").propagate = False
    sys.exit(app.watch(account))


def ist(when) -> str:
    """A UTC datetime as Indians write it, in IST: 07-12-2026 10:15 IST."""
    return when.astimezone(IST).strftime("%d-%m-%Y %H:%M IST")


def _print_watch(watch: dict | None) -> None:
    """The watch part of `status`: first, since a deaf account is the news."""
    if watch is None:
        return
    if watch.get("unreadable"):
        say(f"watch: cannot read its heartbeat ({watch['unreadable']})")
        return
    state = (f"running (pid {watch['pid']}, since {ist(watch['started_at'])})" if watch["running"]
             else f"not running (last started {ist(watch['started_at'])})")
    click.echo(f"watch: {state}")
    for label, account in watch["accounts"].items():
        heard = f"last heard from {ist(account['heard_at'])}" if account["heard_at"] else "never heard from"
        flag = "NOT HEARD FROM: " if account["silent"] else ""
        problem = f" — {account['problem']}" if account["problem"] else ""
        say(f"  {flag}{label}: {heard}{problem}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@settings_options
def status(app: Alertproc, as_json: bool) -> None:
    """What an operator checks first: whether `alertproc watch` hears from each account
    (NOT HEARD FROM names one silent for three check periods), last runs, sync state,
    findings, last alerts, archive.

    \b
    Example:
      alertproc status
    """
    report_ = app.status()
    if as_json:
        click.echo(json.dumps(report_, indent=2, default=str))
        return
    _print_watch(report_["watch"])
    click.echo("last runs:")
    for run_ in report_["runs"]:
        say(f"  {run_['command']:<18} {run_['status']:<7} {run_['at_ist']}  "
                   f"{run_['source'] or ''}{'  ' + run_['error'] if run_['error'] else ''}")
    click.echo("mailboxes:")
    for sync in report_["sync"]:
        say(f"  {sync['account']} {sync['folder']}: last UID {sync['last_uid']} at {sync['updated_ist']}")
    click.echo("findings: " + (", ".join(f"{k} {v}" for k, v in report_["findings"].items()) or "none")
               + f"; not yet notified: {report_['not_notified']}")
    click.echo("last alert per GSTIN and ASP (IST):")
    for row in report_["last_seen"]:
        say(f"  {row['gstin']}  {row['asp_name']:<40} {row['last_ist']}")
    click.echo(f"unparsed alerts: {report_['unparsed_total']} (add a format; `alertproc explain MAIL.eml` shows why); "
               f"spoof suspects: {report_['suspicious_total']}")
    for row in report_["unparsed"]:
        say(f"  {row['received_ist'] or '—':<16} {row['subject'][:70]:<70} {row['parse_error'][:80]}")
    click.echo(f"archive: {report_['archive_files']} files, {report_['archive_mb']} MB in {app.settings.archive}")


