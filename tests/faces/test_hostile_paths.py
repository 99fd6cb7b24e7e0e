"""Local paths an attacker or a careless user can plant (issue #28 item 6)."""

from __future__ import annotations

import os

import pytest

from alertproc.storage import store
from alertproc.portal.accesslog import import_access_log
from alertproc.errors import ConfigError
from alertproc.storage.lock import exclusive
from alertproc.mail.sources import LocalSource
from helpers import SAMPLE


@pytest.mark.parametrize("linked", ["cur", "new", ".Evil"])
def test_a_maildir_folder_that_is_a_link_out_of_it_is_not_read(tmp_path, linked):
    """`cur` linked to /etc copied /etc/shadow into the archive: a folder link out of the Maildir
    is refused like a file link."""
    outside = tmp_path / "outside"
    (outside / "cur").mkdir(parents=True)
    (outside / "new").mkdir()
    secret = b"root:$6$secret-hash:19000:0:99999:7:::\n"
    for sub in ("cur", "new"):
        (outside / sub / "shadow").write_bytes(secret)
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / ("new" if linked == "cur" else "cur") / "1.mail").write_bytes(
        (SAMPLE / "mail" / "0005-refresh.eml").read_bytes())
    if linked == ".Evil":
        (maildir / ".Evil").symlink_to(outside)
    else:
        os.rmdir(maildir / linked)
        (maildir / linked).symlink_to(outside / linked)
    read = [mail.raw for mail in LocalSource(maildir, "maildir")]
    assert secret not in read
    assert len(read) == 1  # the Maildir's own mail is still read


def test_the_lock_file_is_never_written_through_a_link(tmp_path):
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me\n")
    (tmp_path / "a.duckdb.lock").symlink_to(victim)
    with pytest.raises(ConfigError, match="symbolic link"):
        with exclusive(str(tmp_path / "a.duckdb")):
            pass
    assert victim.read_text() == "keep me\n"


def test_a_file_argument_is_taken_literally_never_as_a_pattern(tmp_path):
    """`import access-log 'log[1].csv'` imported log1.csv: DuckDB globs the paths it reads."""
    log = (SAMPLE / "access-log.csv").read_text()
    (tmp_path / "log[1].csv").write_text(log)
    (tmp_path / "log1.csv").write_text(log.splitlines()[0] + "\n")  # the header only: no rows
    con = store.connect(str(tmp_path / "a.duckdb"))
    try:
        imported = import_access_log(con, tmp_path / "log[1].csv")
    finally:
        con.close()
    assert imported.events_new > 0
