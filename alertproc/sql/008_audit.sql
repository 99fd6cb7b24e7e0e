-- The audit workflow (docs/schema.md "Triage", "Active tokens").
--
-- Triage: acknowledging or suppressing a finding is recorded in an append-only history kept
-- by finding_id, so a finding that detect recomputes keeps its state.
create sequence triage_ids start 1;

create table finding_triage (
    triage_id   bigint primary key,
    finding_id  varchar not null,
    action      varchar not null,   -- acknowledged | suppressed | reopened
    note        varchar,
    by_user     varchar not null,
    triaged_at  timestamptz not null,
    until_day   date                -- suppressed: its last day (IST); null: until reopened
);

-- Every finding with its current triage state: open unless its latest entry says otherwise;
-- a suppression whose last day has passed (IST) is open again.
create view findings_triaged as
with latest as (
    select * from finding_triage
    qualify row_number() over (partition by finding_id order by triage_id desc) = 1
)
select f.finding_id, f.rule_id, f.severity, f.gstin, f.asp_name, f.occurred_at,
       timezone('Asia/Kolkata', f.occurred_at) as occurred_at_ist, f.title, f.detail, f.event_ids,
       f.first_detected_at,
       case when l.action is null or l.action = 'reopened' then 'open'
            when l.action = 'suppressed' and l.until_day < cast(timezone('Asia/Kolkata', now()) as date) then 'open'
            else l.action end as triage_status,
       l.note as triage_note, l.by_user as triage_by, l.triaged_at as triage_at, l.until_day as suppressed_until
from findings f
left join latest l on l.finding_id = f.finding_id;

-- How long a portal token lives (token_without_alerts): six hours unless the policy says.
alter table policy_thresholds add column token_lifetime_s bigint default 21600;
