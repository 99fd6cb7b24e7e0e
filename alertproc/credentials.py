"""Secrets and TLS for every server alertproc talks to: IMAP, SMTP and OAuth2 providers.

A secret comes from an environment variable or a command, never from the config file or the
command line, and is remembered for masking the moment it is read (see :mod:`.masking`). TLS
always verifies the certificate and the host name; ``ca_file`` adds a company CA.
"""

from __future__ import annotations

import ipaddress
import logging
import shlex
import ssl
import subprocess

from .errors import ConfigError
from .masking import child_environment, mask, remember

log = logging.getLogger(__name__)


def from_command(command: str, what: str) -> str:
    """The first line ``command`` prints; its stderr is passed on (masked) as warnings, since it
    often says what to do ("refresh token expired: log in again"). ``what`` names the setting."""
    try:
        done = subprocess.run(shlex.split(command), capture_output=True, text=True, timeout=60, check=False,
                              env=child_environment())
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(f"{what} could not be run: {type(exc).__name__}") from None
    output = done.stdout.strip()
    secret = remember(output.splitlines()[0]) if output else ""
    said = mask(done.stderr).strip().splitlines()
    for line in said[-5:]:
        log.warning("%s: %s", what, line)
    if done.returncode != 0 or not secret:
        # Never echo its output: it may hold the secret or part of it.
        raise ConfigError(f"{what} failed (exit {done.returncode}, {len(output)} characters of output)"
                          + (f": {said[-1][:200]}" if said else ""))
    return secret


def from_env(environ: dict[str, str], name: str, what: str) -> str:
    """The secret in the environment variable ``name`` (``what``: the setting that names it)."""
    secret = environ.get(name, "")
    if not secret:
        raise ConfigError(f"environment variable {name} ({what}) is not set")
    return remember(secret)


def is_loopback(host: str) -> bool:
    """True when ``host`` names this machine only (where plain text is allowed)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def tls_context(ca_file: str = "") -> ssl.SSLContext:
    """Certificate and host-name verification on, always; ``ca_file`` adds a trusted CA."""
    context = ssl.create_default_context()
    if ca_file:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"ca_file {ca_file}: cannot be loaded: {exc}") from None
    return context
