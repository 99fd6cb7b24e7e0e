"""The transport-mangling harness: every sample alert through every transform reads the same."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from alertproc.reading.formats import Pattern
from alertproc.reading.parse import MailReader
from helpers import SENDERS
from helpers.mangle import FORWARDER, SPOOFS, TRANSFORMS, Alert, alerts, break_at, build, rewrap

ALERTS = alerts()
KEY_FIELDS = ("kind", "gstin", "asp_key", "occurred_at", "valid_until", "status")


def event_of(reader: MailReader, raw: bytes) -> tuple | None:
    result = reader.parse_strict(raw)
    trusted = [e for e in result.events if e["kind"] != "suspicious_alert"]
    assert len(trusted) <= 1
    return tuple(trusted[0][f] for f in KEY_FIELDS) if trusted else None


@pytest.fixture(scope="module")
def reader(formats) -> MailReader:
    """Trusts Rahul's forwards (his own mail passes aligned): forwards read like the alert itself."""
    return MailReader(formats, SENDERS, trusted_forwarders=frozenset({FORWARDER}))


FORWARDS = [t for t in TRANSFORMS if t.__name__.startswith("forward")]


@pytest.mark.parametrize("transform", FORWARDS, ids=lambda t: t.__name__)
@pytest.mark.parametrize("alert", ALERTS[:3], ids=lambda a: a.name)
def test_a_forward_from_anyone_else_feeds_no_rule(formats, alert: Alert, transform):
    """The same forwards, by someone the reader does not trust: recorded as what they claim, no event."""
    result = MailReader(formats, SENDERS).parse_strict(transform(alert))
    assert (result.message["parse_status"], result.message["sender_check"]) == ("forwarded", "forward_untrusted")
    assert result.events == [] and "not a trusted forwarder" in result.message["parse_error"]


@pytest.fixture(scope="module")
def clean(reader) -> dict[str, tuple]:
    events = {a.name: event_of(reader, build(a, plain=a.plain, html=a.html)) for a in ALERTS}
    assert all(events.values()), events  # the harness starts from alerts that read
    return events


@pytest.mark.parametrize("transform", TRANSFORMS, ids=lambda t: t.__name__)
@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: a.name)
def test_mangled_alert_reads_as_the_clean_one(reader, clean, alert: Alert, transform):
    assert event_of(reader, transform(alert)) == clean[alert.name]


@pytest.mark.parametrize("spoof", SPOOFS, ids=lambda t: t.__name__)
@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: a.name)
def test_spoofed_alert_gives_no_trusted_event(reader, alert: Alert, spoof):
    result = reader.parse_strict(spoof(alert))
    assert result.message["parse_status"] == "suspicious", result.message
    assert [e["kind"] for e in result.events] == ["suspicious_alert"]
    assert result.message["sender_detail"]


@settings(max_examples=60, deadline=None)
@given(alert=st.sampled_from(ALERTS), width=st.integers(min_value=12, max_value=120))
def test_any_wrap_column(reader, clean, alert: Alert, width: int):
    raw = build(alert, plain=rewrap(alert.plain, width)) if alert.plain else build(alert, html=alert.html)
    assert event_of(reader, raw) == clean[alert.name]


@settings(max_examples=150, deadline=None)
@given(alert=st.sampled_from(ALERTS), index=st.integers(min_value=0, max_value=10_000))
def test_a_line_break_at_any_space(reader, clean, alert: Alert, index: int):
    assert event_of(reader, break_at(alert, index)) == clean[alert.name]


def test_every_pattern_runs_on_the_linear_time_engine(formats):
    patterns = [p for f in formats.formats for p in (f.subject, f.body, *f.fields.values()) if p is not None]
    assert patterns and all(isinstance(p, Pattern) for p in patterns)


@pytest.mark.parametrize("run", [" " * 20_000, "\t \u00a0" * 5_000, "\n" * 10_000, " |" * 5_000, '"' * 10_000],
                         ids=["spaces", "mixed", "newlines", "bars", "quotes"])
@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: a.name)
def test_long_white_space_runs_in_every_field_position(reader, alert: Alert, run: str):
    """Python's re took seconds to minutes on this for `([^|\\n]+?)\\s*$` and `(.+?)"?\\s+`; RE2 is linear."""
    text = alert.plain if alert.plain is not None else alert.html
    positions = sorted({i for i, c in enumerate(text) if c in ' "|<>\n'})[::3]
    for at in positions:
        spoiled = text[:at] + run + text[at:]
        raw = build(alert, plain=spoiled) if alert.plain is not None else build(alert, html=spoiled)
        result = reader.parse_strict(raw)
        assert result.message["parse_status"] in ("parsed", "unparsed")
