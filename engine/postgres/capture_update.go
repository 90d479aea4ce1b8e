package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	pg_query "github.com/pganalyze/pg_query_go/v6"

	"lifebelt/engine"
)

// update captures old and new values in one statement. Up to PostgreSQL 17
// RETURNING shows only new values, so the target is joined, by tableoid and
// ctid, to a subselect of its own rows:
//
//	UPDATE t AS a SET ... FROM (SELECT s.tableoid, s.ctid, s AS row FROM t AS s) AS lb_old, <user FROM>
//	WHERE a.ctid = lb_old.ctid AND a.tableoid = lb_old.tableoid AND (<user WHERE>)
//	RETURNING lb_old.tableoid, a.tableoid, (lb_old.row).*, a.*
//
// The subselect reads the same snapshot as the UPDATE, and a ctid names one
// row version, so each returned pair is exactly the version the statement
// replaced and its replacement. A row another session changed after the
// snapshot makes the UPDATE fail under REPEATABLE READ rather than differ.
func (e *execution) update(ctx context.Context, u *pg_query.UpdateStmt) (engine.Result, error) {
	if why := dmlChecks(u.WhereClause, u.WithClause); why != "" {
		return e.unguarded(ctx, why)
	}
	t, why, err := e.dmlTarget(ctx, u.Relation)
	if err != nil {
		return engine.Result{}, err
	}
	if why != "" {
		return e.unguarded(ctx, why)
	}
	sets := map[string]*pg_query.ResTarget{}
	setCols := map[string]bool{}
	for _, n := range u.TargetList {
		if rt := n.GetResTarget(); rt != nil {
			sets[rt.Name] = rt
			setCols[rt.Name] = true
		}
	}
	plan, why, err := e.planUpdate(ctx, t, setCols)
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
	names := chooseNames(e.st.Text, rels...)
	e.x.expectChanges(rels...)
	plan.names = names
	if len(u.ReturningList) > 0 {
		e.sink.Warn("the statement's RETURNING list was replaced by Lifebelt's to capture the updated rows; its rows are not shown")
	}
	rw := updateRewrite(u, names)
	sql, exact := exactSQL(&pg_query.Node{Node: &pg_query.Node_UpdateStmt{UpdateStmt: rw}}, spliceUpdate(e.st.Text, u, names))
	if !exact {
		return e.unguarded(ctx, "the statement could not be rewritten exactly to capture its rows")
	}

	var src func(fkEdge) (string, error)
	if !plan.empty() {
		if src, why = e.rekeyedRows(u, sets, names, plan); why != "" {
			return e.unguarded(ctx, why)
		}
	}
	var before counts
	if !plan.empty() {
		if before, err = e.x.counters(ctx); err != nil {
			return engine.Result{}, err
		}
		if err := plan.capture(ctx, src); err != nil {
			return engine.Result{}, err
		}
	}
	h, err := e.table(t, 0)
	if err != nil {
		return engine.Result{}, err
	}
	ncol := len(t.info.Columns)
	var changes int64
	var oldVals, newVals []engine.Value
	change := &step{sql: sql, rows: func(_ []pgconn.FieldDescription, row [][]byte) error {
		if len(row) != 2+2*ncol {
			return fmt.Errorf("postgres: capturing rows of %s: expected %d columns, got %d", t.info.QualifiedName(), 2+2*ncol, len(row))
		}
		changes++
		if string(row[0]) != string(row[1]) {
			changes++ // moved to another partition: a delete there, an insert here
		}
		oldVals = rawToValues(row[2:2+ncol], oldVals)
		newVals = rawToValues(row[2+ncol:], newVals)
		return e.sink.Row(h, engine.OpUpdate, oldVals, newVals)
	}}
	before, after, err := e.x.counted(ctx, change, before)
	if err != nil {
		return engine.Result{}, e.x.c.wrap("updating "+t.info.QualifiedName(), err)
	}
	tag := change.tag
	want := plan.expects([]*expect{{rel: t, upd: changes}})
	if err := e.verify(ctx, before, after, want, t, "UPDATE"); err != nil {
		return engine.Result{}, err
	}
	if err := plan.finish(ctx); err != nil {
		return engine.Result{}, err
	}
	return engine.Result{RowsAffected: tag.RowsAffected()}, nil
}

// updateRewrite is the statement update runs: u with the subselect of old
// rows first in FROM, the join to it added to WHERE and Lifebelt's
// RETURNING list. u itself is not changed.
func updateRewrite(u *pg_query.UpdateStmt, names helperNames) *pg_query.UpdateStmt {
	ref := refName(u.Relation)
	self, old := names.name("self"), names.name("old")
	toid, ctid, row := names.name("toid"), names.name("ctid"), names.name("row")
	// SELECT self.tableoid AS toid, self.ctid AS ctid, self AS row FROM <target> AS self
	target := shallow(u.Relation)
	target.Alias = &pg_query.Alias{Aliasname: self}
	sub := newSelect([]*pg_query.Node{
		resTarget(colRef(self, "tableoid"), toid),
		resTarget(colRef(self, "ctid"), ctid),
		resTarget(colRef(self), row),
	}, rangeVarNode(target))
	oldRows := &pg_query.RangeSubselect{Subquery: selectNode(sub), Alias: &pg_query.Alias{Aliasname: old}}
	rw := shallow(u)
	rw.FromClause = append([]*pg_query.Node{{Node: &pg_query.Node_RangeSubselect{RangeSubselect: oldRows}}}, u.FromClause...)
	// ref.ctid = old.ctid AND ref.tableoid = old.toid
	join := pg_query.MakeBoolExprNode(pg_query.BoolExprType_AND_EXPR, []*pg_query.Node{
		eqExpr(colRef(ref, "ctid"), colRef(old, ctid)),
		eqExpr(colRef(ref, "tableoid"), colRef(old, toid)),
	}, -1)
	rw.WhereClause = and(join, u.WhereClause)
	// RETURNING old.toid, ref.tableoid, (old.row).*, ref.*
	rw.ReturningList = []*pg_query.Node{
		resTarget(colRef(old, toid), ""),
		resTarget(colRef(ref, "tableoid"), ""),
		resTarget(rowStar(old, row), ""),
		resTarget(colStar(ref), ""),
	}
	return rw
}

// rekeyedRows returns, per foreign key, a query selecting the target rows
// whose referenced columns the UPDATE changes: the statement's own target,
// FROM items, WHERE and WITH, plus "(old key) IS DISTINCT FROM (new key)"
// with each new value taken from the SET list.
func (e *execution) rekeyedRows(u *pg_query.UpdateStmt, sets map[string]*pg_query.ResTarget, names helperNames, plan *cascade) (func(fkEdge) (string, error), string) {
	for _, edges := range plan.edges {
		for _, edge := range edges {
			for _, c := range edge.fk.ParentCols {
				if rt, ok := sets[c]; ok && (rt.Val.GetMultiAssignRef() != nil || rt.Val.GetSetToDefault() != nil || len(rt.Indirection) > 0) {
					return nil, fmt.Sprintf("it sets referenced column %s with a multiple-column assignment, DEFAULT or a subscript, so Lifebelt cannot tell which rows change their key", c)
				}
			}
		}
	}
	ref := quoteIdent(refName(u.Relation))
	return func(edge fkEdge) (string, error) {
		var old, placeholders []string
		for _, c := range edge.fk.ParentCols {
			old = append(old, ref+"."+quoteIdent(c))
			placeholders = append(placeholders, "NULL")
		}
		cond, err := whereOf(fmt.Sprintf("ROW(%s) IS DISTINCT FROM ROW(%s)", strings.Join(old, ", "), strings.Join(placeholders, ", ")))
		if err != nil {
			return "", err
		}
		newRow := cond.GetAExpr().GetRexpr().GetRowExpr()
		oldRow := cond.GetAExpr().GetLexpr().GetRowExpr()
		if newRow == nil || oldRow == nil {
			return "", fmt.Errorf("postgres: internal template did not parse as a row comparison")
		}
		for i, c := range edge.fk.ParentCols {
			rt, ok := sets[c]
			switch {
			case !ok:
				newRow.Args[i] = clone(oldRow.Args[i])
			default:
				newRow.Args[i] = clone(rt.Val)
			}
		}
		sel := &pg_query.SelectStmt{
			TargetList:  rowsTargets(refName(u.Relation), names),
			FromClause:  append([]*pg_query.Node{rangeVarNode(clone(u.Relation))}, cloneList(u.FromClause)...),
			WhereClause: and(clone(u.WhereClause), cond),
			WithClause:  clone(u.WithClause),
		}
		return deparse(selectNode(sel))
	}, ""
}
