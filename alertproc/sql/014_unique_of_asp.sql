-- unique_events_in of one ASP (#31, at scale): an ASP's page counts what it did on every
-- GSTIN over all time, and pairing twins over every event took 1.9 s at 1 M events. Twins pair
-- within one ASP only (partition by kind, GSTIN and ASP), so the events of the ASP's spellings
-- (asp_keys, a list) are paired alone with the same result. Migration 012's macro, restated
-- with that optional third argument (migrations never change once released).
create or replace macro unique_events_in(since_ts, until_ts, asp_keys := null) as table
with marked as (
    select e.*, coalesce(a.asp_key, e.asp_key) as pair_key,
           coalesce(e.channel in ('email', 'sms') and e.gstin is not null and e.asp_key is not null
                    and e.kind in ('token_refreshed', 'consent_granted', 'access_revoked'), false) as twinable
    from events e left join policy_asp_aliases a on a.alias_key = e.asp_key
    where e.occurred_at >= since_ts - interval 5 minute and e.occurred_at < until_ts + interval 5 minute
      and (asp_keys is null or list_contains(asp_keys, e.asp_key))
),
gaps as (
    select *, coalesce(epoch(occurred_at) - epoch(lag(occurred_at) over alerts), 1e12) > 300 as starts_burst
    from marked where twinable
    window alerts as (partition by kind, gstin, pair_key order by occurred_at, event_id)
),
bursts as (
    select *, sum(starts_burst::int) over (partition by kind, gstin, pair_key order by occurred_at, event_id
                                           rows between unbounded preceding and current row) as burst
    from gaps
),
ranked as (
    select *, row_number() over (partition by kind, gstin, pair_key, burst, channel order by occurred_at, event_id) as nth,
           count(*) filter (where channel = 'email') over (partition by kind, gstin, pair_key, burst) as by_mail,
           count(*) filter (where channel = 'sms') over (partition by kind, gstin, pair_key, burst) as by_sms
    from bursts
)
select event_id, kind, gstin, gstin_valid, asp_name, asp_key, gsp_name, occurred_at, valid_until, channel, status,
       format_id, source_sha256, source_ref, imported_at,
       case when channel = 'email' and nth <= by_sms then 'email+sms' else channel end as seen_by
from ranked
where (channel = 'email' or nth > by_mail) and occurred_at >= since_ts and occurred_at < until_ts
union all
select event_id, kind, gstin, gstin_valid, asp_name, asp_key, gsp_name, occurred_at, valid_until, channel, status,
       format_id, source_sha256, source_ref, imported_at, channel as seen_by
from marked where not twinable and occurred_at >= since_ts and occurred_at < until_ts;
