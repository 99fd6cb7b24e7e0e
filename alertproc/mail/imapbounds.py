"""IMAPClient with bounds a hostile or broken server cannot talk its way past.

imaplib keeps every untagged response until someone asks for it and reads a literal of any
announced size into memory, so a server answering one command with endless ``* OK`` lines,
or announcing a ``{10000000000}`` literal, grows the process until the machine swaps. Here
each command may bring at most :data:`MAX_UNTAGGED` untagged responses and
:data:`MAX_COMMAND_BYTES` of response, and a literal at most :data:`MAX_LITERAL` bytes; past
that the connection is aborted, which the caller reports for that mailbox. The socket is
handed to the connect's :class:`~alertproc.deadline.Deadline` as soon as it exists, so a
greeting trickled a byte at a time is cut too.
"""

from __future__ import annotations

import imaplib

from imapclient import IMAPClient, imap4, tls

from ..deadline import created

MAX_UNTAGGED = 50_000  # a FETCH of a batch brings one per message (batches are at most a few thousand)
MAX_LITERAL = 200 * 2**20  # larger than any mail a server accepts (Exchange Online: 150 MB)
MAX_COMMAND_BYTES = 512 * 2**20


class _Bounded:
    """Mixed into imaplib's classes: counts what one command brings."""

    _untagged = 0
    _bytes = 0

    def _create_socket(self, timeout=None):
        return created(super()._create_socket(timeout))

    def _command(self, name, *args):
        self._untagged = self._bytes = 0
        return super()._command(name, *args)

    def _append_untagged(self, typ, dat):
        self._untagged += 1
        self._bytes += sum(len(part) for part in dat if isinstance(part, bytes)) if isinstance(dat, tuple) \
            else len(dat or b"")
        if self._untagged > MAX_UNTAGGED or self._bytes > MAX_COMMAND_BYTES:
            raise self.abort(f"the server sent more than {MAX_UNTAGGED:,} responses or {MAX_COMMAND_BYTES // 2**20} MB "
                             "to one command; alertproc stopped reading")
        super()._append_untagged(typ, dat)

    def read(self, size):
        if size > MAX_LITERAL:
            raise self.abort(f"the server announced a {size:,}-byte literal (over {MAX_LITERAL // 2**20} MB); "
                             "alertproc stopped reading")
        return super().read(size)


class _Plain(_Bounded, imap4.IMAP4WithTimeout):
    pass


class _Tls(_Bounded, tls.IMAP4_TLS):
    pass


class BoundedIMAPClient(IMAPClient):
    """An :class:`IMAPClient` whose connection is one of the bounded classes above."""

    def _create_IMAP4(self) -> imaplib.IMAP4:
        connect_timeout = getattr(self._timeout, "connect", None)
        if self.ssl:
            return _Tls(self.host, self.port, self.ssl_context, connect_timeout)
        return _Plain(self.host, self.port, connect_timeout)
