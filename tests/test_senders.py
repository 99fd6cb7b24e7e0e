import base64
import subprocess
from datetime import datetime

import dkim
import pytest

from alertproc.parse import MailReader
from alertproc.senders import DnsUnavailable, read_auth_results, sender_check
from conftest import make

SENDERS = frozenset({"donotreply@gst.gov.in"})


@pytest.mark.parametrize("domain,verdict", [
    ("gst.gov.in", "genuine"), ("gst-gov.in", "lookalike"), ("gst.gov.in.evil.example", "lookalike"),
    ("gsst.gov.in", "lookalike"), ("gstgov.in", "lookalike"), ("gst.gov.co", "lookalike"),
    ("cleargst.com", "other"), ("example.com", "other"), ("mail.gst.gov.in", "other"),
])
def test_lookalike_domains(domain, verdict):
    assert sender_check(f"donotreply@{domain}", [], SENDERS).verdict == verdict


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
    # a header that is there but cannot be read is never taken as a pass
    (";;; garbage", "auth_unreadable"),
    ("mx; spf", "auth_unreadable"),
])
def test_authentication_results(header, verdict):
    assert sender_check("donotreply@gst.gov.in", header.split("\n"), SENDERS).verdict == verdict


def test_unreadable_results_say_so():
    assert not read_auth_results(";;; garbage").readable
    assert not read_auth_results("mx.example.in; spf").readable
    assert read_auth_results("mx.example.in; none").readable


# --- Authentication-Results as real servers write them -------------------------------------

MS365_FAIL = ("spf=fail (sender IP is 198.51.100.7)\r\n smtp.mailfrom=gst.gov.in; dkim=none (message not signed)\r\n"
              " header.d=none;dmarc=fail action=oreject header.from=gst.gov.in;compauth=fail reason=000")
GMAIL_PASS = ("mx.google.com;\r\n       dkim=pass header.i=@gst.gov.in header.s=s1 header.b=AbC;\r\n"
              "       spf=pass (google.com: domain of donotreply@gst.gov.in designates 203.0.113.5 as permitted sender)"
              " smtp.mailfrom=donotreply@gst.gov.in;\r\n       dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=gst.gov.in")


@pytest.mark.parametrize("value,authserv,results", [
    (MS365_FAIL, None, {"spf": "fail", "dkim": "none", "dmarc": "fail", "compauth": "fail"}),
    (GMAIL_PASS, "mx.google.com", {"dkim": "pass", "spf": "pass", "dmarc": "pass"}),
    ("mx.example.in 1; spf=pass smtp.mailfrom=x (a (nested) comment); dkim=fail", "mx.example.in",
     {"spf": "pass", "dkim": "fail"}),
    ('mx.example.in; dkim=pass header.b="a;b"', "mx.example.in", {"dkim": "pass"}),
])
def test_real_header_styles_are_read_whole(value, authserv, results):
    read = read_auth_results(value)
    assert read.readable and read.authserv_id == authserv and dict(read.results) == results


def test_a_fail_on_a_continuation_line_counts():
    header = "mx.example.in;\r\n\tspf=fail smtp.mailfrom=gst.gov.in;\r\n\tdmarc=fail header.from=gst.gov.in"
    verdict = sender_check("donotreply@gst.gov.in", [header], SENDERS)
    assert verdict.verdict == "auth_fail" and "dmarc=fail" in verdict.reason


def test_microsoft_365_header_without_authserv_id_is_read():
    assert sender_check("donotreply@gst.gov.in", [MS365_FAIL], SENDERS).verdict == "auth_fail"


def test_only_trusted_authserv_ids_count():
    ours, forged = "mx.example.in; dmarc=fail header.from=gst.gov.in", "relay.evil; dmarc=pass"
    # The forger's header is on top; with our server named as trusted, ours decides.
    assert sender_check("donotreply@gst.gov.in", [forged, ours], SENDERS).verdict == "genuine"
    trusted = frozenset({"mx.example.in"})
    assert sender_check("donotreply@gst.gov.in", [forged, ours], SENDERS, trusted_ids=trusted).verdict == "auth_fail"


# --- alertproc's own DKIM check, with a key made here ---------------------------------------

@pytest.fixture(scope="module")
def dkim_key(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dkim")
    subprocess.run(["openssl", "genrsa", "-out", str(folder / "k.pem"), "2048"], check=True, capture_output=True)
    public = subprocess.run(["openssl", "rsa", "-in", str(folder / "k.pem"), "-pubout", "-outform", "DER"],
                            check=True, capture_output=True).stdout
    DNS_RECORDS[b"gstn._domainkey.gst.gov.in."] = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    DNS_RECORDS[b"sel._domainkey.evil.example."] = DNS_RECORDS[b"gstn._domainkey.gst.gov.in."]
    return (folder / "k.pem").read_bytes()


DNS_RECORDS: dict[bytes, bytes] = {}


def fake_dns(name: bytes, timeout: int = 5) -> bytes | None:
    """The test's DNS: the key made by the fixture, nothing else (module level: workers can pickle it)."""
    return DNS_RECORDS.get(name)


def offline_dns(name: bytes, timeout: int = 5) -> bytes | None:
    raise DnsUnavailable("no network")


def signed(key: bytes, domain: str = "gst.gov.in", selector: str = "gstn", tamper: bool = False) -> bytes:
    raw = make.refresh_text(make.PUNE, make.ACME, make.EGSP, datetime(2026, 11, 21, 14, 32, tzinfo=make.IST),
                            "dk1", auth=None).as_bytes().replace(b"\n", b"\r\n")
    signature = dkim.sign(raw, selector.encode(), domain.encode(), key, include_headers=[b"from", b"subject", b"date"])
    raw = signature + raw
    return raw.replace(b"Acme Tax Cloud", b"Evil Tax Cloud") if tamper else raw


def test_a_good_signature_without_results_is_genuine_and_says_so(dkim_key):
    verdict = sender_check("donotreply@gst.gov.in", [], SENDERS, signed(dkim_key), require_auth_results=True, dns=fake_dns)
    assert verdict.verdict == "genuine" and "signature of gst.gov.in verified" in verdict.reason


def test_a_broken_signature_is_a_failure(dkim_key):
    verdict = sender_check("donotreply@gst.gov.in", [], SENDERS, signed(dkim_key, tamper=True), dns=fake_dns)
    assert verdict.verdict == "auth_fail" and "does not verify" in verdict.reason


def test_a_signature_of_another_domain_says_nothing(dkim_key):
    raw = signed(dkim_key, domain="evil.example", selector="sel")
    assert sender_check("donotreply@gst.gov.in", [], SENDERS, raw, dns=fake_dns).verdict == "genuine"
    strict = sender_check("donotreply@gst.gov.in", [], SENDERS, raw, require_auth_results=True, dns=fake_dns)
    assert strict.verdict == "auth_missing" and "no DKIM signature for the sender's domain" in strict.reason


def test_no_dns_answer_leaves_the_check_undecided(dkim_key):
    verdict = sender_check("donotreply@gst.gov.in", [], SENDERS, signed(dkim_key), require_auth_results=True,
                           dns=offline_dns)
    assert verdict.verdict == "auth_missing" and "no DNS answer" in verdict.reason


def test_trusted_results_are_not_second_guessed(dkim_key):
    raw = signed(dkim_key, tamper=True)
    assert sender_check("donotreply@gst.gov.in", ["mx; dmarc=pass"], SENDERS, raw, dns=fake_dns).verdict == "genuine"


def test_the_reader_uses_its_dns_for_a_whole_mail(dkim_key, formats):
    result = MailReader(formats, SENDERS, dkim_dns=fake_dns).parse_strict(signed(dkim_key, tamper=True))
    assert result.message["parse_status"] == "suspicious" and result.message["sender_check"] == "auth_fail"
    assert [e["kind"] for e in result.events] == ["suspicious_alert"]
