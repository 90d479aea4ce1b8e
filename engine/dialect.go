package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
)

// Driver opens connections to one dialect's targets. Dialect packages call
// Register from an init function; main imports them for their side effect.
type Driver interface {
	// Name is the URL scheme family: "sqlite", "postgres".
	Name() string
	// Open connects to the target and pins one connection for the session
	// (everything session-scoped runs on it).
	Open(ctx context.Context, t Target) (Conn, error)
}

// Identity identifies the server and database a session changes, so a
// journal can refuse to be continued or undone against another one.
type Identity struct {
	Dialect       string
	ServerVersion string
	Database      string // database name; the absolute file path for SQLite
	// ID is stable for the same database: "<system identifier>/<db oid>"
	// on PostgreSQL, the absolute path on SQLite.
	ID    string
	Extra map[string]string
}

// Conn is one pinned connection to a target.
type Conn interface {
	Identity(ctx context.Context) (Identity, error)
	// Split splits a batch into classified statements. It fails with a
	// *SyntaxError when the text cannot be split (an unterminated string,
	// say), before anything runs.
	Split(sql string) ([]Statement, error)
	// Begin starts the transaction a batch (or an undo) runs in. Dialects
	// use the strongest isolation their capture needs (REPEATABLE READ or
	// SERIALIZABLE on PostgreSQL; BEGIN IMMEDIATE on SQLite).
	Begin(ctx context.Context) (Tx, error)
	Close() error
}

// ExecOptions tune one statement's execution.
type ExecOptions struct {
	// AllowUnguarded lets statements that cannot be guarded run anyway;
	// without it Exec returns an *UnguardedError before running them.
	AllowUnguarded bool
	// MaxResultRows caps the rows a read returns in Result.Rows (0: 1000).
	MaxResultRows int
}

// Result is what one statement did.
type Result struct {
	RowsAffected int64
	// Unguarded is true when the statement ran without images because the
	// caller allowed it.
	Unguarded bool
	// For reads: column names and the first MaxResultRows rows.
	Columns   []string
	Rows      [][]Value
	Truncated bool // more rows existed than were returned
}

// Tx is a transaction on a Conn.
type Tx interface {
	// Exec runs one statement. For a change it first sends to sink the
	// before-images of exactly the rows the statement changes (including
	// rows changed by foreign-key actions), the definitions of the objects
	// it drops, replaces or alters (and all rows of a dropped or truncated
	// table), and after-images of inserted and updated rows. Images must be
	// exact under concurrency. If the statement cannot be guarded and
	// opt.AllowUnguarded is false, Exec returns *UnguardedError and runs
	// nothing.
	Exec(ctx context.Context, st Statement, sink Sink, opt ExecOptions) (Result, error)
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// Settler is an optional Tx capability. Settle runs, at the end of a
// batch, what the database would otherwise run at COMMIT (PostgreSQL's
// deferred constraint triggers and checks), while its effects can still be
// checked: rows such code changes in tables the batch did not image become
// warnings on sink; rows it changes in tables the batch imaged fail the
// batch, as their images would no longer be exact. The engine calls it
// after the last statement, with that statement's sink, before the
// journal is made durable.
type Settler interface {
	Settle(ctx context.Context, sink Sink) error
}

// TxIDer is implemented by a Tx whose commit can be checked later from its
// identifier (PostgreSQL txid_status), so that an interrupted session can
// tell whether an in-doubt batch committed.
type TxIDer interface {
	TxID(ctx context.Context) (string, error)
}

// TxStatuser resolves a TxID recorded in an earlier session: it returns
// "committed", "aborted" or "unknown".
type TxStatuser interface {
	TxStatus(ctx context.Context, txid string) (string, error)
}

// Autocommitter is an optional Conn capability for statements that cannot
// run inside a transaction at all (VACUUM, CREATE DATABASE, ...). Such a
// statement can never be guarded: the engine runs it only when the caller
// allows unguarded execution, only alone in its batch, and journals it as
// unguarded before it runs.
type Autocommitter interface {
	NeedsAutocommit(st Statement) bool
	ExecAutocommit(ctx context.Context, st Statement) (Result, error)
}

// Found is the current state of one imaged row during undo.
type Found struct {
	Row   []Value // the current row (first match), nil when absent
	Count int     // matching rows: 0 or 1 for keyed tables
}

// Applier is implemented by a Tx that can apply undo. All methods work in
// batches; keys are in TableInfo.Key order, rows in TableInfo.Columns order.
type Applier interface {
	// PrepareUndo readies the transaction for restoring rows, for example
	// by deferring foreign-key checks or disabling triggers where the user
	// is allowed to; it returns notes for the journal. It is the first
	// call on the transaction.
	PrepareUndo(ctx context.Context) ([]string, error)
	// Fetch locks and returns the current rows with the given keys.
	Fetch(ctx context.Context, t TableInfo, keys [][]Value) ([]Found, error)
	Insert(ctx context.Context, t TableInfo, rows [][]Value) error
	// Update sets every non-generated column of the row with keys[i] to rows[i].
	Update(ctx context.Context, t TableInfo, keys [][]Value, rows [][]Value) error
	// Delete removes one row per key (for KeyRow tables, one of the duplicates).
	Delete(ctx context.Context, t TableInfo, keys [][]Value) error
	// ExecDDL runs definition statements recorded in a Definition.
	ExecDDL(ctx context.Context, stmts []string) error
	// ObjectExists reports whether an object of that kind and name exists.
	ObjectExists(ctx context.Context, kind, schema, name string) (bool, error)
	// SyncSequences moves the table's sequences/autoincrement counters
	// ahead of the largest value present, after rows were re-inserted.
	SyncSequences(ctx context.Context, t TableInfo) error
}

// ColumnLister is an optional Applier capability: the current columns of
// a table (exists is false when there is no such table), so that undo
// leaves as conflicts the rows of a table that no longer has the columns
// they hold (a later change dropped or renamed them, or dropped the
// table), rather than address what is not there.
type ColumnLister interface {
	// Columns lists them with their types as a TableInfo spells them.
	Columns(ctx context.Context, schema, name string) (cols []Column, exists bool, err error)
}

// UndoBeginner is an optional Conn capability: BeginUndo starts the
// transaction of an undo where that takes more than Begin (SQLite turns
// foreign-key enforcement off for it, which it cannot do inside a
// transaction, and back on when it ends).
type UndoBeginner interface {
	BeginUndo(ctx context.Context) (Tx, error)
}

// UndoFinisher is an optional Applier capability: FinishUndo runs after
// the last row is restored and before the undo commits, to put back what
// PrepareUndo changed that does not end with the transaction.
type UndoFinisher interface {
	FinishUndo(ctx context.Context) error
}

// TryInserter is an Applier that can re-insert a batch of deleted rows
// without reading the table first. TryInsert inserts every row, or, when
// any of them cannot be inserted (a row with its key is there again, or
// any other error), none of them, leaving the transaction as it was, and
// reports false; the engine then takes the careful path (Fetch, compare,
// report conflicts). An error means the transaction is no longer usable.
type TryInserter interface {
	TryInsert(ctx context.Context, t TableInfo, rows [][]Value) (bool, error)
}

// Scripter renders SQL text for exported undo scripts. It is implemented by
// a Driver.
type Scripter interface {
	// QuoteIdent quotes one identifier part.
	QuoteIdent(name string) string
	// Table renders the qualified, quoted table name.
	Table(t TableInfo) string
	// Literal renders v as a literal of column c's type.
	Literal(v Value, c Column) string
	// Matches renders a condition true when column c (quoted name in col)
	// holds exactly v, NULL-safe and exact for every type.
	Matches(col string, v Value, c Column) string
	// BeginScript / CommitScript wrap a script in one transaction.
	BeginScript() string
	CommitScript() string
	// IfAbsent and IfPresent wrap DDL so a script can run twice:
	// the statements run only when the object is absent / present.
	IfAbsent(kind, schema, name string, stmts []string) []string
	IfPresent(kind, schema, name string, stmts []string) []string
}

// RowPicker is an optional Scripter capability: OneRow narrows a condition
// to a single physical row, so a script can change one of several identical
// rows of a table without a key.
type RowPicker interface {
	OneRow(t TableInfo, cond string) string
}

// SyntaxError reports text that cannot be split into statements.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("syntax error at byte %d: %s", e.Offset, e.Msg)
}

// UnguardedError reports a statement Lifebelt cannot guard.
type UnguardedError struct {
	Statement string
	Reason    string
}

func (e *UnguardedError) Error() string {
	return fmt.Sprintf("cannot guard this statement (%s); nothing ran — allow unguarded execution to run it anyway", e.Reason)
}

// ErrCapabilityUnsupported is returned when a dialect lacks an optional capability.
var ErrCapabilityUnsupported = errors.New("not supported by this dialect")

var (
	driversMu sync.RWMutex
	drivers   = map[string]Driver{}
)

// Register makes a driver available by name. It panics on a duplicate name,
// which is a programming error found at start-up.
func Register(d Driver) {
	driversMu.Lock()
	defer driversMu.Unlock()
	if _, dup := drivers[d.Name()]; dup {
		panic("engine: driver registered twice: " + d.Name())
	}
	drivers[d.Name()] = d
}

// Lookup returns the registered driver for a dialect name.
func Lookup(name string) (Driver, error) {
	driversMu.RLock()
	defer driversMu.RUnlock()
	d, ok := drivers[name]
	if !ok {
		return nil, fmt.Errorf("no driver for %q is built into this program (have: %v)", name, driverNames())
	}
	return d, nil
}

// Drivers lists registered dialect names.
func Drivers() []string {
	driversMu.RLock()
	defer driversMu.RUnlock()
	return driverNames()
}

func driverNames() []string {
	var names []string
	for n := range drivers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
