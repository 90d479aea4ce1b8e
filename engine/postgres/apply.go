package postgres

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgtype"

	"lifebelt/engine"
)

var _ engine.Applier = (*pgTx)(nil)

// applyBatch is how many rows one undo statement handles. Each batch sends
// one text[] parameter per column, so a statement costs one round trip and
// one plan however wide the batch.
const applyBatch = 10000

// rowKeyBatch is the batch for tables without a key: each batch scans the
// whole table once (hashing or sorting row texts), so fewer, larger
// batches are cheaper.
const rowKeyBatch = 100000

// checkKey rejects a table description undo cannot address rows of.
func checkKey(t engine.TableInfo) error {
	if len(t.Key) == 0 {
		return fmt.Errorf("postgres: %s has no columns to identify its rows by", t.QualifiedName())
	}
	for _, k := range t.Key {
		if k < 0 || k >= len(t.Columns) {
			return fmt.Errorf("postgres: the key of %s names column %d of %d", t.QualifiedName(), k, len(t.Columns))
		}
	}
	return nil
}

func batchSize(t engine.TableInfo) int {
	if t.KeyKind == engine.KeyRow {
		return rowKeyBatch
	}
	return applyBatch
}

// PrepareUndo turns off user triggers and foreign-key enforcement for the
// transaction with session_replication_role = replica, so rows can be
// restored in any order, triggers do not fire a second time (ENABLE
// ALWAYS triggers still fire) and no foreign-key action deletes or
// changes rows of others; the engine's reference check then looks at the
// final state (refs.go). That needs superuser or SET privilege on the
// parameter; without it, deferrable
// constraints are deferred instead, foreign-key actions fire, and the
// note says that non-deferrable foreign keys need parents restored first.
func (x *pgTx) PrepareUndo(ctx context.Context) ([]string, error) {
	if _, err := x.tx.Exec(ctx, "SAVEPOINT lifebelt_prepare_undo"); err != nil {
		return nil, fmt.Errorf("postgres: preparing undo: %w", err)
	}
	if _, err := x.tx.Exec(ctx, "SET LOCAL session_replication_role = replica"); err == nil {
		if _, err := x.tx.Exec(ctx, "RELEASE SAVEPOINT lifebelt_prepare_undo"); err != nil {
			return nil, fmt.Errorf("postgres: preparing undo: %w", err)
		}
		x.replica = true
		return []string{"session_replication_role = replica: user triggers (except ENABLE ALWAYS ones) and foreign-key checks and actions were off while undo ran; undo then checked that no row refers to a missing one"}, nil
	}
	if _, err := x.tx.Exec(ctx, "ROLLBACK TO SAVEPOINT lifebelt_prepare_undo; RELEASE SAVEPOINT lifebelt_prepare_undo"); err != nil {
		return nil, fmt.Errorf("postgres: preparing undo: %w", err)
	}
	if _, err := x.tx.Exec(ctx, "SET CONSTRAINTS ALL DEFERRED"); err != nil {
		return nil, fmt.Errorf("postgres: preparing undo: %w", err)
	}
	if err := x.readUndoBase(ctx); err != nil {
		return nil, err
	}
	return []string{"not permitted to set session_replication_role: triggers fired during undo, deferrable constraints were deferred, non-deferrable foreign keys required parent rows to be restored before their children, and undo checked that no foreign-key action (CASCADE, SET NULL, SET DEFAULT) changed rows"}, nil
}

// Fetch locks (FOR UPDATE) and returns the current rows with the given keys,
// one Found per key.
func (x *pgTx) Fetch(ctx context.Context, t engine.TableInfo, keys [][]engine.Value) ([]engine.Found, error) {
	if err := checkKey(t); err != nil {
		return nil, err
	}
	out := make([]engine.Found, len(keys))
	sel := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		sel[i] = "t." + quoteIdent(c.Name)
	}
	size := batchSize(t)
	for start := 0; start < len(keys); start += size {
		batch := keys[start:min(start+size, len(keys))]
		sql := "SELECT k.ord, " + strings.Join(sel, ", ") + " FROM " + quoteQualified(t.Schema, t.Name) +
			" AS t JOIN " + unnestFrom(len(t.Key), 0, true) + " ON " + keyMatch(t, "t", "k") + " FOR UPDATE OF t"
		rows, err := queryText(ctx, x.tx, sql, columnArgs(batch, seqIndexes(len(t.Key)))...)
		if err != nil {
			return nil, fmt.Errorf("postgres: fetching rows of %s: %w", t.QualifiedName(), err)
		}
		for rows.Next() {
			raw := rows.RawValues()
			ord, err := strconv.Atoi(string(raw[0]))
			if err != nil || ord < 1 || ord > len(batch) {
				rows.Close()
				return nil, fmt.Errorf("postgres: fetching rows of %s: bad ordinal %q", t.QualifiedName(), raw[0])
			}
			f := &out[start+ord-1]
			if f.Count == 0 {
				f.Row = rawToValues(raw[1:], nil)
			}
			f.Count++
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("postgres: fetching rows of %s: %w", t.QualifiedName(), err)
		}
	}
	return out, nil
}

// Insert re-inserts rows with COPY (text format, streamed): the fastest
// way into a table, and exact, since each value goes through its type's
// input function as in a cast, with the column's type modifier checked.
// Generated columns are left to the server; identity values are written
// as captured (COPY overrides GENERATED ALWAYS). COPY does not apply rules,
// which is what undo wants: the rows go back into this very table. Where
// row-level security applies to the user, COPY FROM is refused and an
// INSERT ... SELECT over unnest'ed text arrays does the same job.
func (x *pgTx) Insert(ctx context.Context, t engine.TableInfo, rows [][]engine.Value) error {
	if len(rows) == 0 {
		return nil
	}
	cols := writable(t, nil)
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = quoteIdent(t.Columns[c].Name)
	}
	tbl := quoteQualified(t.Schema, t.Name)
	var rls bool
	if err := x.tx.QueryRow(ctx, "SELECT pg_catalog.row_security_active($1::text)", tbl).Scan(&rls); err != nil {
		return fmt.Errorf("postgres: re-inserting rows into %s: %w", t.QualifiedName(), err)
	}
	if rls {
		return x.insertValues(ctx, t, cols, rows)
	}
	sql := "COPY " + tbl + " (" + strings.Join(names, ", ") + ") FROM STDIN"
	if bt, ok := x.tx.(*beginTx); ok {
		if err := bt.ensure(ctx); err != nil {
			return fmt.Errorf("postgres: re-inserting rows into %s: %w", t.QualifiedName(), err)
		}
	}
	tag, err := x.tx.Conn().PgConn().CopyFrom(ctx, &copyRows{rows: rows, cols: cols}, sql)
	if err != nil {
		return fmt.Errorf("postgres: re-inserting rows into %s: %w", t.QualifiedName(), err)
	}
	if tag.RowsAffected() != int64(len(rows)) {
		return fmt.Errorf("postgres: re-inserting rows into %s: %d of %d rows were inserted (a trigger skipped some)",
			t.QualifiedName(), tag.RowsAffected(), len(rows))
	}
	return nil
}

var _ engine.TryInserter = (*pgTx)(nil)

// TryInsert re-inserts rows inside a savepoint; if the insert fails (a row
// with the same key is back, or anything else), the savepoint is rolled
// back, which also ends a wait-then-fail on a key another transaction
// inserted meanwhile, and the engine takes the careful path.
//
// A unique index whose check is deferrable (DEFERRABLE constraints,
// pg_index.indimmediate false) does not fail the insert at once, and under
// session_replication_role = replica (PrepareUndo) its check, a trigger,
// does not run at all: such a table always takes the careful path.
func (x *pgTx) TryInsert(ctx context.Context, t engine.TableInfo, rows [][]engine.Value) (bool, error) {
	tbl := quoteQualified(t.Schema, t.Name)
	deferred, ok := x.deferredKeys[tbl]
	if !ok {
		err := x.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_index
			WHERE indrelid = pg_catalog.to_regclass($1) AND indisunique AND NOT indimmediate)`, tbl).Scan(&deferred)
		if err != nil {
			return false, fmt.Errorf("postgres: reading the unique indexes of %s: %w", t.QualifiedName(), err)
		}
		if x.deferredKeys == nil {
			x.deferredKeys = map[string]bool{}
		}
		x.deferredKeys[tbl] = deferred
	}
	if deferred {
		return false, nil
	}
	if _, err := x.tx.Exec(ctx, "SAVEPOINT lifebelt_try_insert"); err != nil {
		return false, fmt.Errorf("postgres: %w", err)
	}
	if err := x.Insert(ctx, t, rows); err != nil {
		if ctx.Err() != nil {
			return false, err
		}
		x.fullCounts = true // see rollbackTo
		if _, rerr := x.tx.Exec(ctx, "ROLLBACK TO SAVEPOINT lifebelt_try_insert; RELEASE SAVEPOINT lifebelt_try_insert"); rerr != nil {
			return false, fmt.Errorf("postgres: rolling back a failed re-insert (%v): %w", err, rerr)
		}
		return false, nil
	}
	if _, err := x.tx.Exec(ctx, "RELEASE SAVEPOINT lifebelt_try_insert"); err != nil {
		return false, fmt.Errorf("postgres: %w", err)
	}
	return true, nil
}

// insertValues re-inserts rows with INSERT ... SELECT FROM unnest(...), for
// tables where row-level security applies to the user (COPY FROM refuses
// them).
func (x *pgTx) insertValues(ctx context.Context, t engine.TableInfo, cols []int, rows [][]engine.Value) error {
	names := make([]string, len(cols))
	casts := make([]string, len(cols))
	override := ""
	for i, c := range cols {
		names[i] = quoteIdent(t.Columns[c].Name)
		casts[i] = "CAST(k.c" + strconv.Itoa(i+1) + " AS " + t.Columns[c].Type + ")"
		if t.Columns[c].Identity == "always" {
			override = " OVERRIDING SYSTEM VALUE"
		}
	}
	sql := "INSERT INTO " + quoteQualified(t.Schema, t.Name) + " (" + strings.Join(names, ", ") + ")" + override +
		" SELECT " + strings.Join(casts, ", ") + " FROM " + unnestFrom(0, len(cols), false)
	for start := 0; start < len(rows); start += applyBatch {
		batch := rows[start:min(start+applyBatch, len(rows))]
		tag, err := x.tx.Exec(ctx, sql, columnArgs(batch, cols)...)
		if err != nil {
			return fmt.Errorf("postgres: re-inserting rows into %s: %w", t.QualifiedName(), err)
		}
		if tag.RowsAffected() != int64(len(batch)) {
			return fmt.Errorf("postgres: re-inserting rows into %s: %d of %d rows were inserted (a rule or trigger intervened)",
				t.QualifiedName(), tag.RowsAffected(), len(batch))
		}
	}
	return nil
}

// copyRows streams rows in COPY text format: tab-separated, \N for NULL,
// backslash, newline, carriage return and tab escaped.
type copyRows struct {
	rows [][]engine.Value
	cols []int
	next int
	buf  []byte
	off  int
}

func (r *copyRows) Read(p []byte) (int, error) {
	if r.off == len(r.buf) {
		r.buf, r.off = r.buf[:0], 0
		for len(r.buf) < 64<<10 && r.next < len(r.rows) {
			r.buf = appendCopyRow(r.buf, r.rows[r.next], r.cols)
			r.next++
		}
		if len(r.buf) == 0 {
			return 0, io.EOF
		}
	}
	n := copy(p, r.buf[r.off:])
	r.off += n
	return n, nil
}

func appendCopyRow(b []byte, row []engine.Value, cols []int) []byte {
	for j, c := range cols {
		if j > 0 {
			b = append(b, '\t')
		}
		if c >= len(row) || row[c].K == engine.NullKind {
			b = append(b, '\\', 'N')
			continue
		}
		s := valueText(row[c])
		for i := 0; i < len(s); i++ {
			switch ch := s[i]; ch {
			case '\\':
				b = append(b, '\\', '\\')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, ch)
			}
		}
	}
	return append(b, '\n')
}

// Update sets every writable column of the row with keys[i] to rows[i].
// GENERATED ALWAYS identity columns accept no value in UPDATE: those in the
// key keep their (equal) value; any other one is switched to BY DEFAULT for
// the statement and back.
func (x *pgTx) Update(ctx context.Context, t engine.TableInfo, keys [][]engine.Value, rows [][]engine.Value) error {
	if len(keys) != len(rows) {
		return fmt.Errorf("postgres: updating %s: %d keys for %d rows", t.QualifiedName(), len(keys), len(rows))
	}
	if err := checkKey(t); err != nil {
		return err
	}
	keyPos := map[int]int{}
	for i, k := range t.Key {
		keyPos[k] = i
	}
	var cols, always []int
	for _, c := range writable(t, nil) {
		if t.Columns[c].Identity == "always" {
			// A GENERATED ALWAYS column takes a value in UPDATE only while
			// switched to BY DEFAULT, an ALTER TABLE that locks the table
			// against readers and needs its owner. In the key (a table
			// without one has every column there) its value now is known:
			// the column is left alone where no row changes it.
			if kp, ok := keyPos[c]; ok && !valueChanges(keys, rows, kp, c) {
				continue
			}
			if _, ok := keyPos[c]; !ok {
				changes, err := x.identityChanges(ctx, t, keys, rows, c)
				if err != nil {
					return err
				}
				if !changes {
					continue
				}
			}
			always = append(always, c)
		}
		cols = append(cols, c)
	}
	if len(cols) == 0 {
		return nil
	}
	tbl := quoteQualified(t.Schema, t.Name)
	set := make([]string, len(cols))
	for i, c := range cols {
		set[i] = quoteIdent(t.Columns[c].Name) + " = CAST(k.v" + strconv.Itoa(i+1) + " AS " + t.Columns[c].Type + ")"
	}
	nk := len(t.Key)
	var sql string
	if t.KeyKind == engine.KeyRow {
		sql = rowKeyCTE(t, len(cols)) + "UPDATE " + tbl + " AS t SET " + strings.Join(set, ", ") +
			" FROM r JOIN k ON r.kk = k.kk AND r.n = k.n WHERE t.tableoid = r.rel AND t.ctid = r.tid"
	} else {
		sql = "UPDATE " + tbl + " AS t SET " + strings.Join(set, ", ") + " FROM " + unnestFrom(nk, len(cols), false) +
			" WHERE " + keyMatch(t, "t", "k")
	}
	if err := x.identityMode(ctx, tbl, t, always, "BY DEFAULT"); err != nil {
		return err
	}
	size := batchSize(t)
	for start := 0; start < len(keys); start += size {
		end := min(start+size, len(keys))
		args := append(columnArgs(keys[start:end], seqIndexes(nk)), columnArgs(rows[start:end], cols)...)
		tag, err := x.tx.Exec(ctx, sql, args...)
		if err != nil {
			return fmt.Errorf("postgres: restoring rows of %s: %w", t.QualifiedName(), err)
		}
		x.countOwn(tbl, tag.RowsAffected())
		if tag.RowsAffected() != int64(end-start) {
			return fmt.Errorf("postgres: restoring rows of %s: %d of %d rows were found", t.QualifiedName(), tag.RowsAffected(), end-start)
		}
	}
	return x.identityMode(ctx, tbl, t, always, "ALWAYS")
}

// identityChanges reports whether any row sets column c, outside the key,
// to a value other than the one it holds now (read from the table).
func (x *pgTx) identityChanges(ctx context.Context, t engine.TableInfo, keys, rows [][]engine.Value, c int) (bool, error) {
	if t.KeyKind == engine.KeyRow {
		return true, nil // every column is in the key: not reached
	}
	nk := len(t.Key)
	col := t.Columns[c]
	sql := "SELECT EXISTS (SELECT 1 FROM " + quoteQualified(t.Schema, t.Name) + " AS t JOIN " + unnestFrom(nk, 1, false) +
		" ON " + keyMatch(t, "t", "k") + " WHERE t." + quoteIdent(col.Name) + " IS DISTINCT FROM CAST(k.v1 AS " + col.Type + "))"
	var changes bool
	args := append(columnArgs(keys, seqIndexes(nk)), columnArgs(rows, []int{c})...)
	if err := x.tx.QueryRow(ctx, sql, args...).Scan(&changes); err != nil {
		return false, fmt.Errorf("postgres: reading identity column %s of %s: %w", col.Name, t.QualifiedName(), err)
	}
	return changes, nil
}

// valueChanges reports whether any row sets column c to a value other
// than the one its key (position kp) holds now.
func valueChanges(keys, rows [][]engine.Value, kp, c int) bool {
	for i := range rows {
		if kp >= len(keys[i]) || c >= len(rows[i]) || !engine.RowsEqual(keys[i][kp:kp+1], rows[i][c:c+1]) {
			return true
		}
	}
	return false
}

func (x *pgTx) identityMode(ctx context.Context, tbl string, t engine.TableInfo, cols []int, mode string) error {
	for _, c := range cols {
		if _, err := x.tx.Exec(ctx, "ALTER TABLE "+tbl+" ALTER COLUMN "+quoteIdent(t.Columns[c].Name)+" SET GENERATED "+mode); err != nil {
			return fmt.Errorf("postgres: setting identity column %s of %s to %s: %w", t.Columns[c].Name, t.QualifiedName(), mode, err)
		}
	}
	return nil
}

// Delete removes one row per key; for a table without a usable key, n equal
// keys remove n of the duplicate rows.
func (x *pgTx) Delete(ctx context.Context, t engine.TableInfo, keys [][]engine.Value) error {
	if err := checkKey(t); err != nil {
		return err
	}
	tbl := quoteQualified(t.Schema, t.Name)
	nk := len(t.Key)
	var sql string
	if t.KeyKind == engine.KeyRow {
		sql = rowKeyCTE(t, 0) + "DELETE FROM " + tbl + " AS t USING r JOIN k ON r.kk = k.kk AND r.n = k.n WHERE t.tableoid = r.rel AND t.ctid = r.tid"
	} else {
		sql = "DELETE FROM " + tbl + " AS t USING " + unnestFrom(nk, 0, false) + " WHERE " + keyMatch(t, "t", "k")
	}
	size := batchSize(t)
	for start := 0; start < len(keys); start += size {
		batch := keys[start:min(start+size, len(keys))]
		tag, err := x.tx.Exec(ctx, sql, columnArgs(batch, seqIndexes(nk))...)
		if err != nil {
			return fmt.Errorf("postgres: deleting rows of %s: %w", t.QualifiedName(), err)
		}
		x.countOwn(tbl, tag.RowsAffected())
		if tag.RowsAffected() != int64(len(batch)) {
			return fmt.Errorf("postgres: deleting rows of %s: %d of %d rows were found", t.QualifiedName(), tag.RowsAffected(), len(batch))
		}
	}
	return nil
}

// ExecDDL runs definition statements in order.
func (x *pgTx) ExecDDL(ctx context.Context, stmts []string) error {
	for _, s := range stmts {
		if _, err := x.tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("postgres: running %q: %w", abbreviate(s), err)
		}
	}
	return x.afterDDL(ctx)
}

// afterDDL forgets the prepared statements of the connection: a statement
// prepared before DDL changed a column's type fails when run again
// ("cached plan must not change result type"), and would fail the undo.
func (x *pgTx) afterDDL(ctx context.Context) error {
	if x.c == nil || x.c.pg == nil {
		return nil
	}
	if err := x.c.pg.DeallocateAll(ctx); err != nil {
		return fmt.Errorf("postgres: forgetting prepared statements after DDL: %w", err)
	}
	x.c.forgetCounters()
	x.ddlRan = true
	return nil
}

func abbreviate(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		return s[:117] + "..."
	}
	return s
}

// ObjectExists reports whether an object of that kind and name exists
// (see existsCond for the kinds and naming).
func (x *pgTx) ObjectExists(ctx context.Context, kind, schema, name string) (bool, error) {
	cond, err := existsCond(kind, schema, name)
	if err != nil {
		return false, err
	}
	var ok bool
	if err := x.tx.QueryRow(ctx, "SELECT "+cond).Scan(&ok); err != nil {
		return false, fmt.Errorf("postgres: checking whether %s %s exists: %w", kind, engine.Name{Schema: schema, Name: name}, err)
	}
	return ok, nil
}

// SyncSequences moves every sequence that feeds a column of the table
// (serial, identity, or a default calling nextval) past the largest value
// present (the smallest, for a descending sequence). A sequence is never
// moved backwards.
func (x *pgTx) SyncSequences(ctx context.Context, t engine.TableInfo) error {
	tbl := quoteQualified(t.Schema, t.Name)
	rows, err := x.tx.Query(ctx, `SELECT a.attname, sn.nspname, s.relname, q.seqincrement > 0 FROM (
			SELECT d.refobjsubid AS attnum, d.objid AS seq FROM pg_catalog.pg_depend d
			WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
				AND d.refobjid = pg_catalog.to_regclass($1) AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')
			UNION
			SELECT ad.adnum, d.refobjid FROM pg_catalog.pg_attrdef ad
			JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND d.objid = ad.oid
				AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
			WHERE ad.adrelid = pg_catalog.to_regclass($1)) x
		JOIN pg_catalog.pg_class s ON s.oid = x.seq AND s.relkind = 'S'
		JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace
		JOIN pg_catalog.pg_sequence q ON q.seqrelid = s.oid
		JOIN pg_catalog.pg_attribute a ON a.attrelid = pg_catalog.to_regclass($1) AND a.attnum = x.attnum
		ORDER BY a.attnum, s.relname`, tbl)
	if err != nil {
		return fmt.Errorf("postgres: listing sequences of %s: %w", t.QualifiedName(), err)
	}
	type seqCol struct {
		col, schema, name string
		up                bool
	}
	var seqs []seqCol
	for rows.Next() {
		var s seqCol
		if err := rows.Scan(&s.col, &s.schema, &s.name, &s.up); err != nil {
			rows.Close()
			return fmt.Errorf("postgres: listing sequences of %s: %w", t.QualifiedName(), err)
		}
		seqs = append(seqs, s)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: listing sequences of %s: %w", t.QualifiedName(), err)
	}
	for _, s := range seqs {
		seq := quoteQualified(s.schema, s.name)
		agg, ahead := "max", ">"
		if !s.up {
			agg, ahead = "min", "<"
		}
		sql := "SELECT pg_catalog.setval($1::pg_catalog.regclass, m.v) FROM (SELECT " + agg + "(" + quoteIdent(s.col) +
			")::bigint AS v FROM " + tbl + ") m, " + seq + " l WHERE m.v IS NOT NULL AND (m.v " + ahead +
			" l.last_value OR (NOT l.is_called AND m.v " + ahead + "= l.last_value))"
		if _, err := x.tx.Exec(ctx, sql, seq); err != nil {
			return fmt.Errorf("postgres: moving sequence %s.%s past the values of %s: %w", s.schema, s.name, t.QualifiedName(), err)
		}
	}
	return nil
}

// writable lists the columns undo writes: all but generated ones.
func writable(t engine.TableInfo, dst []int) []int {
	for i, c := range t.Columns {
		if !c.Generated {
			dst = append(dst, i)
		}
	}
	return dst
}

func seqIndexes(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// columnArgs turns rows into one text[] argument per listed column (nil
// elements for NULL).
func columnArgs(rows [][]engine.Value, idx []int) []any {
	args := make([]any, len(idx))
	for j, c := range idx {
		col := make([]pgtype.Text, len(rows))
		for i, r := range rows {
			if c < len(r) && r[c].K != engine.NullKind {
				col[i] = pgtype.Text{String: valueText(r[c]), Valid: true}
			}
		}
		args[j] = col
	}
	return args
}

// unnestFrom renders unnest($1::text[], ...) AS k(k1.., v1..[, ord]) for
// nk key and nv value columns (c1.. when there are no keys).
func unnestFrom(nk, nv int, ordinal bool) string {
	var params, names []string
	for i := 0; i < nk+nv; i++ {
		params = append(params, "$"+strconv.Itoa(i+1)+"::text[]")
		switch {
		case nk == 0:
			names = append(names, "c"+strconv.Itoa(i+1))
		case i < nk:
			names = append(names, "k"+strconv.Itoa(i+1))
		default:
			names = append(names, "v"+strconv.Itoa(i-nk+1))
		}
	}
	s := "unnest(" + strings.Join(params, ", ") + ")"
	if ordinal {
		s += " WITH ORDINALITY"
		names = append(names, "ord")
	}
	return s + " AS k(" + strings.Join(names, ", ") + ")"
}

// keyMatch matches table alias t to key alias k. Key columns compare with
// the type's own equality, so the key's index serves the join. A table
// without a key compares whole rows through their text forms (exact for
// every type, json included, and NULL-safe since the arrays hold NULLs that
// compare equal), which a hash join can serve.
func keyMatch(tb engine.TableInfo, t, k string) string {
	if tb.KeyKind == engine.KeyRow {
		return rowKeyArray(tb, t, "") + " = " + rowKeyArray(tb, "", k)
	}
	conds := make([]string, len(tb.Key))
	for i, c := range tb.Key {
		col := tb.Columns[c]
		conds[i] = t + "." + quoteIdent(col.Name) + " = CAST(" + k + ".k" + strconv.Itoa(i+1) + " AS " + col.Type + ")"
	}
	return strings.Join(conds, " AND ")
}

// rowKeyArray renders the text-array form of a whole-row key, from the
// table's columns (t set) or from the key parameters (k set). The key
// parameters go through the column type's input and output so that both
// sides are the same session's canonical text. COLLATE "C" makes the
// comparison bytewise whatever the columns' collations.
func rowKeyArray(tb engine.TableInfo, t, k string) string {
	parts := make([]string, len(tb.Key))
	for i, c := range tb.Key {
		col := tb.Columns[c]
		if t != "" {
			parts[i] = t + "." + quoteIdent(col.Name) + `::text COLLATE "C"`
		} else {
			parts[i] = "CAST(" + k + ".k" + strconv.Itoa(i+1) + " AS " + col.Type + `)::text COLLATE "C"`
		}
	}
	return "ARRAY[" + strings.Join(parts, ", ") + "]"
}

// rowKeyCTE pairs the n-th copy of a whole-row key in the batch with the
// n-th physical row holding those values, so duplicate rows are updated or
// deleted exactly as many times as they are named. It defines k (the keys,
// their values and n) and r (matching rows' tableoid, ctid and n; a ctid
// alone is not unique across partitions or inheritance children).
func rowKeyCTE(t engine.TableInfo, nv int) string {
	return "WITH u AS (SELECT k.*, " + rowKeyArray(t, "", "k") + " AS kk FROM " + unnestFrom(len(t.Key), nv, true) + "), " +
		"k AS (SELECT u.*, row_number() OVER (PARTITION BY u.kk ORDER BY u.ord) AS n FROM u), " +
		"r AS (SELECT x.rel, x.tid, x.kk, row_number() OVER (PARTITION BY x.kk ORDER BY x.rel, x.tid) AS n FROM " +
		"(SELECT t.tableoid AS rel, t.ctid AS tid, " + rowKeyArray(t, "t", "") + " AS kk FROM " + quoteQualified(t.Schema, t.Name) + " AS t) x " +
		"WHERE x.kk IN (SELECT u.kk FROM u)) "
}

var _ engine.ColumnLister = (*pgTx)(nil)

// Columns lists the table's live columns, typed as loadTable types them.
func (x *pgTx) Columns(ctx context.Context, schema, name string) (cols []engine.Column, exists bool, err error) {
	oid, _, _, _, ok, err := resolveRelation(ctx, x.tx, engine.Name{Schema: schema, Name: name})
	if err != nil || !ok {
		return nil, false, err
	}
	t, err := loadTable(ctx, x.tx, oid)
	if err != nil {
		return nil, false, err
	}
	return t.Columns, true, nil
}
