"""Counted once, named once (#30 item 4): a refresh alerted by mail and by SMS is one refresh
in the views, the report and the canned queries; an ASP has one name in all of them."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import alertproc
from alertproc.audit.policy import apply_policy, load_policy
from alertproc.domain import asp_key, event_id
from alertproc.storage import store
from helpers import POLICY, SAMPLE

PUNE = "27AAPFU0939F1ZV"
T0 = datetime(2026, 11, 17, 4, 0, tzinfo=timezone.utc)


def alert(at: datetime, channel: str, name: str = "Acme Tax Cloud Pvt Ltd", kind: str = "token_refreshed",
          gstin: str = PUNE) -> dict:
    return {"event_id": event_id(kind, gstin, asp_key(name), at, channel, None, ""), "kind": kind, "gstin": gstin,
            "gstin_valid": True, "asp_name": name, "asp_key": asp_key(name), "occurred_at": at, "channel": channel,
            "source_ref": f"{channel}:{at:%H%M%S}", "imported_at": store.now()}


@pytest.fixture
def con(tmp_path: Path):
    con = store.connect(str(tmp_path / "db.duckdb"))
    yield con
    con.close()


def counted(con, sql: str, params: list | None = None) -> list[tuple]:
    return con.execute(sql, params).fetchall() if params else con.execute(sql).fetchall()


def test_a_mail_and_its_sms_twin_are_one_refresh_and_real_repeats_are_not_merged(con):
    minute = timedelta(minutes=1)
    events = [alert(T0, "email"), alert(T0 + minute, "sms"),  # one refresh, alerted twice
              # two refreshes a minute apart, each alerted twice: two
              alert(T0 + 60 * minute, "email"), alert(T0 + 61 * minute, "email"),
              alert(T0 + 61 * minute, "sms"), alert(T0 + 62 * minute, "sms"),
              alert(T0 + 120 * minute, "sms"),  # an SMS whose mail never came: one
              alert(T0 + 180 * minute, "email"), alert(T0 + 200 * minute, "sms")]  # 20 minutes apart: two
    store.insert_events(con, events)
    assert counted(con, "select seen_by, count(*) from refreshes group by 1 order by 1") == [
        ("email", 1), ("email+sms", 3), ("sms", 2)]
    assert counted(con, "select sum(refreshes) from weekly_summary") == [(6,)]


def test_an_asp_has_one_name_everywhere_the_policys_or_else_the_most_frequent(con, tmp_path):
    names = ["Acme Tax Cloud Pvt Ltd", "ACME TAX CLOUD PRIVATE LIMITED", "Acme TaxCloud", "Acme TaxCloud",
             "Shadow Filings", "SHADOW FILINGS", "SHADOW FILINGS"]
    store.insert_events(con, [alert(T0 + timedelta(hours=6 * i), "email", name) for i, name in enumerate(names)])
    apply_policy(con, load_policy(Path(POLICY)))
    seen = counted(con, "select distinct asp_name from refreshes order by 1")
    assert seen == [("Acme Tax Cloud Pvt Ltd",), ("SHADOW FILINGS",)]  # the policy's; else the most frequent
    assert counted(con, "select asp_name, refreshes from weekly_summary where refreshes > 0 order by 1") == [
        ("Acme Tax Cloud Pvt Ltd", 4), ("SHADOW FILINGS", 3)]
    assert counted(con, "select count(distinct asp_name_as_written) from refreshes") == [(5,)]


def test_the_sample_report_and_queries_count_the_pune_sms_twins_once(tmp_path):
    with alertproc.open(tmp_path / "a.duckdb", archive=str(tmp_path / "archive"), report_dir=str(tmp_path / "out"),
                        policy=POLICY) as app:
        app.run(SAMPLE / "mail", kind="eml", week="2026-W47", inputs={"sms": [SAMPLE / "sms-backup.xml"]})
        raw = app.sql("select count(*) filter (where channel = 'email'), count(*) filter (where channel = 'sms') "
                      "from events where kind = 'token_refreshed' and gstin = $g and occurred_at >= '2026-11-15 "
                      "18:30+00' and occurred_at < '2026-11-22 18:30+00'", {"g": PUNE}).fetchall()[0]
        assert raw == (28, 28)  # every Pune refresh of the week came by mail and by SMS
        week = app.sql("select sum(refreshes) from weekly_summary where week_start_ist = '2026-11-16'").fetchall()
        distinct = app.sql("select count(*) from refreshes where occurred_at_ist >= '2026-11-16' "
                           "and occurred_at_ist < '2026-11-23'").fetchall()
        assert week == distinct
        pune = app.query("refreshes-per-day", {"since": "16-11-2026", "until": "22-11-2026"}).df()
        assert pune[pune.gstin == PUNE].refreshes.sum() == 28
        activity = app.query("asp-activity", {"gstin": PUNE, "since": "16-11-2026", "until": "22-11-2026"}).df()
        assert activity[activity.kind == "token_refreshed"].events.sum() == 28
        report = (tmp_path / "out" / "alertproc-2026-W47.html").read_text()
    headline = re.search(r'data-metric="token_refreshed">\s*<div class="value">(\d+)<', report)
    assert headline and int(headline.group(1)) == distinct[0][0]
    # A finding's title quotes the alert's own spelling (its id must not change with a name);
    # every table shows the one name.
    tables = re.sub(r"<strong>.*?</strong>|<h3 id=\"evidence-.*?</h3>", "", report, flags=re.DOTALL)
    assert "Acme Tax Cloud Pvt Ltd" in tables
    assert "Acme TaxCloud" not in tables and "ACME TAX CLOUD PRIVATE LIMITED" not in tables


def test_one_periods_unique_events_are_those_of_all_time_in_that_period_even_across_its_edge(con):
    edge = datetime(2026, 11, 22, 18, 30, tzinfo=timezone.utc)  # the end of 2026-W47 in IST
    minute = timedelta(minutes=1)
    store.insert_events(con, [alert(edge - 2 * minute, "email"), alert(edge + minute, "sms"),  # one, across the edge
                              alert(edge - 3 * timedelta(hours=1), "email"), alert(edge - 3 * timedelta(hours=1), "sms"),
                              alert(edge + timedelta(hours=2), "sms")])
    week = (edge - timedelta(days=7), edge)
    everything = counted(con, "select event_id, seen_by from unique_events where occurred_at >= ? and occurred_at < ? "
                              "order by 1", list(week))
    in_week = counted(con, "select event_id, seen_by from unique_events_in(?, ?) order by 1", list(week))
    assert in_week == everything and sorted(seen for _, seen in in_week) == ["email+sms", "email+sms"]
    after = counted(con, "select seen_by from unique_events_in(?, ?)", [edge, edge + timedelta(days=1)])
    assert after == [("sms",)]  # the twin of the mail before the edge is not counted again after it
