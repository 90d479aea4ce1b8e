package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"lifebelt/engine"
)

// Under session_replication_role = replica (PrepareUndo) the foreign-key
// triggers do not run while undo writes rows: no ON DELETE action deletes
// or changes rows of others, and rows go back in any order. The reference
// check (engine.ReferenceChecker) then looks at the final state with each
// key's own equality operator (pg_constraint.conpfeqop), as the
// foreign-key triggers compare.
//
// The undo runs at READ COMMITTED (BeginUndo), so the check's statements
// see rows other sessions committed while the undo ran. A session adding
// a referring row later must lock the parent row FOR KEY SHARE: the undo
// deleted it, or changed its key, and holds that row's lock until it
// ends, after which the session finds the row gone and fails. Parent rows
// the undo's own rows refer to are locked FOR KEY SHARE by the check
// (Dangling), so that no one deletes them before the undo commits.

var _ engine.ReferenceChecker = (*pgTx)(nil)

// qForeignKeys lists the foreign keys in which $1 (a quoted name), one of
// its partitioned ancestors or one of its partitions is the referencing
// or referenced table (rows written through a partitioned table land in
// its partitions, which may have keys of their own or be referred to).
// Only the constraints users declared (conparentid = 0) are listed: those
// PostgreSQL clones onto partitions are the same keys.
const qForeignKeys = `WITH RECURSIVE up(oid) AS (
		SELECT pg_catalog.to_regclass($1)::oid
		UNION
		SELECT i.inhparent FROM pg_catalog.pg_inherits i JOIN up ON i.inhrelid = up.oid
			JOIN pg_catalog.pg_class k ON k.oid = i.inhrelid AND k.relispartition
	), down(oid) AS (
		SELECT pg_catalog.to_regclass($1)::oid
		UNION
		SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN down ON i.inhparent = down.oid
			JOIN pg_catalog.pg_class k ON k.oid = i.inhrelid AND k.relispartition
	), rel(oid) AS (SELECT oid FROM up UNION SELECT oid FROM down)
	SELECT f.oid::text, f.conname, cn.nspname, cc.relname, pn.nspname, pc.relname,
		ARRAY(SELECT a.attname FROM pg_catalog.unnest(f.conkey) WITH ORDINALITY u(n, o)
			JOIN pg_catalog.pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = u.n ORDER BY u.o)::text[],
		ARRAY(SELECT a.attname FROM pg_catalog.unnest(f.confkey) WITH ORDINALITY u(n, o)
			JOIN pg_catalog.pg_attribute a ON a.attrelid = f.confrelid AND a.attnum = u.n ORDER BY u.o)::text[],
		f.conrelid IN (SELECT oid FROM rel), f.confrelid IN (SELECT oid FROM rel), f.confmatchtype = 'f',
		f.conrelid IN (SELECT oid FROM down) AND f.conrelid <> pg_catalog.to_regclass($1)::oid,
		f.confrelid IN (SELECT oid FROM down) AND f.confrelid <> pg_catalog.to_regclass($1)::oid,
		EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type ty ON ty.oid = a.atttypid
			WHERE a.attrelid = f.conrelid AND a.attnum = ANY (f.conkey)
				AND (a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '' OR ty.typtype = 'd'))
	FROM pg_catalog.pg_constraint f
	JOIN pg_catalog.pg_class cc ON cc.oid = f.conrelid
	JOIN pg_catalog.pg_namespace cn ON cn.oid = cc.relnamespace
	JOIN pg_catalog.pg_class pc ON pc.oid = f.confrelid
	JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace
	WHERE f.contype = 'f' AND f.conparentid = 0
		AND (f.conrelid IN (SELECT oid FROM rel) OR f.confrelid IN (SELECT oid FROM rel))
	ORDER BY f.oid`

// ForeignKeys lists the foreign keys of t, as referencing and as
// referenced table.
func (x *pgTx) ForeignKeys(ctx context.Context, t engine.TableInfo) ([]engine.TableForeignKey, error) {
	rows, err := x.tx.Query(ctx, qForeignKeys, quoteQualified(t.Schema, t.Name))
	if err != nil {
		return nil, fmt.Errorf("postgres: listing the foreign keys of %s: %w", t.QualifiedName(), err)
	}
	defer rows.Close()
	var out []engine.TableForeignKey
	for rows.Next() {
		var fk engine.ForeignKey
		var child, parent, childBelow, parentBelow bool
		if err := rows.Scan(&fk.ID, &fk.Name, &fk.Child.Schema, &fk.Child.Name, &fk.Parent.Schema, &fk.Parent.Name,
			&fk.ChildCols, &fk.ParentCols, &child, &parent, &fk.MatchFull, &childBelow, &parentBelow, &fk.ChildDefault); err != nil {
			return nil, fmt.Errorf("postgres: listing the foreign keys of %s: %w", t.QualifiedName(), err)
		}
		if len(fk.ChildCols) == 0 || len(fk.ChildCols) != len(fk.ParentCols) {
			return nil, fmt.Errorf("postgres: foreign key %s of %s has %d referencing and %d referenced columns", fk.Name, t.QualifiedName(), len(fk.ChildCols), len(fk.ParentCols))
		}
		if child {
			out = append(out, engine.TableForeignKey{ForeignKey: fk, Always: childBelow})
		}
		if parent {
			out = append(out, engine.TableForeignKey{ForeignKey: fk, Referenced: true, Always: parentBelow})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: listing the foreign keys of %s: %w", t.QualifiedName(), err)
	}
	return out, nil
}

// qKeyColumns describes a foreign key's columns for the check, in key
// order: the referencing and referenced column, the types to read values
// as (by their catalog names, which carry no type modifier: bit and
// character keep their length), the key's equality operator with its
// operand types, the COLLATE clause comparing under the referenced
// column's collation where the referencing one's differs (as the
// foreign-key triggers do for a nondeterministic one; for deterministic
// ones equality is the same), and the referencing type's own equality
// (conffeqop); then both tables, and whether they are partitioned.
const qKeyColumns = `SELECT pg_catalog.quote_ident(ca.attname), pg_catalog.quote_ident(pa.attname),
		pg_catalog.format('%I.%I', ctn.nspname, ct.typname), pg_catalog.format('%I.%I', ptn.nspname, pt.typname),
		pg_catalog.format('OPERATOR(%I.%s)', opn.nspname, op.oprname),
		pg_catalog.format('%I.%I', ltn.nspname, lt.typname), pg_catalog.format('%I.%I', rtn.nspname, rt.typname),
		CASE WHEN pa.attcollation <> 0 AND pa.attcollation <> ca.attcollation
			THEN (SELECT pg_catalog.format(' COLLATE %I.%I', coln.nspname, col.collname) FROM pg_catalog.pg_collation col
				JOIN pg_catalog.pg_namespace coln ON coln.oid = col.collnamespace WHERE col.oid = pa.attcollation)
			ELSE '' END,
		pg_catalog.format('OPERATOR(%I.%s)', fopn.nspname, fop.oprname),
		pg_catalog.format('%I.%I', fltn.nspname, flt.typname), pg_catalog.format('%I.%I', frtn.nspname, frt.typname),
		pg_catalog.format('%I.%I', ccn.nspname, cc.relname), cc.relkind = 'p',
		pg_catalog.format('%I.%I', pcn.nspname, pc.relname), pc.relkind = 'p'
	FROM pg_catalog.pg_constraint f
	CROSS JOIN LATERAL ROWS FROM (pg_catalog.unnest(f.conkey), pg_catalog.unnest(f.confkey), pg_catalog.unnest(f.conpfeqop),
		pg_catalog.unnest(f.conffeqop)) WITH ORDINALITY AS u(ck, pk, op, fop, o)
	JOIN pg_catalog.pg_operator op ON op.oid = u.op
	JOIN pg_catalog.pg_namespace opn ON opn.oid = op.oprnamespace
	JOIN pg_catalog.pg_type lt ON lt.oid = op.oprleft
	JOIN pg_catalog.pg_namespace ltn ON ltn.oid = lt.typnamespace
	JOIN pg_catalog.pg_type rt ON rt.oid = op.oprright
	JOIN pg_catalog.pg_namespace rtn ON rtn.oid = rt.typnamespace
	JOIN pg_catalog.pg_operator fop ON fop.oid = u.fop
	JOIN pg_catalog.pg_namespace fopn ON fopn.oid = fop.oprnamespace
	JOIN pg_catalog.pg_type flt ON flt.oid = fop.oprleft
	JOIN pg_catalog.pg_namespace fltn ON fltn.oid = flt.typnamespace
	JOIN pg_catalog.pg_type frt ON frt.oid = fop.oprright
	JOIN pg_catalog.pg_namespace frtn ON frtn.oid = frt.typnamespace
	JOIN pg_catalog.pg_attribute ca ON ca.attrelid = f.conrelid AND ca.attnum = u.ck
	JOIN pg_catalog.pg_type ct ON ct.oid = ca.atttypid
	JOIN pg_catalog.pg_namespace ctn ON ctn.oid = ct.typnamespace
	JOIN pg_catalog.pg_attribute pa ON pa.attrelid = f.confrelid AND pa.attnum = u.pk
	JOIN pg_catalog.pg_type pt ON pt.oid = pa.atttypid
	JOIN pg_catalog.pg_namespace ptn ON ptn.oid = pt.typnamespace
	JOIN pg_catalog.pg_class cc ON cc.oid = f.conrelid
	JOIN pg_catalog.pg_namespace ccn ON ccn.oid = cc.relnamespace
	JOIN pg_catalog.pg_class pc ON pc.oid = f.confrelid
	JOIN pg_catalog.pg_namespace pcn ON pcn.oid = pc.relnamespace
	WHERE f.oid = $1::oid
	ORDER BY u.o`

type keyColumn struct {
	child, parent           string // quoted column names
	childType, parentType   string // qualified type names
	op, opLeft, opRight     string // the key's equality, parent = child
	collate                 string // "" or " COLLATE ..." for the child side
	eq, eqLeft, eqRight     string // the child type's equality
	childTable, parentTable string
	childPart, parentPart   bool
}

func (x *pgTx) keyColumns(ctx context.Context, fk engine.ForeignKey) ([]keyColumn, error) {
	rows, err := x.tx.Query(ctx, qKeyColumns, fk.ID)
	if err != nil {
		return nil, err
	}
	cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (keyColumn, error) {
		var k keyColumn
		err := r.Scan(&k.child, &k.parent, &k.childType, &k.parentType, &k.op, &k.opLeft, &k.opRight, &k.collate,
			&k.eq, &k.eqLeft, &k.eqRight, &k.childTable, &k.childPart, &k.parentTable, &k.parentPart)
		return k, err
	})
	if err != nil {
		return nil, err
	}
	return cols, nil
}

// only is the ONLY of a table the foreign-key triggers read without its
// inheritance children (a partitioned table is read whole).
func only(partitioned bool) string {
	if partitioned {
		return ""
	}
	return "ONLY "
}

// Dangling implements the reference check for one foreign key. Without
// the replica role the foreign-key triggers enforced the key while undo
// wrote rows, and only what their actions did is left to check
// (actionsFired). Under it, the reads run with row_security off, so that
// rows row-level security hides from the session are not missed: where
// it applies, the check fails instead. Parent rows that rows the undo
// wrote refer to are locked FOR KEY SHARE, as the foreign-key trigger
// would: a session deleting one since the undo's snapshot makes the undo
// fail (serialization), and one deleting it later waits for the undo and
// then sees its rows.
func (x *pgTx) Dangling(ctx context.Context, fk engine.ForeignKey, removed, written [][]engine.Value, limit int) (out []engine.Dangling, err error) {
	if !x.replica {
		if len(removed) == 0 {
			return nil, nil
		}
		cols, err := x.keyColumns(ctx, fk)
		if err != nil || len(cols) == 0 {
			return nil, err
		}
		return nil, x.actionsFired(ctx, fk, cols[0].childTable)
	}
	cols, err := x.keyColumns(ctx, fk)
	if err != nil {
		return nil, fmt.Errorf("postgres: reading its definition: %w", err)
	}
	if len(cols) == 0 {
		return nil, nil // dropped since
	}
	restore, err := x.rowSecurityOff(ctx)
	if err != nil {
		return nil, err
	}
	defer func() {
		if rerr := restore(); rerr != nil && err == nil {
			err = rerr
		}
	}()
	n := len(cols)
	idx := make([]int, n)
	sel := make([]string, n)
	for i, k := range cols {
		idx[i] = i
		sel[i] = "c." + k.child
	}
	child := only(cols[0].childPart) + cols[0].childTable + " AS c"
	// noParent renders "no row of the parent has the child's values", with
	// the key's own operators, locking the rows it finds when lock is set.
	noParent := func(lock bool) string {
		conds := make([]string, n)
		for i, k := range cols {
			conds[i] = "(p." + k.parent + ")::" + k.opLeft + " " + k.op + " (c." + k.child + ")::" + k.opRight + k.collate
		}
		q := "NOT EXISTS (SELECT 1 FROM " + only(cols[0].parentPart) + cols[0].parentTable + " AS p WHERE " + strings.Join(conds, " AND ")
		if lock {
			q += " FOR KEY SHARE OF p"
		}
		return q + ")"
	}
	tail := " GROUP BY " + strings.Join(sel, ", ") + " LIMIT " + strconv.Itoa(limit)
	collect := func(q string, args []any, restored bool) error {
		rows, err := queryText(ctx, x.tx, q, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			raw := rows.RawValues()
			cnt, err := strconv.ParseInt(string(raw[n]), 10, 64)
			if err != nil {
				rows.Close()
				return fmt.Errorf("bad count %q", raw[n])
			}
			out = append(out, engine.Dangling{FK: fk, Values: rawToValues(raw[:n], nil), Rows: cnt, Restored: restored})
		}
		return rows.Err()
	}
	if len(written) > 0 {
		var whole, partial [][]engine.Value
		for _, w := range written {
			if slices.ContainsFunc(w, func(v engine.Value) bool { return v.K == engine.NullKind }) {
				partial = append(partial, w)
			} else {
				whole = append(whole, w)
			}
		}
		// The rows holding written values, found with the referencing
		// type's own equality (an index on the columns serves it).
		if len(whole) > 0 {
			match := make([]string, n)
			for i, k := range cols {
				match[i] = "(c." + k.child + ")::" + k.eqLeft + " " + k.eq + " ((w.c" + strconv.Itoa(i+1) + ")::" + k.childType + ")::" + k.eqRight
			}
			q := "SELECT " + strings.Join(sel, ", ") + ", count(*) FROM " + child + " WHERE EXISTS (SELECT 1 FROM " + unnestAs(n, "w") +
				" WHERE " + strings.Join(match, " AND ") + ") AND " + noParent(true) + tail
			if err := collect(q, columnArgs(whole, idx), true); err != nil {
				var pe *pgconn.PgError
				if errors.As(err, &pe) && pe.Code == "42501" {
					return nil, fmt.Errorf("postgres: undo must lock the rows of %s that rows it wrote refer to (FOR KEY SHARE, which needs UPDATE on that table) so that nobody deletes them before it commits, and may not: %w", cols[0].parentTable, err)
				}
				return nil, fmt.Errorf("postgres: looking for rows undo put back that refer to nothing: %w", err)
			}
		}
		// MATCH FULL: rows with some key columns NULL refer to nothing
		// and violate the key (the engine passes those only for MATCH
		// FULL keys).
		if len(partial) > 0 {
			match := make([]string, n)
			for i, k := range cols {
				w := "(w.c" + strconv.Itoa(i+1) + ")::" + k.childType
				match[i] = "((c." + k.child + " IS NULL AND " + w + " IS NULL) OR (c." + k.child + ")::" + k.eqLeft + " " + k.eq + " (" + w + ")::" + k.eqRight + ")"
			}
			q := "SELECT " + strings.Join(sel, ", ") + ", count(*) FROM " + child + " WHERE EXISTS (SELECT 1 FROM " + unnestAs(n, "w") +
				" WHERE " + strings.Join(match, " AND ") + ")" + tail
			if err := collect(q, columnArgs(partial, idx), true); err != nil {
				return nil, fmt.Errorf("postgres: looking for rows undo put back with a partly NULL key: %w", err)
			}
		}
	}
	if len(removed) > 0 {
		match := make([]string, n)
		for i, k := range cols {
			match[i] = "((r.c" + strconv.Itoa(i+1) + ")::" + k.parentType + ")::" + k.opLeft + " " + k.op + " (c." + k.child + ")::" + k.opRight + k.collate
		}
		q := "SELECT " + strings.Join(sel, ", ") + ", count(*) FROM " + child + " WHERE EXISTS (SELECT 1 FROM " + unnestAs(n, "r") +
			" WHERE " + strings.Join(match, " AND ") + ") AND " + noParent(false) + tail
		if err := collect(q, columnArgs(removed, idx), false); err != nil {
			return nil, fmt.Errorf("postgres: looking for rows that refer to rows undo removed: %w", err)
		}
	}
	return out, nil
}

// unnestAs is unnestFrom for n value columns c1.. under alias a.
func unnestAs(n int, a string) string {
	return strings.Replace(unnestFrom(0, n, false), ") AS k(", ") AS "+a+"(", 1)
}

// readUndoBase reads the transaction's update and delete counters of
// every table, before an undo that runs with foreign-key actions on
// writes rows (see actionsFired).
func (x *pgTx) readUndoBase(ctx context.Context) error {
	rows, err := x.tx.Query(ctx, "SELECT relid, n_tup_upd + n_tup_del FROM pg_catalog.pg_stat_xact_user_tables")
	if err != nil {
		return fmt.Errorf("postgres: reading the change counters before undo: %w", err)
	}
	base := map[uint32]int64{}
	var relid uint32
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&relid, &n}, func() error {
		base[relid] = n
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: reading the change counters before undo: %w", err)
	}
	x.undoBase, x.undoOwn = base, map[string]int64{}
	return nil
}

// countOwn records rows an undo with foreign-key actions on updated or
// deleted itself.
func (x *pgTx) countOwn(tbl string, n int64) {
	if x.undoOwn != nil {
		x.undoOwn[tbl] += n
	}
}

// qActionRows is how many rows of the table $1 were updated or deleted
// since the undo began ($2, $3: the counters then) by anything but the
// undo's own statements ($4, $5), when the foreign key $6 has an ON
// DELETE or ON UPDATE action. For a partition it counts its whole
// partitioned table: the undo's own writes are counted by the table it
// named, which may be any level of it.
const qActionRows = `WITH RECURSIVE up(oid) AS (
		SELECT $1::regclass::oid
		UNION
		SELECT i.inhparent FROM pg_catalog.pg_inherits i JOIN up ON i.inhrelid = up.oid
			JOIN pg_catalog.pg_class k ON k.oid = i.inhrelid AND k.relispartition
	), root AS (SELECT oid FROM up WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i
			JOIN pg_catalog.pg_class k ON k.oid = i.inhrelid AND k.relispartition WHERE i.inhrelid = up.oid)),
	tree AS (SELECT oid AS relid FROM root UNION SELECT t.relid FROM root, pg_catalog.pg_partition_tree(root.oid) t),
	now AS (SELECT coalesce(sum(s.n_tup_upd + s.n_tup_del), 0) AS n FROM pg_catalog.pg_stat_xact_user_tables s
		WHERE s.relid IN (SELECT relid FROM tree)),
	base AS (SELECT coalesce(sum(b.n), 0) AS n FROM unnest($2::oid[], $3::bigint[]) AS b(relid, n)
		WHERE b.relid IN (SELECT relid FROM tree)),
	own AS (SELECT coalesce(sum(o.n), 0) AS n FROM unnest($4::text[], $5::bigint[]) AS o(name, n)
		WHERE pg_catalog.to_regclass(o.name) IN (SELECT relid FROM tree))
	SELECT now.n - base.n - own.n FROM now, base, own
	WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_constraint f WHERE f.oid = $6::oid
		AND (f.confdeltype NOT IN ('a', 'r') OR f.confupdtype NOT IN ('a', 'r')))`

// actionsFired refuses an undo during which the ON DELETE or ON UPDATE
// action of fk changed rows of its referencing table. That can only
// happen where the session may not set session_replication_role
// (PrepareUndo), and those rows are others': rows the undo deletes it
// deletes itself, children before parents, so the action finds none of
// them. The transaction's change counters tell: the referencing table's
// updates and deletes since the undo began, less the undo's own.
func (x *pgTx) actionsFired(ctx context.Context, fk engine.ForeignKey, child string) error {
	if x.undoBase == nil {
		return nil
	}
	var relids []uint32
	var base []int64
	for r, n := range x.undoBase {
		relids, base = append(relids, r), append(base, n)
	}
	var names []string
	var own []int64
	for t, n := range x.undoOwn {
		names, own = append(names, t), append(own, n)
	}
	var extra int64
	err := x.tx.QueryRow(ctx, qActionRows, child, relids, base, names, own, fk.ID).Scan(&extra)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // no action: nothing can have fired
	}
	if err == nil && !x.c.trackCounts {
		return fmt.Errorf("the foreign key has an ON DELETE or ON UPDATE action, which fires during undo (the session may not set session_replication_role), and with track_counts off undo cannot tell whether it changed rows of %s; run the undo as a role allowed to set session_replication_role, or with track_counts on", child)
	}
	if err != nil {
		return fmt.Errorf("postgres: reading the change counters of %s: %w", child, err)
	}
	if extra > 0 {
		return fmt.Errorf("the foreign key's ON DELETE or ON UPDATE action (or a trigger) deleted or changed %d row(s) of %s that undo did not image: the session may not set session_replication_role, so foreign-key actions fire during undo; undo the entries that added rows referring to the rows it removes first, or run the undo as a role allowed to set it", extra, child)
	}
	return nil
}

var _ engine.RowCounter = (*pgTx)(nil)

// CountRows counts a table's rows before undo drops the table an entry
// created: rows others put in it since are theirs. The table is locked
// first (ACCESS EXCLUSIVE, as the DROP will), so that at READ COMMITTED
// the count sees every committed row and none can be added after it; it
// runs with row_security off, so that no row is hidden from it (where
// row-level security applies, it fails instead).
func (x *pgTx) CountRows(ctx context.Context, schema, name string) (n int64, err error) {
	tbl := quoteQualified(schema, name)
	if _, err := x.tx.Exec(ctx, "LOCK TABLE "+tbl+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		return 0, fmt.Errorf("postgres: locking %s to count its rows: %w", tbl, err)
	}
	err = x.withoutRowSecurity(ctx, func() error {
		if err := x.tx.QueryRow(ctx, "SELECT count(*) FROM "+tbl).Scan(&n); err != nil {
			return fmt.Errorf("postgres: counting the rows of %s: %w", tbl, err)
		}
		return nil
	})
	return n, err
}

// withoutRowSecurity runs fn with row_security off (see rowSecurityOff).
func (x *pgTx) withoutRowSecurity(ctx context.Context, fn func() error) (err error) {
	restore, err := x.rowSecurityOff(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if rerr := restore(); rerr != nil && err == nil {
			err = rerr
		}
	}()
	return fn()
}

// rowSecurityOff turns row_security off for the transaction; restore puts
// the setting back.
func (x *pgTx) rowSecurityOff(ctx context.Context) (restore func() error, err error) {
	var rls string
	if err := x.tx.QueryRow(ctx, "SELECT pg_catalog.current_setting('row_security'), pg_catalog.set_config('row_security', 'off', true)").Scan(&rls, new(string)); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return func() error {
		if _, err := x.tx.Exec(context.WithoutCancel(ctx), "SELECT pg_catalog.set_config('row_security', $1, true)", rls); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		return nil
	}, nil
}
