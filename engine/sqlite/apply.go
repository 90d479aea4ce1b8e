package sqlite

/*
#include "bridge.h"
*/
import "C"

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"lifebelt/engine"
)

// The transaction applies undo. The pre-update hook is inactive during
// these calls (it is only active inside Exec), so undo writes no images;
// triggers are suspended while it writes rows (suspendTriggers).
var _ engine.Applier = (*tx)(nil)

// PrepareUndo arranges for triggers not to fire while undo writes rows
// (see suspendTriggers). In a transaction begun by BeginUndo, foreign-key
// enforcement is off, so rows go back in any order and no foreign-key
// action fires; the engine's reference check looks at the result. In
// one begun by Begin, foreign-key checks are deferred to COMMIT instead,
// and foreign-key actions fire.
func (t *tx) PrepareUndo(ctx context.Context) ([]string, error) {
	if err := t.usable(); err != nil {
		return nil, err
	}
	t.undo = true
	var notes []string
	keys := false
	err := t.c.cc.query(ctx, `SELECT 1 FROM main.sqlite_schema m WHERE m.type = 'table'
		AND EXISTS (SELECT 1 FROM pragma_foreign_key_list(m.name, 'main')) LIMIT 1`, nil, func([]engine.Value) error {
		keys = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: looking for foreign keys: %w", err)
	}
	if t.fkOff && keys {
		notes = append(notes, "foreign-key enforcement was off while undo wrote rows (PRAGMA foreign_keys, turned off before the transaction and on again after it), so no ON DELETE or ON UPDATE action fired; undo then checked that no row refers to a missing one")
	} else if !t.fkOff {
		if err := t.c.cc.exec(ctx, "PRAGMA defer_foreign_keys = ON"); err != nil {
			return nil, fmt.Errorf("sqlite: deferring foreign-key checks: %w", err)
		}
		notes = append(notes, "foreign-key checks deferred to COMMIT (PRAGMA defer_foreign_keys); foreign-key actions (CASCADE, SET NULL) still fire, because SQLite cannot turn foreign keys off inside a transaction")
	}
	var withTriggers, shadowed []string
	err = t.c.cc.query(ctx, triggerTables, nil, func(r []engine.Value) error {
		if r[1].I != 0 {
			shadowed = append(shadowed, r[0].S)
		} else {
			withTriggers = append(withTriggers, r[0].S)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: listing triggers: %w", err)
	}
	if len(shadowed) > 0 {
		notes = append(notes, "triggers on "+strings.Join(shadowed, ", ")+" were left in place, and fired if undo wrote rows of those tables: a temporary table or view of the session has the same name, so undo could not drop and re-create them safely")
	}
	if len(withTriggers) > 0 {
		notes = append(notes, "triggers on "+strings.Join(withTriggers, ", ")+" did not fire while rows were restored: SQLite cannot disable them, so undo dropped them inside its transaction and re-created them unchanged before committing")
	}
	return notes, nil
}

// savedTrigger is a trigger suspended during undo: of the main database,
// or a TEMP trigger of this connection (on a main table).
type savedTrigger struct{ schema, name, sql string }

// suspendTriggers drops the triggers on the main database's tables, the
// connection's TEMP ones included (shadowFree says which), before undo
// writes rows, remembering their definitions; resumeTriggers re-creates
// them. Once done (even with none to drop), it does nothing until they
// are resumed. Both run inside the undo
// transaction, so other connections never see the triggers missing, and
// a failed undo rolls the drops back with everything else. The rows a
// trigger wrote when the undone statement ran are in the journal and
// restored with the rest; firing again would change them a second time,
// unjournaled.
//
// Recorded DDL runs with the triggers in place (ExecDDL, ObjectExists
// resume them first), so undoing a CREATE or DROP TRIGGER sees the schema
// as it is; the next row write suspends whatever triggers exist then.
func (t *tx) suspendTriggers(ctx context.Context) error {
	if !t.undo || t.suspended != nil {
		return nil
	}
	saved := []savedTrigger{} // non-nil: suspended, even with none
	for _, schema := range []string{"main", "temp"} {
		err := t.c.cc.query(ctx, fmt.Sprintf(shadowFree, schema), nil, func(r []engine.Value) error {
			saved = append(saved, savedTrigger{schema: schema, name: r[0].S, sql: r[1].S})
			return nil
		})
		if err != nil {
			return fmt.Errorf("sqlite: listing triggers to suspend: %w", err)
		}
	}
	for _, tr := range saved {
		if err := t.c.cc.exec(ctx, "DROP TRIGGER "+tr.schema+"."+QuoteIdent(tr.name)); err != nil {
			return fmt.Errorf("sqlite: suspending trigger %s: %w", tr.name, err)
		}
	}
	t.suspended = saved
	return nil
}

// shadowFree lists the triggers of a schema (%s: main or temp) that undo
// suspends: those on a table of the main database (undo writes no other
// rows; a trigger on a view, or a TEMP trigger whose table is gone or in
// a detached database, never fires during undo and may not be re-creatable
// from its text), except those on a table whose name a TEMP table or view
// of this connection also has: re-created from its text, which may name
// the table without its schema, such a trigger could attach to the TEMP
// one. Those stay, and fire (PrepareUndo says so).
const shadowFree = `SELECT name, sql FROM %s.sqlite_schema m WHERE type = 'trigger'
	AND EXISTS (SELECT 1 FROM main.sqlite_schema x WHERE x.type = 'table' AND x.name = m.tbl_name COLLATE NOCASE)
	AND NOT EXISTS (SELECT 1 FROM temp.sqlite_schema s WHERE s.type IN ('table', 'view') AND s.name = m.tbl_name COLLATE NOCASE)
	ORDER BY rowid`

// triggerTables lists the main tables with triggers (main or TEMP), and
// whether a TEMP table or view shadows them (their triggers stay, see
// shadowFree).
const triggerTables = `SELECT DISTINCT x.name,
		EXISTS (SELECT 1 FROM temp.sqlite_schema s WHERE s.type IN ('table', 'view') AND s.name = x.name COLLATE NOCASE)
	FROM main.sqlite_schema x
	JOIN (SELECT type, tbl_name FROM main.sqlite_schema UNION ALL SELECT type, tbl_name FROM temp.sqlite_schema) m
		ON m.type = 'trigger' AND m.tbl_name = x.name COLLATE NOCASE
	WHERE x.type = 'table'
	ORDER BY x.name`

// resumeTriggers re-creates the triggers suspendTriggers dropped, in their
// order of creation (SQLite fires a table's triggers by that order).
func (t *tx) resumeTriggers(ctx context.Context) error {
	saved := t.suspended
	t.suspended = nil
	for _, tr := range saved {
		sql := tr.sql
		if tr.schema == "temp" {
			// sqlite_schema keeps the text without its TEMP keyword.
			rest, ok := strings.CutPrefix(sql, "CREATE TRIGGER ")
			if !ok {
				return fmt.Errorf("sqlite: re-creating temporary trigger %s after undo: unexpected definition %q", tr.name, sql)
			}
			sql = "CREATE TEMP TRIGGER " + rest
		}
		if err := t.c.cc.exec(ctx, sql); err != nil {
			return fmt.Errorf("sqlite: re-creating trigger %s after undo: %w", tr.name, err)
		}
	}
	return nil
}

var _ engine.UndoFinisher = (*tx)(nil)

// FinishUndo re-creates the triggers suspended while rows were restored.
func (t *tx) FinishUndo(ctx context.Context) error {
	if err := t.usable(); err != nil {
		return err
	}
	return t.resumeTriggers(ctx)
}

// writeTable is undoTable for a statement that writes rows: triggers are
// suspended first.
func (t *tx) writeTable(ctx context.Context, ti engine.TableInfo) (*tableMeta, error) {
	if err := t.usable(); err != nil {
		return nil, err
	}
	if err := t.suspendTriggers(ctx); err != nil {
		return nil, err
	}
	return t.undoTable(ctx, ti)
}

// undoTable is the current metadata of a table being restored.
func (t *tx) undoTable(ctx context.Context, ti engine.TableInfo) (*tableMeta, error) {
	if err := t.usable(); err != nil {
		return nil, err
	}
	meta, err := t.c.schema(ctx)
	if err != nil {
		return nil, err
	}
	if ti.Schema != "" && ti.Schema != "main" {
		return nil, fmt.Errorf("sqlite: undo of %s: only the main database is supported", ti.QualifiedName())
	}
	m := meta.table(ti.Name)
	if m == nil {
		return nil, fmt.Errorf("sqlite: undo: table %s does not exist", ti.Name)
	}
	return m, nil
}

// where renders the condition selecting rows by key, with parameters
// numbered from first. Keyed tables compare with IS (NULL-safe, and able
// to use the key's index); KeyRow tables also require the same storage
// class and binary-equal text, since any duplicate must be the right one.
func where(ti engine.TableInfo, first int) string {
	var b strings.Builder
	for i, pos := range ti.Key {
		if i > 0 {
			b.WriteString(" AND ")
		}
		col := QuoteIdent(ti.Columns[pos].Name)
		p := "?" + strconv.Itoa(first+i)
		if ti.KeyKind == engine.KeyRow {
			b.WriteString("(" + col + " IS " + p + " COLLATE BINARY AND typeof(" + col + ") = typeof(" + p + "))")
		} else {
			b.WriteString(col + " IS " + p)
		}
	}
	return b.String()
}

// oneRow narrows a KeyRow condition, which identical rows share, to a
// single row through the rowid.
func oneRow(m *tableMeta, ti engine.TableInfo, cond string) (string, error) {
	if ti.KeyKind != engine.KeyRow {
		return cond, nil
	}
	if m.withoutRowid || m.rowidName == "" {
		return "", fmt.Errorf("sqlite: undo of %s: identical rows cannot be told apart (no usable rowid)", ti.Name)
	}
	return m.rowidName + " = (SELECT " + m.rowidName + " FROM main." + QuoteIdent(ti.Name) + " WHERE " + cond + " LIMIT 1)", nil
}

// Fetch returns the current row and the number of matching rows per key.
func (t *tx) Fetch(ctx context.Context, ti engine.TableInfo, keys [][]engine.Value) ([]engine.Found, error) {
	m, err := t.undoTable(ctx, ti)
	if err != nil {
		return nil, err
	}
	q := selectRows(ti, m) + ", count(*) OVER () FROM main." + QuoteIdent(ti.Name) + " WHERE " + where(ti, 1) + " LIMIT 1"
	out := make([]engine.Found, len(keys))
	err = t.each(ctx, q, keys, func(s *cstmt, i int) error {
		more, err := s.step()
		if err != nil || !more {
			return err
		}
		row := s.row(nil)
		out[i] = engine.Found{Row: row[:len(row)-1], Count: int(row[len(row)-1].I)}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: fetching rows of %s: %w", ti.Name, err)
	}
	return out, nil
}

// Insert re-inserts rows, leaving generated columns to SQLite. Rows go
// in multi-row INSERTs with every value bound in one call: per row and
// per value, statement start-up and crossings into C cost more than
// SQLite's insert itself. OR ABORT overrides a table's ON CONFLICT
// REPLACE or IGNORE: undo must neither delete a row it did not image to
// make room nor skip one silently.
func (t *tx) Insert(ctx context.Context, ti engine.TableInfo, rows [][]engine.Value) error {
	return t.insert(ctx, ti, rows, "INSERT OR ABORT INTO", true)
}

// insert runs the INSERTs of Insert, starting each with verb; with exact
// set, each must insert every one of its rows.
func (t *tx) insert(ctx context.Context, ti engine.TableInfo, rows [][]engine.Value, verb string, exact bool) error {
	if _, err := t.writeTable(ctx, ti); err != nil {
		return err
	}
	if len(rows) == 0 {
		return nil
	}
	cols, marks := writable(ti), make([]string, 0, len(ti.Columns))
	names := make([]string, len(cols))
	for i, pos := range cols {
		names[i] = QuoteIdent(ti.Columns[pos].Name)
		marks = append(marks, "?")
	}
	if len(cols) == 0 {
		return fmt.Errorf("sqlite: inserting into %s: every column is generated", ti.Name)
	}
	args := make([][]engine.Value, len(rows))
	for i, r := range rows {
		if len(r) != len(ti.Columns) {
			return fmt.Errorf("sqlite: inserting into %s: row has %d values for %d columns", ti.Name, len(r), len(ti.Columns))
		}
		args[i] = pick(r, cols)
	}
	// At most insertRows rows, 32766 parameters (SQLite's limit) and, but
	// for a single row, insertBytes of values a statement.
	per := max(1, min(insertRows, 32766/len(cols)))
	head := verb + " main." + QuoteIdent(ti.Name) + "(" + strings.Join(names, ", ") + ") VALUES "
	tuple := "(" + strings.Join(marks, ", ") + ")"
	query := func(n int) string {
		return head + strings.TrimSuffix(strings.Repeat(tuple+", ", n), ", ")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	cc := t.c.cc
	stop := cc.watch(ctx)
	defer stop()
	var b binder
	var s *cstmt
	size := 0
	defer func() {
		if s != nil {
			s.close()
		}
	}()
	for start := 0; start < len(args); {
		end, bytes := start, 0
		for end < len(args) && end-start < per && (end == start || bytes+rowBytes(args[end]) <= insertBytes) {
			bytes += rowBytes(args[end])
			end++
		}
		part := args[start:end]
		start = end
		if len(part) != size {
			if s != nil {
				s.close()
			}
			var err error
			if s, _, err = cc.prepare(query(len(part)), false); err != nil {
				return fmt.Errorf("sqlite: inserting into %s: %w", ti.Name, ctxErr(ctx, err))
			}
			size = len(part)
		} else {
			s.reset()
		}
		if err := s.bindRows(&b, part); err != nil {
			return fmt.Errorf("sqlite: inserting into %s: %w", ti.Name, err)
		}
		if _, err := s.step(); err != nil {
			return fmt.Errorf("sqlite: inserting into %s: %w", ti.Name, ctxErr(ctx, err))
		}
		if n := int64(C.sqlite3_changes64(cc.db)); exact && n != int64(len(part)) {
			return fmt.Errorf("sqlite: inserting into %s: %d of %d rows were inserted (a trigger skipped some)", ti.Name, n, len(part))
		}
	}
	return nil
}

// rowBytes is the size of a row's text and blob values.
func rowBytes(row []engine.Value) int {
	n := 0
	for _, v := range row {
		n += len(v.S) + len(v.B)
	}
	return n
}

// insertBytes bounds the values one INSERT carries (a single larger row
// goes alone), so that binding never copies more than that at once.
const insertBytes = 16 << 20

// insertRows is how many rows one INSERT statement carries.
const insertRows = 100

var _ engine.TryInserter = (*tx)(nil)

// TryInsert re-inserts rows inside a savepoint; if any insert fails (a row
// with the same key is back, or anything else) or inserts nothing,
// everything since the savepoint is rolled back and the engine takes the
// careful path.
func (t *tx) TryInsert(ctx context.Context, ti engine.TableInfo, rows [][]engine.Value) (bool, error) {
	if err := t.usable(); err != nil {
		return false, err
	}
	// Before the savepoint: rolling back to it must not bring them back.
	if err := t.suspendTriggers(ctx); err != nil {
		return false, err
	}
	if err := t.c.cc.exec(ctx, "SAVEPOINT lifebelt_try_insert"); err != nil {
		return false, fmt.Errorf("sqlite: %w", err)
	}
	// OR ABORT overrides a key's own ON CONFLICT clause (REPLACE would
	// overwrite the row that came back, IGNORE skip ours, ROLLBACK end the
	// transaction); exact catches a trigger skipping a row.
	if err := t.insert(ctx, ti, rows, "INSERT OR ABORT INTO", true); err != nil {
		if ctx.Err() != nil {
			return false, err
		}
		if rerr := t.c.cc.exec(ctx, "ROLLBACK TO lifebelt_try_insert; RELEASE lifebelt_try_insert"); rerr != nil {
			return false, fmt.Errorf("sqlite: rolling back a failed re-insert (%v): %w", err, rerr)
		}
		return false, nil
	}
	if err := t.c.cc.exec(ctx, "RELEASE lifebelt_try_insert"); err != nil {
		return false, fmt.Errorf("sqlite: %w", err)
	}
	return true, nil
}

// Update sets every non-generated column of the row with keys[i] to rows[i].
func (t *tx) Update(ctx context.Context, ti engine.TableInfo, keys, rows [][]engine.Value) error {
	m, err := t.writeTable(ctx, ti)
	if err != nil {
		return err
	}
	if len(keys) != len(rows) {
		return fmt.Errorf("sqlite: updating %s: %d keys for %d rows", ti.Name, len(keys), len(rows))
	}
	cols := writable(ti)
	sets := make([]string, len(cols))
	for i, pos := range cols {
		sets[i] = QuoteIdent(ti.Columns[pos].Name) + " = ?" + strconv.Itoa(i+1)
	}
	cond, err := oneRow(m, ti, where(ti, len(cols)+1))
	if err != nil {
		return err
	}
	q := "UPDATE OR ABORT main." + QuoteIdent(ti.Name) + " SET " + strings.Join(sets, ", ") + " WHERE " + cond
	args := make([][]engine.Value, len(rows))
	for i, r := range rows {
		if len(r) != len(ti.Columns) || len(keys[i]) != len(ti.Key) {
			return fmt.Errorf("sqlite: updating %s: row or key of the wrong width", ti.Name)
		}
		args[i] = append(pick(r, cols), keys[i]...)
	}
	return t.writeEach(ctx, "updating", ti, q, args, true)
}

// Delete removes exactly one row per key.
func (t *tx) Delete(ctx context.Context, ti engine.TableInfo, keys [][]engine.Value) error {
	m, err := t.writeTable(ctx, ti)
	if err != nil {
		return err
	}
	cond, err := oneRow(m, ti, where(ti, 1))
	if err != nil {
		return err
	}
	q := "DELETE FROM main." + QuoteIdent(ti.Name) + " WHERE " + cond
	return t.writeEach(ctx, "deleting from", ti, q, keys, true)
}

// writeEach runs q once per argument list; with exact set, each run must
// change exactly one row.
func (t *tx) writeEach(ctx context.Context, what string, ti engine.TableInfo, q string, args [][]engine.Value, exact bool) error {
	err := t.each(ctx, q, args, func(s *cstmt, i int) error {
		if _, err := s.step(); err != nil {
			return err
		}
		if n := int64(C.sqlite3_changes64(t.c.cc.db)); exact && n != 1 {
			return fmt.Errorf("row %d changed %d rows, expected 1", i+1, n)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: %s %s: %w", what, ti.Name, err)
	}
	return nil
}

// each prepares q once and runs fn for every argument list.
func (t *tx) each(ctx context.Context, q string, args [][]engine.Value, fn func(s *cstmt, i int) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cc := t.c.cc
	stop := cc.watch(ctx)
	defer stop()
	s, _, err := cc.prepare(q, false)
	if err != nil {
		return err
	}
	defer s.close()
	for i, a := range args {
		s.reset()
		if err := s.bind(a); err != nil {
			return err
		}
		if err := fn(s, i); err != nil {
			return ctxErr(ctx, err)
		}
	}
	return nil
}

func writable(ti engine.TableInfo) []int {
	var cols []int
	for i, c := range ti.Columns {
		if !c.Generated {
			cols = append(cols, i)
		}
	}
	return cols
}

func pick(row []engine.Value, cols []int) []engine.Value {
	out := make([]engine.Value, len(cols))
	for i, pos := range cols {
		out[i] = row[pos]
	}
	return out
}

// CountRows counts the rows of a table (the engine checks a table it
// created is still empty before dropping it on undo).
func (t *tx) CountRows(ctx context.Context, schema, name string) (int64, error) {
	if err := t.usable(); err != nil {
		return 0, err
	}
	if schema == "" {
		schema = "main"
	}
	var n int64
	err := t.c.cc.query(ctx, "SELECT count(*) FROM "+quoteQualified(schema, name), nil, func(r []engine.Value) error {
		n = r[0].I
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: counting rows of %s: %w", name, err)
	}
	return n, nil
}

var _ engine.RowCounter = (*tx)(nil)

// ExecDDL runs recorded definition statements.
func (t *tx) ExecDDL(ctx context.Context, stmts []string) error {
	if err := t.usable(); err != nil {
		return err
	}
	if err := t.resumeTriggers(ctx); err != nil {
		return err
	}
	for _, s := range stmts {
		if err := t.c.cc.exec(ctx, s); err != nil {
			return fmt.Errorf("sqlite: running %q: %w", s, err)
		}
	}
	return nil
}

// ObjectExists looks the object up in the schema's sqlite_schema.
func (t *tx) ObjectExists(ctx context.Context, kind, schema, name string) (bool, error) {
	if err := t.usable(); err != nil {
		return false, err
	}
	if err := t.resumeTriggers(ctx); err != nil {
		return false, err
	}
	typ := strings.ToLower(kind)
	switch typ {
	case "table", "view", "index", "trigger":
	default:
		return false, fmt.Errorf("sqlite: there are no %s objects in SQLite", kind)
	}
	if schema == "" {
		schema = "main"
	}
	q := "SELECT 1 FROM " + QuoteIdent(schema) + ".sqlite_schema WHERE type = ? AND name = ? COLLATE NOCASE"
	found := false
	err := t.c.cc.query(ctx, q, []engine.Value{textValue(typ), textValue(name)}, func([]engine.Value) error {
		found = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: looking up %s %s: %w", typ, name, err)
	}
	return found, nil
}

// SyncSequences moves an AUTOINCREMENT table's counter up to its largest
// rowid, so restored ids are never handed out again.
func (t *tx) SyncSequences(ctx context.Context, ti engine.TableInfo) error {
	m, err := t.undoTable(ctx, ti)
	if err != nil || !m.autoinc || len(m.info.Key) != 1 {
		return err
	}
	var maxID engine.Value
	q := "SELECT max(" + QuoteIdent(m.info.Columns[m.info.Key[0]].Name) + ") FROM main." + QuoteIdent(m.info.Name)
	if err := t.c.cc.query(ctx, q, nil, func(r []engine.Value) error { maxID = r[0]; return nil }); err != nil {
		return fmt.Errorf("sqlite: reading the largest id of %s: %w", ti.Name, err)
	}
	if maxID.K != kInt {
		return nil
	}
	for _, s := range sequenceRestore(m.info.Name, maxID.I) {
		if err := t.c.cc.exec(ctx, s); err != nil {
			return fmt.Errorf("sqlite: moving the AUTOINCREMENT counter of %s: %w", ti.Name, err)
		}
	}
	return nil
}

var _ engine.ColumnLister = (*tx)(nil)

// Columns lists the table's columns in the main schema, hidden ones
// (generated) included.
func (t *tx) Columns(ctx context.Context, schema, name string) (cols []engine.Column, exists bool, err error) {
	if err := t.usable(); err != nil {
		return nil, false, err
	}
	// Types only where the table is STRICT: elsewhere a declared type
	// refuses no value.
	err = t.c.cc.query(ctx, `SELECT x.name, CASE WHEN l.strict THEN x.type ELSE '' END
		FROM pragma_table_xinfo(?1, 'main') x JOIN pragma_table_list(?1) l ON l.schema = 'main'`, []engine.Value{textValue(name)}, func(r []engine.Value) error {
		cols = append(cols, engine.Column{Name: r[0].S, Type: r[1].S})
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: reading the columns of %s: %w", name, err)
	}
	return cols, len(cols) > 0, nil
}
