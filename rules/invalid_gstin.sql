-- id: invalid_gstin
-- title: Alert with an invalid GSTIN
-- severity: medium
-- description: The GSTIN in an alert does not have the GSTIN shape or its check character is
--   wrong. GSTN does not send such alerts, so the record is garbled or forged.
select gstin,
       min(asp_name) as asp_name,
       min(occurred_at) as occurred_at,
       'Invalid GSTIN ' || coalesce(gstin, '(none)') || ' in ' || count(*) || ' alert(s)' as title,
       'The check character (or the shape) of ' || coalesce(gstin, '(none)') || ' is wrong; first seen '
         || strftime(min(occurred_at) at time zone 'Asia/Kolkata', '%d-%m-%Y %H:%M') || ' IST via '
         || array_to_string(list_sort(list_distinct(list(channel))), ', ') || '. Check the original.' as detail,
       list(event_id) as event_ids,
       coalesce(gstin, '') as finding_key
from events
where not coalesce(gstin_valid, false) and channel <> 'manual' and kind <> 'suspicious_alert'
group by gstin
