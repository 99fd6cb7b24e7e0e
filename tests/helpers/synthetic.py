"""Generated events at any scale that make every shipped rule fire (tests and bench/).

Many (GSTIN, ASP) pairs (``write_policy`` writes a policy that knows most of their GSTINs)
refresh about every six hours, going back in time from 2026-11-20; every pair gets a consent
every 30 days (some valid for only a few days), now and then a revocation followed by
refreshes, access-log entries and API-access switches.
Clusters of refreshes and of failed accesses make bursts and spikes; unapproved ASPs,
unknown and invalid GSTINs and spoof suspects are mixed in. Written straight into
``events`` by DuckDB (``range``), so ten million rows take seconds, and the same seed
always gives the same rows.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pyarrow as pa
import yaml

from alertproc.domain import asp_key, gstin_check_char, gstin_is_valid

END = datetime(2026, 11, 20, tzinfo=timezone.utc)
POLICY_GSTINS = ("27AAPFU0939F1ZV", "29AAPFU0939F1ZR", "07AAPFU0939F1ZX")  # rules/policy.yaml
ACME, ACME_ALIAS = "Acme Tax Cloud Pvt Ltd", "ACME TAX CLOUD PRIVATE LIMITED"  # approved everywhere
LEDGERLINE = "LedgerLine Solutions Private Limited"  # approved for 29AAPFU0939F1ZR only
SHADOW = "Shadow Filings LLP"  # never approved
GSPS = {ACME: "Example GSP Ltd", ACME_ALIAS: "Example GSP Ltd", LEDGERLINE: "Suvidha Connect Ltd", SHADOW: "Example GSP Ltd"}
_FIRST = [(g, a) for g in POLICY_GSTINS for a in (ACME, LEDGERLINE, SHADOW)]
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _gstin(n: int) -> str:
    """A valid GSTIN of its own for every ``n``: four digits of it, and letters for the rest."""
    rest, letters = n // 10000, ""
    for _ in range(5):
        rest, digit = divmod(rest, 26)
        letters += _LETTERS[digit]
    body = f"{10 + n % 20:02d}{letters}{n % 10000:04d}A1Z"
    return body + gstin_check_char(body)


def _pair(pid: int) -> tuple[str, str]:
    if pid < len(_FIRST):
        return _FIRST[pid]
    asp = SHADOW if pid % 25 == 2 else LEDGERLINE if pid % 10 == 1 else ACME_ALIAS if pid % 7 == 0 else ACME
    return (_gstin(pid) if pid != 10 else "27AAPFU0939F1ZA"), asp  # pid 10: wrong check character


def pair_count(events: int) -> int:
    """How many (GSTIN, ASP) pairs ``events`` events are spread over: ~1,500 events each."""
    return max(20, min(20_000, events // 1500))


def pairs(count: int) -> pa.Table:
    """``count`` distinct (GSTIN, ASP) pairs: the policy's GSTINs with an approved, a partly
    approved and an unapproved ASP, then one GSTIN each, mostly with the approved ASP."""
    rows = []
    for pid in range(count):
        gstin, asp = _pair(pid)
        rows.append((pid, gstin, gstin_is_valid(gstin), asp, asp_key(asp), GSPS[asp]))
    names = ["pid", "gstin", "gstin_valid", "asp_name", "asp_key", "gsp_name"]
    return pa.Table.from_arrays([pa.array(column) for column in zip(*rows)], names=names)


def write_policy(path: Path, events: int) -> Path:
    """rules/policy.yaml plus the generated GSTINs, except every 50th (left unknown) and the invalid one."""
    gstins = list(POLICY_GSTINS) + [_pair(pid)[0] for pid in range(len(_FIRST), pair_count(events))
                                    if pid % 50 != 9 and pid != 10]
    doc = yaml.safe_load((Path(__file__).resolve().parents[2] / "rules" / "policy.yaml").read_text())
    doc["gstins"] = [{"gstin": g} for g in gstins]
    for approval in doc["approved_asps"]:
        approval.pop("from", None)  # approved for the whole generated history
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def firm_gstin(n: int) -> str:
    """The ``n``-th GSTIN of a CA firm's clients (valid, a state code of its own among the first 37)."""
    return _gstin(100_000 + n)


def firm_pairs(gstins: int) -> pa.Table:
    """A CA firm's book: ``gstins`` GSTINs, each with two approved ASPs (a practice tool and
    the client's own), so every pair is an approved one."""
    rows = [(pid, firm_gstin(pid // 2), True, asp, asp_key(asp), GSPS[asp])
            for pid, asp in ((pid, (ACME, LEDGERLINE)[pid % 2]) for pid in range(2 * gstins))]
    names = ["pid", "gstin", "gstin_valid", "asp_name", "asp_key", "gsp_name"]
    return pa.Table.from_arrays([pa.array(column) for column in zip(*rows)], names=names)


def write_firm_policy(path: Path, gstins: int, per_client: int) -> Path:
    """The firm's policy: its GSTINs, both ASPs approved for all, clients of ``per_client`` GSTINs."""
    every = [firm_gstin(n) for n in range(gstins)]
    doc = {"gstins": [{"gstin": g} for g in every],
           "approved_asps": [{"asp": ACME, "aliases": [ACME_ALIAS], "gstins": ["*"]},
                             {"asp": LEDGERLINE, "gstins": ["*"]}],
           "clients": [{"name": f"Client {n // per_client + 1:03d}", "gstins": every[n:n + per_client]}
                       for n in range(0, gstins, per_client)]}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def generate(con: duckdb.DuckDBPyConnection, count: int, pair_table: pa.Table | None = None) -> int:
    """Insert about ``count`` generated events into ``events`` over ``pair_table`` (default:
    :func:`pairs` for that many events); return how many."""
    pair_table = pairs(pair_count(count)) if pair_table is None else pair_table  # noqa: F841 (read by name)
    n_pairs = pair_table.num_rows
    before = con.execute("select count(*) from events").fetchall()[0][0]
    con.execute("""
        insert into events
        with main as (
            select i, i % $pairs as pid, i // $pairs as k from range($count) t(i)
        ),
        typed as (
            select m.*, case when k % 120 = 0 then 'consent_granted'
                             when k % 997 = 500 then 'access_revoked'
                             when k % 331 = 7 then 'access_attempt'
                             when k % 1009 = 11 then 'api_access_changed'
                             when i % 4999 = 3 then 'suspicious_alert'
                             else 'token_refreshed' end as kind,
                   $end - k * interval 6 hour - (pid % 300) * interval 1 minute as ts
            from main m
        ),
        bursts as (  -- five refreshes within three hours
            select j // 5 % $pairs as pid, 'token_refreshed' as kind, null as status,
                   $end - (j // 5) * interval 13 hour + (j % 5) * interval 40 minute - interval 3 hour as ts, j
            from range($count // 500) t(j)
        ),
        failures as (  -- six failed accesses within 35 minutes
            select j // 6 % $pairs as pid, 'access_attempt' as kind, 'failed' as status,
                   $end - (j // 6) * interval 7 hour + (j % 6) * interval 7 minute - interval 1 hour as ts, j
            from range($count // 200) t(j)
        ),
        snapshots as (  -- the portal's Active Tokens list, seen 7 hours after the last alert
            select j % $pairs as pid, 'active_token' as kind, 'active' as status, $end + interval 7 hour as ts, j
            from range($count // 2000) t(j)
        ),
        unseen as (  -- accesses the portal logged 8 hours after the last alert
            select (j * 7) % $pairs as pid, 'access_attempt' as kind, 'successful' as status,
                   $end + interval 8 hour as ts, j
            from range($count // 2000) t(j)
        ),
        all_rows as (
            select 'g' || i as tag, pid, kind, ts,
                   case kind when 'access_attempt' then (case when k % 5 = 0 then 'failed' else 'successful' end)
                             when 'api_access_changed' then (case when pid % 2 = 0 then 'disabled' else 'enabled' end)
                             when 'suspicious_alert' then 'auth_fail' end as status,
                   case when kind = 'consent_granted' then ts + (3 + (pid * 7) % 30) * interval 1 day end as valid_until,
                   case when i % 7 = 0 and kind = 'token_refreshed' then 'sms'
                        when kind = 'access_attempt' then 'portal_log' else 'email' end as channel
            from typed
            union all select 'b' || j, pid, kind, ts, status, null, 'email' from bursts
            union all select 'f' || j, pid, kind, ts, status, null, 'portal_log' from failures
            union all select 's' || j, pid, kind, ts, status, null, 'portal_tokens' from snapshots
            union all select 'u' || j, pid, kind, ts, status, null, 'portal_log' from unseen
        )
        select md5('synthetic|' || r.tag), r.kind, p.gstin, p.gstin_valid,
               case when r.kind = 'api_access_changed' then null else p.asp_name end,
               case when r.kind = 'api_access_changed' then null else p.asp_key end,
               p.gsp_name, r.ts, r.valid_until, r.channel, r.status, 'synthetic', null, 'synthetic', $end
        from all_rows r join pair_table p using (pid)
    """, {"pairs": n_pairs, "count": count, "end": END})
    return con.execute("select count(*) from events").fetchall()[0][0] - before
