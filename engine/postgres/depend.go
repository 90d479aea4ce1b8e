package postgres

import (
	"context"
	"fmt"

	"lifebelt/engine"
)

// depObj is a pg_depend object address.
type depObj struct {
	class, oid uint32
	sub        int32
}

// depNode is a dropped object with what classifying it needs.
type depNode struct {
	depObj
	typ, schema, name, identity string
	owner                       uint32 // the relation whose definition covers it (0: none)
	internal                    bool   // an internal trigger (part of a constraint)
}

// Kinds of cascade images beyond the ones objectDefinition knows. Schema is
// always the schema of the table involved. A CONSTRAINT, POLICY or RULE on
// a surviving table is named by its own name; a DEFAULT (a surviving
// column's default that calls a dropped sequence) by its column's name;
// each is re-created by its Definition. An OTHER object (a column of a
// surviving table whose type was the dropped row type, a domain over it,
// ...) cannot be re-created: Before is nil and Name is the server's
// identity of the object.
const (
	kindConstraint = "CONSTRAINT"
	kindDefault    = "DEFAULT"
	kindRule       = "RULE"
	kindPolicy     = "POLICY"
	kindOther      = "OTHER"
)

// cascadeDependents lists what DROP ... CASCADE of the relation would drop
// besides the relation and what its own definition covers (its indexes,
// constraints, triggers, owned sequences and partitions): views and
// materialized views built on it (recursively), foreign keys on other
// tables referencing it, functions using its row type, defaults, triggers,
// rules and policies of other tables that use its sequences or row type,
// and inheritance children. The list is ordered so that re-creating it
// front to back works: everything an image depends on comes before it, and
// CONSTRAINT images come last.
//
// A CONSTRAINT image (a foreign key of another table) has an empty Create:
// its ALTER TABLE ... ADD CONSTRAINT is in PostData, since it validates the
// child rows against the parent's, which must be restored first. Drop
// removes it with ALTER TABLE ... DROP CONSTRAINT.
func cascadeDependents(ctx context.Context, q querier, oid uint32) ([]engine.ObjectImage, error) {
	nodes, edges, err := dependencyClosure(ctx, q, oid)
	if err != nil {
		return nil, fmt.Errorf("postgres: listing objects that depend on relation %d: %w", oid, err)
	}
	rels := map[uint32]bool{}
	for _, n := range nodes {
		if n.class == pgClass && n.sub == 0 {
			rels[n.oid] = true
		}
	}
	// image maps every dropped object to the image that re-creates it.
	image := map[depObj]int{}
	var images []engine.ObjectImage
	var order []int // priority per image
	for _, n := range nodes {
		if n.class == pgClass && n.oid == oid && n.sub == 0 {
			continue
		}
		if n.internal || (n.owner != 0 && rels[n.owner] && !(n.class == pgClass && n.owner == n.oid)) {
			continue // covered by its relation's definition
		}
		img, prio, err := dependentImage(ctx, q, n)
		if err != nil {
			return nil, err
		}
		image[n.depObj] = len(images)
		images = append(images, img)
		order = append(order, prio)
	}
	// Objects covered by an image's relation count as that image for
	// ordering (a view's rule depends on the views it reads).
	owner := make(map[depObj]uint32, len(nodes))
	for _, n := range nodes {
		owner[n.depObj] = n.owner
	}
	owned := func(o depObj) (int, bool) {
		if i, ok := image[o]; ok {
			return i, true
		}
		if rel := owner[o]; rel != 0 {
			i, ok := image[depObj{class: pgClass, oid: rel}]
			return i, ok
		}
		return 0, false
	}
	after := make([]map[int]bool, len(images))
	for _, e := range edges {
		a, ok1 := owned(e[0])
		b, ok2 := owned(e[1])
		if ok1 && ok2 && a != b {
			if after[a] == nil {
				after[a] = map[int]bool{}
			}
			after[a][b] = true
		}
	}
	return topoOrder(images, order, after), nil
}

// topoOrder sorts images so that each comes after the ones it depends on,
// preferring lower priority, then discovery order; a cycle (which the
// server's own dependencies do not form) falls back to that preference.
func topoOrder(images []engine.ObjectImage, prio []int, after []map[int]bool) []engine.ObjectImage {
	done := make([]bool, len(images))
	out := make([]engine.ObjectImage, 0, len(images))
	for len(out) < len(images) {
		best := -1
		for i := range images {
			if done[i] {
				continue
			}
			ready := true
			for j := range after[i] {
				if !done[j] {
					ready = false
					break
				}
			}
			if ready && (best < 0 || prio[i] < prio[best]) {
				best = i
			}
		}
		if best < 0 { // a cycle: take the first remaining by priority
			for i := range images {
				if !done[i] && (best < 0 || prio[i] < prio[best]) {
					best = i
				}
			}
		}
		done[best] = true
		out = append(out, images[best])
	}
	return out
}

// pgClass is pg_class's own oid (the classid of relations in pg_depend);
// it is fixed in every PostgreSQL release.
const pgClass = 1259

// dependencyClosure walks pg_depend from the relation to everything a
// DROP ... CASCADE removes: objects depending on a dropped object (normal,
// automatic, internal and partition dependencies), plus the owner of any
// object with an internal dependency (a view, when its rule goes). Edges
// are (dependent, referenced) pairs of normal and automatic dependencies.
func dependencyClosure(ctx context.Context, q querier, root uint32) ([]depNode, [][2]depObj, error) {
	seen := map[depObj]bool{{class: pgClass, oid: root}: true}
	all := []depObj{{class: pgClass, oid: root}}
	frontier := all
	var edges [][2]depObj
	for round := 0; len(frontier) > 0 && round < 100; round++ {
		classes := make([]uint32, len(frontier))
		oids := make([]uint32, len(frontier))
		for i, f := range frontier {
			classes[i], oids[i] = f.class, f.oid
		}
		rows, err := q.Query(ctx, `SELECT d.classid, d.objid, d.objsubid, d.refclassid, d.refobjid, true
			FROM pg_catalog.pg_depend d JOIN unnest($1::oid[], $2::oid[]) AS f(c, o)
				ON d.refclassid = f.c AND d.refobjid = f.o
			WHERE d.deptype IN ('n', 'a', 'i', 'P', 'S')
			UNION ALL
			SELECT d.refclassid, d.refobjid, 0, d.classid, d.objid, false
			FROM pg_catalog.pg_depend d JOIN unnest($1::oid[], $2::oid[]) AS f(c, o)
				ON d.classid = f.c AND d.objid = f.o
			WHERE d.deptype = 'i'`, classes, oids)
		if err != nil {
			return nil, nil, err
		}
		var next []depObj
		for rows.Next() {
			var o depObj
			var ref depObj
			var down bool
			if err := rows.Scan(&o.class, &o.oid, &o.sub, &ref.class, &ref.oid, &down); err != nil {
				rows.Close()
				return nil, nil, err
			}
			if down {
				edges = append(edges, [2]depObj{{class: o.class, oid: o.oid}, ref})
			}
			if o.class == pgClass && o.sub != 0 && seen[depObj{class: pgClass, oid: o.oid}] {
				continue // a column of a relation that goes anyway
			}
			if seen[o] {
				continue
			}
			seen[o] = true
			all = append(all, o)
			if o.sub == 0 { // a column of a surviving table is a leaf
				next = append(next, o)
			}
		}
		if err := rows.Err(); err != nil {
			return nil, nil, err
		}
		frontier = next
	}
	nodes, err := describeObjects(ctx, q, all)
	return nodes, edges, err
}

// describeObjects identifies objects and finds the relation that owns each.
func describeObjects(ctx context.Context, q querier, objs []depObj) ([]depNode, error) {
	classes := make([]uint32, len(objs))
	oids := make([]uint32, len(objs))
	subs := make([]int32, len(objs))
	for i, o := range objs {
		classes[i], oids[i], subs[i] = o.class, o.oid, o.sub
	}
	rows, err := q.Query(ctx, `SELECT f.c, f.o, f.s, coalesce(i.type, ''), coalesce(a.object_names, '{}'),
			coalesce(i.identity, ''),
			coalesce(CASE f.c
				WHEN 'pg_catalog.pg_class'::pg_catalog.regclass THEN
					CASE WHEN f.s <> 0 THEN f.o ELSE (SELECT CASE
						WHEN c.relkind IN ('i', 'I') THEN (SELECT x.indrelid FROM pg_catalog.pg_index x WHERE x.indexrelid = c.oid)
						WHEN c.relkind = 'S' THEN coalesce((SELECT d.refobjid FROM pg_catalog.pg_depend d
							WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid
								AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype IN ('a', 'i') LIMIT 1), c.oid)
						WHEN c.relkind = 't' THEN (SELECT t.oid FROM pg_catalog.pg_class t WHERE t.reltoastrelid = c.oid)
						WHEN c.relispartition THEN (SELECT h.inhparent FROM pg_catalog.pg_inherits h WHERE h.inhrelid = c.oid)
						ELSE c.oid END
					FROM pg_catalog.pg_class c WHERE c.oid = f.o) END
				WHEN 'pg_catalog.pg_constraint'::pg_catalog.regclass THEN (SELECT nullif(k.conrelid, 0) FROM pg_catalog.pg_constraint k WHERE k.oid = f.o)
				WHEN 'pg_catalog.pg_trigger'::pg_catalog.regclass THEN (SELECT t.tgrelid FROM pg_catalog.pg_trigger t WHERE t.oid = f.o)
				WHEN 'pg_catalog.pg_attrdef'::pg_catalog.regclass THEN (SELECT a.adrelid FROM pg_catalog.pg_attrdef a WHERE a.oid = f.o)
				WHEN 'pg_catalog.pg_rewrite'::pg_catalog.regclass THEN (SELECT r.ev_class FROM pg_catalog.pg_rewrite r WHERE r.oid = f.o)
				WHEN 'pg_catalog.pg_policy'::pg_catalog.regclass THEN (SELECT p.polrelid FROM pg_catalog.pg_policy p WHERE p.oid = f.o)
				WHEN 'pg_catalog.pg_statistic_ext'::pg_catalog.regclass THEN (SELECT s.stxrelid FROM pg_catalog.pg_statistic_ext s WHERE s.oid = f.o)
				WHEN 'pg_catalog.pg_type'::pg_catalog.regclass THEN (SELECT nullif(coalesce(nullif(t.typrelid, 0), e.typrelid), 0)
					FROM pg_catalog.pg_type t LEFT JOIN pg_catalog.pg_type e ON e.oid = t.typelem WHERE t.oid = f.o)
				END, 0),
			f.c = 'pg_catalog.pg_trigger'::pg_catalog.regclass
				AND coalesce((SELECT t.tgisinternal FROM pg_catalog.pg_trigger t WHERE t.oid = f.o), false)
		FROM unnest($1::oid[], $2::oid[], $3::int4[]) WITH ORDINALITY AS f(c, o, s, n)
		LEFT JOIN LATERAL pg_catalog.pg_identify_object(f.c, f.o, f.s) i ON true
		LEFT JOIN LATERAL pg_catalog.pg_identify_object_as_address(f.c, f.o, f.s) a ON true
		ORDER BY f.n`, classes, oids, subs)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []depNode
	for rows.Next() {
		var n depNode
		var names []string
		if err := rows.Scan(&n.class, &n.oid, &n.sub, &n.typ, &names, &n.identity, &n.owner, &n.internal); err != nil {
			return nil, err
		}
		// object_names are unquoted: schema first (for schema objects),
		// the object's own name last.
		if len(names) > 0 {
			n.name = names[len(names)-1]
		}
		if len(names) > 1 {
			n.schema = names[0]
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// Image priorities: among objects whose dependencies allow either order,
// routines come first and foreign keys last.
const (
	prioRoutine = iota
	prioRelation
	prioOther
	prioConstraint
)

// dependentImage captures the definition of one dropped dependent.
func dependentImage(ctx context.Context, q querier, n depNode) (engine.ObjectImage, int, error) {
	img := engine.ObjectImage{Schema: n.schema, Name: n.name, Action: engine.ActionDrop}
	var err error
	prio := prioOther
	switch n.typ {
	case "view", "materialized view", "table", "index", "sequence":
		prio = prioRelation
		img.Kind = map[string]string{"view": "VIEW", "materialized view": "MATERIALIZED VIEW", "table": "TABLE",
			"index": "INDEX", "sequence": "SEQUENCE"}[n.typ]
		var relkind byte
		_, _, relkind, err = relationName(ctx, q, n.oid)
		if err == nil {
			img.Before, err = relationDefinition(ctx, q, n.oid, relkind)
		}
	case "function", "procedure":
		prio = prioRoutine
		img.Kind = "FUNCTION"
		if n.typ == "procedure" {
			img.Kind = "PROCEDURE"
		}
		img.Before, _, err = routineDefinition(ctx, q, n.oid, img.Kind)
	case "trigger":
		img.Kind = "TRIGGER"
		img.Before, err = triggerDefinition(ctx, q, n.oid)
	case "table constraint":
		prio = prioConstraint
		img.Kind = kindConstraint
		img.Before, err = simpleDefinition(ctx, q, `SELECT k.conname::text, pg_catalog.pg_get_constraintdef(k.oid), n.nspname, c.relname
			FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
			JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE k.oid = $1`, n.oid,
			func(name, def, tbl string, b *defBuilder) {
				img.Name = name
				b.post = []string{"ALTER TABLE " + tbl + " ADD CONSTRAINT " + quoteIdent(name) + " " + def}
				b.drop = []string{"ALTER TABLE " + tbl + " DROP CONSTRAINT " + quoteIdent(name)}
			})
	case "default value":
		img.Kind = kindDefault
		img.Before, err = simpleDefinition(ctx, q, `SELECT a.attname::text, pg_catalog.pg_get_expr(d.adbin, d.adrelid), n.nspname, c.relname
			FROM pg_catalog.pg_attrdef d JOIN pg_catalog.pg_class c ON c.oid = d.adrelid
			JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
			JOIN pg_catalog.pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum WHERE d.oid = $1`, n.oid,
			func(col, def, tbl string, b *defBuilder) {
				b.create = []string{"ALTER TABLE " + tbl + " ALTER COLUMN " + quoteIdent(col) + " SET DEFAULT " + def}
				b.drop = []string{"ALTER TABLE " + tbl + " ALTER COLUMN " + quoteIdent(col) + " DROP DEFAULT"}
			})
	case "rule":
		img.Kind = kindRule
		img.Before, err = simpleDefinition(ctx, q, `SELECT r.rulename::text, pg_catalog.pg_get_ruledef(r.oid), n.nspname, c.relname
			FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class
			JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE r.oid = $1`, n.oid,
			func(name, def, tbl string, b *defBuilder) {
				b.create = []string{trimStatement(def)}
				b.drop = []string{"DROP RULE " + quoteIdent(name) + " ON " + tbl}
			})
	case "policy":
		img.Kind = kindPolicy
		img.Before, err = policyDefinition(ctx, q, n.oid)
	default:
		img.Kind = kindOther
		img.Name = n.identity
	}
	if err != nil {
		return img, 0, fmt.Errorf("postgres: capturing dependent %s: %w", n.identity, err)
	}
	return img, prio, nil
}

// simpleDefinition reads (name, definition, schema, table) for one object
// under the catalog search_path and lets fill build the statements.
func simpleDefinition(ctx context.Context, q querier, sql string, oid uint32, fill func(name, def, tbl string, b *defBuilder)) (*engine.Definition, error) {
	var b defBuilder
	err := withCatalogPath(ctx, q, func() error {
		var name, def, schema, table string
		if err := q.QueryRow(ctx, sql, oid).Scan(&name, &def, &schema, &table); err != nil {
			return err
		}
		fill(name, def, quoteQualified(schema, table), &b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return b.definition(), nil
}

// policyDefinition renders one policy of a surviving table.
func policyDefinition(ctx context.Context, q querier, oid uint32) (*engine.Definition, error) {
	var b defBuilder
	err := withCatalogPath(ctx, q, func() error {
		var relid uint32
		var name, schema, table string
		err := q.QueryRow(ctx, `SELECT p.polrelid, p.polname, n.nspname, c.relname FROM pg_catalog.pg_policy p
			JOIN pg_catalog.pg_class c ON c.oid = p.polrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
			WHERE p.oid = $1`, oid).Scan(&relid, &name, &schema, &table)
		if err != nil {
			return err
		}
		tbl := quoteQualified(schema, table)
		var all defBuilder
		if err := appendPolicies(ctx, q, relid, oid, tbl, &all); err != nil {
			return err
		}
		if len(all.post) > 0 {
			b.create, b.post = all.post[:1], all.post[1:]
		}
		b.drop = []string{"DROP POLICY " + quoteIdent(name) + " ON " + tbl}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return b.definition(), nil
}
