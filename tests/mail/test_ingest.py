"""Archive-then-record, dedupe by sha256 and Message-ID, batches, and the counts balance."""

import os
from datetime import timedelta
from pathlib import Path

import pytest

from alertproc.storage.archive import Archive, sha256_hex
from alertproc.mail.ingest import ingest
from alertproc.reading.parse import MailReader
from alertproc.mail.mailbox import RawMail, batches_of
from alertproc.mail.sources import LocalSource, detect_kind
from helpers import SAMPLE, SENDERS, make


def run_ingest(con, tmp_path, mails, formats, batch_size=1000):
    return ingest(con, Archive(tmp_path / "archive"), mails, MailReader(formats, SENDERS), batch_size=batch_size)


def sample_mails():
    return list(LocalSource(SAMPLE / "mail", "eml"))


def test_every_message_is_archived_and_recorded_once(con, tmp_path, formats):
    mails = sample_mails()
    stats = run_ingest(con, tmp_path, mails, formats)
    assert stats.seen == len(mails) == stats.new + stats.known + stats.duplicates
    assert stats.new + stats.duplicates == con.execute("select count(*) from messages").fetchone()[0]
    paths = [Path(tmp_path / "archive" / p) for (p,) in con.execute("select archive_path from messages").fetchall()]
    assert all(p.is_file() for p in paths) and len(set(paths)) == len(paths)
    assert stats.parsed == con.execute("select count(*) from messages where parse_status = 'parsed'").fetchone()[0]


def test_reimport_adds_nothing(con, tmp_path, formats):
    first = run_ingest(con, tmp_path, sample_mails(), formats)
    tables = con.execute("select (select count(*) from messages), (select count(*) from events)").fetchone()
    again = run_ingest(con, tmp_path, sample_mails(), formats)
    assert again.new == 0 and again.events_new == 0 and again.known == first.seen
    assert con.execute("select (select count(*) from messages), (select count(*) from events)").fetchone() == tables


def test_batch_size_does_not_change_the_result(con, tmp_path, formats):
    from alertproc.storage import store
    other = store.connect(tmp_path / "b.duckdb")
    run_ingest(con, tmp_path, sample_mails(), formats, batch_size=1000)
    run_ingest(other, tmp_path, sample_mails(), formats, batch_size=7)
    query = "select event_id, kind, gstin, occurred_at from events order by event_id"
    assert con.execute(query).fetchall() == other.execute(query).fetchall()
    query = "select sha256, parse_status, archive_path from messages order by sha256"
    assert con.execute(query).fetchall() == other.execute(query).fetchall()


def test_same_message_id_other_bytes_is_a_recorded_duplicate(con, tmp_path, formats):
    raw = make.refresh_text(make.PUNE, make.ACME, make.EGSP, make.ist("2026-11-21", "10:00"), "dup").as_bytes()
    mails = [RawMail(raw, "eml", "a.eml"), RawMail(b"X-Hop: 2\r\n" + raw, "eml", "b.eml")]
    stats = run_ingest(con, tmp_path, mails, formats)
    assert (stats.new, stats.duplicates, stats.events_new) == (1, 1, 1)
    statuses = con.execute("select parse_status, duplicate_of is not null from messages order by 1").fetchall()
    assert statuses == [("duplicate", True), ("parsed", False)]


SPOOF_AUTH = "mx.example.in; spf=fail smtp.mailfrom=gst.gov.in; dmarc=fail header.from=gst.gov.in"


@pytest.mark.parametrize("first", ["lookalike-spoof", "failing-spoof", "junk"])
@pytest.mark.parametrize("batches", [1, 2], ids=["one-batch", "two-batches"])
def test_a_spoof_or_junk_with_a_genuine_alerts_message_id_never_shadows_it(con, tmp_path, formats, first, batches):
    """Duplicates by Message-ID only among genuine mail of a configured sender: whatever came
    first with the genuine alert's Message-ID, the alert gives its event and the spoof is flagged."""
    when = make.ist("2026-11-21", "10:00")
    genuine = make.refresh_text(make.PUNE, make.ACME, make.EGSP, when, "shared").as_bytes()
    other = {"lookalike-spoof": make.refresh_text(make.PUNE, "Evil Tax", make.EGSP, when, "shared",
                                                  sender="GSTN <donotreply@gst-gov.in>"),
             "failing-spoof": make.refresh_text(make.PUNE, "Evil Tax", make.EGSP, when, "shared", auth=SPOOF_AUTH),
             "junk": make.other("Promo <deals@shop.example>", "Big sale", when, "x", "Buy now")}[first]
    if first == "junk":
        other.replace_header("Message-ID", "<shared@gst.gov.in>")
    mails = [RawMail(other.as_bytes(), "eml", "first.eml"), RawMail(genuine, "eml", "second.eml")]
    stats = run_ingest(con, tmp_path, mails, formats, batch_size=2 // batches)
    rows = dict(con.execute("select source_ref, parse_status from messages").fetchall())
    assert rows["second.eml"] == "parsed" and stats.duplicates == 0
    assert rows["first.eml"] == ("ignored" if first == "junk" else "suspicious")
    kinds = sorted(k for (k,) in con.execute("select kind from events").fetchall())
    assert kinds == (["token_refreshed"] if first == "junk" else ["suspicious_alert", "token_refreshed"])
    # And after it: a spoof reusing the genuine alert's Message-ID is flagged, not a duplicate.
    late = make.refresh_text(make.PUNE, "Late Evil", make.EGSP, when, "shared", auth=SPOOF_AUTH).as_bytes()
    run_ingest(con, tmp_path, [RawMail(late, "eml", "late.eml")], formats)
    assert con.execute("select parse_status from messages where source_ref = 'late.eml'").fetchone() == ("suspicious",)


def test_same_bytes_twice_in_one_batch_count_once(con, tmp_path, formats):
    raw = make.otp(make.PUNE, make.ist("2026-11-21", "10:00"), "o1", "123456").as_bytes()
    stats = run_ingest(con, tmp_path, [RawMail(raw, "eml", "a"), RawMail(raw, "eml", "b")], formats)
    assert (stats.seen, stats.new, stats.known) == (2, 1, 1)


def test_same_bytes_in_consecutive_worker_batches_are_stored_once(con, tmp_path, formats, monkeypatch):
    """Batch 2 is read by the workers while batch 1 is recorded: a mail in both is recorded once,
    by batch 1, with an intact archive copy, and counted as known in batch 2."""
    from alertproc.mail import ingest as ingest_module
    if (os.cpu_count() or 1) < 2:
        pytest.skip("reading ahead needs the worker pool, which needs 2+ cores")
    handed_out = []  # the sha256 of every mail given to be parsed and archived
    parse_later = ingest_module.parse_later
    monkeypatch.setattr(ingest_module, "parse_later",
                        lambda job, tasks: handed_out.extend(t[1] for t in tasks) or parse_later(job, tasks))
    raws = [make.otp(make.PUNE, make.ist("2026-11-21", "10:00") + timedelta(minutes=i), f"w{i}", "123456").as_bytes()
            for i in range(1999)]
    mails = [RawMail(raw, "eml", str(i)) for i, raw in enumerate(raws[:1000] + [raws[5]] + raws[1000:])]
    stats = run_ingest(con, tmp_path, mails, formats)
    assert (stats.seen, stats.new, stats.known) == (2000, 1999, 1)
    assert con.execute("select count(*), count(distinct archive_path) from messages").fetchone() == (1999, 1999)
    assert all(Archive(tmp_path / "archive").verify(path, sha)
               for sha, path in con.execute("select sha256, archive_path from messages").fetchall())
    assert sorted(handed_out) == sorted(sha256_hex(raw) for raw in raws)  # each once: the repeat was not


def test_stored_mail_is_neither_parsed_nor_archived_again(con, tmp_path, formats, monkeypatch):
    """Importing the same mail again (an mbox twice, a folder after a UIDVALIDITY change) only looks it up."""
    from alertproc.mail import ingest as ingest_module
    mails = sample_mails()
    first = run_ingest(con, tmp_path, mails, formats)
    monkeypatch.setattr(ingest_module, "_pool", None)  # anything read is read here, where the trap is set
    monkeypatch.setattr(ingest_module.Reading, "__call__", lambda self, task: pytest.fail("read a stored mail again"))
    again = run_ingest(con, tmp_path, mails[::-1], formats)
    assert (again.seen, again.known, again.new) == (first.seen, first.seen, 0)


def test_a_killed_parser_worker_costs_time_not_mail(con, tmp_path, formats, monkeypatch, request):
    """The pool breaks mid-import: that batch and the rest are read in this process instead."""
    import signal

    from alertproc.mail import ingest as ingest_module
    if (os.cpu_count() or 1) < 2:
        pytest.skip("the worker pool needs 2+ cores")
    monkeypatch.setattr(ingest_module, "_pool", None)  # a pool of this test's own
    monkeypatch.setattr(ingest_module, "_pool_failed", False)
    assert ingest_module.start_workers()
    pool = ingest_module._pool
    request.addfinalizer(pool.shutdown)
    raws = [make.otp(make.PUNE, make.ist("2026-11-21", "10:00") + timedelta(minutes=i), f"k{i}", "123456").as_bytes()
            for i in range(3000)]
    batches = iter(batches_of([RawMail(raw, "eml", str(i)) for i, raw in enumerate(raws)], 1000, lambda m: len(m.raw)))

    def killing_after_the_first():
        yield next(batches)
        os.kill(next(iter(pool._processes)), signal.SIGKILL)
        yield from batches

    archive = Archive(tmp_path / "archive")
    recorded = ingest_module.ingest_batches(con, archive, killing_after_the_first(), MailReader(formats, SENDERS), None)
    stats = [stats for _, stats, _ in recorded]
    assert [(s.seen, s.new, s.parsed) for s in stats] == [(1000, 1000, 1000)] * 3
    assert ingest_module._pool_failed and ingest_module._pool is None
    assert all(archive.verify(path, sha)
               for sha, path in con.execute("select sha256, archive_path from messages").fetchall())


@pytest.mark.parametrize("kind", ["maildir", "mbox"])
def test_maildir_and_mbox_sources_give_the_same_messages(tmp_path, kind):
    import mailbox
    mails = sample_mails()[:20]
    if kind == "maildir":
        box = mailbox.Maildir(tmp_path / "md", create=True)
        box.add_folder("GST")
    else:
        box = mailbox.mbox(tmp_path / "box.mbox", create=True)
    for mail in mails:
        box.add(mail.raw)
    box.close()
    path = tmp_path / ("md" if kind == "maildir" else "box.mbox")
    assert detect_kind(path) == kind
    got = list(LocalSource(path, kind))
    assert len(got) == 20
    assert {m.raw.replace(b"\r\n", b"\n").strip() for m in got} == {m.raw.replace(b"\r\n", b"\n").strip() for m in mails}


def test_a_relative_archive_is_written_where_the_caller_is_now(con, tmp_path, formats, monkeypatch):
    """The worker pool outlives a change of working folder (a notebook's os.chdir, a test):
    a relative archive root must still mean the caller's folder, or the files land elsewhere
    while the database records them."""
    from alertproc.mail import ingest as ingest_module
    if not ingest_module.start_workers():
        pytest.skip("the worker pool needs 2+ cores")
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    ingest(con, Archive(Path("archive")), sample_mails(), MailReader(formats, SENDERS))
    rows = con.execute("select sha256, archive_path from messages").fetchall()
    assert rows and all(Archive(here / "archive").verify(path, sha) for sha, path in rows)
