-- usage_records no longer checks its tag_set_id against tag_sets with a
-- foreign key. The check was a trigger and a lookup per appended record,
-- an eighth of the database's CPU per record at ingest (a profile of
-- BenchmarkAppendParallel, docs/scale-out.md), and it guarded nothing the
-- append does not already: every id it writes is one it read or inserted
-- in tag_sets, whose rows are never updated or deleted. The rollup tables,
-- which see a row per combination rather than per call, keep theirs.
ALTER TABLE usage_records DROP CONSTRAINT IF EXISTS usage_records_tag_set_id_fkey;
