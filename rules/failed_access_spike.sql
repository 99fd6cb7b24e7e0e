-- id: failed_access_spike
-- title: Spike of failed API access attempts
-- severity: medium
-- description: At least failed_access_spike.count failed access attempts for one GSTIN within
--   failed_access_spike.window (default 5 in 1 hour), from the portal's access log. Someone
--   is trying credentials or a token that no longer works. One finding per GSTIN and hour (IST).
with failures as (
    select e.*, e.n - (t.failed_access_spike_count - 1) as back_n, t.failed_access_spike_window_s as window_s
    from (select event_id, gstin, asp_name, occurred_at,
                 row_number() over (partition by gstin order by occurred_at, event_id) as n
          from events where kind = 'access_attempt' and status = 'failed') e
    cross join policy_thresholds t
),
spikes as (  -- the failure "count - 1" places back is inside the window: count failures in it
    select f.gstin, f.n, b.n as first_n, b.occurred_at as first_at
    from failures f
    join failures b on b.gstin = f.gstin and b.n = f.back_n
    where epoch(f.occurred_at) - epoch(b.occurred_at) < f.window_s
),
evidence as (
    select s.gstin, s.first_at, x.event_id, x.asp_name, x.occurred_at
    from spikes s join failures x on x.gstin = s.gstin and x.n between s.first_n and s.n
)
select gstin,
       array_to_string(list_sort(list_distinct(list(asp_name))), ', ') as asp_name,
       min(first_at) as occurred_at,
       'Spike of failed API access attempts for ' || gstin as title,
       count(distinct event_id) || ' failed attempts by ' || array_to_string(list_sort(list_distinct(list(asp_name))), ', ')
         || ' from ' || strftime(min(first_at) at time zone 'Asia/Kolkata', '%d-%m-%Y %H:%M') || ' to '
         || strftime(max(occurred_at) at time zone 'Asia/Kolkata', '%d-%m-%Y %H:%M')
         || ' IST. Check Manage API Access > View Logs and revoke access you do not recognise.' as detail,
       list_distinct(list(event_id)) as event_ids,
       gstin || '|' || strftime(min(first_at) at time zone 'Asia/Kolkata', '%Y-%m-%d %H') as finding_key
from evidence
group by gstin, date_trunc('hour', first_at at time zone 'Asia/Kolkata')
