"""``alertproc auth login`` and ``auth status``: OAuth2 tokens for Microsoft 365 and Google."""

from __future__ import annotations

import sys

import click

from ..app.alertproc import Alertproc
from .common import EXIT_FAILURE, cli, settings_options
from .mailbox import ACCOUNT


@cli.group()
def auth() -> None:
    """Log in once to an OAuth2 mailbox, and check its token.

    For accounts with oauth2_provider = "microsoft" (extra m365) or "google" (extra
    google); docs/mailboxes.md has the admin steps for each.

    \b
    Example:
      alertproc auth login --account mumbai
      alertproc auth status
    """


@auth.command("login")
@ACCOUNT
@settings_options
def auth_login(app: Alertproc, account: str | None) -> None:
    """Log in to an OAuth2 account once; later runs refresh its token silently.

    Microsoft: prints a code to enter at microsoft.com/devicelogin, from any browser.
    Google: prints an address to open in a browser on this machine (through `ssh -L` on a
    server). Unattended set-ups (client credentials, a service account) need no login: this
    only checks that a token is granted. The token cache is created readable by you only.

    \b
    Example:
      alertproc auth login --account mumbai
    """
    click.echo(app.auth_login(account, lambda text: click.echo(text, err=True)))


@auth.command("status")
@ACCOUNT
@settings_options
def auth_status(app: Alertproc, account: str | None) -> None:
    """Whether each OAuth2 account's token is valid, for whom, with which scope, until when.

    Exit 1 when one is not; the line says what to do.

    \b
    Example:
      alertproc auth status
    """
    bad = 0
    for label, status in app.auth_status(account).items():
        if status is None:
            click.echo(f"{label}: password login, no token")
            continue
        bad += not status.valid
        click.echo(f"{'ok  ' if status.valid else 'FAIL'} {status.account} ({status.provider}, {status.flow}): "
                   f"{status.detail}")
    if bad:
        sys.exit(EXIT_FAILURE)
