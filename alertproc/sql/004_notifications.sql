-- What was sent about which finding, so a finding is announced once per channel, ever.
create table notifications (
    finding_id  varchar not null,
    channel     varchar not null,   -- email | webhook | command
    status      varchar not null,   -- sent | failed
    attempts    integer not null,
    sent_at     timestamptz not null,
    error       varchar
);
