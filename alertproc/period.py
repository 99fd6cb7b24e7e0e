"""The period a report, a query or an evidence pack covers: an ISO week or a date range, in IST.

Reports, exports, evidence packs, canned queries and the CLI's ``--week``/``--since``/``--until``
all name a period the same way, so it lives here, below them all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from .domain import IST
from .errors import ConfigError

_WEEK = re.compile(r"^(\d{4})-?W(\d{2})$", re.IGNORECASE)


@dataclass(frozen=True)
class Period:
    """A half-open time range [since, until) in UTC, with how people name it."""

    label: str
    slug: str
    since: datetime
    until: datetime

    @property
    def first_day(self) -> date:
        """First day of the period in IST."""
        return self.since.astimezone(IST).date()

    @property
    def last_day(self) -> date:
        """Last day of the period in IST (inclusive)."""
        return (self.until.astimezone(IST) - timedelta(seconds=1)).date()

    def previous(self) -> "Period":
        """The period of the same length just before this one."""
        length = self.until - self.since
        return Period(f"before {self.label}", "", self.since - length, self.since)


def _ist_midnight(day: date) -> datetime:
    return datetime.combine(day, time(), IST).astimezone(timezone.utc)


def week_period(week: str) -> Period:
    """The ISO week ``YYYY-Www`` (Monday to Sunday, IST)."""
    found = _WEEK.match(week.strip())
    try:
        monday = date.fromisocalendar(int(found.group(1)), int(found.group(2)), 1) if found else None
    except ValueError:
        monday = None
    if monday is None:
        raise ConfigError(f"--week '{week}' is not an ISO week like 2026-W47")
    label = f"{found.group(1)}-W{found.group(2)}"
    return Period(label, label, _ist_midnight(monday), _ist_midnight(monday + timedelta(days=7)))


def range_period(since: str, until: str) -> Period:
    """From the start of ``since`` to the end of ``until`` (dates in IST, both inclusive)."""
    try:
        first, last = date.fromisoformat(since), date.fromisoformat(until)
    except ValueError:
        raise ConfigError(f"--since/--until must be dates like 2026-11-01 (got '{since}', '{until}')") from None
    if last < first:
        raise ConfigError("--until is before --since")
    if first.year < 1970 or last.year > 2999:  # what the archive dates; also keeps IST offsets in range
        raise ConfigError(f"--since/--until must lie between 1970-01-01 and 2999-12-31 (got {first} to {last})")
    return Period(f"{first} to {last}", f"{first}_{last}", _ist_midnight(first), _ist_midnight(last + timedelta(days=1)))


def week_of(day: date) -> Period:
    """The ISO week (Monday to Sunday, IST) that holds ``day``."""
    year, week, _ = day.isocalendar()
    return week_period(f"{year}-W{week:02d}")


def last_complete_week(today: date | None = None) -> Period:
    """The most recent ISO week that has fully ended (in IST)."""
    today = today or datetime.now(timezone.utc).astimezone(IST).date()
    return week_of(today - timedelta(days=7))


def choose_period(week: str | None, since: str | None, until: str | None) -> Period:
    """The period named by the options; default the last complete week."""
    if week and (since or until):
        raise ConfigError("use either --week or --since/--until, not both")
    if since or until:
        if not (since and until):
            raise ConfigError("--since and --until go together")
        return range_period(since, until)
    return week_period(week) if week else last_complete_week()
