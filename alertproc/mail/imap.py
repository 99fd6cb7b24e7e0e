"""The IMAP side: connect with verified TLS, log in, and search, fetch, move and delete by UID.

Every server operation goes through :meth:`ImapMailbox.call`, which reconnects with backoff
when the connection drops and re-selects the folder, refusing to go on if the folder's
UIDVALIDITY changed meanwhile (the UIDs in hand would then name other messages).
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from ..deadline import Deadline, connecting
from ..domain import backoff
from .imapbounds import BoundedIMAPClient
from ..config import ImapSettings
from ..errors import ConfigError, FetchError
from ..storage.archive import sha256_hex
from .mailbox import RawMail, Selection, SyncState, Wanted
from ..credentials import from_command, from_env, is_loopback, tls_context
from ..masking import mask, remember, remember_login

log = logging.getLogger(__name__)
T = TypeVar("T")
_DROPPED = (IMAPClientAbortError, OSError, EOFError, ssl.SSLError, socket.timeout)
FETCH_PARTS = ["BODY.PEEK[]", "INTERNALDATE"]
MESSAGE_ID_CHUNK = 100  # Message-IDs per SEARCH when looking for copies: about 7 KB of command
FALLBACK_BATCH = 1000  # UIDs per COPY + EXPUNGE round on servers without MOVE: plain lists, well under 64 KB


@dataclass(frozen=True)
class FolderState:
    """What SELECT says about a folder."""

    name: str
    uidvalidity: int
    uidnext: int
    exists: int


def credential(cfg: ImapSettings, environ: dict[str, str]) -> tuple[str, str]:
    """``("password", secret)`` or ``("oauth2", token)``, fetched anew at each call (a token
    command or provider is asked again on every connect: tokens expire after about an hour)."""
    if cfg.oauth2_provider:
        from .oauth import access_token  # the provider libraries are optional extras
        return "oauth2", remember(access_token(cfg, environ))
    if cfg.oauth2_token_command:
        return "oauth2", from_command(cfg.oauth2_token_command, "oauth2_token_command")
    if cfg.password_command:
        return "password", from_command(cfg.password_command, "password_command")
    return "password", from_env(environ, cfg.password_env, "password_env")


class ImapMailbox:
    """One IMAP account, one selected folder at a time, with reconnects: a
    :class:`~alertproc.mail.mailbox.Mailbox` whose new messages are those of ``cfg.folder`` above
    the recorded UID."""

    def __init__(self, cfg: ImapSettings, environ: dict[str, str], sleep: Callable[[float], None] = time.sleep):
        if cfg.tls == "none" and not is_loopback(cfg.host):
            raise ConfigError(f"tls = \"none\" is refused for {cfg.host}: plain IMAP is only allowed on loopback")
        self.cfg = cfg
        self.environ = environ
        self.sleep = sleep
        self.client: IMAPClient | None = None
        self.selected: FolderState | None = None
        self.commands = 0
        self.reconnects = 0
        self._capabilities: frozenset[str] = frozenset()
        self._namespace: tuple[str, str] | None = None

    @property
    def account(self) -> str:
        """``user@host``: the key of its sync state and of its messages."""
        return self.cfg.account

    @property
    def folder(self) -> str:
        """The folder alerts arrive in."""
        return self.cfg.folder

    # --- connection -------------------------------------------------------------------

    def connect(self) -> None:
        """Open the connection and log in (raises :class:`FetchError` with what to fix)."""
        cfg = self.cfg
        port = cfg.port or (993 if cfg.tls == "ssl" else 143)
        kind, secret = credential(cfg, self.environ)  # before the clock starts: a token provider may take its time
        remember_login(cfg.username, secret)  # and the SASL strings it goes in, which a server may echo
        deadline = Deadline(cfg.timeout)
        try:
            with deadline:
                client = self._log_in(port, deadline, kind, secret)
        except ssl.SSLCertVerificationError as exc:
            raise FetchError(f"the TLS certificate of {cfg.host} could not be verified ({exc.verify_message}); "
                             "fix the server certificate or set ca_file to your company CA") from None
        except LoginError as exc:
            raise FetchError(f"login as {cfg.username} on {cfg.host} failed: {_server_text(exc)}; "
                             "check the user name and the password or token source") from None
        except (OSError, IMAPClientError) as exc:
            if deadline.expired:
                raise FetchError(f"{cfg.host}:{port} did not finish greeting and login within timeout = {cfg.timeout} s "
                                 "(a server answering a byte at a time); the next run tries again") from None
            raise FetchError(f"cannot reach {cfg.host}:{port}: {_server_text(exc)}; check host, port and tls") from None
        finally:
            connecting(None)
        self.client = client

    def _log_in(self, port: int, deadline: Deadline, kind: str, secret: str) -> IMAPClient:
        """Connect, STARTTLS when asked, log in; the socket is cut when ``deadline`` passes."""
        cfg = self.cfg
        connecting(deadline)
        client = BoundedIMAPClient(cfg.host, port=port, ssl=cfg.tls == "ssl",
                                   ssl_context=tls_context(cfg.ca_file) if cfg.tls == "ssl" else None, timeout=cfg.timeout)
        client.normalise_times = False  # keep INTERNALDATE's offset instead of local naive time
        self._count_commands(client)
        if cfg.tls == "starttls":
            client.starttls(tls_context(cfg.ca_file))
        if kind == "oauth2" and cfg.oauth2_mechanism == "oauthbearer":
            client.oauthbearer_login(cfg.username, secret)
        elif kind == "oauth2":
            client.oauth2_login(cfg.username, secret)
        else:
            client.login(cfg.username, secret)
        self._capabilities = frozenset(c.decode().upper() for c in client.capabilities())
        return client

    def _count_commands(self, client: IMAPClient) -> None:
        """Count every command sent (benchmarks check that a no-op sync costs a constant few).

        The counter must stay a bound method: imaplib tells a callback (AUTHENTICATE's, which
        XOAUTH2 and OAUTHBEARER use) from a literal string by ``type(literal) is
        type(self._command)``, and a plain function there made every OAuth2 login fail.
        """
        imap = client._imap
        send, send_raw = imap._command, client._raw_command  # SEARCH and FETCH go by the second
        mailbox = self

        def counted(_imap, *args, **kwargs):
            mailbox.commands += 1
            return send(*args, **kwargs)

        def counted_raw(_client, *args, **kwargs):
            mailbox.commands += 1
            return send_raw(*args, **kwargs)

        imap._command = types.MethodType(counted, imap)
        client._raw_command = types.MethodType(counted_raw, client)

    def close(self) -> None:
        """Log out, ignoring a connection that is already gone."""
        if self.client is not None:
            try:
                self.client.logout()
            except Exception:  # already dropped: nothing left to close politely
                pass
            self.client = None

    def drop(self) -> None:
        """Close the connection without LOGOUT: after a failure mid-command (an IDLE the server
        answered oddly) a polite LOGOUT would wait out the socket timeout."""
        if self.client is not None:
            try:
                self.client.shutdown()
            except Exception:  # already gone
                pass
            self.client = None

    def __enter__(self) -> "ImapMailbox":
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def has(self, capability: str) -> bool:
        """Whether the server announced ``capability`` (e.g. MOVE, UIDPLUS, IDLE)."""
        return capability.upper() in self._capabilities

    def call(self, operation: Callable[[IMAPClient], T], what: str) -> T:
        """Run ``operation`` on the client; on a dropped connection reconnect and retry."""
        for attempt in range(self.cfg.retries + 1):
            deadline = Deadline(self.cfg.timeout)  # `timeout` bounds the whole command, not only each read
            try:
                if self.client is None:
                    self._reconnect()
                with deadline:
                    deadline.watch(self.client._imap.sock)
                    return operation(self.client)
            except _DROPPED as exc:
                self.drop()  # its socket too: a cut connection is not reused
                why = (f"no complete answer within timeout = {self.cfg.timeout} s" if deadline.expired
                       else _server_text(exc) if isinstance(exc, IMAPClientAbortError) else type(exc).__name__)
                if attempt == self.cfg.retries:
                    raise FetchError(f"{what}: connection to {self.cfg.host} lost {attempt + 1} times ({why}); "
                                     "the next run resumes where this one stopped") from None
                delay = backoff(attempt, 30)
                log.warning("%s: connection lost (%s); reconnecting in %ss", what, mask(why), delay)
                self.sleep(delay)
            except IMAPClientError as exc:
                raise FetchError(f"{what}: the server said: {_server_text(exc)}") from None
        raise AssertionError("unreachable")

    def _reconnect(self) -> None:
        self.reconnects += 1
        self.connect()  # a fresh OAuth2 token too: they expire after about an hour
        if self.selected is not None:
            before = self.selected
            state = self._select(before.name)
            if state.uidvalidity != before.uidvalidity:
                raise FetchError(f"UIDVALIDITY of {before.name} changed during the run; "
                                 "nothing was lost, run again to rescan it")

    # --- folders ----------------------------------------------------------------------

    def _select(self, name: str) -> FolderState:
        response = self.client.select_folder(name)
        if b"UIDVALIDITY" not in response:  # RFC 3501 requires it: without it no UID can be trusted across runs
            raise FetchError(f"{self.cfg.host} gave no UIDVALIDITY for {name}, so alertproc cannot know whether a UID "
                             "still names the same message next time; nothing was read. Ask the server's administrator")
        self.selected = FolderState(name, int(response[b"UIDVALIDITY"]), int(response.get(b"UIDNEXT", 0)),
                                    int(response.get(b"EXISTS", 0)))
        return self.selected

    def select(self, name: str) -> FolderState:
        """Select a folder read-write and return its UIDVALIDITY and UIDNEXT."""
        self.selected = None
        return self.call(lambda c: self._select(name), f"select {name}")

    def personal_namespace(self) -> tuple[str, str]:
        """``(prefix, delimiter)`` of the personal namespace (RFC 2342): ``("INBOX.", ".")`` on
        Courier and Cyrus defaults, ``("", "/")`` or ``("", ".")`` on most others."""
        if self._namespace is None:
            def ask(client: IMAPClient) -> tuple[str, str]:
                if self.has("NAMESPACE"):
                    personal = client.namespace().personal
                    if personal:
                        prefix, delimiter = personal[0]
                        return prefix or "", delimiter or "/"
                found = client.list_folders("", "")
                value = found[0][1] if found else b"/"
                return "", value.decode() if isinstance(value, bytes) else (value or "/")
            self._namespace = self.call(ask, "namespace")
        return self._namespace

    def server_name(self, path: str) -> str:
        """A folder path written with '/' as the server names it: under the personal
        namespace's prefix, levels joined by its delimiter (``GST/Suspicious`` is
        ``INBOX.GST.Suspicious`` where the prefix is ``INBOX.``)."""
        prefix, delimiter = self.personal_namespace()
        name = delimiter.join(part for part in path.split("/") if part)
        if name.upper() == "INBOX" or name.upper().startswith(prefix.upper()):
            return name
        return prefix + name

    def ensure_folder(self, path: str) -> str:
        """Create (and subscribe) the folder unless it exists; return its server name."""
        name = self.server_name(path)

        def create(client: IMAPClient) -> None:
            if not client.folder_exists(name):
                client.create_folder(name)
                client.subscribe_folder(name)
        self.call(create, f"create folder {name}")
        return name

    # --- the Mailbox seam -------------------------------------------------------------

    def new_messages(self, since: SyncState | None, wanted: Wanted) -> Selection:
        """UIDs of possible alerts in :attr:`folder` above ``since`` (all of them after a
        UIDVALIDITY change): LOGIN and SELECT only when UIDNEXT shows nothing new.

        The state recorded is never taken from UIDNEXT (a server may announce none, as Courier,
        or a bogus one): it is the highest UID the server shows, by a FETCH of the last message's
        UID. The search names that explicit range (``n:*`` answers nothing on GNU imap4d and the
        highest UID even when nothing is new on Dovecot). A search that finds no alert although
        the server shows new mail is cross-checked, and a search that cannot see that mail stops
        the sync with an error: alerts are never skipped silently.
        """
        state = self.select(self.folder)
        last_uid = since.last_uid if since and since.uidvalidity == state.uidvalidity else 0
        selection = Selection(uidvalidity=state.uidvalidity, uidnext=state.uidnext,
                              rescan=since is not None and since.uidvalidity != state.uidvalidity,
                              stateful=not wanted.windowed)
        if not wanted.windowed and state.uidnext and state.uidnext - 1 <= last_uid:
            return selection
        highest = self.highest_uid(state.exists)
        if not wanted.windowed:
            selection.final = SyncState(state.uidvalidity, max(last_uid, highest))
            if highest <= last_uid:  # what UIDNEXT announced was expunged again (or UIDNEXT is bogus)
                return selection
        if wanted.expecting:
            wanted.expecting(highest - last_uid)
        span = f"{last_uid + 1}:{highest}"
        criteria = search_criteria(self.cfg, list(wanted.senders), list(wanted.subjects),
                                   None if wanted.windowed else span, wanted.since, wanted.until)
        selection.refs = [uid for uid in self.search(criteria) if last_uid < uid <= highest or wanted.windowed]
        if not selection.refs and not wanted.windowed and highest not in self.search(["UID", span]):
            selection.final = None
            raise FetchError(
                f"{self.cfg.host}: FETCH shows UID {highest} in {self.folder}, but UID SEARCH UID {span} does not "
                "find it: this server's search cannot be trusted, so nothing was recorded (no alert skipped). "
                "Run `alertproc doctor` and report the server's name and version")
        return selection

    def highest_uid(self, exists: int) -> int:
        """The UID of the last message (by sequence number ``exists``, from SELECT); 0 when empty."""
        if exists <= 0:
            return 0

        def ask(client: IMAPClient) -> int:
            client.use_uid = False
            try:
                found = client.fetch([exists], ["UID"])
            finally:
                client.use_uid = True
            return max((int(data[b"UID"]) for data in found.values() if b"UID" in data), default=0)
        return self.call(ask, "fetch the highest UID")

    def sizes(self, refs: list) -> dict[int, int]:
        """RFC822.SIZE of each UID of ``refs`` (5000 per FETCH: Dovecot limits command length)."""
        found: dict[int, int] = {}
        for start in range(0, len(refs), 5000):
            chunk = refs[start:start + 5000]
            fetched = self.call(lambda c, chunk=chunk: c.fetch(chunk, ["RFC822.SIZE"]), "fetch sizes")
            found.update({uid: int(data.get(b"RFC822.SIZE") or 0) for uid, data in fetched.items()})
        return found

    def fetch_batch(self, refs: list) -> list[RawMail]:
        """The raw mail of UIDs ``refs`` of the selected folder (at most 5000)."""
        fetched = self.fetch(refs, FETCH_PARTS)
        state = self.selected
        mails = []
        for uid in sorted(fetched):
            data = fetched[uid]
            raw = data.get(b"BODY[]")
            if raw is None:  # expunged by someone else between SEARCH and FETCH: nothing to keep
                continue
            internal = data.get(b"INTERNALDATE")
            if isinstance(internal, datetime):  # in UTC: imapclient's own tzinfo cannot be pickled to a worker
                internal = (internal.replace(tzinfo=timezone.utc) if internal.tzinfo is None
                            else internal.astimezone(timezone.utc))
            mails.append(RawMail(raw, "imap", f"{state.name}/{uid}", folder=state.name, uid=uid,
                                 uidvalidity=state.uidvalidity, account=self.account, internal_date=internal))
        return mails

    def filing_refused(self) -> str | None:
        """Why mail cannot be moved without touching other messages, or None."""
        if self.client is not None and not (self.has("MOVE") or self.has("UIDPLUS")):
            return (f"{self.cfg.host} has neither MOVE nor UIDPLUS, so messages cannot be moved out of "
                    f"{self.folder} without expunging others")
        return None

    @contextmanager
    def parallel_reader(self) -> Iterator["ImapMailbox"]:
        """A second connection on the same folder, refusing a UIDVALIDITY that changed."""
        other = ImapMailbox(self.cfg, self.environ, self.sleep)
        other.connect()
        try:
            expected = self.selected.uidvalidity if self.selected else None
            if other.select(self.folder).uidvalidity != expected:
                raise FetchError(f"UIDVALIDITY of {self.folder} changed during the run; nothing was lost, run again")
            yield other
        finally:
            self.commands += other.commands
            other.close()

    # --- messages ---------------------------------------------------------------------

    def search(self, criteria: list) -> list[int]:
        """UIDs matching ``criteria`` (a list of IMAP search keys, never a string)."""
        return sorted(self.call(lambda c: c.search(criteria), "search"))

    def fetch(self, uids: list[int], parts: list[str] = FETCH_PARTS) -> dict[int, dict]:
        """FETCH ``parts`` of ``uids`` (at most 5000: Dovecot limits command length)."""
        return self.call(lambda c: c.fetch(uids, parts), "fetch")

    def move(self, uids: list[int], folder: str, mark_seen: bool = False) -> None:
        """Move ``uids`` out of the selected folder.

        UID MOVE when the server has it; otherwise COPY, ``\\Deleted`` and UID EXPUNGE of
        exactly these UIDs, skipping messages whose Message-ID the target already holds
        (so a crash between COPY and EXPUNGE never leaves two copies).
        """
        if not uids:
            return
        if self.has("MOVE"):
            for chunk in uid_sets(uids):
                if mark_seen:
                    self.call(lambda c: c.add_flags(chunk, [b"\\Seen"], silent=True), "mark seen")
                self.call(lambda c: c.move(chunk, folder), f"move to {folder}")
            return
        for start in range(0, len(uids), FALLBACK_BATCH):
            self._copy_and_expunge(uids[start:start + FALLBACK_BATCH], folder, mark_seen)

    def _copy_and_expunge(self, uids: list[int], folder: str, mark_seen: bool) -> None:
        if mark_seen:
            self.call(lambda c: c.add_flags(uids, [b"\\Seen"], silent=True), "mark seen")
        if refused := self.filing_refused():
            raise FetchError(f"{refused}; run with --no-file-away")
        source = self.selected
        wanted = self._message_ids(uids)
        there = self._copies_in(folder, {m for m in wanted.values() if m})
        self.select(source.name)
        # A copy counts only with the same bytes: another mail can carry the same Message-ID (a
        # second delivery with another Received line, a spoof), and expunging it uncopied loses it.
        maybe = [uid for uid, mid in wanted.items() if mid in there]
        hashes = {uid: sha256_hex(data.get(b"BODY[]") or b"")
                  for uid, data in (self.fetch(maybe, ["BODY.PEEK[]"]) if maybe else {}).items()}
        to_copy = [uid for uid, mid in wanted.items() if hashes.get(uid) not in there.get(mid, set())]
        if to_copy:
            self.call(lambda c: c.copy(to_copy, folder), f"copy to {folder}")
        self.delete(uids)

    def _copies_in(self, folder: str, message_ids: set[str]) -> dict[str, set[str]]:
        """The SHA-256 of every message in ``folder`` carrying one of ``message_ids``: one SEARCH
        of OR'd Message-IDs per chunk and one FETCH of the hits (SEARCH HEADER matches
        substrings, so the exact value is compared here) — not one SEARCH per message."""
        if not message_ids:
            return {}
        self.select(folder)
        found: dict[str, set[str]] = {}
        ordered = sorted(message_ids)
        for start in range(0, len(ordered), MESSAGE_ID_CHUNK):
            chunk = ordered[start:start + MESSAGE_ID_CHUNK]
            hits = self.search([either([["HEADER", "Message-ID", m] for m in chunk])])
            if not hits:
                continue
            fetched = self.call(lambda c: c.fetch(hits, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]", "BODY.PEEK[]"]),
                                "fetch copies")
            for data in fetched.values():
                mid = _message_id(data)
                if mid in chunk:
                    found.setdefault(mid, set()).add(sha256_hex(data.get(b"BODY[]") or b""))
        return found

    def _message_ids(self, uids: list[int]) -> dict[int, str | None]:
        """The Message-ID of each of ``uids`` in the selected folder (None where it has none)."""
        fetched = self.call(lambda c: c.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]), "fetch message ids")
        return {uid: _message_id(data) for uid, data in fetched.items()}

    def delete(self, uids: list[int]) -> None:
        """Flag ``uids`` ``\\Deleted`` and expunge exactly those (UID EXPUNGE, RFC 4315)."""
        if not uids:
            return
        self.call(lambda c: c.add_flags(uids, [b"\\Deleted"], silent=True), "flag deleted")
        self.call(lambda c: c.uid_expunge(uids), "expunge")


def search_criteria(cfg: ImapSettings, senders: list[str], subjects: list[str], uids: str | None,
                    since: date | None = None, until: date | None = None) -> list:
    """Server-side selection: a GST (or look-alike, or trusted forwarder's) sender, an alert
    subject, and the UID range ``uids`` (``n:m`` ending at an existing UID: every server tried
    answers it; None for a backfill of a date window)."""
    froms = sorted(senders) + ([cfg.lookalike_search] if cfg.lookalike_search else [])
    criteria: list = ["UID", uids] if uids else []
    criteria += [any_of("FROM", froms), any_of("SUBJECT", subjects)]
    if since:
        criteria += ["SINCE", since]
    if until:
        criteria += ["BEFORE", until + timedelta(days=1)]
    return criteria


def uid_sets(uids: list[int], limit: int = 60_000) -> list[str]:
    """``uids`` as IMAP sequence sets (``1:9,11:19``), each under ``limit`` characters.

    A MOVE of many UIDs in one command is far cheaper for the server than many small ones
    (Dovecot rescans a Maildir per command), and runs of UIDs collapse into ranges, so
    thousands fit under Dovecot's 64 KB command-line limit.
    """
    ranges: list[str] = []
    ordered = sorted(set(uids))
    start = prev = ordered[0] if ordered else 0
    for uid in ordered[1:] + [None]:
        if uid is not None and uid == prev + 1:
            prev = uid
            continue
        ranges.append(f"{start}:{prev}" if prev != start else str(start))
        if uid is not None:
            start = prev = uid
    sets, current = [], ""
    for part in ranges if ordered else []:
        if current and len(current) + len(part) + 1 > limit:
            sets.append(current)
            current = ""
        current = f"{current},{part}" if current else part
    return sets + ([current] if current else [])


def _message_id(data: dict) -> str | None:
    for key, value in data.items():
        if isinstance(key, bytes) and key.startswith(b"BODY[HEADER") and value:
            text = value.decode("ascii", "replace").split(":", 1)
            return text[1].strip() if len(text) == 2 and text[1].strip() else None
    return None


def _server_text(exc: Exception) -> str:
    text = mask(str(exc).strip()) or type(exc).__name__
    return text[:200]


def any_of(key: str, values: list[str]) -> list:
    """IMAP search keys matching any of ``values`` for ``key``: nested ``OR`` lists."""
    return either([[key, value] for value in values])


def either(terms: list[list]) -> list:
    """IMAP search keys matching any of ``terms``: ``OR`` nested as a balanced tree, so a
    hundred terms nest seven deep, not a hundred (servers limit the depth they parse)."""
    if len(terms) == 1:
        return terms[0]
    middle = len(terms) // 2
    return ["OR", either(terms[:middle]), either(terms[middle:])]
