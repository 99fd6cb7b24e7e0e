"""Local mail sources: a folder of ``.eml`` files, a Maildir, or an mbox file, as a
:class:`~alertproc.mail.mailbox.Mailbox`.

A local source keeps no sync state: every run reads all of it, and mail stored before is
recognised by its bytes and skipped. Only a Maildir can be filed away (its files are renamed
into Maildir++ folders ``.GST.Token alerts`` beside the others); an ``.eml`` folder and an
mbox are only ever read.
"""

from __future__ import annotations

import errno
import logging
import mailbox
import os
import stat
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SourceError
from .mailbox import RawMail, Selection, SyncState, Wanted, split_batches

LOCAL_KINDS = ("eml", "maildir", "mbox")
log = logging.getLogger(__name__)
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
            raise SourceError(f"{shown(self.path)}: no such file or folder")
        if self.kind == "maildir" and not ((self.path / "cur").is_dir() and (self.path / "new").is_dir()):
            raise SourceError(f"{shown(self.path)} is not a Maildir (it has no cur/ and new/ folders); "
                              f"for a folder of .eml files use `alertproc import eml {shown(self.path)}`")
        self.folder = self.folder or shown(self.path)

    def count(self) -> int | None:
        """How many messages there are, when that is cheap to know (for a progress bar)."""
        if self.kind == "eml":
            return sum(1 for _ in self._eml_files())
        return None

    def __iter__(self) -> Iterator[RawMail]:
        refs = self.new_messages(None, Wanted()).refs
        for batch in split_batches(refs, READ_BATCH, self.sizes(refs)):
            yield from self.fetch_batch(batch)

    # --- the Mailbox seam -------------------------------------------------------------

    def new_messages(self, since: SyncState | None, wanted: Wanted) -> Selection:
        """Every message of the source (it keeps no state; stored mail is known by its bytes)."""
        if self.kind == "mbox":
            return Selection(refs=list(self._open_mbox().keys()))
        if self.kind == "eml":
            root = self.path if self.path.is_dir() else self.path.parent
            self._files = {shown(file.relative_to(root)): file for file in self._eml_files()}
        else:
            self._files = dict(self._maildir_files())
        return Selection(refs=list(self._files))

    def sizes(self, refs: list) -> dict:
        """Each message's size: its file's, or its span in the mbox."""
        if self.kind == "mbox":
            toc = getattr(self._open_mbox(), "_toc", {})  # mailbox.mbox's offsets, filled by keys()
            return {key: toc[key][1] - toc[key][0] for key in refs if key in toc}
        found = {}
        for ref in refs:
            try:
                found[ref] = os.lstat(self._files[ref]).st_size
            except (OSError, KeyError):
                continue  # gone: fetch_batch skips it too
        return found

    def fetch_batch(self, refs: list) -> list[RawMail]:
        """The messages named by ``refs``, read from disk."""
        if self.kind == "mbox":
            box = self._open_mbox()
            return [RawMail(box.get_bytes(key), "mbox", f"{shown(self.path.name)}#{key}") for key in refs]
        mails = []
        for ref in refs:
            file = self._files[ref]
            linked = file.is_symlink()
            if linked and not _usable(file, self.path.resolve()):  # pointed elsewhere since it was listed
                continue
            try:
                raw = _read_regular(file, allow_link=linked)
            except FileNotFoundError:
                continue  # moved or deleted by a mail client since it was listed: not ours to keep
            except OSError as exc:
                raise SourceError(f"{shown(file)}: cannot read: {exc.strerror}") from exc
            if raw is None:
                log.warning("%s: skipped: no longer a regular file", shown(file))
                continue
            folder = ref.split("/", 1)[0] if self.kind == "maildir" else None
            mails.append(RawMail(raw, self.kind, ref, folder=folder))
        return mails

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
        root = self.path.resolve()
        for path in sorted(self.path.rglob("*")):
            if path.suffix.lower() == ".eml" and _usable(path, root):
                yield path

    def _maildir_files(self) -> Iterator[tuple[str, Path]]:
        root = mailbox.Maildir(self.path, factory=None, create=False)
        skip = {maildir_folder_name(path) for path in self.filed_into}
        root_path = self.path.resolve()
        names = [name for name in sorted(root.list_folders()) if "." + name not in skip]
        for name, folder in [("", self.path)] + [(name, self.path / ("." + name)) for name in names]:
            files = {}
            for sub in ("new", "cur"):
                try:
                    entries = os.listdir(folder / sub)
                except FileNotFoundError:
                    continue
                for entry in entries:
                    if not entry.startswith(".") and _usable(folder / sub / entry, root_path):
                        # The key is the file name before its info part: the flags change, the key does not.
                        files[entry.split(":2,", 1)[0]] = folder / sub / entry
            for key in sorted(files):
                yield shown(f"{name or 'INBOX'}/{key}"), files[key]

    def _open_mbox(self) -> mailbox.mbox:
        if self._mbox is None:
            if not stat.S_ISREG(os.stat(self.path).st_mode):
                raise SourceError(f"{shown(self.path)} is not a regular file (a FIFO or device?): nothing read")
            try:
                self._mbox = mailbox.mbox(self.path, factory=None, create=False)
                keys = self._mbox.keys()
            except (OSError, mailbox.Error) as exc:
                raise SourceError(f"{shown(self.path)}: cannot read as mbox: {exc}") from exc
            if not keys and self.path.stat().st_size > 0:
                raise SourceError(f"{shown(self.path)}: no messages found, though the file is not empty: an mbox "
                                  "starts each message with a 'From ' line; for a single message use "
                                  f"`alertproc import eml {shown(self.path)}`")
        return self._mbox


def shown(path: object) -> str:
    """A path as text that can always be printed and stored: bytes that are not UTF-8 (a
    file name from another system) become ``\\xNN`` escapes instead of failing the import."""
    return os.fsencode(str(path)).decode("utf-8", "backslashreplace")


def _usable(path: Path, root: Path) -> bool:
    """Whether a listed file may be read: a regular file inside ``root`` once every link on its
    way is followed. FIFOs, sockets and devices would hang or stream forever; a link out of the
    folder — the file's own (``ln -s /etc/shadow x.eml``) or a folder's on the way (a Maildir
    whose ``cur`` is a link to ``/etc``) — would copy what it points at into the archive."""
    try:
        info = os.lstat(path)
        target = path.resolve()
        if target != root and root not in target.parents:
            log.warning("%s: skipped: a link (of the file or a folder on its way) leads to %s, outside the source "
                        "folder", shown(path), shown(target))
            return False
        if stat.S_ISLNK(info.st_mode):
            info = os.stat(path)
    except OSError:
        return False
    if stat.S_ISDIR(info.st_mode):
        return False
    if not stat.S_ISREG(info.st_mode):
        log.warning("%s: skipped: not a regular file (a FIFO, socket or device)", shown(path))
        return False
    return True


def _read_regular(path: Path, allow_link: bool) -> bytes | None:
    """The bytes of ``path`` if it is (still) a regular file, else None. Opened without
    blocking and without following a link unless allowed, then checked on the open file, so
    a file swapped for a FIFO or a link after listing cannot hang or leak."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not allow_link:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        handle = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # a link planted after listing
            return None
        raise
    with os.fdopen(handle, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            return None
        return file.read()
