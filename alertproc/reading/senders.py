"""Is a mail really from GSTN? Authentication-Results with DMARC alignment, an own DKIM check, look-alikes.

Only Authentication-Results added by a server the user trusts count (RFC 8601 §5): by default
the topmost one's authserv-id, i.e. the receiving server's; a header further down may have
come with the mail, written by whoever sent it. A result counts for a sender only when it is
*aligned* with the sender's domain (DMARC, RFC 7489 §3.1, relaxed): a DKIM pass must be a
signature of that domain (or a subdomain), an SPF pass must be for an envelope sender of it.
Where no trusted server decided anything, the DKIM signatures are verified here (dkimpy).
docs/parsing.md states the rule with a table of examples.
"""

from __future__ import annotations

import email.utils
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
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
# An Authentication-Results header longer than this is not read (RFC 8601 headers of real
# servers are a few hundred bytes; Postfix lets 100 KB through, which is an attack, not a report).
MAX_AUTH_RESULTS = 8_192
DnsLookup = Callable[..., bytes | None]

_METHOD = re.compile(r"[a-z0-9][a-z0-9_.-]*", re.IGNORECASE)
_SIMPLE_COMMENT = re.compile(r"\([^()\\\"]*\)")
_PASSES = ("pass", "bestguesspass")


@dataclass(frozen=True)
class Result:
    """One ``method=result`` of a header, with its properties (``header.d`` → ``gst.gov.in``)."""

    method: str  # lower-case
    result: str  # lower-case
    props: tuple[tuple[str, str], ...] = ()  # (ptype.property lower-case, value as written)
    domain: str | None = None  # the domain it authenticated (header.d, header.i, smtp.mailfrom, header.from)

    def __str__(self) -> str:
        shown = " ".join(f"{k}={v}" for k, v in self.props if k in _DOMAIN_PROPS.get(self.method, ()))
        return f"{self.method}={self.result}" + (f" {shown}" if shown else "")


@dataclass(frozen=True)
class AuthResults:
    """One Authentication-Results header, read: who wrote it and what each method said."""

    authserv_id: str | None  # None: the header names no server (Microsoft 365 writes it so)
    results: tuple[Result, ...]  # in header order
    readable: bool = True
    why: str = ""  # when not readable: what is wrong with it


@dataclass(frozen=True)
class SenderVerdict:
    """The sender check of one mail: its verdict and a sentence saying why (naming the result that counted)."""

    verdict: str
    reason: str


class Unreadable(ValueError):
    """An Authentication-Results value that does not follow RFC 8601's grammar."""


def unfold(value: str) -> str:
    """A header value on one line: RFC 5322 folding (a line break before white space) undone."""
    if "\n" not in value and "\r" not in value:
        return value
    return re.sub(r"\r?\n(?=[ \t])", "", value).replace("\r", "").replace("\n", " ")


def _tokens(value: str) -> list[list[tuple[str, bool]]]:
    """The header's words, split at ';': each word (text, quoted?), comments dropped.

    One pass over the text, each character looked at once: nested comments and quoted
    strings of any length cost linear time (a loop of "remove the innermost comment" was
    quadratic: 64 KB of nested parentheses took 11 s). Unbalanced ones raise :class:`Unreadable`.
    """
    groups: list[list[tuple[str, bool]]] = [[]]
    word: list[str] = []

    def end_word(quoted: bool = False) -> None:
        if word or quoted:
            groups[-1].append(("".join(word), quoted))
            word.clear()
    index, length = 0, len(value)
    while index < length:
        char = value[index]
        index += 1
        if char == "(":
            end_word()
            depth = 1
            while index < length and depth:
                inner = value[index]
                index += 2 if inner == "\\" else 1
                depth += (inner == "(") - (inner == ")")
            if depth:
                raise Unreadable("a comment is not closed")
        elif char == '"':
            end_word()
            while index < length and value[index] != '"':
                if value[index] == "\\":
                    index += 1
                if index < length:
                    word.append(value[index])
                index += 1
            if index >= length:
                raise Unreadable("a quoted string is not closed")
            index += 1
            end_word(quoted=True)
        elif char in " \t\r\n":
            end_word()
        elif char == ";":
            end_word()
            groups.append([])
        elif char == "=" and not (word and groups[-1] and groups[-1][-1] == ("=", False)):
            end_word()
            groups[-1].append(("=", False))
        elif char == ")":
            raise Unreadable("a ')' closes no comment")
        else:
            word.append(char)  # '=' here is inside a value (base64 padding)
    end_word()
    return groups


def _fast_tokens(value: str) -> list[list[tuple[str, bool]]] | None:
    """:func:`_tokens` for the common header (no quotes, escapes or nested comments) by regex: ~10x faster."""
    if '"' in value or "\\" in value:
        return None
    text = _SIMPLE_COMMENT.sub(" ", value) if "(" in value else value
    if "(" in text or ")" in text:
        return None
    groups = []
    for part in text.split(";"):
        words: list[tuple[str, bool]] = []
        for word in part.split():
            if words and words[-1] == ("=", False):  # a value: base64 may end in '='
                words.append((word, False))
                continue
            name, equals, rest = word.partition("=")
            for piece in (name, equals, rest):
                if piece:
                    words.append((piece, False))
        groups.append(words)
    return groups


def _result(words: list[tuple[str, bool]]) -> Result:
    texts = [w for w, _ in words]
    if texts and "/" in texts[0] and not texts[0].startswith("/"):  # method/version
        texts[0] = texts[0].partition("/")[0]
    elif len(texts) >= 3 and texts[1] == "/":
        texts = texts[:1] + texts[3:]
    if len(texts) < 3 or texts[1] != "=" or not _METHOD.fullmatch(texts[0]) or not texts[2].isalpha():
        raise Unreadable(f"'{' '.join(texts)[:60]}' is not method=result")
    props, rest = [], texts[3:]
    while rest:
        if len(rest) < 3 or rest[1] != "=":
            raise Unreadable(f"'{' '.join(rest)[:60]}' is not property=value")
        props.append((rest[0].lower(), rest[2]))
        rest = rest[3:]
    method = texts[0].lower()
    found = dict(props)
    domain = next((_domain_of(found[p]) for p in _DOMAIN_PROPS.get(method, ()) if found.get(p)), None)
    return Result(method, texts[2].lower(), tuple(props), domain)


@lru_cache(maxsize=4096)
def read_auth_results(value: str) -> AuthResults:
    """Read one Authentication-Results value; ``readable`` False (with ``why``) when it makes no sense."""
    if len(value) > MAX_AUTH_RESULTS:
        head = value[:256].partition(";")  # still say whose header it is: a trusted server's counts
        named = head[0].split() if head[1] else []
        authserv = named[0].strip('"').lower() if len(named) in (1, 2) and "(" not in head[0] else None
        return AuthResults(authserv, (), readable=False, why=f"{len(value):,} characters, over {MAX_AUTH_RESULTS:,}")
    text = unfold(value)
    try:
        groups = _fast_tokens(text) or _tokens(text)
    except Unreadable as exc:
        return AuthResults(None, (), readable=False, why=str(exc))
    first, rest = groups[0], groups[1:]
    authserv: str | None = None
    if len(first) >= 2 and first[1][0] == "=" and not first[0][1]:  # no authserv-id: already a result
        rest = groups
    elif first and (len(first) == 1 or (len(first) == 2 and first[1][0].isdigit())):
        authserv = first[0][0].lower().rstrip(".")  # quoted or not (RFC 8601 allows both)
    else:
        shown = " ".join(w for w, _ in first)[:60]
        return AuthResults(None, (), readable=False, why=f"'{shown}' is not an authserv-id")
    results = []
    for words in rest:
        if not words or (len(words) == 1 and words[0][0].lower() == "none"):
            continue
        try:
            results.append(_result(words))
        except Unreadable as exc:
            return AuthResults(authserv, tuple(results), readable=False, why=str(exc))
    return AuthResults(authserv, tuple(results))


# The properties that name the domain a method authenticated, in the order tried.
_DOMAIN_PROPS = {"dkim": ("header.d", "header.i"), "spf": ("smtp.mailfrom",),
                 "dmarc": ("header.from",), "compauth": ()}


def _domain_of(value: str) -> str:
    return value.rpartition("@")[2].strip().strip("<>").lower().rstrip(".")


def aligned(domain: str, sender_domain: str) -> bool:
    """Relaxed alignment, as the issue words it for us: the same domain or a subdomain of the sender's."""
    domain = domain.lower().rstrip(".")
    return bool(domain) and (domain == sender_domain or domain.endswith("." + sender_domain))


@dataclass(frozen=True)
class _Decision:
    verdict: str | None  # GENUINE, AUTH_FAIL, or None: the results decide nothing
    why: str


def decide(headers: Iterable[AuthResults], sender_domain: str) -> _Decision:
    """What trusted headers say of ``sender_domain`` (DMARC, RFC 7489 §3.1, relaxed alignment).

    In this order: a ``dmarc=fail`` about the domain (or naming none) is never outweighed;
    an aligned pass (DMARC, DKIM or SPF) decides genuine; then an aligned SPF/DKIM failure,
    Microsoft's ``compauth=fail`` or a pass for *another* domain only (a spoofer's own
    signature or envelope) decide a failure. Results about other domains otherwise neither
    help nor hurt; ``none``/``neutral``/``temperror`` decide nothing. One pass over the results.
    """
    passed = failed = None  # the first (header, result) of each kind
    for header in headers:
        for result in header.results:
            method, outcome = result.method, result.result
            about = None if result.domain is None else aligned(result.domain, sender_domain)
            if method == "dmarc" and outcome == "fail" and about is not False:
                return _Decision(AUTH_FAIL, f"Authentication-Results: {_named(header, result)}")
            if outcome in _PASSES and method in ("dmarc", "dkim", "spf"):
                if about or (about is None and method == "dmarc"):  # DMARC is about the From by definition
                    passed = passed or (header, result)
                elif about is False:
                    failed = failed or (header, result, " (it authenticates another domain)")
            elif (method in ("spf", "dkim") and outcome in ("fail", "softfail") and about) or \
                    (method == "compauth" and outcome == "fail"):
                failed = failed or (header, result, "")
    if passed:
        return _Decision(GENUINE, f"Authentication-Results: aligned {_named(*passed)}")
    if failed:
        header, result, note = failed
        return _Decision(AUTH_FAIL, f"Authentication-Results: {_named(header, result)}"
                                    + (f", not aligned with {sender_domain}{note}" if note else ""))
    return _Decision(None, "")


def _named(header: AuthResults, result: Result) -> str:
    return f"{result} from {header.authserv_id or 'a server that names none'}"


def _ascii_fold(domain: str) -> str:
    """``domain`` as a reader sees it, accents dropped: punycode labels decoded (IDNA), then
    NFKD with the combining marks removed. Letters with no ASCII look-alike are dropped too."""
    labels = []
    for label in domain.split("."):
        if label.startswith("xn--"):
            try:
                label = label.encode("ascii").decode("idna")
            except (UnicodeError, ValueError):
                pass  # not valid punycode: compared as written
        labels.append(unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode())
    return ".".join(labels)


def _letters(domain: str) -> str:
    return re.sub(r"[^a-z0-9]", "", domain.lower())


@lru_cache(maxsize=4096)  # SequenceMatcher costs ~140 µs, and senders repeat
def is_lookalike(domain: str, genuine: str) -> bool:
    """True for a domain made to pass for ``genuine`` (gst-gov.in, gst.gov.in.evil.com, gsst.gov.in,
    and internationalised ones: xn--gst-0na.gov.in, shown as gøst.gov.in, is compared as gst.gov.in)."""
    domain, genuine = domain.lower().rstrip("."), genuine.lower()
    if not domain or domain == genuine or domain.endswith("." + genuine):
        return False
    folded = _ascii_fold(domain)
    if folded != domain and (folded == genuine or is_lookalike(folded, genuine)):
        return True
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


def _signature_domain(value: bytes) -> str | None:
    """The d= (else the domain of i=) of a DKIM-Signature value, or None when it has neither or is not text."""
    try:
        text = value.decode("ascii")
    except UnicodeDecodeError:
        return None
    tags = {}
    for part in text.split(";"):
        name, _, tag_value = part.partition("=")
        tags.setdefault(name.strip().lower(), "".join(tag_value.split()))
    found = tags.get("d") or _domain_of(tags.get("i", ""))
    return found.lower().rstrip(".") if found else None


def verify_dkim(raw: bytes, from_domain: str, dns: DnsLookup | None = None) -> tuple[str, str]:
    """Verify every DKIM signature of ``raw`` aligned with ``from_domain`` (RFC 6376 §6.1: try
    each until one verifies): ``(pass|fail|unreadable|none|temperror, why)``.

    Signatures of other domains are skipped. A malformed signature or key (or a message
    dkimpy cannot read at all, while it has an aligned signature) is ``unreadable``; none of
    these ever raises.
    """
    lookup = dns or _system_dns
    head = raw.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    if b"dkim-signature" not in head.lower():  # no signature at all: dkimpy need not read the message
        return "none", "no DKIM signature for the sender's domain"
    try:
        checker = dkim.DKIM(raw, minkey=1024)
        signatures = [value for name, value in checker.headers if name.lower() == b"dkim-signature"]
    except Exception:  # dkimpy cannot split the message: look for signatures ourselves
        checker, signatures = None, [line.partition(b":")[2] for line in raw.split(b"\r\n\r\n", 1)[0].split(b"\n")
                                     if line.lower().startswith(b"dkim-signature:")]
    ours = [(index, domain) for index, value in enumerate(signatures)
            if (domain := _signature_domain(value)) and aligned(domain, from_domain)]
    if not ours:
        return "none", "no DKIM signature for the sender's domain"
    if checker is None:
        return "unreadable", "own DKIM check: the message cannot be read for it"
    problems, temporary = [], None
    for index, domain in ours:
        try:
            if checker.verify(index, dnsfunc=lookup):
                return "pass", f"own DKIM check: signature of {domain} verified (signature {index + 1})"
            problems.append(("fail", f"the signature of {domain} does not verify (signature {index + 1})"))
        except DnsUnavailable as exc:
            temporary = f"own DKIM check: no DNS answer for the key of {domain} ({exc})"
        except dkim.ValidationError as exc:  # dkimpy says both "altered" and "malformed" with it
            said = str(exc)[:120]
            altered = any(word in said for word in ("body hash mismatch", "expired", "future"))
            problems.append(("fail", f"the signature of {domain} does not verify ({said})") if altered else
                            ("unreadable", f"the signature of {domain} is malformed ({said})"))
        except Exception as exc:  # malformed tags or key, an unknown algorithm, dkimpy's own bugs: never a crash
            problems.append(("unreadable", f"the signature of {domain} cannot be checked "
                                           f"({type(exc).__name__}: {str(exc)[:120]})"))
    if temporary:
        return "temperror", temporary
    kind = "fail" if any(k == "fail" for k, _ in problems) else "unreadable"
    return kind, "own DKIM check: " + "; ".join(why for _, why in problems)


@lru_cache(maxsize=4096)
def from_addresses(values: tuple[str, ...]) -> tuple[str, ...]:
    """Every address in the mail's From header(s), lower-case (more than one: never trusted).
    Cached: GSTN sends from a few From values, and parsing one costs 8% of reading an alert."""
    return tuple(addr.strip().lower() for _, addr in email.utils.getaddresses([unfold(v) for v in values]) if addr)


def sender_check(from_addr: str | None, headers: Sequence[str], senders: frozenset[str], raw: bytes = b"",
                 require_auth_results: bool = False, trusted_ids: frozenset[str] = frozenset(),
                 dns: DnsLookup | None = None, from_count: int = 1) -> SenderVerdict:
    """Classify a sender: genuine, auth_fail, auth_missing, auth_unreadable, lookalike or other.

    ``headers`` are the Authentication-Results values, topmost first. Those whose authserv-id
    is in ``trusted_ids`` count (empty: the topmost header's id), and only their results
    aligned with the sender's domain (:func:`decide`). Where they decide nothing, the DKIM
    signatures of ``raw`` are verified here; a mail with neither is genuine unless
    ``require_auth_results`` is set: many servers add no results, and flagging all their mail
    would bury real spoofs. ``from_count``: the addresses in the From header(s); more than one
    is never trusted (which of them would the results be about?).
    """
    if from_addr not in senders:
        domain = (from_addr or "").rpartition("@")[2]
        if any(is_lookalike(domain, s.rpartition("@")[2]) for s in senders):
            return SenderVerdict(LOOKALIKE, f"sender domain {domain} looks like a GST sender's")
        return SenderVerdict(OTHER, "not a configured sender")
    if from_count != 1:
        return SenderVerdict(AUTH_FAIL, f"{from_count} From addresses: a mail with more than one sender is never trusted")
    sender_domain = from_addr.rpartition("@")[2]
    read = [read_auth_results(h) for h in headers]
    trusted = {t.lower() for t in trusted_ids} or ({read[0].authserv_id} if read else set())
    counted = [h for h in read if h.authserv_id in trusted]
    server = lambda h: h.authserv_id or "a server that names none"  # noqa: E731
    for header in counted:
        if not header.readable:
            return SenderVerdict(AUTH_UNREADABLE, f"Authentication-Results from {server(header)} cannot be read: "
                                                  f"{header.why}")
    decision = decide(counted, sender_domain)
    if decision.verdict is not None:
        return SenderVerdict(decision.verdict, decision.why)
    result, why = verify_dkim(raw, sender_domain, dns) if raw else ("none", "no message to check")
    if result == "pass":
        return SenderVerdict(GENUINE, why)
    if result == "fail":
        return SenderVerdict(AUTH_FAIL, why)
    if result == "unreadable":
        return SenderVerdict(AUTH_UNREADABLE, why)
    said = f"Authentication-Results from {', '.join(sorted({server(h) for h in counted}))} decide nothing " \
           f"({'; '.join(str(r) for h in counted for r in h.results) or 'no results'})" if counted else \
           "no Authentication-Results from a trusted server" + (f" ({len(read)} from servers not trusted)" if read else "")
    if require_auth_results:
        return SenderVerdict(AUTH_MISSING, f"{said}; {why}")
    return SenderVerdict(GENUINE, f"{said}; {why}; accepted (require_auth_results is off)")
