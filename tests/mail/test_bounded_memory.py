"""Memory follows the batch settings, not the input (issue #28 item 10): a mail over the size
budget is archived whole and recorded `unparsed`, "too large"; batches are cut by bytes as
well as by count; SMS exports drop every record (MMS too) once read; an XLSX whose text table
would swell in memory is refused. Peak RSS per input is measured in bench/large_inputs.py,
not here (a shared machine makes RSS noise); tracemalloc below counts Python's own
allocations, which do not depend on the machine."""

from __future__ import annotations

import email.mime.application
import hashlib
import tracemalloc
import zipfile
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from alertproc.storage import store
from alertproc.errors import SourceError
from alertproc.mail.mailbox import BATCH_BYTES, split_batches
from helpers import Staged, make

BIG = 3 * 2**20


def big_alert(msgid: str = "big") -> bytes:
    """A genuine-looking refresh alert carrying a 3 MB attachment."""
    mail = make.refresh_text(make.PUNE, make.ACME, make.EGSP, make.ist("2026-11-20", "10:00"), msgid)
    mail.make_mixed()
    mail.attach(email.mime.application.MIMEApplication(bytes(range(256)) * (BIG // 256), Name="statement.pdf"))
    return mail.as_bytes()


def small_alert(n: int) -> bytes:
    when = make.ist("2026-11-20", "11:00") + timedelta(minutes=n)
    return make.refresh_text(make.PUNE, make.ACME, make.EGSP, when, f"small{n}").as_bytes()


def test_a_mail_over_the_budget_is_archived_whole_and_recorded_too_large(settings, tmp_path):
    folder = tmp_path / "mail"
    folder.mkdir()
    raw = big_alert()
    (folder / "big.eml").write_bytes(raw)
    (folder / "small.eml").write_bytes(small_alert(1))
    con = store.connect(settings.db)
    stats = Staged(con, replace(settings, max_mail_mb=1)).import_mail(folder, "eml")
    row = con.execute("select parse_status, parse_error, subject, from_addr, archive_path, size_bytes, sender_check "
                      "from messages where sha256 = ?", [hashlib.sha256(raw).hexdigest()]).fetchone()
    events = con.execute("select count(*) from events where source_sha256 = ?", [hashlib.sha256(raw).hexdigest()]).fetchone()
    con.close()
    assert stats.unparsed == 1 and stats.parsed == 1
    status, error, subject, sender, archived, size, verdict = row
    assert status == "unparsed" and error.startswith(f"too large: {len(raw) / 2**20:.1f} MB"), error
    assert "max_mail_mb = 1" in error
    assert subject.startswith("Authentication token refreshed") and sender == "donotreply@gst.gov.in"
    assert verdict is None and events == (0,) and size == len(raw)  # no verdict: never filed, never a rule's input
    assert (Path(settings.archive) / archived).read_bytes() == raw


def test_batches_are_cut_by_bytes_as_well_as_by_count():
    sizes = {1: 10, 2: BATCH_BYTES - 20, 3: 30, 4: 2 * BATCH_BYTES, 5: 1, 6: 1}
    assert split_batches([1, 2, 3, 4, 5, 6], 1000, sizes) == [[1, 2], [3], [4], [5, 6]]
    assert split_batches([1, 2, 3, 4, 5, 6], 2, {}) == [[1, 2], [3, 4], [5, 6]]


def test_a_large_mail_on_imap_is_archived_left_in_the_inbox_and_the_rest_filed(dovecot, settings):
    from helpers.imap import ENV, FILED, append, contents, fetch, imap_cfg
    raw = big_alert().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    smalls = [(f"s{n}", small_alert(n).replace(b"\n", b"\r\n")) for n in range(3)]
    append(dovecot, [("big", raw)] + smalls)
    from alertproc.mail.imap import ImapMailbox
    with ImapMailbox(imap_cfg(dovecot), ENV) as mailbox:
        mailbox.select("INBOX")
        uids = mailbox.call(lambda c: c.search(["ALL"]), "search")
        sizes = mailbox.sizes(uids)
    assert sorted(sizes.values()) == sorted(len(r) for _, r in [("big", raw)] + smalls)
    result = fetch(replace(settings, max_mail_mb=1), dovecot)
    assert result.imported.unparsed == 1 and result.filed == 3
    assert [r for r, _ in contents(dovecot, "INBOX")] == [raw]
    assert len(contents(dovecot, FILED)) == 3


def test_an_sms_export_full_of_mms_is_read_in_constant_memory(tmp_path):
    """MMS elements (base64 parts: most of a real export's bytes) were never dropped."""
    from alertproc.portal.sms import read_sms
    part = "A" * 2**20
    records = "".join(f'<mms date="17632000000{n:02d}" address="+9198"><parts><part data="{part}"/></parts></mms>'
                      for n in range(40))  # a phone's photos first: nothing cleared them until the next SMS
    records += "".join(f'<sms address="VM-GSTIND" date="17632000000{n:02d}" body="alert {n}"/>' for n in range(40))
    path = tmp_path / "sms.xml"
    path.write_text(f"<?xml version='1.0' encoding='UTF-8'?><smses count='80'>{records}</smses>")
    tracemalloc.start()
    try:
        read = [sms.body for sms in read_sms(path)]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert read == [f"alert {n}" for n in range(40)]
    assert peak < 12 * 2**20, f"peak {peak / 2**20:.0f} MB for 40 MB of MMS: records were kept"


def test_an_xlsx_whose_text_table_would_swell_is_refused(tmp_path, monkeypatch):
    """openpyxl holds every shared string: 140 MB of them in a 4.5 MB file took 942 MB and 96 s."""
    from alertproc.portal import tabular
    monkeypatch.setattr(tabular, "XLSX_MAX_SHARED_STRINGS", 1 * 2**20)
    path = tmp_path / "view-logs.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr("[Content_Types].xml", "<Types/>")
        book.writestr("xl/sharedStrings.xml", "<sst>" + "<si><t>27AAPFU0939F1ZV</t></si>" * 60_000 + "</sst>")
    with pytest.raises(SourceError, match=r"sharedStrings.xml\) unpacks to 2 MB, over 1 MB, .* save it as CSV"):
        list(tabular.read_rows(path))
