"""Why a mail reads as it does, and which user patterns are risky: for people writing formats.

``explain_mail`` follows one mail through the parser and keeps every step (sender verdict,
subject as cleaned, the text the formats see, each format tried and each field found or
missing). ``check_formats`` looks for patterns that will not do what their author meant.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .extract import mask_otp
from .formats import Format, FormatSet, Pattern
from .parse import ALERT_LIKE, MailReader, ParsedMail


@dataclass
class FormatTrial:
    """One format tried on one text: what each of its fields found."""

    format_id: str
    path: str
    text_number: int  # 1: the plain text; 2: the HTML flattened
    body_matches: bool | None  # None: the format has no body pattern
    fields: dict[str, str | None] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)


@dataclass
class Explanation:
    """Everything the parser decided about one mail, in order."""

    from_addr: str | None
    subject: str
    cleaned_subject: str
    sender_verdict: str
    sender_reason: str
    forwarded: bool
    texts: list[str]
    candidates: list[str]
    alert_like: bool
    trials: list[FormatTrial]
    outcome: ParsedMail

    def shown(self, text: str) -> str:
        """``text`` as it may be shown: an OTP mail has its digits masked everywhere it is shown."""
        otp = self.outcome.message["kind"] == "otp_sent" or "otp" in self.cleaned_subject.lower()
        return mask_otp(text) if otp else text

    @property
    def trusted_event(self) -> dict | None:
        """The event the mail gives, unless it is a spoof suspect's evidence."""
        events = [e for e in self.outcome.events if e["kind"] != "suspicious_alert"]
        return events[0] if events else None


def explain_mail(raw: bytes, reader: MailReader) -> Explanation:
    """Read ``raw`` as :meth:`MailReader.parse` does, keeping every step."""
    located = reader.locate(raw)
    outcome = reader.parse_strict(raw)
    candidates = reader.formats.for_subject(located.subject)
    texts = list(located.texts()) if located.outcome is None or located.body else []
    trials = []
    for number, text in enumerate(texts, start=1):
        for fmt in candidates:
            values, missing = fmt.extract(text)
            body = None if fmt.body is None else fmt.matches_body(text)
            trials.append(FormatTrial(fmt.id, str(fmt.path), number, body,
                                      {name: values.get(name) for name in fmt.fields} if body is not False else {},
                                      missing))
    return Explanation(
        from_addr=located.message["from_addr"], subject=located.view.subject, cleaned_subject=located.subject,
        sender_verdict=located.sender.verdict, sender_reason=located.sender.reason,
        forwarded=bool(outcome.message["forwarded"]), texts=texts, candidates=[f.id for f in candidates],
        alert_like=bool(ALERT_LIKE.search(located.subject)), trials=trials, outcome=outcome)


@dataclass(frozen=True)
class PatternWarning:
    """A pattern that is likely not what its author meant, with where it is."""

    where: str
    message: str


# Texts a careless pattern is slow or wrong on; RE2 is linear, so these only measure the constant.
_STRESS = (b" " * 100_000, b"a" * 100_000, (b"ASP Name | " * 10_000), b"\n" * 100_000)
_SLOW_MS = 50.0


def _pattern_warnings(fmt: Format, name: str, pattern: Pattern) -> list[PatternWarning]:
    source = pattern.pattern.decode().removeprefix("(?ims)")
    where = f"{fmt.path}: {name}"
    warnings = []
    tail = source.rstrip("$)")
    if tail.endswith(("+?", "*?")) and name not in ("subject", "body"):
        warnings.append(PatternWarning(where, "ends in a lazy repeat: it captures as little as it may "
                                              "(one character, or nothing); end the pattern with what follows the value"))
    if "(.+)" in source or "(.*)" in source:
        warnings.append(PatternWarning(where, "a greedy (.+) or (.*) runs to the end of the mail ('.' matches line "
                                              "breaks in formats); use [^\\n]+ or stop at what follows the value"))
    if "+)+" in source or "*)*" in source or "+)*" in source or "*)+" in source:
        warnings.append(PatternWarning(where, "nested repeats: harmless here (RE2 is linear), but catastrophic in "
                                              "backtracking engines if this pattern is reused elsewhere"))
    for text in _STRESS:
        started = time.perf_counter()
        pattern.search(text)
        spent = (time.perf_counter() - started) * 1000
        if spent > _SLOW_MS:
            warnings.append(PatternWarning(where, f"took {spent:.0f} ms on {len(text):,} characters of "
                                                  f"{text[:12].decode()!r}...; simplify it"))
            break
    return warnings


def check_formats(formats: FormatSet) -> list[PatternWarning]:
    """Warnings about every loaded format: risky patterns, and subjects IMAP SEARCH would not find."""
    warnings: list[PatternWarning] = []
    for fmt in formats.formats:
        patterns = {"subject": fmt.subject, "body": fmt.body, **fmt.fields}
        for name, pattern in patterns.items():
            if pattern is not None:
                warnings += _pattern_warnings(fmt, name, pattern)
        readable = (fmt.subject.pattern.decode() if fmt.subject is not None else "").replace("\\s+", " ")
        if fmt.channel == "email" and not fmt.subject_search and not ALERT_LIKE.search(readable):
            warnings.append(PatternWarning(f"{fmt.path}: subject_search",
                                           "no subject_search and no API-access word in the subject pattern: "
                                           "IMAP fetching will not find this mail; add subject_search"))
    return warnings
