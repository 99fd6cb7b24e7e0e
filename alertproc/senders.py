"""Is a mail really from GSTN? Authentication-Results and look-alike sender domains."""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from functools import lru_cache

import authres

GENUINE = "genuine"
AUTH_FAIL = "auth_fail"
AUTH_MISSING = "auth_missing"
LOOKALIKE = "lookalike"
OTHER = "other"


def auth_results(header: str | None) -> dict[str, str] | None:
    """See :func:`_auth_results`; only the topmost header counts."""
    return _auth_results(header.split("\n", 1)[0]) if header else None


@lru_cache(maxsize=4096)
def _auth_results(first: str) -> dict[str, str] | None:
    """Results per method (``spf``, ``dkim``, ``dmarc``) of the topmost Authentication-Results.

    The topmost header is the one added by the receiving server, the only one to trust; the
    others came with the mail. Returns None when there is none or it cannot be parsed.
    """
    try:
        parsed = authres.AuthenticationResultsHeader.parse(f"Authentication-Results: {first}")
    except Exception:  # authres raises its own SyntaxError and others on garbage
        return None
    results: dict[str, str] = {}
    for result in parsed.results:
        results.setdefault(str(result.method).lower(), str(result.result).lower())
    return results


def auth_failed(results: dict[str, str]) -> bool:
    """DMARC decides when present; otherwise a failed SPF or DKIM without the other passing."""
    dmarc = results.get("dmarc")
    if dmarc in ("pass", "fail"):
        return dmarc == "fail"
    spf, dkim = results.get("spf"), results.get("dkim")
    return (spf in ("fail", "softfail") and dkim != "pass") or (dkim == "fail" and spf != "pass")


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


def sender_check(from_addr: str | None, header: str | None, senders: frozenset[str],
                 require_auth_results: bool = False) -> str:
    """Classify a sender: genuine, auth_fail, auth_missing, lookalike or other.

    Mail from a configured sender with no Authentication-Results is genuine unless
    ``require_auth_results`` is set: many servers add none, and flagging all their mail would
    bury real spoofs.
    """
    if from_addr in senders:
        results = auth_results(header)
        if results is None:
            return AUTH_MISSING if require_auth_results else GENUINE
        return AUTH_FAIL if auth_failed(results) else GENUINE
    domain = (from_addr or "").rpartition("@")[2]
    if any(is_lookalike(domain, s.rpartition("@")[2]) for s in senders):
        return LOOKALIKE
    return OTHER
