package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"

	"lifebelt/engine"
)

// withCatalogPath runs fn with search_path emptied for the rest of the
// current transaction and restores it afterwards. With an empty path
// format_type, pg_get_expr, pg_get_viewdef and the other pg_get_* functions
// schema-qualify every name outside pg_catalog (pg_dump does the same), so
// captured types and definitions mean the same thing in a later session
// whatever its search_path. It must run inside a transaction: outside one,
// set_config(..., true) lasts a single statement and names may come out
// unqualified.
func withCatalogPath(ctx context.Context, q querier, fn func() error) error {
	var old string
	// OFFSET 0 keeps the subquery from being flattened, so the old value is
	// read before set_config runs.
	err := q.QueryRow(ctx, `SELECT s.old, pg_catalog.set_config('search_path', '', true)
		FROM (SELECT pg_catalog.current_setting('search_path') AS old OFFSET 0) s`).Scan(&old, new(string))
	if err != nil {
		return fmt.Errorf("postgres: clearing search_path for inspection: %w", err)
	}
	ferr := fn()
	if _, err := q.Exec(ctx, `SELECT pg_catalog.set_config('search_path', $1, true)`, old); err != nil && ferr == nil {
		ferr = fmt.Errorf("postgres: restoring search_path after inspection: %w", err)
	}
	return ferr
}

// resolveRelation resolves a possibly unqualified relation name the way the
// server would (search_path for an unqualified name). ok is false when no
// such relation exists.
func resolveRelation(ctx context.Context, q querier, n engine.Name) (oid uint32, schema, name string, relkind byte, ok bool, err error) {
	var kind string
	err = q.QueryRow(ctx, `SELECT c.oid, n.nspname, c.relname, c.relkind::text
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE c.oid = pg_catalog.to_regclass($1)`, quoteQualified(n.Schema, n.Name)).Scan(&oid, &schema, &name, &kind)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, "", "", 0, false, nil
	}
	if err != nil {
		return 0, "", "", 0, false, fmt.Errorf("postgres: resolving %s: %w", n, err)
	}
	if kind == "" {
		return 0, "", "", 0, false, fmt.Errorf("postgres: resolving %s: empty relkind", n)
	}
	return oid, schema, name, kind[0], true, nil
}

// relationName returns the schema and name of a relation by oid.
func relationName(ctx context.Context, q querier, oid uint32) (schema, name string, relkind byte, err error) {
	var kind string
	err = q.QueryRow(ctx, `SELECT n.nspname, c.relname, c.relkind::text
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE c.oid = $1`, oid).Scan(&schema, &name, &kind)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", "", 0, fmt.Errorf("postgres: no relation has oid %d", oid)
	}
	if err != nil {
		return "", "", 0, fmt.Errorf("postgres: looking up relation %d: %w", oid, err)
	}
	return schema, name, kind[0], nil
}

// loadTable describes a table for row images. Column types are format_type
// output with an empty search_path, so they can be used in a CAST in any
// session. The key is the primary key, else the unique index with the
// fewest columns whose columns are all NOT NULL (non-partial, without
// expressions), else the whole row (every non-generated column).
func loadTable(ctx context.Context, q querier, oid uint32) (engine.TableInfo, error) {
	var t engine.TableInfo
	err := withCatalogPath(ctx, q, func() error {
		var err error
		t.Schema, t.Name, _, err = relationName(ctx, q, oid)
		if err != nil {
			return err
		}
		rows, err := q.Query(ctx, `SELECT a.attnum, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),
				a.attnotnull, a.attgenerated = 's', a.attidentity::text
			FROM pg_catalog.pg_attribute a
			WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, oid)
		if err != nil {
			return err
		}
		pos := map[int16]int{}
		for rows.Next() {
			var num int16
			var c engine.Column
			var ident string
			if err := rows.Scan(&num, &c.Name, &c.Type, &c.NotNull, &c.Generated, &ident); err != nil {
				rows.Close()
				return err
			}
			switch ident {
			case "a":
				c.Identity = "always"
			case "d":
				c.Identity = "default"
			}
			pos[num] = len(t.Columns)
			t.Columns = append(t.Columns, c)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = q.Query(ctx, `SELECT i.indisprimary,
				ARRAY(SELECT k.n FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(n, o)
					WHERE k.o <= i.indnkeyatts ORDER BY k.o),
				NOT EXISTS (SELECT 1 FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(n, o)
					LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n
					WHERE k.o <= i.indnkeyatts AND NOT coalesce(a.attnotnull, false))
			FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
			WHERE i.indrelid = $1 AND i.indisunique AND i.indisvalid
				AND i.indpred IS NULL AND i.indexprs IS NULL
			ORDER BY i.indisprimary DESC, i.indnkeyatts, ic.relname`, oid)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var primary, notNull bool
			var nums []int16
			if err := rows.Scan(&primary, &nums, &notNull); err != nil {
				return err
			}
			if !primary && !notNull {
				continue
			}
			key := make([]int, 0, len(nums))
			for _, n := range nums {
				p, ok := pos[n]
				if !ok {
					key = nil
					break
				}
				key = append(key, p)
			}
			if len(key) == 0 {
				continue
			}
			t.Key = key
			t.KeyKind = engine.KeyUnique
			if primary {
				t.KeyKind = engine.KeyPrimary
			}
			break
		}
		return rows.Err()
	})
	if err != nil {
		return engine.TableInfo{}, fmt.Errorf("postgres: describing table %s: %w", describeOID(t, oid), err)
	}
	if t.KeyKind == "" {
		t.KeyKind = engine.KeyRow
		for i, c := range t.Columns {
			if !c.Generated {
				t.Key = append(t.Key, i)
			}
		}
	}
	return t, nil
}

func describeOID(t engine.TableInfo, oid uint32) string {
	if t.Name != "" {
		return t.QualifiedName()
	}
	return fmt.Sprintf("with oid %d", oid)
}

// fkChild is a foreign key referencing a parent table.
type fkChild struct {
	Child                 uint32
	ChildCols, ParentCols []string
	// OnDelete and OnUpdate are confdeltype/confupdtype: 'a' no action,
	// 'r' restrict, 'c' cascade, 'n' set null, 'd' set default.
	OnDelete, OnUpdate byte
}

// fkChildren lists the foreign keys that reference parent. A foreign key on
// a partitioned child is listed once (not once per partition, whose rows
// the partitioned table covers); a foreign key referencing a partitioned
// table is found from each of its partitions too.
func fkChildren(ctx context.Context, q querier, parent uint32) ([]fkChild, error) {
	rows, err := q.Query(ctx, `SELECT k.conrelid,
			ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY AS u(n, o)
				JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.o),
			ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY AS u(n, o)
				JOIN pg_catalog.pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.o),
			k.confdeltype::text, k.confupdtype::text
		FROM pg_catalog.pg_constraint k
		LEFT JOIN pg_catalog.pg_constraint pk ON pk.oid = k.conparentid
		WHERE k.contype = 'f' AND k.confrelid = $1
			AND (k.conparentid = 0 OR pk.conrelid = k.conrelid)
		ORDER BY k.conrelid, k.conname`, parent)
	if err != nil {
		return nil, fmt.Errorf("postgres: listing foreign keys referencing table %d: %w", parent, err)
	}
	var out []fkChild
	for rows.Next() {
		var f fkChild
		var del, upd string
		if err := rows.Scan(&f.Child, &f.ChildCols, &f.ParentCols, &del, &upd); err != nil {
			rows.Close()
			return nil, fmt.Errorf("postgres: listing foreign keys referencing table %d: %w", parent, err)
		}
		f.OnDelete, f.OnUpdate = firstByte(del), firstByte(upd)
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: listing foreign keys referencing table %d: %w", parent, err)
	}
	return out, nil
}

func firstByte(s string) byte {
	if s == "" {
		return 0
	}
	return s[0]
}

// triggerEventBits are the TRIGGER_TYPE_* bits of pg_trigger.tgtype.
var triggerEventBits = map[string]int{"INSERT": 1 << 2, "DELETE": 1 << 3, "UPDATE": 1 << 4, "TRUNCATE": 1 << 5}

// userTriggers names the user (non-internal) triggers on the table that
// fire for event ("INSERT", "UPDATE", "DELETE" or "TRUNCATE") in this
// session: ENABLE ALWAYS triggers always, plain enabled ones unless
// session_replication_role is replica, ENABLE REPLICA ones only then.
func userTriggers(ctx context.Context, q querier, oid uint32, event string) ([]string, error) {
	bit, ok := triggerEventBits[event]
	if !ok {
		return nil, fmt.Errorf("postgres: unknown trigger event %q", event)
	}
	rows, err := q.Query(ctx, `SELECT t.tgname::text FROM pg_catalog.pg_trigger t
		WHERE t.tgrelid = $1 AND NOT t.tgisinternal AND (t.tgtype::int & $2) <> 0
			AND CASE t.tgenabled
				WHEN 'A' THEN true
				WHEN 'O' THEN pg_catalog.current_setting('session_replication_role') <> 'replica'
				WHEN 'R' THEN pg_catalog.current_setting('session_replication_role') = 'replica'
				ELSE false END`, oid, bit)
	if err != nil {
		return nil, fmt.Errorf("postgres: listing %s triggers of table %d: %w", event, oid, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: listing %s triggers of table %d: %w", event, oid, err)
	}
	sort.Strings(names)
	return names, nil
}
