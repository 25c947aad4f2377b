package sqlstore

import "github.com/tollgate-dev/tollgate/internal/errkind"

// Class is what a driver error means to a store, as far as the stores
// tell errors apart. Each dialect sorts its driver's errors into classes
// (Errors.Classify); the stores decide from the class, never from a
// driver's codes.
type Class uint8

// The classes of driver errors.
const (
	// Unexpected is any other error: errkind.Internal.
	Unexpected Class = iota
	// Constraint is an integrity constraint violation not told apart
	// below (a check or not-null constraint).
	Constraint
	// Unique is a unique or primary key violation.
	Unique
	// ForeignKey is a foreign key violation.
	ForeignKey
	// NoPartition is a row that fits no partition of a partitioned table.
	NoPartition
	// Serialization is a serialization failure or a deadlock: the
	// transaction may be retried.
	Serialization
	// Unavailable is a database that cannot be reached, is shutting
	// down, or has no connection left: clients may retry.
	Unavailable
	// BadText is a string the database cannot hold (a NUL byte or
	// invalid UTF-8).
	BadText
)

// Errors classifies one driver's errors. The zero value classifies every
// error as Unexpected.
type Errors struct {
	// Classify returns err's class; nil means Unexpected for all.
	Classify func(err error) Class
}

// Class returns err's class (Unexpected for nil).
func (e Errors) Class(err error) Class {
	if err == nil || e.Classify == nil {
		return Unexpected
	}
	return e.Classify(err)
}

// IsConstraint reports whether err is an integrity constraint violation
// of any kind (Constraint, Unique, ForeignKey or NoPartition).
func (e Errors) IsConstraint(err error) bool {
	switch e.Class(err) {
	case Constraint, Unique, ForeignKey, NoPartition:
		return true
	}
	return false
}

// Internal wraps an unexpected database error of the operation op:
// errkind.Unavailable when the database cannot be reached (clients may
// retry), errkind.Invalid for a string the database cannot hold,
// errkind.Internal otherwise. The client-safe message names op only.
func (e Errors) Internal(err error, op string) error {
	switch e.Class(err) {
	case Unavailable:
		return errkind.Wrap(errkind.Unavailable, err, "the store is unavailable (%s)", op)
	case BadText:
		return errkind.Wrap(errkind.Invalid, err, "A string in the request contains a NUL character or invalid UTF-8, which cannot be stored.")
	}
	return errkind.Wrap(errkind.Internal, err, "internal error (%s)", op)
}
