"""Every shipped e-mail format, every transfer encoding, forwards, and mail that is not an alert."""

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from alertproc.reading.parse import MailReader, parse_mail
from alertproc.reading.text import html_to_text
from helpers import SENDERS, make

IST = make.IST
WHEN = datetime(2026, 11, 21, 14, 32, 5, tzinfo=IST)
UTC_WHEN = WHEN.astimezone(timezone.utc)


def parse(msg, formats):
    raw = msg if isinstance(msg, bytes) else msg.as_bytes()
    return parse_mail(raw, formats, SENDERS)


@pytest.mark.parametrize("cte", ["7bit", "quoted-printable", "base64"])
@pytest.mark.parametrize("charset", ["utf-8", "iso-8859-1"])
@pytest.mark.parametrize("alternative", [False, True])
def test_e1_text_refresh_in_any_encoding(formats, cte, charset, alternative):
    result = parse(make.refresh_text(make.PUNE, make.ACME, make.EGSP, WHEN, "m1", cte=cte, charset=charset,
                                     alternative=alternative), formats)
    assert result.message["parse_status"] == "parsed"
    assert result.message["format_id"] == "email_token_refreshed_text"
    (event,) = result.events
    assert event["kind"] == "token_refreshed"
    assert (event["gstin"], event["asp_name"], event["gsp_name"]) == (make.PUNE, make.ACME, make.EGSP)
    assert event["asp_key"] == "ACMETAXCLOUD" and event["gstin_valid"]
    assert event["occurred_at"] == UTC_WHEN
    assert event["valid_until"] == UTC_WHEN + timedelta(hours=6)


def test_e2_html_only_table_refresh(formats):
    result = parse(make.refresh_table(make.BLR, make.LEDGER, make.SUVIDHA, WHEN, "m2"), formats)
    assert result.message["format_id"] == "email_token_refreshed_table"
    (event,) = result.events
    assert (event["gstin"], event["asp_name"], event["gsp_name"]) == (make.BLR, make.LEDGER, make.SUVIDHA)
    assert event["occurred_at"] == UTC_WHEN and event["valid_until"] == UTC_WHEN + timedelta(hours=6)


def test_e3_consent_with_validity(formats):
    (event,) = parse(make.consent(make.PUNE, make.ACME, make.EGSP, WHEN, 30, "m3"), formats).events
    assert event["kind"] == "consent_granted"
    assert event["occurred_at"] == UTC_WHEN and event["valid_until"] == UTC_WHEN + timedelta(days=30)


def test_e4_revocation_takes_gstin_from_subject(formats):
    (event,) = parse(make.revoked(make.BLR, make.LEDGER, make.SUVIDHA, WHEN, "m4"), formats).events
    assert event["kind"] == "access_revoked"
    assert (event["gstin"], event["asp_name"], event["gsp_name"]) == (make.BLR, make.LEDGER, make.SUVIDHA)
    assert event["occurred_at"] == UTC_WHEN.replace(second=0)  # "21 Nov 2026 14:32" has minutes only


@pytest.mark.parametrize("days,status", [(30, "enabled"), (None, "disabled")])
def test_e5_api_access_changed(formats, days, status):
    (event,) = parse(make.access_changed(make.DEL, WHEN, "m5", days), formats).events
    assert event["kind"] == "api_access_changed" and event["status"] == status
    assert event["valid_until"] == (UTC_WHEN + timedelta(days=30) if days else None)


def test_e6_otp_is_dated_by_the_mail_and_the_code_is_never_kept(formats):
    result = parse(make.otp(make.PUNE, WHEN, "m6", "493817"), formats)
    (event,) = result.events
    assert event["kind"] == "otp_sent" and event["gstin"] == make.PUNE
    assert event["occurred_at"] == UTC_WHEN + timedelta(seconds=7)  # the Date header
    assert event["valid_until"] == UTC_WHEN + timedelta(minutes=10)
    assert "493817" not in repr(result.message) + repr(result.events)


def test_inline_forward_is_read_from_the_quoted_alert_and_feeds_no_rule(formats):
    """A colleague's forward is read to say what it claims; without a verified GST signature or a
    trusted forwarder (issue #27) it is recorded as ``forwarded``, with no event."""
    raw = next(raw for slug, raw in make.scenario() if slug == "forwarded-inline")
    result = parse(raw, formats)
    assert result.message["forwarded"] and result.message["parse_status"] == "forwarded"
    assert result.events == [] and f"token_refreshed for {make.CHN}" in result.message["parse_error"]


def test_forward_as_attachment_is_read_from_the_attached_alert(formats):
    raw = next(raw for slug, raw in make.scenario() if slug == "forwarded-attachment")
    result = parse(raw, formats)
    assert result.message["forwarded"] and make.QUICK in result.message["parse_error"]
    assert result.message["from_addr"] == "anita@delhi.example.in" and result.events == []


@pytest.mark.parametrize("sender,subject", [
    (make.GST, "Reminder: GSTR-3B for October 2026 is due on 20-11-2026"),
    (make.GST, "Intimation of notice in FORM GST DRC-01A"),
    ("Priya <priya@example.in>", "Authentication token refreshed for your GSTIN 27AAPFU0939F1ZV"),
])
def test_other_mail_is_ignored_never_an_event(formats, sender, subject):
    result = parse(make.other(sender, subject, WHEN, "m7", "The authentication token for your GSTIN ..."), formats)
    assert result.message["parse_status"] == "ignored" and result.events == []
    assert result.message["parse_error"]


def test_alert_with_unknown_wording_is_unparsed_with_reason(formats):
    raw = next(raw for slug, raw in make.scenario() if slug == "unparsed-new-template")
    result = parse(raw, formats)
    assert result.message["parse_status"] == "unparsed" and result.message["kind"] == "token_refreshed"
    assert "email_token_refreshed_text" in result.message["parse_error"]
    assert result.events == []


@pytest.mark.parametrize("raw", [
    make.raw_truncated(),
    b"\xff\xfe\x00garbage without headers\r\n\x00\x00\r\n",
    b"",
    b"From: donotreply@gst.gov.in\r\nSubject: Authentication token refreshed for your GSTIN\r\n"
    b"Content-Type: text/plain; charset=x-no-such-charset\r\n\r\n\xe9\xff",
    b"From: donotreply@gst.gov.in\r\nSubject: =?bogus?Q?x?=\r\nContent-Type: multipart/mixed; boundary=\r\n\r\n--\r\n",
])
def test_broken_mail_gives_a_status_not_an_exception(formats, raw):
    result = parse(raw, formats)
    assert result.message["parse_status"] in {"ignored", "unparsed"}
    assert result.message["parse_error"]


def test_date_that_matches_no_format_is_unparsed(formats):
    msg = make.refresh_text(make.PUNE, make.ACME, make.EGSP, WHEN, "m8")
    body = msg.get_content().replace("21-11-2026 14:32:05\nby", "31-02-2026 14:32:05\nby")
    msg.set_content(body)
    result = parse(msg, formats)
    assert result.message["parse_status"] == "unparsed"
    assert "occurred_at '31-02-2026 14:32:05'" in result.message["parse_error"]


def test_html_tables_become_cell_lines():
    text = html_to_text("<p>Hi</p><table><tr><th>GSTIN</th><td> 27AAPFU0939F1ZV </td></tr>"
                        "<tr><td>ASP <b>Name</b></td><td>Acme</td></tr></table><script>x()</script>")
    assert text.splitlines() == ["Hi", "GSTIN | 27AAPFU0939F1ZV", "ASP Name | Acme"]


@pytest.mark.parametrize("subject", ["Fwd: RE: Authentication token", "FW:Authentication token", "Authentication token"])
def test_reply_prefixes_are_dropped(formats, subject):
    assert MailReader(formats, SENDERS).clean_subject(subject) == "Authentication token"


@pytest.mark.parametrize("slug,verdict", [("spoofed-dmarc-fail", "auth_fail"), ("spoofed-lookalike", "lookalike")])
def test_spoof_suspects_become_only_suspicious_alert_events(formats, slug, verdict):
    raw = next(raw for s, raw in make.scenario() if s == slug)
    result = parse(raw, formats)
    assert result.message["parse_status"] == "suspicious" and result.message["sender_check"] == verdict
    assert result.message["kind"] == "token_refreshed"
    (event,) = result.events
    assert (event["kind"], event["status"]) == ("suspicious_alert", verdict)
    assert event["gstin"] in (make.BLR, make.PUNE) and event["asp_name"]


def test_genuine_mail_without_auth_results_passes_unless_required(formats):
    raw = make.refresh_text(make.PUNE, make.ACME, make.EGSP, WHEN, "m9", auth=None).as_bytes()
    assert parse_mail(raw, formats, SENDERS).message["sender_check"] == "genuine"
    strict = parse_mail(raw, formats, SENDERS, require_auth_results=True).message
    assert (strict["sender_check"], strict["parse_status"]) == ("auth_missing", "suspicious")


@pytest.mark.parametrize("subject", [
    f"API access token generated for your GSTIN {make.PUNE}",
    "OTP for filing GSTR-1 for October 2026",
    f"Consent withdrawn for your GSTIN {make.PUNE}",
    "[EXTERNAL] AW: Revocation of API access",
])
def test_gst_mail_about_api_access_in_an_unknown_wording_is_unparsed_not_ignored(formats, subject):
    result = parse(make.other(make.GST, subject, WHEN, "m10", "Something about your API access.\n"), formats)
    message = result.message
    assert (message["parse_status"], message["kind"], result.events) == ("unparsed", None, [])
    assert "matches no format" in message["parse_error"] and "alertproc explain" in message["parse_error"]


def test_subject_prefixes_are_a_setting(formats):
    raw = make.refresh_text(make.PUNE, make.ACME, make.EGSP, WHEN, "m11")
    raw.replace_header("Subject", "[EXTERNAL] " + raw["Subject"])
    assert MailReader(formats, SENDERS).parse(raw.as_bytes()).message["parse_status"] == "parsed"
    bare = MailReader(formats, SENDERS, subject_prefixes=()).parse(raw.as_bytes()).message
    assert bare["parse_status"] == "unparsed" and bare["kind"] is None  # alert-like, but no format's subject


def test_an_offline_dns_is_asked_once_per_key(monkeypatch):
    import dns.exception
    import dns.resolver

    from alertproc.reading import senders
    calls = []

    def timeout(*args, **kwargs):
        calls.append(args)
        raise dns.exception.Timeout()
    monkeypatch.setattr(dns.resolver, "resolve", timeout)
    monkeypatch.setattr(senders, "_DNS_ANSWERS", {})
    for _ in range(3):
        with pytest.raises(senders.DnsUnavailable):
            senders._system_dns(b"gstn._domainkey.gst.gov.in.")
    assert len(calls) == 1


def test_a_subject_prefix_re2_cannot_run_is_a_config_error_at_once(formats):
    from alertproc.errors import ConfigError
    with pytest.raises(ConfigError, match="subject_prefixes: not a regular expression RE2 can run"):
        MailReader(formats, SENDERS, subject_prefixes=("(?<=x)re:",)).check()


@settings(max_examples=300, deadline=None)
@given(when=st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2999, 12, 31)),
       fmt=st.sampled_from(["%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M"]))
def test_the_fixed_width_date_reader_agrees_with_strptime(when, fmt):
    from alertproc.reading.formats import _SHAPE, _fixed_width
    text = when.strftime(fmt)
    assert _fixed_width(text, text.translate(_SHAPE), fmt) == datetime.strptime(text, fmt)
