-- The Parquet lake (alertproc/lake.py, docs/scale.md). `findings` is in the portable subset:
-- DuckDB runs it as written, Spark transpiled by sqlglot.

-- name: events
-- Observed events only: manual revocations come from the policy at detect time.
select *, strftime(occurred_at, '%Y-%m') as month
from events
where channel <> 'manual' and ($exported_until is null or imported_at > $exported_until);

-- name: messages
select *, coalesce(strftime(received_at, '%Y-%m'), 'undated') as month
from messages
where $exported_until is null or imported_at > $exported_until;

-- name: findings
-- A version of a finding is what it said: a finding whose evidence grew gets a new row, and
-- the newest row per finding_id (by last_detected_at) is the current one.
select n.finding_id, n.rule_id, n.severity, n.gstin, n.asp_name, n.occurred_at, n.title, n.detail, n.event_ids,
       coalesce(p.first_detected_at, n.first_detected_at) as first_detected_at, n.last_detected_at,
       n.version_id, strftime(coalesce(n.occurred_at, n.first_detected_at), '%Y-%m') as month
from (select *, sha256(finding_id || '|' || title || '|' || coalesce(detail, '') || '|'
                       || array_to_string(event_ids, ',')) as version_id
      from findings) n
left join (select finding_id, min(first_detected_at) as first_detected_at
           from lake_findings group by finding_id) p on p.finding_id = n.finding_id
where not exists (select 1 from lake_findings l where l.version_id = n.version_id);
