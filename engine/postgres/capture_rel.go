package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"lifebelt/engine"
)

// relation is a table as capture needs it.
type relation struct {
	oid     uint32
	relkind byte // 'r' table, 'p' partitioned table, 'v' view, 'f' foreign table, ...
	info    engine.TableInfo
	quoted  string // schema-qualified, quoted name
	// members are the relations whose change counters count this table's
	// rows: the table itself, or a partitioned table's leaf partitions.
	members  []uint32
	hasRules bool // rewrite rules other than a view's SELECT rule
	// triggers: the table or one of its partitions has user triggers
	// (enabled or not), which run code that may write anywhere.
	triggers    bool
	inhChildren bool // plain inheritance children (not partitions)
	foreignLeaf bool // a partition is a foreign table
	fks         []fkChild
	fingerprint string
}

// scan names the relation in a FROM clause so that exactly its rows are
// read: ONLY for a plain table, whose inheritance children are separate
// tables; all partitions for a partitioned one.
func (r *relation) scan() string {
	if r.relkind == 'p' {
		return r.quoted
	}
	return "ONLY " + r.quoted
}

// Describing a table takes several catalog queries, too many to repeat for
// every statement of a long batch. Descriptions are therefore kept for the
// session and revalidated once per transaction with one query: a digest of
// every catalog row they were built from (columns and their types'
// names, unique indexes, rules, inheritance and partition children, the
// foreign keys referencing the table with their columns' names, the
// schema's name, whether it or a partition has user triggers). Any DDL
// that could change a description changes the digest. Each column's type name is looked up by its oid (an index
// lookup): a join to pg_type was planned as a scan of all of pg_type,
// which holds a row type for every table of the database. For the same
// reason the foreign keys referencing the table are found through
// pg_depend (every one records a dependency on the table it references,
// and pg_depend is indexed by referenced object); pg_constraint has no
// index on confrelid.
const fingerprintSQL = `SELECT c.oid, c.relkind::text, pg_catalog.md5(concat_ws('|', c.relkind, c.relhasrules, n.nspname, c.relname,
	(SELECT string_agg(concat_ws(':', a.attnum, a.attname, a.atttypid, a.atttypmod, a.attnotnull, a.attgenerated, a.attidentity,
			(SELECT t.typname || ':' || tn.nspname FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace WHERE t.oid = a.atttypid)), ',' ORDER BY a.attnum)
		FROM pg_catalog.pg_attribute a
		WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
	(SELECT string_agg(concat_ws(':', i.indexrelid, i.indkey, i.indisprimary, i.indisunique, i.indisvalid, i.indpred IS NULL, i.indexprs IS NULL, i.indnkeyatts, ic.relname), ',' ORDER BY i.indexrelid)
		FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = c.oid),
	(SELECT string_agg(concat_ws(':', k.oid, k.conrelid, k.conkey, k.confkey, k.confdeltype, k.confupdtype, k.conparentid,
			(SELECT string_agg(a.attname, ',' ORDER BY a.attnum) FROM pg_catalog.pg_attribute a WHERE a.attrelid = k.conrelid AND a.attnum = ANY (k.conkey))), ',' ORDER BY k.oid)
		FROM pg_catalog.pg_constraint k WHERE k.oid IN (SELECT d.objid FROM pg_catalog.pg_depend d
			WHERE d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjid = c.oid AND d.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass)
			AND k.confrelid = c.oid AND k.contype = 'f'),
	(SELECT string_agg(i.inhrelid::text, ',' ORDER BY i.inhrelid) FROM pg_catalog.pg_inherits i WHERE i.inhparent = c.oid),
	(SELECT string_agg(r.oid::text || r.ev_type::text, ',' ORDER BY r.oid) FROM pg_catalog.pg_rewrite r WHERE r.ev_class = c.oid),
	CASE WHEN c.relkind = 'p' THEN (SELECT string_agg(t.relid::text || l.relkind::text, ',' ORDER BY t.relid)
		FROM pg_catalog.pg_partition_tree(c.oid) t JOIN pg_catalog.pg_class l ON l.oid = t.relid) END,
	CASE WHEN c.relkind = 'p'
		THEN EXISTS (SELECT 1 FROM pg_catalog.pg_partition_tree(c.oid) t JOIN pg_catalog.pg_trigger g ON g.tgrelid = t.relid WHERE NOT g.tgisinternal)
		ELSE EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g WHERE g.tgrelid = c.oid AND NOT g.tgisinternal) END))
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace `

// resolveTable resolves a name as the server would and describes the
// relation; ok is false when it does not exist. Views and other
// non-tables come back with their kind and name only.
func (x *pgTx) resolveTable(ctx context.Context, name engine.Name) (*relation, bool, error) {
	var oid uint32
	var kind, fp string
	err := x.tx.QueryRow(ctx, fingerprintSQL+"WHERE c.oid = pg_catalog.to_regclass($1)", quoteQualified(name.Schema, name.Name)).Scan(&oid, &kind, &fp)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, x.c.wrap("resolving "+name.String(), err)
	}
	r, err := x.describe(ctx, oid, kind, fp)
	return r, err == nil, err
}

// relation describes a table by oid.
func (x *pgTx) relation(ctx context.Context, oid uint32) (*relation, error) {
	if r, ok := x.rels[oid]; ok {
		return r, nil
	}
	var kind, fp string
	if err := x.tx.QueryRow(ctx, fingerprintSQL+"WHERE c.oid = $1", oid).Scan(&oid, &kind, &fp); err != nil {
		return nil, x.c.wrap(fmt.Sprintf("describing relation %d", oid), err)
	}
	return x.describe(ctx, oid, kind, fp)
}

// describe returns the session's description of a relation if its digest
// still matches, else builds it anew.
func (x *pgTx) describe(ctx context.Context, oid uint32, kind, fp string) (*relation, error) {
	if r, ok := x.rels[oid]; ok && r.fingerprint == fp {
		return r, nil
	}
	if x.rels == nil {
		x.rels = map[uint32]*relation{}
	}
	if r, ok := x.c.rels[oid]; ok && r.fingerprint == fp {
		x.rels[oid] = r
		return r, nil
	}
	r := &relation{oid: oid, relkind: kind[0], fingerprint: fp}
	err := x.tx.QueryRow(ctx, `SELECT
			c.relhasrules AND EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite w WHERE w.ev_class = c.oid AND w.ev_type <> '1'),
			c.relkind = 'r' AND EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i WHERE i.inhparent = c.oid),
			CASE WHEN c.relkind = 'p'
				THEN ARRAY(SELECT t.relid FROM pg_catalog.pg_partition_tree(c.oid) t WHERE t.isleaf)
				ELSE ARRAY[c.oid] END,
			c.relkind = 'p' AND EXISTS (SELECT 1 FROM pg_catalog.pg_partition_tree(c.oid) t
				JOIN pg_catalog.pg_class l ON l.oid = t.relid WHERE t.isleaf AND l.relkind = 'f'),
			CASE WHEN c.relkind = 'p'
				THEN EXISTS (SELECT 1 FROM pg_catalog.pg_partition_tree(c.oid) t JOIN pg_catalog.pg_trigger g ON g.tgrelid = t.relid WHERE NOT g.tgisinternal)
				ELSE EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g WHERE g.tgrelid = c.oid AND NOT g.tgisinternal) END
		FROM pg_catalog.pg_class c WHERE c.oid = $1`, oid).Scan(&r.hasRules, &r.inhChildren, &r.members, &r.foreignLeaf, &r.triggers)
	if err != nil {
		return nil, x.c.wrap(fmt.Sprintf("describing relation %d", oid), err)
	}
	if r.relkind == 'r' || r.relkind == 'p' {
		if r.info, err = loadTable(ctx, x.tx, oid); err != nil {
			return nil, err
		}
		if r.fks, err = fkChildren(ctx, x.tx, oid); err != nil {
			return nil, err
		}
	} else if r.info.Schema, r.info.Name, _, err = relationName(ctx, x.tx, oid); err != nil {
		return nil, err
	}
	r.quoted = quoteQualified(r.info.Schema, r.info.Name)
	x.rels[oid] = r
	if x.c.rels == nil {
		x.c.rels = map[uint32]*relation{}
	}
	x.c.rels[oid] = r
	return r, nil
}
