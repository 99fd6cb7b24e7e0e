"""The raw-mail archive: ``<root>/YYYY/MM/<sha256>.eml``, written atomically.

The archive is the copy of record: it is written and synced before the database row that
points at it, and before anything changes on a mail server.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from pathlib import Path

from ..errors import ArchiveError


def sha256_hex(raw: bytes) -> str:
    """Hex SHA-256 of ``raw``: the identity of a message everywhere in alertproc."""
    return hashlib.sha256(raw).hexdigest()


class Archive:
    """Content-addressed store of raw messages under ``root``."""

    def __init__(self, root: Path):
        # Absolute from the start: parser workers write the files, and a worker keeps the
        # working folder it started in, which the caller may since have left (os.chdir).
        self.root = Path(root).absolute()
        self._folders: set[str] = set()  # month folders known to exist: one mkdir each, not one per file

    def relative_path(self, sha256: str, when: datetime | None) -> str:
        """Where a message lives, relative to the root. Only the hash names the file."""
        if when is not None and 1970 <= when.year <= 2999:
            return f"{when.year:04d}/{when.month:02d}/{sha256}.eml"
        return f"undated/{sha256}.eml"

    def path(self, relative: str) -> Path:
        """Absolute path of a stored message."""
        return self.root / relative

    def verify(self, relative: str, sha256: str) -> bool:
        """True when the stored file exists and its bytes hash to ``sha256``."""
        try:
            data = self.path(relative).read_bytes()
        except OSError:
            return False
        return sha256_hex(data) == sha256

    def read(self, relative: str) -> bytes:
        """The stored raw bytes of a message."""
        try:
            return self.path(relative).read_bytes()
        except OSError as exc:
            raise ArchiveError(f"cannot read archived message {relative}: {exc.strerror}") from exc

    def store(self, raw: bytes, sha256: str, when: datetime | None) -> str:
        """Write ``raw`` unless an intact copy is there already; return its relative path.

        The write goes to a temporary file renamed into place, so a reader never sees half
        a file under the final name. A file left torn by a crash fails :meth:`verify` and is
        rewritten. Call :meth:`sync` before recording the batch anywhere else.
        """
        relative = self.relative_path(sha256, when)
        target = os.path.join(self.root, relative)
        if os.path.exists(target) and self.verify(relative, sha256):
            return relative
        folder = os.path.dirname(target)
        try:
            if folder not in self._folders:
                # Owner only, the folders it creates and the files: they hold what the taxpayer
                # receives. (makedirs would give the levels above the last the default mode.)
                os.makedirs(os.path.dirname(str(self.root)) or ".", exist_ok=True)
                for level in (str(self.root), os.path.dirname(folder), folder):
                    if not os.path.isdir(level):
                        os.makedirs(level, mode=0o700, exist_ok=True)
                self._folders.add(folder)
            # One name per message, not per process: a rerun after a crash mid-write replaces
            # the leftover instead of leaving it behind (runs never overlap: the lock).
            tmp = os.path.join(folder, f".{sha256}.tmp")
            handle = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                remaining = memoryview(raw)
                while remaining:  # os.write may write less than asked
                    remaining = remaining[os.write(handle, remaining):]
            finally:
                os.close(handle)
            os.replace(tmp, target)
        except OSError as exc:
            raise ArchiveError(f"cannot write archive file under {self.root}: {exc.strerror}") from exc
        return relative

    def sync(self) -> None:
        """Make every file written so far durable: one sync per batch, not one per file."""
        os.sync()
