-- name: weekly-trend
-- description: Week-by-week refreshes, consents, revocations and accesses of every GSTIN, or of one (-p gstin=...).
-- params: gstin?
select week_start_ist, gstin, asp_name, refreshes, consents, revocations, accesses_ok, accesses_failed
from weekly_summary
where $gstin is null or gstin = $gstin
order by week_start_ist, gstin, asp_name
