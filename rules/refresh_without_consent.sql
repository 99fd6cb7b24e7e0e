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
    window w as (partition by gstin, pair_key order by occurred_at, kind
                 rows between unbounded preceding and current row)
),
judged as (
    select r.*,
           least(coalesce(r.consent_until, r.consent_at + to_days(t.max_consent_days)),
                 r.consent_at + to_days(t.max_consent_days)) as consent_end,
           (select max(d.occurred_at) from disabled d
             where d.gstin = r.gstin and d.occurred_at > r.consent_at and d.occurred_at <= r.occurred_at) as disabled_at
    from per_pair r, policy_thresholds t
    where r.kind = 'token_refreshed' and r.consent_at is not null
      and (r.revoked_at is null or r.revoked_at < r.consent_at)  -- revoked: refresh_after_revocation says it
)
select gstin,
       mode(asp_name) as asp_name,
       min(occurred_at) as occurred_at,
       'ASP "' || mode(asp_name) || '" refreshed its token for ' || gstin || ' after its consent ended' as title,
       count(*) || ' refresh(es) from '
         || strftime(timezone('Asia/Kolkata', min(occurred_at)), '%d-%m-%Y %H:%M') || ' to '
         || strftime(timezone('Asia/Kolkata', max(occurred_at)), '%d-%m-%Y %H:%M') || ' IST; the consent of '
         || strftime(timezone('Asia/Kolkata', consent_at), '%d-%m-%Y %H:%M') || ' IST '
         || case when min(disabled_at) is not null then 'was ended by switching API access off on '
                   || strftime(timezone('Asia/Kolkata', min(disabled_at)), '%d-%m-%Y %H:%M') || ' IST'
                 else 'ended on ' || strftime(timezone('Asia/Kolkata', any_value(consent_end)), '%d-%m-%Y %H:%M') || ' IST' end
         || ' and no newer consent is on record. A consent mail may be missing, or the ASP holds a token it should not.' as detail,
       list_append(list(event_id), any_value(consent_id)) as event_ids,
       gstin || '|' || pair_key || '|' || cast(consent_at as varchar) as finding_key
from judged
where occurred_at > consent_end or disabled_at is not null
group by gstin, pair_key, consent_at
