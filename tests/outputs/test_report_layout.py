"""The report as people read it (#30 item 9), in headless Chromium driven by Playwright: on a
phone (390 px) and a laptop (1280 px) no word breaks in the middle and nothing but a table's
own box scrolls sideways; every evidence item opens; its counts agree with the run's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import alertproc
from helpers import POLICY, SAMPLE
from helpers.layout import BROKEN_WORDS, OVERFLOWING

WIDTHS = (390, 1280)

# Each finding's evidence links: where they point, and whether that target exists (an anchor
# in the report; a file is checked by the test).
EVIDENCE_LINKS = """() => Array.from(document.querySelectorAll('tr[data-finding]')).map(row => ({
  finding: row.dataset.finding, events: Number(row.dataset.events),
  links: Array.from(row.querySelectorAll('td.evidence a')).map(a => ({
    text: a.textContent.trim(), href: a.getAttribute('href'), visible: a.getClientRects().length > 0,
    anchored: a.getAttribute('href').startsWith('#') ? !!document.getElementById(a.getAttribute('href').slice(1)) : null
  }))
}))"""


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, object]:
    folder = tmp_path_factory.mktemp("layout")
    with alertproc.open(folder / "a.duckdb", archive=str(folder / "archive"), report_dir=str(folder / "out"),
                        policy=POLICY) as app:
        summary = app.run(SAMPLE / "mail", kind="eml", week="2026-W47",
                          inputs={"sms": [SAMPLE / "sms-backup.xml"], "access-log": [SAMPLE / "access-log.csv"],
                                  "tokens": [SAMPLE / "active-tokens.csv"]})
    return summary.report, summary


@pytest.mark.parametrize("width", WIDTHS)
def test_the_report_reads_on_a_phone_and_a_laptop_without_broken_words(report, browser, width, tmp_path):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(report[0].resolve().as_uri())
    shot = tmp_path / f"report-{width}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert page.evaluate(BROKEN_WORDS) == []
    assert page.evaluate(OVERFLOWING) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    # On the phone too, every finding shows its evidence and what each column is.
    cells = page.locator("table.findings td.evidence")
    assert cells.count() > 5 and all(cells.nth(i).is_visible() for i in range(cells.count()))
    page.close()


def test_every_evidence_item_opens_and_more_is_a_link(report, browser):
    path, _ = report
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(path.resolve().as_uri())
    rows = page.evaluate(EVIDENCE_LINKS)
    page.close()
    assert rows
    kinds = set()
    for row in rows:
        links = row["links"]
        assert links, f"finding {row['finding']} ({row['events']} events) has nothing to open"
        for link in links:
            if link["href"].startswith("#"):
                assert link["anchored"], link
            else:
                assert (path.parent / link["href"]).resolve().is_file(), link
            kinds.add(re.sub(r"\s*\d+$", "", link["text"]))
        if row["events"] > 5:
            assert links[-1]["text"] == f"+{row['events'] - 5} more" and links[-1]["href"].startswith("#")
    assert {"mail", "access-log row", "token row"} <= kinds


def test_the_report_counts_agree_with_the_run_or_say_why(report):
    path, summary = report
    html = path.read_text()
    totals = re.search(r'id="finding-totals" data-total="(\d+)" data-listed="(\d+)"', html)
    assert totals and int(totals.group(1)) == summary.detect.total
    assert int(totals.group(2)) == html.count(' data-rule="')  # the open rows and the triaged ones
    if totals.group(1) != totals.group(2):
        assert "not in this report" in html.lower().split('id="finding-totals"')[1].split("</p>")[0]


def test_unparsed_mail_says_why_in_words_not_format_ids(report):
    html = report[0].read_text()
    unparsed = html.split('<section id="unparsed">')[1].split("</section>")[0]
    why = re.findall(r'<td class="why">(.*?)</td>', unparsed, flags=re.DOTALL)
    assert why and all("email_token_refreshed_text" not in re.sub(r"<details>.*?</details>", "", w, flags=re.DOTALL)
                       for w in why)
    assert all("wording" in w for w in why)


def test_coverage_and_the_reconciliation_expander_do_not_contradict(report):
    html = report[0].read_text()
    reconciliation = html.split('<section id="reconciliation">')[1].split("</section>")[0]
    coverage = html.split('<section id="coverage">')[1].split("</section>")[0]
    assert "gap(s)" not in reconciliation
    assert "No gaps" not in coverage
