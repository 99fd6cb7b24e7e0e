"""Hostile and broken mail: every message archived and recorded, counts balance, exit 0."""

import base64
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from alertproc.storage import store
from alertproc.storage.archive import sha256_hex
from alertproc.cli import cli
from helpers import ROOT, make

CORPUS = ROOT / "tests" / "corpus"
GST_HEAD = (b"From: GSTN <donotreply@gst.gov.in>\r\nSubject: Authentication token refreshed for your GSTIN "
            b"27AAPFU0939F1ZV\r\nDate: Sat, 21 Nov 2026 14:32:06 +0530\r\n")


def nested(depth: int) -> bytes:
    head = b"From: a@example.in\r\nSubject: nested\r\nMIME-Version: 1.0\r\n"
    parts = [f"Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n".encode() for i in range(depth)]
    tail = b"Content-Type: text/plain\r\n\r\ndeep\r\n" + b"".join(f"--b{i}--\r\n".encode() for i in reversed(range(depth)))
    return head + b"".join(parts) + tail


def own_corpus() -> dict[str, bytes]:
    alert = make.refresh_text(make.PUNE, make.ACME, make.EGSP, make.ist("2026-11-21", "14:32"), "own").as_bytes()
    big = base64.encodebytes(b"\0" * (37 * 1024 * 1024))  # ~50 MB once base64-encoded
    attach = (GST_HEAD + b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"x\"\r\n\r\n--x\r\n"
              + alert.split(b"\n\n", 1)[1].replace(b"\n", b"\r\n") + b"\r\n--x\r\nContent-Type: application/octet-stream\r\n"
              b"Content-Disposition: attachment; filename=\"../../../../tmp/evil\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
    return {
        "zero-bytes": b"",
        "nul-bytes": GST_HEAD.replace(b"token", b"to\0ken") + b"\r\nbody\0with\0nuls\r\n",
        "huge-header": b"From: a@example.in\r\nX-Long: " + b"A" * 100_000 + b"\r\nSubject: long\r\n\r\nbody\r\n",
        "eight-bit-garbage": bytes(range(256)) * 40,
        "bogus-charset": GST_HEAD + b"Content-Type: text/plain; charset=\"x-no-such\"\r\n\r\n\xe9\xff\xfe GSTIN\r\n",
        "boundary-missing": b"From: a@example.in\r\nContent-Type: multipart/mixed; boundary=\"nope\"\r\n\r\nno parts here\r\n",
        "unterminated": GST_HEAD + b"Content-Type: multipart/alternative; boundary=\"q\"\r\n\r\n"
                                   b"--q\r\nContent-Type: text/plain\r\n\r\nhalf",
        "nested-200": nested(200),
        "attachment-50mb": attach + big + b"\r\n--x--\r\n",
        "traversal-name": attach + base64.encodebytes(b"evil") + b"\r\n--x--\r\n",
        "xss-sql-asp": make.refresh_text(make.PUNE, "<script>alert(1)</script>'; drop table events; --", make.EGSP,
                                         make.ist("2026-11-21", "15:32"), "xss").as_bytes(),
    }


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    target = tmp_path_factory.mktemp("corpus")
    for path in CORPUS.rglob("*.eml"):
        (target / f"{path.parent.name}-{path.name}").write_bytes(path.read_bytes())
    for name, raw in own_corpus().items():
        (target / f"own-{name}.eml").write_bytes(raw)
    return target


def test_every_message_is_archived_and_recorded(corpus_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    files = sorted(corpus_dir.glob("*.eml"))
    result = CliRunner().invoke(cli, ["import", "eml", str(corpus_dir), "--policy", str(ROOT / "rules" / "policy.yaml")])
    assert result.exit_code == 0, result.output
    con = store.connect("alertproc.duckdb", read_only=True)
    rows = con.execute("select sha256, parse_status, parse_error, archive_path from messages").fetchall()
    distinct = {sha256_hex(f.read_bytes()) for f in files}
    assert {r[0] for r in rows} == distinct  # counts in = counts out, by identity
    seen, new, known, duplicates = map(int, re.search(
        r"(\d+) seen, (\d+) new, (\d+) already imported, (\d+) duplicates", result.output).groups())
    assert seen == len(files) and new + duplicates == len(distinct) and known == len(files) - len(distinct)
    for sha, status, error, archive_path in rows:
        assert status in {"parsed", "unparsed", "ignored", "duplicate", "suspicious"}
        assert status == "parsed" or error, sha
        assert sha256_hex((tmp_path / "archive" / archive_path).read_bytes()) == sha
    # File names from mail are never paths: nothing but hash-named files was written.
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert all(p.name.endswith(".eml") and len(p.stem) == 64 for p in written if "archive" in p.parts)
    assert not Path("/tmp/evil").exists()
    statuses = dict(con.execute("select parse_status, count(*) from messages group by 1").fetchall())
    assert statuses.get("parsed", 0) >= 2 and statuses.get("unparsed", 0) >= 3
    # An alert with a 50 MB attachment is over max_mail_mb: archived whole (checked above), not read.
    huge = con.execute("select parse_status, parse_error from messages where source_ref = 'own-attachment-50mb.eml'").fetchone()
    assert huge[0] == "unparsed" and huge[1].startswith("too large: 50.0 MB, over max_mail_mb = 25"), huge
    xss = con.execute("select asp_name from events where asp_name like '%script%'").fetchone()
    assert xss == ("<script>alert(1)</script>'; drop table events; --",)  # stored as data, nothing dropped
    con.close()
