"""Alert text as the formats see it: what mail transport did to it, undone.

Gateways, clients and forwards change the bytes of an alert without changing what it says:
lines wrapped at any column, format=flowed, no-break and zero-width characters, typographic
quotes, HTML layout tables around the alert's own table. Everything here maps such variants
onto one plain form, so that one format file reads them all (docs/parsing.md).
"""

from __future__ import annotations

import re
from lxml import etree

_QUOTES = {"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u00ab": '"',
           "\u00bb": '"', "\uff02": '"', "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'",
           "\u2032": "'", "\uff07": "'",
           # Windows-1252's curly quotes read as Latin-1 (a mislabelled charset) are C1 controls.
           "\x91": "'", "\x92": "'", "\x93": '"', "\x94": '"'}
# Characters that render as nothing but split words for a pattern: soft hyphen, zero-width
# space/joiners, word joiner, BOM, direction marks and embeddings.
_INVISIBLE = "\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff" \
             "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_TABLE: dict[int, str | None] = {ord(c): None for c in _INVISIBLE}
_TABLE.update({ord(c): "\n" for c in _LINE_BREAKS})
# Every other character Python calls white space (no-break, thin, ideographic spaces ...).
_TABLE.update({i: " " for i in range(0x3001) if chr(i).isspace() and chr(i) not in _LINE_BREAKS})
_TABLE.update({ord(k): v for k, v in _QUOTES.items()})
_RUNS = re.compile(r"[ \t]*\n\s*|[ \t]{2,}")
_QUOTE_MARKS = re.compile(r"^(?:[ \t]*>)+[ \t]?", re.MULTILINE)


def normalise(text: str) -> str:
    """One plain form of ``text``: single spaces, single line breaks, straight quotes, nothing invisible.

    Line breaks are kept (a table row is a line), but format patterns match any white space
    where they have a space (``formats.loosen_spaces``), so a phrase wrapped anywhere still matches.
    """
    text = text.replace("\r\n", "\n")
    if text.isascii() and "\r" not in text and "  " not in text and "\t" not in text and "\n " not in text \
            and " \n" not in text and "\n\n" not in text:
        return text.strip()  # the common case, well-formed alerts: nothing to map
    text = text.translate(_TABLE)
    return _RUNS.sub(lambda m: "\n" if "\n" in m.group(0) else " ", text).strip()


def unquote(text: str) -> str:
    """Drop the ``>`` quote marks a reply or inline forward puts before each line."""
    return _QUOTE_MARKS.sub("", text)


def unflow(text: str, delsp: bool) -> str:
    """Decode RFC 3676 format=flowed: join soft-broken lines (a trailing space), undo space-stuffing.

    With DelSp=yes the space before the break was added by the sender and is removed.
    Lines are joined only while their quote depth stays the same; "-- " is a signature line.
    """
    out: list[str] = []
    pending: str | None = None
    pending_depth = -1
    for line in text.replace("\r\n", "\n").split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffed
        flowed = content.endswith(" ") and content != "-- "
        if flowed and delsp:
            content = content[:-1]
        if pending is not None and depth == pending_depth:
            pending += content
        else:
            if pending is not None:
                out.append(">" * pending_depth + pending)
            pending, pending_depth = content, depth
        if not flowed:
            out.append(">" * depth + pending)
            pending = None
    if pending is not None:
        out.append(">" * pending_depth + pending)
    return "\n".join(out)


class _Cell:
    """Lines collected inside one table cell (or the document itself)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.text: list[str] = []

    def flush(self) -> None:
        if self.text:
            line = " ".join("".join(self.text).split())
            if line:
                self.lines.append(line)
            self.text = []


class _Row:
    def __init__(self) -> None:
        self.cells: list[_Cell] = []


class _Flattener:
    """HTML to text where each table row of label and value becomes one ``label | value`` line.

    Tables nest: a layout table around the alert's table, or a value cell holding a table of
    its own. A row whose cells each hold one line is joined with `` | ``; a row holding a
    nested table of several lines (layout) gives those lines as they are, except a label
    beside lines without cells, which stays with them (a value broken by ``<br>``).
    """

    _BLOCKS = frozenset({"p", "div", "br", "li", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6",
                         "hr", "blockquote", "pre", "section", "article", "header", "footer", "center", "caption"})
    _SKIP = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        self.doc = _Cell()
        self.stack: list[_Cell | _Row | str] = [self.doc]  # cells, rows and "table" markers
        self.cell = self.doc  # the innermost open cell: where text goes
        self.cells = [self.doc]
        self.skip = 0

    def _push(self, item: _Cell | _Row | str) -> None:
        self.stack.append(item)
        if isinstance(item, _Cell):
            self.cell = item
            self.cells.append(item)

    def _close_until(self, *kinds: type | str) -> None:
        """Close open cells, rows and tables down to (not including) the nearest of ``kinds``."""
        while len(self.stack) > 1 and not any(_is(self.stack[-1], k) for k in kinds):
            self._pop()

    def _pop(self) -> None:
        item = self.stack.pop()
        if isinstance(item, _Cell):
            item.flush()
            self.cells.pop()
            self.cell = self.cells[-1]
        elif isinstance(item, _Row):
            self.cell.flush()
            self.cell.lines.extend(_row_lines(item))

    # The parser target interface of lxml (libxml2's HTML parser, in C: about 4x faster than
    # html.parser's tokenizer, which was most of the cost of reading an HTML alert).
    def start(self, tag: str, attrs: object) -> None:
        if tag in self._BLOCKS:
            self.cell.flush()
        elif tag == "td" or tag == "th":
            if not isinstance(self.stack[-1], _Row):
                self._close_until(_Row, "table")
            if not isinstance(self.stack[-1], _Row):
                self._push(_Row())  # a cell without a row
            cell = _Cell()
            self.stack[-1].cells.append(cell)
            self._push(cell)
        elif tag == "tr":
            if self.stack[-1] == "table":
                pass
            elif "table" in self.stack:
                self._close_until("table")  # an open row of this table ends here
            else:
                self._push("table")  # a row outside any table: an implied one
            self.cell.flush()
            self._push(_Row())
        elif tag == "table":
            self.cell.flush()
            self._push("table")
        elif tag in self._SKIP:
            self.skip += 1

    def end(self, tag: str) -> None:
        if tag in self._BLOCKS:
            self.cell.flush()
        elif tag == "td" or tag == "th":
            if self.cell is not self.doc:
                if self.stack[-1] is not self.cell:
                    self._close_until(_Cell)
                self._pop()
        elif tag == "tr":
            if isinstance(self.stack[-1], _Row):
                self._pop()
            elif any(isinstance(i, _Row) for i in self.stack):
                self._close_until(_Row)
                self._pop()
        elif tag == "table":
            if "table" in self.stack:
                self._close_until("table")
                self.stack.pop()
        elif tag in self._SKIP:
            self.skip = max(0, self.skip - 1)

    def data(self, data: str) -> None:
        if not self.skip:
            self.cell.text.append(data)

    def close(self) -> str:
        while len(self.stack) > 1:
            if isinstance(self.stack[-1], str):
                self.stack.pop()
            else:
                self._pop()
        self.doc.flush()
        return "\n".join(self.doc.lines)


def _is(item: object, kind: type | str) -> bool:
    return item == kind if isinstance(kind, str) else isinstance(item, kind)


def _row_lines(row: _Row) -> list[str]:
    cells = [c.lines for c in row.cells if c.lines]
    if all(len(lines) == 1 for lines in cells):
        return [" | ".join(lines[0] for lines in cells)] if cells else []
    if len(cells) == 2 and len(cells[0]) == 1 and not any(" | " in line for line in cells[1]):
        return [cells[0][0] + " | " + " ".join(cells[1])]  # a label beside a value on several lines
    return [line for lines in cells for line in lines]


def html_to_text(html: str) -> str:
    """Flatten HTML to text; each table row of cells becomes one ``cell | cell`` line."""
    target = _Flattener()
    parser = etree.HTMLParser(target=target, no_network=True, remove_comments=True, remove_pis=True)
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # libxml2 recovers from nearly anything; what is left is hostile input, keep what we have
        return target.close()
    return "\n".join(target.doc.lines)
