-- Queries behind `alertproc policy draft`: what the database has seen, per GSTIN and per ASP.

-- name: gstins
-- Every GSTIN an alert named, valid or not, with its first and last alert and how many, and
-- every GSTIN of the current policy (with its label) whether seen or not.
with seen as (
    select gstin, bool_or(gstin_valid) as valid, count(*) as alerts, min(occurred_at) as first_at,
           max(occurred_at) as last_at
    from unique_events where gstin is not null group by gstin
)
select coalesce(s.gstin, p.gstin) as gstin, coalesce(s.valid, true) as valid, coalesce(s.alerts, 0) as alerts,
       strftime(timezone('Asia/Kolkata', s.first_at), '%d-%m-%Y') as first_ist,
       strftime(timezone('Asia/Kolkata', s.last_at), '%d-%m-%Y') as last_ist, p.label
from seen s full outer join policy_gstins p using (gstin)
order by gstin;

-- name: pairs
-- Per ASP (its one name, aliases resolved) and GSTIN: what it did, when, through which GSPs,
-- its consents and until when the last one is valid, and whether the policy approves it now.
with seen as (
    select n.pair_key, u.gstin,
           count(*) filter (where u.kind = 'token_refreshed') as refreshes,
           count(*) filter (where u.kind = 'consent_granted') as consents,
           count(*) filter (where u.kind = 'access_revoked') as revocations,
           count(*) filter (where u.kind = 'access_attempt') as accesses,
           min(u.occurred_at) as first_at, max(u.occurred_at) as last_at,
           max(u.valid_until) filter (where u.kind = 'consent_granted') as consent_until,
           list(distinct u.gsp_name order by u.gsp_name) filter (where u.gsp_name is not null) as gsps,
           list(distinct u.asp_name order by u.asp_name) as spellings,
           -- spellings whose key is another than the ASP's: the policy must name them as aliases
           list(distinct u.asp_name order by u.asp_name) filter (where u.asp_key <> n.pair_key) as aliases
    from unique_events u join asp_names n using (asp_key)
    where u.gstin is not null and u.gstin_valid
    group by n.pair_key, u.gstin
)
select s.pair_key, n.asp_name, s.gstin,
       s.refreshes, s.consents, s.revocations, s.accesses,
       strftime(timezone('Asia/Kolkata', s.first_at), '%d-%m-%Y') as first_ist,
       strftime(timezone('Asia/Kolkata', s.last_at), '%d-%m-%Y') as last_ist,
       strftime(timezone('Asia/Kolkata', s.consent_until), '%d-%m-%Y') as consent_until_ist,
       s.gsps, s.spellings, s.aliases,
       exists (select 1 from policy_approved_asps p where p.gstin = s.gstin and p.asp_key = s.pair_key) as approved
from seen s join (select distinct pair_key, asp_name from asp_names) n using (pair_key)
order by asp_name, s.gstin;
