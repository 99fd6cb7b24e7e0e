-- name: unapproved-asps
-- description: ASPs seen for a GSTIN that the policy does not approve for it, with first and last sighting.
-- params:
select e.gstin, any_value(n.asp_name) as asp_name, count(*) as events,
       timezone('Asia/Kolkata', min(e.occurred_at)) as first_ist, timezone('Asia/Kolkata', max(e.occurred_at)) as last_ist
from unique_events e
join asp_names n using (asp_key)
where e.kind in ('token_refreshed', 'consent_granted', 'access_attempt')
  and not exists (select 1 from policy_approved_asps p where p.gstin = e.gstin and p.asp_key = n.pair_key)
group by e.gstin, n.pair_key
order by e.gstin, asp_name
