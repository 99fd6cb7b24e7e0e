"""``alertproc explain`` and ``alertproc formats``: for people who write alert formats."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..app.alertproc import Alertproc
from .common import EXIT_FAILURE, cli, say, settings_options


def _show_event(event: dict) -> None:
    for name in ("kind", "gstin", "asp_name", "asp_key", "gsp_name", "occurred_at", "valid_until", "status"):
        if event.get(name) is not None:
            say(f"    {name}: {event[name]}")


def print_explanation(found) -> None:
    """The explanation, step by step, for a person at a terminal."""
    message = found.outcome.message
    say(f"from:     {found.from_addr}")
    say(f"subject:  {found.shown(found.subject)}")
    say(f"sender:   {found.sender_verdict} — {found.sender_reason}")
    say(f"as alert: subject read as {found.shown(found.cleaned_subject)!r}" +
               (" (forwarded)" if found.forwarded else ""))
    say(f"formats for this subject: {', '.join(found.candidates) or 'none'}"
               + ("" if found.candidates or not found.alert_like else " (but it names an API-access matter)"))
    for number, text in enumerate(found.texts, start=1):
        label = "plain text" if number == 1 else "HTML, flattened"
        say(f"\n--- text {number} ({label}), as the formats see it ---")
        say(found.shown(text))
        for trial in (t for t in found.trials if t.text_number == number):
            say(f"\n  format {trial.format_id} ({trial.path})")
            if trial.body_matches is False:
                say("    body pattern: no match (format skipped)")
                continue
            for name, value in trial.fields.items():
                say(f"    {name}: {found.shown(value) if value is not None else '— not found'}")
            if trial.missing:
                say(f"    missing required: {', '.join(trial.missing)}")
    say(f"\nresult: {message['parse_status']}" + (f" — {message['parse_error']}" if message["parse_error"] else ""))
    for event in found.outcome.events:
        say("  event:")
        _show_event(event)


@cli.command()
@click.argument("mail", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@settings_options
def explain(app: Alertproc, mail: Path, as_json: bool) -> None:
    """Show how one mail is read: sender verdict, the text the formats see, each field found.

    For writing a format for a new wording: save the mail (.eml), run this, add or edit a
    file in rules/formats/, run it again. Nothing is stored. Exit 0 when the mail gives an
    alert event, 1 when it does not.

    \b
    Example:
      alertproc explain ~/Downloads/new-alert.eml
      alertproc explain --rules ./rules unparsed.eml
    """
    found = app.explain(mail)
    if as_json:
        click.echo(json.dumps({"sender_check": found.sender_verdict, "sender_detail": found.sender_reason,
                               "subject": found.shown(found.cleaned_subject), "candidates": found.candidates,
                               "parse_status": found.outcome.message["parse_status"],
                               "parse_error": found.outcome.message["parse_error"],
                               "events": found.outcome.events}, default=str, indent=2))
    else:
        print_explanation(found)
    if found.trusted_event is None:
        sys.exit(EXIT_FAILURE)


@cli.group()
def formats() -> None:
    """List and check the alert formats (shipped, ./rules/formats and your folders).

    \b
    Example:
      alertproc formats list
      alertproc formats check
    """


@formats.command("list")
@settings_options
def formats_list(app: Alertproc) -> None:
    """List every alert format: id, kind, channel, and where it comes from (and what it overrides).

    \b
    Example:
      alertproc formats list --rules ./my-rules
    """
    from .data import origin
    loaded = app.formats()
    width = max((len(f.id) for f in loaded), default=10)
    for fmt in loaded:
        click.echo(f"{fmt.id:<{width}}  {fmt.kind:<18}  {fmt.channel:<5}  ({origin(fmt.path, fmt.overrides)})")


@formats.command("check")
@settings_options
def formats_check(app: Alertproc) -> None:
    """Load every format (errors with file and line) and warn about risky patterns.

    Exit 0 with no warnings, 1 with warnings, 2 when a format does not load.

    \b
    Example:
      alertproc formats check --rules ./rules
    """
    warnings = app.check_formats()
    for warning in warnings:
        click.echo(f"warning: {warning.where}: {warning.message}")
    click.echo(f"{len(app.formats())} formats, {len(warnings)} warnings")
    if warnings:
        sys.exit(EXIT_FAILURE)
