"""Files a command writes for the user (reports, exports, query results): safely.

Each is written to a new temporary file in the target's folder and renamed over the target
only when complete, so a failure leaves the old file whole and a reader never sees half a
file. The target must be a new path or a regular file: never the database, its lock or WAL,
anything in the archive, a symlink, a FIFO or a device (as root, ``--out /dev/full`` once
replaced the device).

Values that a spreadsheet would run as formulas (``=``, ``+``, ``-``, ``@``, tab, CR at the
start: OWASP's CSV-injection rule) are neutralised with a leading ``'`` in CSV and XLSX
output, unless the user asks to keep them; an ASP name comes from mail anyone can send.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import ConfigError
from ..storage import published

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
FORMULA_SQL = "^[=+\\-@\\t\\r]"  # the same, for DuckDB's regexp_matches
_XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # what openpyxl (and the XLSX format) refuses


def protected_paths(db: str | Path, archive: str | Path | None = None) -> list[Path]:
    """What no output may replace: the database, its lock and write-ahead log, the working
    file behind it, the archive."""
    base = Path(db)
    paths = [base, Path(f"{db}.lock"), Path(f"{db}.wal"), *published.files(db)]
    return paths + ([Path(archive)] if archive else [])


def code_and_config(settings, config_path: Path | None) -> list[Path]:
    """What a query's output must never become: the rule, format and template folders (./rules
    is always a layer: a file there is code the next ``detect`` runs), the policy and the config."""
    folders = ["rules", settings.rules, *settings.rules_dirs, *settings.formats_dirs, settings.templates_dir]
    return [Path(p) for p in folders if p] + [Path(settings.policy)] + ([config_path] if config_path else [])


# The file endings a query result may be written under, by format: nothing that a tool or
# alertproc itself would run or load as code or configuration (.sql, .yaml, .toml, .py, .sh).
DATA_ENDINGS = {"table": (".txt",), "csv": (".csv", ".tsv", ".txt"), "json": (".json",), "markdown": (".md", ".txt"),
                "xlsx": (".xlsx",)}


def check_data_file(out: Path, fmt: str) -> None:
    """A :class:`ConfigError` unless ``out`` ends like a data file of format ``fmt``."""
    endings = DATA_ENDINGS[fmt]
    if out.suffix.lower() not in endings:
        raise ConfigError(f"--out {out}: a {fmt} result is written to a file ending in {' or '.join(endings)} "
                          "(never a rule, format, policy or config file)")


def check_target(out: Path, protected: list[Path]) -> Path:
    """``out`` if an output may be written there; a :class:`ConfigError` saying why not."""
    try:
        info = os.lstat(out)
    except FileNotFoundError:
        info = None
    if info is not None:
        if stat.S_ISLNK(info.st_mode):
            raise ConfigError(f"--out {out} is a symbolic link; give the real path (outputs never write through links)")
        if not stat.S_ISREG(info.st_mode):
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file (a FIFO, socket or device)"
            raise ConfigError(f"--out {out} is {kind}; give a new file name or an existing regular file")
    target = out.parent.resolve() / out.name
    for path in protected:
        guarded = path.resolve() if path.exists() else path.absolute()
        if target == guarded or guarded in target.parents or (info is not None and path.exists()
                                                               and os.path.samefile(path, out)):
            raise ConfigError(f"--out {out} would replace {path}, which alertproc keeps; write somewhere else")
    return out


@contextmanager
def replacing(out: Path, protected: list[Path]) -> Iterator[Path]:
    """A temporary path beside ``out`` to write to; renamed over ``out`` when the block succeeds."""
    check_target(out, protected)
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        check_target(out, protected)  # nothing swapped in meanwhile (a link planted while we wrote)
        os.replace(temporary, out)
    finally:
        temporary.unlink(missing_ok=True)


def neutralised(value: object) -> object:
    """``value`` made inert for a spreadsheet: text starting like a formula gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def xlsx_cell(value: object, keep_formulas: bool = False) -> object:
    """A value openpyxl can write as text: control characters XLSX cannot hold shown as U+FFFD,
    and (unless ``keep_formulas``) formula-like text neutralised."""
    if isinstance(value, str):
        value = _XLSX_ILLEGAL.sub("\ufffd", value)
        return value if keep_formulas else neutralised(value)
    return value
