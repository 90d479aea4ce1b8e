package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"lifebelt/engine"
)

// Undoing ALTER COLUMN ... TYPE: only where every value there converts to
// the new type and back unchanged (counted before the ALTER runs), by
// casts that depend on nothing but the value; undo changes the type back
// with the old type's cast, and counts first the values written since
// that the old type cannot hold exactly.

// castType renders a type name as a cast would spell it (SELECT NULL::T),
// or false when the deparser does not print it faithfully.
func castType(tn *pg_query.TypeName) (string, bool) {
	if tn == nil {
		return "", false
	}
	tree, err := pg_query.Parse("SELECT NULL::int")
	if err != nil {
		return "", false
	}
	tc := tree.Stmts[0].Stmt.GetSelectStmt().TargetList[0].GetResTarget().Val.GetTypeCast()
	tc.TypeName = proto.Clone(tn).(*pg_query.TypeName)
	sql, ok := deparseExact(tree.Stmts[0].Stmt)
	if !ok || !strings.HasPrefix(sql, "SELECT NULL::") {
		return "", false
	}
	return strings.TrimPrefix(sql, "SELECT NULL::"), true
}

// roundTripQuery counts the rows of rel whose value in column col, of
// type from, does not come back the same through type to (compared as
// text in "C").
func roundTripQuery(rel, col, from, to string) string {
	c := "x." + quoteIdent(col)
	return "SELECT count(*) FROM ONLY " + rel + " AS x WHERE ((" + c + "::" + to + ")::" + from + ")::text COLLATE \"C\" IS DISTINCT FROM (" + c + "::text) COLLATE \"C\""
}

// typesConvertBack reports, before ALTER TABLE s runs on rel (settings
// st), whether every value in each column whose type it changes comes
// back the same when converted to the new type and back: only then does
// changing the type back undo it. The count runs in a savepoint: a
// value the cast refuses makes it false.
func (x *pgTx) typesConvertBack(ctx context.Context, s *pg_query.AlterTableStmt, rel string, st tableSettings) (bool, error) {
	for _, n := range s.Cmds {
		c := n.GetAlterTableCmd()
		if c == nil || c.Subtype != pg_query.AlterTableType_AT_AlterColumnType {
			continue
		}
		to, ok := castType(c.GetDef().GetColumnDef().GetTypeName())
		if !ok {
			return false, nil
		}
		from := ""
		for _, col := range st.cols {
			if col.name == c.Name {
				from = col.typ
			}
		}
		if from == "" {
			return false, nil // it fails, or the name is spelled otherwise
		}
		n, err := x.Count(ctx, roundTripQuery(rel, c.Name, from, to))
		var cf *engine.CheckFailed
		if errors.As(err, &cf) {
			return false, nil
		}
		if err != nil || n > 0 {
			return false, err
		}
	}
	return true, nil
}

// castsPure reports whether each column whose type differs between
// settings a and b converts both ways by a cast that depends on nothing
// but the value (binary, or an immutable function; through text only by
// immutable output and input functions): a conversion that depends on
// the session's time zone or date style would not give the values back.
func castsPure(ctx context.Context, q querier, a, b tableSettings) (bool, error) {
	if len(a.cols) != len(b.cols) {
		return false, nil
	}
	for i, ca := range a.cols {
		cb := b.cols[i]
		if ca.typOID == cb.typOID {
			continue
		}
		for _, pair := range [][2]uint32{{ca.typOID, cb.typOID}, {cb.typOID, ca.typOID}} {
			var pure bool
			err := q.QueryRow(ctx, `SELECT coalesce((SELECT CASE c.castmethod WHEN 'b' THEN true
						WHEN 'f' THEN (SELECT p.provolatile = 'i' FROM pg_catalog.pg_proc p WHERE p.oid = c.castfunc)
						ELSE (SELECT o.provolatile = 'i' AND i.provolatile = 'i' FROM pg_catalog.pg_type s, pg_catalog.pg_type t,
							pg_catalog.pg_proc o, pg_catalog.pg_proc i WHERE s.oid = $1 AND t.oid = $2 AND o.oid = s.typoutput AND i.oid = t.typinput) END
					FROM pg_catalog.pg_cast c WHERE c.castsource = $1 AND c.casttarget = $2),
				(SELECT (s.typcategory = 'S' OR t.typcategory = 'S') AND o.provolatile = 'i' AND i.provolatile = 'i'
					FROM pg_catalog.pg_type s, pg_catalog.pg_type t, pg_catalog.pg_proc o, pg_catalog.pg_proc i
					WHERE s.oid = $1 AND t.oid = $2 AND o.oid = s.typoutput AND i.oid = t.typinput), false)`, pair[0], pair[1]).Scan(&pure)
			if err != nil {
				return false, fmt.Errorf("reading the casts between types %d and %d: %w", pair[0], pair[1], err)
			}
			if !pure {
				return false, nil
			}
		}
	}
	return true, nil
}
