package sqlite

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"lifebelt/engine"
)

// Undoing ALTER TABLE. SQLite's ALTER TABLE renames a table or a column,
// adds a column or drops one. The first three are undone by their inverse
// (a rename back; DROP COLUMN of the added column, once no row holds a
// value in it other than its default); a dropped column's values are
// imaged, and it is not put back automatically.

// alterReverts attaches to before and after the statements that turn the
// table from one into the other, when the change is one undo can revert:
// before and after are the table's metadata around the ALTER.
func (t *tx) alterReverts(ctx context.Context, action string, m, nm *tableMeta, before, after *engine.Definition) error {
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
		set([]string{"ALTER TABLE " + table(newName) + " RENAME TO " + QuoteIdent(oldName)},
			[]string{"ALTER TABLE " + table(oldName) + " RENAME TO " + QuoteIdent(newName)})
	case "RENAME COLUMN":
		if len(bc) != len(ac) {
			return nil
		}
		var from, to []string
		for i := range bc {
			if bc[i].Name != ac[i].Name {
				from, to = append(from, bc[i].Name), append(to, ac[i].Name)
			}
		}
		if len(from) != 1 {
			return nil
		}
		set([]string{"ALTER TABLE " + table(newName) + " RENAME COLUMN " + QuoteIdent(to[0]) + " TO " + QuoteIdent(from[0])},
			[]string{"ALTER TABLE " + table(oldName) + " RENAME COLUMN " + QuoteIdent(from[0]) + " TO " + QuoteIdent(to[0])})
		after.Revert.Columns = map[string]string{to[0]: from[0]}
		before.Revert.Columns = map[string]string{from[0]: to[0]}
	case "ADD COLUMN":
		if len(ac) != len(bc)+1 {
			return nil
		}
		for i := range bc {
			if bc[i].Name != ac[i].Name {
				return nil
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
			return fmt.Errorf("sqlite: reading the foreign keys of %s: %w", newName, err)
		}
		if inKey {
			return nil
		}
		undo := []string{"ALTER TABLE " + table(newName) + " DROP COLUMN " + QuoteIdent(col.Name)}
		var redo []string
		if def, ok := addedColumnText(m.sql, nm.sql); ok {
			redo = []string{"ALTER TABLE " + table(oldName) + " ADD COLUMN " + def}
		}
		set(undo, redo)
		if col.Generated {
			return nil // computed: dropping it destroys nothing
		}
		var dflt engine.Value
		err = t.c.cc.query(ctx, `SELECT dflt_value FROM pragma_table_xinfo(?, 'main') WHERE name = ?`,
			[]engine.Value{textValue(newName), textValue(col.Name)}, func(r []engine.Value) error {
				dflt = r[0]
				return nil
			})
		if err != nil {
			return fmt.Errorf("sqlite: reading the default of %s.%s: %w", newName, col.Name, err)
		}
		// The default of an added column is a constant (SQLite refuses
		// anything else), so every row the ALTER found got that value.
		esc := func(s string) string { return strings.ReplaceAll(s, "%", "%%") }
		cond := QuoteIdent(col.Name) + " IS NOT NULL"
		what := ", which the ALTER added empty"
		if dflt.K == kText && dflt.S != "" {
			cond = QuoteIdent(col.Name) + " IS NOT (" + dflt.S + ")"
			what = " other than its default (" + esc(dflt.S) + ")"
		}
		after.Revert.Checks = []engine.RevertCheck{{
			Query:  "SELECT count(*) FROM " + table(newName) + " WHERE " + cond,
			Reason: "%d row(s) of " + esc(newName) + " hold values in column " + esc(col.Name) + what + ": dropping the column would lose them",
		}}
	}
	return nil
}

// addedColumnText finds the column definition ADD COLUMN put into a
// table's CREATE statement: SQLite inserts ", <definition>" where the
// column list ends and leaves the rest of the text alone.
func addedColumnText(before, after string) (string, bool) {
	p := 0
	for p < len(before) && p < len(after) && before[p] == after[p] {
		p++
	}
	n := len(after) - len(before)
	if n <= 2 || p+n > len(after) || after[p+n:] != before[p:] || !strings.HasPrefix(after[p:p+n], ", ") {
		return "", false
	}
	return after[p+2 : p+n], true
}

var _ engine.Reverter = (*tx)(nil)

// DefinitionMatches compares the table's definition with want, leaving
// out its AUTOINCREMENT counter.
func (t *tx) DefinitionMatches(ctx context.Context, schema, name string, want *engine.Definition) (found, same bool, err error) {
	if err := t.usable(); err != nil {
		return false, false, err
	}
	// The suspended triggers are part of the definition.
	if err := t.resumeTriggers(ctx); err != nil {
		return false, false, err
	}
	if schema != "" && schema != "main" {
		return false, false, fmt.Errorf("sqlite: undo of %s.%s: only the main database is supported", schema, name)
	}
	meta, err := t.c.schema(ctx)
	if err != nil {
		return false, false, err
	}
	m := meta.table(name)
	if m == nil {
		return false, false, nil
	}
	def, err := t.c.tableDefinition(ctx, meta, m)
	if err != nil {
		return true, false, err
	}
	return true, slices.Equal(def.Create, want.Create) && slices.Equal(shape(def.PostData), shape(want.PostData)), nil
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
