"""Issue #28 item 12, the smaller ones: each a clear error or the right verdict."""

from __future__ import annotations

import time

import pytest

from alertproc.config import imap_settings, notify_settings, smtp_settings
from alertproc.errors import ConfigError
from alertproc.senders import sender_check
from alertproc.sms import Sms, import_sms

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
