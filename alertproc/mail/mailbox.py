"""The ``Mailbox`` seam: what every mail source offers the one ingest-and-file path.

An IMAP folder (:class:`alertproc.mail.imap.ImapMailbox`) and a local Maildir, ``.eml`` folder or
mbox (:class:`alertproc.mail.sources.LocalSource`) both implement it; :func:`alertproc.mail.fetch.sync`
drives either the same way: new messages since the recorded state, fetched batch by batch,
archived and loaded, then moved to their folder, and the state advanced.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Protocol, TypeVar, runtime_checkable

from ..storage.archive import sha256_hex

T = TypeVar("T")

Ref = Hashable  # a message's name in its mailbox: an IMAP UID, a file in a Maildir, an mbox key


@dataclass(frozen=True)
class RawMail:
    """One raw message and where it came from."""

    raw: bytes
    source: str  # eml | maildir | mbox | imap
    ref: str  # file path, mailbox key or "folder/uid": for people, never used as a path
    folder: str | None = None
    uid: int | None = None
    uidvalidity: int | None = None
    account: str | None = None
    internal_date: datetime | None = None

    @cached_property
    def sha256(self) -> str:
        """Hex SHA-256 of the bytes, computed once: reading a batch and filing it both need it."""
        return sha256_hex(self.raw)


@dataclass(frozen=True)
class SyncState:
    """How far a folder has been read: every message up to ``last_uid`` of ``uidvalidity``."""

    uidvalidity: int
    last_uid: int


@dataclass(frozen=True)
class Wanted:
    """Which messages a sync asks for: the senders and subjects an alert can have, an optional
    date window (a backfill), and a hook told how many messages may come before the server
    is asked (large first runs start the parser workers while the server searches)."""

    senders: tuple[str, ...] = ()
    subjects: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None
    expecting: Callable[[int], None] | None = None

    @property
    def windowed(self) -> bool:
        """A backfill of a date window: it reads old mail and records no state."""
        return self.since is not None or self.until is not None


@dataclass
class Selection:
    """What :meth:`Mailbox.new_messages` found.

    ``refs`` in the order they should be read. ``state_after(ref)`` is the state to record
    once every message up to ``ref`` is done, ``final`` the one to record at the end (mail that
    is no alert moves an IMAP folder's UIDNEXT on too); both None for a source that keeps no
    state (a local source: its messages are recognised by their bytes).
    """

    refs: list = field(default_factory=list)
    uidvalidity: int = 0
    uidnext: int = 0
    rescan: bool = False
    final: SyncState | None = None
    stateful: bool = False

    def state_after(self, ref: Ref) -> SyncState | None:
        """The state that says every message up to ``ref`` is done."""
        return SyncState(self.uidvalidity, int(ref)) if self.stateful else None


@runtime_checkable
class Mailbox(Protocol):
    """A place alerts arrive in and can be filed from."""

    account: str | None  # the key of its sync state and of its messages' ``account``
    folder: str  # the folder new alerts arrive in
    commands: int  # server commands sent so far (0 for local files)

    def new_messages(self, since: SyncState | None, wanted: Wanted) -> Selection:
        """Messages that may be alerts and are newer than ``since``."""

    def sizes(self, refs: list) -> dict:
        """The size in bytes of each of ``refs`` (cheap: a FETCH RFC822.SIZE, a stat), so batches
        can be cut by bytes as well as by count; a ref missing from the answer counts as 0."""

    def fetch_batch(self, refs: list) -> list[RawMail]:
        """The raw bytes of ``refs`` (at most a batch), skipping any that vanished meanwhile."""

    def filing_refused(self) -> str | None:
        """Why messages cannot be moved out of this mailbox, or None when they can."""

    def ensure_folder(self, path: str) -> str:
        """Create the folder ``path`` ('/' between levels) unless it exists; its own name for it."""

    def move(self, refs: list, folder: str, mark_seen: bool = False) -> None:
        """Move ``refs`` out of :attr:`folder` into ``folder`` (a name from :meth:`ensure_folder`)."""

    def delete(self, refs: list) -> None:
        """Remove ``refs`` for good."""

    def parallel_reader(self) -> AbstractContextManager["Mailbox"]:
        """Something to fetch the next batch with while this one moves the last (a second
        IMAP connection; the mailbox itself for local files)."""


# Bytes of mail per batch. A batch is fetched ahead while one is parsed and another recorded,
# so about three are in memory: memory follows this, not the size of the mail (30 alerts of
# 40 MB in one batch took 1.75 GB). A single mail larger than this is a batch of its own.
BATCH_BYTES = 32 * 2**20


def batches_of(items: Iterable[T], count: int, size_of: Callable[[T], int]) -> Iterator[list[T]]:
    """``items`` in order, in batches of at most ``count`` items and :data:`BATCH_BYTES` bytes
    (``size_of`` an item; one item larger than that is a batch of its own)."""
    batch: list[T] = []
    total = 0
    for item in items:
        size = size_of(item)
        if batch and (len(batch) >= count or total + size > BATCH_BYTES):
            yield batch
            batch, total = [], 0
        batch.append(item)
        total += size
    if batch:
        yield batch


def split_batches(refs: list, count: int, sizes: dict) -> list[list]:
    """``refs`` in batches by count and bytes, with the sizes a mailbox gave (missing: 0)."""
    return list(batches_of(refs, count, lambda ref: sizes.get(ref, 0)))
