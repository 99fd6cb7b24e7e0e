-- id: unknown_gstin
-- title: Alert for a GSTIN that is not in the policy
-- needs: policy
-- severity: medium
-- description: A well-formed GSTIN appears in alerts but is not one of the organisation's GSTINs
--   in the policy. Either the policy is missing a registration, or someone else's alerts reach
--   this mailbox (or a vendor used the wrong GSTIN). One finding per GSTIN and ISO week (IST).
select gstin,
       min(asp_name) as asp_name,
       min(occurred_at) as occurred_at,
       'GSTIN ' || gstin || ' is not in the policy' as title,
       count(*) || ' event(s) (' || array_to_string(list_sort(list_distinct(list(kind))), ', ') || ') from '
         || strftime(min(occurred_at) at time zone 'Asia/Kolkata', '%d-%m-%Y %H:%M') || ' to '
         || strftime(max(occurred_at) at time zone 'Asia/Kolkata', '%d-%m-%Y %H:%M')
         || ' IST. Add the GSTIN to the policy if it is yours.' as detail,
       list(event_id) as event_ids,
       gstin || '|' || cast(cast(date_trunc('week', min(occurred_at) at time zone 'Asia/Kolkata') as date) as varchar) as finding_key
from events
where gstin_valid and channel <> 'manual' and kind <> 'suspicious_alert'
  and gstin not in (select gstin from policy_gstins)
group by gstin, date_trunc('week', occurred_at at time zone 'Asia/Kolkata')
