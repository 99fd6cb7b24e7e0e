"""Alert formats as data: one YAML file per format under ``rules/formats/``.

GSTN does not publish its templates and changes them, so recognising a new variant is a
matter of adding a file, never of editing code. See ``rules/formats/README.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import re2

from ..layered import load_layered
from ..yamlfile import load_yaml, where

# Compiled by RE2, whose matching time is linear in the text: no pattern, shipped or a user's,
# can stall a run on a hostile mail (Python's re took minutes on a few kB for some patterns).
Pattern = re2._Regexp
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # its C++ logger would print every rejected pattern to stderr
KINDS = ("token_refreshed", "consent_granted", "access_revoked", "api_access_changed", "otp_sent")
CHANNELS = ("email", "sms")
FIELDS = ("gstin", "asp_name", "gsp_name", "occurred_at", "valid_until", "duration", "status")
DATE_FIELDS = ("occurred_at", "valid_until")
_KEYS = {"id", "kind", "channel", "description", "subject", "subject_search", "body", "fields",
         "required", "date_formats"}


@dataclass(frozen=True)
class Format:
    """One way GSTN words one kind of alert."""

    id: str
    kind: str
    channel: str
    path: Path
    subject: Pattern | None
    subject_search: str | None
    body: Pattern | None
    fields: dict[str, Pattern]
    required: tuple[str, ...]
    date_formats: tuple[str, ...]
    description: str = ""
    overrides: Path | None = None  # the file of the same id this one replaces (a user's over a shipped one)

    def matches_subject(self, subject: str) -> bool:
        """True when ``subject`` says this is an alert of this format's kind."""
        return self.subject is not None and self.subject.search(utf8(subject)) is not None

    def matches_body(self, text: str | bytes) -> bool:
        """True when this format has no body pattern or ``text`` matches it."""
        return self.body is None or self.body.search(utf8(text)) is not None

    def extract(self, text: str | bytes) -> tuple[dict[str, str], list[str]]:
        """Pull the raw field strings out of ``text``; also return required fields missing.

        Give UTF-8 bytes when trying several formats on one text: it is encoded once then.
        """
        data = utf8(text)
        if self.body is not None and not self.body.search(data):
            return {}, ["text matching its body pattern"]
        values: dict[str, str] = {}
        for name, pattern in self.fields.items():
            found = first_group(pattern, data)
            if found is not None:
                values[name] = " ".join(found.decode("utf-8", "replace").split())
        return values, [name for name in self.required if name not in values]

    def parse_date(self, value: str, reference: datetime | None = None) -> datetime | None:
        """Parse a GSTN date string (naive, IST) with this format's date formats.

        A time without a date (OTP "valid till 14:42:05 IST") takes its date from
        ``reference`` (the message's own date, in IST), rolling over midnight.
        """
        value = value.strip().removesuffix("IST").strip()
        shape = value.translate(_SHAPE)
        known = _FORMAT_OF_SHAPE.get((self.date_formats, shape))
        for fmt in ((known,) if known else ()) + self.date_formats:
            try:
                parsed = _fixed_width(value, shape, fmt) or datetime.strptime(value, fmt)
            except ValueError:
                continue
            if len(_FORMAT_OF_SHAPE) < 4096:
                _FORMAT_OF_SHAPE[(self.date_formats, shape)] = fmt
            if "%d" not in fmt and reference is not None:
                parsed = datetime.combine(reference.date(), parsed.time())
                if parsed < reference - timedelta(hours=1):
                    parsed += timedelta(days=1)
            elif "%d" not in fmt:
                return None
            return parsed
        return None


_UNANCHORED = getattr(getattr(re2, "_Anchor", None), "UNANCHORED", None)


def first_group(pattern: Pattern, data: bytes) -> bytes | None:
    """Group 1 of the first match of ``pattern`` in ``data``, or None.

    Calls RE2's compiled matcher directly when this google-re2 exposes it: its Python wrapper
    builds a generator and a match object per search, which cost three times the matching
    itself on an alert (24 µs of 33 per format tried). Falls back to the public ``search``.
    """
    matcher = getattr(pattern, "_regexp", None)
    if _UNANCHORED is None or matcher is None:
        found = pattern.search(data)
        return found.group(1) if found else None
    spans = matcher.Match(_UNANCHORED, data, 0, len(data))
    if spans[0][0] < 0 or spans[1][0] < 0:
        return None
    return data[spans[1][0]:spans[1][1]]


def utf8(text: str | bytes) -> bytes:
    """``text`` as the patterns read it: UTF-8 bytes (RE2 searches bytes about 4x faster than str)."""
    return text if isinstance(text, bytes) else text.encode("utf-8", "replace")


@dataclass
class FormatSet:
    """All loaded formats, in a stable order (by file name)."""

    formats: list[Format] = field(default_factory=list)
    _by_subject: dict[str, list[Format]] = field(default_factory=dict, repr=False, compare=False)

    def for_subject(self, subject: str) -> list[Format]:
        """E-mail formats whose subject pattern matches ``subject`` (remembered: a mailbox has
        one subject per GSTIN and kind, thousands of times over). Do not change the list."""
        found = self._by_subject.get(subject)
        if found is None:
            if len(self._by_subject) >= 10_000:
                self._by_subject.clear()
            found = self._by_subject[subject] = [f for f in self.formats if f.channel == "email"
                                                 and f.matches_subject(subject)]
        return found

    def for_channel(self, channel: str) -> list[Format]:
        """Formats of one channel (``email`` or ``sms``)."""
        return [f for f in self.formats if f.channel == channel]

    def subject_searches(self, extra: tuple[str, ...] = ()) -> list[str]:
        """Literal subject fragments for server-side IMAP SEARCH: the formats' and ``extra``.

        A fragment that contains another (case-insensitively) is left out: SEARCH SUBJECT
        matches substrings, so the shorter one finds it already.
        """
        fragments = {f.subject_search for f in self.formats if f.subject_search} | set(extra)
        return sorted(f for f in fragments if not any(o != f and o.lower() in f.lower() for o in fragments))


_QUANTIFIER = "?*+{"
# A mailbox writes its dates in a few shapes ("99-99-9999 99:99:99"): the strptime format that
# read a shape is tried first next time, instead of every format in turn (each miss ~10 µs).
_SHAPE = str.maketrans("0123456789", "9999999999")
_WIDTHS = {"d": 2, "m": 2, "Y": 4, "H": 2, "M": 2, "S": 2}
_FIELDS = {"Y": "year", "m": "month", "d": "day", "H": "hour", "M": "minute", "S": "second"}


def _layout(fmt: str) -> tuple[str, tuple[tuple[str, int, int], ...]] | None:
    """The shape of a date written in ``fmt`` with every field at its full width ("%d-%m-%Y
    %H:%M" → "99-99-9999 99:99") and where each field is; None for a format with other
    directives (%b, %p: left to strptime)."""
    if fmt in _LAYOUTS:
        return _LAYOUTS[fmt]
    shape, places, index = [], [], 0
    while index < len(fmt):
        if fmt[index] == "%" and index + 1 < len(fmt):
            directive = fmt[index + 1]
            if directive not in _WIDTHS:
                _LAYOUTS[fmt] = None
                return None
            start = sum(map(len, shape))
            places.append((_FIELDS[directive], start, start + _WIDTHS[directive]))
            shape.append("9" * _WIDTHS[directive])
            index += 2
        else:
            shape.append(fmt[index])
            index += 1
    _LAYOUTS[fmt] = ("".join(shape), tuple(places))
    return _LAYOUTS[fmt]


_LAYOUTS: dict[str, tuple[str, tuple[tuple[str, int, int], ...]] | None] = {}


def _fixed_width(value: str, shape: str, fmt: str) -> datetime | None:
    """``value`` parsed without strptime when it has ``fmt``'s full-width shape (the common case:
    "21-11-2026 14:32:05"); strptime was 6% of reading an alert. None: strptime decides.
    An impossible date (31-02-2026) raises ValueError, as strptime does."""
    layout = _layout(fmt)
    if layout is None or layout[0] != shape or "d" not in fmt:
        return None
    fields = {name: int(value[start:end]) for name, start, end in layout[1]}
    return datetime(fields.pop("year"), fields.pop("month"), fields.pop("day"), **fields)
_FORMAT_OF_SHAPE: dict[tuple[tuple[str, ...], str], str] = {}


def loosen_spaces(pattern: str) -> str:
    r"""``pattern`` with each literal space (or run of them) matching any white space, line breaks too.

    Mail is wrapped wherever a line gets long, so ``refreshed on`` must also match
    ``refreshed\non``. A space before a quantifier (``Up ?To``) becomes ``\s`` under that
    quantifier, one inside ``[...]`` becomes ``\s`` there. ``(?x)`` patterns are left alone.
    """
    if "(?x" in pattern:
        return pattern
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern) and pattern[i + 1] != " ":
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
            out.append("\\s" if ch == " " else ch)  # [-/ ] must take a line break as well
            i += 1
            continue
        if ch == "[":
            # A ']' right after '[' or '[^' is a literal, not the end of the class.
            start = pattern[i:i + 3] if pattern[i + 1:i + 3] == "^]" else pattern[i:i + 2] if pattern[i + 1:i + 2] == "]" else "["
            out.append(start)
            i += len(start)
            in_class = True
            continue
        if ch == " " or (ch == "\\" and pattern[i + 1:i + 2] == " "):
            while i < len(pattern) and (pattern[i] == " " or pattern[i:i + 2] == "\\ "):
                i += 2 if pattern[i] == "\\" else 1
            out.append("\\s" if pattern[i:i + 1] in tuple(_QUANTIFIER) and i < len(pattern) else "\\s+")
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def compile_pattern(pattern: str) -> Pattern:
    """Compile a format pattern the way formats use it, with RE2.

    Case-insensitive; ``^``/``$`` match at each line; ``.`` matches a line break too and a
    space any white space (a phrase or a name may be wrapped anywhere; ``[^\\n]`` stays on
    one line). Raises ``re2.error`` for syntax RE2 lacks (look-around, back-references).
    """
    return re2.compile(("(?ims)" + loosen_spaces(pattern)).encode(), _RE2_OPTIONS)


def _compile(path: Path, doc: dict, key: str, pattern: object, problems: list[str]) -> Pattern | None:
    if not isinstance(pattern, str):
        problems.append(f"{where(path, doc, key)}: '{key}' must be a regular expression string")
        return None
    try:
        return compile_pattern(pattern)
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        try:
            re.compile(pattern)
        except re.error:
            problems.append(f"{where(path, doc, key)}: '{key}' is not a valid regular expression: {reason}")
        else:
            problems.append(f"{where(path, doc, key)}: '{key}' uses syntax the linear-time matcher (RE2) does "
                            f"not have ({reason}); rewrite it without look-around or back-references")
        return None


def _load_one(path: Path, problems: list[str]) -> Format | None:
    doc = load_yaml(path)
    if not isinstance(doc, dict):
        problems.append(f"{path}: a format file must be a mapping")
        return None
    before = len(problems)
    for key in sorted(set(doc) - _KEYS):
        problems.append(f"{where(path, doc, key)}: unknown key '{key}' (known: {', '.join(sorted(_KEYS))})")
    for key in ("id", "kind", "channel", "fields"):
        if key not in doc:
            problems.append(f"{where(path, doc)}: missing required key '{key}'")
    if doc.get("kind") not in KINDS and "kind" in doc:
        problems.append(f"{where(path, doc, 'kind')}: kind must be one of {', '.join(KINDS)}")
    channel = doc.get("channel")
    if channel not in CHANNELS and "channel" in doc:
        problems.append(f"{where(path, doc, 'channel')}: channel must be email or sms")
    if channel == "email" and "subject" not in doc:
        problems.append(f"{where(path, doc)}: an email format needs 'subject'")
    if channel == "sms" and "body" not in doc:
        problems.append(f"{where(path, doc)}: an sms format needs 'body'")
    subject = _compile(path, doc, "subject", doc["subject"], problems) if "subject" in doc else None
    body = _compile(path, doc, "body", doc["body"], problems) if "body" in doc else None
    fields: dict[str, re.Pattern] = {}
    raw_fields = doc.get("fields") or {}
    if not isinstance(raw_fields, dict):
        problems.append(f"{where(path, doc, 'fields')}: 'fields' must map field names to patterns")
        raw_fields = {}
    for name, pattern in raw_fields.items():
        if name not in FIELDS:
            problems.append(f"{where(path, raw_fields, name)}: unknown field '{name}' (known: {', '.join(FIELDS)})")
            continue
        compiled = _compile(path, raw_fields, name, pattern, problems)
        if compiled is not None and compiled.groups < 1:
            problems.append(f"{where(path, raw_fields, name)}: pattern for '{name}' needs a capturing group")
        elif compiled is not None:
            fields[name] = compiled
    required = doc.get("required", ["gstin", "occurred_at"])
    if not isinstance(required, list) or any(r not in raw_fields for r in required):
        problems.append(f"{where(path, doc, 'required')}: 'required' must list names defined under 'fields'")
        required = []
    date_formats = doc.get("date_formats", [])
    if not isinstance(date_formats, list) or not all(isinstance(d, str) for d in date_formats):
        problems.append(f"{where(path, doc, 'date_formats')}: 'date_formats' must be a list of strptime formats")
        date_formats = []
    if any(name in DATE_FIELDS for name in fields) and not date_formats:
        problems.append(f"{where(path, doc)}: date fields need 'date_formats'")
    if len(problems) > before:
        return None
    return Format(
        id=str(doc["id"]), kind=doc["kind"], channel=channel, path=path, subject=subject,
        subject_search=doc.get("subject_search"), body=body, fields=fields,
        required=tuple(required), date_formats=tuple(date_formats),
        description=str(doc.get("description", "")),
    )


def load_formats(directories: Path | list[Path], disabled: tuple[str, ...] = ()) -> FormatSet:
    """Load every ``*.yaml`` of ``directories`` by layers (:func:`alertproc.layered.load_layered`);
    every problem is reported at once, with file and line. Ids in ``disabled`` are left out."""
    loaded = load_layered(directories, "*.yaml", _load_one, lambda fmt: fmt.id, "alert format", disabled,
                          "disabled_formats").strict()
    return FormatSet(list(loaded.items.values()))
