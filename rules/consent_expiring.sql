-- id: consent_expiring
-- title: Consent of an approved ASP ends soon
-- needs: policy
-- severity: info
-- description: The latest consent of an approved (GSTIN, ASP) ends within consent_expiring_days
--   (default 7) of "now" — the earlier of the clock and the newest event, so an old export is
--   judged as of its own end. Renew it in time, or let it lapse on purpose.
with consents as (
    select e.event_id, e.gstin, e.asp_name, e.occurred_at, coalesce(a.asp_key, e.asp_key) as pair_key,
           least(coalesce(e.valid_until, e.occurred_at + t.max_consent_days * interval 1 day),
                 e.occurred_at + t.max_consent_days * interval 1 day) as ends_at,
           row_number() over (partition by e.gstin, coalesce(a.asp_key, e.asp_key) order by e.occurred_at desc, e.event_id) as latest
    from events e
    left join policy_asp_aliases a on a.alias_key = e.asp_key
    cross join policy_thresholds t
    where e.kind = 'consent_granted' and e.asp_key is not null
),
revocations as (
    select r.gstin, coalesce(a.asp_key, r.asp_key) as pair_key, r.occurred_at
    from events r
    left join policy_asp_aliases a on a.alias_key = r.asp_key
    where r.kind = 'access_revoked' or r.status = 'revoked'
)
select c.gstin,
       c.asp_name,
       c.occurred_at,
       'Consent of ASP "' || c.asp_name || '" for ' || c.gstin || ' ends on '
         || strftime(c.ends_at at time zone 'Asia/Kolkata', '%d-%m-%Y %H:%M') || ' IST' as title,
       'Given on ' || strftime(c.occurred_at at time zone 'Asia/Kolkata', '%d-%m-%Y %H:%M')
         || ' IST. The ASP needs a fresh OTP consent after that to keep working.' as detail,
       [c.event_id] as event_ids
from consents c
cross join detect_context x
cross join policy_thresholds t
where c.latest = 1
  and c.ends_at > x.as_of and c.ends_at <= x.as_of + t.consent_expiring_days * interval 1 day
  and exists (select 1 from policy_approved_asps p where p.gstin = c.gstin and p.asp_key = c.pair_key)
  and not exists (select 1 from revocations r
                  where r.gstin = c.gstin and r.pair_key = c.pair_key and r.occurred_at > c.occurred_at)
