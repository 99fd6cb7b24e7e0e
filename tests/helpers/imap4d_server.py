"""A throwaway GNU Mailutils imap4d on 127.0.0.1: a third IMAP implementation for the core scenario.

Debian's mailutils-imap4d (installed beside Dovecot by tests/setup-system.sh; it removes nothing).
Its quirks are why it is here: any ``UID SEARCH UID n:*`` answers nothing, an ``n:m`` past the
last UID is BAD, it has neither MOVE nor UIDPLUS (so alertproc files nothing there and says
why), it announces IDLE but sends no EXISTS while idling, and its mbox storage writes
``X-IMAPbase``/``X-UID`` headers into the messages it serves. Users come from a virtual-domain
password file, so log-in names are ``alice@test.example``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .dovecot import PASSWORD, USER, free_port
from .local_server import LocalServer

IMAP4D = shutil.which("imap4d") or "/usr/sbin/imap4d"
DOMAIN = "test.example"


class Imap4d(LocalServer):
    """Start with :meth:`start`, stop with :meth:`stop` (or use as a context manager)."""

    name = "imap4d"
    delimiter = "/"

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="alertproc-imap4d-"))
        self.port = free_port()
        self.user = f"{USER}@{DOMAIN}"
        self.process: subprocess.Popen | None = None

    def start(self) -> "Imap4d":
        home = self.root / "home" / USER
        home.mkdir(parents=True)
        (home / "INBOX").touch()  # an mbox INBOX must exist before the first APPEND
        (self.root / "passwd").mkdir()
        crypted = subprocess.run(["openssl", "passwd", "-1", PASSWORD], check=True, capture_output=True,
                                 text=True).stdout.strip()
        (self.root / "passwd" / DOMAIN).write_text(f"{USER}:{crypted}:{os.getuid()}:{os.getgid()}::{home}:/bin/sh\n")
        conf = self.root / "imap4d.conf"
        conf.write_text(
            "auth { authentication generic; authorization virtdomain; };\n"
            f'virtdomain {{ passwd-dir "{self.root}/passwd"; }};\n'
            f'mailbox {{ mailbox-pattern "mbox://{self.root}/home/${{user}}/INBOX"; }};\n'
            f'namespace personal {{ prefix "" {{ directory "{self.root}/home/${{user}}"; delimiter "/"; }}; }};\n'
            "logging { syslog false; };\nmode daemon;\nforeground true;\n"
            f"server 127.0.0.1:{self.port} {{ }};\n")
        self.process = subprocess.Popen([IMAP4D, f"--config-file={conf}", "--no-site-config"],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=open(self.root / "log", "wb"), start_new_session=True)
        self.wait_until_listening(10, lambda: (self.root / "log").read_text()[-2000:])
        return self
