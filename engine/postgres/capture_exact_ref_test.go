package postgres

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The reflection-based comparison sameTree replaced, kept as the reference
// the tests hold sameTree to.

// refDeparseExact is the former deparseExact: print, reparse, normalize
// both trees and proto.Equal them. It normalizes n in place.
func refDeparseExact(n *pg_query.Node) (string, bool) {
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
