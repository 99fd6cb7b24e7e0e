-- id: refresh_burst
-- title: Unusually many token refreshes
-- severity: medium
-- description: More than refresh_burst.count refreshes for one (GSTIN, ASP) within
--   refresh_burst.window (default: more than 3 in 6 hours, where a 6-hour token needs about 1).
--   A misbehaving integration, or more than one party using the same ASP credentials. One
--   finding per (GSTIN, ASP) and day (IST).
with distinct_refreshes as (  -- one refresh alerted by e-mail and SMS counts once (SMS times are to the minute)
    select e.event_id, e.gstin, e.asp_name, e.occurred_at, coalesce(a.asp_key, e.asp_key) as pair_key,
           row_number() over (partition by e.gstin, coalesce(a.asp_key, e.asp_key), date_trunc('minute', e.occurred_at)
                              order by e.channel, e.event_id) as copy
    from events e
    left join policy_asp_aliases a on a.alias_key = e.asp_key
    where e.kind = 'token_refreshed' and e.asp_key is not null
),
refreshes as (
    select d.event_id, d.gstin, d.asp_name, d.occurred_at, d.pair_key, d.n, d.n - t.refresh_burst_count as back_n,
           t.refresh_burst_window_s as window_s
    from (select *, row_number() over (partition by gstin, pair_key order by occurred_at, event_id) as n
          from distinct_refreshes where copy = 1) d
    cross join policy_thresholds t
),
bursts as (  -- the refresh "count" places back is still inside the window: count + 1 in it
    -- (back_n is a column, so this is an equality join: linear, not refreshes x refreshes)
    select r.gstin, r.pair_key, r.n, b.n as first_n, b.occurred_at as first_at
    from refreshes r
    join refreshes b on b.gstin = r.gstin and b.pair_key = r.pair_key and b.n = r.back_n
    where epoch(r.occurred_at) - epoch(b.occurred_at) < r.window_s
),
evidence as (
    select b.gstin, b.pair_key, b.first_at, x.event_id, x.asp_name, x.occurred_at
    from bursts b join refreshes x on x.gstin = b.gstin and x.pair_key = b.pair_key and x.n between b.first_n and b.n
)
select gstin,
       min(asp_name) as asp_name,
       min(first_at) as occurred_at,
       'ASP "' || min(asp_name) || '" refreshed its token for ' || gstin || ' unusually often' as title,
       'Bursts of more than ' || max(t.refresh_burst_count) || ' refreshes within '
         || (max(t.refresh_burst_window_s) // 3600) || ' h between '
         || strftime(min(first_at) at time zone 'Asia/Kolkata', '%d-%m-%Y %H:%M') || ' and '
         || strftime(max(occurred_at) at time zone 'Asia/Kolkata', '%d-%m-%Y %H:%M')
         || ' IST. Ask the ASP why; check whether someone else uses its credentials.' as detail,
       list_distinct(list(event_id)) as event_ids,
       gstin || '|' || pair_key || '|' || cast(cast(min(first_at) at time zone 'Asia/Kolkata' as date) as varchar) as finding_key
from evidence, policy_thresholds t
group by gstin, pair_key, cast(first_at at time zone 'Asia/Kolkata' as date)
