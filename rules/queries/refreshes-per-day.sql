-- name: refreshes-per-day
-- description: Token refreshes per GSTIN, ASP and day (IST); about 4 a day is one normal session.
-- params: since, until
select cast(occurred_at_ist as date) as day_ist, gstin, asp_name, count(*) as refreshes
from refreshes
where occurred_at_ist >= cast($since as date) and occurred_at_ist < cast($until as date) + interval 1 day
group by all
order by day_ist, gstin, asp_name
