-- Queries behind the web app (alertproc/web): a finding's page and the overview.

-- name: finding
select f.finding_id, f.rule_id, f.severity, f.gstin, g.label as gstin_label, f.asp_name,
       strftime(f.occurred_at_ist, '%d-%m-%Y %H:%M') as occurred_ist, f.title, f.detail,
       f.triage_status, f.triage_note, f.triage_by, f.suppressed_until,
       strftime(timezone('Asia/Kolkata', f.first_detected_at), '%d-%m-%Y %H:%M') as first_detected_ist
from findings_triaged f left join policy_gstins g on g.gstin = f.gstin
where f.finding_id = $finding_id;

-- name: evidence
-- The events behind one finding, with the message each came from (mail: its sender verdict).
select e.event_id, e.kind, coalesce(e.status, '') as status, e.channel, e.source_ref,
       strftime(timezone('Asia/Kolkata', e.occurred_at), '%d-%m-%Y %H:%M') as occurred_ist,
       coalesce(n.asp_name, e.asp_name) as asp_name, m.sha256, m.archive_path, m.from_addr, m.subject,
       m.sender_check, m.sender_detail
from findings f
join events e on list_contains(f.event_ids, e.event_id)
left join asp_names n on n.asp_key = e.asp_key
left join messages m on m.sha256 = e.source_sha256
where f.finding_id = $finding_id
order by e.occurred_at, e.event_id;

-- name: history
select action, note, by_user, strftime(timezone('Asia/Kolkata', triaged_at), '%d-%m-%Y %H:%M') as at_ist,
       until_day
from finding_triage where finding_id = $finding_id order by triage_id;

-- name: backlog
select severity, count(*) as open,
       count(*) filter (where occurred_at >= now() - interval 7 day) as new_this_week
from findings_triaged where triage_status = 'open'
group by severity
order by case severity when 'high' then 0 when 'medium' then 1 when 'low' then 2 else 3 end;

-- name: weekly_trend
-- Refreshes (counted once) and findings per IST week, the last 12 weeks with any.
with refreshes_per_week as (
    select date_trunc('week', timezone('Asia/Kolkata', occurred_at))::date as week, count(*) as refreshes
    from unique_events where kind = 'token_refreshed' group by 1
),
findings_per_week as (
    select date_trunc('week', timezone('Asia/Kolkata', occurred_at))::date as week, count(*) as findings
    from findings group by 1
)
select strftime(week, '%d-%m-%Y') as week_ist, coalesce(r.refreshes, 0) as refreshes, coalesce(f.findings, 0) as findings
from refreshes_per_week r full outer join findings_per_week f using (week)
where week is not null
order by week desc
limit 12;

-- name: audit_log
select strftime(timezone('Asia/Kolkata', at_time), '%d-%m-%Y %H:%M') as at_ist, username, address, action, target, detail
from web_audit order by audit_id desc limit $limit;
