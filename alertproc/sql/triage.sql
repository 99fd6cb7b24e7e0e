-- Queries behind `alertproc findings`. The triage columns keep the names of the findings_triaged
-- view (triage_status, triage_note, triage_by) in every output, CSV and JSON included.

-- name: listed
-- $status: open, acknowledged, suppressed or all; every other filter is skipped when null.
-- $since/$until: IST days, both inclusive.
select finding_id, rule_id, severity, gstin, asp_name,
       strftime(occurred_at_ist, '%d-%m-%Y %H:%M') as occurred_ist, title,
       triage_status, triage_note, triage_by, suppressed_until
from findings_triaged
where ($status = 'all' or triage_status = $status)
  and ($rule is null or rule_id = $rule)
  and ($severity is null or severity = $severity)
  and ($gstin is null or gstin = upper($gstin))
  and ($asp is null or asp_name ilike '%' || $asp || '%')
  and ($since is null or cast(occurred_at_ist as date) >= $since)
  and ($until is null or cast(occurred_at_ist as date) <= $until)
order by case severity when 'high' then 0 when 'medium' then 1 when 'low' then 2 else 3 end,
         occurred_at desc, finding_id
