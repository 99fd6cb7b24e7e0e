-- id: access_without_alert
-- title: The portal saw an access the mailbox has no alert for
-- severity: medium
-- description: A successful access in the portal's access log (View Logs) by an ASP for which
--   no refresh or consent alert (by mail or SMS) arrived within one token lifetime before it
--   (thresholds.token_lifetime, default 6 hours) or an hour after. An access needs a live
--   token, and every token is announced: either the alerts do not reach the synced mailbox,
--   or the access used a token obtained some other way. One finding per GSTIN, ASP and day (IST).
with accesses as (
    select e.event_id, e.gstin, e.asp_name, e.occurred_at, coalesce(a.asp_key, e.asp_key) as pair_key,
           cast(e.occurred_at at time zone 'Asia/Kolkata' as date) as day_ist
    from events e
    left join policy_asp_aliases a on a.alias_key = e.asp_key
    where e.kind = 'access_attempt' and e.status = 'successful' and e.asp_key is not null
),
alerts as (
    select e.gstin, coalesce(a.asp_key, e.asp_key) as pair_key, e.occurred_at
    from events e
    left join policy_asp_aliases a on a.alias_key = e.asp_key
    where e.kind in ('token_refreshed', 'consent_granted') and e.channel in ('email', 'sms') and e.asp_key is not null
),
matched as (
    select x.event_id, x.gstin, x.asp_name, x.occurred_at, x.pair_key, x.day_ist, count(al.occurred_at) as alerts
    from accesses x
    cross join policy_thresholds t
    left join alerts al on al.gstin = x.gstin and al.pair_key = x.pair_key
         and epoch(al.occurred_at) >= epoch(x.occurred_at) - t.token_lifetime_s
         and epoch(al.occurred_at) <= epoch(x.occurred_at) + 3600
    group by x.event_id, x.gstin, x.asp_name, x.occurred_at, x.pair_key, x.day_ist
)
select gstin,
       min(asp_name) as asp_name,
       min(occurred_at) as occurred_at,
       'The portal logged ' || count(*) || ' access(es) by "' || min(asp_name) || '" for ' || gstin
         || ' with no alert around them' as title,
       count(*) || ' successful access(es) from '
         || strftime(min(occurred_at) at time zone 'Asia/Kolkata', '%d-%m-%Y %H:%M') || ' to '
         || strftime(max(occurred_at) at time zone 'Asia/Kolkata', '%d-%m-%Y %H:%M')
         || ' IST, and no refresh or consent alert for this ASP and GSTIN in the token lifetime before them. '
         || 'Check where the GSTIN''s alerts go (registered e-mail and mobile) and that the mailbox is synced.' as detail,
       list(event_id) as event_ids,
       gstin || '|' || pair_key || '|' || cast(day_ist as varchar) as finding_key
from matched
where alerts = 0
group by gstin, pair_key, day_ist
