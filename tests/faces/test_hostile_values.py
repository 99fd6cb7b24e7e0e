"""Values a careless user or an attacker can give: a punycode look-alike sender, numbers out of range, SMS
sender patterns, a full disk, policy values of the wrong type, a database from a newer alertproc, and SQL
through the Python API (issue #28 item 12): each a clear error or the right verdict."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from alertproc.config import imap_settings, notify_settings, smtp_settings
from alertproc.errors import ConfigError
from alertproc.reading.senders import sender_check
from alertproc.portal.sms import Sms, import_sms
from helpers import SAMPLE

SENDERS = frozenset({"donotreply@gst.gov.in"})


@pytest.mark.parametrize("domain", ["xn--gst-0na.gov.in", "xn--gt-dsa.gov.in", "xn--gs-3ja.gov.in"])
def test_a_punycode_look_alike_is_a_lookalike(domain):
    assert sender_check(f"donotreply@{domain}", [], SENDERS).verdict == "lookalike"


@pytest.mark.parametrize("key,value", [("retries", -1), ("timeout", -5), ("timeout", 0), ("poll_seconds", 0),
                                       ("idle_seconds", 86400)])
def test_out_of_range_numbers_are_a_config_error_naming_the_key(key, value):
    with pytest.raises(ConfigError, match=f"'{key}' must be between"):
        imap_settings({"host": "h", "username": "u", "password_env": "X", key: value}, "alertproc.toml")


def test_smtp_and_notify_numbers_are_checked_too():
    with pytest.raises(ConfigError, match="'timeout' must be between"):
        smtp_settings({"host": "h", "from_addr": "a@b.in", "timeout": 0}, "alertproc.toml")
    with pytest.raises(ConfigError, match="'retries' must be between"):
        notify_settings({"command": "true", "retries": -1}, "alertproc.toml")


def test_sms_sender_patterns_run_in_linear_time(con, formats):
    """A plausible pattern and a 40-character sender id hung `import sms` past 120 s on Python's re."""
    from datetime import datetime, timezone
    records = iter([Sms("A" * 40 + "!", datetime(2026, 11, 21, tzinfo=timezone.utc), "hello", "x")])
    started = time.perf_counter()
    stats = import_sms(con, records, formats, r"^(A+)+$")
    assert time.perf_counter() - started < 5 and stats.skipped == 1


@pytest.fixture
def small_disk(tmp_path):
    """A 1.6 MB tmpfs (root only: CI runs as root; elsewhere the test says why it cannot run)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1600k", "tmpfs", str(mount)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {made.stderr.strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_says_so_and_the_next_run_takes_it_up(small_disk):
    """A failed commit ended DuckDB's transaction; the rollback after it said "cannot rollback"."""
    args = [sys.executable, "-m", "alertproc", "import", "--db", str(small_disk / "a.duckdb"),
            "--archive", str(small_disk / "archive"), "eml", str(SAMPLE / "mail")]
    full = subprocess.run(args, cwd=small_disk, capture_output=True, text=True)
    assert full.returncode == 1
    assert "No space left on device" in full.stderr and "rollback" not in full.stderr, full.stderr
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    again = subprocess.run(args, cwd=small_disk, capture_output=True, text=True)
    assert again.returncode == 0 and "386 seen" in again.stdout, again.stdout + again.stderr


G = "27AAPFU0939F1ZV"


@pytest.mark.parametrize("text,message", [
    (f"gstins:\n  - gstin: {G}\n    label: [a, b]\n", "policy.yaml:3: 'label' must be a single value, not a list"),
    ("approved_asps:\n  - asp: A\n    gsp: {name: X}\n", "policy.yaml:3: 'gsp' must be a single value, not a mapping"),
    ("approved_asps:\n  - asp: [A, B]\n", "policy.yaml:2: 'asp' must be a single value, not a list"),
    ("approved_asps:\n  - asp: A\n    aliases: [[B]]\n", "policy.yaml:3: 'aliases' must be a list of names"),
    (f"revocations:\n  - gstin: [{G}]\n    asp: A\n    at: 2026-11-03 10:15\n",
     "policy.yaml:2: 'gstin' must be a single value, not a list"),
    ("revocations:\n  - gstin: 27AAPFU0939F1ZX\n    asp: A\n    at: 2026-11-03 10:15\n",
     "policy.yaml:2: '27AAPFU0939F1ZX' is not a valid GSTIN"),
    (f"revocations:\n  - gstin: {G}\n    asp: A\n    at: 0001-01-01 00:00\n", "policy.yaml:4: 'at' must be a date-time"),
])
def test_policy_values_of_the_wrong_type_are_refused_with_their_line(tmp_path, text, message):
    from alertproc.audit.policy import load_policy
    (tmp_path / "policy.yaml").write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_policy(tmp_path / "policy.yaml")
    assert message in str(raised.value), str(raised.value)


def test_a_database_from_a_newer_alertproc_is_refused(tmp_path):
    from alertproc.storage import store
    from alertproc.errors import DatabaseError
    con = store.connect(tmp_path / "a.duckdb")
    con.execute("insert into schema_version values (?, now())", [store.SCHEMA_VERSION + 1])
    con.close()
    for read_only in (False, True):
        with pytest.raises(DatabaseError, match="newer alertproc"):
            store.connect(tmp_path / "a.duckdb", read_only=read_only)


def test_the_python_api_sql_reads_the_database_and_nothing_else(tmp_path):
    import alertproc
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    with alertproc.open(tmp_path / "a.duckdb", archive=str(tmp_path / "archive")) as app:
        app.import_mail(SAMPLE / "mail", "eml")
        assert app.sql("select count(*) from messages").fetchall()[0][0] == 386
        for query in (f"select * from read_text('{secret}')", f"copy (select 1) to '{tmp_path / 'x.csv'}'",
                      "delete from events", f"attach '{tmp_path / 'b.duckdb'}'", "set enable_external_access = true"):
            with pytest.raises(Exception) as raised:
                app.sql(query).fetchall()
            assert "TOPSECRET" not in str(raised.value)
        assert not (tmp_path / "x.csv").exists() and not (tmp_path / "b.duckdb").exists()
        assert app.sql("select count(*) from events").fetchall()[0][0] > 0
