"""The web app in a real browser (#31): Debian's Chromium driven by Playwright logs in, filters
the findings, acknowledges one, opens its evidence, runs a canned query and opens a report;
the pages are checked at 1280 and 390 px (screenshots, no split word, nothing wider than the
page outside a table's own scrolling box)."""

from __future__ import annotations

import pytest

from helpers.layout import BROKEN_WORDS, OVERFLOWING
from helpers.web_server import PASSWORDS, Server, sample_site


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    server = Server(sample_site(tmp_path_factory.mktemp("browser")))
    yield server
    server.stop()


def logged_in(browser, site, name: str, width: int = 1280):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(site.url + "/findings")
    assert page.url.startswith(site.url + "/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORDS[name])
    page.click("button[type=submit]")
    page.wait_for_url(site.url + "/findings")
    return page


def test_an_auditor_filters_acknowledges_opens_evidence_runs_a_query_and_opens_a_report(browser, site):
    page = logged_in(browser, site, "anil")
    page.select_option("select[name=severity]", "high")
    page.click("form.filters button")
    rows = page.locator("table.findings tbody tr[data-finding]")
    assert rows.count() >= 3 and page.locator("table.findings td[data-label=Severity]").all_inner_texts() == \
        ["high"] * rows.count()
    rows.first.locator("td[data-label=Finding] a").click()
    page.wait_for_url(site.url + "/findings/*")
    page.fill("form[action$='/ack'] input[name=note]", "reviewed with the CFO")
    page.click("form[action$='/ack'] button")
    page.wait_for_selector("#state")
    assert page.inner_text("#state").strip() == "acknowledged"
    assert "reviewed with the CFO" in page.inner_text("ol.history")
    evidence = page.locator("table.evidence a", has_text="mail as text")
    if evidence.count():
        evidence.first.click()
        assert page.locator("pre.mail").inner_text().strip()
    page.goto(site.url + "/sql")
    form = page.locator("form.canned[data-query=asp-activity]")
    form.locator("input[name='p.gstin']").fill("27AAPFU0939F1ZV")
    form.locator("input[name='p.since']").fill("01-11-2026")
    form.locator("input[name='p.until']").fill("30-11-2026")
    form.locator("button").click()
    assert page.locator("table.result tbody tr").count() > 2
    with page.expect_download() as download:
        page.click("text=Download CSV")
    assert download.value.suggested_filename == "query.csv"
    page.goto(site.url + "/reports")
    page.click("text=alertproc-2026-W47.html")
    page.wait_for_url(site.url + "/reports/alertproc-2026-W47.html")
    page.wait_for_load_state("domcontentloaded")  # the title is read once the new page is parsed, not mid-load
    assert "GST API access audit" in page.title()
    page.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_the_pages_read_at_1280_and_390_px(browser, site, width, tmp_path):
    page = logged_in(browser, site, "asha", width)
    finding = page.locator("table.findings tr[data-finding]").first.get_attribute("data-finding")
    for path in ("/", "/findings", f"/findings/{finding}", "/sql?query=weekly-trend", "/reports", "/audit",
                 "/gstins/27AAPFU0939F1ZV?since=01-11-2026&until=30-11-2026", "/asps/ACMETAXCLOUD"):
        page.goto(site.url + path)
        shot = tmp_path / f"{path.strip('/').replace('/', '-').replace('?', '-') or 'overview'}-{width}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert page.evaluate(BROKEN_WORDS) == [], path
        assert page.evaluate(OVERFLOWING) == [], path
        assert page.evaluate("document.documentElement.scrollWidth") <= width, path
    page.close()
