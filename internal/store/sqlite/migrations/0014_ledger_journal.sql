-- IF NOT EXISTS: a test of migration 0008 re-runs every later migration.
-- The ledger journal: what an append makes durable synchronously. One row
-- per commit group (one AppendRecords call), its records in the compact
-- binary encoding of journal.go. The store's applier moves each row into
-- usage_records, tag_sets and the rollups and deletes it in the same
-- transaction, so a row is applied exactly once; rows left by a crash are
-- applied at open. The newest applied row is kept with an empty body
-- rather than deleted, so the table never empties and seq (the rowid,
-- max + 1) never goes back: AUTOINCREMENT would do the same at the cost
-- of a sqlite_sequence write in every append.
CREATE TABLE IF NOT EXISTS ledger_journal (
    seq  INTEGER PRIMARY KEY,
    body BLOB    NOT NULL
);
