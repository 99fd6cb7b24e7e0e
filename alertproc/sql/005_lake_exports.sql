-- How far `alertproc export lake` got: rows of `table_name` imported up to `exported_until`
-- are in the lake at `lake`. Written only after the lake's files are durable.
create table lake_exports (
    lake            varchar not null,    -- absolute path of the lake folder
    table_name      varchar not null,    -- events | messages
    exported_until  timestamptz not null,
    updated_at      timestamptz not null,
    primary key (lake, table_name)
);
