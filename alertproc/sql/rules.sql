-- The frame around every detection rule (alertproc/rules.py). Portable: DuckDB runs it as
-- written, Spark transpiled by sqlglot. {rule} is the rule's SELECT and {key} what makes two
-- of its findings the same; values are bound as parameters.

-- name: finding_rows
-- The id is a hash of the rule and the key, so the same evidence gives the same id on every
-- run and on every engine.
select substr(sha256($rule_id || '|' || {key}), 1, 32) as finding_id, $rule_id as rule_id,
       $severity as severity, r.gstin, r.asp_name, r.occurred_at, r.title, r.detail,
       list_sort(r.event_ids) as event_ids, $detected_at as first_detected_at, $detected_at as last_detected_at
from ({rule}) r;
