-- The ASP inventory's summary of the history before `cutoff`, one row per (GSTIN, ASP key, ASP
-- name), so a weekly report reads the weeks since `cutoff` and not every event ever stored.
-- Rebuilt by `detect` when events before `cutoff` were added or deleted; the report checks
-- the same and reads the events themselves when the summary is stale.
create table pair_history (
    gstin          varchar,
    asp_key        varchar not null,
    asp_name       varchar,
    events         bigint not null,
    last_seen      timestamptz not null,
    consent_at     timestamptz,
    consent_until  timestamptz,
    consent_until_at timestamptz,        -- when the consent that said consent_until occurred
    revoked_at     timestamptz
);

create table pair_history_state (
    cutoff         timestamptz not null,  -- the summary covers events that occurred before this
    events_before  bigint not null,       -- events before cutoff when it was built
    built_at       timestamptz not null   -- events imported after this are not in it
);

-- Per (GSTIN, ASP key, ASP name): what the inventory needs from the events that occurred in
-- [from_ts, until_ts); events_in_period counts those from since_ts on.
create macro pair_partials(from_ts, until_ts, since_ts) as table
    select gstin, asp_key, asp_name, count(*) as events,
           count(*) filter (where occurred_at >= since_ts) as events_in_period,
           max(occurred_at) as last_seen,
           max(occurred_at) filter (where kind = 'consent_granted') as consent_at,
           arg_max(valid_until, occurred_at) filter (where kind = 'consent_granted') as consent_until,
           max(occurred_at) filter (where kind = 'consent_granted' and valid_until is not null) as consent_until_at,
           max(occurred_at) filter (where kind = 'access_revoked' or status = 'revoked') as revoked_at
    from events
    where asp_key is not null and kind <> 'suspicious_alert' and occurred_at >= from_ts and occurred_at < until_ts
    group by gstin, asp_key, asp_name;
