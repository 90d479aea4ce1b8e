package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	pg_query "github.com/pganalyze/pg_query_go/v6"

	"lifebelt/engine"
)

// dmlTarget resolves the statement's target table and says why it cannot
// be imaged, if it cannot.
func (e *execution) dmlTarget(ctx context.Context, rv *pg_query.RangeVar) (*relation, string, error) {
	r, ok, err := e.x.resolveTable(ctx, rangeVarName(rv))
	if err != nil {
		return nil, "", err
	}
	if !ok {
		return nil, "", fmt.Errorf("postgres: relation %s does not exist", quoteQualified(rv.Schemaname, rv.Relname))
	}
	switch relkind := r.relkind; relkind {
	case 'r', 'p':
	case 'v':
		return nil, "it changes a view; Lifebelt images the rows of tables only", nil
	case 'f':
		return nil, "it changes a foreign table, whose rows live on another server", nil
	default:
		return nil, fmt.Sprintf("it changes a relation of kind %q, not a table", relkind), nil
	}
	name := r.info.QualifiedName()
	switch {
	case r.hasRules:
		return nil, fmt.Sprintf("%s has rewrite rules, which may turn the statement into others", name), nil
	case r.inhChildren && rv.Inh:
		return nil, fmt.Sprintf("%s has inheritance children whose rows the statement also changes; write ONLY %s to change the table's own rows", name, name), nil
	case r.foreignLeaf:
		return nil, fmt.Sprintf("a partition of %s is a foreign table", name), nil
	}
	return r, "", nil
}

// dmlChecks are the refusals shared by UPDATE and DELETE.
func dmlChecks(where *pg_query.Node, with *pg_query.WithClause) string {
	switch {
	case isCurrentOf(where):
		return "WHERE CURRENT OF a cursor is not imaged"
	case modifyingCTE(with) != nil:
		return "its WITH query changes data too"
	}
	return ""
}

// delete runs DELETE ... RETURNING <target>.* and streams each returned row
// as a before-image; a user's RETURNING list is replaced.
func (e *execution) delete(ctx context.Context, d *pg_query.DeleteStmt) (engine.Result, error) {
	if why := dmlChecks(d.WhereClause, d.WithClause); why != "" {
		return e.unguarded(ctx, why)
	}
	t, why, err := e.dmlTarget(ctx, d.Relation)
	if err != nil {
		return engine.Result{}, err
	}
	if why != "" {
		return e.unguarded(ctx, why)
	}
	plan, why, err := e.planDelete(ctx, t)
	if err != nil {
		return engine.Result{}, err
	}
	if why != "" {
		return e.unguarded(ctx, why)
	}
	rels := []*relation{t}
	for _, r := range plan.rels {
		rels = append(rels, r)
	}
	plan.names = chooseNames(e.st.Text, rels...)
	e.x.expectChanges(rels...)

	// The rows the statement deletes, as a query: the same target (alias,
	// ONLY), USING items, WHERE and WITH.
	var src string
	if !plan.empty() {
		sel := &pg_query.SelectStmt{
			TargetList:  rowsTargets(refName(d.Relation), plan.names),
			FromClause:  append([]*pg_query.Node{rangeVarNode(clone(d.Relation))}, cloneList(d.UsingClause)...),
			WhereClause: clone(d.WhereClause),
			WithClause:  clone(d.WithClause),
		}
		if src, err = deparse(selectNode(sel)); err != nil {
			return engine.Result{}, err
		}
		plan.exclude = src
	}

	rw := shallow(d)
	if len(rw.ReturningList) > 0 {
		e.sink.Warn("the statement's RETURNING list was replaced by Lifebelt's to capture the deleted rows; its rows are not shown")
	}
	rw.ReturningList = []*pg_query.Node{resTarget(colStar(refName(d.Relation)), "")}
	sql, exact := exactSQL(&pg_query.Node{Node: &pg_query.Node_DeleteStmt{DeleteStmt: rw}},
		withReturning(e.st.Text, len(d.ReturningList) > 0, quoteIdent(refName(d.Relation))+".*"))
	if !exact {
		return e.unguarded(ctx, "the statement could not be rewritten exactly to capture its rows")
	}

	var before counts
	if !plan.empty() {
		// Counted before the capture, which evaluates the statement's
		// WHERE (and any function it calls) once more.
		if before, err = e.x.counters(ctx); err != nil {
			return engine.Result{}, err
		}
		if err := plan.capture(ctx, func(fkEdge) (string, error) { return src, nil }); err != nil {
			return engine.Result{}, err
		}
	}
	h, err := e.table(t, 0)
	if err != nil {
		return engine.Result{}, err
	}
	var n int64
	change := e.imageStep(sql, t, h, engine.OpDelete, &n)
	before, after, err := e.x.counted(ctx, change, before)
	if err != nil {
		return engine.Result{}, e.x.c.wrap("deleting from "+t.info.QualifiedName(), err)
	}
	tag := change.tag
	want := plan.expects([]*expect{{rel: t, del: n}})
	if err := e.verify(ctx, before, after, want, t, "DELETE"); err != nil {
		return engine.Result{}, err
	}
	if err := plan.finish(ctx); err != nil {
		return engine.Result{}, err
	}
	return engine.Result{RowsAffected: tag.RowsAffected()}, nil
}

// insert runs INSERT ... RETURNING <target>.* and streams each returned
// row as an after-image. ON CONFLICT DO NOTHING returns exactly the rows
// inserted; ON CONFLICT DO UPDATE is handled by upsert.
func (e *execution) insert(ctx context.Context, ins *pg_query.InsertStmt) (engine.Result, error) {
	if modifyingCTE(ins.WithClause) != nil {
		return e.unguarded(ctx, "its WITH query changes data too")
	}
	t, why, err := e.dmlTarget(ctx, ins.Relation)
	if err != nil {
		return engine.Result{}, err
	}
	if why != "" {
		return e.unguarded(ctx, why)
	}
	if oc := ins.OnConflictClause; oc != nil && oc.Action == pg_query.OnConflictAction_ONCONFLICT_UPDATE {
		return e.upsert(ctx, ins, t)
	}
	rw := shallow(ins)
	if len(rw.ReturningList) > 0 {
		e.sink.Warn("the statement's RETURNING list was replaced by Lifebelt's to capture the inserted rows; its rows are not shown")
	}
	rw.ReturningList = []*pg_query.Node{resTarget(colStar(refName(ins.Relation)), "")}
	sql, exact := exactSQL(&pg_query.Node{Node: &pg_query.Node_InsertStmt{InsertStmt: rw}},
		withReturning(e.st.Text, len(ins.ReturningList) > 0, quoteIdent(refName(ins.Relation))+".*"))
	if !exact {
		return e.unguarded(ctx, "the statement could not be rewritten exactly to capture its rows")
	}
	h, err := e.table(t, 0)
	if err != nil {
		return engine.Result{}, err
	}
	var n int64
	e.x.expectChanges(t)
	change := e.imageStep(sql, t, h, engine.OpInsert, &n)
	before, after, err := e.x.counted(ctx, change, nil)
	if err != nil {
		return engine.Result{}, e.x.c.wrap("inserting into "+t.info.QualifiedName(), err)
	}
	tag := change.tag
	if err := e.verify(ctx, before, after, []*expect{{rel: t, ins: n}}, t, "INSERT"); err != nil {
		return engine.Result{}, err
	}
	return engine.Result{RowsAffected: tag.RowsAffected()}, nil
}

// imageStep runs sql, whose result rows are whole rows of t, and streams
// each one as a before-image (OpDelete) or after-image (OpInsert),
// counting them in n.
func (e *execution) imageStep(sql string, t *relation, h int64, op engine.Op, n *int64) *step {
	var vals []engine.Value
	return &step{sql: sql, rows: func(_ []pgconn.FieldDescription, row [][]byte) error {
		if len(row) != len(t.info.Columns) {
			return fmt.Errorf("postgres: capturing rows of %s: expected %d columns, got %d", t.info.QualifiedName(), len(t.info.Columns), len(row))
		}
		*n++
		vals = rawToValues(row, vals)
		if op == engine.OpInsert {
			return e.sink.Row(h, op, nil, vals)
		}
		return e.sink.Row(h, op, vals, nil)
	}}
}
