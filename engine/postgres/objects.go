package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"lifebelt/engine"
)

// objRef names an object whose definition is wanted.
type objRef struct {
	Kind string // VIEW, MATERIALIZED VIEW, FUNCTION, PROCEDURE, TRIGGER, INDEX, SEQUENCE, TABLE
	Name engine.Name
	// Args are FUNCTION/PROCEDURE argument types; "" means the only
	// overload (an error when there are several).
	Args string
	On   engine.Name // TRIGGER: its table; INDEX: its table, when the index name is unqualified
	Temp bool        // CREATE TEMP: the object goes into the session's temporary schema
}

// objectDefinition captures the definition of the named object. found is
// false when no object of that kind has that name. Names resolve through
// the session's search_path; the definition is rendered with every name
// qualified.
func objectDefinition(ctx context.Context, q querier, ref objRef) (def *engine.Definition, found bool, err error) {
	kind := strings.ToUpper(strings.Join(strings.Fields(ref.Kind), " "))
	switch kind {
	case "TABLE", "VIEW", "MATERIALIZED VIEW", "INDEX", "SEQUENCE":
		name := ref.Name
		if kind == "INDEX" && name.Schema == "" && ref.On.Name != "" {
			// An index lives in its table's schema, which need not be on
			// search_path.
			_, schema, _, _, ok, err := resolveRelation(ctx, q, ref.On)
			if err != nil {
				return nil, false, err
			}
			if ok {
				name.Schema = schema
			}
		}
		oid, _, _, relkind, ok, err := resolveRelation(ctx, q, name)
		if err != nil || !ok {
			return nil, false, err
		}
		if !relkindIs(kind, relkind) {
			return nil, false, nil
		}
		def, err := relationDefinition(ctx, q, oid, relkind)
		return def, err == nil, err
	case "FUNCTION", "PROCEDURE":
		oid, ok, err := resolveRoutine(ctx, q, ref.Name, ref.Args)
		if err != nil || !ok {
			return nil, false, err
		}
		def, isKind, err := routineDefinition(ctx, q, oid, kind)
		if err != nil || !isKind {
			return nil, false, err
		}
		return def, true, nil
	case "TRIGGER":
		tbl, _, _, _, ok, err := resolveRelation(ctx, q, ref.On)
		if err != nil || !ok {
			return nil, false, err
		}
		var toid uint32
		err = q.QueryRow(ctx, `SELECT t.oid FROM pg_catalog.pg_trigger t
			WHERE t.tgrelid = $1 AND t.tgname = $2 AND NOT t.tgisinternal`, tbl, ref.Name.Name).Scan(&toid)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("postgres: resolving trigger %s on %s: %w", ref.Name.Name, ref.On, err)
		}
		def, err := triggerDefinition(ctx, q, toid)
		return def, err == nil, err
	}
	return nil, false, fmt.Errorf("postgres: capturing the definition of a %s is not supported", ref.Kind)
}

func relkindIs(kind string, relkind byte) bool {
	switch kind {
	case "TABLE":
		return relkind == 'r' || relkind == 'p'
	case "VIEW":
		return relkind == 'v'
	case "MATERIALIZED VIEW":
		return relkind == 'm'
	case "INDEX":
		return relkind == 'i' || relkind == 'I'
	case "SEQUENCE":
		return relkind == 'S'
	}
	return false
}

// relationDefinition dispatches on relkind.
func relationDefinition(ctx context.Context, q querier, oid uint32, relkind byte) (*engine.Definition, error) {
	switch relkind {
	case 'r', 'p':
		return tableDefinition(ctx, q, oid)
	case 'v', 'm':
		return viewDefinition(ctx, q, oid)
	case 'i', 'I':
		return indexDefinition(ctx, q, oid)
	case 'S':
		return sequenceDefinition(ctx, q, oid)
	}
	return nil, fmt.Errorf("postgres: capturing the definition of relation %d (relkind %c) is not supported", oid, relkind)
}

// viewDefinition renders a view (CREATE OR REPLACE VIEW) or a materialized
// view (created WITH NO DATA; PostData refreshes it if it was populated,
// then builds its indexes), with column defaults, rules, triggers and
// comments.
func viewDefinition(ctx context.Context, q querier, oid uint32) (*engine.Definition, error) {
	var b defBuilder
	var schema, name string
	err := withCatalogPath(ctx, q, func() error {
		var kind, body, am, tablespace, cmt string
		var opts []string
		var populated bool
		err := q.QueryRow(ctx, `SELECT n.nspname, c.relname, c.relkind::text, pg_catalog.pg_get_viewdef(c.oid),
				coalesce(c.reloptions, '{}'), c.relispopulated, coalesce(am.amname::text, ''),
				coalesce(ts.spcname::text, ''), coalesce(pg_catalog.obj_description(c.oid, 'pg_class'), '')
			FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
			LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
			LEFT JOIN pg_catalog.pg_tablespace ts ON ts.oid = c.reltablespace
			WHERE c.oid = $1`, oid).Scan(&schema, &name, &kind, &body, &opts, &populated, &am, &tablespace, &cmt)
		if err != nil {
			return err
		}
		rel := quoteQualified(schema, name)
		body = strings.TrimSuffix(strings.TrimSpace(body), ";")
		cols, err := defColumns(ctx, q, oid)
		if err != nil {
			return err
		}
		word := "VIEW"
		if kind == "m" {
			word = "MATERIALIZED VIEW"
			s := "CREATE MATERIALIZED VIEW " + rel
			if am != "" && am != "heap" {
				s += " USING " + quoteIdent(am)
			}
			s += withOptions(opts, "")
			if tablespace != "" {
				s += " TABLESPACE " + quoteIdent(tablespace)
			}
			b.create = append(b.create, s+" AS\n"+body+"\nWITH NO DATA")
			if populated {
				b.post = append(b.post, "REFRESH MATERIALIZED VIEW "+rel)
			}
			idx, err := tableIndexes(ctx, q, oid)
			if err != nil {
				return err
			}
			for _, ix := range idx {
				b.post = append(b.post, ix.def)
				if ix.clustered {
					b.post = append(b.post, "ALTER MATERIALIZED VIEW "+rel+" CLUSTER ON "+quoteIdent(ix.name))
				}
				if ix.comment != "" {
					b.post = append(b.post, comment("INDEX "+quoteQualified(schema, ix.name), ix.comment))
				}
			}
		} else {
			b.create = append(b.create, "CREATE OR REPLACE VIEW "+rel+withOptions(opts, "")+" AS\n"+body)
			for _, c := range cols {
				if c.def != "" {
					b.create = append(b.create, "ALTER VIEW "+rel+" ALTER COLUMN "+quoteIdent(c.name)+" SET DEFAULT "+c.def)
				}
			}
		}
		if err := appendRules(ctx, q, oid, &b); err != nil {
			return err
		}
		if err := appendTriggers(ctx, q, oid, rel, &b); err != nil {
			return err
		}
		grants, err := aclGrants(ctx, q, relationACL, oid, "TABLE "+rel)
		if err != nil {
			return err
		}
		b.post = append(b.post, grants...)
		if cmt != "" {
			b.post = append(b.post, comment(word+" "+rel, cmt))
		}
		for _, c := range cols {
			if c.comment != "" {
				b.post = append(b.post, comment("COLUMN "+rel+"."+quoteIdent(c.name), c.comment))
			}
		}
		b.drop = []string{"DROP " + word + " " + rel}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: capturing the definition of view %s: %w", relLabel(schema, name, oid), err)
	}
	return b.definition(), nil
}

func relLabel(schema, name string, oid uint32) string {
	if name == "" {
		return fmt.Sprintf("with oid %d", oid)
	}
	return schema + "." + name
}

// indexDefinition renders an index; an index that implements a constraint
// is rendered as that constraint.
func indexDefinition(ctx context.Context, q querier, oid uint32) (*engine.Definition, error) {
	var b defBuilder
	var schema, name string
	err := withCatalogPath(ctx, q, func() error {
		var def, cmt, tschema, tname, conname, condef string
		err := q.QueryRow(ctx, `SELECT n.nspname, c.relname, pg_catalog.pg_get_indexdef(c.oid),
				coalesce(pg_catalog.obj_description(c.oid, 'pg_class'), ''), tn.nspname, t.relname,
				coalesce(k.conname::text, ''), coalesce(pg_catalog.pg_get_constraintdef(k.oid), '')
			FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
			JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid
			JOIN pg_catalog.pg_class t ON t.oid = i.indrelid JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
			LEFT JOIN pg_catalog.pg_constraint k ON k.conindid = c.oid AND k.conrelid = t.oid AND k.contype IN ('p', 'u', 'x')
			WHERE c.oid = $1`, oid).Scan(&schema, &name, &def, &cmt, &tschema, &tname, &conname, &condef)
		if err != nil {
			return err
		}
		tbl := quoteQualified(tschema, tname)
		if conname != "" {
			b.create = []string{"ALTER TABLE " + tbl + " ADD CONSTRAINT " + quoteIdent(conname) + " " + condef}
			b.drop = []string{"ALTER TABLE " + tbl + " DROP CONSTRAINT " + quoteIdent(conname)}
		} else {
			b.create = []string{def}
			b.drop = []string{"DROP INDEX " + quoteQualified(schema, name)}
		}
		if cmt != "" {
			b.post = append(b.post, comment("INDEX "+quoteQualified(schema, name), cmt))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: capturing the definition of index %s: %w", relLabel(schema, name, oid), err)
	}
	return b.definition(), nil
}

// sequenceDefinition renders a sequence with its options, position,
// ownership and comment.
func sequenceDefinition(ctx context.Context, q querier, oid uint32) (*engine.Definition, error) {
	var b defBuilder
	var s seqInfo
	err := withCatalogPath(ctx, q, func() error {
		var ownerSchema, owner, col string
		err := scanSeq(q.QueryRow(ctx, `SELECT `+seqColumns+`,
				coalesce(tn.nspname::text, ''), coalesce(t.relname::text, ''), coalesce(a.attname::text, '')
			FROM pg_catalog.pg_class s JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace
			JOIN pg_catalog.pg_sequence q ON q.seqrelid = s.oid
			LEFT JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = s.oid
				AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype = 'a' AND d.refobjsubid > 0
			LEFT JOIN pg_catalog.pg_class t ON t.oid = d.refobjid
			LEFT JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
			LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
			WHERE s.oid = $1`, oid), &s, &ownerSchema, &owner, &col)
		if err != nil {
			return err
		}
		if err := s.readPosition(ctx, q); err != nil {
			return err
		}
		seq := quoteQualified(s.schema, s.name)
		b.create = []string{s.createStatement()}
		b.post = []string{s.setval()}
		if owner != "" {
			b.post = append(b.post, "ALTER SEQUENCE "+seq+" OWNED BY "+quoteQualified(ownerSchema, owner)+"."+quoteIdent(col))
		}
		grants, err := aclGrants(ctx, q, relationACL, oid, "SEQUENCE "+seq)
		if err != nil {
			return err
		}
		b.post = append(b.post, grants...)
		if s.comment != "" {
			b.post = append(b.post, comment("SEQUENCE "+seq, s.comment))
		}
		b.drop = []string{"DROP SEQUENCE " + seq}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: capturing the definition of sequence %s: %w", relLabel(s.schema, s.name, oid), err)
	}
	return b.definition(), nil
}

// resolveRoutine finds a function or procedure: by signature when args are
// given, else the only routine of that name (in the schema, or visible on
// search_path).
func resolveRoutine(ctx context.Context, q querier, n engine.Name, args string) (uint32, bool, error) {
	if args != "" {
		var oid *uint32
		err := q.QueryRow(ctx, `SELECT pg_catalog.to_regprocedure($1)::oid`, quoteQualified(n.Schema, n.Name)+"("+args+")").Scan(&oid)
		if err != nil {
			return 0, false, fmt.Errorf("postgres: resolving routine %s(%s): %w", n, args, err)
		}
		if oid == nil {
			return 0, false, nil
		}
		return *oid, true, nil
	}
	rows, err := q.Query(ctx, `SELECT p.oid FROM pg_catalog.pg_proc p
		WHERE p.proname = $1 AND CASE WHEN $2 = '' THEN pg_catalog.pg_function_is_visible(p.oid)
			ELSE p.pronamespace = (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = $2) END`, n.Name, n.Schema)
	if err != nil {
		return 0, false, fmt.Errorf("postgres: resolving routine %s: %w", n, err)
	}
	oids, err := pgx.CollectRows(rows, pgx.RowTo[uint32])
	if err != nil {
		return 0, false, fmt.Errorf("postgres: resolving routine %s: %w", n, err)
	}
	switch len(oids) {
	case 0:
		return 0, false, nil
	case 1:
		return oids[0], true, nil
	}
	return 0, false, fmt.Errorf("postgres: %s names %d routines; give the argument types to choose one", n, len(oids))
}

// routineDefinition renders a function or procedure with
// pg_get_functiondef. isKind is false when the routine is not of the
// wanted kind (FUNCTION covers plain and window functions).
func routineDefinition(ctx context.Context, q querier, oid uint32, kind string) (def *engine.Definition, isKind bool, err error) {
	var b defBuilder
	var schema, name, prokind string
	err = withCatalogPath(ctx, q, func() error {
		var body, args, cmt string
		var revokePublic bool
		err := q.QueryRow(ctx, `SELECT n.nspname, p.proname, p.prokind::text,
				CASE WHEN p.prokind IN ('f', 'w', 'p') THEN pg_catalog.pg_get_functiondef(p.oid) ELSE '' END,
				pg_catalog.pg_get_function_identity_arguments(p.oid),
				coalesce(pg_catalog.obj_description(p.oid, 'pg_proc'), ''),
				p.proacl IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_catalog.aclexplode(p.proacl) a
					WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')
			FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
			WHERE p.oid = $1`, oid).Scan(&schema, &name, &prokind, &body, &args, &cmt, &revokePublic)
		if err != nil {
			return err
		}
		word := "FUNCTION"
		if prokind == "p" {
			word = "PROCEDURE"
		}
		isKind = word == kind && prokind != "a"
		if prokind == "a" {
			return fmt.Errorf("aggregates are not supported")
		}
		sig := quoteQualified(schema, name) + "(" + args + ")"
		b.create = []string{strings.TrimSpace(body)}
		// A new routine is executable by PUBLIC; the captured one may not be.
		if revokePublic {
			b.post = append(b.post, "REVOKE EXECUTE ON "+word+" "+sig+" FROM PUBLIC")
		}
		grants, err := aclGrants(ctx, q, `SELECT coalesce(r.rolname::text, ''), a.privilege_type, a.is_grantable, ''
			FROM pg_catalog.pg_proc p CROSS JOIN LATERAL pg_catalog.aclexplode(p.proacl) a
			LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
			WHERE p.oid = $1 AND a.grantee <> p.proowner ORDER BY 1, 3, 2`, oid, word+" "+sig)
		if err != nil {
			return err
		}
		b.post = append(b.post, grants...)
		if cmt != "" {
			b.post = append(b.post, comment(word+" "+sig, cmt))
		}
		b.drop = []string{"DROP " + word + " " + sig}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("postgres: capturing the definition of routine %s: %w", relLabel(schema, name, oid), err)
	}
	return b.definition(), isKind, nil
}

// triggerDefinition renders one trigger with its enabled state and comment.
func triggerDefinition(ctx context.Context, q querier, oid uint32) (*engine.Definition, error) {
	var b defBuilder
	var name string
	err := withCatalogPath(ctx, q, func() error {
		var def, enabled, cmt, tschema, tname string
		err := q.QueryRow(ctx, `SELECT t.tgname, pg_catalog.pg_get_triggerdef(t.oid), t.tgenabled::text,
				coalesce(pg_catalog.obj_description(t.oid, 'pg_trigger'), ''), n.nspname, c.relname
			FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
			JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
			WHERE t.oid = $1`, oid).Scan(&name, &def, &enabled, &cmt, &tschema, &tname)
		if err != nil {
			return err
		}
		tbl := quoteQualified(tschema, tname)
		all := triggerStatements(tbl, name, def, enabled, cmt)
		b.create = all[:1]
		b.post = all[1:]
		b.drop = []string{"DROP TRIGGER " + quoteIdent(name) + " ON " + tbl}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: capturing the definition of trigger %s: %w", relLabel("", name, oid), err)
	}
	return b.definition(), nil
}
