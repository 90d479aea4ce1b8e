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

// targetList parses "SELECT <list>" and returns the list, for RETURNING.
func targetList(sql string) ([]*pg_query.Node, error) {
	s, err := parseSelect(sql)
	if err != nil {
		return nil, err
	}
	return s.TargetList, nil
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

// deparseExact prints a rewritten statement and checks that printing lost
// nothing: the printed text must parse back to the same tree (locations
// aside, nested AND/OR flattened as the parser does). A statement the
// deparser cannot print faithfully is refused rather than run changed.
// It normalizes n in place: callers pass a tree they no longer need.
func deparseExact(n *pg_query.Node) (string, bool) {
	sql, err := deparse(n)
	if err != nil {
		return "", false
	}
	res, err := pg_query.Parse(sql)
	if err != nil || len(res.Stmts) != 1 {
		return "", false
	}
	a, b := n, res.Stmts[0].Stmt
	normalize(a.ProtoReflect())
	normalize(b.ProtoReflect())
	return sql, equalNodes(a, b)
}

func equalNodes(a, b *pg_query.Node) bool { return proto.Equal(a, b) }

// normalize clears locations and flattens nested AND/OR lists in place.
func normalize(m protoreflect.Message) {
	if be, ok := m.Interface().(*pg_query.BoolExpr); ok && be.Boolop != pg_query.BoolExprType_NOT_EXPR {
		var flat []*pg_query.Node
		var add func(ns []*pg_query.Node)
		add = func(ns []*pg_query.Node) {
			for _, a := range ns {
				if sub := a.GetBoolExpr(); sub != nil && sub.Boolop == be.Boolop {
					add(sub.Args)
					continue
				}
				flat = append(flat, a)
			}
		}
		add(be.Args)
		be.Args = flat
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.Name() == "location" || fd.Name() == "stmt_location" || fd.Name() == "stmt_len":
			m.Clear(fd)
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				normalize(l.Get(i).Message())
			}
		case fd.Message() != nil && !fd.IsMap():
			normalize(v.Message())
		}
		return true
	})
}
