-- id: refresh_after_revocation
-- title: Token refreshed after access was revoked
-- severity: high
-- description: A token refresh, a successful data access or an active token on the portal's
--   Active Tokens list for a (GSTIN, ASP) after a revocation and before the next consent. A
--   revoked ASP cannot fetch data until a fresh OTP consent, so either the revocation did not
--   take effect or the alert is forged. One finding per revocation; the evidence lists the
--   revocation and every refresh (or active token) after it.
with pair_events as (
    select e.event_id, e.gstin, e.asp_name, e.occurred_at,
           coalesce(a.asp_key, e.asp_key) as pair_key,
           case when e.kind = 'consent_granted' then 0
                when e.kind = 'access_revoked' or e.status = 'revoked' then 2
                else 1 end as step
    from events e
    left join policy_asp_aliases a on a.alias_key = e.asp_key
    where e.asp_key is not null
      and (e.kind in ('consent_granted', 'access_revoked', 'token_refreshed')
           or (e.kind = 'access_attempt' and e.status in ('successful', 'revoked'))
           or (e.kind = 'active_token' and e.status = 'active'))
),
ordered as (
    select *,
           max(case when step = 2 then occurred_at end) over w as revoked_at,
           last_value(case when step = 2 then event_id end ignore nulls) over w as revocation_id,
           max(case when step = 0 then occurred_at end) over w as consent_at
    from pair_events
    window w as (partition by gstin, pair_key order by occurred_at, step, event_id
                 rows between unbounded preceding and current row)
)
select gstin,
       min(asp_name) as asp_name,
       min(occurred_at) as occurred_at,
       'ASP "' || min(asp_name) || '" refreshed its token for ' || gstin || ' after access was revoked' as title,
       count(*) || ' refresh(es) or access(es) from '
         || strftime(min(occurred_at) at time zone 'Asia/Kolkata', '%d-%m-%Y %H:%M') || ' to '
         || strftime(max(occurred_at) at time zone 'Asia/Kolkata', '%d-%m-%Y %H:%M')
         || ' IST after the revocation of '
         || strftime(revoked_at at time zone 'Asia/Kolkata', '%d-%m-%Y %H:%M')
         || ' IST, with no new consent in between. Check Manage API Access and ask the ASP.' as detail,
       list_append(list(event_id), max(revocation_id)) as event_ids,
       gstin || '|' || pair_key || '|' || strftime(revoked_at, '%Y-%m-%d %H:%M:%S') || '+00' as finding_key
from ordered
where step = 1 and revoked_at is not null and (consent_at is null or consent_at < revoked_at)
group by gstin, pair_key, revoked_at
