"""One name per vendor (#32 item 3): the registry of ASPs, near-duplicate spellings the name
key does not merge, and merges recorded as decisions.

The key (:func:`alertproc.domain.asp_key`) already makes "Acme Tax Cloud Pvt. Ltd." and
"ACME TAXCLOUD" one ASP. A typo or a changed word ("Acme Tax Clod", "LedgerLine Solution") it
cannot: those are suggested here, scored with rapidfuzz on the keys, and a person merges
them (``alertproc asp merge``). A merge is appended to ``asp_merges`` and applied to
``policy_asp_aliases`` at every detect, so the rules, ``asp_names`` and through it the report,
exports and queries show the one name.
"""

from __future__ import annotations

import duckdb

from ..domain import asp_key
from ..errors import ConfigError
from ..storage.queries import package_queries
from ..storage.store import now, records, scalar

SIMILAR = 85  # rapidfuzz ratio (0-100) of two keys from which they are suggested as one vendor


def listed(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Every ASP seen: key, one name, spellings, GSPs, GSTINs, alerts, first and last seen, approved."""
    return records(con, package_queries("registry.sql")["registry"])


def suggestions(rows: list[dict], cutoff: int = SIMILAR) -> list[tuple[dict, dict, float]]:
    """Pairs of ASPs (rows of :func:`listed`) whose keys are this alike, most alike first; the
    one seen less is named first (the one to merge into the other)."""
    from rapidfuzz import fuzz, process
    keys = [row["pair_key"] for row in rows]
    scores = process.cdist(keys, keys, scorer=fuzz.ratio, score_cutoff=cutoff, workers=1)
    found = []
    for i in range(len(rows)):
        for j in range(i + 1, len(rows)):
            if scores[i][j]:
                fewer, more = sorted((rows[i], rows[j]), key=lambda row: (row["alerts"], row["pair_key"]))
                found.append((fewer, more, float(scores[i][j])))
    return sorted(found, key=lambda item: -item[2])


def merges(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Every recorded merge, oldest first."""
    return records(con, "select * from asp_merges order by merge_id")


def record_merge(con: duckdb.DuckDBPyConnection, alias: str, into: str, note: str, by: str) -> dict:
    """Record that ``alias`` is another spelling of ``into``; the next detect applies it."""
    if not (note or "").strip():
        raise ConfigError("say why with --note: an auditor will read it")
    alias_key, into_key = asp_key(alias), asp_key(into)
    if not alias_key or not into_key:
        raise ConfigError("give both names as the alerts spell them")
    if alias_key == into_key:
        raise ConfigError(f"'{alias}' and '{into}' are one ASP already (both are {into_key})")
    row = {"merge_id": scalar(con, "select nextval('merge_ids')"), "alias_name": alias.strip(), "alias_key": alias_key,
           "asp_name": into.strip(), "asp_key": into_key, "note": note.strip(), "by_user": by, "merged_at": now()}
    con.execute("insert into asp_merges values (?, ?, ?, ?, ?, ?, ?, ?)", list(row.values()))
    return row


def apply_merges(con: duckdb.DuckDBPyConnection) -> int:
    """Add the recorded merges to ``policy_asp_aliases`` (after the policy wrote it): each
    alias's key, and every key already standing for it, now stands for what the target stands
    for. Applied in order, so a later merge can build on an earlier one."""
    made = merges(con)
    for merge in made:
        target = con.execute("select coalesce((select asp_key from policy_asp_aliases where alias_key = ?), ?)",
                             [merge["asp_key"], merge["asp_key"]]).fetchall()[0][0]
        con.execute("update policy_asp_aliases set asp_key = ? where asp_key = ?", [target, merge["alias_key"]])
        con.execute("delete from policy_asp_aliases where alias_key = ?", [merge["alias_key"]])
        con.execute("insert into policy_asp_aliases values (?, ?)", [merge["alias_key"], target])
        if not con.execute("select 1 from policy_asp_aliases where alias_key = ?", [target]).fetchall():
            con.execute("insert into policy_asp_aliases values (?, ?)", [target, target])
    return len(made)
