"""``alertproc init``: a starting set-up — a commented config generated from the declared
settings, and the example policy — written where nothing exists yet."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from ..config import SHIPPED_RULES, ImapSettings, NotifySettings, Settings, SmtpSettings


def example_config() -> str:
    """A commented ``alertproc.toml`` generated from the declared settings."""
    lines = ["# alertproc configuration. Commented lines show the defaults.", "", "[alertproc]"]
    for spec in fields(Settings):
        default = "rules" if spec.name == "rules" else spec.default
        lines += [f"# {spec.metadata['help']}", f"# {spec.name} = {_toml(default)}"]
    lines += ["", "[imap]"]
    required = {"host": "imap.example.com", "username": "gst-alerts@example.com", "password_env": "ALERTPROC_IMAP_PASSWORD"}
    for spec in fields(ImapSettings):
        lines.append(f"# {spec.metadata['help']}")
        lines.append(f"{spec.name} = {_toml(required[spec.name])}" if spec.name in required
                     else f"# {spec.name} = {_toml(spec.default)}")
    lines += ["", "# [smtp] is only needed for `report --mail-to` and e-mail notifications.", "# [smtp]"]
    for spec in fields(SmtpSettings):
        lines += [f"# {spec.metadata['help']}", f"# {spec.name} = {_toml(spec.default)}"]
    lines += ["", "# [notify]: new findings announced at once (docs/operations.md).", "# [notify]"]
    for spec in fields(NotifySettings):
        lines += [f"# {spec.metadata['help']}", f"# {spec.name} = {_toml(spec.default)}"]
    return "\n".join(lines) + "\n"


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, int):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


# The example policy names the sample's GSTINs and ASPs: as the live policy it would call every
# real GSTIN unknown and every real ASP unapproved, so until this line goes approvals are not
# checked and doctor, run and the report say why.
EXAMPLE_MARK = ("example: true   # init's example with the sample's GSTINs: approvals are not checked until you put\n"
                "                # your GSTINs and approved ASPs below and delete this line\n")

NEXT_STEPS = """next steps:
  1. {policy}: put your GSTINs and the ASPs you approved, then delete its line `example: true`
  2. {config}: your mailbox ([imap]: host, username, password_env), or import files with
     `alertproc import eml|maildir|mbox|sms PATH`
  3. `alertproc doctor` checks all of it (a "warn" line is fine to run with)
  4. `alertproc fetch --dry-run` shows what a run would fetch and file on the server; then
     `alertproc run` (docs/operations.md schedules it)"""


def write_starter_files(directory: Path) -> list[Path]:
    """Write ``alertproc.toml`` and ``rules/policy.yaml`` into ``directory``; never overwrite."""
    written = []
    targets = {directory / "alertproc.toml": example_config(),
               directory / "rules" / "policy.yaml": EXAMPLE_MARK + (SHIPPED_RULES / "policy.yaml").read_text()}
    for path, text in targets.items():
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written
