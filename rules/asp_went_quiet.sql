-- id: asp_went_quiet
-- title: An approved ASP with a valid consent stopped refreshing
-- needs: policy
-- severity: low
-- description: An approved ASP refreshed tokens for a GSTIN, its latest consent is still valid
--   and not revoked, yet its last refresh is more than two token lifetimes
--   (thresholds.token_lifetime, default 6 hours) before "now". Worth a look when a vendor was
--   replaced (revoke the old one's access on the portal), or when its sessions are now held
--   elsewhere, e.g. under another ASP's name. One finding per GSTIN, ASP and last refresh.
with refreshes as (
    select e.event_id, e.gstin, e.asp_name, e.occurred_at, coalesce(a.asp_key, e.asp_key) as pair_key,
           row_number() over (partition by e.gstin, coalesce(a.asp_key, e.asp_key)
                              order by e.occurred_at desc, e.event_id) as nth
    from events e
    left join policy_asp_aliases a on a.alias_key = e.asp_key
    where e.kind = 'token_refreshed' and e.asp_key is not null and e.gstin is not null
),
consents as (
    select e.event_id, e.gstin, e.occurred_at, coalesce(a.asp_key, e.asp_key) as pair_key,
           least(coalesce(e.valid_until, e.occurred_at + t.max_consent_days * interval 1 day),
                 e.occurred_at + t.max_consent_days * interval 1 day) as ends_at,
           row_number() over (partition by e.gstin, coalesce(a.asp_key, e.asp_key)
                              order by e.occurred_at desc, e.event_id) as nth
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
select r.gstin,
       r.asp_name,
       r.occurred_at + (2 * t.token_lifetime_s) * interval 1 second as occurred_at,
       'Approved ASP "' || r.asp_name || '" stopped refreshing for ' || r.gstin as title,
       'Its last refresh was ' || strftime(r.occurred_at at time zone 'Asia/Kolkata', '%d-%m-%Y %H:%M')
         || ' IST, though its consent of ' || strftime(c.occurred_at at time zone 'Asia/Kolkata', '%d-%m-%Y')
         || ' is valid until ' || strftime(c.ends_at at time zone 'Asia/Kolkata', '%d-%m-%Y %H:%M')
         || ' IST. If the vendor was replaced, revoke its access on the portal (Manage API Access); '
         || 'if it only paused, acknowledge this.' as detail,
       [r.event_id, c.event_id] as event_ids,
       r.gstin || '|' || r.pair_key || '|' || cast(r.event_id as varchar) as finding_key
from refreshes r
join consents c on c.gstin = r.gstin and c.pair_key = r.pair_key and c.nth = 1
cross join detect_context x
cross join policy_thresholds t
where r.nth = 1
  and c.ends_at > x.as_of
  and epoch(x.as_of) - epoch(r.occurred_at) > 2 * t.token_lifetime_s
  and exists (select 1 from policy_approved_asps p
              where p.gstin = r.gstin and p.asp_key = r.pair_key
                and (p.valid_from is null or cast(x.as_of at time zone 'Asia/Kolkata' as date) >= p.valid_from)
                and (p.valid_to is null or cast(x.as_of at time zone 'Asia/Kolkata' as date) <= p.valid_to))
  and not exists (select 1 from revocations v
                  where v.gstin = r.gstin and v.pair_key = r.pair_key and v.occurred_at > c.occurred_at)
