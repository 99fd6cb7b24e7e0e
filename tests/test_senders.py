import pytest

from alertproc.senders import auth_results, sender_check

SENDERS = frozenset({"donotreply@gst.gov.in"})


@pytest.mark.parametrize("domain,verdict", [
    ("gst.gov.in", "genuine"), ("gst-gov.in", "lookalike"), ("gst.gov.in.evil.example", "lookalike"),
    ("gsst.gov.in", "lookalike"), ("gstgov.in", "lookalike"), ("gst.gov.co", "lookalike"),
    ("cleargst.com", "other"), ("example.com", "other"), ("mail.gst.gov.in", "other"),
])
def test_lookalike_domains(domain, verdict):
    assert sender_check(f"donotreply@{domain}", None, SENDERS) == verdict


@pytest.mark.parametrize("header,verdict", [
    ("mx; spf=pass smtp.mailfrom=gst.gov.in; dkim=pass header.d=gst.gov.in; dmarc=pass header.from=gst.gov.in", "genuine"),
    ("mx; spf=fail smtp.mailfrom=gst.gov.in; dmarc=fail header.from=gst.gov.in", "auth_fail"),
    ("mx; spf=fail smtp.mailfrom=gst.gov.in; dkim=pass header.d=gst.gov.in", "genuine"),
    ("mx; spf=softfail smtp.mailfrom=gst.gov.in", "auth_fail"),
    ("mx; dkim=fail header.d=gst.gov.in", "auth_fail"),
    ("mx; spf=fail smtp.mailfrom=x; dmarc=pass header.from=gst.gov.in", "genuine"),
    # only the topmost header, added by our own server, counts
    ("mx; dmarc=pass header.from=gst.gov.in\nforged; dmarc=fail header.from=gst.gov.in", "genuine"),
    ("mx; dmarc=fail header.from=gst.gov.in\nforged; dmarc=pass header.from=gst.gov.in", "auth_fail"),
    (";;; garbage", "genuine"),
])
def test_authentication_results(header, verdict):
    assert sender_check("donotreply@gst.gov.in", header, SENDERS) == verdict


def test_unparseable_results_are_treated_as_absent():
    assert auth_results(";;; garbage") is None
    assert sender_check("donotreply@gst.gov.in", ";;; garbage", SENDERS, require_auth_results=True) == "auth_missing"
