"""The organisation's policy (``rules/policy.yaml``): its GSTINs, approved ASPs, revocations.

Loading validates everything and reports every problem with file, line and key; the result
is written to the ``policy_*`` tables (and manual revocations to ``events``) for the rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb

from ..config import DEFAULT_POLICY, Settings
from ..domain import asp_key, gstin_is_valid, to_utc
from ..errors import ConfigError
from ..period import parse_day, parse_moment
from ..reading.extract import new_event
from ..storage.store import insert_events, now, transaction
from ..yamlfile import Located, load_yaml, where

DEFAULT_THRESHOLDS = {
    "refresh_burst": {"window": "6h", "count": 3},
    "failed_access_spike": {"window": "1h", "count": 5},
    "consent_expiring_days": 7,
    "max_consent_days": 30,
    "token_lifetime": "6h",  # how long a portal token lives (token_without_alerts, asp_went_quiet)
    "silence_days": 30,  # days without any alert for a policy GSTIN before gstin_silent speaks
}
_WINDOW = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_TOP_KEYS = {"example", "gstins", "approved_asps", "revocations", "thresholds", "clients"}
_ASP_KEYS = {"asp", "aliases", "gsp", "gstins", "from", "to"}
_CLIENT_KEYS = {"name", "gstins", "report_to"}
_ADDRESS = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")


@dataclass(frozen=True)
class Approval:
    """One approved ASP for a set of GSTINs, optionally in a date window (IST, inclusive)."""

    asp: str
    aliases: tuple[str, ...]
    gsp: str | None
    gstins: tuple[str, ...]
    valid_from: date | None
    valid_to: date | None
    source: str = ""  # where it comes from: the file's line, or a recorded decision (audit/approvals.py)


@dataclass(frozen=True)
class Revocation:
    """A revocation done on the portal that produced no mail."""

    gstin: str
    asp: str
    at: datetime  # UTC
    note: str | None


@dataclass(frozen=True)
class Client:
    """A client of a CA firm: its name, its GSTINs (each in the policy's list, and in one client
    only) and who receives its reports."""

    name: str
    gstins: tuple[str, ...]
    report_to: tuple[str, ...] = ()


@dataclass
class Policy:
    """The validated contents of a policy file."""

    path: Path | None = None
    gstins: dict[str, str | None] = field(default_factory=dict)
    approvals: list[Approval] = field(default_factory=list)
    revocations: list[Revocation] = field(default_factory=list)
    thresholds: dict[str, int] = field(default_factory=dict)
    example: bool = False  # `example: true`: init's example, not yet made the user's own
    clients: dict[str, Client] = field(default_factory=dict)

    def client(self, name: str) -> Client:
        """The client called ``name`` (any case); a :class:`ConfigError` naming the known ones."""
        for client in self.clients.values():
            if client.name.casefold() == (name or "").strip().casefold():
                return client
        known = ", ".join(sorted(self.clients)) or "none: add `clients:` to the policy"
        raise ConfigError(f"no client '{name}' in {self.path or 'the policy'} (clients: {known})")


def _seconds(value: object) -> int | None:
    found = _WINDOW.match(str(value))
    return int(found.group(1)) * _UNIT_SECONDS[found.group(2)] if found else None


def _date(value: object) -> date | None:
    try:
        return parse_day(value if isinstance(value, date) else str(value))
    except ConfigError:
        return None


def _when(value: object) -> datetime | None:
    """A date-time (IST unless it says otherwise) in UTC; None when it is none or out of range
    (0001-01-01 00:00 IST is before the first representable UTC instant)."""
    text = str(value).strip()
    for read in (parse_moment, lambda t: datetime.combine(parse_day(t), datetime.min.time())):
        try:
            return to_utc(read(text))
        except ConfigError:
            continue
        except OverflowError:
            return None
    try:
        return to_utc(datetime.fromisoformat(text))
    except (ValueError, OverflowError):
        return None


def _text(path: Path, item: dict, key: str, problems: list[str]) -> str | None:
    """``item[key]`` when it is absent or a single value (a name, a number); a list or mapping
    there is a mistake in the file, said with its line (it would become a name like "['a']")."""
    value = item.get(key)
    if value is None or isinstance(value, (str, int, float, date)) and not isinstance(value, bool):
        return None if value is None else str(value)
    shape = "list" if isinstance(value, list) else "mapping" if isinstance(value, dict) else type(value).__name__
    problems.append(f"{where(path, item, key)}: '{key}' must be a single value, not a {shape}")
    return None


def _thresholds(path: Path, doc: Located, problems: list[str]) -> dict[str, int]:
    raw = doc.get("thresholds") or {}
    if not isinstance(raw, dict):
        problems.append(f"{where(path, doc, 'thresholds')}: 'thresholds' must be a mapping")
        raw = {}
    for key in sorted(set(raw) - set(DEFAULT_THRESHOLDS)):
        problems.append(f"{where(path, raw, key)}: unknown threshold '{key}' (known: {', '.join(DEFAULT_THRESHOLDS)})")
    out: dict[str, int] = {}
    for name in ("refresh_burst", "failed_access_spike"):
        given = raw.get(name) or {}
        if not isinstance(given, dict):
            problems.append(f"{where(path, raw, name)}: thresholds.{name} is a mapping of window and count, e.g. "
                            "{window: 6h, count: 12}")
            given = {}
        spec = {**DEFAULT_THRESHOLDS[name], **given}
        window, count = _seconds(spec.get("window")), spec.get("count")
        if window is None:
            problems.append(f"{where(path, raw, name)}: thresholds.{name}.window must look like 6h, 30m or 2d")
        if not isinstance(count, int) or count < 1:
            problems.append(f"{where(path, raw, name)}: thresholds.{name}.count must be a positive whole number")
        out[f"{name}_window_s"], out[f"{name}_count"] = window or 0, count if isinstance(count, int) else 0
    for name in ("consent_expiring_days", "max_consent_days", "silence_days"):
        value = raw.get(name, DEFAULT_THRESHOLDS[name])
        if not isinstance(value, int) or value < 0:
            problems.append(f"{where(path, raw, name)}: thresholds.{name} must be a whole number of days")
            value = 0
        out[name] = value
    lifetime = _seconds(raw.get("token_lifetime", DEFAULT_THRESHOLDS["token_lifetime"]))
    if not lifetime:
        problems.append(f"{where(path, raw, 'token_lifetime')}: thresholds.token_lifetime must look like 6h or 90m")
    out["token_lifetime_s"] = lifetime or 0
    return out


def _approval(path: Path, item: object, gstins: dict, problems: list[str]) -> Approval | None:
    if not isinstance(item, dict) or not item.get("asp"):
        problems.append(f"{where(path, item)}: each approved_asps entry needs 'asp'")
        return None
    for key in sorted(set(item) - _ASP_KEYS):
        problems.append(f"{where(path, item, key)}: unknown key '{key}' (known: {', '.join(sorted(_ASP_KEYS))})")
    asp, gsp = _text(path, item, "asp", problems), _text(path, item, "gsp", problems)
    aliases = item.get("aliases") or []
    if not isinstance(aliases, list) or any(isinstance(a, (list, dict)) for a in aliases):
        problems.append(f"{where(path, item, 'aliases')}: 'aliases' must be a list of names")
        aliases = []
    scope = item.get("gstins", ["*"])
    if not isinstance(scope, list):
        problems.append(f"{where(path, item, 'gstins')}: 'gstins' must be a list (use [\"*\"] for all)")
        scope = []
    if "*" in scope:  # every valid GSTIN of the list (an invalid one is reported where it is written)
        scope = [gstin for gstin in gstins if gstin_is_valid(gstin)]
    for number, gstin in enumerate(scope):
        if not gstin_is_valid(str(gstin)):
            line = where(path, item["gstins"], number) if isinstance(item.get("gstins"), list) else where(path, item, "gstins")
            problems.append(f"{line}: '{gstin}' is not a valid GSTIN")
    bounds = {}
    for key in ("from", "to"):
        bounds[key] = _date(item[key]) if item.get(key) is not None else None
        if item.get(key) is not None and bounds[key] is None:
            problems.append(f"{where(path, item, key)}: '{key}' must be a date like 31-01-2026 (or 31/01/2026, 2026-01-31)")
    return Approval(asp or "", tuple(str(a) for a in aliases), gsp, tuple(str(g) for g in scope),
                    bounds["from"], bounds["to"], source=where(path, item))


def _clients(path: Path, doc: Located, gstins: dict, problems: list[str]) -> dict[str, Client]:
    """The ``clients:`` list: each GSTIN one of the policy's, and in one client only."""
    listed = doc.get("clients") or []
    if not isinstance(listed, list):
        problems.append(f"{where(path, doc, 'clients')}: 'clients' must be a list of {{name, gstins, report_to}}")
        return {}
    clients: dict[str, Client] = {}
    owner: dict[str, str] = {}
    for item in listed:
        if not isinstance(item, dict) or not item.get("name"):
            problems.append(f"{where(path, item)}: each client needs 'name' and 'gstins'")
            continue
        for key in sorted(set(item) - _CLIENT_KEYS):
            problems.append(f"{where(path, item, key)}: unknown key '{key}' (known: {', '.join(sorted(_CLIENT_KEYS))})")
        name = (_text(path, item, "name", problems) or "").strip()
        if name.casefold() in {c.casefold() for c in clients}:
            problems.append(f"{where(path, item, 'name')}: client '{name}' is named twice")
        if not re.fullmatch(r"[\w .&()'-]{1,80}", name):
            problems.append(f"{where(path, item, 'name')}: a client's name is 1 to 80 letters, digits, spaces or . & ( ) ' -")
        own = item.get("gstins") or []
        if not isinstance(own, list):
            problems.append(f"{where(path, item, 'gstins')}: 'gstins' must be a list of GSTINs")
            own = []
        for number, gstin in enumerate(own):
            gstin = str(gstin).strip().upper()
            line = where(path, item["gstins"], number)
            if gstin not in gstins:
                problems.append(f"{line}: client '{name}': GSTIN {gstin} is not in the policy's gstins list (add it there)")
            elif gstin in owner:
                problems.append(f"{line}: GSTIN {gstin} is in two clients, '{owner[gstin]}' and '{name}' (one only)")
            owner.setdefault(gstin, name)
        report_to = item.get("report_to") or []
        if isinstance(report_to, str):
            report_to = [report_to]
        if not isinstance(report_to, list) or not all(isinstance(a, str) and _ADDRESS.match(a) for a in report_to):
            problems.append(f"{where(path, item, 'report_to')}: 'report_to' is a list of mail addresses")
            report_to = []
        clients[name] = Client(name, tuple(str(g).strip().upper() for g in own), tuple(report_to))
    return clients


def no_policy() -> Policy:
    """What detect uses when there is no policy file: no GSTINs, no approvals, default thresholds."""
    return Policy(thresholds=_thresholds(Path("(defaults)"), Located(), []))


NO_POLICY = ("approvals were not checked: there is no policy file ({path}); `alertproc init` writes an "
             "example to fill in")
EXAMPLE_POLICY = ("approvals were not checked: {path} is still the example `alertproc init` wrote (sample GSTINs "
                  "and ASPs); put your GSTINs and approved ASPs in it, then delete its line `example: true`")


def unchecked(settings: Settings, policy: Policy | None) -> str | None:
    """Why approvals are not checked with ``policy`` (None: no policy file, or init's example
    left as it was), or None when they are."""
    if policy is None:
        return NO_POLICY.format(path=settings.policy)
    if policy.example:
        return EXAMPLE_POLICY.format(path=policy.path or settings.policy)
    return None


def without_policy(settings: Settings) -> bool:
    """True when there is no policy: the default policy file does not exist (a policy named on purpose must)."""
    return settings.policy == DEFAULT_POLICY and not Path(settings.policy).exists()


def policy_of(settings: Settings) -> Policy | None:
    """The policy, or None :func:`without_policy`."""
    return None if without_policy(settings) else load_policy(Path(settings.policy))


def load_policy(path: Path) -> Policy:
    """Read and validate a policy file; raise :class:`ConfigError` listing every problem."""
    if not path.is_file():
        raise ConfigError(f"{path}: policy file not found (pass --policy FILE, or `alertproc init` writes an example)")
    return parse_policy(load_yaml(path) or Located(), path)


def parse_policy(doc: object, path: Path) -> Policy:
    """Validate an already-parsed policy document (``path`` names it in messages)."""
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: the policy must be a mapping with gstins, approved_asps, ...")
    problems: list[str] = []
    for key in sorted(set(doc) - _TOP_KEYS):
        problems.append(f"{where(path, doc, key)}: unknown key '{key}' (known: {', '.join(sorted(_TOP_KEYS))})")
    policy = Policy(path=path, example=doc.get("example") is True)
    if "example" in doc and not isinstance(doc.get("example"), bool):
        problems.append(f"{where(path, doc, 'example')}: 'example' is true or false (delete the line once the "
                        "policy is yours)")
    listed = doc.get("gstins") or []
    for number, item in enumerate(listed):
        gstin = str(item.get("gstin", "")) if isinstance(item, dict) else str(item)
        if not gstin_is_valid(gstin):
            line = where(path, item, "gstin") if isinstance(item, dict) else where(path, listed, number)
            problems.append(f"{line}: '{gstin}' is not a valid GSTIN (check character)")
        policy.gstins[gstin] = _text(path, item, "label", problems) if isinstance(item, dict) else None
    for item in doc.get("approved_asps") or []:
        approval = _approval(path, item, policy.gstins, problems)
        if approval:
            policy.approvals.append(approval)
    for item in doc.get("revocations") or []:
        if not isinstance(item, dict) or not all(item.get(k) for k in ("gstin", "asp", "at")):
            problems.append(f"{where(path, item)}: each revocation needs gstin, asp and at")
            continue
        gstin, asp, note = (_text(path, item, key, problems) for key in ("gstin", "asp", "note"))
        if gstin is not None and not gstin_is_valid(gstin):
            problems.append(f"{where(path, item, 'gstin')}: '{gstin}' is not a valid GSTIN (check character)")
        at = _when(item["at"])
        if at is None:
            problems.append(f"{where(path, item, 'at')}: 'at' must be a date-time like 03-11-2026 10:15 (IST), "
                            "from the year 0002 on")
            continue
        policy.revocations.append(Revocation(gstin or "", asp or "", at, note))
    policy.thresholds = _thresholds(path, doc, problems)
    policy.clients = _clients(path, doc, policy.gstins, problems)
    if problems:
        raise ConfigError(f"invalid policy {path}:\n  " + "\n  ".join(problems))
    return policy


def apply_policy(con: duckdb.DuckDBPyConnection, policy: Policy) -> None:
    """Replace the policy tables and the manual revocation events with ``policy``."""
    approved = [
        (a.asp, asp_key(a.asp), a.gsp, g, a.valid_from, a.valid_to) for a in policy.approvals for g in a.gstins
    ]
    aliases = sorted({(asp_key(name), asp_key(a.asp)) for a in policy.approvals for name in (a.asp, *a.aliases)})
    manual = [new_event("access_revoked", r.gstin, r.asp, r.at, "manual",
                        source_ref=f"{policy.path}: {r.note or 'revocations'}", imported_at=now())
              for r in policy.revocations]
    t = policy.thresholds
    with transaction(con):
        for table in ("policy_gstins", "policy_approved_asps", "policy_asp_aliases", "policy_thresholds"):
            con.execute(f"delete from {table}")
        if policy.gstins:
            con.executemany("insert into policy_gstins values (?, ?)", list(policy.gstins.items()))
        if approved:
            con.executemany("insert into policy_approved_asps values (?, ?, ?, ?, ?, ?)", approved)
        if aliases:
            con.executemany("insert into policy_asp_aliases values (?, ?)", aliases)
        con.execute(
            "insert into policy_thresholds (refresh_burst_window_s, refresh_burst_count, failed_access_spike_window_s, "
            "failed_access_spike_count, consent_expiring_days, max_consent_days, token_lifetime_s, silence_days) "
            "values (?, ?, ?, ?, ?, ?, ?, ?)",
            [t["refresh_burst_window_s"], t["refresh_burst_count"], t["failed_access_spike_window_s"],
             t["failed_access_spike_count"], t["consent_expiring_days"], t["max_consent_days"], t["token_lifetime_s"],
             t["silence_days"]],
        )
        stored = set(con.execute("select event_id, asp_name, source_ref from events where channel = 'manual'").fetchall())
        if stored != {(m["event_id"], m["asp_name"], m["source_ref"]) for m in manual}:
            # Only when they changed: rewritten rows would look like newly imported history (pair_history).
            con.execute("delete from events where channel = 'manual'")
            insert_events(con, manual)
