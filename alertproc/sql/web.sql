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
from (select unnest(event_ids) as event_id from findings where finding_id = $finding_id) f
join events e on e.event_id = f.event_id
left join asp_names n on n.asp_key = e.asp_key
left join messages m on m.sha256 = e.source_sha256
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

-- name: weekly_refreshes
-- Refreshes (counted once) per IST week, the 12 weeks before the newest event (unique_events
-- over all time is slow at scale). The overview keeps it until events change (Desk.overview).
select date_trunc('week', timezone('Asia/Kolkata', occurred_at))::date as week, count(*) as refreshes
from unique_events_in((select max(occurred_at) from events) - interval 84 day, timestamptz 'infinity')
where kind = 'token_refreshed'
group by 1;

-- name: weekly_findings
select date_trunc('week', timezone('Asia/Kolkata', occurred_at))::date as week, count(*) as findings
from findings where occurred_at is not null
group by 1;

-- name: events_changed
-- What changes when the twins do: events (an import, a reparse; imported_at follows insertion
-- order) or the aliases that say which spellings are one ASP (the policy, a merge).
select (select count(*) from events) as events, (select max(imported_at) from events) as last_imported,
       (select md5(coalesce(string_agg(alias_key || '>' || asp_key, ',' order by alias_key, asp_key), ''))
        from policy_asp_aliases) as aliases;

-- name: audit_log
select strftime(timezone('Asia/Kolkata', at_time), '%d-%m-%Y %H:%M') as at_ist, username, address, action, target, detail
from web_audit order by audit_id desc limit $limit;

-- name: gstin_asps
-- Every ASP seen on a GSTIN or approved for it: its one name, approved or not and for when, what
-- it did (alerts counted once), first and last seen.
with seen as (
    select n.pair_key, any_value(n.asp_name) as asp_name,
           count(*) filter (where u.kind = 'token_refreshed') as refreshes,
           count(*) filter (where u.kind = 'consent_granted') as consents,
           count(*) filter (where u.kind = 'access_revoked' or u.status = 'revoked') as revocations,
           count(*) filter (where u.kind = 'access_attempt') as accesses,
           count(*) filter (where u.kind = 'active_token') as token_rows,
           min(u.occurred_at) as first_at, max(u.occurred_at) as last_at
    from unique_events u join asp_names n using (asp_key)
    where u.gstin = $gstin
    group by n.pair_key
),
approved as (
    select asp_key as pair_key, first(asp_name order by asp_name) as asp_name, min(valid_from) as valid_from,
           max(valid_to) as valid_to
    from policy_approved_asps where gstin = $gstin group by asp_key
)
select coalesce(s.pair_key, a.pair_key) as pair_key, coalesce(a.asp_name, s.asp_name) as asp_name,
       a.pair_key is not null as approved, a.valid_from, a.valid_to,
       coalesce(s.refreshes, 0) as refreshes, coalesce(s.consents, 0) as consents,
       coalesce(s.revocations, 0) as revocations, coalesce(s.accesses, 0) as accesses,
       coalesce(s.token_rows, 0) as token_rows,
       strftime(timezone('Asia/Kolkata', s.first_at), '%d-%m-%Y') as first_seen_ist,
       strftime(timezone('Asia/Kolkata', s.last_at), '%d-%m-%Y %H:%M') as last_seen_ist
from seen s full outer join approved a using (pair_key)
order by approved desc, asp_name;

-- name: gstin_events
-- The GSTIN's alerts (counted once), portal accesses and token snapshots in a period, per ASP,
-- for its timeline: consents with the day their validity ends.
select n.pair_key, coalesce(n.asp_name, u.asp_name) as asp_name,
       case when u.kind = 'access_attempt' then 'access ' || u.status
            when u.kind = 'access_revoked' then 'revocation' when u.kind = 'consent_granted' then 'consent'
            when u.kind = 'token_refreshed' then 'refresh' when u.kind = 'active_token' then 'token'
            else replace(u.kind, '_', ' ') end as lane,
       epoch(u.occurred_at) as at_s, epoch(u.valid_until) as until_s,
       strftime(timezone('Asia/Kolkata', u.occurred_at), '%d-%m-%Y %H:%M') as at_ist, u.seen_by
from unique_events_in($since, $until) u left join asp_names n using (asp_key)
where u.gstin = $gstin
  and u.kind in ('token_refreshed', 'consent_granted', 'access_revoked', 'access_attempt', 'active_token')
order by asp_name, u.occurred_at;

-- name: asp_gstins
-- Every GSTIN an ASP (any spelling, aliases resolved) touched, ever, approved there or not, with
-- its last alert; and what it did there in a period, counted once. Twins are paired over the
-- period's events of this ASP only: over all its events that took 1.6 s at 1 M.
-- $keys: the ASP's keys (every spelling, asp_name's query): asp_names costs 40 ms at 1 M events,
-- so it is asked once.
with ever as (
    select gstin, max(occurred_at) as last_at from events
    where asp_key in (select unnest($keys)) and gstin is not null
    group by gstin
),
in_period as (
    select u.gstin,
           count(*) filter (where u.kind = 'token_refreshed') as refreshes,
           count(*) filter (where u.kind = 'consent_granted') as consents,
           count(*) filter (where u.kind = 'access_attempt') as accesses
    from unique_events_in($since, $until, $keys) u
    where u.gstin is not null
    group by u.gstin
)
select e.gstin, g.label as gstin_label,
       exists (select 1 from policy_approved_asps p where p.gstin = e.gstin and p.asp_key = $pair_key) as approved,
       coalesce(i.refreshes, 0) as refreshes, coalesce(i.consents, 0) as consents, coalesce(i.accesses, 0) as accesses,
       strftime(timezone('Asia/Kolkata', e.last_at), '%d-%m-%Y %H:%M') as last_seen_ist
from ever e
left join in_period i using (gstin)
left join policy_gstins g on g.gstin = e.gstin
order by e.gstin;

-- name: asp_name
-- The ASP's one name and every key that stands for it.
select any_value(asp_name) as asp_name, list(asp_key) as keys from asp_names where pair_key = $pair_key;
