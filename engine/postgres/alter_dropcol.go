package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"lifebelt/engine"
)

// Undoing ALTER TABLE ... DROP COLUMN. Every row is imaged before the
// drop (capture_drop.go). The undo adds each column back, empty, as the
// table's last column (PostgreSQL cannot put a column back in its
// place), sets it row by row from the images, matched by key, and then
// re-creates what the drop took along: NOT NULL, its default where it is
// not a constant, CHECK and other constraints, indexes, extended
// statistics, column settings, privileges and comments. The result must
// be exactly the definition recorded before the drop with those columns
// last (Revert.Expect), or the undo of the drop is rolled back and
// reported as a conflict.

// dropPlan is what is read before the drop to undo it, or why it cannot be.
type dropPlan struct {
	names  []string             // the columns that go, in the table's order
	cols   map[string]defColumn // their definitions
	checks []constraintDef      // CHECK constraints before the drop
	expect *engine.Definition   // the table once they are back, last
	tbl    string               // the table, quoted as its definition names it
	why    string               // not empty: not undone automatically
}

// onlyDropsColumns reports whether every subcommand drops a column.
func onlyDropsColumns(s *pg_query.AlterTableStmt) bool {
	return onlyCmds(s, pg_query.AlterTableType_AT_DropColumn)
}

// planDropColumns reads, before the ALTER runs, what its undo needs.
// It returns nil when no column will go (IF EXISTS of absent columns).
func planDropColumns(ctx context.Context, q querier, s *pg_query.AlterTableStmt, rel *relation, oid uint32) (*dropPlan, error) {
	prior, err := columnNames(ctx, q, oid)
	if err != nil {
		return nil, err
	}
	going := map[string]bool{}
	for _, n := range s.Cmds {
		if c := n.GetAlterTableCmd(); c != nil && slices.Contains(prior, c.Name) {
			going[c.Name] = true
		}
	}
	if len(going) == 0 {
		return nil, nil
	}
	p := &dropPlan{cols: map[string]defColumn{}}
	for _, c := range prior {
		if going[c] {
			p.names = append(p.names, c)
		}
	}
	var m tableMeta
	var cols []defColumn
	var seqs []seqInfo
	err = withCatalogPath(ctx, q, func() error {
		var err error
		if m, err = loadTableMeta(ctx, q, oid); err != nil {
			return err
		}
		if cols, err = defColumns(ctx, q, oid); err != nil {
			return err
		}
		if seqs, err = ownedSequences(ctx, q, oid); err != nil {
			return err
		}
		p.checks, err = checkConstraints(ctx, q, oid)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: reading the columns of %s: %w", rel.info.QualifiedName(), err)
	}
	p.tbl = m.qualified()
	var inherits bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits WHERE inhrelid = $1 OR inhparent = $1)`, oid).Scan(&inherits); err != nil {
		return nil, fmt.Errorf("postgres: reading the inheritance of %s: %w", rel.info.QualifiedName(), err)
	}
	switch {
	case m.kind != "r" || inherits:
		p.why = "the table has partitions, inheritance children or parents"
		return p, nil
	case m.persistence == "t":
		p.why = "the table is temporary"
		return p, nil
	case rel.info.KeyKind == engine.KeyRow:
		p.why = "the table has no primary key or unique key to match its rows by"
		return p, nil
	}
	for _, k := range rel.info.Key {
		if going[rel.info.Columns[k].Name] {
			p.why = "the column is part of the key its rows are matched by"
			return p, nil
		}
	}
	for _, c := range cols {
		if !going[c.name] {
			continue
		}
		switch {
		case c.identity != "":
			p.why = "column " + c.name + " is an identity column"
			return p, nil
		case c.generated != "":
			p.why = "column " + c.name + " is generated"
			return p, nil
		}
		if c.domain {
			// A domain that refuses NULL refuses the column added back
			// empty to a table with rows.
			fits, err := nullFits(ctx, q, c.typ)
			if err != nil {
				return nil, err
			}
			if !fits {
				p.why = "column " + c.name + " is of domain " + c.typ + ", which does not take NULL, so it cannot be added back empty"
				return p, nil
			}
		}
		for _, sq := range seqs {
			if sq.col == c.num {
				p.why = "column " + c.name + " owns sequence " + quoteQualified(sq.schema, sq.name) + ", which the drop dropped"
				return p, nil
			}
		}
		p.cols[c.name] = c
	}
	// Privileges on the columns granted by roles other than the owner
	// would come back with the undoing role as their grantor.
	var grantedByOthers bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
			JOIN pg_catalog.pg_class c ON c.oid = a.attrelid CROSS JOIN LATERAL pg_catalog.aclexplode(a.attacl) x
			WHERE a.attrelid = $1 AND a.attname = ANY ($2::text[]) AND x.grantor <> c.relowner)`, oid, p.names).Scan(&grantedByOthers); err != nil {
		return nil, fmt.Errorf("postgres: reading the column privileges of %s: %w", rel.info.QualifiedName(), err)
	}
	if grantedByOthers {
		p.why = "roles other than the owner granted privileges on the column, which re-granting would record with the wrong grantor"
		return p, nil
	}
	// Extended statistics list their columns in the table's order: one
	// on a column that comes back last may then read differently.
	rows, err := q.Query(ctx, `SELECT s.stxname::text, array_agg(a.attname::text ORDER BY k.n)
		FROM pg_catalog.pg_statistic_ext s CROSS JOIN LATERAL unnest(s.stxkeys) WITH ORDINALITY AS k(attnum, n)
		JOIN pg_catalog.pg_attribute a ON a.attrelid = s.stxrelid AND a.attnum = k.attnum
		WHERE s.stxrelid = $1 GROUP BY s.stxname`, oid)
	if err != nil {
		return nil, fmt.Errorf("postgres: reading the extended statistics of %s: %w", rel.info.QualifiedName(), err)
	}
	for rows.Next() {
		var stat string
		var on []string
		if err := rows.Scan(&stat, &on); err != nil {
			rows.Close()
			return nil, fmt.Errorf("postgres: reading the extended statistics of %s: %w", rel.info.QualifiedName(), err)
		}
		for i := 1; i < len(on); i++ {
			if going[on[i-1]] && !going[on[i]] && p.why == "" {
				p.why = "extended statistics " + stat + " would name its columns in another order"
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: reading the extended statistics of %s: %w", rel.info.QualifiedName(), err)
	}
	if p.why != "" {
		return p, nil
	}
	if p.expect, err = tableDefinitionLast(ctx, q, oid, going); err != nil {
		return nil, err
	}
	return p, nil
}

// dropColumnReverts attaches, after the drop ran, the revert that adds the
// columns back (on after) and the one that drops them again (on before).
// It attaches nothing when the drop did anything it cannot take back.
func dropColumnReverts(ctx context.Context, q querier, p *dropPlan, schema, name string, oid uint32, before, after *engine.Definition) (string, error) {
	if p.why != "" {
		return p.why, nil
	}
	// Whatever is there now must have been there before: a drop only
	// takes things away.
	was := append(append([]string{}, before.Create...), shape(before.PostData)...)
	for _, s := range append(append([]string{}, after.Create...), shape(after.PostData)...) {
		if !slices.Contains(was, s) && !strings.HasPrefix(s, "CREATE ") {
			return "the drop changed more of the table than it took away: " + abbreviate(s), nil
		}
	}
	var now []constraintDef
	err := withCatalogPath(ctx, q, func() error {
		var err error
		now, err = checkConstraints(ctx, q, oid)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("postgres: reading the constraints of %s: %w", p.tbl, err)
	}
	tbl := "ALTER TABLE ONLY " + p.tbl
	var adds, then []string
	for _, c := range p.names {
		col := p.cols[c]
		add := tbl + " ADD COLUMN " + quoteIdent(c) + " " + col.typ
		if col.collation != "" {
			add += " COLLATE " + col.collation
		}
		if col.def != "" {
			if constantExpr(col.def) {
				// Rows added since get the default, as they would have
				// with the column there; no row is rewritten.
				add += " DEFAULT " + col.def
			} else {
				then = append(then, tbl+" ALTER COLUMN "+quoteIdent(c)+" SET DEFAULT "+col.def)
			}
		}
		adds = append(adds, add)
		if col.notNull {
			if col.def != "" && !constantExpr(col.def) {
				// Every imaged value is there and not NULL: a NULL is a
				// row added since, which gets the default.
				then = append(then, "UPDATE ONLY "+p.tbl+" SET "+quoteIdent(c)+" = DEFAULT WHERE "+quoteIdent(c)+" IS NULL")
			}
			then = append(then, tbl+" ALTER COLUMN "+quoteIdent(c)+" SET NOT NULL")
		}
		then = append(then, col.settings(p.tbl)...)
	}
	for _, k := range p.checks {
		if !k.validated || slices.ContainsFunc(now, func(n constraintDef) bool { return n.name == k.name }) {
			continue // a NOT VALID one is in the post-data
		}
		then = append(then, "ALTER TABLE "+p.tbl+" ADD CONSTRAINT "+quoteIdent(k.name)+" "+k.def)
	}
	kept := shape(after.PostData)
	for _, s := range shape(before.PostData) {
		if !slices.Contains(kept, s) {
			then = append(then, s)
		}
	}
	expect := *p.expect
	expect.Revert, expect.At = nil, nil
	after.Revert = &engine.Revert{Schema: schema, Name: name, Statements: adds, Fill: p.names, Then: then, Exact: true, Expect: &expect}
	drops := make([]string, len(p.names))
	for i, c := range p.names {
		drops[i] = "DROP COLUMN " + quoteIdent(c)
	}
	before.Revert = &engine.Revert{Schema: schema, Name: name, Statements: []string{tbl + " " + strings.Join(drops, ", ")}, ImageFirst: true, Exact: true}
	return "", nil
}

// constantExpr reports whether a default expression, as PostgreSQL prints
// it, is a constant (possibly cast): adding a column with it stores one
// value for every row there, with no rewrite and nothing evaluated per row.
func constantExpr(expr string) bool {
	tree, err := pg_query.Parse("SELECT " + expr)
	if err != nil || len(tree.Stmts) != 1 {
		return false
	}
	sel := tree.Stmts[0].Stmt.GetSelectStmt()
	if sel == nil || len(sel.TargetList) != 1 {
		return false
	}
	n := sel.TargetList[0].GetResTarget().GetVal()
	for {
		switch {
		case n.GetAConst() != nil:
			return true
		case n.GetTypeCast() != nil:
			n = n.GetTypeCast().Arg
		default:
			return false
		}
	}
}

// SameDefinitionAnyOrder compares two definitions as SameDefinition does,
// except for the order of the columns: CREATE TABLE's column and
// constraint lines, and the statements of each list (column settings and
// comments follow the columns' order), are compared sorted.
func (x *pgTx) SameDefinitionAnyOrder(a, b *engine.Definition) bool {
	return slices.Equal(orderFree(a.Create), orderFree(b.Create)) && slices.Equal(orderFree(shape(a.PostData)), orderFree(shape(b.PostData)))
}

// orderFree sorts the statements, and the lines inside each CREATE TABLE
// as tableStatements writes it.
func orderFree(stmts []string) []string {
	const open, sep = " (\n    ", ",\n    "
	out := make([]string, len(stmts))
	for i, s := range stmts {
		if strings.HasPrefix(s, "CREATE ") {
			if o := strings.Index(s, open); o >= 0 {
				if c := strings.LastIndex(s, "\n)"); c > o {
					lines := strings.Split(s[o+len(open):c], sep)
					slices.Sort(lines)
					s = s[:o] + open + strings.Join(lines, sep) + s[c:]
				}
			}
		}
		out[i] = s
	}
	slices.Sort(out)
	return out
}

// nullFits reports whether NULL casts to type typ (a domain may refuse it),
// trying it in a savepoint.
func nullFits(ctx context.Context, q querier, typ string) (bool, error) {
	if _, err := q.Exec(ctx, "SAVEPOINT lifebelt_null"); err != nil {
		return false, fmt.Errorf("postgres: %w", err)
	}
	if _, err := q.Exec(ctx, "SELECT CAST(NULL AS "+typ+")"); err != nil {
		if _, rerr := q.Exec(ctx, "ROLLBACK TO SAVEPOINT lifebelt_null; RELEASE SAVEPOINT lifebelt_null"); rerr != nil {
			return false, fmt.Errorf("postgres: rolling back a cast of NULL to %s (%v): %w", typ, err, rerr)
		}
		return false, nil
	}
	if _, err := q.Exec(ctx, "RELEASE SAVEPOINT lifebelt_null"); err != nil {
		return false, fmt.Errorf("postgres: %w", err)
	}
	return true, nil
}
