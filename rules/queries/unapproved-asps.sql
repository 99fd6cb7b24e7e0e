-- name: unapproved-asps
-- description: ASPs seen for a GSTIN that the policy does not approve for it, with first and last sighting.
-- params:
select e.gstin, mode(e.asp_name) as asp_name, count(*) as events,
       timezone('Asia/Kolkata', min(e.occurred_at)) as first_ist, timezone('Asia/Kolkata', max(e.occurred_at)) as last_ist
from events e
left join policy_asp_aliases a on a.alias_key = e.asp_key
where e.asp_key is not null and e.kind in ('token_refreshed', 'consent_granted', 'access_attempt')
  and not exists (select 1 from policy_approved_asps p where p.gstin = e.gstin and p.asp_key = coalesce(a.asp_key, e.asp_key))
group by e.gstin, coalesce(a.asp_key, e.asp_key)
order by e.gstin, asp_name
