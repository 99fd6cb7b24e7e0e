-- One name per vendor (`alertproc asp merge`, docs/policy.md): spellings recorded as aliases of
-- another ASP, with who and why; append-only, applied to policy_asp_aliases at every detect.
create sequence merge_ids start 1;

create table asp_merges (
    merge_id    bigint primary key,
    alias_name  varchar not null,   -- the spelling merged away, as given
    alias_key   varchar not null,
    asp_name    varchar not null,   -- the ASP it is one with
    asp_key     varchar not null,
    note        varchar not null,
    by_user     varchar not null,
    merged_at   timestamptz not null
);
