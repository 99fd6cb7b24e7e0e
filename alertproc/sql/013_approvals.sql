-- Approvals as recorded decisions (`alertproc approve|unapprove`, docs/policy.md): an
-- append-only history layered over the policy file, one row per GSTIN a decision covers.
create sequence approval_ids start 1;

create table approvals (
    approval_id  bigint primary key,
    action       varchar not null,   -- approve | unapprove
    gstin        varchar not null,
    asp_name     varchar not null,   -- as the decision spelt it
    asp_key      varchar not null,   -- its normalised key
    valid_from   date,               -- inclusive, IST; unapprove: the first day no longer approved
    valid_to     date,               -- inclusive, IST
    client       varchar,            -- `--client`: the client whose GSTINs it covered
    note         varchar not null,   -- why
    by_user      varchar not null,
    decided_at   timestamptz not null
);
