"""Facts of the GST domain: GSTIN check characters, ASP name keys, event identity, IST."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache
from datetime import datetime, timedelta, timezone

IST = timezone(timedelta(hours=5, minutes=30), "IST")
# Finding severities, worst first: rules, notifications, reports and exit codes all use this order.
SEVERITIES = ("high", "medium", "low", "info")


def backoff(attempt: int, cap: float) -> float:
    """Seconds to wait before retry ``attempt`` (0, 1, ...): doubling from 1, at most ``cap``."""
    return min(2 ** attempt, cap)

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
GSTIN_SHAPE = re.compile(r"^[0-9]{2}[A-Z]{5}[0-9]{4}[A-Z][0-9A-Z]Z[0-9A-Z]$")

# Trailing words that name a company's legal form, not the company ("(P)" is Private).
_LEGAL_FORMS = {"PVT", "PRIVATE", "LTD", "LIMITED", "LLP", "INC", "CORP", "CORPORATION", "OPC", "PLC", "P"}
_HONORIFIC = re.compile(r"^\s*(?:m\s*/\s*s\.?|messrs\.?)(?=\s|$)", re.IGNORECASE)
_DOTTED = re.compile(r"(?<![^\W\d_])(?:[^\W\d_]\.\s?){2,}")  # L.L.P., P. V. T.: one word


def gstin_check_char(first14: str) -> str:
    """Return the mod-36 check character GSTN computes over the first 14 characters."""
    total = 0
    for i, ch in enumerate(first14):
        product = _ALPHABET.index(ch) * (1 if i % 2 == 0 else 2)
        total += product // 36 + product % 36
    return _ALPHABET[(36 - total % 36) % 36]


@lru_cache(maxsize=65536)  # a mailbox names the same GSTINs and ASPs over and over
def gstin_is_valid(gstin: str | None) -> bool:
    """True when ``gstin`` has the GSTIN shape and a correct check character."""
    if not gstin or not GSTIN_SHAPE.match(gstin):
        return False
    return gstin_check_char(gstin[:14]) == gstin[14]


# The state or territory a GSTIN's first two digits name (the GST state codes; 25, Daman and
# Diu, merged into 26 in 2020 but old registrations keep it).
STATES = {
    "01": "Jammu and Kashmir", "02": "Himachal Pradesh", "03": "Punjab", "04": "Chandigarh", "05": "Uttarakhand",
    "06": "Haryana", "07": "Delhi", "08": "Rajasthan", "09": "Uttar Pradesh", "10": "Bihar", "11": "Sikkim",
    "12": "Arunachal Pradesh", "13": "Nagaland", "14": "Manipur", "15": "Mizoram", "16": "Tripura", "17": "Meghalaya",
    "18": "Assam", "19": "West Bengal", "20": "Jharkhand", "21": "Odisha", "22": "Chhattisgarh",
    "23": "Madhya Pradesh", "24": "Gujarat", "25": "Daman and Diu",
    "26": "Dadra and Nagar Haveli and Daman and Diu", "27": "Maharashtra", "28": "Andhra Pradesh (before 2014)",
    "29": "Karnataka", "30": "Goa", "31": "Lakshadweep", "32": "Kerala", "33": "Tamil Nadu", "34": "Puducherry",
    "35": "Andaman and Nicobar Islands", "36": "Telangana", "37": "Andhra Pradesh", "38": "Ladakh",
    "97": "Other Territory", "99": "Centre Jurisdiction",
}


def state_of(gstin: str | None) -> str | None:
    """The state or territory of a GSTIN, from its first two digits (None: not a known code)."""
    return STATES.get((gstin or "")[:2])


def _latin(char: str) -> bool:
    return char < "\u0250"  # Basic Latin to Latin Extended-B: accents there are decoration


@lru_cache(maxsize=65536)
def asp_key(name: str | None) -> str | None:
    """Normalise an ASP or GSP name so spelling variants compare equal.

    Case (Unicode case folding), punctuation, spacing, accents on Latin letters, a leading
    "M/s", "&" for "and", dotted abbreviations and a trailing legal form ("Pvt Ltd",
    "Private Limited", "(P) Ltd", "L.L.P.") are ignored: "M/s Acme Tax Cloud (P) Ltd." and
    "ACME TAXCLOUD" give one key. Letters of every script are kept, so two names in
    Devanagari never collide; marks are dropped only from Latin letters (a Devanagari vowel
    sign is part of the word). Keys are upper case, as they always were.
    """
    if not name:
        return None
    text = _HONORIFIC.sub(" ", unicodedata.normalize("NFKC", name))
    text = _DOTTED.sub(lambda m: m.group(0).replace(".", "").replace(" ", "") + " ", text)
    kept, previous = [], ""
    for char in unicodedata.normalize("NFKD", text.casefold()):
        category = unicodedata.category(char)
        if category[0] == "M" and _latin(previous):
            continue
        if char == "&":
            kept.append(" and ")
        elif category[0] in "LNM":
            kept.append(char)
            previous = char if category[0] != "M" else previous
        else:
            kept.append(" ")
    words = unicodedata.normalize("NFC", "".join(kept)).upper().split()
    while len(words) > 1 and words[-1] in _LEGAL_FORMS:
        words.pop()
    return "".join(words) or None


def to_utc(naive_ist: datetime) -> datetime:
    """Interpret a naive GSTN timestamp as IST and return it in UTC."""
    if naive_ist.tzinfo is None:
        naive_ist = naive_ist.replace(tzinfo=IST)
    return naive_ist.astimezone(timezone.utc)


def event_id(kind: str, gstin: str | None, key: str | None, occurred_at: datetime | None,
             channel: str, status: str | None, extra: str = "") -> str:
    """Deterministic event id: the same alert read twice gives the same id.

    ``extra`` separates records that agree on everything else (two API calls in one second).
    """
    stamp = occurred_at.isoformat() if occurred_at else ""
    text = "|".join((kind, gstin or "", key or "", stamp, channel, status or "")) + (f"|{extra}" if extra else "")
    return hashlib.sha256(text.encode()).hexdigest()[:32]
