package engine

import "lifebelt/journal"

// The row and object model is the journal's: what is captured is exactly
// what is stored.
type (
	Value      = journal.Value
	Column     = journal.Column
	TableInfo  = journal.Table
	Definition = journal.Definition
	// Revert is how to turn an altered table back (see journal.Revert).
	Revert = journal.Revert
	// RevertCheck counts rows a Revert would destroy.
	RevertCheck = journal.RevertCheck
	// ObjectImage is the definition of an object a DDL statement affects.
	ObjectImage = journal.Object
)

// Value kinds, row identity kinds and object actions, re-exported from journal.
const (
	NullKind  = journal.Null
	IntKind   = journal.Int
	FloatKind = journal.Float
	TextKind  = journal.Text
	BytesKind = journal.Bytes

	KeyPrimary = journal.KeyPrimary
	KeyUnique  = journal.KeyUnique
	KeyRow     = journal.KeyRow

	ActionDrop     = journal.ActionDrop
	ActionCreate   = journal.ActionCreate
	ActionReplace  = journal.ActionReplace
	ActionAlter    = journal.ActionAlter
	ActionTruncate = journal.ActionTruncate
	ActionKeep     = journal.ActionKeep
)

// Op is the kind of a row change.
type Op byte

// Row change operations, as stored in the journal.
const (
	OpInsert Op = 'I' // after-image only
	OpUpdate Op = 'U' // before and after
	OpDelete Op = 'D' // before-image only
)

// Sink receives the images of one statement while it runs. The engine's
// implementation streams them to the journal, so a dialect must not buffer
// whole result sets: call Row as rows arrive.
type Sink interface {
	// Table declares a table whose rows follow and returns its handle
	// (the journal table id). Declaring the same table twice is allowed.
	Table(t TableInfo) (int64, error)
	// Row records one row change. before is nil for OpInsert, after is nil
	// for OpDelete. The slices may be reused by the caller after Row
	// returns, but the strings and byte slices inside the Values must not
	// change: the journal writes them later, on another goroutine.
	Row(table int64, op Op, before, after []Value) error
	// Object records the definition of an affected object; o.Table is the
	// handle under which its rows were imaged (0 for none).
	Object(o ObjectImage) error
	// Warn records a warning for the result and the journal.
	Warn(msg string)
}
