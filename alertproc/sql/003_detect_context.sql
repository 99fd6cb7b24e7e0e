-- The time the rules judge "now" by, written by every detect: the earlier of the wall clock
-- and the newest event, so an old export is judged as of its own end and results repeat.
create table detect_context (
    as_of  timestamptz not null
);
