-- The ASP inventory's summary of the history (tables and macro: 006_pair_history.sql).

-- name: state
-- The summary's cutoff, and whether events before it were added or deleted since it was built
-- (imported_at follows insertion order, so DuckDB's zone maps skip all but the newest rows).
select s.cutoff,
       s.events_before <> (select count(*) from events where occurred_at < s.cutoff)
       or exists (select 1 from events where imported_at > s.built_at and occurred_at < s.cutoff) as stale
from pair_history_state s;

-- name: clear
delete from pair_history;
delete from pair_history_state;

-- name: fill
insert into pair_history
select * exclude (events_in_period) from pair_partials('-infinity'::timestamptz, $cutoff, $cutoff);

-- name: save_state
insert into pair_history_state
select $cutoff, (select count(*) from events where occurred_at < $cutoff), $built_at;
