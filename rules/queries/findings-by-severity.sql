-- name: findings-by-severity
-- description: Open findings of a severity or worse (high, medium, low, info), newest first; acknowledged and suppressed ones are left out.
-- params: severity
select severity, rule_id, gstin, asp_name, occurred_at_ist, title, triage_status
from findings_triaged
where triage_status = 'open'
  and list_position(['high', 'medium', 'low', 'info'], severity) <= list_position(['high', 'medium', 'low', 'info'], $severity)
order by occurred_at_ist desc
