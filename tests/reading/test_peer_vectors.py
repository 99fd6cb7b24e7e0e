"""Other projects' test vectors for the standards the sender check implements, read as data.

tests/setup-system.sh fetches the source distributions of authres 1.2.0 (its doctests hold
Authentication-Results headers) and dkimpy 1.1.8 (signed messages, keys) from PyPI into a cache
folder; nothing of them is copied into this repository. The expected verdicts are ours: which
sender each header is about and what alertproc must decide (docs/parsing.md, "Alignment").
"""

from __future__ import annotations

import re
import time
import pytest

from alertproc.reading.senders import read_auth_results, sender_check, verify_dkim
from helpers.local_server import TEST_CACHE

PEER = TEST_CACHE / "peer-vectors"
AUTHRES_TESTS = PEER / "authres-1.2.0" / "authres" / "tests"
DKIM_DATA = PEER / "dkimpy-1.1.8" / "dkim" / "tests" / "data"


def authres_headers() -> list[str]:
    if not AUTHRES_TESTS.exists():
        pytest.fail(f"{AUTHRES_TESTS} is missing: run `bash tests/setup-system.sh` (the README's test command does)")
    text = AUTHRES_TESTS.read_text()
    return [h for _, h in re.findall(r"""\.parse\((['"])((?:[Aa]uthentication-[Rr]esults):.*?)\1\)""", text)]


# (index in authres 1.2.0's suite, how its header starts, the From address it is about, our verdict
# with that header's server trusted and require_auth_results on)
AUTHRES_VERDICTS = [
    (0, "example.com; spf=pass smtp.mailfrom=example.net", "a@example.net", "genuine"),
    # aligned SPF; auth= is not authentication of the sender
    (1, "example.com; auth=pass (cram-md5)", "sender@example.net", "genuine"),
    (2, "example.com; sender-id=pass", "a@example.com", "auth_missing"),  # Sender ID decides nothing here
    (3, "example.com; sender-id=fail", "sender@example.com", "genuine"),  # aligned dkim=pass header.i
    (4, "example.com; dkim=pass (good signature) header.i=@mail-router", "a@newyork.example.com", "auth_fail"),
    (5, "example.com; dkim=pass reason=", "a@newyork.example.com", "auth_fail"),  # the router's pass is not the sender's
    (6, "example.net; dkim=pass (good signature) header.i=@newyork", "a@newyork.example.com", "genuine"),
    (7, "mail-router.example.net; dkim=pass (good signature) header.d=newyork", "a@newyork.example.com", "genuine"),
    (8, "example.com; dkim=fail (bad signature) header.d=bank.example.net", "phish@bank.example.com", "auth_missing"),
    (9, "mail-router.example.net; dkim=pass (good signature) header.d=newyork", "a@newyork.example.com", "genuine"),
    (10, "mail-router.example.net; dmarc=pass header.from=example.com", "a@example.com", "genuine"),
    (11, "example.com; spf=pass smtp.mailfrom=authenticated@", "authenticated@example.net", "genuine"),
    (12, "example.com; spf=pass smtp.mailfrom=authenticated@", "authenticated@example.net", "genuine"),
    (13, 'mail.bmsi.com; iprev=pass policy.iprev="2001', "markuslaudi@freenet.de", "auth_missing"),
    (14, "mail.bmsi.com; iprev=pass policy.iprev=2001", "markuslaudi@freenet.de", "auth_missing"),
    (15, "example.net; smime=fail", "aliceDss@example.com", "auth_missing"),
    (16, "mx.example.com; rrvs=pass", "user@example.com", "auth_missing"),
    (17, "example.com; auth=pass smtp.mailfrom", "sender@example.net", "auth_missing"),
    (18, "mail.example.org; tls=pass", "a@example.org", "auth_missing"),
    (19, "mail.example.org; x-tls=pass version", "a@example.org", "auth_missing"),
    (20, "mail.example.org; x-tls=pass smtp.tlsversion", "a@example.org", "auth_missing"),
    (21, "mail.example.org; arc=none", "test@example.net", "genuine"),
    (22, "thehesiod.com; dkim=none", "someone@hotmail.com", "auth_unreadable"),  # the authserv-id repeated mid-header
]


def test_the_suite_has_the_vectors_the_verdicts_are_written_for():
    assert len(authres_headers()) == len(AUTHRES_VERDICTS)


@pytest.mark.parametrize("index,start,sender,verdict", AUTHRES_VERDICTS, ids=[str(v[0]) for v in AUTHRES_VERDICTS])
def test_authres_suite_headers(index, start, sender, verdict):
    header = authres_headers()[index].split(":", 1)[1].strip()
    assert header.startswith(start), header
    read = read_auth_results(header)
    got = sender_check(sender.lower(), [header], frozenset({sender.lower()}), require_auth_results=True,
                       trusted_ids=frozenset({header.split(";")[0].split()[0]}))
    assert got.verdict == verdict, (header, got.reason)
    assert read.readable == (verdict != "auth_unreadable")


def test_authres_suite_headers_read_in_linear_time_when_repeated():
    started = time.perf_counter()
    for header in authres_headers():
        value = header.split(":", 1)[1]
        read_auth_results.__wrapped__(value * 20)  # 20 copies run together: still one linear pass
    assert time.perf_counter() - started < 2.0


# RFC 8601 Appendix B, written in its shapes (our own values): the sender, the headers topmost first,
# the trusted servers, and the verdict.
RFC8601 = [
    ("B.2 no results, with a version", "a@example.org", ["example.org 1; none"], {"example.org"}, "auth_missing"),
    ("B.3 SPF", "a@example.net", ["example.com; spf=pass smtp.mailfrom=example.net"], {"example.com"}, "genuine"),
    ("B.4 two headers, only ours trusted", "sender@example.net",
     ["example.com; spf=fail smtp.mailfrom=example.net", "example.net; dkim=pass header.d=example.net"],
     {"example.com"}, "auth_fail"),
    ("B.5 SPF fail and DKIM pass of the sender", "sender@example.com",
     ["example.com; spf=fail smtp.mailfrom=example.com; dkim=pass header.d=example.com"], {"example.com"}, "genuine"),
    ("B.6 a router's pass, the sender's fail", "sender@newyork.example.com",
     ['example.com; dkim=pass reason="good signature" header.i=@mail-router.example.net; '
      'dkim=fail reason="bad signature" header.i=@newyork.example.com'], {"example.com"}, "auth_fail"),
    ("B.7 the results of a forger below ours", "sender@newyork.example.com",
     ["example.com; dmarc=fail header.from=newyork.example.com",
      "mail-router.example.net; dkim=pass header.d=newyork.example.com"], {"example.com"}, "auth_fail"),
    ("folded over lines with a nested comment", "sender@example.com",
     ["example.com;\r\n\tdkim=pass (good (nested) signature)\r\n\t header.d=example.com"], {"example.com"}, "genuine"),
]


@pytest.mark.parametrize("name,sender,headers,trusted,verdict", RFC8601, ids=[r[0] for r in RFC8601])
def test_rfc8601_examples(name, sender, headers, trusted, verdict):
    got = sender_check(sender, headers, frozenset({sender}), require_auth_results=True, trusted_ids=frozenset(trusted))
    assert got.verdict == verdict, got.reason


# --- dkimpy's signed messages, its keys through an injected DNS -------------------------------------

def dkim_file(name: str) -> bytes:
    path = DKIM_DATA / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run `bash tests/setup-system.sh` (the README's test command does)")
    return path.read_bytes()


ED25519_KEY = b"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="  # RFC 8463's example key


def dns_of(records: dict[str, bytes]):
    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return records.get(name.decode("ascii", "replace"))
    return lookup


def football(ed25519: bytes | None = ED25519_KEY, rsa: bytes | None = None):
    records = {"test._domainkey.football.example.com.": rsa or dkim_file("test.txt")}
    if ed25519 is not None:
        records["brisbane._domainkey.football.example.com."] = ed25519
    return dns_of(records)


def test_an_ed25519_and_rsa_signed_message_verifies():
    """RFC 8463's example message, signed twice: ed25519 (needs pynacl) first, RSA second."""
    result, why = verify_dkim(dkim_file("rfc6376.signed.msg"), "football.example.com", football())
    assert result == "pass" and "signature 1" in why


@pytest.mark.parametrize("broken", [b"v=DKIM1; k=ed25519; p=AAAA", None], ids=["malformed-ed25519-key", "no-ed25519-key"])
def test_every_signature_is_tried_until_one_verifies(broken):
    """RFC 6376 §6.1: a first signature that cannot be checked does not stop the second from counting."""
    result, why = verify_dkim(dkim_file("rfc6376.signed.msg"), "football.example.com", football(ed25519=broken))
    assert result == "pass" and "signature 2" in why, why


def test_a_defective_rsa_key_is_no_pass_and_no_crash():
    """dkimpy answers a defective key with 'does not verify' (its own test expects False)."""
    bad = (b"k=rsa; p=MFwwDQYJKoZIhvNAQEBBQADSwAwSAJBANmBe10IgY+u7h3enWTukkqtUD5PR52Tb/mPfjC0QJTocVBq6Za/PlzfV+Py92V"
           b"aCak19F4WrbVTK5Gg5tW220MCAwEAAQ==")
    result, why = verify_dkim(dkim_file("rfc6376.signed.rsa.msg"), "football.example.com", football(rsa=bad))
    assert result in ("fail", "unreadable") and "football.example.com" in why, why


@pytest.mark.parametrize("name", ["rfc6376.signed.no_t.msg", "test.message.baddomain", "test2.message",
                                  "ed25519test2.msg", "test_nofrom.message", "rfc6376.w1258.msg"])
def test_dkimpy_messages_never_crash_the_check(name):
    raw = dkim_file(name)
    for domain in ("football.example.com", "example.com", "legitimate.com"):
        result, why = verify_dkim(raw, domain, football())
        assert result in ("pass", "fail", "unreadable", "none", "temperror") and why


def test_a_signing_domain_that_is_not_utf8_is_unreadable_not_a_crash():
    raw = dkim_file("rfc6376.signed.rsa.msg").replace(b"d=football.example.com", b"d=foot\xffball.example.com")
    result, _ = verify_dkim(raw, "football.example.com", football())
    assert result in ("none", "unreadable")
    verdict = sender_check("joe@football.example.com", [], frozenset({"joe@football.example.com"}), raw,
                           require_auth_results=True, dns=football())
    assert verdict.verdict in ("auth_missing", "auth_unreadable")


def test_the_rfc8463_message_is_a_genuine_sender_through_the_own_check():
    verdict = sender_check("joe@football.example.com", [], frozenset({"joe@football.example.com"}),
                           dkim_file("rfc6376.signed.msg"), require_auth_results=True, dns=football())
    assert verdict.verdict == "genuine" and "signature of football.example.com verified" in verdict.reason
