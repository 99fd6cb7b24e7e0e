"""The Mailbox seam: the IMAP and local sources offer the same operations, and a Maildir is
filed through the same sync path as an IMAP folder."""

import mailbox
import shutil

from click.testing import CliRunner

from alertproc.cli import cli
from alertproc.config import ImapSettings
from alertproc.mail.imap import ImapMailbox
from alertproc.mail.mailbox import Mailbox
from alertproc.mail.sources import LocalSource
from helpers import POLICY_OPTION, SAMPLE

ALERTS = ["0001-consent.eml", "0002-access-changed.eml"]
SPOOF = "0348-spoofed-lookalike.eml"


def test_both_sources_are_mailboxes(tmp_path):
    local = LocalSource(SAMPLE / "mail", "eml")
    remote = ImapMailbox(ImapSettings(host="127.0.0.1", tls="none", username="u"), {})
    assert isinstance(local, Mailbox) and isinstance(remote, Mailbox)
    assert local.filing_refused() and LocalSource(make_maildir(tmp_path), "maildir").filing_refused() is None


def make_maildir(tmp_path):
    """A Maildir with two genuine alerts, a look-alike spoof and a personal mail."""
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    for name in ALERTS + [SPOOF]:
        box.add((SAMPLE / "mail" / name).read_bytes())
    box.add(b"From: friend@example.com\nSubject: lunch?\nMessage-ID: <x@example.com>\n\nAt one?\n")
    box.close()
    return tmp_path / "Maildir"


def folder_count(root, name=""):
    return len(mailbox.Maildir(root / name if name else root, factory=None, create=False))


def test_a_maildir_is_filed_like_an_imap_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = make_maildir(tmp_path)
    runner = CliRunner()
    planned = runner.invoke(cli, ["import", "maildir", str(root), "--file-away", "--dry-run", *POLICY_OPTION])
    assert planned.exit_code == 0, planned.output
    assert "would move 2 to the filed folder, 1 to the suspicious folder; 1 left" in planned.output
    assert folder_count(root) == 4 and not (tmp_path / "alertproc.duckdb").exists()

    done = runner.invoke(cli, ["import", "maildir", str(root), "--file-away", *POLICY_OPTION])
    assert done.exit_code == 0, done.output
    assert "moved 2 to the filed folder, 1 to the suspicious folder; 1 left" in done.output
    assert folder_count(root) == 1  # the personal mail stays
    assert folder_count(root, ".GST.Token alerts") == 2 and folder_count(root, ".GST.Suspicious") == 1
    filed = mailbox.Maildir(root / ".GST.Token alerts", factory=None, create=False)
    assert {filed.get_bytes(key) for key in filed.keys()} == {(SAMPLE / "mail" / n).read_bytes() for n in ALERTS}

    again = runner.invoke(cli, ["import", "maildir", str(root), "--file-away", *POLICY_OPTION])
    assert "1 candidates" in again.output and "moved 0 to the filed folder" in again.output  # filed folders are not read
    assert folder_count(root, ".GST.Token alerts") == 2


def test_only_a_maildir_can_be_filed(tmp_path):
    shutil.copytree(SAMPLE / "mail", tmp_path / "eml")
    result = CliRunner().invoke(cli, ["import", "eml", str(tmp_path / "eml"), "--file-away"])
    assert result.exit_code == 2 and "for `import maildir` only" in result.output
    assert len(list((tmp_path / "eml").iterdir())) == len(list((SAMPLE / "mail").iterdir()))
