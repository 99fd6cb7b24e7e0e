"""Shared fixtures: real DuckDB files under tmp_path, the shipped formats, sample builders."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from alertproc.storage import store
from alertproc.config import Settings
from alertproc.reading.formats import load_formats

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_mailbox"
SENDERS = frozenset({"donotreply@gst.gov.in"})


def _load_make():
    spec = importlib.util.spec_from_file_location("sample_make", SAMPLE / "make.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make = _load_make()


@pytest.fixture(scope="session")
def formats():
    """The shipped alert formats."""
    return load_formats(ROOT / "rules" / "formats")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings that keep the database, archive and reports inside tmp_path."""
    return Settings(db=str(tmp_path / "a.duckdb"), archive=str(tmp_path / "archive"),
                    policy=str(ROOT / "rules" / "policy.yaml"), rules=str(ROOT / "rules"),
                    report_dir=str(tmp_path / "out"))


@pytest.fixture
def con(settings: Settings):
    """A migrated database file."""
    connection = store.connect(settings.db)
    yield connection
    connection.close()


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped rules folder (to add formats or rules)."""
    target = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", target)
    return target


def chromium_binary() -> str:
    """Debian's chromium; the test set-up (tests/setup-system.sh) installs it."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("chromium is not installed: run `bash tests/setup-system.sh` (the README's test command does)")
    return found


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture
def chromium(tmp_path: Path):
    """Run headless Chromium with a throwaway profile; returns a callable(args) -> stdout."""
    import subprocess

    binary = chromium_binary()

    def run(*args: str) -> str:
        done = subprocess.run([binary, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chrome'}", *args],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    return run


@pytest.fixture
def dovecot():
    """A fresh Dovecot on 127.0.0.1 with an empty mailbox for user alice."""
    from dovecot import Dovecot

    server = Dovecot().start()
    yield server
    server.stop()


class Inbox:
    """An aiosmtpd handler that keeps what it receives: (recipients, raw bytes)."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, envelope.content))
        return "250 OK"
