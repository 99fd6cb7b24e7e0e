-- name: last-seen
-- description: The last alert of each GSTIN and ASP, and how many hours ago it was (as of the newest event).
-- params:
select gstin, any_value(n.asp_name) as asp_name, timezone('Asia/Kolkata', max(occurred_at)) as last_ist,
       round((epoch((select max(occurred_at) from events)) - epoch(max(occurred_at))) / 3600, 1) as hours_before_newest
from events e join asp_names n using (asp_key)
where kind <> 'suspicious_alert'
group by gstin, n.pair_key
order by gstin, asp_name
