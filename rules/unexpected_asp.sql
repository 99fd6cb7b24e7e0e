-- id: unexpected_asp
-- title: ASP not approved for this GSTIN
-- needs: policy
-- severity: high
-- description: An ASP refreshed a token, obtained consent, tried to access data, or held an
--   active token on the portal's Active Tokens list, for a GSTIN although the policy does not
--   approve it for that GSTIN on that date. Either the policy is out of date or a vendor holds
--   access nobody sanctioned. One finding per GSTIN, ASP and ISO week (IST). Only the policy's
--   own GSTINs: an invalid or unknown GSTIN is one finding of its own (invalid_gstin,
--   unknown_gstin), not also one per ASP.
with resolved as (
    select e.event_id, e.gstin, e.asp_name, e.kind, e.occurred_at,
           coalesce(a.asp_key, e.asp_key) as pair_key,
           cast(e.occurred_at at time zone 'Asia/Kolkata' as date) as day_ist
    from events e
    left join policy_asp_aliases a on a.alias_key = e.asp_key
    where e.asp_key is not null
      and e.gstin in (select gstin from policy_gstins)  -- the policy holds valid GSTINs only
      and (e.kind in ('token_refreshed', 'consent_granted', 'access_attempt')
           or (e.kind = 'active_token' and e.status = 'active'))
),
unapproved as (
    select r.*, cast(date_trunc('week', r.day_ist) as date) as week_ist
    from resolved r
    where not exists (
        select 1 from policy_approved_asps p
        where p.asp_key = r.pair_key and p.gstin = r.gstin
          and (p.valid_from is null or r.day_ist >= p.valid_from)
          and (p.valid_to is null or r.day_ist <= p.valid_to)
    )
)
select gstin,
       min(asp_name) as asp_name,
       min(occurred_at) as occurred_at,
       'ASP "' || min(asp_name) || '" is not approved for GSTIN ' || gstin as title,
       count(*) || ' event(s) (' || array_to_string(list_sort(list_distinct(list(kind))), ', ') || ') from '
         || strftime(min(occurred_at) at time zone 'Asia/Kolkata', '%d-%m-%Y %H:%M') || ' to '
         || strftime(max(occurred_at) at time zone 'Asia/Kolkata', '%d-%m-%Y %H:%M')
         || ' IST. Approve the ASP in the policy, or revoke its access on Manage API Access.' as detail,
       list(event_id) as event_ids,
       gstin || '|' || pair_key || '|' || cast(week_ist as varchar) as finding_key
from unapproved
group by gstin, pair_key, week_ist
