package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	pg_query "github.com/pganalyze/pg_query_go/v6"

	"lifebelt/engine"
)

// maxUpsertConflicts bounds the existing rows an upsert's before-images
// may hold in memory (they are paired with after-images as rows return).
const maxUpsertConflicts = 100000

// upsert captures INSERT ... ON CONFLICT (cols) DO UPDATE exactly:
//
//  1. Before it runs, select the existing rows whose conflict columns equal
//     a candidate row's (the statement's VALUES or SELECT, evaluated
//     against the same snapshot), keyed by those columns.
//  2. Run it with RETURNING <target>.*; a returned row whose conflict key
//     was selected in 1 was updated (before-image from 1), any other was
//     inserted.
//  3. The server's counters must show exactly as many inserts and updates.
//
// Under REPEATABLE READ, a conflicting row that another session inserted or
// changed after the snapshot makes the statement fail instead. Shapes
// where step 1 cannot find the same rows the server's arbiter finds (an
// expression or partial-index arbiter without its predicate, a conflict
// column filled by its default, DO UPDATE changing the conflict columns or
// a referenced key) are refused as unguarded.
func (e *execution) upsert(ctx context.Context, ins *pg_query.InsertStmt, t *relation) (engine.Result, error) {
	arbiter, why, err := e.arbiterColumns(ctx, ins.OnConflictClause.Infer, t)
	if err != nil {
		return engine.Result{}, err
	}
	if why != "" {
		return e.unguarded(ctx, why)
	}
	insCols := make([]string, 0, len(t.info.Columns))
	if len(ins.Cols) > 0 {
		for _, c := range ins.Cols {
			insCols = append(insCols, c.GetResTarget().GetName())
		}
	} else {
		for _, c := range t.info.Columns {
			insCols = append(insCols, c.Name)
		}
	}
	colPos := map[string]int{}
	for i, c := range insCols {
		colPos[c] = i
	}
	tablePos := map[string]int{}
	for i, c := range t.info.Columns {
		tablePos[c.Name] = i
	}
	setCols := map[string]bool{}
	for _, n := range ins.OnConflictClause.TargetList {
		setCols[n.GetResTarget().GetName()] = true
	}
	for _, a := range arbiter {
		if _, ok := colPos[a]; !ok {
			return e.unguarded(ctx, fmt.Sprintf("conflict column %s is not in the insert list, so its value comes from a default Lifebelt cannot predict", a))
		}
		if setCols[a] {
			return e.unguarded(ctx, fmt.Sprintf("DO UPDATE changes conflict column %s", a))
		}
		if _, ok := tablePos[a]; !ok {
			return engine.Result{}, fmt.Errorf("postgres: %s has no column %s", t.info.QualifiedName(), a)
		}
	}
	for _, fk := range t.fks {
		if (fk.OnUpdate == 'c' || fk.OnUpdate == 'n' || fk.OnUpdate == 'd') && anyIn(fk.ParentCols, setCols) {
			return e.unguarded(ctx, "DO UPDATE changes a key that foreign-key actions follow")
		}
	}
	src := ins.SelectStmt.GetSelectStmt()
	if src == nil {
		return e.unguarded(ctx, "an upsert without a VALUES list or SELECT is not imaged")
	}
	names := chooseNames(e.st.Text, t)
	pre, err := e.conflictQuery(ins, t, src, arbiter, colPos, names)
	if err != nil {
		return e.unguarded(ctx, "its conflicting rows could not be selected in advance")
	}
	rw := shallow(ins)
	if len(rw.ReturningList) > 0 {
		e.sink.Warn("the statement's RETURNING list was replaced by Lifebelt's to capture the changed rows; its rows are not shown")
	}
	rw.ReturningList = []*pg_query.Node{resTarget(colStar(refName(ins.Relation)), "")}
	sql, exact := exactSQL(&pg_query.Node{Node: &pg_query.Node_InsertStmt{InsertStmt: rw}},
		withReturning(e.st.Text, len(ins.ReturningList) > 0, quoteIdent(refName(ins.Relation))+".*"))
	if !exact {
		return e.unguarded(ctx, "the statement could not be rewritten exactly to capture its rows")
	}

	key := func(row []engine.Value) string {
		vals := make([]engine.Value, len(arbiter))
		for i, a := range arbiter {
			vals[i] = row[tablePos[a]]
		}
		return keyString(vals)
	}
	existing := map[string][]engine.Value{}
	over := false
	if _, err := e.x.stream(ctx, pre, func(_ []pgconn.FieldDescription, row [][]byte) error {
		if len(existing) >= maxUpsertConflicts {
			over = true
			return nil
		}
		v := rawToValues(row, nil)
		existing[key(v)] = v
		return nil
	}); err != nil {
		return engine.Result{}, e.x.c.wrap("selecting the rows an upsert on "+t.info.QualifiedName()+" may update", err)
	}
	if over {
		return e.unguarded(ctx, fmt.Sprintf("more than %d existing rows may be updated", maxUpsertConflicts))
	}

	h, err := e.table(t, 0)
	if err != nil {
		return engine.Result{}, err
	}
	var nIns, nUpd int64
	var vals []engine.Value
	change := &step{sql: sql, rows: func(_ []pgconn.FieldDescription, row [][]byte) error {
		if len(row) != len(t.info.Columns) {
			return fmt.Errorf("postgres: capturing rows of %s: expected %d columns, got %d", t.info.QualifiedName(), len(t.info.Columns), len(row))
		}
		vals = rawToValues(row, vals)
		k := key(vals)
		if old, ok := existing[k]; ok {
			delete(existing, k)
			nUpd++
			return e.sink.Row(h, engine.OpUpdate, old, vals)
		}
		nIns++
		return e.sink.Row(h, engine.OpInsert, nil, vals)
	}}
	e.x.expectChanges(t)
	before, after, err := e.x.counted(ctx, change, nil)
	if err != nil {
		return engine.Result{}, e.x.c.wrap("upserting into "+t.info.QualifiedName(), err)
	}
	tag := change.tag
	if err := e.verify(ctx, before, after, []*expect{{rel: t, ins: nIns, upd: nUpd, byKind: true}}, t, "INSERT"); err != nil {
		return engine.Result{}, err
	}
	return engine.Result{RowsAffected: tag.RowsAffected()}, nil
}

// arbiterColumns names the conflict target's columns: ON CONSTRAINT's, or
// an inference list of plain columns.
func (e *execution) arbiterColumns(ctx context.Context, inf *pg_query.InferClause, t *relation) ([]string, string, error) {
	if inf == nil {
		return nil, "ON CONFLICT DO UPDATE without a conflict target", nil
	}
	if inf.Conname != "" {
		var cols []string
		err := e.x.tx.QueryRow(ctx, `SELECT ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY AS u(n, o)
				JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.o)
			FROM pg_catalog.pg_constraint k WHERE k.conrelid = $1 AND k.conname = $2 AND k.contype IN ('p', 'u')`,
			t.oid, inf.Conname).Scan(&cols)
		if err != nil || len(cols) == 0 {
			return nil, fmt.Sprintf("constraint %s is not a primary key or unique constraint of %s that Lifebelt can read", inf.Conname, t.info.QualifiedName()), nil
		}
		return cols, "", nil
	}
	var cols []string
	for _, n := range inf.IndexElems {
		ie := n.GetIndexElem()
		if ie == nil || ie.Name == "" || ie.Expr != nil || len(ie.Collation) > 0 || len(ie.Opclass) > 0 {
			return nil, "its conflict target uses an expression, collation or operator class", nil
		}
		cols = append(cols, ie.Name)
	}
	return cols, "", nil
}

// conflictQuery selects the existing rows of t whose conflict columns equal
// a candidate row's. The candidates are the statement's own VALUES or
// SELECT (under its WITH), each conflict column cast to the column's type.
func (e *execution) conflictQuery(ins *pg_query.InsertStmt, t *relation, src *pg_query.SelectStmt, arbiter []string, colPos map[string]int, names helperNames) (string, error) {
	cand := clone(src)
	// DEFAULT is allowed only directly in INSERT ... VALUES; as a
	// candidate it is never a conflict column (refused above), so NULL
	// stands in for it.
	for _, l := range cand.ValuesLists {
		for i, v := range l.GetList().GetItems() {
			if v.GetSetToDefault() != nil {
				l.GetList().Items[i] = &pg_query.Node{Node: &pg_query.Node_AConst{AConst: &pg_query.A_Const{Isnull: true}}}
			}
		}
	}
	candSQL, err := deparse(selectNode(cand))
	if err != nil {
		return "", err
	}
	xa, sa := quoteIdent(names.name("x")), quoteIdent(names.name("s"))
	var tcols, ccols, aliases []string
	for i := range colPos {
		_ = i
	}
	for i := 0; i < len(colPos); i++ {
		aliases = append(aliases, quoteIdent(names.name(fmt.Sprintf("c%d", i))))
	}
	for _, a := range arbiter {
		tcols = append(tcols, xa+"."+quoteIdent(a))
		typ := ""
		for _, c := range t.info.Columns {
			if c.Name == a {
				typ = c.Type
			}
		}
		ccols = append(ccols, fmt.Sprintf("CAST(%s.%s AS %s)", sa, aliases[colPos[a]], typ))
	}
	sel, err := parseSelect(fmt.Sprintf("SELECT %[1]s.* FROM %[2]s AS %[1]s WHERE (%[3]s) IN (SELECT %[4]s FROM (%[5]s) AS %[6]s(%[7]s))",
		xa, t.scan(), strings.Join(tcols, ", "), strings.Join(ccols, ", "), candSQL, sa, strings.Join(aliases, ", ")))
	if err != nil {
		return "", err
	}
	if inf := ins.OnConflictClause.Infer; inf.WhereClause != nil {
		sel.WhereClause = and(sel.WhereClause, clone(inf.WhereClause))
	}
	sel.WithClause = clone(ins.WithClause)
	return deparse(selectNode(sel))
}
