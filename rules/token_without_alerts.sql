-- id: token_without_alerts
-- title: Active token, but no refresh alert reached the mailbox
-- needs: policy
-- severity: medium
-- description: The portal's Active Tokens list shows an approved ASP holding an active token
--   for a GSTIN, yet no refresh or consent alert for that pair arrived (by mail or SMS) within
--   one token lifetime (thresholds.token_lifetime, default 6 hours) before the snapshot. A
--   token lives that long, so it was refreshed without an alert reaching alertproc: the alerts
--   go to another address, are filtered away, or the mailbox is not synced. (Unapproved ASPs
--   are unexpected_asp's.) One finding per GSTIN, ASP and snapshot.
with snapshots as (
    select e.event_id, e.gstin, e.asp_name, e.occurred_at, coalesce(a.asp_key, e.asp_key) as pair_key,
           cast(e.occurred_at at time zone 'Asia/Kolkata' as date) as day_ist
    from events e
    left join policy_asp_aliases a on a.alias_key = e.asp_key
    where e.kind = 'active_token' and e.status = 'active' and e.asp_key is not null
),
approved as (
    select s.* from snapshots s
    where exists (
        select 1 from policy_approved_asps p
        where p.asp_key = s.pair_key and p.gstin = s.gstin
          and (p.valid_from is null or s.day_ist >= p.valid_from)
          and (p.valid_to is null or s.day_ist <= p.valid_to)
    )
),
alerts as (
    select e.gstin, coalesce(a.asp_key, e.asp_key) as pair_key, e.occurred_at
    from events e
    left join policy_asp_aliases a on a.alias_key = e.asp_key
    where e.kind in ('token_refreshed', 'consent_granted') and e.channel in ('email', 'sms') and e.asp_key is not null
),
unseen as (
    select s.event_id, s.gstin, s.asp_name, s.occurred_at, s.pair_key,
           max(al.occurred_at) as last_alert_at, max(t.token_lifetime_s) as token_lifetime_s
    from approved s
    cross join policy_thresholds t
    left join alerts al on al.gstin = s.gstin and al.pair_key = s.pair_key and al.occurred_at <= s.occurred_at
    group by s.event_id, s.gstin, s.asp_name, s.occurred_at, s.pair_key
)
select gstin,
       min(asp_name) as asp_name,
       min(occurred_at) as occurred_at,
       'ASP "' || min(asp_name) || '" holds an active token for ' || gstin || ' but no refresh alert arrived' as title,
       'The Active Tokens list of ' || strftime(min(occurred_at) at time zone 'Asia/Kolkata', '%d-%m-%Y %H:%M')
         || ' IST shows an active token; the last refresh or consent alert for this ASP and GSTIN was '
         || coalesce(strftime(max(last_alert_at) at time zone 'Asia/Kolkata', '%d-%m-%Y %H:%M') || ' IST', 'never')
         || '. Check that the GSTIN''s registered e-mail and mobile reach the synced mailbox.' as detail,
       list(event_id) as event_ids,
       gstin || '|' || pair_key || '|' || strftime(min(occurred_at), '%Y-%m-%d %H:%M:%S') || '+00' as finding_key
from unseen
where last_alert_at is null or epoch(occurred_at) - epoch(last_alert_at) > token_lifetime_s
group by gstin, pair_key, occurred_at
