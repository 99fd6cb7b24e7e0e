"""Text in HTML pages (the report, the web app): words a browser would split kept whole."""

from __future__ import annotations

import re

from markupsafe import Markup, escape

# A browser may break a line after a hyphen, a slash or an ellipsis: "19-11-|2026",
# "donotreply@gst-|gov.in", "Authentication-|Results". Text tokens holding one are kept whole.
_BREAKABLE = re.compile(r"[-\u2010/@\u2026#:](?=\S)")  # inside a word, not at its end
_LONGEST_KEPT = 40  # longer tokens (a hostile subject without spaces) may still wrap


def keep_words(value: object) -> Markup:
    """``value`` escaped, each word a browser could split kept on one line (``span.w``)."""
    text = "" if value is None else str(value)
    parts, last = [], 0
    for token in re.finditer(r"\S+", text):
        parts.append(escape(text[last:token.start()]))
        word = token.group(0)
        kept = _BREAKABLE.search(word) and len(word) <= _LONGEST_KEPT
        parts.append(Markup('<span class="w">%s</span>') % word if kept else escape(word))
        last = token.end()
    parts.append(escape(text[last:]))
    return Markup("").join(parts)
