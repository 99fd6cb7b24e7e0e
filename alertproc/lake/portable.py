"""The portable subset of rule SQL: written in DuckDB's dialect, transpiled with sqlglot.

Rules run as written on DuckDB. For another engine (Spark SQL) they are transpiled at run
time; a rule that uses something sqlglot cannot carry over fails with a message naming the
construct and its line, instead of an engine's error deep inside a job. Functions sqlglot
does not know are passed through verbatim by sqlglot, so they are refused here: they are
DuckDB-only (``list_reduce``, ``timezone``) or user macros, and the other engine would not
have them.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import RuleError

ENGINES = ("duckdb", "spark")


def _line_of(sql: str, name: str) -> int:
    found = re.search(rf"\b{re.escape(name)}\s*\(", sql, re.IGNORECASE)
    return sql.count("\n", 0, found.start()) + 1 if found else 1


def transpile(sql: str, engine: str, where: Path | str = "<sql>") -> str:
    """``sql`` (DuckDB dialect) for ``engine``; :class:`RuleError` naming each construct that cannot go."""
    if engine == "duckdb":
        return sql
    if engine not in ENGINES:
        raise RuleError([f"{where}: unknown engine '{engine}' (use one of: {', '.join(ENGINES)})"])
    # Imported here: only runs off DuckDB need it, and every cron run would pay its import.
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ErrorLevel, ParseError, UnsupportedError
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        raise RuleError([f"{where}:{first.get('line', 1)}: sqlglot cannot read this SQL: "
                         f"{first.get('description', exc)}"]) from None
    problems = [
        f"{where}:{_line_of(sql, node.name)}: function {node.name.lower()}() is not in the portable subset "
        f"(DuckDB-only or unknown to sqlglot); write it with standard functions so it runs on {engine}"
        for node in tree.find_all(exp.Anonymous)
    ]
    if problems:
        raise RuleError(sorted(set(problems)))
    try:
        return tree.sql(dialect=engine, unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as exc:
        raise RuleError([f"{where}: cannot be written for {engine}: {exc}"]) from None
