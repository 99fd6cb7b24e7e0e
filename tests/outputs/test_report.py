"""The HTML report: content per period, escaping of hostile text, rendering in Chromium."""

import re
from html.parser import HTMLParser

import pytest

from alertproc.errors import ConfigError
from alertproc.outputs.report import gather
from alertproc.period import choose_period, last_complete_week, week_period
from helpers import SAMPLE, Staged, app_of

XSS = '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>'


class Elements(HTMLParser):
    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


@pytest.fixture
def sample_db(settings, con):
    Staged(con, settings).import_mail(SAMPLE / "mail", "eml")
    Staged(con, settings).detect()
    return con


def test_week_periods_are_ist_weeks():
    period = week_period("2026-W47")
    assert period.since.isoformat() == "2026-11-15T18:30:00+00:00"  # Monday 16 Nov 00:00 IST
    assert (period.until - period.since).days == 7 and str(period.last_day) == "2026-11-22"
    import datetime
    assert last_complete_week(datetime.date(2026, 11, 23)).label == "2026-W47"


@pytest.mark.parametrize("week,since,until", [("2026-W99", None, None), ("nope", None, None),
                                              (None, "2026-11-01", None), ("2026-W47", "2026-11-01", "2026-11-02"),
                                              (None, "2026-11-05", "2026-11-01")])
def test_bad_periods_are_config_errors(week, since, until):
    with pytest.raises(ConfigError):
        choose_period(week, since, until)


def test_report_shows_the_weeks_findings_activity_and_unparsed(sample_db, settings):
    path = Staged(sample_db, settings).report(week_period("2026-W47"))
    html = path.read_text()
    rules = [attrs["data-rule"] for tag, attrs in Elements(html).tags if "data-rule" in attrs]
    # QuickFile on Pune; the unknown 33AAPFU0939F1Z2 is an unknown_gstin finding only (issue #30 item 5)
    assert rules.count("refresh_after_revocation") == 1 and rules.count("unexpected_asp") == 1
    assert {"spoofed_alert", "refresh_without_consent", "consent_expiring"} <= set(rules)
    # The report leads with the backlog (issue #30 item 3): week 46's refresh burst is still open,
    # so it is listed, without the "new" mark the week's own findings carry.
    burst = html.split('data-rule="refresh_burst"')[1].split("</tr>")[0]
    assert rules.count("refresh_burst") == 1 and 'class="new"' not in burst
    pune = html.split('data-rule="refresh_after_revocation"')[1].split("</tr>")[0]
    assert 'class="new"' in pune
    assert "QuickFile GST Services" in html and "29AAPFU0939F1ZR" in html
    assert "Unparsed alerts" in html and "alertproc explain MAIL.eml" in html
    assert not any(tag in ("script", "link", "img", "iframe") for tag, _ in Elements(html).tags)


def test_quiet_week_says_so(sample_db, settings):
    html = Staged(sample_db, settings).report(week_period("2025-W01")).read_text()
    assert "No open findings." in html and "No ASP activity this period." in html


def test_evidence_links_point_at_archived_mail(sample_db, settings, tmp_path):
    path = Staged(sample_db, settings).report(week_period("2026-W47"))
    links = [attrs["href"] for tag, attrs in Elements(path.read_text()).tags if tag == "a"]
    files = [link for link in links if not link.startswith("#")]  # the rest: rows of the evidence section
    assert files and all((path.parent / link).resolve().is_file() for link in files)


def test_an_older_open_finding_shows_the_evidence_its_links_open_and_says_how_to_get_the_rest(sample_db, settings):
    html = Staged(sample_db, settings).report(week_period("2026-W47")).read_text()
    tags = Elements(html).tags
    ids = {attrs["id"] for _, attrs in tags if "id" in attrs}
    anchors = [attrs["href"][1:] for tag, attrs in tags if tag == "a" and attrs.get("href", "").startswith("#")]
    assert anchors and all(anchor in ids for anchor in anchors)  # every link inside the report lands
    row = re.search(r'data-rule="refresh_burst" data-finding="(\w+)" data-events="(\d+)"', html)  # week 46's: backlog
    key, events = row.group(1), int(row.group(2))
    assert events > 5
    section = html.split(f'id="evidence-{key}"')[1].split("</table>")[1].split("<h3")[0]
    shown = html.split(f'id="evidence-{key}"')[1].split("</table>")[0].count("<tr id=")
    assert shown == 5 and f"{events - 5} more: <code>alertproc evidence --finding {key}</code>" in section


def requests(net_log) -> list[tuple[str, int]]:
    """(url, traffic annotation) of every request in a Chromium NetLog."""
    return [(m.group(2), int(m.group(1))) for m in
            re.finditer(r'"traffic_annotation":(\d+),"url":"([^"]+)"', net_log.read_text())]


def hostile_db(con):
    con.execute("insert into events (event_id, kind, gstin, asp_name, asp_key, occurred_at, channel, imported_at) "
                "values ('x1', 'token_refreshed', '27AAPFU0939F1ZV', ?, 'IMGSRCX', '2026-11-18 10:00+00', 'email', now())",
                [XSS])
    con.execute("insert into messages (sha256, source, subject, parse_status, kind, received_at, imported_at) "
                "values ('s1', 'eml', ?, 'unparsed', 'token_refreshed', '2026-11-18 10:00+00', now())", [XSS])


def test_hostile_text_is_escaped(settings, con):
    hostile_db(con)
    Staged(con, settings).detect()
    html = Staged(con, settings).report(week_period("2026-W47")).read_text()
    assert not any(tag in ("script", "img") for tag, _ in Elements(html).tags)
    assert "&lt;img src=x onerror=" in html


def test_report_renders_in_chromium_and_hostile_text_stays_text(settings, con, chromium, tmp_path):
    Staged(con, settings).import_mail(SAMPLE / "mail", "eml")
    hostile_db(con)
    Staged(con, settings).detect()
    path = Staged(con, settings).report(week_period("2026-W47"))
    # Calibrate: a page that loads from the network shows which NetLog traffic annotation page
    # requests carry (Chromium itself phones home too, under other annotations).
    probe = tmp_path / "probe.html"
    probe.write_text('<img src="http://127.0.0.1:9/probe.png">')
    chromium(f"--log-net-log={tmp_path / 'probe.json'}", "--dump-dom", probe.as_uri())
    page_annotation = dict(requests(tmp_path / "probe.json"))["http://127.0.0.1:9/probe.png"]
    dom = chromium(f"--log-net-log={tmp_path / 'net.json'}", "--dump-dom", path.resolve().as_uri())
    assert [url for url, note in requests(tmp_path / "net.json") if note == page_annotation] == []
    tags = Elements(dom).tags
    rules = [attrs["data-rule"] for tag, attrs in tags if tag == "tr" and "data-rule" in attrs]
    assert rules.count("unexpected_asp") == 2 and rules.count("refresh_after_revocation") == 1
    assert sum(tag == "circle" for tag, _ in tags) > 90 and sum(tag == "svg" for tag, _ in tags) >= 3  # timelines
    for section in ("summary", "findings", "timeline", "inventory", "coverage", "activity", "unparsed", "suspicious",
                    "forwarded"):
        assert ("section", {"id": section}) in tags
    forwarded = dom.split('<section id="forwarded">')[1].split("</section>")[0]
    assert "rahul@pune-plant.example.in" in forwarded and "claims token_refreshed for 33AAPFU0939F1Z2" in forwarded
    assert "<title>GST API access audit" in dom and "pwned" not in dom.split("</title>")[0]
    assert not any(tag in ("script", "img") for tag, _ in tags)
    shot = tmp_path / "report.png"
    chromium("--window-size=1200,2000", f"--screenshot={shot}", path.resolve().as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_a_refresh_alerted_by_mail_and_sms_counts_once_in_the_activity_table(settings, con):
    from alertproc.portal.sms import import_sms, read_sms
    Staged(con, settings).import_mail(SAMPLE / "mail", "eml")
    period = week_period("2026-W47")
    before = {(r["gstin"], r["pair_key"]): r["refreshes"] for r in gather(con, period, SAMPLE, SAMPLE)["pairs"]}
    import_sms(con, read_sms(SAMPLE / "sms-backup.xml"), app_of(settings).reader().formats, settings.sms_senders)
    after = {(r["gstin"], r["pair_key"]): r["refreshes"] for r in gather(con, period, SAMPLE, SAMPLE)["pairs"]}
    assert after[("27AAPFU0939F1ZV", "ACMETAXCLOUD")] == before[("27AAPFU0939F1ZV", "ACMETAXCLOUD")] > 20
