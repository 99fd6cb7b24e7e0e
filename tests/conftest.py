"""Shared fixtures: real DuckDB files under tmp_path, the shipped formats, Chromium, Dovecot.
What tests import (paths, builders, servers) is in the ``helpers`` package."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from alertproc.config import Settings
from alertproc.reading.formats import load_formats
from alertproc.storage import store
from helpers import CHROMIUM_FLAGS, ROOT, chromium_binary


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


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (its own browser download is not reachable here)."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_binary(), args=["--no-sandbox"])
        yield chromium
        chromium.close()


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
    from helpers.dovecot import Dovecot

    server = Dovecot().start()
    yield server
    server.stop()
