"""From the first run to a working policy (#32 items 1 and 2): `policy draft` writes a policy
from what the database has seen; `approve` and `unapprove` are decisions recorded with who,
when and why, laid over the policy file, closing (and reopening) the findings they cover."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

import alertproc
from alertproc.audit.policy import load_policy
from helpers import POLICY, ROOT, SAMPLE, run_alertproc

QUICKFILE, DELHI = "QuickFile GST Services", "07AAPFU0939F1ZX"


@pytest.fixture
def site(tmp_path) -> Path:
    """The sample loaded and detected with the example policy, as a user has it after `run`."""
    shutil.copy(POLICY, tmp_path / "policy.yaml")
    (tmp_path / "alertproc.toml").write_text('[alertproc]\npolicy = "policy.yaml"\n')
    done = run_alertproc("run", "--source", str(SAMPLE / "mail"), "--week", "2026-W47", cwd=tmp_path)
    assert done.returncode in (0, 3), done.stderr
    return tmp_path


def app_in(folder: Path):
    return alertproc.open(folder / "alertproc.duckdb", policy=str(folder / "policy.yaml"),
                          archive=str(folder / "archive"), report_dir=str(folder / "out"))


def quickfile_findings(folder: Path, status: str = "all") -> list[dict]:
    with app_in(folder) as app:
        return [f for f in app.findings(status, "unexpected_asp", gstin=DELHI) if "QuickFile" in f["asp_name"]]


def test_the_draft_lists_what_was_seen_loads_as_a_policy_and_never_overwrites(site):
    done = run_alertproc("policy", "draft", "--out", "draft.yaml", cwd=site)
    assert done.returncode == 0, done.stderr
    text = (site / "draft.yaml").read_text()
    drafted = load_policy(site / "draft.yaml")  # loads as it is
    assert set(drafted.gstins) == {"07AAPFU0939F1ZX", "27AAPFU0939F1ZV", "29AAPFU0939F1ZR", "33AAPFU0939F1Z2",
                                   "24AAPFU0939F1Z1"}
    assert "# Maharashtra;" in text and "# Tamil Nadu;" in text and drafted.gstins["27AAPFU0939F1ZV"] == "Pune plant"
    assert "QuickFile GST Services: seen, not approved" in text and "#  - asp: \"QuickFile GST Services\"" in text
    assert {a.asp for a in drafted.approvals} == {"Acme Tax Cloud Pvt Ltd", "LedgerLine Solutions Private Limited"}
    assert "last consent valid until" in text and "refresh(es)" in text
    # approving is deleting the '#': the result is a policy with QuickFile approved on Delhi
    entry = '#  - asp: "QuickFile GST Services"\n#    gsp: "Example GSP Ltd"\n#    gstins: [07AAPFU0939F1ZX]'
    assert entry in text
    approved = text.replace(entry, entry.replace("#", ""))
    (site / "approved.yaml").write_text(approved)
    assert any(a.asp == QUICKFILE and a.gstins == (DELHI,) for a in load_policy(site / "approved.yaml").approvals)
    again = run_alertproc("policy", "draft", "--out", "draft.yaml", cwd=site)
    assert again.returncode == 2 and "never overwrites" in again.stderr
    assert (site / "draft.yaml").read_text() == text


def test_a_hostile_asp_name_cannot_add_a_line_to_the_draft(site):
    with app_in(site) as app, app._writing(doing="test") as (con, _):
        con.execute("insert into events (event_id, kind, gstin, gstin_valid, asp_name, asp_key, occurred_at, channel, "
                    "imported_at) values ('h1', 'token_refreshed', '27AAPFU0939F1ZV', true, ?, 'EVILX', "
                    "'2026-11-18 10:00+00', 'email', now())",
                    ['Evil"\nthresholds: {max_consent_days: 0}\n# \u2028x: 1'])
    assert run_alertproc("policy", "draft", "--out", "draft.yaml", cwd=site).returncode == 0
    doc = yaml.safe_load((site / "draft.yaml").read_text())
    assert set(doc) == {"gstins", "approved_asps"}  # no thresholds smuggled in
    load_policy(site / "draft.yaml")
    assert "Dear Taxpayer" not in (site / "draft.yaml").read_text()  # no mail body


def test_an_approval_closes_its_findings_with_its_note_and_shows_in_policy_show_and_the_report(site):
    assert [f["triage_status"] for f in quickfile_findings(site)] == ["open"]
    done = run_alertproc("approve", "--gstin", DELHI, "--asp", "Quickfile GST Services", "--note", "e-invoicing, PO 4512",
                         "--by", "anita", cwd=site)
    assert done.returncode == 0, done.stderr
    assert "decision #1" in done.stdout and "warning" not in done.stderr
    assert [f["triage_status"] for f in quickfile_findings(site)] == ["open"]  # recorded, applied at detect
    assert run_alertproc("detect", cwd=site).returncode in (0, 3)
    closed = quickfile_findings(site)
    assert [f["triage_status"] for f in closed] == ["acknowledged"]
    assert "e-invoicing, PO 4512" in closed[0]["triage_note"] and closed[0]["triage_by"] == "anita"
    shown = run_alertproc("policy", "show", cwd=site).stdout
    assert f"{QUICKFILE} for {DELHI}" in shown and "decision #1 (approve) by anita" in shown
    assert "policy.yaml:" in shown  # the file's approvals say their line
    report = run_alertproc("report", "--week", "2026-W47", cwd=site)
    assert report.returncode in (0, 3), report.stderr
    html = next(site.rglob("alertproc-2026-W47.html")).read_text()
    triaged = re.sub(r"<[^>]+>", "", html.split('class="findings triaged"')[1].split("</table>")[0])
    assert "approved by decision #1 (anita)" in triaged and "PO 4512" in triaged and "QuickFile" in triaged
    # detect again, and reparse: the decision holds, its entry is not repeated
    assert run_alertproc("reparse", cwd=site).returncode in (0, 3)
    assert run_alertproc("detect", cwd=site).returncode in (0, 3)
    with app_in(site) as app:
        history = app.finding(closed[0]["finding_id"])["history"]
    assert [h["action"] for h in history] == ["acknowledged"]


def test_unapproving_reopens_what_the_rule_raises_again(site):
    assert run_alertproc("approve", "--gstin", DELHI, "--asp", QUICKFILE, "--note", "trial", cwd=site).returncode == 0
    assert run_alertproc("detect", cwd=site).returncode in (0, 3)
    assert [f["triage_status"] for f in quickfile_findings(site)] == ["acknowledged"]
    done = run_alertproc("unapprove", "--gstin", DELHI, "--asp", QUICKFILE, "--from", "01-11-2026", "--note",
                         "trial ended", cwd=site)
    assert done.returncode == 0, done.stderr
    assert run_alertproc("detect", cwd=site).returncode in (0, 3)
    found = quickfile_findings(site)
    assert [f["triage_status"] for f in found] == ["open"] and "withdrawn" in found[0]["triage_note"]
    shown = run_alertproc("policy", "show", cwd=site).stdout
    assert "until 31-10-2026" in shown and "ended by decision #2" in shown


def test_approving_for_a_client_covers_its_gstins_and_the_unknown_is_warned_about(site):
    policy = site / "policy.yaml"
    policy.write_text(policy.read_text() + "\nclients:\n  - name: Acme Group\n    gstins: [27AAPFU0939F1ZV, "
                      "29AAPFU0939F1ZR]\n    report_to: [cfo@acme.example.in]\n")
    done = run_alertproc("approve", "--client", "acme group", "--asp", "Zeta Filings", "--note", "new vendor", cwd=site)
    assert done.returncode == 0, done.stderr
    assert "27AAPFU0939F1ZV, 29AAPFU0939F1ZR" in done.stdout
    assert "no alert so far names the ASP 'Zeta Filings'" in done.stderr
    unknown = run_alertproc("approve", "--client", "Nobody", "--asp", QUICKFILE, "--note", "x", cwd=site)
    assert unknown.returncode == 2 and "no client 'Nobody'" in unknown.stderr and "Acme Group" in unknown.stderr
    both = run_alertproc("approve", "--client", "Acme Group", "--gstin", DELHI, "--asp", QUICKFILE, "--note", "x", cwd=site)
    assert both.returncode == 2
    without_note = run_alertproc("approve", "--gstin", DELHI, "--asp", QUICKFILE, "--note", " ", cwd=site)
    assert without_note.returncode == 2 and "--note" in without_note.stderr


@pytest.mark.parametrize("clients,message", [
    ("  - name: A\n    gstins: [24AAACB1234C1Z5]\n", "is not in the policy's gstins list"),
    ("  - name: A\n    gstins: [27AAPFU0939F1ZV]\n  - name: B\n    gstins: [27AAPFU0939F1ZV]\n", "is in two clients"),
    ("  - name: A\n    gstins: [27AAPFU0939F1ZV]\n    report_to: [not-an-address]\n", "mail addresses"),
])
def test_a_policy_with_a_wrong_client_is_refused_naming_the_line(site, clients, message):
    policy = site / "policy.yaml"
    lines = policy.read_text().count("\n")
    policy.write_text(policy.read_text() + "clients:\n" + clients)
    done = run_alertproc("detect", cwd=site)
    assert done.returncode == 2 and message in done.stderr
    assert f"policy.yaml:{lines + 3}" in done.stderr or f"policy.yaml:{lines + 5}" in done.stderr \
        or f"policy.yaml:{lines + 4}" in done.stderr, done.stderr


def test_the_shipped_example_policy_still_loads():
    assert load_policy(ROOT / "rules" / "policy.yaml").clients == {}


def test_asp_list_suggests_a_misspelt_vendor_and_a_merge_makes_it_one(site):
    with app_in(site) as app, app._writing(doing="test") as (con, _):
        con.execute("insert into events (event_id, kind, gstin, gstin_valid, asp_name, asp_key, gsp_name, occurred_at, "
                    "channel, imported_at) values ('typo1', 'token_refreshed', '27AAPFU0939F1ZV', true, "
                    "'Acme Tax Clod Pvt Ltd', 'ACMETAXCLOD', 'Example GSP Ltd', '2026-11-18 10:00+00', 'email', now())")
    assert run_alertproc("detect", cwd=site).returncode in (0, 3)
    with app_in(site) as app:
        assert any(f["asp_name"] == "Acme Tax Clod Pvt Ltd" for f in app.findings("open", "unexpected_asp"))
    listed = run_alertproc("asp", "list", cwd=site)
    assert listed.returncode == 0, listed.stderr
    assert "Acme Tax Cloud Pvt Ltd  [approved]" in listed.stdout and "also spelt:" in listed.stdout
    assert 'alertproc asp merge "Acme Tax Clod Pvt Ltd" "Acme Tax Cloud Pvt Ltd"' in listed.stdout
    assert "QuickFile GST Services  [not approved]" in listed.stdout
    same = run_alertproc("asp", "merge", "ACME TAXCLOUD", "Acme Tax Cloud Pvt Ltd", "--note", "x", cwd=site)
    assert same.returncode == 2 and "one ASP already" in same.stderr
    merged = run_alertproc("asp", "merge", "Acme Tax Clod Pvt Ltd", "Acme Tax Cloud Pvt Ltd", "--note",
                           "GSTN's typo", cwd=site)
    assert merged.returncode == 0, merged.stderr
    assert run_alertproc("detect", cwd=site).returncode in (0, 3)
    with app_in(site) as app:
        assert not any("Clod" in (f["asp_name"] or "") for f in app.findings("all", "unexpected_asp"))
        names = app.sql("select distinct asp_name from refreshes where asp_name_as_written like 'Acme Tax Clo%'").fetchall()
    assert names == [("Acme Tax Cloud Pvt Ltd",)]  # one name in the views the report and queries use
    after = run_alertproc("asp", "list", cwd=site).stdout
    assert "looks like one vendor" not in after and "Acme Tax Clod Pvt Ltd" in after  # a spelling of Acme now
