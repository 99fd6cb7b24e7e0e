"""The report's ASP inventory reads a summary of the history; it must equal reading every event."""

from datetime import timedelta
from pathlib import Path

import pytest

from alertproc.audit import inventory
from alertproc.domain import IST
from alertproc.audit.policy import apply_policy, load_policy
from alertproc.outputs.report import _rows
from alertproc.period import week_period
from alertproc.storage.store import insert_events, now
from helpers import SAMPLE, Staged

WEEK = week_period("2026-W47")


@pytest.fixture
def db(settings, con):
    Staged(con, settings).import_mail(SAMPLE / "mail", "eml")
    Staged(con, settings).detect()
    inventory.refresh(con, WEEK.since)  # detect summarised up to its own last complete week: pin it to W47
    return con


def from_events(con, period=WEEK):
    return _rows(con, "inventory", period, {"cached": False, "from": inventory.EVERYTHING})


def as_reported(con, period=WEEK):
    return _rows(con, "inventory", period, inventory.source(con, period.since))


def old_refresh(con):
    row = con.execute("select * from events where kind = 'token_refreshed' and occurred_at < ? "
                      "order by occurred_at limit 1", [WEEK.since]).fetchall()
    columns = [c[0] for c in con.description]
    return dict(zip(columns, row[0]))


def test_the_summary_is_used_and_gives_what_reading_every_event_gives(db):
    assert db.execute("select count(*) from pair_history").fetchall()[0][0] > 0
    assert inventory.source(db, WEEK.since) == {"cached": True, "from": WEEK.since}
    rows = as_reported(db)
    assert rows == from_events(db)
    assert any(r["last_seen_ist"] and r["consent"] != "none on record" for r in rows)


def test_an_event_backfilled_before_the_cutoff_makes_the_report_read_every_event(db, settings):
    event = old_refresh(db)
    event.update(event_id="backfilled", occurred_at=event["occurred_at"] - timedelta(days=3), imported_at=now(),
                 asp_name="Backfilled ASP", asp_key="backfilledasp")
    insert_events(db, [event])
    assert inventory.source(db, WEEK.since)["cached"] is False
    rows = as_reported(db)
    assert rows == from_events(db)
    assert "Backfilled ASP" in {r["asp_name"] for r in rows}
    assert inventory.refresh(db, WEEK.since) is True
    assert inventory.source(db, WEEK.since)["cached"] is True
    assert as_reported(db) == rows


def test_a_deleted_event_before_the_cutoff_makes_the_summary_stale(db):
    db.execute("delete from events where event_id = ?", [old_refresh(db)["event_id"]])
    assert inventory.source(db, WEEK.since)["cached"] is False
    inventory.refresh(db, WEEK.since)
    assert as_reported(db) == from_events(db)


def test_aliases_changed_after_the_summary_apply_to_it(db):
    key = db.execute("select asp_key from pair_history order by events desc limit 1").fetchall()[0][0]
    db.execute("insert into policy_asp_aliases values (?, 'renamedasp')", [key])
    rows = as_reported(db)
    assert rows == from_events(db)
    assert inventory.source(db, WEEK.since)["cached"] is True


def test_applying_an_unchanged_policy_keeps_the_summary_current(db, settings):
    apply_policy(db, load_policy(Path(settings.policy)))
    assert inventory.source(db, WEEK.since)["cached"] is True
    assert inventory.refresh(db, WEEK.since) is False


def test_a_period_before_the_cutoff_reads_every_event(db):
    earlier = week_period("2026-W45")
    assert inventory.source(db, earlier.since)["cached"] is False
    assert as_reported(db, earlier) == from_events(db, earlier)


def test_consent_validity_is_that_of_the_latest_consent_stating_one_across_spellings(db):
    template = old_refresh(db)
    gstin = template["gstin"]

    def consent(event_id, name, day, valid_until):
        return {**template, "event_id": event_id, "kind": "consent_granted", "asp_name": name, "asp_key": "zedasp",
                "occurred_at": WEEK.since + timedelta(days=day), "valid_until": valid_until, "imported_at": now()}
    insert_events(db, [consent("c1", "Zed ASP", 1, WEEK.since + timedelta(days=200)),
                       consent("c2", "ZED ASP", 2, WEEK.since + timedelta(days=300)),
                       consent("c3", "Zed ASP", 3, None)])
    [row] = [r for r in as_reported(db) if r["gstin"] == gstin and r["asp_name"] in ("Zed ASP", "ZED ASP")]
    assert row["asp_name"] == "Zed ASP"  # the spelling alerted most often
    assert row["consent"] == "active until " + (WEEK.since + timedelta(days=300)).astimezone(IST).strftime("%d-%m-%Y %H:%M")
