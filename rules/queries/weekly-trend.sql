-- name: weekly-trend
-- description: Week-by-week refreshes, consents, revocations and accesses of one GSTIN.
-- params: gstin
select week_start_ist, asp_name, refreshes, consents, revocations, accesses_ok, accesses_failed
from weekly_summary
where gstin = $gstin
order by week_start_ist, asp_name
