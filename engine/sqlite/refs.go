package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"lifebelt/engine"
)

// Undo writes rows with foreign-key enforcement off (BeginUndo), so that
// no ON DELETE action deletes or changes rows of others and rows go back
// in any order; the reference check (engine.ReferenceChecker) then looks
// at the final state with SQLite's own comparison.

var _ engine.UndoBeginner = (*conn)(nil)

// BeginUndo begins an undo's transaction with foreign-key enforcement
// off: PRAGMA foreign_keys cannot change inside a transaction, so it is
// turned off before BEGIN and back on when the transaction ends (Commit,
// Rollback). If it cannot be turned back on, the connection refuses to
// begin anything else.
func (c *conn) BeginUndo(ctx context.Context) (engine.Tx, error) {
	if err := c.restoreForeignKeys(ctx); err != nil {
		return nil, err
	}
	if c.tx != nil && !c.tx.done {
		return nil, errors.New("sqlite: a transaction is already open on this connection")
	}
	if err := c.cc.exec(ctx, "PRAGMA foreign_keys = OFF"); err != nil {
		return nil, fmt.Errorf("sqlite: turning foreign-key enforcement off for undo: %w", err)
	}
	c.fkOff = true
	tx, err := c.begin(ctx)
	if err != nil {
		if rerr := c.restoreForeignKeys(context.WithoutCancel(ctx)); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return nil, err
	}
	c.tx.fkOff = true
	return tx, nil
}

// restoreForeignKeys turns foreign-key enforcement back on after an undo,
// and checks that it is on.
func (c *conn) restoreForeignKeys(ctx context.Context) error {
	if !c.fkOff {
		return nil
	}
	if c.cc == nil {
		return errNotActive
	}
	var on int64
	err := c.cc.exec(ctx, "PRAGMA foreign_keys = ON")
	if err == nil {
		err = c.cc.query(ctx, "PRAGMA foreign_keys", nil, func(r []engine.Value) error { on = r[0].I; return nil })
	}
	if err == nil && on != 1 {
		err = errors.New("it is still off")
	}
	if err != nil {
		return fmt.Errorf("sqlite: foreign-key enforcement could not be turned back on after undo (%v); reconnect before changing anything", err)
	}
	c.fkOff = false
	return nil
}

var _ engine.ReferenceChecker = (*tx)(nil)

// qForeignKeys lists the foreign keys in which ?1 is the child or the
// parent, one row per column.
const qForeignKeys = `SELECT t.name, f.id, f."table", f."from", f."to"
	FROM pragma_table_list t, pragma_foreign_key_list(t.name, 'main') f
	WHERE t.schema = 'main' AND t.type IN ('table', 'shadow')
		AND (t.name = ?1 COLLATE NOCASE OR f."table" = ?1 COLLATE NOCASE)
	ORDER BY t.name, f.id, f.seq`

// ForeignKeys lists the foreign keys of the main table t (as child or
// parent). A foreign key whose parent table does not exist is left out:
// no row the undo writes can change what it refers to.
func (t *tx) ForeignKeys(ctx context.Context, ti engine.TableInfo) ([]engine.TableForeignKey, error) {
	if err := t.usable(); err != nil {
		return nil, err
	}
	meta, err := t.c.schema(ctx)
	if err != nil {
		return nil, err
	}
	self := meta.table(ti.Name)
	if self == nil {
		return nil, nil
	}
	type key struct {
		child string
		id    int64
	}
	var order []key
	fks := map[key]*engine.ForeignKey{}
	var missingTo []key
	err = t.c.cc.query(ctx, qForeignKeys, []engine.Value{{K: engine.TextKind, S: self.info.Name}}, func(r []engine.Value) error {
		k := key{r[0].S, r[1].I}
		fk := fks[k]
		if fk == nil {
			parent := meta.table(r[2].S)
			if parent == nil {
				fks[k] = &engine.ForeignKey{} // skipped below
				order = append(order, k)
				return nil
			}
			fk = &engine.ForeignKey{ID: lowerASCII(r[0].S) + "#" + strconv.FormatInt(r[1].I, 10),
				Child: engine.Name{Schema: "main", Name: r[0].S}, Parent: engine.Name{Schema: "main", Name: parent.info.Name}}
			fks[k] = fk
			order = append(order, k)
		}
		if fk.ID == "" {
			return nil
		}
		fk.ChildCols = append(fk.ChildCols, r[3].S)
		if r[4].K == engine.NullKind {
			missingTo = append(missingTo, k)
		} else {
			fk.ParentCols = append(fk.ParentCols, r[4].S)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: listing foreign keys of %s: %w", ti.Name, err)
	}
	var out []engine.TableForeignKey
	for _, k := range order {
		fk := fks[k]
		if fk.ID == "" {
			continue
		}
		if len(fk.ParentCols) == 0 { // REFERENCES parent: its primary key
			pk, err := t.primaryKey(ctx, fk.Parent.Name)
			if err != nil {
				return nil, err
			}
			if len(pk) != len(fk.ChildCols) {
				return nil, fmt.Errorf("sqlite: foreign key %s refers to the primary key of %s, which does not match it", fk, fk.Parent.Name)
			}
			fk.ParentCols = pk
		}
		if len(fk.ParentCols) != len(fk.ChildCols) {
			return nil, fmt.Errorf("sqlite: foreign key %s names %d parent columns for %d child columns", fk, len(fk.ParentCols), len(fk.ChildCols))
		}
		if strings.EqualFold(fk.Child.Name, self.info.Name) {
			out = append(out, engine.TableForeignKey{ForeignKey: *fk})
		}
		if strings.EqualFold(fk.Parent.Name, self.info.Name) {
			out = append(out, engine.TableForeignKey{ForeignKey: *fk, Referenced: true})
		}
	}
	return out, nil
}

// primaryKey lists the declared primary-key columns of a table, in key
// order.
func (t *tx) primaryKey(ctx context.Context, table string) ([]string, error) {
	var out []string
	err := t.c.cc.query(ctx, "SELECT name FROM pragma_table_info(?1, 'main') WHERE pk > 0 ORDER BY pk",
		[]engine.Value{{K: engine.TextKind, S: table}}, func(r []engine.Value) error {
			out = append(out, r[0].S)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("sqlite: reading the primary key of %s: %w", table, err)
	}
	return out, nil
}

// refsTable holds the removed parent-key values during the check: its
// columns have the parent key's affinity and collation, so comparing one
// with a child value (whose affinity unary + removes) is the comparison
// SQLite's own foreign-key lookup makes: the parent column's affinity
// applied to the child's value, then the parent column's collation.
const refsTable = "lifebelt_undo_refs"

// Dangling implements the reference check for one foreign key.
func (t *tx) Dangling(ctx context.Context, fk engine.ForeignKey, removed, written [][]engine.Value, limit int) ([]engine.Dangling, error) {
	if err := t.usable(); err != nil {
		return nil, err
	}
	meta, err := t.c.schema(ctx)
	if err != nil {
		return nil, err
	}
	child := meta.table(fk.Child.Name)
	if child == nil {
		return nil, nil // nothing refers to anything any more
	}
	parent := meta.table(fk.Parent.Name)
	var parentCond func(childCol func(i int) string) string // nil: the parent is gone
	if parent != nil {
		parentCond = func(childCol func(i int) string) string {
			conds := make([]string, len(fk.ParentCols))
			for i, pc := range fk.ParentCols {
				conds[i] = "p." + QuoteIdent(pc) + " = " + childCol(i)
			}
			return "SELECT 1 FROM main." + QuoteIdent(parent.info.Name) + " p WHERE " + strings.Join(conds, " AND ")
		}
	}
	var out []engine.Dangling
	if len(written) > 0 {
		ds, err := t.danglingWritten(ctx, fk, parentCond, written, limit)
		if err != nil {
			return nil, err
		}
		out = append(out, ds...)
	}
	if len(removed) > 0 {
		ds, err := t.danglingRemoved(ctx, fk, child, parent, parentCond, removed, limit)
		if err != nil {
			return nil, err
		}
		out = append(out, ds...)
	}
	return out, nil
}

// danglingWritten looks up each written child value in the parent, as
// SQLite's foreign-key check does: a bound value has no affinity, so the
// parent column's applies.
func (t *tx) danglingWritten(ctx context.Context, fk engine.ForeignKey, parentCond func(func(int) string) string, written [][]engine.Value, limit int) ([]engine.Dangling, error) {
	var out []engine.Dangling
	if parentCond == nil {
		for _, w := range written[:min(limit, len(written))] {
			out = append(out, engine.Dangling{FK: fk, Values: w, Restored: true})
		}
		return out, nil
	}
	q := "SELECT EXISTS (" + parentCond(func(i int) string { return "?" + strconv.Itoa(i+1) }) + ")"
	err := t.each(ctx, q, written, func(s *cstmt, i int) error {
		if _, err := s.step(); err != nil {
			return err
		}
		if s.row(nil)[0].I == 0 && len(out) < limit {
			out = append(out, engine.Dangling{FK: fk, Values: written[i], Restored: true})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: looking up the rows undo put back refer to: %w", err)
	}
	return out, nil
}

// danglingRemoved finds the child's rows that referred to a removed
// parent key and refer to no parent row now.
func (t *tx) danglingRemoved(ctx context.Context, fk engine.ForeignKey, child, parent *tableMeta, parentCond func(func(int) string) string, removed [][]engine.Value, limit int) ([]engine.Dangling, error) {
	cc := t.c.cc
	defs := make([]string, len(fk.ParentCols))
	ks := make([]string, len(fk.ParentCols))
	affs, colls := make([]string, len(ks)), make([]string, len(ks))
	for i := range ks {
		affs[i], colls[i] = "BLOB", "BINARY" // parent gone: compare values as they are
	}
	if parent != nil {
		var err error
		if affs, colls, err = t.keyShape(ctx, parent, fk.ParentCols); err != nil {
			return nil, err
		}
	}
	for i := range ks {
		ks[i] = "k" + strconv.Itoa(i+1)
		defs[i] = ks[i] + " " + affs[i] + " COLLATE " + QuoteIdent(colls[i])
	}
	name, err := t.freeTempName(ctx, refsTable)
	if err != nil {
		return nil, err
	}
	if err := cc.exec(ctx, "CREATE TEMP TABLE "+QuoteIdent(name)+" ("+strings.Join(defs, ", ")+")"); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	defer cc.exec(context.WithoutCancel(ctx), "DROP TABLE temp."+QuoteIdent(name))
	if err := cc.exec(ctx, "CREATE INDEX temp."+QuoteIdent(name+"_k")+" ON "+QuoteIdent(name)+" ("+strings.Join(ks, ", ")+")"); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	params := make([]string, len(ks))
	for i := range params {
		params[i] = "?" + strconv.Itoa(i+1)
	}
	ins := "INSERT INTO temp." + QuoteIdent(name) + " VALUES (" + strings.Join(params, ", ") + ")"
	if err := t.each(ctx, ins, removed, func(s *cstmt, _ int) error { _, err := s.step(); return err }); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	childCol := func(i int) string { return "+c." + QuoteIdent(fk.ChildCols[i]) }
	sel := make([]string, len(fk.ChildCols))
	match := make([]string, len(fk.ChildCols))
	for i := range fk.ChildCols {
		sel[i] = "c." + QuoteIdent(fk.ChildCols[i])
		match[i] = "r." + ks[i] + " = " + childCol(i)
	}
	q := "SELECT " + strings.Join(sel, ", ") + ", count(*) FROM main." + QuoteIdent(child.info.Name) + " c" +
		" WHERE EXISTS (SELECT 1 FROM temp." + QuoteIdent(name) + " r WHERE " + strings.Join(match, " AND ") + ")"
	if parentCond != nil {
		q += " AND NOT EXISTS (" + parentCond(childCol) + ")"
	}
	q += " GROUP BY " + strings.Join(sel, ", ") + " LIMIT " + strconv.Itoa(limit)
	var out []engine.Dangling
	n := len(fk.ChildCols)
	err = cc.query(ctx, q, nil, func(r []engine.Value) error {
		out = append(out, engine.Dangling{FK: fk, Values: append([]engine.Value(nil), r[:n]...), Rows: r[n].I})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: looking for rows of %s that refer to removed rows: %w", child.info.Name, err)
	}
	return out, nil
}

// freeTempName returns base, or base with a number, whichever no TEMP
// object of the connection has (a user's own is never touched).
func (t *tx) freeTempName(ctx context.Context, base string) (string, error) {
	taken := map[string]bool{}
	err := t.c.cc.query(ctx, "SELECT name FROM temp.sqlite_schema", nil, func(r []engine.Value) error {
		taken[lowerASCII(r[0].S)] = true
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("sqlite: listing temporary objects: %w", err)
	}
	name := base
	for i := 2; taken[lowerASCII(name)] || taken[lowerASCII(name+"_k")]; i++ {
		name = base + "_" + strconv.Itoa(i)
	}
	return name, nil
}

// keyShape returns, for the parent-key columns of a foreign key, the
// affinity of each (as a type name with that affinity) and its collation.
// SQLite requires the parent key to have a unique index whose collations
// are the columns' own, so the collations are read from the unique
// indexes with exactly those columns, preferring the primary key's and a
// UNIQUE constraint's (pragma_index_list origin). An INTEGER PRIMARY KEY
// has no index, and its values are integers.
func (t *tx) keyShape(ctx context.Context, m *tableMeta, cols []string) (affs, colls []string, err error) {
	affs = make([]string, len(cols))
	colls = make([]string, len(cols))
	for i, col := range cols {
		found := false
		for _, c := range m.info.Columns {
			if strings.EqualFold(c.Name, col) {
				affs[i], found = affinity(c.Type), true
				break
			}
		}
		if !found {
			return nil, nil, fmt.Errorf("sqlite: %s has no column %q", m.info.Name, col)
		}
		colls[i] = "BINARY"
	}
	type index struct {
		origin string
		coll   map[string]string // lower column name -> collation
	}
	var idx []*index
	byName := map[string]*index{}
	err = t.c.cc.query(ctx, `SELECT il.name, il.origin, x.name, x.coll
		FROM pragma_index_list(?1, 'main') il, pragma_index_xinfo(il.name, 'main') x
		WHERE il."unique" AND NOT il.partial AND x.key ORDER BY il.seq, x.seqno`,
		[]engine.Value{{K: engine.TextKind, S: m.info.Name}}, func(r []engine.Value) error {
			ix := byName[r[0].S]
			if ix == nil {
				ix = &index{origin: r[1].S, coll: map[string]string{}}
				byName[r[0].S] = ix
				idx = append(idx, ix)
			}
			ix.coll[lowerASCII(r[2].S)] = r[3].S
			return nil
		})
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: reading the unique indexes of %s: %w", m.info.Name, err)
	}
	var best *index
	rank := map[string]int{"pk": 0, "u": 1, "c": 2}
	for _, ix := range idx {
		if len(ix.coll) != len(cols) {
			continue
		}
		all := true
		for _, col := range cols {
			if _, ok := ix.coll[lowerASCII(col)]; !ok {
				all = false
			}
		}
		if all && (best == nil || rank[ix.origin] < rank[best.origin]) {
			best = ix
		}
	}
	if best != nil {
		for i, col := range cols {
			if c := best.coll[lowerASCII(col)]; c != "" {
				colls[i] = c
			}
		}
	}
	return affs, colls, nil
}

// affinity is SQLite's column affinity of a declared type (section 3.1 of
// "Datatypes In SQLite"), as a type name with that affinity.
func affinity(decl string) string {
	d := strings.ToUpper(decl)
	switch {
	case strings.Contains(d, "INT"):
		return "INTEGER"
	case strings.Contains(d, "CHAR"), strings.Contains(d, "CLOB"), strings.Contains(d, "TEXT"):
		return "TEXT"
	case strings.Contains(d, "BLOB"), d == "":
		return "BLOB"
	case strings.Contains(d, "REAL"), strings.Contains(d, "FLOA"), strings.Contains(d, "DOUB"):
		return "REAL"
	}
	return "NUMERIC"
}
