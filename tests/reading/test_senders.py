import base64
import subprocess
from datetime import datetime

import dkim
import pytest

from alertproc.reading.parse import MailReader
from alertproc.reading.senders import DnsUnavailable, read_auth_results, sender_check
from helpers import Staged, make

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
    assert read.readable and read.authserv_id == authserv and {r.method: r.result for r in read.results} == results


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


# --- Alignment (issue #27): a pass counts only for the sender's own domain --------------------

GST_FROM = "donotreply@gst.gov.in"


@pytest.mark.parametrize("header,verdict", [
    # passes for another domain, nothing for gst.gov.in: a spoofer's own envelope or signature
    ("mx.example.in; spf=pass smtp.mailfrom=bounce@attacker.example; dkim=none", "auth_fail"),
    ("mx.example.in; dkim=pass header.d=attacker.example", "auth_fail"),
    ("mx.example.in; dkim=pass header.i=@mailer.attacker.example", "auth_fail"),
    ("mx.example.in; spf=pass smtp.mailfrom=donotreply@notgst.gov.in.example", "auth_fail"),
    ("mx.example.in; spf=fail smtp.mailfrom=gst.gov.in; dkim=pass header.d=evil.example", "auth_fail"),
    ("mx.example.in; dmarc=pass header.from=evil.example", "auth_fail"),
    # aligned passes, also from a subdomain, and with an unrelated broken signature beside them
    ("mx.example.in; dkim=pass header.d=gst.gov.in; dkim=fail header.d=esp.example", "genuine"),
    ("mx.example.in; dkim=fail header.d=esp.example; dkim=pass header.i=@mail.gst.gov.in", "genuine"),
    ("mx.example.in; spf=pass smtp.mailfrom=bounce@mailer.gst.gov.in", "genuine"),
    ("mx.example.in; spf=fail smtp.mailfrom=gst.gov.in; dkim=pass header.d=gst.gov.in", "genuine"),
    # a DMARC failure is never outweighed
    ("mx.example.in; dkim=pass header.d=gst.gov.in; dmarc=fail header.from=gst.gov.in", "auth_fail"),
    # an authserv-id may be quoted (RFC 8601): its dmarc=fail still counts
    ('"mx.example.in"; dmarc=fail header.from=gst.gov.in', "auth_fail"),
])
def test_only_aligned_results_count(header, verdict):
    trusted = frozenset({"mx.example.in"})
    got = sender_check(GST_FROM, [header], SENDERS, require_auth_results=True, trusted_ids=trusted)
    assert got.verdict == verdict, got.reason


@pytest.mark.parametrize("header", ["mx.example.in; none", "mx.example.in; spf=neutral smtp.mailfrom=gst.gov.in",
                                    "mx.example.in; spf=none; dkim=none; dmarc=none",
                                    "mx.example.in; spf=temperror smtp.mailfrom=gst.gov.in"])
def test_none_and_neutral_are_not_a_pass(header):
    strict = sender_check(GST_FROM, [header], SENDERS, require_auth_results=True,
                          trusted_ids=frozenset({"mx.example.in"}))
    assert strict.verdict == "auth_missing" and "decide nothing" in strict.reason


def test_the_reason_names_the_result_that_counted():
    header = "mx.example.in; spf=fail smtp.mailfrom=gst.gov.in; dkim=pass header.d=gst.gov.in header.s=s1"
    assert "aligned dkim=pass header.d=gst.gov.in from mx.example.in" in sender_check(GST_FROM, [header], SENDERS).reason


@pytest.mark.parametrize("count", [0, 2])
def test_more_or_fewer_than_one_sender_is_never_trusted(count):
    header = "mx.example.in; dmarc=pass header.from=evil.example; dkim=pass header.d=gst.gov.in"
    assert sender_check(GST_FROM, [header], SENDERS, from_count=count).verdict == "auth_fail"


def test_two_from_headers_or_addresses_make_a_suspect(formats):
    raw = make.refresh_text(make.PUNE, make.ACME, make.EGSP, datetime(2026, 11, 21, 14, 32, tzinfo=make.IST),
                            "two-from").as_bytes()
    second_header = raw.replace(b"From: GSTN <donotreply@gst.gov.in>",
                                b"From: GSTN <donotreply@gst.gov.in>\nFrom: Evil <x@evil.example>", 1)
    two_addresses = raw.replace(b"From: GSTN <donotreply@gst.gov.in>",
                                b"From: GSTN <donotreply@gst.gov.in>, Evil <x@evil.example>", 1)
    for mail in (second_header, two_addresses):
        message = MailReader(formats, SENDERS).parse_strict(mail).message
        assert (message["parse_status"], message["sender_check"]) == ("suspicious", "auth_fail")


@pytest.mark.parametrize("shape", ["(" * 500_000 + ")" * 500_000, "(" * 1_000_000, '"' + "x" * 1_000_000,
                                   'a=pass reason="' * 60_000, "dkim=pass header.d=x; " * 50_000],
                         ids=["nested", "unclosed-comment", "unclosed-quote", "many-quotes", "many-results"])
def test_header_reading_is_linear(shape):
    """1 MB of each pathological shape: refused by size at once, and the reader itself linear
    below the size limit (the bound asserted is generous: minutes before, milliseconds now)."""
    import time
    started = time.perf_counter()
    assert not read_auth_results.__wrapped__(shape).readable
    below = shape[:8000]
    read_auth_results.__wrapped__(below)
    assert time.perf_counter() - started < 2.0
    verdict = sender_check(GST_FROM, ["mx.example.in; dmarc=pass"] + ["mx.example.in; " + shape] * 10, SENDERS,
                           trusted_ids=frozenset({"mx.example.in"}))
    assert verdict.verdict == "auth_unreadable" and "over 8,192" in verdict.reason


# --- Forwards (issue #27): trusted only by the inner GST signature or a trusted forwarder -----

def attached_by(person: str, inner: bytes, outer_auth: str | None = None) -> bytes:
    outer = (f"From: {person}\r\nTo: accounts@pune-plant.example.in\r\nSubject: Fw: see attached\r\n"
             "Message-ID: <fw1@people.example>\r\nDate: Sat, 21 Nov 2026 16:00:00 +0530\r\nMIME-Version: 1.0\r\n"
             'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n'
             "--b1\r\nContent-Type: message/rfc822\r\n\r\n").encode() + inner + b"\r\n--b1--\r\n"
    return (f"Authentication-Results: {outer_auth}\r\n".encode() if outer_auth else b"") + outer


def test_an_attached_alert_whose_gst_signature_verifies_is_trusted(dkim_key, formats):
    result = MailReader(formats, SENDERS, dkim_dns=fake_dns).parse_strict(attached_by("Anita <anita@x.example>",
                                                                                     signed(dkim_key)))
    assert (result.message["parse_status"], result.message["sender_check"]) == ("parsed", "forward_trusted")
    assert result.message["from_addr"] == "anita@x.example" and "signature of gst.gov.in verified" in \
        result.message["sender_detail"]
    assert [e["kind"] for e in result.events] == ["token_refreshed"]


@pytest.mark.parametrize("inner", ["tampered", "forged-results"])
def test_an_attached_alert_without_a_verified_signature_feeds_no_rule(dkim_key, formats, inner):
    forged = b"Authentication-Results: mx.example.in; dkim=pass header.d=gst.gov.in; dmarc=pass header.from=gst.gov.in\r\n"
    raw = signed(dkim_key, tamper=True) if inner == "tampered" else forged + signed(dkim_key, tamper=True).split(
        b"\r\n", 1)[1].split(b"DKIM-Signature", 1)[0] + b"\r\n".join(
        line for line in signed(dkim_key).split(b"\r\n") if not line.startswith((b"DKIM", b" ", b"\t")))
    reader = MailReader(formats, SENDERS, True, frozenset({"mx.example.in"}), dkim_dns=fake_dns)
    result = reader.parse_strict(attached_by("Mallory <m@evil.example>", raw,
                                             "mx.example.in; dmarc=fail header.from=evil.example"))
    assert (result.message["parse_status"], result.message["sender_check"]) == ("forwarded", "forward_untrusted")
    assert result.events == [] and "claims token_refreshed" in result.message["parse_error"]
    assert "pass" not in (result.message["sender_detail"] or "").split("inner alert")[0]


def inline_consent(sender: str, auth: str) -> bytes:
    return (f"Authentication-Results: {auth}\r\nFrom: {sender}\r\nTo: accounts@pune-plant.example.in\r\n"
            f"Subject: Fwd: API access consent granted for your GSTIN {make.PUNE}\r\nMessage-ID: <in1@x>\r\n"
            "Date: Sat, 21 Nov 2026 16:00:00 +0530\r\n\r\nFYI\r\n\r\n---------- Forwarded message ---------\r\n"
            "From: GSTN <donotreply@gst.gov.in>\r\nDate: Sat, 21 Nov 2026 at 15:00\r\n"
            f"Subject: API access consent granted for your GSTIN {make.PUNE}\r\nTo: <accounts@pune-plant.example.in>\r\n\r\n"
            ).encode() + make.consent(make.PUNE, make.ACME, make.EGSP, datetime(2026, 11, 21, 15, 0, tzinfo=make.IST),
                                      30, "c1").get_content().encode()


@pytest.mark.parametrize("sender", ["Mallory <m@evil.example>", '"GST Helpdesk" <anyone@evil.example>'])
def test_an_outsider_cannot_inject_a_consent_by_forwarding_it_inline(formats, sender):
    reader = MailReader(formats, SENDERS, True, frozenset({"mx.example.in"}))
    result = reader.parse_strict(inline_consent(sender, "mx.example.in; dmarc=fail header.from=evil.example"))
    assert result.message["parse_status"] == "forwarded" and result.events == []


def test_a_trusted_forwarder_counts_only_with_an_aligned_pass(formats):
    reader = MailReader(formats, SENDERS, trusted_forwarders=frozenset({"ca@firm.example"}),
                        trusted_authserv_ids=frozenset({"mx.example.in"}))
    good = reader.parse_strict(inline_consent("CA <ca@firm.example>", "mx.example.in; dkim=pass header.d=firm.example"))
    assert good.message["sender_check"] == "forward_trusted" and [e["kind"] for e in good.events] == ["consent_granted"]
    for auth in ("mx.example.in; dkim=pass header.d=evil.example", "mx.example.in; none",
                 "mx.example.in; dmarc=fail header.from=firm.example"):
        bad = reader.parse_strict(inline_consent("CA <ca@firm.example>", auth))
        assert (bad.message["parse_status"], bad.events) == ("forwarded", []), auth


def test_an_outsiders_forwarded_consent_does_not_erase_a_refresh_after_revocation(settings, tmp_path):
    """Issue #27 item 0, end to end: revocation, then an outsider's inline forward of a consent
    (failing DMARC at our trusted server), then a refresh: the high finding stays."""
    from dataclasses import replace
    from alertproc.storage import store
    folder = tmp_path / "mail"
    folder.mkdir()
    revoked = make.revoked(make.PUNE, make.ACME, make.EGSP, datetime(2026, 11, 21, 10, 0, tzinfo=make.IST), "rv1")
    refresh = make.refresh_text(make.PUNE, make.ACME, make.EGSP, datetime(2026, 11, 21, 18, 0, tzinfo=make.IST), "rf1")
    (folder / "1.eml").write_bytes(revoked.as_bytes())
    (folder / "2.eml").write_bytes(inline_consent('"GST Helpdesk" <anyone@evil.example>',
                                                  "mx.example.in; dmarc=fail header.from=evil.example"))
    (folder / "3.eml").write_bytes(refresh.as_bytes())
    strict = replace(settings, require_auth_results=True, trusted_authserv_ids=("mx.example.in",))
    con = store.connect(strict.db)
    try:
        Staged(con, strict).import_mail(folder, "eml")
        Staged(con, strict).detect()
        statuses = sorted(s for (s,) in con.execute("select parse_status from messages").fetchall())
        rules = [r for (r,) in con.execute("select rule_id from findings").fetchall()]
    finally:
        con.close()
    assert statuses == ["forwarded", "parsed", "parsed"]
    assert "refresh_after_revocation" in rules
