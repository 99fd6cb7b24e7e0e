-- Counted once, named once (#30 item 4).
--
-- GSTN alerts most events twice, by mail and by SMS, a minute or two apart: the same refresh
-- must count once in every view, report and canned query. And one ASP is spelt several ways
-- ("Acme Tax Cloud", "Acme TaxCloud", "Acme Tax Cloud Pvt Ltd"): it has one name everywhere.

-- Every ASP key seen in an event or named by the policy; the key it stands for (the approved
-- key of an alias, else itself); and the one name shown for it: the policy's name when the
-- policy approves it (the alphabetically first, if it spells it more than one way), else the
-- spelling seen most often in alerts (ties: the alphabetically first).
create view asp_names as
with raw_keys as (
    select e.asp_key, coalesce(a.asp_key, e.asp_key) as pair_key, e.asp_name, count(*) as seen
    from events e left join policy_asp_aliases a on a.alias_key = e.asp_key
    where e.asp_key is not null and e.asp_name is not null
    group by all
),
most_seen as (
    select pair_key, first(asp_name order by seen desc, asp_name) as asp_name
    from (select pair_key, asp_name, sum(seen) as seen from raw_keys group by all)
    group by pair_key
),
approved as (
    select asp_key as pair_key, first(asp_name order by asp_name) as asp_name
    from policy_approved_asps group by asp_key
),
every_key as (
    select distinct asp_key, pair_key from raw_keys
    union select asp_key, asp_key from policy_approved_asps
    union select alias_key, asp_key from policy_asp_aliases
)
select k.asp_key, k.pair_key, coalesce(p.asp_name, m.asp_name) as asp_name
from every_key k
left join approved p on p.pair_key = k.pair_key
left join most_seen m on m.pair_key = k.pair_key;

-- Events, a mail alert and its SMS twin counted once. Alerts of the same kind, GSTIN and ASP
-- (alias resolved) with no more than 5 minutes between one and the next form a burst; in a
-- burst the k-th SMS is the twin of the k-th mail, so two real refreshes a minute apart, each
-- alerted twice, still count two. The mail is kept (it has the archived message); an SMS with
-- no mail is kept. seen_by says which channels alerted it: email, sms or email+sms.
create view unique_events as
with marked as (
    select e.*, coalesce(a.asp_key, e.asp_key) as pair_key,
           coalesce(e.channel in ('email', 'sms') and e.gstin is not null and e.asp_key is not null
                    and e.kind in ('token_refreshed', 'consent_granted', 'access_revoked'), false) as twinable
    from events e left join policy_asp_aliases a on a.alias_key = e.asp_key
),
gaps as (
    select *, coalesce(epoch(occurred_at) - epoch(lag(occurred_at) over alerts), 1e12) > 300 as starts_burst
    from marked where twinable
    window alerts as (partition by kind, gstin, pair_key order by occurred_at, event_id)
),
bursts as (
    select *, sum(starts_burst::int) over (partition by kind, gstin, pair_key order by occurred_at, event_id
                                           rows between unbounded preceding and current row) as burst
    from gaps
),
ranked as (
    select *, row_number() over (partition by kind, gstin, pair_key, burst, channel order by occurred_at, event_id) as nth,
           count(*) filter (where channel = 'email') over (partition by kind, gstin, pair_key, burst) as by_mail,
           count(*) filter (where channel = 'sms') over (partition by kind, gstin, pair_key, burst) as by_sms
    from bursts
)
select event_id, kind, gstin, gstin_valid, asp_name, asp_key, gsp_name, occurred_at, valid_until, channel, status,
       format_id, source_sha256, source_ref, imported_at,
       case when channel = 'email' and nth <= by_sms then 'email+sms' else channel end as seen_by
from ranked
where channel = 'email' or nth > by_mail
union all
select event_id, kind, gstin, gstin_valid, asp_name, asp_key, gsp_name, occurred_at, valid_until, channel, status,
       format_id, source_sha256, source_ref, imported_at, channel as seen_by
from marked where not twinable;

-- The views for people, over unique_events: asp_name is the ASP's one name, asp_key the key it
-- stands for (aliases resolved), asp_name_as_written the spelling of this alert.
drop view weekly_summary;
drop view refreshes;
drop view consents;
drop view revocations;
drop view access_log;

create view refreshes as
select u.event_id, u.gstin, coalesce(n.asp_name, u.asp_name) as asp_name, coalesce(n.pair_key, u.asp_key) as asp_key,
       u.asp_name as asp_name_as_written, u.gsp_name,
       u.occurred_at, timezone('Asia/Kolkata', u.occurred_at) as occurred_at_ist,
       u.valid_until, timezone('Asia/Kolkata', u.valid_until) as valid_until_ist,
       u.channel, u.seen_by, u.source_sha256
from unique_events u left join asp_names n on n.asp_key = u.asp_key
where u.kind = 'token_refreshed';

create view consents as
select u.event_id, u.gstin, coalesce(n.asp_name, u.asp_name) as asp_name, coalesce(n.pair_key, u.asp_key) as asp_key,
       u.asp_name as asp_name_as_written, u.gsp_name,
       u.occurred_at, timezone('Asia/Kolkata', u.occurred_at) as occurred_at_ist,
       u.valid_until, timezone('Asia/Kolkata', u.valid_until) as valid_until_ist,
       u.channel, u.seen_by, u.source_sha256
from unique_events u left join asp_names n on n.asp_key = u.asp_key
where u.kind = 'consent_granted';

create view revocations as
select u.event_id, u.gstin, coalesce(n.asp_name, u.asp_name) as asp_name, coalesce(n.pair_key, u.asp_key) as asp_key,
       u.asp_name as asp_name_as_written, u.gsp_name,
       u.occurred_at, timezone('Asia/Kolkata', u.occurred_at) as occurred_at_ist,
       u.channel, u.seen_by, u.source_ref, u.source_sha256
from unique_events u left join asp_names n on n.asp_key = u.asp_key
where u.kind = 'access_revoked' or (u.kind = 'access_attempt' and u.status = 'revoked');

create view access_log as
select u.event_id, u.gstin, coalesce(n.asp_name, u.asp_name) as asp_name, coalesce(n.pair_key, u.asp_key) as asp_key,
       u.asp_name as asp_name_as_written, u.gsp_name,
       u.occurred_at, timezone('Asia/Kolkata', u.occurred_at) as occurred_at_ist,
       u.status, u.source_ref
from unique_events u left join asp_names n on n.asp_key = u.asp_key
where u.kind = 'access_attempt';

create view weekly_summary as
select date_trunc('week', timezone('Asia/Kolkata', u.occurred_at))::date as week_start_ist,
       u.gstin, n.pair_key as asp_key, any_value(n.asp_name) as asp_name,
       count(*) filter (where u.kind = 'token_refreshed') as refreshes,
       count(*) filter (where u.kind = 'consent_granted') as consents,
       count(*) filter (where u.kind = 'access_revoked'
                        or (u.kind = 'access_attempt' and u.status = 'revoked')) as revocations,
       count(*) filter (where u.kind = 'access_attempt' and u.status = 'successful') as accesses_ok,
       count(*) filter (where u.kind = 'access_attempt' and u.status = 'failed') as accesses_failed,
       min(u.occurred_at) as first_at, max(u.occurred_at) as last_at
from unique_events u join asp_names n on n.asp_key = u.asp_key
group by all;
