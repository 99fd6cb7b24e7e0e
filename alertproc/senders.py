"""Is a mail really from GSTN? Authentication-Results, an own DKIM check, look-alike domains.

Only Authentication-Results added by a server the user trusts count (RFC 8601 §5): by default
the topmost one's authserv-id, i.e. the receiving server's; a header further down may have
come with the mail, written by whoever sent it. Where no trusted server reported anything, the
DKIM signature is verified here (dkimpy). docs/parsing.md describes every verdict.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache

import dkim

GENUINE = "genuine"
AUTH_FAIL = "auth_fail"
AUTH_MISSING = "auth_missing"
AUTH_UNREADABLE = "auth_unreadable"
LOOKALIKE = "lookalike"
OTHER = "other"
SUSPECT_VERDICTS = (AUTH_FAIL, AUTH_MISSING, AUTH_UNREADABLE, LOOKALIKE)

_COMMENT = re.compile(r"\([^()]*\)")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_RESULT = re.compile(r"^\s*([a-z0-9][a-z0-9_.-]*)(?:\s*/\s*\d+)?\s*=\s*([a-z]+)\b", re.IGNORECASE)
_AUTHSERV = re.compile(r"^\s*([^\s;=]+)(?:\s+\d+)?\s*$")
DnsLookup = Callable[..., bytes | None]


@dataclass(frozen=True)
class AuthResults:
    """One Authentication-Results header, read: who wrote it and what each method said."""

    authserv_id: str | None  # None: the header names no server (Microsoft 365 writes it so)
    results: tuple[tuple[str, str], ...]  # (method, result), lower-case, in header order
    readable: bool = True

    def get(self, method: str) -> list[str]:
        """Every result this header gives for ``method``."""
        return [result for m, result in self.results if m == method]


@dataclass(frozen=True)
class SenderVerdict:
    """The sender check of one mail: its verdict and a sentence saying why."""

    verdict: str
    reason: str


def unfold(value: str) -> str:
    """A header value on one line: RFC 5322 folding (a line break before white space) undone."""
    if "\n" not in value and "\r" not in value:
        return value
    return re.sub(r"\r?\n(?=[ \t])", "", value).replace("\r", "").replace("\n", " ")


@lru_cache(maxsize=4096)
def read_auth_results(value: str) -> AuthResults:
    """Read one (unfolded) Authentication-Results value; ``readable`` False when it makes no sense."""
    text = _QUOTED.sub('""', unfold(value))
    while _COMMENT.search(text):  # comments nest: remove the innermost until none is left
        text = _COMMENT.sub(" ", text)
    parts = [p.strip() for p in text.split(";")]
    first = parts[0] if parts else ""
    authserv: str | None = None
    if _RESULT.match(first):  # no authserv-id: the first part is already a result
        rest = parts
    else:
        found = _AUTHSERV.match(first)
        if not found:
            return AuthResults(first.split()[0].lower() if first.split() else None, (), readable=False)
        authserv, rest = found.group(1).lower(), parts[1:]
    results = []
    for part in rest:
        if not part or part.lower() == "none":
            continue
        found = _RESULT.match(part)
        if not found:
            return AuthResults(authserv, tuple(results), readable=False)
        results.append((found.group(1).lower(), found.group(2).lower()))
    return AuthResults(authserv, tuple(results))


def auth_failed(header: AuthResults) -> bool:
    """DMARC decides when present; otherwise a failed SPF or DKIM without the other passing."""
    dmarc = header.get("dmarc")
    if any(r == "fail" for r in dmarc):
        return True
    if any(r in ("pass", "bestguesspass") for r in dmarc):
        return False
    if "fail" in header.get("compauth"):  # Microsoft's composite verdict, when it gives no DMARC
        return True
    spf, dkim_results = header.get("spf"), header.get("dkim")
    spf_failed = any(r in ("fail", "softfail") for r in spf)
    dkim_passed = "pass" in dkim_results
    return (spf_failed and not dkim_passed) or ("fail" in dkim_results and "pass" not in spf)


def _letters(domain: str) -> str:
    return re.sub(r"[^a-z0-9]", "", domain.lower())


def is_lookalike(domain: str, genuine: str) -> bool:
    """True for a domain made to pass for ``genuine`` (gst-gov.in, gst.gov.in.evil.com, gsst.gov.in)."""
    domain, genuine = domain.lower().rstrip("."), genuine.lower()
    if not domain or domain == genuine or domain.endswith("." + genuine):
        return False
    if domain.startswith(genuine + ".") or _letters(domain) == _letters(genuine):
        return True
    if domain.rpartition(".")[0] == genuine.rpartition(".")[0]:  # another top-level domain
        return True
    return SequenceMatcher(None, _letters(domain), _letters(genuine)).ratio() >= 0.85


class DnsUnavailable(Exception):
    """Raised by a DNS look-up that got no answer (offline, time-out): the DKIM check is undecided."""


_DNS_ANSWERS: dict[bytes, bytes | None | DnsUnavailable] = {}


def _system_dns(name: bytes, timeout: int = 5) -> bytes | None:
    """TXT record ``name`` through dnspython, answers and failures cached per process.

    GSTN signs with a few keys, so a run asks DNS a few times; a failure is remembered too,
    or every alert of an offline run would wait ``timeout`` seconds for its own.
    """
    if name not in _DNS_ANSWERS:
        import dns.exception
        import dns.resolver
        try:
            answer = dns.resolver.resolve(name.decode().rstrip("."), "TXT", lifetime=timeout)
            _DNS_ANSWERS[name] = b"".join(b"".join(record.strings) for record in answer)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            _DNS_ANSWERS[name] = None
        except dns.exception.DNSException as exc:
            _DNS_ANSWERS[name] = DnsUnavailable(f"{type(exc).__name__}: {exc}")
    found = _DNS_ANSWERS[name]
    if isinstance(found, DnsUnavailable):
        raise found
    return found


def _aligned(signing_domain: str, from_domain: str) -> bool:
    return from_domain == signing_domain or from_domain.endswith("." + signing_domain)


def verify_dkim(raw: bytes, from_domain: str, dns: DnsLookup | None = None) -> tuple[str, str]:
    """Verify the DKIM signatures of ``raw`` that sign for ``from_domain``: (pass|fail|none|temperror, why)."""
    lookup = dns or _system_dns
    try:
        checker = dkim.DKIM(raw, minkey=1024)
        count = sum(1 for name, _ in checker.headers if name.lower() == b"dkim-signature")
    except Exception as exc:  # dkimpy raises several types on a malformed message
        return "fail", f"DKIM check: message unreadable for it ({type(exc).__name__})"
    failures = []
    for index in range(count):
        try:
            ok = checker.verify(index, dnsfunc=lookup)
        except DnsUnavailable as exc:
            return "temperror", f"DKIM check: no DNS answer for the key ({exc})"
        except dkim.DKIMException as exc:
            ok = False
            failures.append(f"signature {index + 1}: {exc}")
        domain = (checker.domain or b"").decode("ascii", "replace").lower()
        if not _aligned(domain, from_domain):
            continue  # a signature for another domain says nothing about this sender
        if ok:
            return "pass", f"own DKIM check: signature of {domain} verified"
        return "fail", f"own DKIM check: the signature of {domain} does not verify" + \
            (f" ({failures[-1]})" if failures else "")
    return "none", "no DKIM signature for the sender's domain"


def sender_check(from_addr: str | None, headers: Sequence[str], senders: frozenset[str], raw: bytes = b"",
                 require_auth_results: bool = False, trusted_ids: frozenset[str] = frozenset(),
                 dns: DnsLookup | None = None) -> SenderVerdict:
    """Classify a sender: genuine, auth_fail, auth_missing, auth_unreadable, lookalike or other.

    ``headers`` are the Authentication-Results values, topmost first. Those whose authserv-id
    is in ``trusted_ids`` count (empty: the topmost header's id). Where none counts, the DKIM
    signature of ``raw`` is verified; mail with neither is genuine unless
    ``require_auth_results`` is set: many servers add no results, and flagging all their mail
    would bury real spoofs.
    """
    if from_addr not in senders:
        domain = (from_addr or "").rpartition("@")[2]
        if any(is_lookalike(domain, s.rpartition("@")[2]) for s in senders):
            return SenderVerdict(LOOKALIKE, f"sender domain {domain} looks like a GST sender's")
        return SenderVerdict(OTHER, "not a configured sender")
    read = [read_auth_results(h) for h in headers]
    trusted = trusted_ids or frozenset({read[0].authserv_id} if read else ())
    counted = [h for h in read if h.authserv_id in trusted]
    server = lambda h: h.authserv_id or "a server that names none"  # noqa: E731
    for header in counted:
        if not header.readable:
            return SenderVerdict(AUTH_UNREADABLE, f"Authentication-Results from {server(header)} cannot be read")
        if auth_failed(header):
            said = ", ".join(f"{m}={r}" for m, r in header.results if m in ("spf", "dkim", "dmarc", "compauth"))
            return SenderVerdict(AUTH_FAIL, f"Authentication-Results from {server(header)}: {said}")
    if counted:
        return SenderVerdict(GENUINE, f"Authentication-Results from {', '.join(sorted({server(h) for h in counted}))} pass")
    result, why = verify_dkim(raw, from_addr.rpartition("@")[2], dns) if raw else ("none", "no message to check")
    if result == "pass":
        return SenderVerdict(GENUINE, why)
    if result == "fail":
        return SenderVerdict(AUTH_FAIL, why)
    untrusted = f" ({len(read)} from servers not trusted)" if read else ""
    if require_auth_results:
        return SenderVerdict(AUTH_MISSING, f"no Authentication-Results from a trusted server{untrusted}; {why}")
    return SenderVerdict(GENUINE, f"no Authentication-Results from a trusted server{untrusted}; {why}; "
                                  "accepted (require_auth_results is off)")
