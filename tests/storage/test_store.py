"""Event inserts skip what is stored already, wherever in the history its copy lies; every messages
row has one shape."""

from datetime import datetime, timedelta, timezone

from alertproc.domain import event_id
from alertproc.storage.store import insert_events, now

START = datetime(2021, 1, 1, tzinfo=timezone.utc)


def refresh(at: datetime, asp: str = "acme") -> dict:
    return {"event_id": event_id("token_refreshed", "27AAAPZ2002A1ZV", asp, at, "email", None),
            "kind": "token_refreshed", "gstin": "27AAAPZ2002A1ZV", "asp_name": asp, "asp_key": asp,
            "occurred_at": at, "channel": "email", "imported_at": now()}


def test_stored_events_are_skipped_and_new_ones_inserted_in_any_time_range(con):
    history = [refresh(START + timedelta(hours=6 * i)) for i in range(20_000)]  # 13 years, several row groups
    assert insert_events(con, history) == 20_000
    middle, last = history[9_000], history[-1]
    batch = [middle, refresh(middle["occurred_at"], "other"), refresh(START - timedelta(days=1)),
             last, refresh(last["occurred_at"] + timedelta(seconds=1)), refresh(last["occurred_at"] + timedelta(seconds=1))]
    assert insert_events(con, batch) == 3  # the other ASP at the same time, the day before, the second after
    assert insert_events(con, [middle]) == 0  # a batch of one: its range is a single instant
    counts = con.execute("select count(*), count(distinct event_id) from events").fetchall()[0]
    assert counts == (20_003, 20_003)


def test_mail_sms_and_a_parser_failure_make_rows_of_one_shape(formats):
    """One messages row shape (issue #29): a mail's row, an SMS's and the row of a mail the parser
    failed on all have exactly the table's columns; a name that is no column fails where it is written."""
    import pytest

    from alertproc.portal.sms import Sms, _read_one
    from alertproc.reading.parse import MailReader
    from alertproc.storage.store import MESSAGE_COLUMNS, message_row

    reader = MailReader(formats, frozenset({"donotreply@gst.gov.in"}))
    mail = reader.parse(b"From: donotreply@gst.gov.in\r\nSubject: hello\r\n\r\nbody\r\n").message
    broken = MailReader(formats, frozenset({"donotreply@gst.gov.in"}))
    object.__setattr__(broken, "parse_strict", lambda raw: 1 / 0)
    failed = broken.parse(b"Subject: x\r\n\r\n").message
    sms, _ = _read_one(Sms(address="GSTIND", at=None, body="hello", ref="sms:1"), "ab" * 32, formats, None, None)
    for row in (mail, failed, sms):
        assert tuple(row) == MESSAGE_COLUMNS
    assert failed["parse_status"] == "unparsed" and "ZeroDivisionError" in failed["parse_error"]
    with pytest.raises(ValueError, match="not columns of messages: subjct"):
        message_row(subjct="typo")
