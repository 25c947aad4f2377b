package postgres

// AppliedRecords returns how many records db's applier (and its readers
// and Close) applied from the journal.
func AppliedRecords(db *DB) int64 { return db.jr.applied.Load() }

// StopApplier stops db's journal applier without applying what is left,
// as a killed process leaves the journal; readers of db then apply
// themselves, and so does Close.
func StopApplier(db *DB) { db.stopApplier() }
