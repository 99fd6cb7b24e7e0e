"""The audit workflow (issue #23): triage that survives detect, the portal's active tokens,
reconciliation of mailbox and portal, and evidence packs that check themselves."""

from __future__ import annotations

import json
import zipfile
from datetime import date, timedelta

import pytest
from click.testing import CliRunner

from alertproc.storage import store
from alertproc.cli import cli
from alertproc.errors import AlertprocError
from helpers import POLICY_OPTION, SAMPLE

SAMPLE_RUN = ["run", "--source", str(SAMPLE / "mail"), "--sms", str(SAMPLE / "sms-backup.xml"),
              "--access-log", str(SAMPLE / "access-log.csv"), "--tokens", str(SAMPLE / "active-tokens.csv"),
              "--week", "2026-W47", *POLICY_OPTION]


class Done:
    def __init__(self, result):
        error = result.exception if isinstance(result.exception, AlertprocError) else None
        self.exit_code = error.exit_code if error else result.exit_code
        self.output = result.output + (f"alertproc: error: {error}" if error else "")
        if result.exception and not error and not isinstance(result.exception, SystemExit):
            raise result.exception


def invoke(*args) -> Done:
    return Done(CliRunner().invoke(cli, list(args)))


@pytest.fixture
def audit(tmp_path, monkeypatch):
    """The labelled sample corpus (mail, SMS, access log, active tokens), loaded and detected."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ALERTPROC_DB", raising=False)
    done = invoke(*SAMPLE_RUN)
    assert done.exit_code == 0, done.output
    return tmp_path


def rows(sql: str, params=None) -> list[tuple]:
    con = store.connect("alertproc.duckdb", read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def finding(rule: str, like: str = "%") -> str:
    (found,) = rows("select finding_id from findings where rule_id = ? and title like ?", [rule, like])
    return found[0]


def report_html() -> str:
    done = invoke("report", "--week", "2026-W47", *POLICY_OPTION)
    assert done.exit_code == 0, done.output
    with open(done.output.split()[-1], encoding="utf-8") as html:
        return html.read()


# --- triage ------------------------------------------------------------------------------------

def test_the_counts_of_a_run_add_up_and_reopening_an_open_finding_is_an_error(audit):
    import re

    again = invoke(*SAMPLE_RUN)  # the sample once more: every mail and SMS known, private SMS skipped
    line = next(line for line in again.output.splitlines() if line.startswith("messages:"))
    found = re.match(r"messages: (\d+) seen, (\d+) new, (\d+) already imported, (\d+) duplicates, "
                     r"(\d+) SMS of other senders skipped;", line)
    assert found, line
    seen, new, known, duplicates, skipped = (int(n) for n in found.groups())
    assert skipped > 0 and new == 0 and seen == new + known + duplicates + skipped, line
    target = finding("unexpected_asp", "%QuickFile%27AAPFU0939F1ZV%")
    reopened = invoke("findings", "reopen", target)
    assert reopened.exit_code == 2 and f"finding {target} is open already: nothing to reopen" in reopened.output


def test_an_acknowledged_finding_stays_so_after_detect_and_is_shown_apart(audit):
    target = finding("unexpected_asp", "%QuickFile%27AAPFU0939F1ZV%")
    done = invoke("findings", "ack", target[:10], "--note", "QuickFile trial, PO 4711", "--by", "cfo")
    assert done.exit_code == 0 and f"{target}: acknowledged by cfo" in done.output
    assert invoke("detect", *POLICY_OPTION).exit_code == 0  # recomputes every finding
    listed = json.loads(invoke("findings", "list", "--status", "acknowledged", "--format", "json").output)
    assert [(f["finding_id"], f["triage_note"], f["triage_by"]) for f in listed] == [(target, "QuickFile trial, PO 4711", "cfo")]
    assert target not in invoke("findings", "list").output  # not open
    html = report_html()
    open_part, triaged_part = html.split('<section id="triaged">')
    assert 'data-rule="unexpected_asp" data-triage="acknowledged"' in triaged_part
    pune = "QuickFile GST Services&#34; is not approved for GSTIN 27AAPFU0939F1ZV"
    assert "QuickFile trial, PO 4711" in triaged_part and pune in triaged_part
    assert pune not in open_part.split('id="findings"')[1].split("</section>")[0]
    history = rows("select action, by_user from finding_triage where finding_id = ?", [target])
    assert history == [("acknowledged", "cfo")]


def test_suppress_until_a_day_then_it_reopens_and_reopen_is_recorded(audit):
    target = finding("token_without_alerts")
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    assert invoke("findings", "suppress", target, "--note", "Delhi mailbox moves", "--until", yesterday).exit_code == 0
    assert target[:12] in invoke("findings", "list").output  # the suppression has expired: open again
    assert invoke("findings", "suppress", target, "--note", "Delhi mailbox moves").exit_code == 0
    assert target[:12] in invoke("findings", "list", "--status", "suppressed").output
    assert invoke("findings", "reopen", target).exit_code == 0
    assert target[:12] in invoke("findings", "list").output
    assert [a for (a,) in rows("select action from finding_triage where finding_id = ? order by triage_id", [target])] == [
        "suppressed", "suppressed", "reopened"]


def test_triage_needs_a_note_and_a_known_finding(audit):
    assert invoke("findings", "ack", "nosuchid", "--note", "x").exit_code == 2
    assert "say why" in invoke("findings", "ack", finding("token_without_alerts"), "--note", " ").output


def test_a_suppressed_finding_is_never_notified(audit):
    from alertproc.config import notify_settings
    from alertproc.outputs.notify import notify
    highs = [f for (f,) in rows("select finding_id from findings where severity = 'high' order by 1")]
    assert invoke("findings", "suppress", highs[0], "--note", "known test GSTIN").exit_code == 0
    out = audit / "sent.json"
    con = store.connect("alertproc.duckdb")
    try:
        result = notify(con, notify_settings({"command": f"sh -c 'cat > {out}'"}, "test"), None, {}, sleep=lambda s: None)
    finally:
        con.close()
    sent = {f["finding_id"] for f in json.loads(out.read_text())["findings"]}
    assert result.sent == {"command": len(highs) - 1} and highs[0] not in sent and set(highs[1:]) == sent


# --- active tokens -------------------------------------------------------------------------------

def test_an_active_token_of_an_unapproved_asp_is_a_finding_whose_evidence_is_the_snapshot_row(audit):
    (event_ids,) = rows("select event_ids from findings where rule_id = 'unexpected_asp' "
                        "and title like '%QuickFile%27AAPFU0939F1ZV%'")[0]
    evidence = rows("select kind, channel, status, asp_name, source_ref from events where list_contains(?, event_id)",
                    [event_ids])
    assert evidence == [("active_token", "portal_tokens", "active", "QuickFile GST Services", "active-tokens.csv:3 "
                         "(generated 2026-11-22T02:40:00+00:00)")]


def test_import_tokens_without_a_gstin_column_and_with_a_taken_at(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    listing = tmp_path / "tokens.csv"
    listing.write_text("Sr. No.,ASP Name,GSP Name,Generated On,Valid Up To,Status\n"
                       "1,QuickFile GST Services,Example GSP Ltd,30-11-2026 08:00:00,30-11-2026 14:00:00,Active\n"
                       "2,Old Vendor,Example GSP Ltd,01-11-2026 08:00:00,01-11-2026 14:00:00,Expired\n")
    assert "pass --gstin" in invoke("import", "tokens", str(listing)).output
    done = invoke("import", "tokens", str(listing), "--gstin", "27AAPFU0939F1ZV", "--taken-at", "2026-11-30 10:15")
    assert done.exit_code == 0 and "2 rows as of 30-11-2026 10:15 IST (from --taken-at), 2 new" in done.output
    again = invoke("import", "tokens", str(listing), "--gstin", "27AAPFU0939F1ZV", "--taken-at", "2026-11-30 10:15")
    assert "0 new, 2 already imported" in again.output
    assert rows("select asp_name, status from events order by 1") == [("Old Vendor", "inactive"),
                                                                      ("QuickFile GST Services", "active")]
    assert invoke("detect", *POLICY_OPTION).exit_code == 0
    assert rows("select rule_id from findings where asp_name = 'QuickFile GST Services'") == [("unexpected_asp",)]


# --- reconciliation --------------------------------------------------------------------------------

def test_the_report_says_whether_the_mailbox_saw_what_the_portal_saw(audit):
    html = report_html()
    section = html.split('<section id="reconciliation">')[1].split("</section>")[0]
    bengaluru = section.split('data-gstin="29AAPFU0939F1ZR"')[1].split("</tr>")[0]
    assert [cell.split("<")[0] for cell in bengaluru.split("<td>")[1:3]] == ["3", "2"]  # 3 accesses, 2 unseen
    assert section.count("portal access, no alert") == 2 and "20-11-2026 11:15" in section
    assert rows("select count(*) from findings where rule_id = 'access_without_alert' and gstin = '29AAPFU0939F1ZR'") == [(1,)]


def test_a_mail_alert_without_its_sms_twin_is_a_gap(audit):
    con = store.connect("alertproc.duckdb")
    try:  # the SMS of one Pune refresh never arrived
        con.execute("""delete from events where event_id = (select event_id from events where channel = 'sms'
                       and kind = 'token_refreshed' and gstin = '27AAPFU0939F1ZV' order by occurred_at limit 1)""")
    finally:
        con.close()
    section = report_html().split('<section id="reconciliation">')[1].split("</section>")[0]
    pune = section.split('data-gstin="27AAPFU0939F1ZV"')[1].split("</tr>")[0]
    assert [cell.split("<")[0] for cell in pune.split("<td>")[5:7]] == ["1", "0"] and "mail, no SMS" in section


# --- evidence packs ----------------------------------------------------------------------------------

def test_an_evidence_pack_for_a_month_verifies_and_holds_only_what_the_findings_rest_on(audit):
    done = invoke("evidence", "--since", "2026-11-01", "--until", "2026-11-30", "--out", "november.zip")
    assert done.exit_code == 0, done.output
    with zipfile.ZipFile("november.zip") as pack:
        names = set(pack.namelist())
        manifest = json.loads(pack.read("manifest.json"))
        events = pack.read("events.csv").decode()
        tokens = pack.read("active-tokens.csv").decode()
    wanted = {f for (f,) in rows("select finding_id from findings where occurred_at >= '2026-10-31 18:30+00' "
                                 "and occurred_at < '2026-11-30 18:30+00'")}
    assert set(manifest["findings"]) == wanted
    event_ids = {e for (ids,) in rows("select event_ids from findings where list_contains(?, finding_id)", [list(wanted)])
                 for e in ids}
    assert len(events.strip().splitlines()) == len(event_ids) + 1
    mails = {n for n in names if n.startswith("mail/")}
    behind = {f"mail/{s}.eml" for (s,) in rows("select distinct m.sha256 from events e join messages m on m.sha256 = "
                                              "e.source_sha256 where list_contains(?, e.event_id) and m.source = 'eml'",
                                              [list(event_ids)])}
    assert mails == behind and len(mails) > 0
    assert {"report.html", "findings.csv", "findings.json", "access-log.csv", "README.txt", "SHA256SUMS"} <= names
    assert "QuickFile GST Services" in tokens
    verified = invoke("evidence", "verify", "november.zip")
    assert verified.exit_code == 0 and f"intact, {len(names) - 2} files" in verified.output


def test_a_tampered_pack_fails_verification(audit):
    target = finding("refresh_after_revocation")
    assert invoke("evidence", "--finding", target[:8], "--out", "one.zip").exit_code == 0
    with zipfile.ZipFile("one.zip") as pack:
        members = {name: pack.read(name) for name in pack.namelist()}
    assert json.loads(members["manifest.json"])["findings"] == [target]
    assert "report.html" not in members  # the week's report would show its other findings
    mail = next(n for n in members if n.startswith("mail/"))
    members[mail] = members[mail][:-3] + bytes([members[mail][-3] ^ 1]) + members[mail][-2:]  # one bit
    with zipfile.ZipFile("tampered.zip", "w") as pack:
        for name, data in members.items():
            pack.writestr(name, data)
    done = invoke("evidence", "verify", "tampered.zip")
    assert done.exit_code == 1 and f"FAIL {mail}: SHA-256" in done.output and "NOT intact" in done.output


def test_a_pack_refuses_to_leave_out_a_mail_whose_archive_copy_is_altered(audit):
    target = finding("refresh_after_revocation")
    (path,) = rows("""select m.archive_path from findings f, events e, messages m
                      where f.finding_id = ? and list_contains(f.event_ids, e.event_id) and m.sha256 = e.source_sha256
                      order by 1 limit 1""", [target])[0]
    stored = audit / "archive" / path
    stored.write_bytes(stored.read_bytes() + b"\n")
    done = invoke("evidence", "--finding", target, "--out", "one.zip")
    assert done.exit_code == 1 and "does not match its hash" in done.output and not (audit / "one.zip").exists()
