"""One mailbox at a time: an account that fails is named and the others go on.

Every command that works through the configured accounts (``fetch``, ``cleanup``, ``run``,
``watch``) goes through :func:`each_account`, so a server that is down or a password that
was changed never stops the other mailboxes, in the CLI and the Python API alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from ..config import ImapSettings
from ..errors import ConfigError, FetchError
from ..masking import mask

Result = TypeVar("Result")

# What belongs to one account: its server (down, refusing the login, dropping the line) and
# its own settings (a password command that fails). A locked database or a broken rule is
# everyone's problem and stops the command.
ACCOUNT_ERRORS = (FetchError, ConfigError, OSError)


@dataclass
class PerAccount(Generic[Result]):
    """What each account gave, by label, and why the others failed."""

    done: dict[str, Result] = field(default_factory=dict)
    failed: dict[str, Exception] = field(default_factory=dict)

    @property
    def results(self) -> list[Result]:
        return list(self.done.values())

    def reasons(self) -> dict[str, str]:
        """Why each failed account failed, with any secret masked: for people and JSON."""
        return {label: mask(str(exc)) for label, exc in self.failed.items()}

    def raise_if_only_account_failed(self) -> None:
        """A command about one account fails as that account did (its message and exit code)."""
        if self.failed and not self.done and len(self.failed) == 1:
            raise next(iter(self.failed.values()))


def each_account(accounts: Iterable[ImapSettings], work: Callable[[ImapSettings], Result]) -> PerAccount[Result]:
    """``work(account)`` for every account; one that fails with an account's error is recorded
    and the others go on."""
    outcome: PerAccount[Result] = PerAccount()
    for account in accounts:
        try:
            outcome.done[account.label] = work(account)
        except ACCOUNT_ERRORS as exc:
            outcome.failed[account.label] = exc
    return outcome
