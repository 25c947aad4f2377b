// Package archtest holds tests that keep the repository's architecture rules.
//
// Domain packages stay free of transport, storage, database drivers and
// Prometheus; only cmd/tollgate
// wires stores to APIs; every package says what it owns in a doc comment;
// and no data directory, database, binary or build output is tracked.
// The package has no code of its own: the rules live in its tests.
package archtest
