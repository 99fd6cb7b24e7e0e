"""A throwaway Cyrus IMAP 3.6 on 127.0.0.1: a fourth IMAP implementation for the core scenario.

Installing cyrus-imapd system-wide would remove dovecot-imapd, so tests/setup-system.sh only
downloads Debian's cyrus-imapd and cyrus-common packages and unpacks them (dpkg-deb -x) under
:data:`UNPACKED`; this helper runs that ``master`` with a config of its own. Debian's defaults
are kept where they matter to alertproc: the personal namespace ``INBOX.`` with '.' as the
delimiter, INBOX created at the first login. Passwords are not checked (SASL ``alwaystrue``):
the log-in path is tested on the other servers; here it is the mailbox behaviour that counts.
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .dovecot import USER, free_port
from .local_server import TEST_CACHE, LocalServer

UNPACKED = TEST_CACHE / "cyrus"
BIN = UNPACKED / "usr" / "lib" / "cyrus" / "bin"
LIBS = UNPACKED / "usr" / "lib" / "x86_64-linux-gnu"


class Cyrus(LocalServer):
    """Start with :meth:`start`, stop with :meth:`stop` (or use as a context manager)."""

    name = "cyrus"
    delimiter = "."
    prefix = "INBOX."

    def __init__(self) -> None:
        if not (BIN / "master").exists():
            raise RuntimeError(f"Cyrus is not unpacked under {UNPACKED}: run `bash tests/setup-system.sh`")
        self.root = Path(tempfile.mkdtemp(prefix="alertproc-cyrus-"))
        self.port = free_port()
        self.user = USER
        self.process: subprocess.Popen | None = None

    def start(self) -> "Cyrus":
        root = self.root
        for sub in ("config/db", "config/ptclient", "config/socket", "config/lock", "config/log", "config/proc",
                    "config/quota", "config/user", "spool", "run/proc", "run/lock"):
            (root / sub).mkdir(parents=True)
        cyrus_user = "nobody" if os.geteuid() == 0 else getpass.getuser()
        conf = root / "imapd.conf"
        conf.write_text("\n".join([
            f"configdirectory: {root}/config", f"proc_path: {root}/run/proc", f"mboxname_lockpath: {root}/run/lock",
            "defaultpartition: default", f"partition-default: {root}/spool", "altnamespace: no",
            "unixhierarchysep: no", "autocreate_quota: 0", "allowplaintext: yes", "sasl_pwcheck_method: alwaystrue",
            "sasl_mech_list: PLAIN LOGIN", f"idlesocket: {root}/run/idle", f"notifysocket: {root}/run/notify",
            f"lmtpsocket: {root}/run/lmtp", f"cyrus_user: {cyrus_user}", "syslog_prefix: alertproc-test-cyrus", ""]))
        (root / "cyrus.conf").write_text(
            f'START {{\n  recover cmd="{BIN}/ctl_cyrusdb -C {conf} -r"\n}}\n'
            f'SERVICES {{\n  imap cmd="{BIN}/imapd -C {conf}" listen="127.0.0.1:{self.port}" prefork=0\n}}\n'
            f'EVENTS {{\n}}\nDAEMON {{\n}}\n')
        if os.geteuid() == 0:
            shutil.chown(root, cyrus_user)
            for path in root.rglob("*"):
                shutil.chown(path, cyrus_user)
        env = {**os.environ, "LD_LIBRARY_PATH": str(LIBS)}
        self.process = subprocess.Popen([str(BIN / "master"), "-C", str(conf), "-M", str(root / "cyrus.conf"),
                                         "-p", str(root / "run" / "master.pid"), "-D"], env=env,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
        self.wait_until_listening(15)
        return self
