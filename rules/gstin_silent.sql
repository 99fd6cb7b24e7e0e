-- id: gstin_silent
-- title: No alert for a GSTIN for weeks
-- needs: policy
-- severity: medium
-- description: A GSTIN of the policy got no alert of any kind (by mail or SMS) for
--   thresholds.silence_days (default 30) before "now", while the mailbox was synced: other
--   GSTINs' alerts arrived in that time. The portal sends a GSTIN's alerts to the e-mail and
--   mobile registered for it, so they may now go to another address: check the registered
--   contact details on the portal (and any mail rule that files them away). Or nothing
--   touched the GSTIN: then acknowledge it. One finding per GSTIN and silence.
with alerts as (
    select e.event_id, e.gstin, e.occurred_at
    from events e
    where e.channel in ('email', 'sms') and e.gstin is not null
),
latest as (
    select a.*, row_number() over (partition by a.gstin order by a.occurred_at desc, a.event_id) as nth
    from alerts a
),
synced as (  -- alerts in the window, for any GSTIN: the mailbox delivered meanwhile
    select count(*) as alerts
    from alerts a cross join detect_context x cross join policy_thresholds t
    where a.occurred_at > x.as_of - t.silence_days * interval 1 day and a.occurred_at <= x.as_of
),
first_alert as (  -- a GSTIN never named has been silent since the mailbox's first alert
    select min(occurred_at) as first_at from alerts
),
silent as (
    select g.gstin, g.label, l.event_id, l.occurred_at as last_at
    from policy_gstins g
    left join latest l on l.gstin = g.gstin and l.nth = 1
    cross join detect_context x
    cross join policy_thresholds t
    where l.occurred_at is null or l.occurred_at <= x.as_of - t.silence_days * interval 1 day
)
select s.gstin,
       cast(null as varchar) as asp_name,
       coalesce(s.last_at, f.first_at) + t.silence_days * interval 1 day as occurred_at,
       'No alert for GSTIN ' || s.gstin || coalesce(' (' || s.label || ')', '') || ' in '
         || cast(t.silence_days as varchar) || ' days' as title,
       case when s.last_at is null then 'No alert for this GSTIN has reached the mailbox at all'
            else 'The last alert for it arrived ' || strftime(s.last_at at time zone 'Asia/Kolkata', '%d-%m-%Y %H:%M') || ' IST'
       end || ', while alerts for other GSTINs kept arriving. Its alerts may go to another address: on the portal, '
         || 'check the e-mail and mobile registered for it (and any mail rule that files GST mail away); '
         || 'if nothing touched it, acknowledge this.' as detail,
       case when s.event_id is null then [] else [s.event_id] end as event_ids,
       s.gstin || '|' || coalesce(cast(s.event_id as varchar), 'never') as finding_key
from silent s
cross join synced y
cross join first_alert f
cross join policy_thresholds t
where y.alerts > 0 and coalesce(s.last_at, f.first_at) + t.silence_days * interval 1 day <= (select as_of from detect_context)
