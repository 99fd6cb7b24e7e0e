-- Queries behind the HTML report. Parameters: $since, $until (UTC, until exclusive).

-- name: event_counts
select kind, coalesce(status, '') as status, count(*) as n
from events
where occurred_at >= $since and occurred_at < $until
group by all;

-- name: message_counts
select parse_status, count(*) as n
from messages
where received_at >= $since and received_at < $until
group by all;

-- name: finding_counts
select severity, count(*) as n
from findings
where occurred_at >= $since and occurred_at < $until
group by all;

-- name: findings
select f.finding_id, f.rule_id, f.severity, f.gstin, g.label as gstin_label, f.asp_name,
       strftime(timezone('Asia/Kolkata', f.occurred_at), '%d-%m-%Y %H:%M') as occurred_ist,
       f.title, f.detail, len(f.event_ids) as evidence_count,
       list(distinct m.archive_path order by m.archive_path) filter (where m.archive_path is not null) as archive_paths
from findings f
left join policy_gstins g on g.gstin = f.gstin
left join events e on list_contains(f.event_ids, e.event_id)
left join messages m on m.sha256 = e.source_sha256
where f.occurred_at >= $since and f.occurred_at < $until
group by f.finding_id, f.rule_id, f.severity, f.gstin, g.label, f.asp_name, f.occurred_at, f.title,
         f.detail, f.event_ids
order by case f.severity when 'high' then 0 when 'medium' then 1 when 'low' then 2 else 3 end,
         f.occurred_at, f.rule_id;

-- name: pairs
with resolved as (
    select e.*, coalesce(a.asp_key, e.asp_key) as pair_key
    from events e left join policy_asp_aliases a on a.alias_key = e.asp_key
    where e.asp_key is not null and e.occurred_at >= $since and e.occurred_at < $until
)
select r.gstin, any_value(g.label) as gstin_label, r.pair_key, mode(r.asp_name) as asp_name,
       count(*) filter (where r.kind = 'token_refreshed') as refreshes,
       count(*) filter (where r.kind = 'consent_granted') as consents,
       count(*) filter (where r.kind = 'access_revoked' or r.status = 'revoked') as revocations,
       count(*) filter (where r.kind = 'access_attempt') as accesses,
       strftime(timezone('Asia/Kolkata', max(r.occurred_at)), '%d-%m-%Y %H:%M') as last_seen_ist,
       bool_or(p.asp_key is not null) as approved
from resolved r
left join policy_gstins g on g.gstin = r.gstin
left join policy_approved_asps p on p.gstin = r.gstin and p.asp_key = r.pair_key
group by r.gstin, r.pair_key
order by r.gstin, asp_name;

-- name: unparsed
select strftime(timezone('Asia/Kolkata', received_at), '%d-%m-%Y %H:%M') as received_ist,
       from_addr, subject, kind, parse_error, archive_path
from messages
where parse_status = 'unparsed'
  and (received_at is null or (received_at >= $since and received_at < $until))
order by received_at;
