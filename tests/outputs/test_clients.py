"""A CA firm's clients (#32 item 4): a client's report, evidence pack and finding list hold its
GSTINs only, and nothing of the other clients: not in tables, evidence, counts or links."""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest

from helpers import POLICY, SAMPLE, run_alertproc

ACME = ("27AAPFU0939F1ZV", "29AAPFU0939F1ZR")  # client "Acme Group"
DELHI = "07AAPFU0939F1ZX"  # client "Delhi Traders"
UNCLAIMED = "33AAPFU0939F1Z2"  # in no client, not in the policy
CLIENTS = f"""
clients:
  - name: Acme Group
    gstins: [{ACME[0]}, {ACME[1]}]
    report_to: [cfo@acme.example.in]
  - name: Delhi Traders
    gstins: [{DELHI}]
"""


@pytest.fixture(scope="module")
def firm(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("firm")
    (folder / "policy.yaml").write_text(Path(POLICY).read_text() + CLIENTS)
    (folder / "alertproc.toml").write_text('[alertproc]\npolicy = "policy.yaml"\nreport_dir = "out"\n')
    shutil.copytree(SAMPLE / "mail", folder / "mail")
    done = run_alertproc("run", "--source", "mail", "--sms", str(SAMPLE / "sms-backup.xml"), "--access-log",
                         str(SAMPLE / "access-log.csv"), "--week", "2026-W47", "--json", cwd=folder)
    assert done.returncode in (0, 3), done.stderr
    (folder / "run.json").write_text(done.stdout)
    return folder


def others_of(html: str, own: tuple[str, ...]) -> set[str]:
    """Every GSTIN-looking text in ``html`` that is not one of ``own``."""
    return set(re.findall(r"\b\d{2}[A-Z]{5}\d{4}[A-Z][0-9A-Z]Z[0-9A-Z]\b", html)) - set(own)


def test_a_run_with_clients_writes_each_clients_report_beside_the_firms(firm):
    summary = json.loads((firm / "run.json").read_text())
    assert set(summary["client_reports"]) == {"Acme Group", "Delhi Traders"}
    delhi = Path(summary["client_reports"]["Delhi Traders"])
    assert delhi.parts[-3:] == ("out", "Delhi-Traders", "alertproc-2026-W47.html")
    firm_wide = (firm / "out" / "alertproc-2026-W47.html").read_text()
    assert {DELHI, *ACME, UNCLAIMED} <= set(re.findall(r"\d{2}[A-Z]{5}\d{4}[A-Z]\dZ[0-9A-Z]", firm_wide))


@pytest.mark.parametrize("client,own", [("Delhi Traders", (DELHI,)), ("acme group", ACME)])
def test_a_clients_report_holds_nothing_of_the_others(firm, client, own):
    done = run_alertproc("report", "--week", "2026-W47", "--client", client, cwd=firm)
    assert done.returncode == 0, done.stderr
    path = firm / done.stdout.split("report: ")[1].strip()
    html = path.read_text()
    assert path.parent.name in ("Delhi-Traders", "Acme-Group")
    assert others_of(html, own) == set(), "another client's GSTIN in the report"
    assert all(gstin in html for gstin in own)
    assert re.search(r"<h1>GST API access audit — (Delhi Traders|Acme Group)</h1>", html)
    if own == (DELHI,):
        assert "LedgerLine" not in html  # an ASP seen only on another client's GSTIN
        assert "QuickFile" in html  # its own unapproved ASP
    links = [m for m in re.findall(r'href="([^"#][^"]*)"', html)]
    for link in links:  # every archived mail linked is one of the client's own
        mail = (path.parent / link).resolve()
        assert mail.is_file() and others_of(mail.read_text(errors="replace"), own) == set(), link


def test_a_clients_findings_and_evidence_hold_only_its_gstins(firm):
    listed = run_alertproc("findings", "list", "--status", "all", "--client", "Delhi Traders", "--format", "json", cwd=firm)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert rows and {row["gstin"] for row in rows} == {DELHI}
    every = json.loads(run_alertproc("findings", "list", "--status", "all", "--format", "json", cwd=firm).stdout)
    assert len(rows) == sum(row["gstin"] == DELHI for row in every)
    pack = run_alertproc("evidence", "--week", "2026-W47", "--client", "Delhi Traders", "--out", "delhi.zip", cwd=firm)
    assert pack.returncode == 0, pack.stderr
    with zipfile.ZipFile(firm / "delhi.zip") as zipped:
        for name in zipped.namelist():
            text = zipped.read(name).decode("utf-8", "replace")
            assert others_of(text, (DELHI,)) == set(), name
            assert "Acme Group" not in text, name  # nor another client's name (the pack's report)
    unknown = run_alertproc("report", "--client", "Nobody", cwd=firm)
    assert unknown.returncode == 2 and "no client 'Nobody'" in unknown.stderr


def test_with_smtp_a_run_mails_each_client_its_own_report_only(tmp_path):
    from email import message_from_bytes

    from aiosmtpd.controller import Controller

    from helpers import Inbox
    from helpers.dovecot import free_port
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        (tmp_path / "policy.yaml").write_text(Path(POLICY).read_text() + CLIENTS)
        (tmp_path / "alertproc.toml").write_text(
            '[alertproc]\npolicy = "policy.yaml"\nreport_dir = "out"\n'
            f'[smtp]\nhost = "127.0.0.1"\nport = {controller.port}\ntls = "none"\nfrom_addr = "audit@firm.example.in"\n')
        done = run_alertproc("run", "--source", str(SAMPLE / "mail"), "--week", "2026-W47", cwd=tmp_path)
        assert done.returncode in (0, 3), done.stderr
    finally:
        controller.stop()
    assert [rcpt for rcpt, _ in inbox.messages] == [["cfo@acme.example.in"]]  # Delhi Traders has no report_to
    mail = message_from_bytes(inbox.messages[0][1])
    assert "Acme Group" in mail["Subject"]
    attached = [part.get_payload(decode=True).decode() for part in mail.walk() if part.get_filename()]
    assert attached and others_of(attached[0], ACME) == set()
