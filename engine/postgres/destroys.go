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

	"lifebelt/engine"
)

var _ engine.DestructionDescriber = (*conn)(nil)

const (
	// bigTable is the row estimate above which a destructive statement's
	// refusal gives the planner's estimate rather than count; bigBytes the
	// size above which it gives the size of a table never analyzed.
	bigTable = 1_000_000
	bigBytes = 16 << 20
	// schemaTables is how many tables of a dropped schema are described.
	schemaTables = 20
)

// relkinds are the relation kinds a DROP of each object kind removes.
var relkinds = map[string][]string{
	"TABLE": {"r", "p"}, "VIEW": {"v"}, "MATERIALIZED VIEW": {"m"}, "FOREIGN TABLE": {"f"},
	"INDEX": {"i", "I"}, "SEQUENCE": {"S"},
}

// describer answers DescribeDestruction inside a read-only transaction.
type describer struct {
	tx pgx.Tx
	st engine.Statement
}

// DescribeDestruction says what a destructive statement would destroy:
// each relation it drops, empties or takes columns of, with its rows
// (counted, or estimated for big tables), the views that use it and the
// foreign keys of other tables that reference it, with what the statement
// does to them; for DROP SCHEMA, the schema's tables. It runs in a
// transaction of its own, rolled back, with short lock and statement
// timeouts: a table another session holds locked is described without
// its rows rather than making the refusal wait.
func (c *conn) DescribeDestruction(ctx context.Context, st engine.Statement) ([]string, error) {
	tx, err := c.pg.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '2s'; SET LOCAL statement_timeout = '10s'"); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	d := &describer{tx: tx, st: st}
	if st.Verb == "DROP" && st.Object == "SCHEMA" {
		return d.schemas(ctx)
	}
	kinds, isRel := relkinds[st.Object]
	if st.Verb == "DROP" && !isRel {
		return nil, nil // functions, types and the like hold no rows
	}
	dropped := droppedColumns(st)
	var out []string
	for _, t := range st.Targets {
		name := quoteIdent(t.Name)
		if t.Schema != "" {
			name = quoteQualified(t.Schema, t.Name)
		}
		var oid uint32
		var relkind, shown string
		err := tx.QueryRow(ctx, `SELECT c.oid, c.relkind::text, format('%I.%I', n.nspname, c.relname)
			FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
			WHERE c.oid = pg_catalog.to_regclass($1)`, name).Scan(&oid, &relkind, &shown)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("postgres: describing %s: %w", name, err)
		}
		if st.Verb == "DROP" && !slices.Contains(kinds, relkind) {
			continue // another kind of object of that name
		}
		rows, err := d.rows(ctx, oid, relkind, name)
		if err != nil {
			return out, err
		}
		subject := relkindName(relkind) + " " + shown
		if len(dropped) > 0 {
			subject = "column(s) " + strings.Join(dropped, ", ") + " of " + subject
		}
		out = append(out, subject+rows)
		deps, err := d.dependents(ctx, oid, dropped)
		if err != nil {
			return out, fmt.Errorf("postgres: reading what depends on %s: %w", shown, err)
		}
		out = append(out, deps...)
		if st.Verb == "TRUNCATE" && st.Cascade {
			deeper, err := d.cascadeDeeper(ctx, oid)
			if err != nil {
				return out, err
			}
			out = append(out, deeper...)
		}
	}
	return out, nil
}

// cascadeDeeper describes the tables TRUNCATE ... CASCADE empties beyond
// those referencing the table directly: the ones referencing those, and
// so on.
func (d *describer) cascadeDeeper(ctx context.Context, oid uint32) ([]string, error) {
	rows, err := d.tx.Query(ctx, `WITH RECURSIVE r(oid, via, depth) AS (
			SELECT k.conrelid, k.confrelid, 1 FROM pg_catalog.pg_constraint k WHERE k.contype = 'f' AND k.confrelid = $1 AND k.conrelid <> $1 AND k.conparentid = 0
			UNION SELECT k.conrelid, k.confrelid, r.depth + 1 FROM pg_catalog.pg_constraint k JOIN r ON k.confrelid = r.oid
			WHERE k.contype = 'f' AND k.conparentid = 0 AND k.conrelid <> $1 AND r.depth < 20)
		SELECT DISTINCT ON (r.oid) r.oid, c.relkind::text, pg_catalog.format('%I.%I', n.nspname, c.relname),
			(SELECT pg_catalog.format('%I.%I', vn.nspname, v.relname) FROM pg_catalog.pg_class v
				JOIN pg_catalog.pg_namespace vn ON vn.oid = v.relnamespace WHERE v.oid = r.via)
		FROM r JOIN pg_catalog.pg_class c ON c.oid = r.oid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE r.depth > 1 AND r.oid NOT IN (SELECT k.conrelid FROM pg_catalog.pg_constraint k WHERE k.contype = 'f' AND k.confrelid = $1)
		ORDER BY r.oid, r.depth`, oid)
	if err != nil {
		return nil, fmt.Errorf("postgres: reading the tables TRUNCATE ... CASCADE empties: %w", err)
	}
	type deep struct {
		oid             uint32
		kind, name, via string
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (deep, error) {
		var x deep
		return x, r.Scan(&x.oid, &x.kind, &x.name, &x.via)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: reading the tables TRUNCATE ... CASCADE empties: %w", err)
	}
	var out []string
	for _, x := range all {
		n, err := d.rows(ctx, x.oid, x.kind, x.name)
		if err != nil {
			return out, err
		}
		out = append(out, "TRUNCATE ... CASCADE empties "+relkindName(x.kind)+" "+x.name+n+" too (its foreign key references "+x.via+")")
	}
	return out, nil
}

func relkindName(relkind string) string {
	if k := map[string]string{"r": "table", "p": "partitioned table", "v": "view", "m": "materialized view",
		"f": "foreign table", "S": "sequence", "i": "index", "I": "partitioned index"}[relkind]; k != "" {
		return k
	}
	return "relation"
}

// droppedColumns are the columns ALTER TABLE ... DROP COLUMN drops.
func droppedColumns(st engine.Statement) []string {
	if !st.DropsColumn {
		return nil
	}
	tree, err := pg_query.Parse(st.Text)
	if err != nil || len(tree.Stmts) != 1 {
		return nil
	}
	var out []string
	for _, n := range tree.Stmts[0].Stmt.GetAlterTableStmt().GetCmds() {
		if c := n.GetAlterTableCmd(); c.GetSubtype() == pg_query.AlterTableType_AT_DropColumn {
			out = append(out, c.Name)
		}
	}
	return out
}

// rows renders how many rows the relation holds: counted, or estimated
// where the planner's statistics say it is big, or its size where it was
// never analyzed and is big (a partitioned table adds up its partitions).
func (d *describer) rows(ctx context.Context, oid uint32, relkind, name string) (string, error) {
	switch relkind {
	case "r", "p", "m", "f":
	default:
		return "", nil
	}
	// In a savepoint: reading the size or the rows waits for a lock
	// another session holds, until the lock timeout.
	if _, err := d.tx.Exec(ctx, "SAVEPOINT lifebelt_count"); err != nil {
		return "", fmt.Errorf("postgres: %w", err)
	}
	text, err := d.count(ctx, oid, relkind, name)
	if err == nil {
		return text, nil
	}
	if ctx.Err() != nil {
		return "", err
	}
	if _, rerr := d.tx.Exec(ctx, "ROLLBACK TO SAVEPOINT lifebelt_count"); rerr != nil {
		return "", fmt.Errorf("postgres: counting the rows of %s (%v): %w", name, err, rerr)
	}
	why := err.Error()
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "55P03" {
		why = "another session holds it locked"
	}
	return " (its rows not counted: " + why + ")", nil
}

func (d *describer) count(ctx context.Context, oid uint32, relkind, name string) (string, error) {
	var estimate float64
	var bytes int64
	var analyzed bool
	err := d.tx.QueryRow(ctx, `SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::float8,
			coalesce(sum(pg_catalog.pg_relation_size(c.oid)), 0)::int8, coalesce(bool_and(c.reltuples >= 0), false)
		FROM pg_catalog.pg_class c WHERE c.oid = $1::oid AND c.relkind <> 'p'
			OR c.oid IN (SELECT t.relid FROM pg_catalog.pg_partition_tree($1::oid::regclass) t WHERE t.isleaf)`, oid).
		Scan(&estimate, &bytes, &analyzed)
	switch {
	case err != nil:
		return "", err
	case analyzed && estimate > bigTable:
		return fmt.Sprintf(" with about %.0f rows (estimated)", estimate), nil
	case !analyzed && bytes > bigBytes:
		return fmt.Sprintf(" with %d MB of rows (not counted: never analyzed, so not estimated either)", bytes>>20), nil
	case relkind == "f":
		return "", nil // its rows live on another server
	}
	// ONLY for a plain table: an inheritance child's rows are its own.
	from := name
	if relkind == "r" {
		from = "ONLY " + name
	}
	var n int64
	if err := d.tx.QueryRow(ctx, "SELECT count(*) FROM "+from).Scan(&n); err != nil {
		return "", err
	}
	return fmt.Sprintf(" with %d row(s)", n), nil
}

// dependents lists the views that use the relation (those that use the
// dropped columns, when columns are dropped) and the foreign keys of
// other tables that reference it, each with what the statement does to
// it; TRUNCATE ... CASCADE also empties the referencing tables, whose
// rows are described.
func (d *describer) dependents(ctx context.Context, oid uint32, dropped []string) ([]string, error) {
	rows, err := d.tx.Query(ctx, `SELECT DISTINCT 'view', format('%I.%I', vn.nspname, v.relname), 0::oid, ''
		FROM pg_catalog.pg_depend dp JOIN pg_catalog.pg_rewrite r ON r.oid = dp.objid
		JOIN pg_catalog.pg_class v ON v.oid = r.ev_class JOIN pg_catalog.pg_namespace vn ON vn.oid = v.relnamespace
		WHERE dp.classid = 'pg_catalog.pg_rewrite'::regclass AND dp.refclassid = 'pg_catalog.pg_class'::regclass
		AND dp.refobjid = $1 AND v.oid <> $1
		AND (coalesce(cardinality($2::text[]), 0) = 0 OR dp.refobjsubid IN (SELECT attnum FROM pg_catalog.pg_attribute WHERE attrelid = $1 AND attname = ANY ($2)))
		UNION ALL SELECT 'foreign key', format('%I', k.conname) || ' of ' || format('%I.%I', n.nspname, t.relname), t.oid,
			CASE k.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' ELSE '' END
		FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class t ON t.oid = k.conrelid
		JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
		WHERE k.contype = 'f' AND k.confrelid = $1 AND k.conrelid <> $1 AND k.conparentid = 0 AND coalesce(cardinality($2::text[]), 0) = 0
		ORDER BY 1, 2`, oid, dropped)
	if err != nil {
		return nil, err
	}
	type dep struct {
		kind, what string
		child      uint32
		onDelete   string
	}
	deps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (dep, error) {
		var x dep
		return x, r.Scan(&x.kind, &x.what, &x.child, &x.onDelete)
	})
	if err != nil {
		return nil, err
	}
	var out []string
	st := d.st
	for _, x := range deps {
		view := x.kind == "view"
		f := x.kind + " " + x.what
		if view {
			f += " uses it"
		} else {
			f += " references it"
		}
		switch {
		case st.Verb == "DELETE" && x.onDelete == "CASCADE":
			f += " (ON DELETE CASCADE: deleting its rows deletes theirs)"
		case st.Verb == "DELETE" && x.onDelete != "":
			f += " (ON DELETE " + x.onDelete + ")"
		case st.Verb == "DROP" && st.Cascade && view:
			f += " and is dropped with it (CASCADE)"
		case st.Verb == "DROP" && st.Cascade:
			f += " and is dropped (CASCADE; the rows of its table stay)"
		case st.Verb == "DROP" || st.DropsColumn && !st.Cascade:
			f += ", so the " + st.Verb + " fails without CASCADE"
		case st.Verb == "TRUNCATE" && !view && st.Cascade:
			var child string
			if err := d.tx.QueryRow(ctx, `SELECT format('%I.%I', n.nspname, c.relname) FROM pg_catalog.pg_class c
				JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1`, x.child).Scan(&child); err != nil {
				return out, err
			}
			rows, err := d.rows(ctx, x.child, "r", child)
			if err != nil {
				return out, err
			}
			f += ", and TRUNCATE ... CASCADE empties table " + child + rows + " too"
		case st.Verb == "TRUNCATE" && !view:
			f += ", so the TRUNCATE fails without CASCADE"
		}
		out = append(out, f)
	}
	return out, nil
}

// schemas describes the tables of the schemas DROP SCHEMA drops: with
// CASCADE they go along, without it the DROP fails while there are any.
func (d *describer) schemas(ctx context.Context) ([]string, error) {
	var out []string
	for _, t := range d.st.Targets {
		rows, err := d.tx.Query(ctx, `SELECT c.oid, c.relkind::text, format('%I.%I', n.nspname, c.relname), count(*) OVER ()
			FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'm') AND NOT c.relispartition ORDER BY c.relname LIMIT $2`, t.Name, schemaTables)
		if err != nil {
			return out, fmt.Errorf("postgres: listing the tables of schema %s: %w", t.Name, err)
		}
		type rel struct {
			oid         uint32
			kind, shown string
			total       int64
		}
		rels, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (rel, error) {
			var x rel
			return x, r.Scan(&x.oid, &x.kind, &x.shown, &x.total)
		})
		if err != nil {
			return out, fmt.Errorf("postgres: listing the tables of schema %s: %w", t.Name, err)
		}
		for _, x := range rels {
			n, err := d.rows(ctx, x.oid, x.kind, x.shown)
			if err != nil {
				return out, err
			}
			f := relkindName(x.kind) + " " + x.shown + n
			if !d.st.Cascade {
				f += ", so the DROP fails without CASCADE"
			}
			out = append(out, f)
		}
		if len(rels) > 0 && rels[0].total > int64(len(rels)) {
			out = append(out, fmt.Sprintf("and %d more table(s) of schema %s", rels[0].total-int64(len(rels)), t.Name))
		}
	}
	return out, nil
}
