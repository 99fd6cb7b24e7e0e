"""What the web app asks of the application object beyond the CLI's commands: its users, a
finding's page (evidence and history), the overview and the audit log. A part of
:class:`alertproc.app.alertproc.Alertproc` (it inherits this), kept apart to keep each file small;
it opens the database only through the object's ``_reading`` and ``_writing``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ..audit import approvals, triage
from ..audit.layers import template_dirs
from ..errors import ConfigError
from ..period import choose_period, parse_day
from ..storage import users
from ..storage.archive import Archive
from ..storage.queries import package_queries
from ..storage.store import records

WEB = "web.sql"


class Desk:
    """Users, finding pages and the overview (mixed into ``Alertproc``)."""

    ROLES = users.ROLES

    # --- users of the web app ------------------------------------------------------------

    def add_user(self, username: str, role: str, password: str, by: str = "cli", address: str = "cli") -> None:
        """Add a web app user (viewer, auditor or admin); recorded in the audit log."""
        with self._writing(doing="user add", create=True) as (con, _):
            users.add(con, username, role, password, by, address)

    def set_password(self, username: str, password: str, role: str | None = None, by: str = "cli",
                     address: str = "cli") -> None:
        """A new password (and, when given, role) for a user; recorded in the audit log."""
        with self._writing(doing="user passwd") as (con, _):
            users.set_password(con, username, password, by, address, role)

    def set_role(self, username: str, role: str, by: str = "cli", address: str = "cli") -> None:
        """A new role for a user; their sessions end (they log in again with the new role)."""
        with self._writing(doing="user role") as (con, _):
            users.set_role(con, username, role, by, address)

    def remove_user(self, username: str, by: str = "cli", address: str = "cli") -> None:
        """Remove a user: their sessions end at their next request."""
        with self._writing(doing="user remove") as (con, _):
            users.remove(con, username, by, address)

    def users(self) -> list[dict]:
        """Every user: name, role, when added and last changed (never the hash)."""
        return users.listed(self._reading())

    def login(self, username: str, password: str) -> str | None:
        """The role of ``username`` when ``password`` is theirs, else None."""
        return users.login(self._reading(), username, password)

    def role_of(self, username: str, logged_in_at: datetime | None = None) -> str | None:
        """A user's role now; None once removed, or when their password or role changed after
        ``logged_in_at`` (the web app then ends the session)."""
        return users.role_of(self._reading(), username, logged_in_at)

    def audit_log(self, limit: int = 200) -> list[dict]:
        """The latest changes made through the web app and `alertproc user`, newest first."""
        return records(self._reading(), package_queries(WEB)["audit_log"], {"limit": limit})

    def triage_from(self, username: str, address: str, finding_id: str, action: str, note: str | None,
                    until=None) -> dict:
        """:meth:`triage` by a web app user: the same history entry, plus a line in the audit log
        saying from which address."""
        with self._writing(doing=f"findings {action} (web)") as (con, _):
            entry = triage.record(con, finding_id, action, note, username, until)
            users.audit(con, username, address, f"finding {action}", entry["finding_id"], note)
        return entry

    def approve_from(self, username: str, address: str, finding_id: str, note: str, since=None,
                     until=None) -> list:
        """An admin's approval from an ``unexpected_asp`` finding's page: the decision `alertproc
        approve` records (its ASP for its GSTIN), plus a line in the audit log. The next detect
        applies it and closes the finding with the note."""
        found = self.finding(finding_id)
        if found["rule_id"] not in approvals.CLOSES or not found["gstin"] or not found["asp_name"]:
            raise ConfigError("only a finding of an ASP not approved for a GSTIN (unexpected_asp) can be approved")
        with self._writing(doing="approve (web)") as (con, _):
            made = approvals.record(con, "approve", [found["gstin"]], found["asp_name"], note, username,
                                    parse_day(since, "from") if since else None,
                                    parse_day(until, "until") if until else None)
            users.audit(con, username, address, "approve", f"{found['gstin']} {made[0].asp_name}",
                        f"decision #{made[0].approval_id}: {note}")
        return made

    # --- pages -------------------------------------------------------------------------------

    def finding(self, finding_id: str) -> dict:
        """One finding: its row, its evidence (each mail's sender verdict) and its triage history."""
        con = self._reading()
        queries = package_queries(WEB)
        found = records(con, queries["finding"], {"finding_id": finding_id})
        if not found:
            raise ConfigError(f"no finding {finding_id}")
        return {**found[0], "evidence": records(con, queries["evidence"], {"finding_id": finding_id}),
                "history": records(con, queries["history"], {"finding_id": finding_id})}

    def evidence_mail(self, finding_id: str, sha256: str) -> tuple[bytes, str]:
        """The raw bytes of a mail that is evidence of ``finding_id`` and its text as it may be
        shown (OTP digits masked); no other mail of the archive is reachable this way."""
        item = next((e for e in self.finding(finding_id)["evidence"] if e["sha256"] == sha256 and e["archive_path"]),
                    None)
        if item is None:
            raise ConfigError(f"mail {sha256[:12]} is not evidence of finding {finding_id[:12]}")
        raw = Archive(Path(self.settings.archive)).read(item["archive_path"])
        explained = self.explain(raw)
        return raw, explained.shown("\n\n".join(explained.texts))

    def gstin(self, gstin: str, since: str | None = None, until: str | None = None) -> dict:
        """A GSTIN's page: each ASP seen or approved on it (approved or not, since when, what it did)
        and the timeline of its consents, refreshes, revocations, accesses and token snapshots in a
        period (default: the last complete week)."""
        period = choose_period(None, since, until) if since or until else choose_period(None, None, None)
        con = self._reading()
        queries, gstin = package_queries(WEB), gstin.strip().upper()
        return {"gstin": gstin, "period": period, "asps": records(con, queries["gstin_asps"], {"gstin": gstin}),
                "events": records(con, queries["gstin_events"], {"gstin": gstin, "since": period.since,
                                                                 "until": period.until})}

    def asp(self, pair_key: str, since: str | None = None, until: str | None = None) -> dict:
        """An ASP's page: every GSTIN it ever touched (any spelling of its name), approved there or
        not, its last alert there, and what it did there in a period (default: the last
        complete week), counted once."""
        period = choose_period(None, since, until) if since or until else choose_period(None, None, None)
        con = self._reading()
        queries = package_queries(WEB)
        named = records(con, queries["asp_name"], {"pair_key": pair_key})[0]
        return {"pair_key": pair_key, "asp_name": named["asp_name"], "period": period,
                "gstins": records(con, queries["asp_gstins"], {"pair_key": pair_key, "keys": named["keys"] or [],
                                                               "since": period.since, "until": period.until})}

    def report_stylesheet(self) -> Path:
        """The report's stylesheet in effect (a templates_dir's over the shipped one): the web
        app serves it, so the app and the report share one style."""
        return next(folder / "report.css" for folder in template_dirs(self.settings) if (folder / "report.css").is_file())

    def overview(self) -> dict:
        """The open backlog by severity (and new this week), refreshes and findings per week
        (the last 12 weeks with either), and the operator's status."""
        con = self._reading()
        queries = package_queries(WEB)
        # Pairing mail and SMS twins over 12 weeks takes 0.5 s at 1 M events, and its result
        # changes only when events or the aliases do: it is kept until then.
        changed = tuple(records(con, queries["events_changed"])[0].values())
        kept = getattr(self, "_weekly_refreshes", None)
        if kept is None or kept[0] != changed:
            kept = (changed, {row["week"]: row["refreshes"] for row in records(con, queries["weekly_refreshes"])})
            self._weekly_refreshes = kept
        found = {row["week"]: row["findings"] for row in records(con, queries["weekly_findings"])}
        weeks = sorted(set(kept[1]) | set(found), reverse=True)[:12]
        trend = [{"week_ist": week.strftime("%d-%m-%Y"), "refreshes": kept[1].get(week, 0),
                  "findings": found.get(week, 0)} for week in weeks]
        return {"backlog": records(con, queries["backlog"]), "trend": trend, "health": self.status()}
