"""Exception hierarchy. The CLI turns these into one-line messages and exit codes."""

import errno


class AlertprocError(Exception):
    """Base class of every error alertproc raises on purpose; ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class ConfigError(AlertprocError):
    """Raised when a config file, policy file, format file or command-line value is invalid."""

    exit_code = 2  # bad usage or configuration: fix it, a retry will not help


class SourceError(AlertprocError):
    """Raised when a mail, SMS or access-log source cannot be opened or read as a whole."""


class FetchError(AlertprocError):
    """Raised when talking to the IMAP server fails in a way a retry did not fix."""


class ArchiveError(AlertprocError):
    """Raised when the raw-mail archive cannot be written or fails verification."""


class RuleError(AlertprocError):
    """Raised when detection rules cannot be loaded or run; carries every problem found."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


class LockedError(AlertprocError):
    """Raised when another alertproc run holds the database lock."""

    exit_code = 75  # EX_TEMPFAIL: try again later (cron's next run will)


class DatabaseError(AlertprocError):
    """Raised when the DuckDB database cannot be opened or a query fails."""


def disk_full(exc: BaseException) -> bool:
    """Whether a DuckDB (or OS) error is a full disk."""
    return "No space left on device" in str(exc) or getattr(exc, "errno", None) == errno.ENOSPC
