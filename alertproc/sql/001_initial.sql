-- The public schema: finance teams query these tables and views (docs/schema.md).
-- Timestamps are TIMESTAMPTZ in UTC; every human view carries an *_ist column beside it.

create table messages (
    sha256        varchar primary key,   -- SHA-256 of the raw bytes: the message's identity
    message_id    varchar,
    source        varchar not null,      -- eml | maildir | mbox | imap
    account       varchar,
    folder        varchar,
    uidvalidity   bigint,
    uid           bigint,
    source_ref    varchar,
    received_at   timestamptz,
    from_addr     varchar,
    subject       varchar,
    return_path   varchar,
    auth_results  varchar,
    forwarded     boolean,
    size_bytes    bigint,
    archive_path  varchar,               -- relative to the archive root
    kind          varchar,               -- alert kind from the subject; null when not an alert
    format_id     varchar,
    parse_status  varchar not null,      -- parsed | unparsed | ignored | duplicate
    parse_error   varchar,
    duplicate_of  varchar,
    imported_at   timestamptz not null,
    run_id        bigint
);

create table events (
    event_id       varchar primary key,  -- deterministic hash of what the event says
    kind           varchar not null,
    gstin          varchar,
    gstin_valid    boolean,
    asp_name       varchar,
    asp_key        varchar,              -- normalised ASP name
    gsp_name       varchar,
    occurred_at    timestamptz not null,
    valid_until    timestamptz,
    channel        varchar not null,     -- email | sms | portal_log | manual
    status         varchar,
    format_id      varchar,
    source_sha256  varchar,
    source_ref     varchar,
    imported_at    timestamptz not null
);

create table findings (
    finding_id         varchar primary key,
    rule_id            varchar not null,
    severity           varchar not null,
    gstin              varchar,
    asp_name           varchar,
    occurred_at        timestamptz,
    title              varchar not null,
    detail             varchar,
    event_ids          varchar[],
    first_detected_at  timestamptz not null,
    last_detected_at   timestamptz not null
);

create sequence run_ids start 1;

create table runs (
    run_id         bigint primary key,
    command        varchar not null,
    source         varchar,
    started_at     timestamptz not null,
    finished_at    timestamptz,
    status         varchar not null,     -- running | ok | failed
    messages_seen  bigint default 0,
    messages_new   bigint default 0,
    messages_known bigint default 0,
    duplicates     bigint default 0,
    parsed         bigint default 0,
    unparsed       bigint default 0,
    ignored        bigint default 0,
    events_new     bigint default 0,
    findings       bigint,
    error          varchar
);

create table sync_state (
    account      varchar not null,
    folder       varchar not null,
    uidvalidity  bigint not null,
    last_uid     bigint not null,
    updated_at   timestamptz not null,
    primary key (account, folder)
);

create table policy_gstins (
    gstin  varchar primary key,
    label  varchar
);

create table policy_approved_asps (
    asp_name    varchar not null,
    asp_key     varchar not null,
    gsp_name    varchar,
    gstin       varchar not null,        -- "*" in policy.yaml is expanded to each GSTIN
    valid_from  date,                    -- inclusive, IST
    valid_to    date                     -- inclusive, IST
);

create table policy_asp_aliases (
    alias_key  varchar not null,         -- normalised spelling seen in alerts
    asp_key    varchar not null          -- normalised approved name it stands for
);

create table policy_thresholds (
    refresh_burst_window_s        bigint not null,
    refresh_burst_count           bigint not null,
    failed_access_spike_window_s  bigint not null,
    failed_access_spike_count     bigint not null,
    consent_expiring_days         bigint not null,
    max_consent_days              bigint not null
);

-- Views for people. IST is a fixed +05:30 offset.

create view refreshes as
select event_id, gstin, asp_name, asp_key, gsp_name,
       occurred_at, timezone('Asia/Kolkata', occurred_at) as occurred_at_ist,
       valid_until, timezone('Asia/Kolkata', valid_until) as valid_until_ist,
       channel, source_sha256
from events where kind = 'token_refreshed';

create view consents as
select event_id, gstin, asp_name, asp_key, gsp_name,
       occurred_at, timezone('Asia/Kolkata', occurred_at) as occurred_at_ist,
       valid_until, timezone('Asia/Kolkata', valid_until) as valid_until_ist,
       channel, source_sha256
from events where kind = 'consent_granted';

create view revocations as
select event_id, gstin, asp_name, asp_key, gsp_name,
       occurred_at, timezone('Asia/Kolkata', occurred_at) as occurred_at_ist,
       channel, source_ref, source_sha256
from events
where kind = 'access_revoked' or (kind = 'access_attempt' and status = 'revoked');

create view access_log as
select event_id, gstin, asp_name, asp_key, gsp_name,
       occurred_at, timezone('Asia/Kolkata', occurred_at) as occurred_at_ist,
       status, source_ref
from events where kind = 'access_attempt';

create view findings_ist as
select finding_id, rule_id, severity, gstin, asp_name,
       occurred_at, timezone('Asia/Kolkata', occurred_at) as occurred_at_ist,
       title, detail, event_ids, first_detected_at
from findings;

create view weekly_summary as
select date_trunc('week', timezone('Asia/Kolkata', occurred_at))::date as week_start_ist,
       gstin, asp_key, any_value(asp_name) as asp_name,
       count(*) filter (where kind = 'token_refreshed') as refreshes,
       count(*) filter (where kind = 'consent_granted') as consents,
       count(*) filter (where kind = 'access_revoked'
                        or (kind = 'access_attempt' and status = 'revoked')) as revocations,
       count(*) filter (where kind = 'access_attempt' and status = 'successful') as accesses_ok,
       count(*) filter (where kind = 'access_attempt' and status = 'failed') as accesses_failed,
       min(occurred_at) as first_at, max(occurred_at) as last_at
from events
where asp_key is not null
group by all;
