-- id: unknown_gstin
-- title: Alert for a GSTIN that is not in the policy
-- severity: medium
-- description: A well-formed GSTIN appears in alerts but is not one of the organisation's GSTINs
--   in the policy. Either the policy is missing a registration, or someone else's alerts reach
--   this mailbox (or a vendor used the wrong GSTIN). One finding per GSTIN and ISO week (IST).
select gstin,
       mode(asp_name) as asp_name,
       min(occurred_at) as occurred_at,
       'GSTIN ' || gstin || ' is not in the policy' as title,
       count(*) || ' event(s) (' || string_agg(distinct kind, ', ' order by kind) || ') from '
         || strftime(timezone('Asia/Kolkata', min(occurred_at)), '%d-%m-%Y %H:%M') || ' to '
         || strftime(timezone('Asia/Kolkata', max(occurred_at)), '%d-%m-%Y %H:%M')
         || ' IST. Add the GSTIN to the policy if it is yours.' as detail,
       list(event_id) as event_ids,
       gstin || '|' || cast(cast(date_trunc('week', timezone('Asia/Kolkata', min(occurred_at))) as date) as varchar) as finding_key
from events
where gstin_valid and channel <> 'manual' and kind <> 'suspicious_alert'
  and gstin not in (select gstin from policy_gstins)
group by gstin, date_trunc('week', timezone('Asia/Kolkata', occurred_at))
