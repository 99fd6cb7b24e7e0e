"""Property-based fuzzing: parsers and importers never raise anything but a clear error."""

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from alertproc.storage import store
from alertproc.portal.accesslog import import_access_log
from alertproc.errors import AlertprocError
from alertproc.reading.formats import load_formats
from alertproc.reading.parse import parse_mail
from alertproc.config import Settings
from alertproc.portal.sms import import_sms, read_sms

DEFAULT_SENDERS = Settings().sms_senders
from helpers import ROOT, SENDERS, make

FORMATS = load_formats(ROOT / "rules" / "formats")
ALERT = make.refresh_text(make.PUNE, make.ACME, make.EGSP, make.ist("2026-11-21", "14:32"), "fz").as_bytes()
TABLE = make.refresh_table(make.BLR, make.LEDGER, make.SUVIDHA, make.ist("2026-11-21", "14:32"), "fz2").as_bytes()
STATUSES = {"parsed", "unparsed", "ignored", "suspicious", "forwarded"}
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=3000))
def test_any_bytes_parse_to_a_status(raw):
    assert parse_mail(raw, FORMATS, SENDERS).message["parse_status"] in STATUSES


@FUZZ
@given(st.sampled_from([ALERT, TABLE]), st.lists(st.tuples(st.integers(0, 4000), st.binary(max_size=8)), max_size=12))
def test_mutated_alerts_parse_to_a_status(base, edits):
    raw = bytearray(base)
    for position, chunk in edits:
        position %= len(raw) + 1
        raw[position:position + len(chunk)] = chunk
    result = parse_mail(bytes(raw), FORMATS, SENDERS)
    assert result.message["parse_status"] in STATUSES
    for event in result.events:
        assert event["occurred_at"].tzinfo is not None and event["event_id"]


def _import(kind: str, data: bytes) -> None:
    """Import ``data``: a clear error, or counts that balance and match what was stored."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("x.xml" if kind == "xml" else "x.csv")
        path.write_bytes(data)
        con = store.connect(":memory:")
        try:
            if kind == "log":
                result = import_access_log(con, path, gstin="27AAPFU0939F1ZV")
                assert result.rows == result.events_new + result.rejected + result.known
                stored = result.events_new
            else:
                stats = import_sms(con, read_sms(path), FORMATS, DEFAULT_SENDERS)
                assert stats.seen == stats.new + stats.known + stats.duplicates + stats.skipped
                assert stats.new == stats.parsed + stats.unparsed + stats.suspicious + stats.ignored
                stored = stats.events_new
            assert store.scalar(con, "select count(*) from events") == stored
        except AlertprocError as exc:
            assert str(exc).strip()  # a clear, deliberate error is the right answer to garbage
        finally:
            con.close()


SMS_XML = make.sms_backup_xml().encode()
LOG_CSV = make.access_log_csv().encode()


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 20000), st.binary(max_size=6)), max_size=10))
def test_mutated_sms_xml_never_crashes(edits):
    raw = bytearray(SMS_XML)
    for position, chunk in edits:
        position %= len(raw) + 1
        raw[position:position + len(chunk)] = chunk
    _import("xml", bytes(raw))


@FUZZ
@given(st.one_of(st.binary(max_size=2000),
                 st.lists(st.tuples(st.integers(0, 3000), st.binary(max_size=6)), max_size=10).map(
                     lambda edits: _mutate(LOG_CSV, edits))))
def test_mutated_access_logs_and_sms_csv_never_crash(data):
    _import("log", data)
    _import("csv", data)


def _mutate(base: bytes, edits) -> bytes:
    raw = bytearray(base)
    for position, chunk in edits:
        position %= len(raw) + 1
        raw[position:position + len(chunk)] = chunk
    return bytes(raw)
