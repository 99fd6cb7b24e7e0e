"""Settings: declared once (name, default, help), read from TOML, environment and options.

Precedence: command-line option > environment variable > config file > default.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from .errors import ConfigError

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
SHIPPED_RULES = PACKAGE_ROOT / "rules"
SHIPPED_REPORTS = PACKAGE_ROOT / "reports"
DEFAULT_CONFIG = "alertproc.toml"
DEFAULT_SENDERS = ("donotreply@gst.gov.in",)


def _default_rules() -> str:
    return "rules" if Path("rules", "formats").is_dir() else str(SHIPPED_RULES)


@dataclass(frozen=True)
class Settings:
    """Where things live and which mail counts as GST alerts."""

    db: str = field(default="alertproc.duckdb", metadata={
        "help": "DuckDB database file", "env": "ALERTPROC_DB"})
    archive: str = field(default="archive", metadata={
        "help": "folder of the raw-mail archive (YYYY/MM/<sha256>.eml)"})
    policy: str = field(default="rules/policy.yaml", metadata={
        "help": "policy file: GSTINs, approved ASPs, manual revocations, thresholds"})
    rules: str = field(default_factory=_default_rules, metadata={
        "help": "folder of rule .sql files, with formats/ inside (default: ./rules, else the shipped rules)"})
    report_dir: str = field(default="reports/out", metadata={
        "help": "folder the HTML reports are written to"})
    senders: tuple[str, ...] = field(default=DEFAULT_SENDERS, metadata={
        "help": "sender addresses whose mail can be a GST alert"})

    @property
    def sender_set(self) -> frozenset[str]:
        """Configured senders, lower-cased."""
        return frozenset(s.lower() for s in self.senders)


SETTINGS = {f.name: f for f in fields(Settings)}


def _check_type(name: str, value: object, source: str) -> object:
    if name == "senders":
        if not isinstance(value, list) or not all(isinstance(v, str) and "@" in v for v in value):
            raise ConfigError(f"{source}: '{name}' must be a list of e-mail addresses")
        return tuple(value)
    if not isinstance(value, str):
        raise ConfigError(f"{source}: '{name}' must be a string (a path)")
    return value


def load_settings(config: str | None = None, **overrides: object) -> Settings:
    """Build settings from an optional TOML file, the environment and explicit overrides.

    ``config`` None means ``$ALERTPROC_CONFIG`` or ``./alertproc.toml`` when present. A
    named file that does not exist, an unknown key or a wrong type raise :class:`ConfigError`.
    """
    values: dict[str, object] = {}
    path = config or os.environ.get("ALERTPROC_CONFIG")
    if path or Path(DEFAULT_CONFIG).is_file():
        values.update(read_config_file(Path(path or DEFAULT_CONFIG)).get("alertproc", {}))
    for name, spec in SETTINGS.items():
        env = spec.metadata.get("env")
        if env and os.environ.get(env):
            values[name] = os.environ[env]
    values.update({k: v for k, v in overrides.items() if v is not None})
    return replace(Settings(), **values)


def read_config_file(path: Path) -> dict:
    """Parse and check a TOML config file; return ``{"alertproc": {...}, <section>: {...}}``."""
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found (`alertproc init` writes an example)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    top = {k: v for k, v in data.items() if not isinstance(v, dict)}
    sections = {k: v for k, v in data.items() if isinstance(v, dict)}
    for key in top:
        if key not in SETTINGS:
            raise ConfigError(f"{path}: unknown setting '{key}' (known: {', '.join(SETTINGS)})")
        top[key] = _check_type(key, top[key], f"{path}")
    return {"alertproc": top, **sections}
