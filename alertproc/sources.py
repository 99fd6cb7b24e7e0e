"""Local mail sources: a folder of ``.eml`` files, a Maildir, or an mbox file."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path

from .archive import sha256_hex
from .errors import SourceError

LOCAL_KINDS = ("eml", "maildir", "mbox")


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


def detect_kind(path: Path) -> str:
    """Guess the kind of a local source: ``maildir``, ``eml`` (a folder) or ``mbox`` (a file)."""
    if path.is_dir():
        return "maildir" if (path / "cur").is_dir() and (path / "new").is_dir() else "eml"
    if path.is_file():
        return "eml" if path.suffix.lower() == ".eml" else "mbox"
    raise SourceError(f"{path}: no such file or folder")


@dataclass
class LocalSource:
    """Messages read from local files, in a stable order."""

    path: Path
    kind: str

    def __post_init__(self) -> None:
        if self.kind not in LOCAL_KINDS:
            raise SourceError(f"unknown source kind '{self.kind}' (use one of {', '.join(LOCAL_KINDS)})")
        if not self.path.exists():
            raise SourceError(f"{self.path}: no such file or folder")

    def count(self) -> int | None:
        """How many messages there are, when that is cheap to know (for a progress bar)."""
        if self.kind == "eml":
            return sum(1 for _ in self._eml_files())
        return None

    def __iter__(self) -> Iterator[RawMail]:
        if self.kind == "eml":
            yield from self._read_eml()
        elif self.kind == "maildir":
            yield from self._read_maildir()
        else:
            yield from self._read_mbox()

    def _eml_files(self) -> Iterator[Path]:
        if self.path.is_file():
            yield self.path
            return
        yield from sorted(p for p in self.path.rglob("*") if p.is_file() and p.suffix.lower() == ".eml")

    def _read_eml(self) -> Iterator[RawMail]:
        for file in self._eml_files():
            try:
                raw = file.read_bytes()
            except OSError as exc:
                raise SourceError(f"{file}: cannot read: {exc.strerror}") from exc
            yield RawMail(raw, "eml", str(file.relative_to(self.path) if self.path.is_dir() else file.name))

    def _read_maildir(self) -> Iterator[RawMail]:
        root = mailbox.Maildir(self.path, factory=None, create=False)
        folders = [("", root)] + [(name, root.get_folder(name)) for name in sorted(root.list_folders())]
        for name, box in folders:
            for key in sorted(box.keys()):
                yield RawMail(box.get_bytes(key), "maildir", f"{name or 'INBOX'}/{key}", folder=name or "INBOX")

    def _read_mbox(self) -> Iterator[RawMail]:
        try:
            box = mailbox.mbox(self.path, factory=None, create=False)
            keys = box.keys()
        except (OSError, mailbox.Error) as exc:
            raise SourceError(f"{self.path}: cannot read as mbox: {exc}") from exc
        for key in keys:
            yield RawMail(box.get_bytes(key), "mbox", f"{self.path.name}#{key}")
