package journal

import "strings"

// Column describes one column of an imaged table.
type Column struct {
	Name string `json:"name"`
	// Type is the dialect's type as it may appear in a CAST, e.g.
	// "numeric(12,2)", "timestamp with time zone", "INTEGER".
	Type      string `json:"type"`
	NotNull   bool   `json:"not_null,omitempty"`
	Generated bool   `json:"generated,omitempty"` // computed column: never written on undo
	Identity  string `json:"identity,omitempty"`  // "always", "default" or "" (PostgreSQL identity columns)
}

// Row identity kinds of a Table.
const (
	KeyPrimary = "primary" // primary key
	KeyUnique  = "unique"  // a unique key whose columns are all NOT NULL
	KeyRow     = "row"     // no usable key: the whole row identifies it; duplicates count
)

// Table describes a table whose rows are imaged.
type Table struct {
	ID      int64    `json:"-"` // journal table id, set by the journal
	Schema  string   `json:"schema,omitempty"`
	Name    string   `json:"name"`
	Columns []Column `json:"columns"`
	// Key lists column positions identifying a row. For KeyRow it lists
	// every non-generated column.
	Key     []int  `json:"key"`
	KeyKind string `json:"key_kind"`
	// Level is the cascade depth: 0 for the statement's own target, 1 for
	// rows changed by a foreign-key action on it, and so on. Undo re-inserts
	// in ascending level and deletes in descending level.
	Level int `json:"level"`
}

// QualifiedName is schema.name for display (unquoted).
func (t Table) QualifiedName() string {
	if t.Schema == "" {
		return t.Name
	}
	return t.Schema + "." + t.Name
}

// KeyOf extracts the key values of row.
func (t Table) KeyOf(row []Value) []Value {
	k := make([]Value, len(t.Key))
	for i, c := range t.Key {
		k[i] = row[c]
	}
	return k
}

// Object actions recorded in an Object.
const (
	ActionDrop     = "drop"
	ActionCreate   = "create"
	ActionReplace  = "replace" // CREATE OR REPLACE of an existing object
	ActionAlter    = "alter"
	ActionTruncate = "truncate"
	// ActionKeep: rows an undo imaged before a forced change that then
	// failed; kept for people, never written back.
	ActionKeep = "keep"
)

// Definition is everything needed to re-create an object.
type Definition struct {
	// Create re-creates the object without its data (CREATE TABLE with
	// columns, defaults, identity, NOT NULL, CHECK; CREATE VIEW; CREATE
	// FUNCTION ...). Statements run in order.
	Create []string `json:"create,omitempty"`
	// PostData runs after rows are restored: indexes, primary/unique/foreign
	// keys, triggers, comments, sequence positions.
	PostData []string `json:"post_data,omitempty"`
	// Drop removes the object (used to undo its creation).
	Drop []string `json:"drop,omitempty"`
	// Text is the human-readable full definition shown in reviews.
	Text string `json:"text,omitempty"`
	// At, on the object an undo entry records (on its After definition,
	// or its Before when it has none), is how many of the entry's images
	// the undo had written when it changed the object: undoing the undo
	// changes it back between those images and the later ones. Nil in
	// statement entries and in undo entries of journals written before
	// it existed.
	At *int64 `json:"at,omitempty"`
	// Revert, on a definition of an altered table, turns the table as this
	// definition describes it into the object's other definition (After
	// into Before: undo; Before into After: undo of that undo). Nil when
	// the change cannot be reverted automatically.
	Revert *Revert `json:"revert,omitempty"`
}

// Revert is how to turn an altered table back. It applies only while the
// table named Schema.Name still has the definition it is attached to.
type Revert struct {
	Schema string `json:"schema,omitempty"`
	Name   string `json:"name"`
	// Statements run in order.
	Statements []string `json:"statements"`
	// Checks must each count no rows first: rows whose values the
	// statements would destroy (values in a column they drop that differ
	// from what the change put there).
	Checks []RevertCheck `json:"checks,omitempty"`
	// Columns maps the columns the statements rename, from the name
	// before to the name after them.
	Columns map[string]string `json:"columns,omitempty"`
	// Exact means the statements must give the table back exactly the
	// definition recorded on the other side of the change; where they do
	// not, their effect is rolled back and the change is a conflict.
	Exact bool `json:"exact,omitempty"`
	// KeepsRows means the statements leave the table's names, columns
	// and types as they are, so later statements' images still apply:
	// the change may be undone before them.
	KeepsRows bool `json:"keeps_rows,omitempty"`
	// Fill lists columns the statements add back empty (the undo of DROP
	// COLUMN): after the statements, each is set, row by row matched by
	// key, to the value imaged with the change (the Object's Table
	// handle). Rows gone since are left out.
	Fill []string `json:"fill,omitempty"`
	// Then runs after Fill: what needs the values back (NOT NULL,
	// constraints, indexes, comments of the columns).
	Then []string `json:"then,omitempty"`
	// ImageFirst means every row of the table is imaged before the
	// statements, which drop values (a DROP COLUMN done again).
	ImageFirst bool `json:"image_first,omitempty"`
	// Expect, when set, is the definition the statements give the table
	// instead of exactly the one on the other side of the change: a
	// column added back comes last, since neither PostgreSQL nor SQLite
	// can put it back in its place. Exact compares with it.
	Expect *Definition `json:"expect,omitempty"`
}

// RevertCheck is a query returning one count, and what a non-zero count
// means, with %d for the count.
type RevertCheck struct {
	Query  string `json:"query"`
	Reason string `json:"reason"`
}

// Object is the definition of an object a DDL statement affects.
type Object struct {
	Kind   string      `json:"kind"` // TABLE, VIEW, MATERIALIZED VIEW, FUNCTION, PROCEDURE, TRIGGER, INDEX, SEQUENCE, CONSTRAINT
	Schema string      `json:"schema,omitempty"`
	Name   string      `json:"name"`
	Action string      `json:"action"` // one of the Action constants
	Before *Definition `json:"before,omitempty"`
	After  *Definition `json:"after,omitempty"`
	// Table is the journal table id under which the object's rows were
	// imaged as OpDelete images, or 0 when no rows were captured.
	Table int64 `json:"table,omitempty"`
}

// Steps renders what the revert does, in order, for people: its
// statements, each ended by a semicolon, and its other steps as SQL
// comments.
func (r *Revert) Steps() []string {
	var out []string
	if r.ImageFirst {
		out = append(out, "-- every row of the table is imaged first")
	}
	for _, s := range r.Statements {
		out = append(out, s+";")
	}
	if len(r.Fill) > 0 {
		out = append(out, "-- each row still there gets back its value of column(s) "+strings.Join(r.Fill, ", ")+" from the images, matched by key")
	}
	for _, s := range r.Then {
		out = append(out, s+";")
	}
	return out
}
