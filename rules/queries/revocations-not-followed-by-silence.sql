-- name: revocations-not-followed-by-silence
-- description: Revocations after which the same ASP still refreshed or accessed data before a new consent.
-- params:
with r as (
    select gstin, asp_key, asp_name, occurred_at as revoked_at, channel from revocations
)
select r.gstin, r.asp_name, timezone('Asia/Kolkata', r.revoked_at) as revoked_ist, r.channel as revoked_via,
       count(e.event_id) as activity_after, timezone('Asia/Kolkata', max(e.occurred_at)) as last_activity_ist
from r
join (select u.*, n.pair_key from unique_events u join asp_names n using (asp_key)) e
  on e.gstin = r.gstin and e.pair_key = r.asp_key and e.occurred_at > r.revoked_at
 and (e.kind = 'token_refreshed' or (e.kind = 'access_attempt' and e.status = 'successful'))
 and not exists (select 1 from consents c where c.gstin = r.gstin and c.asp_key = r.asp_key
                 and c.occurred_at > r.revoked_at and c.occurred_at <= e.occurred_at)
group by all
order by revoked_ist
