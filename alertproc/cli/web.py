"""``alertproc serve`` (the web app, alertproc/web) and ``alertproc user`` (its users)."""

from __future__ import annotations

import sys

import click

from ..app.alertproc import Alertproc
from .common import cli, settings_options


def _new_password(username: str) -> str:
    """From standard input when it is not a terminal (a script, a secrets manager), else asked twice."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    return click.prompt(f"password for {username}", hide_input=True, confirmation_prompt=True)


@cli.group()
def user() -> None:
    """Users of the web app (`alertproc serve`): viewers read; auditors also triage and build
    evidence packs; admins also manage users.

    \b
    Example:
      alertproc user add anita --role auditor
      printf '%s\\n' "$PASSWORD" | alertproc user add ci-viewer --role viewer
      alertproc user list
    """


@user.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(Alertproc.ROLES), required=True, help="What the user may do.")
@settings_options
def user_add(app: Alertproc, username: str, role: str) -> None:
    """Add a user; the password is read from standard input, or asked for on a terminal.

    \b
    Example:
      alertproc user add anita --role auditor
    """
    app.add_user(username, role, _new_password(username))
    click.echo(f"added {username} ({role})")


@user.command("list")
@settings_options
def user_list(app: Alertproc) -> None:
    """List the users and their roles (never a password).

    \b
    Example:
      alertproc user list
    """
    for row in app.users():
        click.echo(f"{row['username']:<24} {row['role']:<8} since {row['created_at']:%d-%m-%Y}")


@user.command("passwd")
@click.argument("username")
@click.option("--role", type=click.Choice(Alertproc.ROLES), help="Also give the user this role.")
@settings_options
def user_passwd(app: Alertproc, username: str, role: str | None) -> None:
    """Set a user's password (and role); their open sessions keep working with the new role.

    \b
    Example:
      alertproc user passwd anita --role admin
    """
    app.set_password(username, _new_password(username), role)
    click.echo(f"changed {username}")


@user.command("remove")
@click.argument("username")
@settings_options
def user_remove(app: Alertproc, username: str) -> None:
    """Remove a user; their sessions end at their next request.

    \b
    Example:
      alertproc user remove ravi
    """
    app.remove_user(username)
    click.echo(f"removed {username}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but 127.0.0.1 belongs behind a TLS proxy (docs/web.md).")
@click.option("--port", default=8470, show_default=True, type=click.IntRange(1, 65535))
@click.option("--secure-cookies/--no-secure-cookies", default=None,
              help="Send cookies over HTTPS only [default: on unless --host is a loopback address].")
@click.option("--proxy", "proxies", multiple=True, metavar="ADDRESS",
              help="The address of a reverse proxy in front of the app (repeatable): its X-Forwarded-For "
                   "names the client in the audit log and the login throttle.")
@settings_options
def serve(app: Alertproc, host: str, port: int, secure_cookies: bool | None, proxies: tuple[str, ...]) -> None:
    """The web app for the finance team: backlog, triage, evidence, SQL and reports in the
    browser, over the same database (it never blocks the scheduled job). Needs the `web` extra.

    \b
    Example:
      alertproc user add anita --role auditor
      alertproc serve --port 8470        # then open http://127.0.0.1:8470/
      alertproc serve --secure-cookies --proxy 127.0.0.1   # behind nginx on the same host
    """
    try:
        from ..web import server
    except ImportError as exc:  # starlette or uvicorn missing
        raise click.UsageError(f"the web app needs the web extra: pip install 'alertproc[web]' ({exc.name} is missing)") from None
    if not app.users():
        click.echo("no users yet: add one with `alertproc user add NAME --role admin`", err=True)
    loopback = host in ("127.0.0.1", "::1", "localhost")
    server.serve(app, host, port, secure_cookies=not loopback if secure_cookies is None else secure_cookies,
                 proxies=proxies)
