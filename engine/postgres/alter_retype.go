package postgres

import (
	"context"
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"lifebelt/engine"
)

// Undoing ALTER COLUMN ... TYPE that the settings revert cannot take back
// (alter_types.go: a value that does not survive the round trip, a cast
// that depends on more than the value, or a USING expression). Every row
// is imaged before such an ALTER (capture_drop.go), so the undo casts the
// columns back to their old types and then sets each row's value from
// the images, matched by key: the values are exactly the old ones, and
// rows added since keep what the cast back gives them. The definition
// must come back exactly (the columns keep their places).

// retypePlan is what is read before the ALTER to undo it, or why it
// cannot be.
type retypePlan struct {
	names []string             // the columns whose type changes
	cols  map[string]defColumn // as they were
	// checks are the CHECK constraints on those columns: a type change
	// rewrites their expressions with casts that the way back keeps, so
	// the revert makes them again as they were.
	checks []constraintDef
	tbl    string
	why    string
}

// onlyChangesTypes reports whether every subcommand changes a column's type.
func onlyChangesTypes(s *pg_query.AlterTableStmt) bool {
	if len(s.Cmds) == 0 {
		return false
	}
	for _, n := range s.Cmds {
		if c := n.GetAlterTableCmd(); c == nil || c.Subtype != pg_query.AlterTableType_AT_AlterColumnType {
			return false
		}
	}
	return true
}

// planRetype reads, before the ALTER runs, the columns' definitions.
func planRetype(ctx context.Context, q querier, s *pg_query.AlterTableStmt, rel *relation, oid uint32) (*retypePlan, error) {
	p := &retypePlan{cols: map[string]defColumn{}}
	var m tableMeta
	var cols []defColumn
	err := withCatalogPath(ctx, q, func() error {
		var err error
		if m, err = loadTableMeta(ctx, q, oid); err != nil {
			return err
		}
		cols, err = defColumns(ctx, q, oid)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: reading the columns of %s: %w", rel.info.QualifiedName(), err)
	}
	p.tbl = m.qualified()
	var nums []int16
	for _, n := range s.Cmds {
		for _, c := range cols {
			if c.name == n.GetAlterTableCmd().GetName() {
				nums = append(nums, c.num)
			}
		}
	}
	err = withCatalogPath(ctx, q, func() error {
		rows, err := q.Query(ctx, `SELECT k.conname::text, pg_catalog.pg_get_constraintdef(k.oid), coalesce(pg_catalog.obj_description(k.oid, 'pg_constraint'), '')
			FROM pg_catalog.pg_constraint k WHERE k.conrelid = $1 AND k.contype = 'c' AND k.conkey && $2::int2[] ORDER BY k.conname`, oid, nums)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k constraintDef
			if err := rows.Scan(&k.name, &k.def, &k.comment); err != nil {
				return err
			}
			p.checks = append(p.checks, k)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: reading the CHECK constraints of %s: %w", rel.info.QualifiedName(), err)
	}
	byName := map[string]defColumn{}
	for _, c := range cols {
		byName[c.name] = c
	}
	for _, n := range s.Cmds {
		name := n.GetAlterTableCmd().GetName()
		c, ok := byName[name]
		if !ok {
			return nil, nil // the ALTER fails
		}
		if _, dup := p.cols[name]; !dup {
			p.names = append(p.names, name)
			p.cols[name] = c
		}
	}
	var inherits bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits WHERE inhrelid = $1 OR inhparent = $1)`, oid).Scan(&inherits); err != nil {
		return nil, fmt.Errorf("postgres: reading the inheritance of %s: %w", rel.info.QualifiedName(), err)
	}
	switch {
	case m.kind != "r" || inherits:
		p.why = "the table has partitions, inheritance children or parents"
	case m.persistence == "t":
		p.why = "the table is temporary"
	case rel.info.KeyKind == engine.KeyRow:
		p.why = "the table has no primary key or unique key to match its rows by"
	}
	for _, k := range rel.info.Key {
		if _, ok := p.cols[rel.info.Columns[k].Name]; ok && p.why == "" {
			p.why = "the column is part of the key its rows are matched by"
		}
	}
	for _, name := range p.names {
		if c := p.cols[name]; (c.generated != "" || c.identity != "") && p.why == "" {
			p.why = "column " + name + " is generated or an identity"
		}
	}
	return p, nil
}

// retypeReverts attaches the revert that casts the columns back and fills
// them from the images (on after), and the one that runs the ALTER again
// after imaging every row (on before). It returns why there is none.
func retypeReverts(p *retypePlan, s *pg_query.AlterTableStmt, schema, name string, before, after *engine.Definition) string {
	if p.why != "" {
		return p.why
	}
	var subs []string
	for _, c := range p.names {
		col := p.cols[c]
		sub := "ALTER COLUMN " + quoteIdent(c) + " TYPE " + col.typ
		if col.collation != "" {
			sub += " COLLATE " + col.collation
		}
		subs = append(subs, sub+" USING CAST("+quoteIdent(c)+" AS "+col.typ+")")
	}
	again := proto.Clone(s).(*pg_query.AlterTableStmt)
	again.Relation.Schemaname = schema
	redo, ok := deparseExact(&pg_query.Node{Node: &pg_query.Node_AlterTableStmt{AlterTableStmt: again}})
	if !ok {
		return "the statement could not be written again exactly, to redo it"
	}
	// The defaults and CHECK constraints as they were written: the type
	// changes cast their expressions, and casting back keeps the casts.
	var then []string
	for _, c := range p.names {
		if col := p.cols[c]; col.def != "" {
			then = append(then, "ALTER TABLE ONLY "+p.tbl+" ALTER COLUMN "+quoteIdent(c)+" SET DEFAULT "+col.def)
		}
	}
	for _, k := range p.checks {
		then = append(then, "ALTER TABLE ONLY "+p.tbl+" DROP CONSTRAINT "+quoteIdent(k.name)+", ADD CONSTRAINT "+quoteIdent(k.name)+" "+k.def)
		if k.comment != "" {
			then = append(then, comment("CONSTRAINT "+quoteIdent(k.name)+" ON "+p.tbl, k.comment))
		}
	}
	after.Revert = &engine.Revert{Schema: schema, Name: name, Statements: []string{"ALTER TABLE ONLY " + p.tbl + " " + strings.Join(subs, ", ")},
		Fill: p.names, Then: then, Exact: true}
	before.Revert = &engine.Revert{Schema: schema, Name: name, Statements: []string{redo}, ImageFirst: true, Exact: true}
	return ""
}
