"""docs/architecture.md is the map of the code: every module is on it, no module imports
another in a cycle (imports inside functions included), and no family imports a later one
beyond the exceptions the map names."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from helpers import ROOT

PACKAGE = ROOT / "alertproc"
MAP = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
ORDER = ["foundation", "storage", "reading", "mail sources and sync", "portal inputs", "audit", "outputs", "app", "faces"]
# Which families each family may import (its own and the foundations below it).
MAY_IMPORT = {
    "foundation": {"foundation"},
    "storage": {"foundation", "storage"},
    "reading": {"foundation", "storage", "reading"},
    "mail sources and sync": {"foundation", "storage", "reading", "mail sources and sync"},
    "portal inputs": {"foundation", "storage", "reading", "portal inputs"},
    "audit": {"foundation", "storage", "reading", "audit"},
    "outputs": set(ORDER[:-2]),
    "app": set(ORDER[:-1]),
    "faces": {"foundation", "app", "faces"},  # the CLI and the API reach the work through the app only
}


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The alertproc modules ``name`` imports anywhere in its file."""
    here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = here[:len(here) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                out.add(sub if sub in known else target)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m in known and m != name}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def families() -> dict[str, str]:
    out = {}
    for family, cell in re.findall(r"^\| ([a-z ]+) \| (.*?) \|", MAP, re.M):
        for file in re.findall(r"`([\w/]+\.py)`", cell):
            name = "alertproc." + file[:-3].replace("/", ".")
            out[name.removesuffix(".__init__")] = family
    return out


def test_every_module_is_on_the_map():
    mentioned = set(re.findall(r"`([\w/]+\.py)`", MAP))
    missing = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if str(p.relative_to(PACKAGE)) not in mentioned]
    assert missing == [], f"add these to docs/architecture.md: {missing}"


def test_no_import_cycles():
    edges = graph()
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state:
            assert (cycle := visit(start)) is None, " → ".join(cycle)


def test_at_most_fifteen_modules_stay_at_the_top():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 15, top


def test_no_family_imports_a_later_one():
    family = families()
    assert set(ORDER) == set(family.values())
    wrong = sorted((m, d) for m, deps in graph().items() for d in deps
                   if m in family and family.get(d) not in MAY_IMPORT[family[m]])
    assert wrong == [], f"imports against docs/architecture.md's families: {wrong}"


def test_the_database_is_opened_in_two_places():
    """store.connect on a file only in the application object's _reading and storage.runs.writing
    (which its _writing uses); elsewhere only in-memory databases (the lake, rule scenarios)."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if "store.connect(" in line and 'connect(":memory:")' not in line:
                found.append(f"{path.relative_to(PACKAGE)}:{line.strip()}")
    assert sorted(f.split(":")[0] for f in found) == ["app/alertproc.py", "storage/runs.py"], found
    app = (PACKAGE / "app" / "alertproc.py").read_text(encoding="utf-8")
    assert app.count("writing(self.settings.db") == 1  # and that one is _writing's


FOLDERS = {"foundation": "foundation", "storage": "storage", "reading": "reading", "mail sources and sync": "mail",
           "portal inputs": "portal", "audit": "audit", "outputs": "outputs", "app": "app", "faces": "faces"}


def test_the_tests_mirror_the_families():
    """A test lives in the folder of the family it tests (tests/<family>/), the shared helpers in
    tests/helpers/; nothing else sits beside them."""
    tests = ROOT / "tests"
    assert set(FOLDERS) == set(ORDER)
    assert sorted(p.name for p in tests.glob("test_*.py")) == []
    holding = {p.parent.name for p in tests.rglob("test_*.py") if "corpus" not in p.parts and "helpers" not in p.parts}
    assert holding == set(FOLDERS.values())
