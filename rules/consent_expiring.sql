-- id: consent_expiring
-- title: Consent of an approved ASP ends soon
-- severity: info
-- description: The latest consent of an approved (GSTIN, ASP) ends within consent_expiring_days
--   (default 7) of "now" — the earlier of the clock and the newest event, so an old export is
--   judged as of its own end. Renew it in time, or let it lapse on purpose.
with consents as (
    select e.event_id, e.gstin, e.asp_name, e.occurred_at, coalesce(a.asp_key, e.asp_key) as pair_key,
           least(coalesce(e.valid_until, e.occurred_at + to_days(t.max_consent_days)),
                 e.occurred_at + to_days(t.max_consent_days)) as ends_at,
           row_number() over (partition by e.gstin, coalesce(a.asp_key, e.asp_key) order by e.occurred_at desc) as latest
    from events e
    left join policy_asp_aliases a on a.alias_key = e.asp_key
    cross join policy_thresholds t
    where e.kind = 'consent_granted' and e.asp_key is not null
)
select c.gstin,
       c.asp_name,
       c.occurred_at,
       'Consent of ASP "' || c.asp_name || '" for ' || c.gstin || ' ends on '
         || strftime(timezone('Asia/Kolkata', c.ends_at), '%d-%m-%Y %H:%M') || ' IST' as title,
       'Given on ' || strftime(timezone('Asia/Kolkata', c.occurred_at), '%d-%m-%Y %H:%M')
         || ' IST. The ASP needs a fresh OTP consent after that to keep working.' as detail,
       [c.event_id] as event_ids
from consents c
cross join detect_context x
cross join policy_thresholds t
where c.latest = 1
  and c.ends_at > x.as_of and c.ends_at <= x.as_of + to_days(t.consent_expiring_days)
  and exists (select 1 from policy_approved_asps p where p.gstin = c.gstin and p.asp_key = c.pair_key)
  and not exists (select 1 from events r
                  where r.gstin = c.gstin and coalesce((select a.asp_key from policy_asp_aliases a where a.alias_key = r.asp_key), r.asp_key) = c.pair_key
                    and r.occurred_at > c.occurred_at
                    and (r.kind = 'access_revoked' or r.status = 'revoked'))
