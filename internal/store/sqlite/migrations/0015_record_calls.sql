-- How many calls a usage record stands for (ledger.Record.Calls, issue #17
-- item 6): 1 for a runtime call, and for every record written before;
-- more for a summary record such as an hour of the demo's back-filled
-- history. The rollups' calls, errors and unpriced sum it.
ALTER TABLE usage_records ADD COLUMN calls INTEGER NOT NULL DEFAULT 1;
