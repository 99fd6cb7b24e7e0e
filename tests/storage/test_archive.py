from datetime import datetime, timezone

from alertproc.storage.archive import Archive, sha256_hex

RAW = b"From: a@b\r\nSubject: x\r\n\r\nbody\r\n"
WHEN = datetime(2026, 11, 21, tzinfo=timezone.utc)


def test_store_names_files_by_hash_and_month(tmp_path):
    archive = Archive(tmp_path)
    sha = sha256_hex(RAW)
    relative = archive.store(RAW, sha, WHEN)
    assert relative == f"2026/11/{sha}.eml"
    assert archive.read(relative) == RAW and archive.verify(relative, sha)
    assert list(tmp_path.rglob(".*.tmp")) == []


def test_undated_and_absurd_dates_go_to_undated(tmp_path):
    archive = Archive(tmp_path)
    assert archive.relative_path("ab", None) == "undated/ab.eml"
    assert archive.relative_path("ab", datetime(1, 1, 1)) == "undated/ab.eml"


def test_torn_file_is_detected_and_rewritten(tmp_path):
    archive = Archive(tmp_path)
    sha = sha256_hex(RAW)
    relative = archive.store(RAW, sha, WHEN)
    archive.path(relative).write_bytes(RAW[:10])  # a crash mid-write
    assert not archive.verify(relative, sha)
    assert archive.store(RAW, sha, WHEN) == relative
    assert archive.verify(relative, sha)
