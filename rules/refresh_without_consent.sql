-- id: refresh_without_consent
-- title: Token refreshed after the consent ended
-- severity: medium
-- description: A refresh for a (GSTIN, ASP) whose last known consent has ended — its validity
--   passed, the longest consent GSTN allows (max_consent_days) passed, or API access was
--   switched off for the GSTIN — with no newer consent on record. A pair with no consent on
--   record at all is not flagged: the history may start after the consent. One finding per
--   ended consent.
with pair_events as (
    select e.event_id, e.gstin, e.asp_name, e.occurred_at, e.valid_until, e.kind,
           coalesce(a.asp_key, e.asp_key) as pair_key
    from events e
    left join policy_asp_aliases a on a.alias_key = e.asp_key
    where e.asp_key is not null and e.kind in ('consent_granted', 'token_refreshed', 'access_revoked')
),
disabled as (
    select gstin, occurred_at from events where kind = 'api_access_changed' and status = 'disabled'
),
per_pair as (
    select *,
           max(case when kind = 'consent_granted' then occurred_at end) over w as consent_at,
           last_value(case when kind = 'consent_granted' then valid_until end ignore nulls) over w as consent_until,
           last_value(case when kind = 'consent_granted' then event_id end ignore nulls) over w as consent_id,
           max(case when kind = 'access_revoked' then occurred_at end) over w as revoked_at
    from pair_events
    window w as (partition by gstin, pair_key order by occurred_at, kind, event_id
                 rows between unbounded preceding and current row)
),
judged as (
    select r.*,
           least(coalesce(r.consent_until, r.consent_at + t.max_consent_days * interval 1 day),
                 r.consent_at + t.max_consent_days * interval 1 day) as consent_end,
           (select max(d.occurred_at) from disabled d
             where d.gstin = r.gstin and d.occurred_at > r.consent_at and d.occurred_at <= r.occurred_at) as disabled_at
    from per_pair r, policy_thresholds t
    where r.kind = 'token_refreshed' and r.consent_at is not null
      and (r.revoked_at is null or r.revoked_at < r.consent_at)  -- revoked: refresh_after_revocation says it
)
select gstin,
       min(asp_name) as asp_name,
       min(occurred_at) as occurred_at,
       'ASP "' || min(asp_name) || '" refreshed its token for ' || gstin || ' after its consent ended' as title,
       count(*) || ' refresh(es) from '
         || strftime(min(occurred_at) at time zone 'Asia/Kolkata', '%d-%m-%Y %H:%M') || ' to '
         || strftime(max(occurred_at) at time zone 'Asia/Kolkata', '%d-%m-%Y %H:%M') || ' IST; the consent of '
         || strftime(consent_at at time zone 'Asia/Kolkata', '%d-%m-%Y %H:%M') || ' IST '
         || case when min(disabled_at) is not null then 'was ended by switching API access off on '
                   || strftime(min(disabled_at) at time zone 'Asia/Kolkata', '%d-%m-%Y %H:%M') || ' IST'
                 else 'ended on ' || strftime(max(consent_end) at time zone 'Asia/Kolkata', '%d-%m-%Y %H:%M') || ' IST' end
         || ' and no newer consent is on record. A consent mail may be missing, or the ASP holds a token it should not.' as detail,
       list_append(list(event_id), max(consent_id)) as event_ids,
       gstin || '|' || pair_key || '|' || strftime(consent_at, '%Y-%m-%d %H:%M:%S') || '+00' as finding_key
from judged
where occurred_at > consent_end or disabled_at is not null
group by gstin, pair_key, consent_at
