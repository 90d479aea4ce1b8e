package sqlite

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
// parent), with column names as the tables spell them. A foreign key whose
// parent table does not exist is listed for its child (every row undo
// writes with a value there refers to nothing), with the columns as the
// key names them.
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
	fks, err := t.foreignKeys(ctx, meta, self.info.Name)
	if err != nil {
		return nil, fmt.Errorf("sqlite: listing foreign keys of %s: %w", ti.Name, err)
	}
	// The values undo tracks come from its images, which hold no VIRTUAL
	// generated column (the pre-update hook cannot see them).
	virtual := func(cols []string) error {
		for _, c := range cols {
			if self.virtualCols[lowerASCII(c)] {
				return fmt.Errorf("sqlite: a foreign key uses the VIRTUAL generated column %s.%s, whose values undo's images do not hold, so undo cannot check it", self.info.Name, c)
			}
		}
		return nil
	}
	// The columns as the journal's description of the table spells them
	// (a column renamed since in case only is the same column).
	spell := func(cols []string) []string {
		out := make([]string, len(cols))
		for i, c := range cols {
			out[i] = c
			for _, jc := range ti.Columns {
				if lowerASCII(jc.Name) == lowerASCII(c) {
					out[i] = jc.Name
					break
				}
			}
		}
		return out
	}
	var out []engine.TableForeignKey
	for _, fk := range fks {
		if lowerASCII(fk.Child.Name) == lowerASCII(self.info.Name) {
			fk.ChildCols = spell(fk.ChildCols)
		}
		if lowerASCII(fk.Parent.Name) == lowerASCII(self.info.Name) {
			fk.ParentCols = spell(fk.ParentCols)
		}
		if lowerASCII(fk.Child.Name) == lowerASCII(self.info.Name) {
			if err := virtual(fk.ChildCols); err != nil {
				return nil, err
			}
			out = append(out, engine.TableForeignKey{ForeignKey: fk})
		}
		if lowerASCII(fk.Parent.Name) == lowerASCII(self.info.Name) {
			if err := virtual(fk.ParentCols); err != nil {
				return nil, err
			}
			out = append(out, engine.TableForeignKey{ForeignKey: fk, Referenced: true})
		}
	}
	return out, nil
}

// foreignKeys lists the foreign keys in which the table is child or
// parent. The ID holds the whole definition, so that a key of a table
// undo re-created is not taken for one of the table it replaced.
func (t *tx) foreignKeys(ctx context.Context, meta *schemaInfo, table string) ([]engine.ForeignKey, error) {
	return t.foreignKeysQ(ctx, meta, table, qForeignKeys)
}

const qChildForeignKeys = `SELECT ?1, f.id, f."table", f."from", f."to" FROM pragma_foreign_key_list(?1, 'main') f ORDER BY f.id, f.seq`

func (t *tx) foreignKeysQ(ctx context.Context, meta *schemaInfo, table, q string) ([]engine.ForeignKey, error) {
	type key struct {
		child string
		id    int64
	}
	var order []key
	fks := map[key]*engine.ForeignKey{}
	decl := map[key]string{}
	err := t.c.cc.query(ctx, q, []engine.Value{{K: engine.TextKind, S: table}}, func(r []engine.Value) error {
		k := key{r[0].S, r[1].I}
		fk := fks[k]
		if fk == nil {
			parent := r[2].S
			if m := meta.table(parent); m != nil {
				parent = m.info.Name
			}
			fk = &engine.ForeignKey{Child: engine.Name{Schema: "main", Name: r[0].S}, Parent: engine.Name{Schema: "main", Name: parent}}
			fks[k] = fk
			order = append(order, k)
		}
		to := "\x01"
		if r[4].K != engine.NullKind {
			to = lowerASCII(r[4].S)
		}
		decl[k] += "\x00" + lowerASCII(r[3].S) + "\x00" + to
		fk.ChildCols = append(fk.ChildCols, columnName(meta.table(fk.Child.Name), r[3].S))
		if r[4].K != engine.NullKind {
			fk.ParentCols = append(fk.ParentCols, columnName(meta.table(fk.Parent.Name), r[4].S))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	defaults := map[string]map[string]bool{} // child -> lower column names with a default
	var out []engine.ForeignKey
	for _, k := range order {
		fk := fks[k]
		if defaults[fk.Child.Name] == nil {
			d := map[string]bool{}
			err := t.c.cc.query(ctx, "SELECT name FROM pragma_table_info(?1, 'main') WHERE dflt_value IS NOT NULL",
				[]engine.Value{{K: engine.TextKind, S: fk.Child.Name}}, func(r []engine.Value) error {
					d[lowerASCII(r[0].S)] = true
					return nil
				})
			if err != nil {
				return nil, err
			}
			defaults[fk.Child.Name] = d
		}
		for _, c := range fk.ChildCols {
			fk.ChildDefault = fk.ChildDefault || defaults[fk.Child.Name][lowerASCII(c)]
		}
		if len(fk.ParentCols) == 0 && meta.table(fk.Parent.Name) != nil { // REFERENCES parent: its primary key
			pk, err := t.primaryKey(ctx, fk.Parent.Name)
			if err != nil {
				return nil, err
			}
			fk.ParentCols = pk
		}
		if len(fk.ParentCols) == 0 {
			fk.ParentCols = make([]string, len(fk.ChildCols)) // the parent is gone: unknown
		}
		if len(fk.ParentCols) != len(fk.ChildCols) {
			return nil, fmt.Errorf("foreign key %s (%s) names %d parent columns for %d child columns",
				fk.Child.Name, strings.Join(fk.ChildCols, ", "), len(fk.ParentCols), len(fk.ChildCols))
		}
		fk.ID = lowerASCII(fk.Child.Name) + "\x00" + strconv.FormatInt(k.id, 10) + "\x00" + lowerASCII(fk.Parent.Name) + decl[k]
		out = append(out, *fk)
	}
	return out, nil
}

// columnName is the table's own spelling of a column a foreign key names
// (SQLite matches names without regard to ASCII case).
func columnName(m *tableMeta, name string) string {
	if m != nil {
		for _, c := range m.info.Columns {
			if lowerASCII(c.Name) == lowerASCII(name) {
				return c.Name
			}
		}
	}
	return name
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

// Dangling implements the reference check for one foreign key. Values
// are held in TEMP tables whose columns have the affinity and collation
// of the key's columns: removed parent-key values those of the parent,
// written child values those of the child. A child row refers to a
// parent value as SQLite's foreign-key lookup decides: the parent
// column's affinity applied to the child's value (unary + takes the
// child column's own away), compared with the parent column's collation.
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
	current, err := t.foreignKeysQ(ctx, meta, child.info.Name, qChildForeignKeys)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	exists := false
	for _, c := range current {
		exists = exists || c.ID == fk.ID
	}
	if !exists {
		return nil, nil // dropped, or its table re-created without it
	}
	parent := meta.table(fk.Parent.Name)
	n := len(fk.ChildCols)
	cc := t.c.cc
	childCol := func(i int) string { return "c." + QuoteIdent(fk.ChildCols[i]) }
	sel := make([]string, n)
	for i := range sel {
		sel[i] = childCol(i)
	}
	// refersTo renders "the child row refers to the parent values in
	// alias a", as SQLite's lookup compares.
	refersTo := func(a string) string {
		conds := make([]string, n)
		for i := range conds {
			col := QuoteIdent(fk.ParentCols[i])
			if a != "p" {
				col = "k" + strconv.Itoa(i+1)
			}
			conds[i] = a + "." + col + " = +" + childCol(i)
		}
		return strings.Join(conds, " AND ")
	}
	orphan := "1" // the parent is gone: every reference dangles
	if parent != nil {
		orphan = "NOT EXISTS (SELECT 1 FROM main." + QuoteIdent(parent.info.Name) + " p WHERE " + refersTo("p") + ")"
	}
	var out []engine.Dangling
	collect := func(q string, restored bool) error {
		return cc.query(ctx, q+" GROUP BY "+strings.Join(sel, ", ")+" LIMIT "+strconv.Itoa(limit), nil, func(r []engine.Value) error {
			out = append(out, engine.Dangling{FK: fk, Values: append([]engine.Value(nil), r[:n]...), Rows: r[n].I, Restored: restored})
			return nil
		})
	}
	from := " FROM main." + QuoteIdent(child.info.Name) + " c"
	head := "SELECT " + strings.Join(sel, ", ") + ", count(*)"
	if len(written) > 0 {
		shape, err := t.columnShape(ctx, child, fk.ChildCols)
		if err != nil {
			return nil, err
		}
		w, drop, err := t.valuesTable(ctx, shape, written)
		if err != nil {
			return nil, err
		}
		// The written values are the child's own: plain equality finds
		// the rows holding them, through an index on the columns if any.
		match := make([]string, n)
		wrefers := make([]string, n)
		for i := range match {
			k := "w.k" + strconv.Itoa(i+1)
			match[i] = childCol(i) + " = " + k + " AND " + childCol(i) + " = " + k + " COLLATE BINARY AND typeof(" + childCol(i) + ") = typeof(" + k + ")"
			if parent != nil {
				wrefers[i] = "p." + QuoteIdent(fk.ParentCols[i]) + " = +" + k
			}
		}
		worphan := "1"
		if parent != nil {
			worphan = "NOT EXISTS (SELECT 1 FROM main." + QuoteIdent(parent.info.Name) + " p WHERE " + strings.Join(wrefers, " AND ") + ")"
		}
		// CROSS JOIN: from the values to the child, not the other way
		// round (the planner would scan the child for its GROUP BY).
		err = collect(head+" FROM temp."+QuoteIdent(w)+" w CROSS JOIN main."+QuoteIdent(child.info.Name)+" c ON "+strings.Join(match, " AND ")+" WHERE "+worphan, true)
		drop()
		if err != nil {
			return nil, fmt.Errorf("sqlite: looking for rows undo put back that refer to nothing: %w", err)
		}
	}
	if len(removed) > 0 {
		var q string
		if parent == nil {
			notNull := make([]string, n)
			for i := range notNull {
				notNull[i] = childCol(i) + " IS NOT NULL"
			}
			q = head + from + " WHERE " + strings.Join(notNull, " AND ")
		} else {
			pshape, err := t.columnShape(ctx, parent, fk.ParentCols)
			if err != nil {
				return nil, err
			}
			cshape, err := t.columnShape(ctx, child, fk.ChildCols)
			if err != nil {
				return nil, err
			}
			r, drop, err := t.valuesTable(ctx, pshape, removed)
			if err != nil {
				return nil, err
			}
			defer drop()
			on, join := refersTo("r"), " JOIN "
			if slices.Equal(pshape, cshape) {
				// Same affinity and collation: plain equality is the
				// lookup's comparison too, and finds the child's rows
				// through an index (or an automatic one) from the values.
				// Otherwise the child is read once.
				for i := range n {
					on += " AND " + childCol(i) + " = r.k" + strconv.Itoa(i+1)
				}
				join = " CROSS JOIN "
			}
			q = head + " FROM temp." + QuoteIdent(r) + " r" + join + "main." + QuoteIdent(child.info.Name) + " c ON " + on + " WHERE " + orphan
		}
		if err := collect(q, false); err != nil {
			return nil, fmt.Errorf("sqlite: looking for rows that refer to rows undo removed: %w", err)
		}
	}
	return out, nil
}

// valuesTable puts rows of values in a new TEMP table whose columns
// k1.. have the given shapes (affinity and collation), indexed; drop
// removes it.
func (t *tx) valuesTable(ctx context.Context, shape []string, rows [][]engine.Value) (name string, drop func(), err error) {
	cc := t.c.cc
	if name, err = t.freeTempName(ctx, refsTable); err != nil {
		return "", nil, err
	}
	defs := make([]string, len(shape))
	ks := make([]string, len(shape))
	params := make([]string, len(shape))
	for i, sh := range shape {
		ks[i] = "k" + strconv.Itoa(i+1)
		defs[i] = ks[i] + " " + sh
		params[i] = "?" + strconv.Itoa(i+1)
	}
	if err := cc.exec(ctx, "CREATE TEMP TABLE "+QuoteIdent(name)+" ("+strings.Join(defs, ", ")+")"); err != nil {
		return "", nil, fmt.Errorf("sqlite: %w", err)
	}
	drop = func() { cc.exec(context.WithoutCancel(ctx), "DROP TABLE temp."+QuoteIdent(name)) }
	if err := cc.exec(ctx, "CREATE INDEX temp."+QuoteIdent(name+"_k")+" ON "+QuoteIdent(name)+" ("+strings.Join(ks, ", ")+")"); err != nil {
		drop()
		return "", nil, fmt.Errorf("sqlite: %w", err)
	}
	ins := "INSERT INTO temp." + QuoteIdent(name) + " VALUES (" + strings.Join(params, ", ") + ")"
	if err := t.each(ctx, ins, rows, func(s *cstmt, _ int) error { _, err := s.step(); return err }); err != nil {
		drop()
		return "", nil, fmt.Errorf("sqlite: %w", err)
	}
	return name, drop, nil
}

// refsTable is the base name of the check's TEMP tables.
const refsTable = "lifebelt_undo_refs"

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

// columnShape renders, for columns of a table, a column definition tail
// with the same affinity and collation: "INTEGER COLLATE "BINARY"". The
// affinity follows from the declared type (section 3.1 of "Datatypes In
// SQLite"). The collation is the column's own, which SQLite's
// foreign-key lookup uses; SQL cannot read it, so it is found by
// comparing through the column: a compound SELECT's column takes the
// collation of its leftmost term's. Only the built-in collations can be
// told apart (a connection without an application's own collation
// cannot use a table declaring it anyway).
func (t *tx) columnShape(ctx context.Context, m *tableMeta, cols []string) ([]string, error) {
	out := make([]string, len(cols))
	for i, col := range cols {
		var decl string
		found := false
		for _, c := range m.info.Columns {
			if lowerASCII(c.Name) == lowerASCII(col) {
				decl, found = c.Type, true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("sqlite: %s has no column %q", m.info.Name, col)
		}
		probe := "(SELECT count(*) FROM (SELECT " + QuoteIdent(col) + " AS x FROM main." + QuoteIdent(m.info.Name) + " WHERE 0 UNION ALL SELECT 'a') WHERE x = "
		coll := "BINARY"
		err := t.c.cc.query(ctx, "SELECT "+probe+"'A'), "+probe+"'a  ')", nil, func(r []engine.Value) error {
			switch {
			case r[0].I == 1:
				coll = "NOCASE"
			case r[1].I == 1:
				coll = "RTRIM"
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("sqlite: reading the collation of %s.%s: %w", m.info.Name, col, err)
		}
		aff := affinity(decl)
		if m.strict && strings.EqualFold(strings.TrimSpace(decl), "ANY") {
			aff = "BLOB" // ANY in a STRICT table converts nothing
		}
		out[i] = aff + " COLLATE " + coll
	}
	return out, nil
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
