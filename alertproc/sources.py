"""Local mail sources: a folder of ``.eml`` files, a Maildir, or an mbox file, as a
:class:`~alertproc.mailbox.Mailbox`.

A local source keeps no sync state: every run reads all of it, and mail stored before is
recognised by its bytes and skipped. Only a Maildir can be filed away (its files are renamed
into Maildir++ folders ``.GST.Token alerts`` beside the others); an ``.eml`` folder and an
mbox are only ever read.
"""

from __future__ import annotations

import mailbox
import os
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from .errors import SourceError
from .mailbox import RawMail, Selection, SyncState, Wanted

LOCAL_KINDS = ("eml", "maildir", "mbox")
READ_BATCH = 1000


def detect_kind(path: Path) -> str:
    """Guess the kind of a local source: ``maildir``, ``eml`` (a folder) or ``mbox`` (a file)."""
    if path.is_dir():
        return "maildir" if (path / "cur").is_dir() and (path / "new").is_dir() else "eml"
    if path.is_file():
        return "eml" if path.suffix.lower() == ".eml" else "mbox"
    raise SourceError(f"{path}: no such file or folder")


def maildir_folder_name(path: str) -> str:
    """The Maildir++ name of a folder path: ``GST/Token alerts`` is ``.GST.Token alerts``."""
    return "." + ".".join(part for part in path.split("/") if part)


@dataclass
class LocalSource:
    """Messages read from local files, in a stable order."""

    path: Path
    kind: str
    account: str | None = None
    folder: str = ""  # for people: the source's path
    commands: int = 0
    filed_into: tuple[str, ...] = ()  # folders mail is filed into: not read as new mail
    _files: dict[str, Path] = field(default_factory=dict, repr=False)  # ref -> file, for a Maildir or .eml folder
    _mbox: mailbox.mbox | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in LOCAL_KINDS:
            raise SourceError(f"unknown source kind '{self.kind}' (use one of {', '.join(LOCAL_KINDS)})")
        if not self.path.exists():
            raise SourceError(f"{self.path}: no such file or folder")
        self.folder = self.folder or str(self.path)

    def count(self) -> int | None:
        """How many messages there are, when that is cheap to know (for a progress bar)."""
        if self.kind == "eml":
            return sum(1 for _ in self._eml_files())
        return None

    def __iter__(self) -> Iterator[RawMail]:
        refs = self.new_messages(None, Wanted()).refs
        for start in range(0, len(refs), READ_BATCH):
            yield from self.fetch_batch(refs[start:start + READ_BATCH])

    # --- the Mailbox seam -------------------------------------------------------------

    def new_messages(self, since: SyncState | None, wanted: Wanted) -> Selection:
        """Every message of the source (it keeps no state; stored mail is known by its bytes)."""
        if self.kind == "mbox":
            return Selection(self.folder, refs=list(self._open_mbox().keys()))
        if self.kind == "eml":
            root = self.path if self.path.is_dir() else self.path.parent
            self._files = {str(file.relative_to(root)): file for file in self._eml_files()}
        else:
            self._files = dict(self._maildir_files())
        return Selection(self.folder, refs=list(self._files))

    def fetch_batch(self, refs: list) -> list[RawMail]:
        """The messages named by ``refs``, read from disk."""
        if self.kind == "mbox":
            box = self._open_mbox()
            return [RawMail(box.get_bytes(key), "mbox", f"{self.path.name}#{key}") for key in refs]
        mails = []
        for ref in refs:
            file = self._files[ref]
            try:
                raw = file.read_bytes()
            except FileNotFoundError:
                continue  # moved or deleted by a mail client since it was listed: not ours to keep
            except OSError as exc:
                raise SourceError(f"{file}: cannot read: {exc.strerror}") from exc
            folder = ref.split("/", 1)[0] if self.kind == "maildir" else None
            mails.append(RawMail(raw, self.kind, ref, folder=folder))
        return mails

    def headers(self, refs: list) -> dict:
        """Header bytes by ref (everything up to the first blank line)."""
        found = {}
        for mail in self.fetch_batch(refs):
            raw = mail.raw.replace(b"\r\n", b"\n")
            found[mail.ref] = raw.split(b"\n\n", 1)[0] + b"\n"
        return found

    def filing_refused(self) -> str | None:
        """Only a Maildir's messages are files that can be renamed into another folder."""
        if self.kind != "maildir":
            return f"a{'n mbox' if self.kind == 'mbox' else 'n .eml folder'} is only read, never changed"
        return None

    def ensure_folder(self, path: str) -> str:
        """Create the Maildir++ folder for ``path`` under the source (``.GST.Token alerts``)."""
        if refused := self.filing_refused():
            raise SourceError(f"{self.path}: cannot file mail away: {refused}")
        name = maildir_folder_name(path)
        mailbox.Maildir(self.path / name, factory=None, create=True)
        return name

    def move(self, refs: list, folder: str, mark_seen: bool = False) -> None:
        """Rename each message's file into ``folder``'s ``cur/`` (flag S added for ``mark_seen``).

        A rename within one file system is atomic: the message is in one folder or the other.
        """
        target = self.path / folder / "cur"
        for ref in refs:
            source = self._files[ref]
            name = source.name
            if mark_seen:
                base, _, flags = name.partition(":2,")
                name = f"{base}:2,{''.join(sorted(set(flags) | {'S'}))}"
            elif ":2," not in name:
                name += ":2,"  # a message in cur/ carries its info part, even when empty
            try:
                os.rename(source, target / name)
            except FileNotFoundError:
                continue  # gone meanwhile (a mail client moved it): nothing to move
            self._files[ref] = target / name

    def delete(self, refs: list) -> None:
        """Remove the messages' files."""
        for ref in refs:
            self._files[ref].unlink(missing_ok=True)

    def parallel_reader(self):
        """Local files need no second connection: reading them is this object's work."""
        return nullcontext(self)

    # --- reading ----------------------------------------------------------------------

    def _eml_files(self) -> Iterator[Path]:
        if self.path.is_file():
            yield self.path
            return
        yield from sorted(p for p in self.path.rglob("*") if p.is_file() and p.suffix.lower() == ".eml")

    def _maildir_files(self) -> Iterator[tuple[str, Path]]:
        root = mailbox.Maildir(self.path, factory=None, create=False)
        skip = {maildir_folder_name(path) for path in self.filed_into}
        names = [name for name in sorted(root.list_folders()) if "." + name not in skip]
        for name, folder in [("", self.path)] + [(name, self.path / ("." + name)) for name in names]:
            files = {}
            for sub in ("new", "cur"):
                try:
                    entries = os.listdir(folder / sub)
                except FileNotFoundError:
                    continue
                for entry in entries:
                    if not entry.startswith("."):
                        # The key is the file name before its info part: the flags change, the key does not.
                        files[entry.split(":2,", 1)[0]] = folder / sub / entry
            for key in sorted(files):
                yield f"{name or 'INBOX'}/{key}", files[key]

    def _open_mbox(self) -> mailbox.mbox:
        if self._mbox is None:
            try:
                self._mbox = mailbox.mbox(self.path, factory=None, create=False)
                self._mbox.keys()
            except (OSError, mailbox.Error) as exc:
                raise SourceError(f"{self.path}: cannot read as mbox: {exc}") from exc
        return self._mbox
