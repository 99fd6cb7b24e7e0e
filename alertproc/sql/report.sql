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
       list(distinct m.archive_path order by m.archive_path) filter (where m.archive_path is not null) as archive_paths,
       -- which mailbox the alerts came from: the IMAP account, or the kind of local source
       list(distinct coalesce(m.account, m.source) order by coalesce(m.account, m.source))
           filter (where m.sha256 is not null) as mailboxes
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
       -- one refresh alerted by e-mail and by SMS counts once (SMS times are to the minute)
       count(distinct date_trunc('minute', r.occurred_at)) filter (where r.kind = 'token_refreshed') as refreshes,
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

-- name: suspicious
select strftime(timezone('Asia/Kolkata', received_at), '%d-%m-%Y %H:%M') as received_ist,
       from_addr, subject, sender_check, sender_detail, archive_path
from messages
where parse_status = 'suspicious'
  and (received_at is null or (received_at >= $since and received_at < $until))
order by received_at;

-- name: timeline
select gstin,
       case when kind = 'access_attempt' then 'access ' || status
            when kind = 'access_revoked' then 'revocation'
            when kind = 'consent_granted' then 'consent'
            when kind = 'token_refreshed' then 'refresh'
            else replace(kind, '_', ' ') end as lane,
       epoch(occurred_at) as at_s,
       strftime(timezone('Asia/Kolkata', occurred_at), '%d-%m %H:%M') as at_ist,
       coalesce(asp_name, '') as asp_name
from events
where occurred_at >= $since and occurred_at < $until and gstin is not null
  and kind in ('token_refreshed', 'consent_granted', 'access_revoked', 'access_attempt', 'api_access_changed')
order by gstin, occurred_at;

-- name: inventory
-- Also $from and $cached: with $cached, what occurred before $from comes from pair_history
-- (see alertproc/inventory.py) and only the events from $from on are read.
with partials as (
    select gstin, asp_key, asp_name, events, 0 as events_in_period, last_seen, consent_at, consent_until,
           consent_until_at, revoked_at
    from pair_history where $cached
    union all
    select * from pair_partials($from, $until, $since)
),
named as (
    select p.gstin, coalesce(a.asp_key, p.asp_key) as pair_key, p.asp_name, sum(events) as events,
           sum(events_in_period) as events_in_period, max(last_seen) as last_seen, max(consent_at) as consent_at,
           arg_max(consent_until, consent_until_at) as consent_until, max(consent_until_at) as consent_until_at,
           max(revoked_at) as revoked_at
    from partials p left join policy_asp_aliases a on a.alias_key = p.asp_key
    group by all
),
seen as (
    select gstin, pair_key, first(asp_name order by events desc, asp_name) as asp_name,
           sum(events_in_period) as events_in_period, max(last_seen) as last_seen, max(consent_at) as consent_at,
           arg_max(consent_until, consent_until_at) as consent_until, max(revoked_at) as revoked_at
    from named group by gstin, pair_key
),
approved as (
    select gstin, asp_key as pair_key, any_value(asp_name) as asp_name, min(valid_from) as valid_from, max(valid_to) as valid_to
    from policy_approved_asps group by gstin, asp_key
)
select coalesce(s.gstin, a.gstin) as gstin, g.label as gstin_label,
       coalesce(a.asp_name, s.asp_name) as asp_name,
       a.pair_key is not null as approved,
       coalesce(s.events_in_period, 0) as events_in_period,
       strftime(timezone('Asia/Kolkata', s.last_seen), '%d-%m-%Y %H:%M') as last_seen_ist,
       case when s.consent_at is null then 'none on record'
            when s.revoked_at > s.consent_at then 'revoked ' || strftime(timezone('Asia/Kolkata', s.revoked_at), '%d-%m-%Y')
            when coalesce(s.consent_until, s.consent_at + to_days((select max_consent_days from policy_thresholds))) < $until then 'ended ' || strftime(timezone('Asia/Kolkata', coalesce(s.consent_until, s.consent_at + to_days((select max_consent_days from policy_thresholds)))), '%d-%m-%Y')
            else 'active until ' || strftime(timezone('Asia/Kolkata', coalesce(s.consent_until, s.consent_at + to_days((select max_consent_days from policy_thresholds)))), '%d-%m-%Y %H:%M') end as consent
from seen s
full outer join approved a on a.gstin = s.gstin and a.pair_key = s.pair_key
left join policy_gstins g on g.gstin = coalesce(s.gstin, a.gstin)
order by gstin, approved desc, asp_name;

-- name: coverage
-- GSTINs of the policy that had refreshes in the week before the period: a day of the period
-- with no alert at all for them means a broken mail rule, a silent ASP, or a stopped sync.
with expected as (
    select distinct gstin from events
    where kind = 'token_refreshed' and occurred_at >= $since - interval 7 day and occurred_at < $since
      and gstin in (select gstin from policy_gstins)
),
days as (
    select cast(d as date) as day
    from range(cast(timezone('Asia/Kolkata', $since) as date), cast(timezone('Asia/Kolkata', $until) as date), interval 1 day) t(d)
),
counts as (
    select gstin, cast(timezone('Asia/Kolkata', occurred_at) as date) as day, count(*) as n
    from events where occurred_at >= $since and occurred_at < $until group by all
)
select x.gstin, g.label as gstin_label, strftime(d.day, '%a %d-%m-%Y') as day
from expected x cross join days d
left join counts c on c.gstin = x.gstin and c.day = d.day
left join policy_gstins g on g.gstin = x.gstin
where c.n is null
order by x.gstin, d.day;

-- name: silent_gstins
select p.gstin, p.label as gstin_label
from policy_gstins p
where not exists (select 1 from events e where e.gstin = p.gstin and e.occurred_at >= $since and e.occurred_at < $until)
order by p.gstin;
