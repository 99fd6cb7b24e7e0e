"""docs/schema.md must list exactly the tables, views and columns the database has."""

import re

from alertproc.storage import store
from helpers import ROOT


def documented() -> dict[str, set[str]]:
    text = (ROOT / "docs" / "schema.md").read_text()
    found: dict[str, set[str]] = {}
    for section in re.split(r"^### ", text, flags=re.MULTILINE)[1:]:
        heading, body = section.split("\n", 1)
        names = [n.strip() for n in heading.split(",")]
        for name in names:
            found.setdefault(name, set())
        for column in re.findall(r"^\| ([\w.]+) \|", body, flags=re.MULTILINE):
            if column == "column":
                continue
            table, _, col = column.rpartition(".")
            found[table or names[0]].add(col)
        listed = re.search(r"Columns: (.+?)\.(?:\s|$)", " ".join(body.split()))
        if listed:
            found[names[0]].update(c.strip() for c in listed.group(1).split(","))
    return found


def actual() -> dict[str, set[str]]:
    con = store.connect(":memory:")
    rows = con.execute("select table_name, column_name from information_schema.columns where table_schema = 'main'").fetchall()
    result: dict[str, set[str]] = {}
    for table, column in rows:
        result.setdefault(table, set()).add(column)
    return result


def test_schema_doc_matches_the_database():
    assert documented() == actual()
