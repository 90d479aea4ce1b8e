package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"lifebelt/engine"
)

// Undoing ALTER TABLE. Renames (of a table, a column, a constraint) are
// undone by renaming back, added columns by dropping them once no row
// holds a value in them other than the one the ALTER gave it. Other
// subcommands are journaled with the definitions before and after and
// left to people.

// renameReverts attaches the statements that rename a table, column or
// constraint back (on after) and forth again (on before).
func renameReverts(s *pg_query.RenameStmt, schema string, before, after *engine.Definition) {
	if s == nil || s.Relation == nil {
		return
	}
	only := ""
	if !s.Relation.Inh {
		only = "ONLY "
	}
	table := s.Relation.Relname
	var undo, redo string
	switch s.RenameType {
	case pg_query.ObjectType_OBJECT_TABLE:
		undo = "ALTER TABLE " + quoteQualified(schema, s.Newname) + " RENAME TO " + quoteIdent(table)
		redo = "ALTER TABLE " + quoteQualified(schema, table) + " RENAME TO " + quoteIdent(s.Newname)
		after.Revert = &engine.Revert{Schema: schema, Name: s.Newname, Statements: []string{undo}}
		before.Revert = &engine.Revert{Schema: schema, Name: table, Statements: []string{redo}}
		return
	case pg_query.ObjectType_OBJECT_COLUMN:
		if s.RelationType != pg_query.ObjectType_OBJECT_TABLE {
			return
		}
		undo = "ALTER TABLE " + only + quoteQualified(schema, table) + " RENAME COLUMN " + quoteIdent(s.Newname) + " TO " + quoteIdent(s.Subname)
		redo = "ALTER TABLE " + only + quoteQualified(schema, table) + " RENAME COLUMN " + quoteIdent(s.Subname) + " TO " + quoteIdent(s.Newname)
	case pg_query.ObjectType_OBJECT_TABCONSTRAINT:
		undo = "ALTER TABLE " + only + quoteQualified(schema, table) + " RENAME CONSTRAINT " + quoteIdent(s.Newname) + " TO " + quoteIdent(s.Subname)
		redo = "ALTER TABLE " + only + quoteQualified(schema, table) + " RENAME CONSTRAINT " + quoteIdent(s.Subname) + " TO " + quoteIdent(s.Newname)
	default:
		return
	}
	after.Revert = &engine.Revert{Schema: schema, Name: table, Statements: []string{undo}}
	before.Revert = &engine.Revert{Schema: schema, Name: table, Statements: []string{redo}}
	if s.RenameType == pg_query.ObjectType_OBJECT_COLUMN {
		after.Revert.Columns = map[string]string{s.Newname: s.Subname}
		before.Revert.Columns = map[string]string{s.Subname: s.Newname}
	}
}

// onlyCmds reports whether the statement has subcommands and each is of
// one of the given kinds.
func onlyCmds(s *pg_query.AlterTableStmt, kinds ...pg_query.AlterTableType) bool {
	if len(s.Cmds) == 0 {
		return false
	}
	for _, n := range s.Cmds {
		if c := n.GetAlterTableCmd(); c == nil || !slices.Contains(kinds, c.Subtype) {
			return false
		}
	}
	return true
}

// onlyAddsColumns reports whether every subcommand adds a column.
func onlyAddsColumns(s *pg_query.AlterTableStmt) bool {
	return onlyCmds(s, pg_query.AlterTableType_AT_AddColumn)
}

// columnNames lists a table's columns in order.
func columnNames(ctx context.Context, q querier, oid uint32) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT attname::text FROM pg_catalog.pg_attribute
		WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, oid)
	if err != nil {
		return nil, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: reading the columns of table %d: %w", oid, err)
	}
	return names, nil
}

// addColumnReverts attaches to after the statement that drops the columns
// ALTER TABLE ... ADD COLUMN added (the columns in cols and not in prior),
// with a check per column for values the drop would lose, and to before
// the statement that adds them again. rel is the table, schema-qualified.
func addColumnReverts(ctx context.Context, q querier, s *pg_query.AlterTableStmt, oid uint32, schema, name string, prior, cols []string, before, after *engine.Definition) error {
	had := map[string]bool{}
	for _, c := range prior {
		had[c] = true
	}
	only := ""
	if !s.Relation.Inh {
		only = "ONLY "
	}
	rel := quoteQualified(schema, name)
	relLit := quoteLiteral(rel) + "::regclass"
	var drops []string
	var checks []engine.RevertCheck
	esc := func(s string) string { return strings.ReplaceAll(s, "%", "%%") }
	for _, c := range cols {
		if had[c] {
			continue // IF NOT EXISTS of a column that was there
		}
		drops = append(drops, "DROP COLUMN "+quoteIdent(c))
		var generated, identity string
		var hasDefault, hasMissing bool
		var dflt *string
		err := q.QueryRow(ctx, `SELECT a.attgenerated::text, a.attidentity::text, a.atthasdef, a.atthasmissing,
				pg_catalog.pg_get_expr(d.adbin, d.adrelid)
			FROM pg_catalog.pg_attribute a LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
			WHERE a.attrelid = $1 AND a.attname = $2`, oid, c).Scan(&generated, &identity, &hasDefault, &hasMissing, &dflt)
		if err != nil {
			return fmt.Errorf("postgres: reading column %s of %s: %w", c, rel, err)
		}
		if generated != "" {
			continue // computed from other columns: dropping it loses nothing
		}
		// The value a constant default gave the rows the ALTER found is
		// stored with the column (a partitioned table's, with each
		// partition's): read now, in case a rewrite clears it later.
		var missing *string
		err = q.QueryRow(ctx, `WITH RECURSIVE rels(oid) AS (SELECT $1::oid
				UNION SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN rels r ON i.inhparent = r.oid)
			SELECT a.attmissingval::text FROM rels r JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid
			WHERE a.attname = $2 AND a.atthasmissing LIMIT 1`, oid, c).Scan(&missing)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: reading the default value of column %s of %s: %w", c, rel, err)
		}
		hasMissing = missing != nil
		given := "{NULL}"
		if missing != nil {
			given = *missing
		}
		col, cLit := quoteIdent(c), quoteLiteral(c)
		// The rows of the tables that lose the column: this one and the
		// children that inherited it (a child's own column of that name
		// stays), each compared with the value the ALTER gave the rows
		// it found there (the stored "missing value" of a constant
		// default, as stored now or, after a rewrite cleared it, as read
		// above; NULL without a default). Compared as text in "C":
		// the type's own output, never equal under a collation that
		// ignores case, and with the type's own array delimiter.
		query := "SELECT count(*) FROM " + rel + " AS x WHERE x.tableoid IN (SELECT a.attrelid FROM pg_catalog.pg_attribute a" +
			" WHERE a.attname = " + cLit + " AND NOT a.attisdropped AND (a.attrelid = " + relLit + " OR NOT a.attislocal))" +
			" AND (ARRAY[x." + col + "]::text COLLATE \"C\") IS DISTINCT FROM (coalesce((SELECT a.attmissingval::text FROM pg_catalog.pg_attribute a" +
			" WHERE a.attrelid = x.tableoid AND a.attname = " + cLit + "), " + quoteLiteral(given) + ") COLLATE \"C\")"
		var reason string
		switch {
		case identity != "" || hasDefault && !hasMissing:
			// Every row got its own value (an identity, a volatile
			// default): Lifebelt cannot tell them from values written
			// since.
			what := "an identity"
			if identity == "" {
				what = "a default"
				if dflt != nil {
					what += " (" + esc(*dflt) + ")"
				}
			}
			reason = "%d row(s) of " + esc(rel) + " hold values in column " + esc(c) + ", which the ALTER filled from " + what + " Lifebelt cannot tell from values written since: dropping the column would lose them"
		case hasMissing:
			shown := "its default"
			if dflt != nil {
				shown = esc(*dflt)
			}
			reason = "%d row(s) of " + esc(rel) + " hold values in column " + esc(c) + " other than the one the ALTER gave every row (" + shown + "): dropping the column would lose them"
		default:
			reason = "%d row(s) of " + esc(rel) + " hold values in column " + esc(c) + ", which the ALTER added empty: dropping the column would lose them"
		}
		checks = append(checks, engine.RevertCheck{Query: query, Reason: reason})
		// Objects someone made on the column in a child table (an index,
		// a constraint, a view): the table's own definition does not
		// show them, and DROP COLUMN would drop them too.
		checks = append(checks, engine.RevertCheck{
			Query: `WITH RECURSIVE kids(oid) AS (SELECT inhrelid FROM pg_catalog.pg_inherits WHERE inhparent = ` + relLit + `
				UNION SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN kids k ON i.inhparent = k.oid)
			SELECT count(*) FROM kids k
			JOIN pg_catalog.pg_attribute a ON a.attrelid = k.oid AND a.attname = ` + cLit + ` AND NOT a.attisdropped AND NOT a.attislocal
			JOIN pg_catalog.pg_depend d ON d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = k.oid AND d.refobjsubid = a.attnum
			WHERE d.deptype IN ('n', 'a') AND d.classid <> 'pg_catalog.pg_attrdef'::regclass
			AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend p WHERE p.classid = d.classid AND p.objid = d.objid AND p.deptype IN ('P', 'S'))
			AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint o WHERE d.classid = 'pg_catalog.pg_constraint'::regclass AND o.oid = d.objid AND NOT o.conislocal)`,
			Reason: "%d object(s) on child tables of " + esc(rel) + " (indexes, constraints, views) use column " + esc(c) + ": dropping the column would drop them",
		})
	}
	if len(drops) > 0 {
		// Rows of this table stored in other tables' columns (its row
		// type) lose the column too.
		checks = append(checks, engine.RevertCheck{
			Query: `SELECT count(*) FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
			WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'm') AND a.atttypid IN (
				SELECT r.reltype FROM pg_catalog.pg_class r WHERE r.oid = ` + relLit + `
				UNION SELECT t.typarray FROM pg_catalog.pg_type t JOIN pg_catalog.pg_class r ON t.oid = r.reltype WHERE r.oid = ` + relLit + `)`,
			Reason: "%d column(s) of tables store rows of " + esc(rel) + " (its row type): dropping a column would change their values",
		})
	}
	var undo []string
	if len(drops) > 0 {
		undo = []string{"ALTER TABLE " + only + rel + " " + strings.Join(drops, ", ")}
	}
	after.Revert = &engine.Revert{Schema: schema, Name: name, Statements: undo, Checks: checks}
	// Adding them again: the statement itself, on the table named with
	// its schema, when the deparser prints it faithfully.
	again := proto.Clone(s).(*pg_query.AlterTableStmt)
	again.Relation.Schemaname = schema
	if sql, ok := deparseExact(&pg_query.Node{Node: &pg_query.Node_AlterTableStmt{AlterTableStmt: again}}); ok {
		before.Revert = &engine.Revert{Schema: schema, Name: name, Statements: []string{sql}}
	}
	return nil
}

var _ engine.Reverter = (*pgTx)(nil)

// TableDefinition locks the table (ACCESS EXCLUSIVE, as the ALTER that
// follows will: nobody writes it between the checks and the change) and
// returns its definition; nil when there is no such table.
func (x *pgTx) TableDefinition(ctx context.Context, schema, name string) (*engine.Definition, error) {
	oid, _, _, relkind, ok, err := resolveRelation(ctx, x.tx, engine.Name{Schema: schema, Name: name})
	if err != nil || !ok {
		return nil, err
	}
	if relkind != 'r' && relkind != 'p' {
		return &engine.Definition{Text: "not a table"}, nil
	}
	if _, err := x.tx.Exec(ctx, "LOCK TABLE "+quoteQualified(schema, name)+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		return nil, fmt.Errorf("postgres: locking %s: %w", quoteQualified(schema, name), err)
	}
	return tableDefinition(ctx, x.tx, oid)
}

// SameDefinition compares two definitions, sequence positions aside.
func (x *pgTx) SameDefinition(a, b *engine.Definition) bool {
	return slices.Equal(a.Create, b.Create) && slices.Equal(shape(a.PostData), shape(b.PostData))
}

// shape leaves out the statements that set sequence positions.
func shape(stmts []string) []string {
	var out []string
	for _, s := range stmts {
		if !strings.HasPrefix(s, "SELECT pg_catalog.setval(") {
			out = append(out, s)
		}
	}
	return out
}

// Count runs a RevertCheck's query with row_security off, so that no row
// is hidden from it (where row-level security applies, it fails instead).
// A query the data makes fail (a value a cast refuses) is rolled back to
// a savepoint and returned as *engine.CheckFailed.
func (x *pgTx) Count(ctx context.Context, query string) (n int64, err error) {
	err = x.withoutRowSecurity(ctx, func() error {
		if _, err := x.tx.Exec(ctx, "SAVEPOINT lifebelt_check"); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		if err := x.tx.QueryRow(ctx, query).Scan(&n); err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && ctx.Err() == nil {
				if _, rerr := x.tx.Exec(ctx, "ROLLBACK TO SAVEPOINT lifebelt_check; RELEASE SAVEPOINT lifebelt_check"); rerr != nil {
					return fmt.Errorf("postgres: rolling back a failed check (%v): %w", err, rerr)
				}
				return &engine.CheckFailed{Err: err}
			}
			if errors.Is(err, pgx.ErrNoRows) {
				err = errors.New("no row")
			}
			return fmt.Errorf("postgres: %s: %w", abbreviate(query), err)
		}
		if _, err := x.tx.Exec(ctx, "RELEASE SAVEPOINT lifebelt_check"); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		return nil
	})
	return n, err
}

// TryDDL runs statements inside a savepoint; a failure, or a problem
// verify reports after them, rolls back to it.
func (x *pgTx) TryDDL(ctx context.Context, stmts []string, verify func(context.Context) (problem, err error)) (failed, err error) {
	if _, err := x.tx.Exec(ctx, "SAVEPOINT lifebelt_revert"); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	back := func(what string, ferr error) (error, error) {
		if _, rerr := x.tx.Exec(ctx, "ROLLBACK TO SAVEPOINT lifebelt_revert; RELEASE SAVEPOINT lifebelt_revert"); rerr != nil {
			return nil, fmt.Errorf("postgres: rolling back %q (%v): %w", what, ferr, rerr)
		}
		return fmt.Errorf("%s: %w", what, ferr), nil
	}
	for _, s := range stmts {
		if _, ferr := x.tx.Exec(ctx, s); ferr != nil {
			if ctx.Err() != nil {
				return nil, ferr
			}
			return back(abbreviate(s), ferr)
		}
	}
	if verify != nil {
		// Statements prepared before the DDL may read a changed type.
		if len(stmts) > 0 {
			if err := x.afterDDL(ctx); err != nil {
				return nil, err
			}
		}
		problem, err := verify(ctx)
		if err != nil {
			return nil, err
		}
		if problem != nil {
			what := "after " + abbreviate(strings.Join(stmts, "; "))
			if len(stmts) == 0 {
				what = "with nothing to run"
			}
			return back(what, problem)
		}
	}
	if _, err := x.tx.Exec(ctx, "RELEASE SAVEPOINT lifebelt_revert"); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return nil, x.afterDDL(ctx)
}

// ImageTable images every row of the table (its partitions and children
// included) as deleted rows, with row_security off.
func (x *pgTx) ImageTable(ctx context.Context, schema, name string, sink engine.Sink) (h int64, err error) {
	oid, _, _, _, ok, err := resolveRelation(ctx, x.tx, engine.Name{Schema: schema, Name: name})
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, fmt.Errorf("postgres: table %s does not exist", quoteQualified(schema, name))
	}
	x.rels = nil // the undo's DDL may have changed any table
	rel, err := x.relation(ctx, oid)
	if err != nil {
		return 0, err
	}
	err = x.withoutRowSecurity(ctx, func() error {
		e := &execution{x: x, sink: sink}
		if h, err = e.table(rel, 0); err != nil {
			return err
		}
		// Not ONLY: a DROP COLUMN of an inheritance parent takes the
		// children's column too.
		var vals []engine.Value
		_, err := x.stream(ctx, "SELECT x.* FROM "+rel.quoted+" AS x", func(_ []pgconn.FieldDescription, row [][]byte) error {
			if len(row) != len(rel.info.Columns) {
				return fmt.Errorf("postgres: imaging rows of %s: expected %d columns, got %d", rel.info.QualifiedName(), len(rel.info.Columns), len(row))
			}
			vals = rawToValues(row, vals)
			return sink.Row(h, engine.OpDelete, vals, nil)
		})
		if err != nil {
			return x.c.wrap("imaging the rows of "+rel.info.QualifiedName(), err)
		}
		return nil
	})
	return h, err
}

// Children counts the tables that inherit from the table or are its
// partitions, at any depth.
func (x *pgTx) Children(ctx context.Context, schema, name string) (n int64, err error) {
	err = x.tx.QueryRow(ctx, `WITH RECURSIVE kids(oid) AS (
			SELECT inhrelid FROM pg_catalog.pg_inherits WHERE inhparent = pg_catalog.to_regclass($1)
			UNION SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN kids k ON i.inhparent = k.oid)
		SELECT count(*) FROM kids`, quoteQualified(schema, name)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("postgres: counting the children of %s: %w", quoteQualified(schema, name), err)
	}
	return n, nil
}

// ObjectDefinition is the object's current definition (a table's after
// locking it, as TableDefinition), nil when there is none or it cannot be
// named from schema and name alone (a routine needs its arguments, a
// trigger its table; other kinds have no recorded definition).
func (x *pgTx) ObjectDefinition(ctx context.Context, kind, schema, name string) (*engine.Definition, error) {
	switch strings.ToUpper(kind) {
	case "TABLE":
		def, err := x.TableDefinition(ctx, schema, name)
		if def != nil && def.Text == "not a table" {
			return nil, err
		}
		return def, err
	case "VIEW", "MATERIALIZED VIEW", "INDEX", "SEQUENCE":
	default:
		return nil, nil
	}
	def, found, err := objectDefinition(ctx, x.tx, objRef{Kind: kind, Name: engine.Name{Schema: schema, Name: name}})
	if err != nil || !found {
		return nil, err
	}
	return def, nil
}

// RowSecurityOff turns row_security off for the transaction until restore
// is called (engine.RowSecurityOffer): a Revert's fill must neither miss
// rows a policy hides nor skip them silently; where a policy applies to
// the user, its reads fail instead.
func (x *pgTx) RowSecurityOff(ctx context.Context) (restore func() error, err error) {
	return x.rowSecurityOff(ctx)
}
