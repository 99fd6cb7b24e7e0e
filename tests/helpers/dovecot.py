"""A real, throwaway Dovecot IMAP server on 127.0.0.1 for tests and benchmarks.

Debian's dovecot-imapd (installed by tests/setup-system.sh). Each instance has its own
config, passwd-file user, Maildir and free port; nothing outside its directories is touched.
"""

from __future__ import annotations

import getpass
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from imapclient import IMAPClient

USER, PASSWORD = "alice", "s3cr3t-PASSW0RD"
OTHER_USER = "bob"  # a second mailbox: the test sets it up by password, alertproc may log in by OAuth2
DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
# Dovecot's own list minus MOVE, to test the COPY + EXPUNGE fallback (and without IDLE, polling)
# against the real server.
NO_MOVE = ("IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT THREAD=REFERENCES MULTIAPPEND "
           "UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH "
           "SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY LITERAL+")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost signed by it."""
    ca_key, ca_crt = directory / "ca.key", directory / "ca.crt"
    key, csr, crt = directory / "server.key", directory / "server.csr", directory / "server.crt"
    ext = directory / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=alertproc test CA",
            "-keyout", str(ca_key), "-out", str(ca_crt))
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(csr))
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key), "-CAcreateserial",
            "-days", "2", "-extfile", str(ext), "-out", str(crt))
    return ca_crt, crt, key


class Dovecot:
    """Start with :meth:`start`, stop with :meth:`stop` (or use as a context manager)."""

    def __init__(self, *, move: bool = True, tls: bool = False, idle: bool = True, parent: Path | None = None,
                 oauth2_url: str | None = None, namespace_prefix: str = "", uidplus: bool = True):
        """``parent``: create the server's files there and leave them for its owner to delete.
        ``oauth2_url``: also accept XOAUTH2/OAUTHBEARER tokens, checked at this RFC 7662
        introspection endpoint. ``namespace_prefix``: the personal namespace's prefix, with
        '.' as delimiter (``INBOX.``, as Courier and Cyrus have it)."""
        self.oauth2_url = oauth2_url
        self.namespace_prefix = namespace_prefix
        self.uidplus = uidplus
        self.root = Path(tempfile.mkdtemp(prefix="alertproc-dovecot-", dir=parent))
        self.keep_files = parent is not None
        os.chmod(self.root, 0o755)
        self.port = free_port()
        self.move = move
        self.idle = idle
        self.tls = tls
        self.ca_file: Path | None = None
        self.conf = self.root / "dovecot.conf"

    def _config(self) -> str:
        if os.geteuid() == 0:
            mail_user, mail_group, service_user = "nobody", "nogroup", None
            shutil.chown(self.root / "home", mail_user, mail_group)
        else:
            mail_user = service_user = getpass.getuser()
            mail_group = pwd.getpwnam(mail_user).pw_gid
        ssl = "no"
        if self.tls:
            self.ca_file, crt, key = make_certificates(self.root)
            ssl = f"required\nssl_cert = <{crt}\nssl_key = <{key}"
        lines = [
            "protocols = imap", "listen = 127.0.0.1", f"base_dir = {self.root}/run", f"state_dir = {self.root}/state",
            f"log_path = {self.root}/dovecot.log", f"ssl = {ssl}", "mailbox_idle_check_interval = 1 secs",
            "disable_plaintext_auth = no" if not self.tls else "disable_plaintext_auth = yes",
            "auth_mechanisms = plain login" + (" xoauth2 oauthbearer" if self.oauth2_url else ""),
            f"mail_location = maildir:{self.root}/home/%u/Maildir", "first_valid_uid = 0",
            "passdb {", "  driver = passwd-file", f"  args = scheme=PLAIN username_format=%u {self.root}/passwd",
            "  mechanisms = plain login", "}",
            "userdb {", "  driver = static", f"  args = uid={mail_user} gid={mail_group} home={self.root}/home/%u", "}",
            "service imap-login {",
            "  inet_listener imap {", f"    port = {0 if self.tls else self.port}", "  }",
            "  inet_listener imaps {", f"    port = {self.port if self.tls else 0}", "    ssl = yes" if self.tls else "", "  }",
            "}",
            "service pop3-login {", "  inet_listener pop3 {", "    port = 0", "  }", "}",
        ]
        if self.oauth2_url:
            (self.root / "oauth2.conf.ext").write_text(
                f"introspection_mode = post\nintrospection_url = {self.oauth2_url}\nusername_attribute = username\n"
                "active_attribute = active\nactive_value = true\nforce_introspection = yes\n")
            lines += ["passdb {", "  driver = oauth2", "  mechanisms = xoauth2 oauthbearer",
                      f"  args = {self.root}/oauth2.conf.ext", "}"]
        if self.namespace_prefix:
            lines += ["namespace inbox {", "  inbox = yes", f"  prefix = {self.namespace_prefix}", "  separator = .", "}"]
        if service_user:
            lines += [f"default_internal_user = {service_user}", f"default_login_user = {service_user}"]
        if not self.move or not self.idle or not self.uidplus:
            capabilities = NO_MOVE + (" MOVE" if self.move else "")
            capabilities = capabilities if self.idle else capabilities.replace(" IDLE", "")
            lines.append(f"imap_capability = {capabilities if self.uidplus else capabilities.replace(' UIDPLUS', '')}")
        return "\n".join(lines) + "\n"

    def start(self) -> "Dovecot":
        (self.root / "home").mkdir()
        (self.root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n{OTHER_USER}:{{PLAIN}}{PASSWORD}\n")
        self.conf.write_text(self._config())
        # The daemon keeps inherited pipes open: give it none, its log is in the root folder.
        started = subprocess.run([DOVECOT, "-c", str(self.conf)], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if started.returncode != 0:
            raise RuntimeError(f"dovecot failed to start: {self._log()}")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not start: {self._log()}")

    def _log(self) -> str:
        log = self.root / "dovecot.log"
        return log.read_text()[-2000:] if log.exists() else "(no log)"

    def stop(self) -> None:
        pid_file = self.root / "run" / "master.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().split()[0])
            try:
                os.killpg(pid, signal.SIGKILL)  # a throwaway server: no need for its 2 s graceful exit
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    os.kill(pid, 0)
                    time.sleep(0.02)
            except ProcessLookupError:
                pass
        if not self.keep_files:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "Dovecot":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def kick(self, user: str = USER) -> None:
        """Disconnect every session of ``user``, as a server restart or network drop would."""
        subprocess.run(["doveadm", "-c", str(self.conf), "kick", user], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)

    def client(self, user: str = USER) -> IMAPClient:
        """A logged-in client, for setting up and inspecting the mailbox (``user``'s: any user
        :data:`OTHER_USER` too)."""
        if self.tls:
            import ssl
            context = ssl.create_default_context(cafile=str(self.ca_file))
            client = IMAPClient("127.0.0.1", port=self.port, ssl=True, ssl_context=context)
        else:
            client = IMAPClient("127.0.0.1", port=self.port, ssl=False)
        client.login(user, PASSWORD)
        return client

    def imap_table(self, **extra: object) -> str:
        """An ``[imap]`` TOML section for this server (password from $TEST_IMAP_PASSWORD)."""
        values = {"host": "127.0.0.1", "port": self.port, "tls": "ssl" if self.tls else "none",
                  "username": USER, "password_env": "TEST_IMAP_PASSWORD", **extra}
        if self.tls and "ca_file" not in extra:
            values["ca_file"] = str(self.ca_file)
        body = "\n".join(f"{k} = {v!r}".replace("'", '"') if not isinstance(v, bool) else f"{k} = {str(v).lower()}"
                         for k, v in values.items())
        return f"[imap]\n{body}\n"
