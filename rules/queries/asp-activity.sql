-- name: asp-activity
-- description: Which ASPs touched a GSTIN between two dates (IST, inclusive), with counts per kind.
-- params: gstin, since, until
-- An alert by mail and its SMS twin count once (unique_events); each ASP under its one name.
select n.asp_name, kind, coalesce(status, '') as status, count(*) as events,
       min(timezone('Asia/Kolkata', occurred_at)) as first_ist, max(timezone('Asia/Kolkata', occurred_at)) as last_ist
from unique_events u join asp_names n using (asp_key)
where gstin = $gstin
  and timezone('Asia/Kolkata', occurred_at) >= cast($since as date)
  and timezone('Asia/Kolkata', occurred_at) < cast($until as date) + interval 1 day
group by all
order by asp_name, kind, status
