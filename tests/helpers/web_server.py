"""`alertproc serve` in a process of its own, on the sample (or any database), with users."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

import alertproc
from helpers import POLICY, ROOT, SAMPLE
from helpers.dovecot import free_port

PASSWORDS = {"vera": "viewer password 1", "anil": "auditor password 1", "asha": "admin password 11"}
ROLES = {"vera": "viewer", "anil": "auditor", "asha": "admin"}
# A spoof suspect whose text holds markup and script: its evidence page must show it inert.
HOSTILE_MAIL = (SAMPLE / "mail" / "0348-spoofed-lookalike.eml").read_bytes().replace(
    b"Message-ID: <alert.00377.e311afc1@gst.gov.in>", b"Message-ID: <hostile.1@gst-gov.in>").replace(
    b"Dear Taxpayer,", b"Dear Taxpayer, <script>document.title='pwned'</script><img src=x onerror=alert(1)>").replace(
    b"20 Nov 2026 22:10:07", b"20 Nov 2026 23:40:07").replace(b"20-11-2026 22:10:00", b"20-11-2026 23:40:00")


def sample_site(folder: Path) -> Path:
    """The sample loaded into ``folder`` (plus the hostile mail), its report written, three users."""
    mail = folder / "mail"
    shutil.copytree(SAMPLE / "mail", mail)
    (mail / "9999-hostile.eml").write_bytes(HOSTILE_MAIL)
    with alertproc.open(folder / "alertproc.duckdb", archive=str(folder / "archive"), policy=POLICY,
                        report_dir=str(folder / "out")) as app:
        app.run(mail, kind="eml", week="2026-W47", inputs={"access-log": [SAMPLE / "access-log.csv"],
                                                           "tokens": [SAMPLE / "active-tokens.csv"]})
        for name, password in PASSWORDS.items():
            app.add_user(name, ROLES[name], password)
    return folder


class Server:
    """`alertproc serve` on a free port of 127.0.0.1 over the database in ``folder``."""

    def __init__(self, folder: Path, *extra: str) -> None:
        self.folder, self.port = folder, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "alertproc", "serve", "--port", str(self.port), "--db", "alertproc.duckdb",
             "--archive", "archive", "--policy", POLICY, "--report-dir", "out", *extra],
            cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={"PATH": os.environ["PATH"], "HOME": str(folder), "ALERTPROC_LOCK_WAIT": "30",
                 "PYTHONPATH": str(ROOT)})  # this checkout, whatever the installed copy is
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url + "/login", timeout=1)
                return
            except httpx.HTTPError:
                if self.process.poll() is not None:
                    raise RuntimeError(self.process.stdout.read()) from None
                time.sleep(0.1)
        raise RuntimeError("alertproc serve did not start")

    def client(self, name: str | None = None) -> httpx.Client:
        """An HTTP client, logged in as ``name`` when given."""
        client = httpx.Client(base_url=self.url, follow_redirects=False, timeout=30)
        if name:
            answer = login(client, name, PASSWORDS[name])
            assert answer.status_code == 303, answer.text
        return client

    def stop(self) -> str:
        self.process.send_signal(signal.SIGINT)
        try:
            out, _ = self.process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate()
        return out


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(client: httpx.Client, name: str, password: str) -> httpx.Response:
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"username": name, "password": password, "csrf_token": token, "next": "/"})
