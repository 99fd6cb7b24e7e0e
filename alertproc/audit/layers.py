"""Where rules, formats, canned queries, scenarios and templates come from: layers, not replacement.

The shipped files come first; then ``./rules`` when the working folder has one, the
``rules_dirs`` and ``formats_dirs`` settings, and ``--rules``. Files are merged by id: a user
file with a shipped id overrides it (and ``rules list`` / ``formats list`` say so); every other
user file adds to the shipped ones. ``disabled_rules`` / ``disabled_formats`` switch one off.
"""

from __future__ import annotations

from pathlib import Path

from ..config import SHIPPED_REPORTS, SHIPPED_RULES, Settings
from ..errors import ConfigError
from ..reading.formats import FormatSet, load_formats
from .rules import Rule, load_rules


def _unique(paths: list[Path]) -> list[Path]:
    seen: set[Path] = set()
    result = []
    for path in paths:
        key = path.resolve()
        if key not in seen and path.is_dir():
            seen.add(key)
            result.append(path)
    return result


def _named(folders: list[str], setting: str) -> list[Path]:
    """Folders the user named: each must exist (a typo would silently load nothing of theirs)."""
    for folder in folders:
        if not Path(folder).is_dir():
            raise ConfigError(f"{setting}: folder {folder} not found")
    return [Path(f) for f in folders]


def rule_dirs(settings: Settings) -> list[Path]:
    """Folders of rule files, shipped first, each later one overriding the earlier by id."""
    users = [Path("rules")] + _named(list(settings.rules_dirs), "rules_dirs") + \
        _named([settings.rules] if settings.rules else [], "--rules / rules")
    return _unique([SHIPPED_RULES] + users)


def format_dirs(settings: Settings) -> list[Path]:
    """Folders of format files: ``formats/`` of each rules folder, then ``formats_dirs``."""
    return _unique([d / "formats" for d in rule_dirs(settings)] + _named(list(settings.formats_dirs), "formats_dirs"))


def sub_dirs(settings: Settings, name: str) -> list[Path]:
    """``queries/`` or ``tests/`` of each rules folder, shipped first."""
    return _unique([d / name for d in rule_dirs(settings)])


def template_dirs(settings: Settings) -> list[Path]:
    """Report template folders, the user's first (jinja2 takes the first that has a file)."""
    users = ([Path(settings.templates_dir)] if settings.templates_dir else []) + [Path("reports", "templates")]
    return _unique(users + [SHIPPED_REPORTS / "templates"])


def formats_of(settings: Settings) -> FormatSet:
    """Every format of every layer; an error when no e-mail format is left (never a quiet empty run)."""
    formats = load_formats(format_dirs(settings), settings.disabled_formats)
    if not formats.for_channel("email"):
        raise ConfigError(f"no e-mail alert formats loaded (from {', '.join(map(str, format_dirs(settings)))}); "
                          "check disabled_formats and the formats folders")
    return formats


def rules_of(settings: Settings) -> tuple[list[Rule], list[str]]:
    """Every rule of every layer and the problems found; an error when no rule is left."""
    rules, problems = load_rules(rule_dirs(settings), settings.disabled_rules)
    if not rules:
        raise ConfigError(f"no detection rules loaded (from {', '.join(map(str, rule_dirs(settings)))})"
                          + (f": {problems[0]}" if problems else "; check disabled_rules"))
    return rules, problems
