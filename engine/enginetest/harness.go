// Package enginetest is the contract suite every Lifebelt dialect runs
// against a real server, in the manner of golang-migrate's database/testing:
// a dialect's contract_test.go fills in a Harness and calls Run, RunCrash
// and Bench. The suite drives the public session API (engine.Open, Execute,
// Commit, Undo, WriteUndoScript) and checks the database itself through a
// second, plain database/sql connection, so it tests what a user would see.
//
// The package holds no test files of its own: it is imported by the
// dialects' tests, and its helpers are ordinary Go.
package enginetest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"lifebelt/engine"
	"lifebelt/journal"
)

// Harness is what a dialect provides to the contract suite. Every function
// must fail the test (t.Fatal) rather than return a broken value.
type Harness struct {
	// Dialect is the registered driver name ("sqlite", "postgres").
	Dialect string
	// NewTarget makes a fresh, empty database for one test and returns its
	// target URL (as engine.ParseTarget reads it). It removes the database
	// in t.Cleanup. It skips the test (or fails it under CI=true) when the
	// server is unreachable.
	NewTarget func(t testing.TB) string
	// Open connects to a target outside Lifebelt, with the durability a
	// bare client would have (SQLite synchronous=FULL; PostgreSQL default),
	// for setup, checks and concurrent writers. It closes it in t.Cleanup.
	Open func(t testing.TB, target string) *sql.DB
	// Types are the dialect's column types with tricky sample values.
	Types []TypeCase
	// AutoIDs are the dialect's ways to declare a generated integer key
	// column (identity, serial, AUTOINCREMENT, rowid alias).
	AutoIDs []AutoID
	// Truncate renders the dialect's whole-table destructive statement for
	// a quoted table name: TRUNCATE on PostgreSQL, DELETE without WHERE on
	// SQLite.
	Truncate func(quotedTable string) string
	// RowID is the hidden physical row address used to single out one of
	// two identical rows ("rowid", "ctid").
	RowID string
	// Dump renders every row of a table (unquoted name) exactly, one string
	// per row, so two dumps are equal only when the contents are identical
	// value for value (types, precision, bytes). Order does not matter.
	Dump func(t testing.TB, db *sql.DB, table string) []string
	// Catalog lists facts about a table's definition (columns with types,
	// defaults and nullability; keys; checks; indexes; foreign keys), so
	// that two lists are equal only when the definitions are. Order does
	// not matter. It returns nothing for a table that does not exist.
	Catalog func(t testing.TB, db *sql.DB, table string) []string
	// SessionSettings maps read statements to the single value each must
	// return when run through a session: settings the session connection
	// must keep (durability, foreign keys), e.g. "PRAGMA synchronous": "2".
	SessionSettings map[string]string
	// KeyVariants are further ways to declare an integer primary key whose
	// uniqueness is enforced in some other way than an immediate check
	// that fails the insert (SQLite ON CONFLICT clauses, PostgreSQL
	// deferrable keys). Undo must detect a re-inserted key under each.
	KeyVariants []string
	// AuditTrigger renders the statements that create row triggers on
	// quotedTable which, after each INSERT, UPDATE and DELETE, add a row
	// (one text column) to quotedAudit. Undo must not fire them.
	AuditTrigger func(quotedTable, quotedAudit string) []string
	// ImagesTriggerWrites is true when the rows triggers write are imaged,
	// and so undone, rather than only reported (SQLite's pre-update hook
	// sees them; PostgreSQL's change counters only count them).
	ImagesTriggerWrites bool
	// AwaitIdle, when set, waits until no client other than db's own is
	// connected to db's database: a killed process's server session may
	// still be finishing a COMMIT it sent.
	AwaitIdle func(t testing.TB, db *sql.DB)
}

// TypeCase is one column type and sample values for it, as SQL literals.
// The suite adds a NULL row of its own.
type TypeCase struct {
	Name   string   // short, used in test and table names
	Type   string   // the column type as written in CREATE TABLE
	Setup  []string // statements run first (CREATE TYPE, CREATE DOMAIN ...)
	Values []string // SQL literals
}

// AutoID is a way to declare a generated integer primary key column.
type AutoID struct {
	Name   string // short, used in test names
	Column string // the column definition after the column name, e.g. "integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
	// NeverReuses is true when the generator never hands out a value
	// twice, even one whose row was deleted (sequences, AUTOINCREMENT),
	// so undoing DROP TABLE must restore its position, not just max+1.
	NeverReuses bool
}

// names makes table and column names: plain ones, or adversarial ones full
// of quotes, brackets, semicolons, comment starters, dots, spaces,
// non-ASCII letters and reserved words, which must survive every path
// (splitting, capture, undo, scripts) unchanged. They stay under
// PostgreSQL's 63-byte identifier limit.
type names struct{ adversarial bool }

func (n names) table(base string) string {
	if !n.adversarial {
		return base
	}
	return base + ` "t"; [x.y] sélect -- /*`
}

func (n names) column(base string) string {
	if !n.adversarial {
		return base
	}
	switch base {
	case "id":
		return "select"
	case "v":
		return `order "v"; [x]`
	case "n":
		return "n ü -- /* */"
	}
	return base + ` "q".;`
}

// quote quotes one identifier the ANSI way, which both SQLite and
// PostgreSQL read. The suite quotes its own SQL rather than borrowing the
// dialect's quoting function, so a broken one cannot hide itself.
func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// tbl is a table of one test with its (possibly adversarial) column names.
type tbl struct {
	name string
	cols map[string]string // base name → real name
	r    *strings.Replacer
}

// table names a table and its columns; sql templates then refer to them
// as {t} and {base}.
func (n names) tbl(base string, cols ...string) tbl {
	tb := tbl{name: n.table(base), cols: map[string]string{}}
	pairs := []string{"{t}", quote(tb.name)}
	for _, c := range cols {
		tb.cols[c] = n.column(c)
		pairs = append(pairs, "{"+c+"}", quote(tb.cols[c]))
	}
	tb.r = strings.NewReplacer(pairs...)
	return tb
}

// sql expands {t} and {column} in a template. Templates hold no other braces.
func (tb tbl) sql(tmpl string) string { return tb.r.Replace(tmpl) }

// env is one test's target, second connection and session.
type env struct {
	t      *testing.T
	h      Harness
	nm     names
	ctx    context.Context
	target string
	db     *sql.DB
	s      *engine.Session
	jpath  string
	closed bool
}

func newEnv(t *testing.T, h Harness, nm names) *env {
	t.Helper()
	target := h.NewTarget(t)
	e := &env{t: t, h: h, nm: nm, ctx: context.Background(), target: target}
	e.db = h.Open(t, target)
	e.jpath = filepath.Join(t.TempDir(), "session.lifebelt")
	s, err := openSession(e.ctx, target, e.jpath)
	if err != nil {
		t.Fatalf("opening a session on %s: %v", target, err)
	}
	e.s = s
	t.Cleanup(func() {
		e.closeSession()
		checkJournal(t, e.jpath)
	})
	return e
}

// openSession opens a session with the journal at jpath (continued when it exists).
func openSession(ctx context.Context, target, jpath string) (*engine.Session, error) {
	tg, err := engine.ParseTarget(target)
	if err != nil {
		return nil, err
	}
	return engine.Open(ctx, tg, engine.Options{JournalPath: jpath, Operator: "enginetest", Reason: "contract suite"})
}

func (e *env) closeSession() {
	if e.closed {
		return
	}
	e.closed = true
	if err := e.s.Close(); err != nil {
		e.t.Errorf("closing the session: %v", err)
	}
}

// reopen closes the session and continues its journal in a new one.
func (e *env) reopen() {
	e.t.Helper()
	e.closeSession()
	s, err := openSession(e.ctx, e.target, e.jpath)
	if err != nil {
		e.t.Fatalf("continuing journal %s: %v", e.jpath, err)
	}
	e.s, e.closed = s, false
}

// checkJournal asserts what must hold for every journal at the end of a
// test: the hash chain and digests verify, and only the owner can read it.
func checkJournal(t testing.TB, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Errorf("journal: %v", err)
		return
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("journal %s has mode %o, want 600", path, m)
	}
	rep, err := journal.Verify(path)
	if err != nil {
		t.Errorf("verifying journal: %v", err)
		return
	}
	if !rep.OK {
		t.Errorf("journal does not verify: %v", rep.Problems)
	}
}

// exec runs SQL on the second connection.
func (e *env) exec(q string, args ...any) {
	e.t.Helper()
	if _, err := e.db.ExecContext(e.ctx, q, args...); err != nil {
		e.t.Fatalf("outside Lifebelt: %s: %v", q, err)
	}
}

// query runs a query on the second connection and renders each row as its
// columns joined by "|", NULL as "NULL". It is for simple values whose
// text form is the same on every dialect; dumps compare everything else.
func (e *env) query(q string, args ...any) []string {
	e.t.Helper()
	out, err := queryRows(e.ctx, e.db, q, args...)
	if err != nil {
		e.t.Fatalf("outside Lifebelt: %s: %v", q, err)
	}
	return out
}

func queryRows(ctx context.Context, db *sql.DB, q string, args ...any) ([]string, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	out := []string{}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = "NULL"
			if v.Valid {
				parts[i] = v.String
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	return out, rows.Err()
}

// dump is the table's exact content, sorted.
func (e *env) dump(tb tbl) []string {
	e.t.Helper()
	d := e.h.Dump(e.t, e.db, tb.name)
	slices.Sort(d)
	return d
}

func (e *env) catalog(tb tbl) []string {
	e.t.Helper()
	c := e.h.Catalog(e.t, e.db, tb.name)
	slices.Sort(c)
	return c
}

// execute runs a batch confirmed with the database name and fails the
// test on error; the batch awaits Commit or Rollback.
func (e *env) execute(q string) *engine.Pending {
	e.t.Helper()
	p, err := e.s.Execute(e.ctx, q, engine.ExecuteOptions{Confirm: e.s.ConfirmName()})
	if err != nil {
		e.t.Fatalf("Execute(%s): %v", q, err)
	}
	return p
}

// commit runs and commits a batch.
func (e *env) commit(q string) *engine.Pending {
	e.t.Helper()
	p := e.execute(q)
	if err := p.Commit(e.ctx); err != nil {
		e.t.Fatalf("Commit(%s): %v", q, err)
	}
	return p
}

func (e *env) undo(opt engine.UndoOptions) *engine.UndoReport {
	e.t.Helper()
	rep, err := e.s.Undo(e.ctx, opt)
	if err != nil {
		e.t.Fatalf("Undo(%+v): %v", opt, err)
	}
	return rep
}

func (e *env) entries() []journal.Entry {
	e.t.Helper()
	es, err := e.s.Journal().Entries()
	if err != nil {
		e.t.Fatalf("reading the journal: %v", err)
	}
	return es
}

// state is the computed state of entry seq.
func (e *env) state(seq int64) string {
	e.t.Helper()
	for _, en := range e.entries() {
		if en.Seq == seq {
			return en.State
		}
	}
	e.t.Fatalf("the journal has no entry %d", seq)
	return ""
}

// images renders entry seq's images, sorted, as "OP table before -> after".
func (e *env) images(seq int64) []string {
	e.t.Helper()
	out, err := renderImages(e.s.Journal(), seq)
	if err != nil {
		e.t.Fatalf("reading images of entry %d: %v", seq, err)
	}
	return out
}

func renderImages(j *journal.Journal, seq int64) ([]string, error) {
	ts, err := j.Tables(seq)
	if err != nil {
		return nil, err
	}
	name := map[int64]string{}
	for _, t := range ts {
		name[t.ID] = t.Name
	}
	out := []string{}
	err = j.Images(seq, func(im journal.Image) error {
		out = append(out, fmt.Sprintf("%c %s %s -> %s", im.Op, name[im.Table], renderRow(im.Before), renderRow(im.After)))
		return nil
	})
	slices.Sort(out)
	return out, err
}

// renderRow renders values the same way whatever their storage class, so
// SQLite's Int 3 and PostgreSQL's Text "3" both read "3".
func renderRow(vs []journal.Value) string {
	if vs == nil {
		return "-"
	}
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = v.String()
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// seqOf is the journal entry of a one-statement batch.
func seqOf(t testing.TB, p *engine.Pending) int64 {
	t.Helper()
	if len(p.Statements) != 1 {
		t.Fatalf("batch has %d statements, want 1", len(p.Statements))
	}
	return p.Statements[0].Seq
}

// scripter is the dialect's undo-script renderer.
func scripter(t testing.TB, dialect string) engine.Scripter {
	t.Helper()
	d, err := engine.Lookup(dialect)
	if err != nil {
		t.Fatal(err)
	}
	sc, ok := d.(engine.Scripter)
	if !ok {
		t.Fatalf("the %s driver does not implement engine.Scripter", dialect)
	}
	return sc
}

// equal fails the test when got and want differ, naming what.
func equal(t testing.TB, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}

// errorAs reports whether err wraps a *T.
func errorAs[T error](err error) (T, bool) {
	var target T
	ok := errors.As(err, &target)
	return target, ok
}

// FirstColumn runs q on db and returns its first column, NULL as "".
func FirstColumn(t testing.TB, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s sql.NullString
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s.String)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// CommitAll runs each text as a batch of the session, commits it, and
// returns the batches' journal entries. For dialect tests outside the
// suite.
func CommitAll(t testing.TB, s *engine.Session, batches ...string) (seqs []int64) {
	t.Helper()
	ctx := context.Background()
	for _, q := range batches {
		p, err := s.Execute(ctx, q, engine.ExecuteOptions{Confirm: s.ConfirmName()})
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if err := p.Commit(ctx); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		seqs = append(seqs, p.Seqs()...)
	}
	return seqs
}

// UndoAll runs an undo and fails the test on error.
func UndoAll(t testing.TB, s *engine.Session, opt engine.UndoOptions) *engine.UndoReport {
	t.Helper()
	rep, err := s.Undo(context.Background(), opt)
	if err != nil {
		t.Fatalf("undo: %v", err)
	}
	return rep
}

// Joined returns the first column of a query's rows joined by commas.
func Joined(t testing.TB, db *sql.DB, q string, args ...any) string {
	t.Helper()
	return strings.Join(FirstColumn(t, db, q, args...), ",")
}

// SessionOn opens an engine session on a fresh target of the harness after
// running setup on it through a second connection, which it also returns.
// For dialect tests outside the suite.
func SessionOn(t *testing.T, h Harness, setup ...string) (*engine.Session, *sql.DB) {
	t.Helper()
	target := h.NewTarget(t)
	db := h.Open(t, target)
	ExecAll(t, db, setup...)
	s, err := openSession(context.Background(), target, filepath.Join(t.TempDir(), "j.lifebelt"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, db
}

// ExecAll runs each statement on db and fails the test on an error.
func ExecAll(t testing.TB, db *sql.DB, qs ...string) {
	t.Helper()
	for _, q := range qs {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// State is the computed state of journal entry seq of the session
// ("missing" when there is none).
func State(t testing.TB, s *engine.Session, seq int64) string {
	t.Helper()
	es, err := s.Journal().Entries()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Seq == seq {
			return e.State
		}
	}
	return "missing"
}

// MustUndo undoes and fails the test on an error.
func MustUndo(t testing.TB, s *engine.Session, opt engine.UndoOptions) *engine.UndoReport {
	t.Helper()
	rep, err := s.Undo(context.Background(), opt)
	if err != nil {
		t.Fatalf("undo %v: %v", opt.Entries, err)
	}
	return rep
}

// CommitWarn runs one statement through the session with the database's
// confirmation, commits it, and returns its journal entry and warnings.
func CommitWarn(t testing.TB, s *engine.Session, q string) (seq int64, warnings string) {
	t.Helper()
	p, err := s.Execute(context.Background(), q, engine.ExecuteOptions{Confirm: s.ConfirmName()})
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	warnings = strings.Join(p.Statements[0].Warnings, " ")
	if err := p.Commit(context.Background()); err != nil {
		t.Fatalf("committing %s: %v", q, err)
	}
	return p.Statements[0].Seq, warnings
}
