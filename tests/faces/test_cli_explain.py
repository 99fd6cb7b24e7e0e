"""``alertproc explain`` and ``alertproc formats check``, through the real entry point."""

from __future__ import annotations

import shutil

from helpers import ROOT, make, run_alertproc
from helpers.mangle import alerts, build, folded_spf_fail

RULES = ROOT / "rules"


def test_explain_shows_every_step_and_exits_0_for_an_alert(tmp_path):
    (tmp_path / "a.eml").write_bytes(make.refresh_text(make.PUNE, make.ACME, make.EGSP, make.START, "x1").as_bytes())
    done = run_alertproc("explain", "a.eml", "--rules", str(RULES), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for line in ("sender:   genuine — Authentication-Results: aligned dkim=pass header.i=@gst.gov.in from mx.example.in",
                 "format email_token_refreshed_text", "    asp_name: Acme Tax Cloud Pvt Ltd", "result: parsed",
                 "    asp_key: ACMETAXCLOUD"):
        assert line in done.stdout
    assert not (tmp_path / "alertproc.duckdb").exists()  # nothing stored


def test_explain_says_why_a_spoof_gives_no_event(tmp_path):
    (tmp_path / "s.eml").write_bytes(folded_spf_fail(alerts()[0]))
    done = run_alertproc("explain", "s.eml", "--rules", str(RULES), cwd=tmp_path)
    assert done.returncode == 1
    assert "sender:   auth_fail — Authentication-Results: dmarc=fail header.from=gst.gov.in from mx.example.in" in done.stdout
    assert "result: suspicious" in done.stdout


def test_explain_shows_the_fields_a_new_wording_lacks(tmp_path):
    raw = next(raw for slug, raw in make.scenario() if slug == "unparsed-new-template")
    (tmp_path / "n.eml").write_bytes(raw)
    done = run_alertproc("explain", "n.eml", "--rules", str(RULES), cwd=tmp_path)
    assert done.returncode == 1
    assert "body pattern: no match" in done.stdout and "result: unparsed" in done.stdout


def test_explain_masks_otp_digits(tmp_path):
    (tmp_path / "o.eml").write_bytes(build(alerts()[-1], plain=alerts()[-1].plain))
    done = run_alertproc("explain", "o.eml", "--rules", str(RULES), cwd=tmp_path)
    assert done.returncode == 0 and "493817" not in done.stdout and "######" in done.stdout


def test_formats_check_passes_the_shipped_formats_and_warns_about_risky_ones(tmp_path):
    done = run_alertproc("formats", "check", "--rules", str(RULES), cwd=tmp_path)
    assert done.returncode == 0 and "0 warnings" in done.stdout
    mine = tmp_path / "rules"
    shutil.copytree(RULES / "formats", mine / "formats")
    (mine / "formats" / "mine.yaml").write_text(
        "id: mine\nkind: token_refreshed\nchannel: email\nsubject: '^Renewal of your key'\n"
        "fields:\n  gstin: 'GSTIN (.+?)'\n  asp_name: 'by (.+)'\n  occurred_at: 'at (\\d+)'\n"
        "required: [gstin]\ndate_formats: ['%Y']\n")
    done = run_alertproc("formats", "check", "--rules", str(mine), cwd=tmp_path)
    assert done.returncode == 1
    assert "mine.yaml: gstin: ends in a lazy repeat" in done.stdout
    assert "mine.yaml: asp_name: a greedy (.+)" in done.stdout
    assert "mine.yaml: subject_search: no subject_search" in done.stdout


def test_a_pattern_the_linear_engine_cannot_run_is_refused_with_its_line(tmp_path):
    mine = tmp_path / "rules" / "formats"
    mine.mkdir(parents=True)
    (mine / "bad.yaml").write_text("id: bad\nkind: token_refreshed\nchannel: email\nsubject: 'Token'\n"
                                   "fields:\n  gstin: '(?<=GSTIN )(\\w+)'\n")
    done = run_alertproc("formats", "check", "--rules", str(tmp_path / "rules"), cwd=tmp_path)
    assert done.returncode == 2
    assert "bad.yaml:6: 'gstin' uses syntax the linear-time matcher (RE2) does not have" in done.stderr
