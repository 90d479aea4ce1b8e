package sqlite

// #include <stdlib.h>
// #include "bridge.h"
import "C"

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unsafe"

	"lifebelt/engine"
)

// Undoing ALTER TABLE. SQLite's ALTER TABLE renames a table or a column,
// adds a column or drops one. Each is undone by its inverse: a rename
// back; DROP COLUMN of the added column, once no row holds a value in it
// other than its default; ADD COLUMN of a dropped one (last), with each
// row's value from the images taken before the drop.

// alterReverts attaches to before and after the statements that turn the
// table from one into the other, when the change is one undo can revert:
// before and after are the table's metadata around the ALTER.
func (t *tx) alterReverts(ctx context.Context, action string, m, nm *tableMeta, before, after *engine.Definition, defaults map[string]*string) (string, error) {
	oldName, newName := m.info.Name, nm.info.Name
	table := func(name string) string { return "main." + QuoteIdent(name) }
	set := func(undo, redo []string) {
		after.Revert = &engine.Revert{Name: newName, Statements: undo}
		if redo != nil {
			before.Revert = &engine.Revert{Name: oldName, Statements: redo}
		}
	}
	bc, ac := m.info.Columns, nm.info.Columns
	switch action {
	case "RENAME TO":
		set([]string{"ALTER TABLE " + table(newName) + " RENAME TO " + renameTarget(oldName)},
			[]string{"ALTER TABLE " + table(oldName) + " RENAME TO " + renameTarget(newName)})
	case "RENAME COLUMN":
		if len(bc) != len(ac) {
			return "", nil
		}
		var from, to []string
		for i := range bc {
			if bc[i].Name != ac[i].Name {
				from, to = append(from, bc[i].Name), append(to, ac[i].Name)
			}
		}
		if len(from) != 1 {
			return "", nil
		}
		set([]string{"ALTER TABLE " + table(newName) + " RENAME COLUMN " + QuoteIdent(to[0]) + " TO " + renameTarget(from[0])},
			[]string{"ALTER TABLE " + table(oldName) + " RENAME COLUMN " + QuoteIdent(from[0]) + " TO " + renameTarget(to[0])})
		after.Revert.Columns = map[string]string{to[0]: from[0]}
		before.Revert.Columns = map[string]string{from[0]: to[0]}
	case "ADD COLUMN":
		if len(ac) != len(bc)+1 {
			return "", nil
		}
		for i := range bc {
			if bc[i].Name != ac[i].Name {
				return "", nil
			}
		}
		col := ac[len(bc)]
		// SQLite refuses to drop a column a foreign key of its table uses.
		inKey := false
		err := t.c.cc.query(ctx, `SELECT 1 FROM pragma_foreign_key_list(?, 'main') WHERE "from" = ? COLLATE NOCASE`,
			[]engine.Value{textValue(newName), textValue(col.Name)}, func([]engine.Value) error {
				inKey = true
				return nil
			})
		if err != nil {
			return "", fmt.Errorf("sqlite: reading the foreign keys of %s: %w", newName, err)
		}
		if inKey {
			return "a foreign key of the table uses the column, so SQLite cannot drop it", nil
		}
		undo := []string{"ALTER TABLE " + table(newName) + " DROP COLUMN " + QuoteIdent(col.Name)}
		var redo []string
		if def, ok := addedColumnText(m.sql, nm.sql); ok {
			redo = []string{"ALTER TABLE " + table(oldName) + " ADD COLUMN " + def}
		}
		set(undo, redo)
		if col.Generated {
			return "", nil // computed: dropping it destroys nothing
		}
		return "", t.addedColumnCheck(ctx, newName, col.Name, after.Revert)
	case "DROP COLUMN":
		return t.dropColumnReverts(ctx, m, nm, before, after, defaults)
	}
	return "", nil
}

// dropColumnReverts attaches the revert of a DROP COLUMN. SQLite's ADD
// COLUMN puts a column last and refuses many definitions (NOT NULL
// without a default, an expression default), so the table is rebuilt as
// SQLite documents for schema changes ALTER TABLE cannot make: the column
// is added back bare (any value, NULL allowed) and filled from the images
// matched by key; then a new table is made from the CREATE statement
// recorded before the drop, the rows are copied into it (rowids kept; a
// NOT NULL column's NULLs, rows added since, left to its default), the
// old table is dropped, the new one renamed to its name, and its
// indexes, triggers and AUTOINCREMENT counter made again. The undo runs
// with foreign keys off, so the drop takes nothing along. The result must
// be exactly the definition before the drop. It returns why there is no
// revert.
func (t *tx) dropColumnReverts(ctx context.Context, m, nm *tableMeta, before, after *engine.Definition, defaults map[string]*string) (string, error) {
	bc, ac := m.info.Columns, nm.info.Columns
	if len(bc) != len(ac)+1 {
		return "", nil
	}
	gone := len(ac)
	for i := range ac {
		if bc[i].Name != ac[i].Name {
			gone = i
			break
		}
	}
	col := bc[gone]
	switch {
	case m.info.KeyKind == engine.KeyRow:
		return "the table has no primary key or unique key to match its rows by", nil
	case slices.Contains(m.info.Key, gone):
		return "the column is part of the key its rows are matched by", nil
	case col.Generated:
		return "the column is generated", nil
	case !m.withoutRowid && m.rowidName == "":
		return "columns named rowid, _rowid_ and oid leave no name for the rows' rowids", nil
	}
	name := nm.info.Name
	temp := "lifebelt_undo_" + name
	create, ok := renamedCreate(m.sql, "main."+QuoteIdent(temp))
	if !ok {
		return "the table's CREATE statement could not be read", nil
	}
	from, into := "main."+QuoteIdent(name), "main."+QuoteIdent(temp)
	// The statement must make the table under another name: one that
	// names the table itself (a CHECK on t.a) cannot, as SQLite's own
	// RENAME cannot rename it. Tried at once, in a savepoint.
	if err := t.c.cc.exec(ctx, "SAVEPOINT lifebelt_trial"); err != nil {
		return "", fmt.Errorf("sqlite: %w", err)
	}
	tried := t.c.cc.exec(ctx, create)
	t.c.meta = nil // the schema read in the savepoint is gone with it
	if err := t.c.cc.exec(ctx, "ROLLBACK TO lifebelt_trial; RELEASE lifebelt_trial"); err != nil {
		return "", fmt.Errorf("sqlite: rolling back a trial of the table's CREATE statement: %w", err)
	}
	if tried != nil {
		return "the table cannot be made again under another name to rebuild it (" + tried.Error() + ")", nil
	}
	list := func(skip string) string {
		var cols []string
		if !m.withoutRowid {
			cols = append(cols, m.rowidName)
		}
		for _, c := range bc {
			if !c.Generated && c.Name != skip {
				cols = append(cols, QuoteIdent(c.Name))
			}
		}
		return strings.Join(cols, ", ")
	}
	c := QuoteIdent(col.Name)
	// The column added back for the fill: with its declared type (a
	// STRICT table needs one) and its default when ADD COLUMN takes it (a
	// constant), so that rows added since get it; nothing else, so that
	// SQLite adds it whatever the table holds.
	add := "ALTER TABLE " + from + " ADD COLUMN " + c
	if col.Type != "" {
		add += " " + col.Type
	}
	if dflt := defaults[col.Name]; dflt != nil && constantDefault(*dflt) {
		add += " DEFAULT " + *dflt
	}
	// OR ABORT: a conflict clause of the table (NOT NULL ON CONFLICT
	// IGNORE) must not skip a row, which the drop of the old table would
	// then lose; a row that does not fit fails the undo instead.
	copyRows := "INSERT OR ABORT INTO " + into + " (" + list("") + ") SELECT " + list("") + " FROM " + from
	then := []string{create}
	if col.NotNull {
		// A NULL is a row added since: it gets the column's default (or,
		// without one, fails the undo as a conflict).
		then = append(then, copyRows+" WHERE "+c+" IS NOT NULL",
			"INSERT OR ABORT INTO "+into+" ("+list(col.Name)+") SELECT "+list(col.Name)+" FROM "+from+" WHERE "+c+" IS NULL")
	} else {
		then = append(then, copyRows)
	}
	if m.autoinc {
		// The counter moves to the new table, at least as far as it was.
		ol, nl := literal(textValue(name)), literal(textValue(temp))
		then = append(then,
			"UPDATE main.sqlite_sequence SET seq = (SELECT max(seq) FROM main.sqlite_sequence WHERE name IN ("+ol+", "+nl+")) WHERE name = "+nl,
			"INSERT INTO main.sqlite_sequence (name, seq) SELECT "+nl+", seq FROM main.sqlite_sequence WHERE name = "+ol+
				" AND NOT EXISTS (SELECT 1 FROM main.sqlite_sequence WHERE name = "+nl+")")
	}
	// The planner's statistics (ANALYZE) go with the dropped table: kept
	// aside and put back under the same name.
	stat1, err := t.c.hasTable(ctx, "main", "sqlite_stat1")
	if err != nil {
		return "", err
	}
	nameLit := literal(textValue(name))
	if stat1 {
		then = append(then, "CREATE TEMP TABLE lifebelt_undo_stat1 AS SELECT * FROM main.sqlite_stat1 WHERE tbl = "+nameLit)
	}
	// legacy_alter_table: the rename must not check views and triggers
	// that name the table, which is gone until the rename is done.
	then = append(then, "DROP TABLE "+from, "PRAGMA legacy_alter_table = ON",
		"ALTER TABLE "+into+" RENAME TO "+renameTarget(name), "PRAGMA legacy_alter_table = OFF")
	then = append(then, before.PostData...)
	if stat1 {
		then = append(then, "DELETE FROM main.sqlite_stat1 WHERE tbl = "+nameLit,
			"INSERT INTO main.sqlite_stat1 SELECT * FROM temp.lifebelt_undo_stat1", "DROP TABLE temp.lifebelt_undo_stat1")
	}
	after.Revert = &engine.Revert{Name: name, Statements: []string{add}, Fill: []string{col.Name}, Then: then, Exact: true}
	before.Revert = &engine.Revert{Name: m.info.Name, Statements: []string{"ALTER TABLE main." + QuoteIdent(m.info.Name) + " DROP COLUMN " + c}, ImageFirst: true, Exact: true}
	return "", nil
}

// renamedCreate is a CREATE TABLE statement with the table's name (and
// schema) replaced by name.
func renamedCreate(create, name string) (string, bool) {
	toks := lexTokens(create, 12)
	i := 0
	if i < len(toks) && toks[i].word == "CREATE" {
		i++
	}
	for i < len(toks) && (toks[i].word == "TEMP" || toks[i].word == "TEMPORARY") {
		i++
	}
	if i >= len(toks) || toks[i].word != "TABLE" {
		return "", false
	}
	i++
	if i+2 < len(toks) && toks[i].word == "IF" && toks[i+1].word == "NOT" && toks[i+2].word == "EXISTS" {
		i += 3
	}
	if i >= len(toks) || toks[i].ident == "" {
		return "", false
	}
	start, end := toks[i].start, toks[i].end
	if i+2 < len(toks) && toks[i+1].punct == '.' && toks[i+2].ident != "" {
		end = toks[i+2].end
	}
	return create[:start] + name + create[end:], true
}

// renameTarget spells the new name of a rename: bare when it is a plain
// identifier, quoted otherwise. SQLite writes the new name into the
// schema's text as the statement spells it, so a name a user renamed
// bare comes back bare.
func renameTarget(name string) string {
	plain := name != ""
	for i := 0; i < len(name) && plain; i++ {
		c := name[i]
		plain = c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9'
	}
	if !plain || isKeyword(name) {
		return QuoteIdent(name)
	}
	return name
}

// isKeyword asks SQLite whether name is one of its keywords.
func isKeyword(name string) bool {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	return C.sqlite3_keyword_check(cs, C.int(len(name))) != 0
}

// addedColumnCheck adds to r the check for values others wrote into an
// added column since: rows where it holds anything but what the ALTER
// gave every row it found. That value is read back from a row (SQLite
// supplies it from the default, as the column's affinity makes it), and
// compared exactly: BINARY, whatever the column's collation, since
// NOCASE would take someone's 'ABC' for the default 'abc'.
func (t *tx) addedColumnCheck(ctx context.Context, table, column string, r *engine.Revert) error {
	esc := func(s string) string { return strings.ReplaceAll(s, "%", "%%") }
	col := QuoteIdent(column)
	from := "main." + QuoteIdent(table)
	var given *engine.Value
	err := t.c.cc.query(ctx, "SELECT "+col+" FROM "+from+" LIMIT 1", nil, func(row []engine.Value) error {
		v := row[0]
		given = &v
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: reading column %s of %s: %w", column, table, err)
	}
	if given == nil {
		// No row got anything: rows there at undo time came since, and
		// whatever they hold in the column is theirs.
		r.Checks = append(r.Checks, engine.RevertCheck{
			Query:  "SELECT count(*) FROM " + from + " WHERE " + col + " IS NOT NULL",
			Reason: "%d row(s) of " + esc(table) + " were added since the ALTER, which found it empty, and hold values in column " + esc(column) + ": dropping the column would lose them",
		})
		return nil
	}
	if given.K == engine.NullKind {
		r.Checks = append(r.Checks, engine.RevertCheck{
			Query:  "SELECT count(*) FROM " + from + " WHERE " + col + " IS NOT NULL",
			Reason: "%d row(s) of " + esc(table) + " hold values in column " + esc(column) + ", which the ALTER added empty: dropping the column would lose them",
		})
		return nil
	}
	shown := literal(*given)
	r.Checks = append(r.Checks, engine.RevertCheck{
		Query:  "SELECT count(*) FROM " + from + " WHERE " + col + " COLLATE BINARY IS NOT " + shown,
		Reason: "%d row(s) of " + esc(table) + " hold values in column " + esc(column) + " other than the one the ALTER gave every row (" + esc(shown) + "): dropping the column would lose them",
	})
	return nil
}

// addedColumnText finds the column definition ADD COLUMN put into a
// table's CREATE statement: SQLite inserts ", <definition>" where the
// column definitions end (before the first table constraint, or the
// closing parenthesis) and leaves the rest of the text alone.
func addedColumnText(before, after string) (string, bool) {
	n := len(after) - len(before)
	if n <= 2 {
		return "", false
	}
	p := 0
	for p < len(before) && before[p] == after[p] {
		p++
	}
	// The insertion point is at most p, and the text before it and after
	// the inserted piece is the old text.
	for off := p; off >= 0 && off >= p-n; off-- {
		if after[:off] == before[:off] && after[off+n:] == before[off:] && strings.HasPrefix(after[off:off+n], ", ") {
			return after[off+2 : off+n], true
		}
	}
	return "", false
}

var _ engine.Reverter = (*tx)(nil)

// TableDefinition is the table's definition, nil when there is none.
func (t *tx) TableDefinition(ctx context.Context, schema, name string) (*engine.Definition, error) {
	if err := t.usable(); err != nil {
		return nil, err
	}
	// The suspended triggers are part of the definition.
	if err := t.resumeTriggers(ctx); err != nil {
		return nil, err
	}
	if schema != "" && schema != "main" {
		return nil, fmt.Errorf("sqlite: undo of %s.%s: only the main database is supported", schema, name)
	}
	meta, err := t.c.schema(ctx)
	if err != nil {
		return nil, err
	}
	m := meta.table(name)
	if m == nil {
		return nil, nil
	}
	def, err := t.c.tableDefinition(ctx, meta, m)
	if err != nil {
		return nil, err
	}
	return &def, nil
}

// SameDefinition compares two definitions, leaving out the AUTOINCREMENT
// counter.
func (t *tx) SameDefinition(a, b *engine.Definition) bool {
	return slices.EqualFunc(a.Create, b.Create, sameSQL) && slices.EqualFunc(shape(a.PostData), shape(b.PostData), sameSQL)
}

// sameSQL compares two statements token by token: a name means the same
// bare or quoted (SQLite writes a renamed table's name quoted), and
// whitespace and comments do not count. Strings and numbers compare
// exactly.
// SameDefinitionAnyOrder compares two definitions as SameDefinition does,
// except for the order of the items of CREATE TABLE (columns and table
// constraints).
func (t *tx) SameDefinitionAnyOrder(a, b *engine.Definition) bool {
	if len(a.Create) != len(b.Create) || !slices.EqualFunc(shape(a.PostData), shape(b.PostData), sameSQL) {
		return false
	}
	for i := range a.Create {
		if !sameSQL(a.Create[i], b.Create[i]) && !sameItems(a.Create[i], b.Create[i]) {
			return false
		}
	}
	return true
}

// sameItems reports whether two CREATE TABLE statements are the same but
// for the order of the items between their outer parentheses: the text
// before and after them, and the items sorted by text, compare as sameSQL.
func sameItems(a, b string) bool {
	pa, ia, sa, ok := createItems(a)
	pb, ib, sb, ok2 := createItems(b)
	if !ok || !ok2 || len(ia) != len(ib) || !sameSQL(pa, pb) || !sameSQL(sa, sb) {
		return false
	}
	key := func(item string) string {
		var b strings.Builder
		for _, tk := range lexTokens(item, 0) {
			if tk.ident != "" {
				b.WriteString(strings.ToLower(tk.ident))
			} else {
				b.WriteString(strings.ToLower(item[tk.start:tk.end]))
			}
			b.WriteByte(' ')
		}
		return b.String()
	}
	byKey := func(items []string) {
		slices.SortFunc(items, func(x, y string) int { return strings.Compare(key(x), key(y)) })
	}
	byKey(ia)
	byKey(ib)
	return slices.EqualFunc(ia, ib, sameSQL)
}

// createItems splits a CREATE TABLE statement into the text up to its
// first parenthesis, the items inside it (split at its commas), and the
// text from the closing parenthesis on.
func createItems(create string) (prefix string, items []string, suffix string, ok bool) {
	depth, start := 0, -1
	for _, tk := range lexTokens(create, 0) {
		switch tk.punct {
		case '(':
			depth++
			if depth == 1 && start < 0 {
				prefix, start = create[:tk.start], tk.end
			}
		case ',':
			if depth == 1 {
				items = append(items, create[start:tk.start])
				start = tk.end
			}
		case ')':
			depth--
			if depth == 0 && start >= 0 {
				return prefix, append(items, create[start:tk.start]), create[tk.start:], true
			}
		}
	}
	return "", nil, "", false
}

func sameSQL(a, b string) bool {
	if a == b {
		return true
	}
	ta, tb := lexTokens(a, 0), lexTokens(b, 0)
	if len(ta) != len(tb) {
		return false
	}
	for i := range ta {
		x, y := ta[i], tb[i]
		switch {
		case x.ident != "" || y.ident != "":
			if x.ident != y.ident {
				return false
			}
			// A bare word means the quoted name of the same spelling only
			// when it is a name: not a keyword, a number, TRUE or FALSE.
			if x.quoted != y.quoted {
				bare := x
				if x.quoted {
					bare = y
				}
				c := bare.ident[0]
				if isKeyword(bare.ident) || !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80) ||
					strings.EqualFold(bare.ident, "TRUE") || strings.EqualFold(bare.ident, "FALSE") {
					return false
				}
			}
		default:
			if a[x.start:x.end] != b[y.start:y.end] {
				return false
			}
		}
	}
	return true
}

// shape leaves out the statements that restore the AUTOINCREMENT counter.
func shape(stmts []string) []string {
	var out []string
	for _, s := range stmts {
		if strings.HasPrefix(s, "UPDATE sqlite_sequence ") || strings.HasPrefix(s, "INSERT INTO sqlite_sequence(") {
			continue
		}
		out = append(out, s)
	}
	return out
}

// Count runs a query that returns one count.
func (t *tx) Count(ctx context.Context, query string) (int64, error) {
	if err := t.usable(); err != nil {
		return 0, err
	}
	var n int64
	got := false
	err := t.c.cc.query(ctx, query, nil, func(r []engine.Value) error {
		if len(r) != 1 || r[0].K != kInt {
			return fmt.Errorf("the query returned no count")
		}
		n, got = r[0].I, true
		return nil
	})
	if err == nil && !got {
		err = fmt.Errorf("the query returned no row")
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: %s: %w", query, err)
	}
	return n, nil
}

// TryDDL runs statements inside a savepoint; a failure, or a problem
// verify reports after them, rolls back to it.
func (t *tx) TryDDL(ctx context.Context, stmts []string, verify func(context.Context) (problem, err error)) (failed, err error) {
	if err := t.usable(); err != nil {
		return nil, err
	}
	if err := t.resumeTriggers(ctx); err != nil {
		return nil, err
	}
	if err := t.c.cc.exec(ctx, "SAVEPOINT lifebelt_revert"); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	back := func(what string, ferr error) (error, error) {
		// A schema read since is gone with the savepoint; a later change
		// may reach the same schema version with another schema.
		t.c.meta = nil
		if rerr := t.c.cc.exec(ctx, "ROLLBACK TO lifebelt_revert; RELEASE lifebelt_revert"); rerr != nil {
			return nil, fmt.Errorf("sqlite: rolling back %q (%v): %w", what, ferr, rerr)
		}
		// Triggers a Fill suspended (dropped) since are back with the
		// rollback, as they were when the savepoint was set.
		t.suspended = nil
		return fmt.Errorf("%s: %w", what, ferr), nil
	}
	for _, s := range stmts {
		ferr := t.c.cc.exec(ctx, s)
		if ferr == nil {
			ferr = t.columnStillNamed(ctx, s)
		}
		if ferr != nil {
			if ctx.Err() != nil {
				return nil, ferr
			}
			return back(s, ferr)
		}
	}
	if verify != nil {
		problem, err := verify(ctx)
		if err != nil {
			return nil, err
		}
		if problem != nil {
			return back("after "+strings.Join(stmts, "; "), problem)
		}
	}
	if err := t.c.cc.exec(ctx, "RELEASE lifebelt_revert"); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return nil, nil
}

// columnStillNamed checks, after stmt dropped a column (ALTER TABLE
// main.T DROP COLUMN C, as alterReverts writes it) or a table (DROP TABLE
// T, as a definition's Drop writes it), that no trigger or view outside T
// names it: SQLite drops either even where someone's trigger or view
// still uses it, which then fails. Any identifier of that name counts.
func (t *tx) columnStillNamed(ctx context.Context, stmt string) error {
	toks := lexTokens(stmt, 9)
	var table, column string
	switch {
	case len(toks) == 8 && toks[0].word == "ALTER" && toks[1].word == "TABLE" && toks[3].punct == '.' && toks[5].word == "DROP" && toks[6].word == "COLUMN":
		table, column = toks[4].ident, toks[7].ident
	case len(toks) == 3 && toks[0].word == "DROP" && toks[1].word == "TABLE":
		// DROP TABLE, as a table's definition writes it: SQLite drops a
		// table that someone's view or trigger uses.
		table, column = toks[2].ident, toks[2].ident
	default:
		return nil
	}
	var found error
	for _, schema := range []string{"main", "temp"} {
		err := t.c.cc.query(ctx, "SELECT type, name, tbl_name, sql FROM "+schema+".sqlite_schema WHERE type IN ('trigger', 'view') AND sql IS NOT NULL",
			nil, func(r []engine.Value) error {
				if found != nil || (r[0].S == "trigger" && strings.EqualFold(r[2].S, table)) {
					return nil
				}
				for _, tk := range lexTokens(r[3].S, 0) {
					if tk.ident != "" && strings.EqualFold(tk.ident, column) {
						found = fmt.Errorf("%s %s names %s, which it could no longer find", r[0].S, r[1].S, column)
						break
					}
				}
				return nil
			})
		if err != nil {
			return err
		}
	}
	return found
}

// ImageTable images every row of the table as deleted rows.
func (t *tx) ImageTable(ctx context.Context, schema, name string, sink engine.Sink) (int64, error) {
	if err := t.usable(); err != nil {
		return 0, err
	}
	meta, err := t.c.schema(ctx)
	if err != nil {
		return 0, err
	}
	m := meta.table(name)
	if m == nil || (schema != "" && schema != "main") {
		return 0, fmt.Errorf("sqlite: table %s is not in the main database", name)
	}
	return t.imageAllRows(ctx, m, sink)
}

// Children is 0: SQLite tables have no inheritance or partitions.
func (t *tx) Children(ctx context.Context, schema, name string) (int64, error) { return 0, nil }

// ObjectDefinition is the current definition of a table, view, index or
// trigger of the main database, nil when there is none.
func (t *tx) ObjectDefinition(ctx context.Context, kind, schema, name string) (*engine.Definition, error) {
	typ := strings.ToLower(kind)
	if typ == "table" {
		return t.TableDefinition(ctx, schema, name)
	}
	if err := t.usable(); err != nil {
		return nil, err
	}
	if err := t.resumeTriggers(ctx); err != nil {
		return nil, err
	}
	meta, err := t.c.schema(ctx)
	if err != nil {
		return nil, err
	}
	o, ok := meta.find(typ, name)
	if !ok {
		return nil, nil
	}
	def := objectDefinition(o)
	return &def, nil
}

// constantDefault reports whether a column default, as pragma table_xinfo
// spells it, is one ADD COLUMN accepts: a literal (string, number, blob,
// NULL, TRUE, FALSE), not an expression in parentheses or CURRENT_*.
func constantDefault(d string) bool {
	toks := lexTokens(d, 0)
	if len(toks) == 2 && (toks[0].punct == '-' || toks[0].punct == '+') {
		toks = toks[1:]
	}
	if len(toks) != 1 {
		return false
	}
	tk := toks[0]
	switch {
	case tk.quoted && tk.ident == "" && d[strings.IndexAny(d, "'")] == '\'':
		return true // a string or blob literal
	case tk.word == "NULL" || tk.word == "TRUE" || tk.word == "FALSE":
		return true
	case tk.word != "" && tk.word[0] >= '0' && tk.word[0] <= '9':
		return true // a number
	}
	return false
}

// columnDefaults reads the defaults of a table's columns, as pragma
// table_xinfo spells them (nil: none).
func (t *tx) columnDefaults(ctx context.Context, table string) (map[string]*string, error) {
	out := map[string]*string{}
	err := t.c.cc.query(ctx, "SELECT name, dflt_value FROM pragma_table_xinfo(?, 'main')", []engine.Value{textValue(table)}, func(r []engine.Value) error {
		if r[1].K != engine.NullKind {
			d := r[1].S
			out[r[0].S] = &d
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: reading the column defaults of %s: %w", table, err)
	}
	return out, nil
}
