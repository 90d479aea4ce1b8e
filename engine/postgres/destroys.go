package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"lifebelt/engine"
)

var _ engine.DestructionDescriber = (*conn)(nil)

// bigTable is the row estimate above which a destructive statement's
// confirmation reports the planner's estimate rather than counting.
const bigTable = 1_000_000

// DescribeDestruction says what a destructive statement would destroy:
// each relation it names, with its rows (counted, or estimated for big
// tables), the views that use it and the foreign keys of other tables
// that reference it. Objects that are not relations are left out.
func (c *conn) DescribeDestruction(ctx context.Context, st engine.Statement) (out []string, err error) {
	// In a transaction of its own, rolled back, with short lock and
	// statement timeouts: a table another session holds locked is
	// described without its rows rather than making the refusal wait.
	tx, err := c.pg.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '2s'; SET LOCAL statement_timeout = '10s'"); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	for _, t := range st.Targets {
		name := quoteIdent(t.Name)
		if t.Schema != "" {
			name = quoteQualified(t.Schema, t.Name)
		}
		var oid uint32
		var relkind, shown string
		var estimate float64
		err := tx.QueryRow(ctx, `SELECT c.oid, c.relkind::text, c.reltuples::float8, format('%I.%I', n.nspname, c.relname)
			FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
			WHERE c.oid = pg_catalog.to_regclass($1)`, name).Scan(&oid, &relkind, &estimate, &shown)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("postgres: describing %s: %w", name, err)
		}
		kind := map[string]string{"r": "table", "p": "partitioned table", "v": "view", "m": "materialized view",
			"f": "foreign table", "S": "sequence", "i": "index", "I": "partitioned index"}[relkind]
		if kind == "" {
			kind = "relation"
		}
		fact := kind + " " + shown
		switch relkind {
		case "r", "p", "m":
			if estimate > bigTable {
				fact += fmt.Sprintf(" with about %.0f rows (estimated)", estimate)
			} else {
				var n int64
				if _, err := tx.Exec(ctx, "SAVEPOINT lifebelt_count"); err != nil {
					return out, fmt.Errorf("postgres: %w", err)
				}
				if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+name).Scan(&n); err != nil {
					if ctx.Err() != nil {
						return out, err
					}
					if _, rerr := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT lifebelt_count"); rerr != nil {
						return out, fmt.Errorf("postgres: counting the rows of %s (%v): %w", shown, err, rerr)
					}
					why := err.Error()
					var pe *pgconn.PgError
					if errors.As(err, &pe) && pe.Code == "55P03" {
						why = "another session holds it locked"
					}
					fact += " (its rows not counted: " + why + ")"
				} else {
					fact += fmt.Sprintf(" with %d row(s)", n)
				}
			}
		}
		out = append(out, fact)
		deps, err := stringRows(ctx, tx, `SELECT DISTINCT 'view ' || format('%I.%I', vn.nspname, v.relname) || ' uses it'
			FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid
			JOIN pg_catalog.pg_class v ON v.oid = r.ev_class JOIN pg_catalog.pg_namespace vn ON vn.oid = v.relnamespace
			WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass
			AND d.refobjid = $1 AND v.oid <> $1
			UNION ALL SELECT 'foreign key ' || format('%I', k.conname) || ' of ' || format('%I.%I', n.nspname, t.relname) || ' references it'
				|| CASE WHEN NOT $2 THEN '' WHEN k.confdeltype = 'c' THEN ' (ON DELETE CASCADE: deleting its rows deletes theirs)'
					WHEN k.confdeltype = 'n' THEN ' (ON DELETE SET NULL)' WHEN k.confdeltype = 'd' THEN ' (ON DELETE SET DEFAULT)' ELSE '' END
			FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class t ON t.oid = k.conrelid
			JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
			WHERE k.contype = 'f' AND k.confrelid = $1 AND k.conrelid <> $1 AND k.conparentid = 0
			ORDER BY 1`, oid, st.Verb == "DELETE")
		if err != nil {
			return out, fmt.Errorf("postgres: reading what depends on %s: %w", shown, err)
		}
		for _, d := range deps {
			out = append(out, d+consequence(st, strings.HasPrefix(d, "view ")))
		}
	}
	return out, nil
}

// consequence says what the statement does to a view that uses, or a
// foreign key that references, what it destroys.
func consequence(st engine.Statement, view bool) string {
	switch {
	case st.Verb == "DROP" && st.Cascade && view:
		return " and is dropped with it (CASCADE)"
	case st.Verb == "DROP" && st.Cascade:
		return " and is dropped (CASCADE)"
	case st.Verb == "DROP":
		return ", so the DROP fails without CASCADE"
	case st.Verb == "TRUNCATE" && !view && st.Cascade:
		return ", and TRUNCATE ... CASCADE empties that table too"
	case st.Verb == "TRUNCATE" && !view:
		return ", so the TRUNCATE fails without CASCADE"
	}
	return ""
}
