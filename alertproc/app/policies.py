"""The policy as people work with it (#32): approvals recorded as decisions, the effective
policy with where each entry comes from, and a first policy drafted from what the database
has seen. A part of :class:`alertproc.app.alertproc.Alertproc` (it inherits this); it opens the
database only through the object's ``_reading`` and ``_writing``."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from ..audit import approvals, registry, triage
from ..audit.draft import draft
from ..audit.policy import Policy, no_policy, policy_of
from ..errors import ConfigError
from ..period import parse_day


class Policies:
    """Approve, unapprove, the effective policy and the drafted one (mixed into ``Alertproc``)."""

    def _scope(self, gstins: list[str] | tuple[str, ...], client: str | None) -> tuple[list[str], str | None]:
        """The GSTINs a decision covers: those given, or every GSTIN of ``client``."""
        if bool(gstins) == bool(client):
            raise ConfigError("name the GSTINs with --gstin (repeatable) or a client with --client, one of the two")
        if client:
            found = self._client(policy_of(self.settings), client)
            return list(found.gstins), found.name
        return [g.strip().upper() for g in gstins], None

    def approve(self, asp: str, *, gstins: list[str] | tuple[str, ...] = (), client: str | None = None,
                since: str | date | None = None, until: str | date | None = None, note: str = "",
                by: str | None = None, action: str = "approve") -> tuple[list[approvals.Decision], list[str]]:
        """Record the decision that ``asp`` is approved for ``gstins`` (or every GSTIN of
        ``client``) from ``since`` to ``until`` (IST days, inclusive; open-ended when not given);
        the next detect applies it. Returns the decisions and warnings (an ASP or GSTIN no
        alert has named: allowed, but maybe a typo)."""
        covered, client_name = self._scope(gstins, client)
        valid_from = parse_day(since, "from") if since else None
        valid_to = parse_day(until, "until") if until else None
        with self._writing(doing=action, create=True) as (con, _):
            warnings = approvals.unseen(con, covered, asp)
            made = approvals.record(con, action, covered, asp, note, by or triage.who(), valid_from, valid_to,
                                    client_name)
        return made, warnings

    def unapprove(self, asp: str, *, gstins: list[str] | tuple[str, ...] = (), client: str | None = None,
                  since: str | date | None = None, note: str = "",
                  by: str | None = None) -> tuple[list[approvals.Decision], list[str]]:
        """Record that ``asp`` is no longer approved for ``gstins`` (or ``client``'s) from
        ``since`` (default today, IST) on; what happened before stays approved."""
        return self.approve(asp, gstins=gstins, client=client, since=since, note=note, by=by, action="unapprove")

    def effective_policy(self) -> Policy:
        """The policy file with every recorded decision laid over it; each approval's ``source``
        says where it comes from (the file's line, or the decision)."""
        return approvals.layered(policy_of(self.settings) or no_policy(), self.decisions())

    def decisions(self) -> list[approvals.Decision]:
        """Every approval decision recorded, oldest first."""
        con = self._reading(missing_ok=True)
        return approvals.decisions(con) if con is not None else []

    def asps(self) -> tuple[list[dict], list[tuple[dict, dict, float]]]:
        """The registry of ASPs seen (one name, spellings, GSPs, GSTINs, alerts, approved) and
        the pairs whose names look like one vendor the key does not merge (merge suggestions)."""
        rows = registry.listed(self._reading())
        return rows, registry.suggestions(rows)

    def merge_asp(self, alias: str, into: str, note: str, by: str | None = None) -> dict:
        """Record that ``alias`` is another spelling of ``into``; the next detect applies it
        (rules, reports, exports and queries then show one name)."""
        with self._writing(doing="asp merge") as (con, _):
            return registry.record_merge(con, alias, into, note, by or triage.who())

    def draft_policy(self, out: str | Path) -> Path:
        """Write a commented policy drafted from what the database has seen to ``out`` (never
        over an existing file); it loads as a policy as it is."""
        out = Path(out)
        if out.exists() or out.is_symlink():
            raise ConfigError(f"{out} exists: the draft never overwrites a file (give --out NEW.yaml)")
        text = draft(self._reading())
        with open(out, "x", encoding="utf-8") as handle:  # "x": a file made meanwhile is not overwritten either
            handle.write(text)
        return out
