-- name: findings-by-severity
-- description: Findings of a severity or worse (high, medium, low, info), newest first.
-- params: severity
select severity, rule_id, gstin, asp_name, occurred_at_ist, title
from findings_ist
where list_position(['high', 'medium', 'low', 'info'], severity) <= list_position(['high', 'medium', 'low', 'info'], $severity)
order by occurred_at_ist desc
