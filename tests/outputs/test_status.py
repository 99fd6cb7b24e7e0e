"""`alertproc status` while a run writes the archive (found by bench/web.py: the web overview
answered 500 when a temporary archive file was renamed between listing and measuring it)."""

from __future__ import annotations

import os

from alertproc.outputs import status


def test_the_archive_size_skips_temporary_files_and_files_that_vanish(tmp_path, monkeypatch):
    month = tmp_path / "2026" / "11"
    month.mkdir(parents=True)
    (month / "a.eml").write_bytes(b"x" * 10)
    (month / ".b.tmp").write_bytes(b"y" * 1000)  # a write in progress
    gone = month / "c.eml"
    gone.write_bytes(b"z" * 100)
    listed = list(os.scandir(month))
    gone.unlink()  # renamed away between the listing and the measuring
    real = os.scandir
    monkeypatch.setattr(status.os, "scandir", lambda path: iter(listed) if str(path) == str(month) else real(path))
    assert status._archive_size(tmp_path) == (1, 10)
