-- The ledger journal (journal.go; docs/scale-out.md, "The ledger on
-- PostgreSQL"): all an append makes durable before it returns. One row
-- per commit group (one AppendRecords call), its records in the SQLite
-- journal's binary encoding (sqlstore.JournalEncoder); records is how many
-- it holds. Every replica's applier claims the oldest rows (FOR UPDATE SKIP
-- LOCKED), writes their records into usage_request_ids, usage_records and
-- the hourly and daily rollups, and deletes the rows, all in one
-- transaction, so a row is applied once across replicas and crashes, and
-- a request id once whatever replays it.
CREATE TABLE IF NOT EXISTS ledger_journal (
    seq     bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    records integer NOT NULL,
    body    bytea   NOT NULL
);
