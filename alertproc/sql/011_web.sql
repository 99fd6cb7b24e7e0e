-- The web app (alertproc serve, docs/web.md): its users and the audit log of every change made
-- through it. Passwords are stored as scrypt hashes (storage/users.py), never as given.
create table web_users (
    username       varchar primary key,
    role           varchar not null,      -- viewer | auditor | admin
    password_hash  varchar not null,      -- scrypt$n$r$p$salt$hash (hex)
    created_at     timestamptz not null,
    updated_at     timestamptz not null
);

-- Who changed what, when and from which address: triage through the web app, and users added,
-- changed or removed (by `alertproc user` too: address 'cli').
create sequence web_audit_ids start 1;

create table web_audit (
    audit_id   bigint primary key,
    at_time    timestamptz not null,
    username   varchar not null,
    address    varchar not null,
    action     varchar not null,
    target     varchar,
    detail     varchar
);
