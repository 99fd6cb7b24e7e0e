-- Queries behind the HTML report. Parameters: $since, $until (UTC, until exclusive).

-- name: event_counts
-- an alert by mail and its SMS twin are one event (unique_events)
select kind, coalesce(status, '') as status, count(*) as n
from unique_events_in($since, $until)
group by all;

-- name: message_counts
select parse_status, count(*) as n
from messages
where received_at >= $since and received_at < $until
group by all;

-- name: finding_counts
-- the backlog: every finding still open at the end of the period, whenever it was first found
-- (acknowledged and suppressed ones are listed apart, not counted)
select severity, count(*) as n
from findings_triaged
where occurred_at < $until and triage_status = 'open'
group by all;

-- name: findings
-- the period's findings, and the backlog: every open one from before it (is_new marks the period's)
with listed as (
    select * from findings_triaged
    where (occurred_at >= $since or triage_status = 'open') and occurred_at < $until
),
-- each listed finding's ASP by its one name (asp_names) and the mailboxes its alerts came from
-- (IMAP accounts; a local import has none). Its events are found by equality (unnest), never
-- by list_contains in a join: that compared every finding with every event, minutes at 1 M.
of_events as (
    select fe.finding_id, any_value(n.asp_name) as asp_name,
           list(distinct m.account order by m.account) filter (where m.account is not null) as mailboxes
    from (select finding_id, unnest(event_ids) as event_id from listed) fe
    join events e on e.event_id = fe.event_id
    left join asp_names n on n.asp_key = e.asp_key
    left join messages m on m.sha256 = e.source_sha256
    group by fe.finding_id
)
select f.finding_id, f.rule_id, f.severity, f.gstin, g.label as gstin_label,
       coalesce(o.asp_name, f.asp_name) as asp_name,
       strftime(timezone('Asia/Kolkata', f.occurred_at), '%d-%m-%Y %H:%M') as occurred_ist,
       f.title, f.detail, len(f.event_ids) as evidence_count,
       f.triage_status, f.triage_note, f.triage_by, f.suppressed_until,
       strftime(timezone('Asia/Kolkata', f.triage_at), '%d-%m-%Y') as triage_day_ist,
       f.occurred_at >= $since as is_new,
       o.mailboxes
from listed f
left join policy_gstins g on g.gstin = f.gstin
left join of_events o on o.finding_id = f.finding_id
order by case f.severity when 'high' then 0 when 'medium' then 1 when 'low' then 2 else 3 end,
         f.occurred_at desc, f.rule_id;

-- name: pairs
select r.gstin, any_value(g.label) as gstin_label, n.pair_key, any_value(n.asp_name) as asp_name,
       -- one refresh alerted by e-mail and by SMS counts once (unique_events)
       count(*) filter (where r.kind = 'token_refreshed') as refreshes,
       count(*) filter (where r.kind = 'consent_granted') as consents,
       count(*) filter (where r.kind = 'access_revoked' or r.status = 'revoked') as revocations,
       count(*) filter (where r.kind = 'access_attempt') as accesses,
       strftime(timezone('Asia/Kolkata', max(r.occurred_at)), '%d-%m-%Y %H:%M') as last_seen_ist,
       bool_or(p.asp_key is not null) as approved
from unique_events_in($since, $until) r
join asp_names n on n.asp_key = r.asp_key
left join policy_gstins g on g.gstin = r.gstin
left join policy_approved_asps p on p.gstin = r.gstin and p.asp_key = n.pair_key
where r.occurred_at >= $since and r.occurred_at < $until
group by r.gstin, n.pair_key
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

-- name: forwarded
select strftime(timezone('Asia/Kolkata', received_at), '%d-%m-%Y %H:%M') as received_ist,
       from_addr, subject, parse_error, archive_path
from messages
where parse_status = 'forwarded'
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
       coalesce(n.asp_name, u.asp_name, '') as asp_name
from unique_events_in($since, $until) u left join asp_names n using (asp_key)
where gstin is not null
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
       coalesce(n.asp_name, a.asp_name, s.asp_name) as asp_name,  -- the ASP's one name (asp_names)
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
left join asp_names n on n.asp_key = coalesce(s.pair_key, a.pair_key)
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

-- name: last_alerts
-- Each GSTIN of the policy with its last alert (mail or SMS) before the period's end, ever, and
-- the whole days since then to that end (null: never): the clients' section.
select p.gstin, p.label as gstin_label,
       strftime(timezone('Asia/Kolkata', max(e.occurred_at)), '%d-%m-%Y %H:%M') as last_alert_ist,
       date_diff('day', max(e.occurred_at), $until) as days_since
from policy_gstins p
left join events e on e.gstin = p.gstin and e.channel in ('email', 'sms') and e.occurred_at < $until
group by p.gstin, p.label
order by p.gstin;

-- name: reconciliation
-- Does the mailbox see everything the portal saw? Per GSTIN: the portal's successful accesses
-- with no refresh or consent alert within a token lifetime before them (access_without_alert's
-- test), and — where the GSTIN got alerts by both mail and SMS this period — alerts by one
-- channel with no twin on the other (same kind and ASP within five minutes, as in unique_events).
with alerts as (
    select e.event_id, e.gstin, coalesce(a.asp_key, e.asp_key) as pair_key, e.asp_name, e.kind, e.channel, e.occurred_at
    from events e left join policy_asp_aliases a on a.alias_key = e.asp_key
    where e.kind in ('token_refreshed', 'consent_granted') and e.channel in ('email', 'sms') and e.asp_key is not null
),
accesses as (
    select x.event_id, x.gstin, x.asp_name, x.occurred_at, count(al.event_id) as alerts
    from events x
    left join policy_asp_aliases a on a.alias_key = x.asp_key
    cross join policy_thresholds t
    left join alerts al on al.gstin = x.gstin and al.pair_key = coalesce(a.asp_key, x.asp_key)
         and epoch(al.occurred_at) between epoch(x.occurred_at) - t.token_lifetime_s and epoch(x.occurred_at) + 3600
    where x.kind = 'access_attempt' and x.status = 'successful' and x.asp_key is not null
      and x.occurred_at >= $since and x.occurred_at < $until
    group by x.event_id, x.gstin, x.asp_name, x.occurred_at
),
in_period as (
    select a.*, exists (select 1 from alerts b where b.gstin = a.gstin and b.pair_key = a.pair_key and b.kind = a.kind
                        and b.channel <> a.channel
                        and abs(epoch(b.occurred_at) - epoch(a.occurred_at)) <= 300) as twinned
    from alerts a where a.occurred_at >= $since and a.occurred_at < $until
),
channels as (
    select gstin, count(*) filter (where channel = 'email') as mail, count(*) filter (where channel = 'sms') as sms,
           count(*) filter (where channel = 'email' and not twinned) as mail_only,
           count(*) filter (where channel = 'sms' and not twinned) as sms_only
    from in_period group by gstin
),
portal as (
    select gstin, count(*) as accesses, count(*) filter (where alerts = 0) as unseen from accesses group by gstin
)
select coalesce(c.gstin, p.gstin) as gstin, g.label as gstin_label,
       coalesce(p.accesses, 0) as accesses, coalesce(p.unseen, 0) as accesses_without_alert,
       coalesce(c.mail, 0) as mail_alerts, coalesce(c.sms, 0) as sms_alerts,
       case when c.mail > 0 and c.sms > 0 then c.mail_only end as mail_without_sms,
       case when c.mail > 0 and c.sms > 0 then c.sms_only end as sms_without_mail
from channels c
full join portal p on p.gstin = c.gstin
left join policy_gstins g on g.gstin = coalesce(c.gstin, p.gstin)
order by 1;

-- name: reconciliation_gaps
-- The gaps themselves (at most 100): what the portal or one channel saw and the mailbox did not.
with alerts as (
    select e.event_id, e.gstin, coalesce(a.asp_key, e.asp_key) as pair_key, e.asp_name, e.kind, e.channel, e.occurred_at
    from events e left join policy_asp_aliases a on a.alias_key = e.asp_key
    where e.kind in ('token_refreshed', 'consent_granted') and e.channel in ('email', 'sms') and e.asp_key is not null
),
unseen as (
    select 'portal access, no alert' as gap, x.gstin, x.asp_name, x.occurred_at
    from events x
    left join policy_asp_aliases a on a.alias_key = x.asp_key
    cross join policy_thresholds t
    where x.kind = 'access_attempt' and x.status = 'successful' and x.asp_key is not null
      and x.occurred_at >= $since and x.occurred_at < $until
      and not exists (select 1 from alerts al where al.gstin = x.gstin and al.pair_key = coalesce(a.asp_key, x.asp_key)
                      and epoch(al.occurred_at) between epoch(x.occurred_at) - t.token_lifetime_s
                                                    and epoch(x.occurred_at) + 3600)
),
both_channels as (
    select gstin from alerts where occurred_at >= $since and occurred_at < $until
    group by gstin having count(distinct channel) = 2
),
twinless as (
    select case when a.channel = 'email' then 'mail, no SMS' else 'SMS, no mail' end as gap, a.gstin, a.asp_name, a.occurred_at
    from alerts a
    where a.occurred_at >= $since and a.occurred_at < $until and a.gstin in (select gstin from both_channels)
      and not exists (select 1 from alerts b where b.gstin = a.gstin and b.pair_key = a.pair_key and b.kind = a.kind
                      and b.channel <> a.channel and abs(epoch(b.occurred_at) - epoch(a.occurred_at)) <= 300)
)
select gap, gstin, asp_name, strftime(timezone('Asia/Kolkata', occurred_at), '%d-%m-%Y %H:%M') as occurred_ist
from (select * from unseen union all select * from twinless)
order by gstin, occurred_at
limit 100;

-- name: evidence
-- The events behind each finding the report lists (the findings query's selection), with what
-- opens each: the archived mail, or the row of an SMS backup, access log or token export. The
-- first $shown of each of the period's findings, $backlog_shown of an older open one (those its
-- row in the findings table links to): `alertproc evidence` packs them all.
select f.finding_id, e.event_id, e.kind, coalesce(e.status, '') as status, e.channel, e.source_ref,
       strftime(timezone('Asia/Kolkata', e.occurred_at), '%d-%m-%Y %H:%M') as occurred_ist,
       coalesce(n.asp_name, e.asp_name) as asp_name, m.archive_path
from findings_triaged f
join (select finding_id, unnest(event_ids) as event_id from findings) fe on fe.finding_id = f.finding_id
join events e on e.event_id = fe.event_id
left join asp_names n on n.asp_key = e.asp_key
left join messages m on m.sha256 = e.source_sha256
where (f.occurred_at >= $since or f.triage_status = 'open') and f.occurred_at < $until
qualify row_number() over (partition by f.finding_id order by e.occurred_at, e.event_id)
        <= case when f.occurred_at >= $since then $shown else $backlog_shown end
order by f.finding_id, e.occurred_at, e.event_id;

-- name: finding_totals
-- How the findings in the database relate to the ones the report lists: the run summary
-- counts them all.
select count(*) as total,
       count(*) filter (where (occurred_at >= $since or triage_status = 'open') and occurred_at < $until) as listed,
       count(*) filter (where occurred_at >= $until) as after_period,
       count(*) filter (where occurred_at < $since and triage_status <> 'open') as triaged_before,
       count(*) filter (where occurred_at is null) as undated
from findings_triaged;
