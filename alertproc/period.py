"""The period a report, a query or an evidence pack covers: an ISO week or a date range, in IST;
and the dates people type, read as Indians write them.

Reports, exports, evidence packs, canned queries and the CLI's ``--week``/``--since``/``--until``
all name a period the same way, so it lives here, below them all. A day is written
``31-12-2026`` or ``31/12/2026`` (day first, never month first) or ``2026-12-31``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from .domain import IST
from .errors import ConfigError

_WEEK = re.compile(r"^(\d{4})-?W(\d{2})$", re.IGNORECASE)
_DAY = re.compile(r"^(?:(\d{1,2})([-/])(\d{1,2})\2(\d{4})|(\d{4})-(\d{2})-(\d{2}))$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
DAY_EXAMPLE = "31-12-2026 (day first), 31/12/2026 or 2026-12-31"


def parse_day(text: str | date, what: str = "date") -> date:
    """A day as people type it: ``31-12-2026``, ``31/12/2026`` or ``2026-12-31``; anything else
    (``12/31/2026`` too: the day comes first) is a :class:`ConfigError` with an example."""
    if isinstance(text, datetime):
        return text.date()
    if isinstance(text, date):
        return text
    found = _DAY.match(str(text).strip())
    try:
        if found and found.group(1):
            return date(int(found.group(4)), int(found.group(3)), int(found.group(1)))
        if found:
            return date(int(found.group(5)), int(found.group(6)), int(found.group(7)))
    except ValueError:
        pass
    raise ConfigError(f"{what} '{text}' is not a date: write it as {DAY_EXAMPLE}")


def indian(day: date) -> str:
    """A day as Indians write it: 31-12-2026 (four-digit year also before 1000, which strftime drops)."""
    return f"{day.day:02d}-{day.month:02d}-{day.year:04d}"


def parse_moment(text: str | datetime, what: str = "time") -> datetime:
    """A day and a time of day, as typed (``30-11-2026 10:15``, ``2026-11-30T10:15:00``); naive,
    for the caller to read in IST."""
    if isinstance(text, datetime):
        return text
    day, _, clock = str(text).strip().replace("T", " ", 1).partition(" ")
    found = _TIME.match(clock.strip())
    try:
        if found:
            return datetime.combine(parse_day(day, what), time(int(found.group(1)), int(found.group(2)),
                                                                int(found.group(3) or 0)))
    except (ValueError, ConfigError):
        pass
    raise ConfigError(f"{what} '{text}' is not a date and time: write it as 30-11-2026 10:15 (day first) "
                      "or 2026-11-30 10:15")


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


def range_period(since: str | date, until: str | date) -> Period:
    """From the start of ``since`` to the end of ``until`` (dates in IST, both inclusive)."""
    first, last = parse_day(since, "--since"), parse_day(until, "--until")
    if last < first:
        raise ConfigError("--until is before --since")
    if first.year < 1970 or last.year > 2999:  # what the archive dates; also keeps IST offsets in range
        raise ConfigError(f"--since/--until must lie between 01-01-1970 and 31-12-2999 (got {indian(first)} to "
                          f"{indian(last)})")
    return Period(f"{indian(first)} to {indian(last)}", f"{first}_{last}", _ist_midnight(first),
                  _ist_midnight(last + timedelta(days=1)))


def week_of(day: date) -> Period:
    """The ISO week (Monday to Sunday, IST) that holds ``day``."""
    year, week, _ = day.isocalendar()
    return week_period(f"{year}-W{week:02d}")


def last_complete_week(today: date | None = None) -> Period:
    """The most recent ISO week that has fully ended (in IST)."""
    today = today or datetime.now(timezone.utc).astimezone(IST).date()
    return week_of(today - timedelta(days=7))


def choose_period(week: str | None, since: str | date | None, until: str | date | None) -> Period:
    """The period named by the options; default the last complete week."""
    if week and (since or until):
        raise ConfigError("use either --week or --since/--until, not both")
    if since or until:
        if not (since and until):
            raise ConfigError("--since and --until go together")
        return range_period(since, until)
    return week_period(week) if week else last_complete_week()
