package postgres

import (
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Rewriting works on parse trees: the user's clauses are copied verbatim
// from the parsed statement, Lifebelt's additions are parsed from small
// templates whose every name goes through quoteIdent, and pg_query's
// deparser (PostgreSQL's own grammar, inverted) prints the result.

// parseSelect parses a SELECT template.
func parseSelect(sql string) (*pg_query.SelectStmt, error) {
	res, err := pg_query.Parse(sql)
	if err != nil {
		return nil, fmt.Errorf("postgres: internal query template does not parse: %w", err)
	}
	if len(res.Stmts) != 1 || res.Stmts[0].Stmt.GetSelectStmt() == nil {
		return nil, fmt.Errorf("postgres: internal query template is not one SELECT")
	}
	return res.Stmts[0].Stmt.GetSelectStmt(), nil
}

// whereOf parses "SELECT 1 WHERE <cond>" and returns the condition.
func whereOf(cond string) (*pg_query.Node, error) {
	s, err := parseSelect("SELECT 1 WHERE " + cond)
	if err != nil {
		return nil, err
	}
	return s.WhereClause, nil
}

// and combines two conditions; either may be nil.
func and(a, b *pg_query.Node) *pg_query.Node {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return pg_query.MakeBoolExprNode(pg_query.BoolExprType_AND_EXPR, []*pg_query.Node{a, b}, -1)
}

// parseVersion is the parser's tree version, which Deparse requires.
var parseVersion = func() int32 {
	r, err := pg_query.Parse("SELECT 1")
	if err != nil {
		return 0
	}
	return r.GetVersion()
}()

func deparse(n *pg_query.Node) (string, error) {
	s, err := pg_query.Deparse(&pg_query.ParseResult{Version: parseVersion, Stmts: []*pg_query.RawStmt{{Stmt: n}}})
	if err != nil {
		return "", fmt.Errorf("postgres: printing the rewritten statement: %w", err)
	}
	return s, nil
}

func clone[T proto.Message](m T) T {
	if !m.ProtoReflect().IsValid() {
		return m // a nil message
	}
	return proto.Clone(m).(T)
}

func cloneList(ns []*pg_query.Node) []*pg_query.Node {
	out := make([]*pg_query.Node, len(ns))
	for i, n := range ns {
		out[i] = clone(n)
	}
	return out
}

func rangeVarNode(rv *pg_query.RangeVar) *pg_query.Node {
	return &pg_query.Node{Node: &pg_query.Node_RangeVar{RangeVar: rv}}
}

func selectNode(s *pg_query.SelectStmt) *pg_query.Node {
	return &pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: s}}
}

// Lifebelt's additions to a statement (helper columns, join conditions,
// RETURNING lists) are built as trees directly rather than parsed from
// templates: a name is the plain string of a String node, never SQL text,
// so no quoting is involved, and each shape is the one the parser gives
// the equivalent SQL (TestBuiltNodesMatchParser holds them to it). The
// whole rewritten statement still goes through deparseExact.

// colRef is a column reference a.b (or a lone a: a whole-row reference).
func colRef(names ...string) *pg_query.Node {
	fields := make([]*pg_query.Node, len(names))
	for i, n := range names {
		fields[i] = pg_query.MakeStrNode(n)
	}
	return &pg_query.Node{Node: &pg_query.Node_ColumnRef{ColumnRef: &pg_query.ColumnRef{Fields: fields, Location: -1}}}
}

// colStar is rel.*.
func colStar(rel string) *pg_query.Node {
	return &pg_query.Node{Node: &pg_query.Node_ColumnRef{ColumnRef: &pg_query.ColumnRef{
		Fields: []*pg_query.Node{pg_query.MakeStrNode(rel), {Node: &pg_query.Node_AStar{AStar: &pg_query.A_Star{}}}}, Location: -1}}}
}

// rowStar is (rel.col).*.
func rowStar(rel, col string) *pg_query.Node {
	return &pg_query.Node{Node: &pg_query.Node_AIndirection{AIndirection: &pg_query.A_Indirection{
		Arg: colRef(rel, col), Indirection: []*pg_query.Node{{Node: &pg_query.Node_AStar{AStar: &pg_query.A_Star{}}}}}}}
}

// resTarget is an item of a target or RETURNING list, "val AS name"
// (name empty: no AS).
func resTarget(val *pg_query.Node, name string) *pg_query.Node {
	return &pg_query.Node{Node: &pg_query.Node_ResTarget{ResTarget: &pg_query.ResTarget{Name: name, Val: val, Location: -1}}}
}

// eqExpr is l = r.
func eqExpr(l, r *pg_query.Node) *pg_query.Node {
	return &pg_query.Node{Node: &pg_query.Node_AExpr{AExpr: &pg_query.A_Expr{Kind: pg_query.A_Expr_Kind_AEXPR_OP,
		Name: []*pg_query.Node{pg_query.MakeStrNode("=")}, Lexpr: l, Rexpr: r, Location: -1}}}
}

// newSelect is a plain SELECT, with the fields the parser sets on one.
func newSelect(targets []*pg_query.Node, from ...*pg_query.Node) *pg_query.SelectStmt {
	return &pg_query.SelectStmt{TargetList: targets, FromClause: from,
		LimitOption: pg_query.LimitOption_LIMIT_OPTION_DEFAULT, Op: pg_query.SetOperation_SETOP_NONE}
}

// rowsTargets is "ref.tableoid AS toid, ref.ctid AS ctid, ref.*".
func rowsTargets(ref string, names helperNames) []*pg_query.Node {
	return []*pg_query.Node{
		resTarget(colRef(ref, "tableoid"), names.name("toid")),
		resTarget(colRef(ref, "ctid"), names.name("ctid")),
		resTarget(colStar(ref), ""),
	}
}

// shallow copies a message's fields but not what they point to: the copy
// shares the original's sub-trees and lists, which neither may change
// afterwards (rewrites replace a list, never append to it in place). It
// copies every field the message has, including ones added by a newer
// pg_query, as proto.Clone would.
func shallow[T proto.Message](m T) T {
	src := m.ProtoReflect()
	dst := src.New()
	src.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		dst.Set(fd, v)
		return true
	})
	return dst.Interface().(T)
}

// refName is how the statement refers to its target: the alias, else the
// bare relation name (a schema-qualified target is still referred to by
// its bare name).
func refName(rv *pg_query.RangeVar) string {
	if rv.Alias != nil && rv.Alias.Aliasname != "" {
		return rv.Alias.Aliasname
	}
	return rv.Relname
}

// helperNames are the aliases and column names capture adds to a
// statement. Their prefix appears nowhere in the statement and starts no
// column name of the tables involved, so they cannot capture or shadow a
// user's reference.
type helperNames struct{ p string }

func chooseNames(text string, rels ...*relation) helperNames {
	lower := strings.ToLower(text)
	for i := 0; ; i++ {
		p := "lb_"
		if i > 0 {
			p = fmt.Sprintf("lb%d_", i)
		}
		if strings.Contains(lower, p) || columnsStartWith(p, rels) {
			continue
		}
		return helperNames{p}
	}
}

func columnsStartWith(p string, rels []*relation) bool {
	for _, r := range rels {
		for _, c := range r.info.Columns {
			if strings.HasPrefix(strings.ToLower(c.Name), p) {
				return true
			}
		}
	}
	return false
}

func (h helperNames) name(s string) string { return h.p + s }

// isCurrentOf reports WHERE CURRENT OF cursor.
func isCurrentOf(where *pg_query.Node) bool { return where.GetCurrentOfExpr() != nil }

// columnList renders quoted columns qualified by alias: a."x", a."y".
func columnList(alias string, cols []string) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = alias + "." + quoteIdent(c)
	}
	return strings.Join(parts, ", ")
}
