-- name: failed-access-per-day
-- description: Failed portal access attempts per GSTIN, ASP and day (IST).
-- params:
select cast(occurred_at_ist as date) as day_ist, gstin, asp_name, count(*) as failed
from access_log
where status = 'failed'
group by all
order by day_ist, gstin
