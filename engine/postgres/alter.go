package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
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

// onlyAddsColumns reports whether every subcommand adds a column.
func onlyAddsColumns(s *pg_query.AlterTableStmt) bool {
	if len(s.Cmds) == 0 {
		return false
	}
	for _, n := range s.Cmds {
		if c := n.GetAlterTableCmd(); c == nil || c.Subtype != pg_query.AlterTableType_AT_AddColumn {
			return false
		}
	}
	return true
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
		var missing, dflt *string
		err := q.QueryRow(ctx, `SELECT a.attgenerated::text, a.attidentity::text, a.atthasdef, a.atthasmissing,
				(a.attmissingval::text::text[])[1], pg_catalog.pg_get_expr(d.adbin, d.adrelid)
			FROM pg_catalog.pg_attribute a LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
			WHERE a.attrelid = $1 AND a.attname = $2`, oid, c).Scan(&generated, &identity, &hasDefault, &hasMissing, &missing, &dflt)
		if err != nil {
			return fmt.Errorf("postgres: reading column %s of %s: %w", c, rel, err)
		}
		col := quoteIdent(c)
		var check engine.RevertCheck
		switch {
		case generated != "":
			continue // computed from other columns: dropping it loses nothing
		case identity != "" || hasDefault && !hasMissing:
			// Every row got its own value (an identity, a volatile
			// default, or a partitioned table's default): Lifebelt cannot
			// tell them from values written since.
			what := "an identity"
			if identity == "" {
				what = "a default"
				if dflt != nil {
					what += " (" + esc(*dflt) + ")"
				}
			}
			check = engine.RevertCheck{Query: "SELECT count(*) FROM " + only + rel + " WHERE " + col + " IS NOT NULL",
				Reason: "%d row(s) of " + esc(rel) + " hold values in column " + esc(c) + ", which the ALTER filled from " + what + " Lifebelt cannot tell from values written since: dropping the column would lose them"}
		case hasMissing && missing != nil:
			check = engine.RevertCheck{Query: "SELECT count(*) FROM " + only + rel + " WHERE " + col + "::text IS DISTINCT FROM " + quoteLiteral(*missing),
				Reason: "%d row(s) of " + esc(rel) + " hold values in column " + esc(c) + " other than the one the ALTER gave every row (" + esc(*missing) + "): dropping the column would lose them"}
		default:
			check = engine.RevertCheck{Query: "SELECT count(*) FROM " + only + rel + " WHERE " + col + " IS NOT NULL",
				Reason: "%d row(s) of " + esc(rel) + " hold values in column " + esc(c) + ", which the ALTER added empty: dropping the column would lose them"}
		}
		checks = append(checks, check)
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

// DefinitionMatches locks the table (ACCESS EXCLUSIVE, as the ALTER that
// follows will: nobody writes it between the checks and the change) and
// compares its definition with want, sequence positions aside.
func (x *pgTx) DefinitionMatches(ctx context.Context, schema, name string, want *engine.Definition) (found, same bool, err error) {
	oid, _, _, relkind, ok, err := resolveRelation(ctx, x.tx, engine.Name{Schema: schema, Name: name})
	if err != nil || !ok {
		return false, false, err
	}
	if relkind != 'r' && relkind != 'p' {
		return true, false, nil
	}
	if _, err := x.tx.Exec(ctx, "LOCK TABLE "+quoteQualified(schema, name)+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		return true, false, fmt.Errorf("postgres: locking %s: %w", quoteQualified(schema, name), err)
	}
	def, err := tableDefinition(ctx, x.tx, oid)
	if err != nil {
		return true, false, err
	}
	return true, slices.Equal(def.Create, want.Create) && slices.Equal(shape(def.PostData), shape(want.PostData)), nil
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
func (x *pgTx) Count(ctx context.Context, query string) (n int64, err error) {
	restore, err := x.rowSecurityOff(ctx)
	if err != nil {
		return 0, err
	}
	defer func() {
		if rerr := restore(); rerr != nil && err == nil {
			err = rerr
		}
	}()
	if err := x.tx.QueryRow(ctx, query).Scan(&n); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			err = errors.New("no row")
		}
		return 0, fmt.Errorf("postgres: %s: %w", abbreviate(query), err)
	}
	return n, nil
}
