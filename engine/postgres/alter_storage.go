package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"lifebelt/engine"
)

// Undoing ALTER TABLE ... SET LOGGED, SET UNLOGGED and SET TABLESPACE:
// each is taken back by its opposite (SET UNLOGGED after a bulk load and
// a SET LOGGED forgotten leave a table PostgreSQL empties after a crash).
// The rows stay as they are; the definition (UNLOGGED, TABLESPACE) must
// come back exactly.

// onlyMovesStorage reports whether every subcommand is SET LOGGED, SET
// UNLOGGED or SET TABLESPACE.
func onlyMovesStorage(s *pg_query.AlterTableStmt) bool {
	return onlyCmds(s, pg_query.AlterTableType_AT_SetLogged, pg_query.AlterTableType_AT_SetUnLogged, pg_query.AlterTableType_AT_SetTableSpace)
}

// storageState is a table's persistence and tablespace.
type storageState struct {
	persistence, tablespace string // tablespace "" is the database's default
	inherits                bool
	// seqs: the persistence of each sequence the table owns, by quoted
	// name; SET LOGGED/UNLOGGED sets theirs to the table's.
	seqs map[string]string
}

func readStorage(ctx context.Context, q querier, oid uint32) (storageState, error) {
	var st storageState
	err := q.QueryRow(ctx, `SELECT c.relpersistence::text, coalesce(t.spcname::text, ''),
			EXISTS (SELECT 1 FROM pg_catalog.pg_inherits WHERE inhrelid = c.oid OR inhparent = c.oid)
		FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_tablespace t ON t.oid = c.reltablespace WHERE c.oid = $1`, oid).
		Scan(&st.persistence, &st.tablespace, &st.inherits)
	if err != nil {
		return st, fmt.Errorf("postgres: reading the storage of table %d: %w", oid, err)
	}
	rows, err := q.Query(ctx, `SELECT n.nspname::text, s.relname::text, s.relpersistence::text FROM pg_catalog.pg_depend d
		JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S' JOIN pg_catalog.pg_namespace n ON n.oid = s.relnamespace
		WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass
		AND d.refobjid = $1 AND d.deptype IN ('a', 'i')`, oid)
	if err != nil {
		return st, fmt.Errorf("postgres: reading the sequences of table %d: %w", oid, err)
	}
	defer rows.Close()
	st.seqs = map[string]string{}
	for rows.Next() {
		var schema, name, p string
		if err := rows.Scan(&schema, &name, &p); err != nil {
			return st, fmt.Errorf("postgres: reading the sequences of table %d: %w", oid, err)
		}
		st.seqs[quoteQualified(schema, name)] = p
	}
	return st, rows.Err()
}

// storageReverts attaches the statements that take the table from one
// state to the other, both ways. It returns why there are none.
func storageReverts(ctx context.Context, q querier, schema, name string, was, now storageState, before, after *engine.Definition) (string, error) {
	if was.inherits {
		return "the table has partitions, inheritance children or parents", nil
	}
	to := func(from, st storageState) ([]string, error) {
		var subs []string
		if from.persistence != st.persistence {
			switch st.persistence {
			case "p":
				subs = append(subs, "SET LOGGED")
			case "u":
				subs = append(subs, "SET UNLOGGED")
			default:
				return nil, nil
			}
		}
		if from.tablespace != st.tablespace {
			ts := st.tablespace
			if ts == "" {
				// The database's default tablespace, by its name.
				if err := q.QueryRow(ctx, `SELECT t.spcname::text FROM pg_catalog.pg_database d
					JOIN pg_catalog.pg_tablespace t ON t.oid = d.dattablespace WHERE d.datname = current_database()`).Scan(&ts); err != nil {
					return nil, fmt.Errorf("postgres: reading the default tablespace: %w", err)
				}
			}
			subs = append(subs, "SET TABLESPACE "+quoteIdent(ts))
		}
		if len(subs) == 0 {
			return []string{}, nil
		}
		out := []string{"ALTER TABLE ONLY " + quoteQualified(schema, name) + " " + strings.Join(subs, ", ")}
		if from.persistence != st.persistence {
			// Its owned sequences took the table's persistence; those
			// that had another get theirs back (sorted: the same text
			// every time).
			var seqs []string
			for seq := range st.seqs {
				seqs = append(seqs, seq)
			}
			slices.Sort(seqs)
			for _, seq := range seqs {
				switch p := st.seqs[seq]; {
				case p == st.persistence:
				case p == "p":
					out = append(out, "ALTER SEQUENCE "+seq+" SET LOGGED")
				case p == "u":
					out = append(out, "ALTER SEQUENCE "+seq+" SET UNLOGGED")
				}
			}
		}
		return out, nil
	}
	undo, err := to(now, was)
	if err != nil || undo == nil {
		return "", err
	}
	redo, err := to(was, now)
	if err != nil || redo == nil {
		return "", err
	}
	after.Revert = &engine.Revert{Schema: schema, Name: name, Statements: undo, Exact: true, KeepsRows: true}
	before.Revert = &engine.Revert{Schema: schema, Name: name, Statements: redo, Exact: true, KeepsRows: true}
	return "", nil
}
