"""`alertproc evidence verify` against forged packs (issue #28 item 7): what `unzip` would extract
must be exactly what was verified."""

from __future__ import annotations

import hashlib
import json
import warnings
import zipfile

import pytest

from alertproc.outputs.evidence import verify


def pack(path, entries: list[tuple[str, bytes]], listed: dict[str, bytes]) -> None:
    """A pack whose manifest lists ``listed`` and whose zip holds ``entries`` in that order."""
    files = {name: hashlib.sha256(data).hexdigest() for name, data in listed.items()}
    sums = "".join(f"{digest}  {name}\n" for name, digest in sorted(files.items()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate names we write on purpose
        with zipfile.ZipFile(path, "w") as out:
            for name, data in entries:
                out.writestr(name, data)
            out.writestr("manifest.json", json.dumps({"files": files}))
            out.writestr("SHA256SUMS", sums)


def test_an_honest_pack_is_intact(tmp_path):
    pack(tmp_path / "p.zip", [("findings.csv", b"a,b\n")], {"findings.csv": b"a,b\n"})
    assert verify(tmp_path / "p.zip").problems == []


def test_a_duplicate_entry_name_is_refused(tmp_path):
    """unzip extracts the first copy (forged), zipfile reads the last (genuine): never "intact"."""
    pack(tmp_path / "p.zip", [("findings.csv", b"forged\n"), ("findings.csv", b"a,b\n")], {"findings.csv": b"a,b\n"})
    problems = verify(tmp_path / "p.zip").problems
    assert any("more than once" in p for p in problems), problems


@pytest.mark.parametrize("name", ["/etc/cron.d/x", "../x.csv", "mail/../../x", "C:\\x", "mail\\..\\x"])
def test_absolute_or_escaping_names_are_refused(tmp_path, name):
    pack(tmp_path / "p.zip", [(name, b"x")], {name: b"x"})
    problems = verify(tmp_path / "p.zip").problems
    assert any("not a plain relative name" in p for p in problems), problems


def test_a_duplicate_manifest_is_refused(tmp_path):
    pack(tmp_path / "p.zip", [("manifest.json", b'{"files": {}}')], {"findings.csv": b""})
    assert any("more than once" in p for p in verify(tmp_path / "p.zip").problems)
