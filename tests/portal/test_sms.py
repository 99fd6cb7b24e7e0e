"""SMS exports: XML and CSV, streamed; GST SMS stored and parsed, private SMS only counted."""

import pytest

from alertproc.errors import ConfigError, SourceError
from alertproc.config import Settings
from alertproc.portal.sms import import_sms, read_sms

DEFAULT_SENDERS = Settings().sms_senders
from helpers import SAMPLE, make


def load(con, path, formats):
    return import_sms(con, read_sms(path), formats, DEFAULT_SENDERS)


def test_sample_xml_export(con, formats):
    stats = load(con, SAMPLE / "sms-backup.xml", formats)
    scenario = make.sms_scenario()
    assert stats.seen == len(scenario) and stats.not_alerts == 3 and stats.unparsed == 0
    assert stats.parsed == len(scenario) - 3 and stats.events_new == stats.parsed
    kinds = dict(con.execute("select kind, count(*) from events where channel = 'sms' group by 1").fetchall())
    assert kinds["consent_granted"] == 1 and kinds["otp_sent"] == 1 and kinds["token_refreshed"] >= 20
    senders = {r[0] for r in con.execute("select from_addr from messages where source = 'sms'").fetchall()}
    assert senders <= {"VM-GSTIND", "JD-GSTIND", "VM-GSTNIN"}  # the bank and the friend are never stored
    assert "493817" not in str(con.execute("select * from messages").fetchall())


def test_reimport_adds_nothing(con, formats):
    load(con, SAMPLE / "sms-backup.xml", formats)
    again = load(con, SAMPLE / "sms-backup.xml", formats)
    assert again.new == 0 and again.events_new == 0


def test_sms_refresh_fields(con, formats):
    load(con, SAMPLE / "sms-backup.xml", formats)
    row = con.execute("select gstin, asp_key, strftime(timezone('Asia/Kolkata', occurred_at), '%H:%M') from events "
                      "where channel = 'sms' and kind = 'token_refreshed' order by occurred_at limit 1").fetchone()
    first = next(w for w in make.pune_refresh_times() if w >= make.ist("2026-11-16", "00:00"))
    assert row == (make.PUNE, "ACMETAXCLOUD", first.strftime("%H:%M"))


@pytest.mark.parametrize("header,date", [
    ("date,address,body", "1795331520000"),
    ("Date Time;Sender ID;Message Body", "22-11-2026 14:32:00"),
    ("Received At\tFrom\tText", "2026-11-22 14:32:00"),
])
def test_csv_exports_with_varying_headers_and_dates(con, formats, tmp_path, header, date):
    sep = header[len(header.split(",")[0].split(";")[0].split("\t")[0])]
    body = make.sms_refresh(make.PUNE, "Acme Tax Cloud", make.ist("2026-11-22", "14:32"))
    path = tmp_path / "sms.csv"
    path.write_text(f"{header}\n{date}{sep}VM-GSTIND{sep}\"{body}\"\n{date}{sep}AX-BANK{sep}hello\n")
    stats = load(con, path, formats)
    assert (stats.seen, stats.parsed, stats.skipped) == (2, 1, 1)


def test_csv_without_a_body_column_names_what_is_missing(con, formats, tmp_path):
    path = tmp_path / "sms.csv"
    path.write_text("when,who\n1,2\n")
    with pytest.raises(ConfigError, match="required column.*date.*body.*Columns found: 'when', 'who'"):
        load(con, path, formats)


@pytest.mark.parametrize("xml", [
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
    '<smses><sms address="VM-GSTIND" date="1" body="&lol2;"/></smses>',
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><smses><sms body="&xxe;"/></smses>',
])
def test_hostile_xml_is_refused(con, formats, tmp_path, xml):
    path = tmp_path / "sms.xml"
    path.write_text(xml)
    with pytest.raises(SourceError, match="refused"):
        load(con, path, formats)


@pytest.mark.parametrize("xml", [
    '<smses><sms address="VM-GSTIND" date="1" body="x"',
    "<?xml version='1.0' encoding='U-F-8' ?><smses/>",  # an encoding Python does not know (found by fuzzing)
])
def test_broken_xml_is_a_clear_error(con, formats, tmp_path, xml):
    path = tmp_path / "sms.xml"
    path.write_text(xml)
    with pytest.raises(SourceError, match="not readable as SMS Backup"):
        load(con, path, formats)


def test_streaming_keeps_memory_flat(con, formats, tmp_path):
    import tracemalloc
    path = tmp_path / "big.xml"
    body = make.sms_refresh(make.PUNE, "Acme Tax Cloud", make.ist("2026-11-22", "14:32"))
    with open(path, "w") as handle:
        handle.write("<smses>")
        for i in range(20000):
            handle.write(f'<sms address="AX-BANK" date="{1795331520000 + i}" body="{body} {i}"/>')
        handle.write("</smses>")
    tracemalloc.start()
    stats = load(con, path, formats)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert stats.seen == 20000 and peak < 20 * 1024 * 1024  # the file is ~4 MB of XML; no list of 20k records
