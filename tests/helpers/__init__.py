"""What the tests share: the paths, the sample builders, the application on a test's
database, and (in modules of their own) the servers and harnesses the tests run against:
``dovecot``, ``pymap_server``, ``cyrus_server``, ``imap4d_server`` and ``local_server`` (IMAP
servers on 127.0.0.1), ``imap_proxy`` (a proxy that paces or answers for a server),
``introspection`` and ``oauth_endpoint`` (OAuth2 stand-ins), ``imap`` (a server's mailbox as
tests fill and read it), ``mangle`` (what gateways and clients do to an alert), ``synthetic``
(events at any scale).

Tests import from here (``from helpers import ROOT, Staged``); the fixtures are in conftest.py.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alertproc.config import Settings

ROOT = Path(__file__).resolve().parent.parent.parent
SAMPLE = ROOT / "sample_mailbox"
SENDERS = frozenset({"donotreply@gst.gov.in"})
POLICY = str(ROOT / "rules" / "policy.yaml")  # the example policy every test that needs one uses
POLICY_OPTION = ["--policy", POLICY]


def _load_make():
    spec = importlib.util.spec_from_file_location("sample_make", SAMPLE / "make.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make = _load_make()


def run_alertproc(*args: str, cwd: Path, env: dict[str, str] | None = None, env_db: Path | None = None,
                  timeout: float = 180) -> subprocess.CompletedProcess:
    """The real entry point in a process of its own, as cron runs it: an environment of PATH and
    HOME only, plus ``env`` (and ``ALERTPROC_DB`` when ``env_db``)."""
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), **(env or {})}
    if env_db:
        environment["ALERTPROC_DB"] = str(env_db)
    return subprocess.run([sys.executable, "-m", "alertproc", *args], cwd=cwd, capture_output=True, text=True,
                          env=environment, timeout=timeout)


def wait_until(check, seconds: float = 30.0) -> bool:
    """Poll ``check()`` until it is true (True) or ``seconds`` pass (False)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def chromium_binary() -> str:
    """Debian's chromium; the test set-up (tests/setup-system.sh) installs it."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("chromium is not installed: run `bash tests/setup-system.sh` (the README's test command does)")
    return found


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


class Inbox:
    """An aiosmtpd handler that keeps what it receives: (recipients, raw bytes)."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, envelope.content))
        return "250 OK"


class Staged:
    """The application's stages on a database connection the test holds (``con``), for tests
    that look inside the database between stages."""

    def __init__(self, con, settings: Settings, environ: dict[str, str] | None = None, **config):
        from alertproc.app.alertproc import Alertproc
        from alertproc.config import Config

        self.con, self.settings = con, settings
        self.app = Alertproc(Config(settings=settings, **config), environ or {})

    def read(self, kind: str, path: Path, run_id: int = 1):
        """Import ``path`` as input ``kind`` (alertproc.app.inputs) on ``con``."""
        from alertproc.app.inputs import INPUTS

        return INPUTS[kind].read(self.app, self.con, Path(path), run_id, None)

    def import_mail(self, path: Path, kind: str | None = None, run_id: int = 1):
        from alertproc.mail.sources import detect_kind

        return self.read(kind or detect_kind(Path(path)), path, run_id)

    def detect(self, policy=True):
        from alertproc.audit.detection import detect

        return detect(self.con, self.settings, policy)

    def report(self, period, out: Path | None = None) -> Path:
        return self.app._write_report(self.con, period, out)

    def reader(self):
        return self.app.reader()


def app_of(settings: Settings, environ: dict[str, str] | None = None, **config):
    """The application object over ``settings`` (and ``accounts=``, ``notify=`` ... of a Config)."""
    from alertproc.app.alertproc import Alertproc
    from alertproc.config import Config

    return Alertproc(Config(settings=settings, **config), {} if environ is None else environ)


def fetch_one(settings: Settings, cfg, environ: dict[str, str] | None = None, **options):
    """`alertproc fetch` of the one account ``cfg``: its result, or its error raised."""
    outcome = app_of(settings, environ, accounts=(cfg,)).fetch(**options)
    outcome.raise_if_only_account_failed()
    return outcome.results[0]


def cleanup_one(settings: Settings, cfg, older_than, apply: bool = False, environ: dict[str, str] | None = None):
    """`alertproc cleanup` of the one account ``cfg``: its result, or its error raised."""
    outcome = app_of(settings, environ, accounts=(cfg,)).cleanup(older_than, apply)
    outcome.raise_if_only_account_failed()
    return outcome.results[0]
