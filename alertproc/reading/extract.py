"""Turn alert text into an event with the formats of ``rules/formats/`` (any channel)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ..domain import IST, asp_key, event_id, gstin_is_valid, to_utc
from .formats import Format, utf8

_DURATION = re.compile(r"(\d+)\s*(day|hour)", re.IGNORECASE)
_OTP = re.compile(r"(?<![0-9A-Z])\d{4,8}(?![0-9A-Z])")


@dataclass
class Extraction:
    """What the formats made of one text: an event, or why none could be made."""

    status: str  # parsed | unparsed
    format_id: str | None = None
    event: dict | None = None
    error: str | None = None


def new_event(kind: str, gstin: str | None, asp_name: str | None, occurred_at: datetime, channel: str, *,
              status: str | None = None, extra: str = "", key_name: str | None = None, **columns: object) -> dict:
    """An ``events`` row: the one place its id, ASP key and GSTIN check are derived.

    Mail, SMS, access logs, the policy's revocations and rule scenarios all build events here,
    so one alert read by any of them gets one id. ``key_name`` is the name the id is made from
    when it differs from the stored one (a spoof suspect's claimed name); ``columns`` are the
    rest (gsp_name, valid_until, format_id, source_ref, imported_at ...).
    """
    key = asp_key(asp_name if key_name is None else key_name)
    return {"event_id": event_id(kind, gstin, key, occurred_at, channel, status, extra), "kind": kind,
            "gstin": gstin, "gstin_valid": gstin_is_valid(gstin), "asp_name": asp_name, "asp_key": key,
            "occurred_at": occurred_at, "channel": channel, "status": status, **columns}


def mask_otp(text: str) -> str:
    """Replace anything that looks like an OTP (4–8 digits standing alone) with ``######``."""
    return _OTP.sub("######", text)


def _duration(value: str | None) -> timedelta | None:
    found = _DURATION.search(value or "")
    if not found:
        return None
    amount = int(found.group(1))
    return timedelta(days=amount) if found.group(2).lower() == "day" else timedelta(hours=amount)


def _build_event(fmt: Format, values: dict[str, str], reference: datetime | None) -> tuple[dict | None, str | None]:
    ref_ist = reference.astimezone(IST).replace(tzinfo=None) if reference else None
    dates: dict[str, datetime | None] = {}
    for name in ("occurred_at", "valid_until"):
        if name in values:
            parsed = fmt.parse_date(values[name], ref_ist)
            if parsed is None:
                return None, f"{fmt.id}: {name} '{values[name]}' matches none of its date_formats"
            dates[name] = to_utc(parsed)
    occurred = dates.get("occurred_at") or (reference.astimezone(timezone.utc) if reference else None)
    if occurred is None:
        return None, f"{fmt.id}: no time in the text and no date on the message"
    valid_until = dates.get("valid_until")
    duration = _duration(values.get("duration"))
    if valid_until is None and duration is not None:
        valid_until = occurred + duration
    gstin = values.get("gstin", "").upper() or None
    status = values.get("status", "").lower() or None
    return new_event(fmt.kind, gstin, values.get("asp_name"), occurred, fmt.channel, status=status,
                     gsp_name=values.get("gsp_name"), valid_until=valid_until, format_id=fmt.id), None


def extract(candidates: list[Format], text: str, reference: datetime | None) -> Extraction:
    """Try each candidate format in turn; the first that yields all required fields wins.

    ``reference`` is the message's own time (tz-aware); it dates alerts whose text has
    no date of its own and completes times given without a date.
    """
    reasons = []
    data = utf8(text)
    for fmt in candidates:
        values, missing = fmt.extract(data)
        if missing:
            reasons.append(f"{fmt.id}: no {', '.join(missing)}")
            continue
        event, error = _build_event(fmt, values, reference)
        if event is not None:
            return Extraction("parsed", fmt.id, event)
        reasons.append(error)
    return Extraction("unparsed", error="; ".join(reasons) or "no format for this kind")
