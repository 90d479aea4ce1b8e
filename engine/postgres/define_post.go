package postgres

import (
	"context"
	"fmt"
	"strings"
)

// postData appends the statements that follow a table's rows: keys,
// indexes, rules, triggers, statistics, row security, replica identity,
// privileges granted to other roles, comments and sequence positions. It runs under withCatalogPath.
func postData(ctx context.Context, q querier, oid uint32, m tableMeta, tbl string, cols []defColumn, seqs []seqInfo, b *defBuilder) error {
	cons, err := constraints(ctx, q, oid)
	if err != nil {
		return err
	}
	for _, k := range cons {
		// CHECK constraints are in CREATE TABLE (or added NOT VALID by
		// tableStatements); constraints cloned from a partitioned parent
		// come back with the parent's.
		if k.kind == "c" || k.parent {
			continue
		}
		b.post = append(b.post, "ALTER TABLE "+tbl+" ADD CONSTRAINT "+quoteIdent(k.name)+" "+k.def)
	}
	idx, err := tableIndexes(ctx, q, oid)
	if err != nil {
		return err
	}
	for _, ix := range idx {
		if !ix.constraint {
			b.post = append(b.post, ix.statements(m.schema)...)
		}
	}
	if err := appendRules(ctx, q, oid, b); err != nil {
		return err
	}
	if err := appendTriggers(ctx, q, oid, tbl, b); err != nil {
		return err
	}
	stats, err := stringRows(ctx, q, `SELECT pg_catalog.pg_get_statisticsobjdef(s.oid) FROM pg_catalog.pg_statistic_ext s
		WHERE s.stxrelid = $1 ORDER BY s.stxname`, oid)
	if err != nil {
		return fmt.Errorf("reading extended statistics: %w", err)
	}
	b.post = append(b.post, stats...)
	if m.rowSecurity {
		b.post = append(b.post, "ALTER TABLE "+tbl+" ENABLE ROW LEVEL SECURITY")
	}
	if m.forceRowSecurity {
		b.post = append(b.post, "ALTER TABLE "+tbl+" FORCE ROW LEVEL SECURITY")
	}
	if err := appendPolicies(ctx, q, oid, 0, tbl, b); err != nil {
		return err
	}
	switch m.replident {
	case "n":
		b.post = append(b.post, "ALTER TABLE "+tbl+" REPLICA IDENTITY NOTHING")
	case "f":
		b.post = append(b.post, "ALTER TABLE "+tbl+" REPLICA IDENTITY FULL")
	case "i":
		if m.replIndex != "" {
			b.post = append(b.post, "ALTER TABLE "+tbl+" REPLICA IDENTITY USING INDEX "+quoteIdent(m.replIndex))
		}
	}
	for _, ix := range idx {
		if ix.clustered {
			b.post = append(b.post, "ALTER TABLE "+tbl+" CLUSTER ON "+quoteIdent(ix.name))
		}
	}
	grants, err := aclGrants(ctx, q, relationACL, oid, "TABLE "+tbl)
	if err != nil {
		return err
	}
	b.post = append(b.post, grants...)
	for _, s := range seqs {
		g, err := aclGrants(ctx, q, relationACL, s.oid, "SEQUENCE "+quoteQualified(s.schema, s.name))
		if err != nil {
			return err
		}
		b.post = append(b.post, g...)
	}
	if m.comment != "" {
		b.post = append(b.post, comment("TABLE "+tbl, m.comment))
	}
	for _, c := range cols {
		if c.comment != "" {
			b.post = append(b.post, comment("COLUMN "+tbl+"."+quoteIdent(c.name), c.comment))
		}
	}
	for _, k := range cons {
		if k.comment != "" && !k.parent {
			b.post = append(b.post, comment("CONSTRAINT "+quoteIdent(k.name)+" ON "+tbl, k.comment))
		}
	}
	for _, ix := range idx {
		if ix.comment != "" {
			b.post = append(b.post, comment("INDEX "+quoteQualified(m.schema, ix.name), ix.comment))
		}
	}
	for _, s := range seqs {
		if s.comment != "" {
			b.post = append(b.post, comment("SEQUENCE "+quoteQualified(s.schema, s.name), s.comment))
		}
		b.post = append(b.post, s.setval())
	}
	return nil
}

// indexDef is one index of a relation.
type indexDef struct {
	name, def             string
	constraint, clustered bool
	parentSchema, parent  string // the partitioned index this one is attached to
	comment               string
}

// statements re-creates the index. An index attached to a partitioned
// index may already exist when the partition is re-attached on its own
// (ATTACH PARTITION creates it), hence IF NOT EXISTS.
func (ix indexDef) statements(schema string) []string {
	if ix.parent == "" {
		return []string{ix.def}
	}
	def := ix.def
	for _, p := range []string{"CREATE UNIQUE INDEX ", "CREATE INDEX "} {
		if strings.HasPrefix(def, p) {
			def = p + "IF NOT EXISTS " + strings.TrimPrefix(def, p)
			break
		}
	}
	return []string{def, "ALTER INDEX " + quoteQualified(ix.parentSchema, ix.parent) +
		" ATTACH PARTITION " + quoteQualified(schema, ix.name)}
}

func tableIndexes(ctx context.Context, q querier, oid uint32) ([]indexDef, error) {
	rows, err := q.Query(ctx, `SELECT ic.relname, pg_catalog.pg_get_indexdef(i.indexrelid),
			EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.conindid = i.indexrelid
				AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x')),
			i.indisclustered, coalesce(pn.nspname::text, ''), coalesce(pc.relname::text, ''),
			coalesce(pg_catalog.obj_description(i.indexrelid, 'pg_class'), '')
		FROM pg_catalog.pg_index i
		JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
		LEFT JOIN pg_catalog.pg_inherits ih ON ih.inhrelid = i.indexrelid
		LEFT JOIN pg_catalog.pg_class pc ON pc.oid = ih.inhparent
		LEFT JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace
		WHERE i.indrelid = $1 ORDER BY ic.relname`, oid)
	if err != nil {
		return nil, fmt.Errorf("reading indexes: %w", err)
	}
	defer rows.Close()
	var out []indexDef
	for rows.Next() {
		var ix indexDef
		if err := rows.Scan(&ix.name, &ix.def, &ix.constraint, &ix.clustered, &ix.parentSchema, &ix.parent, &ix.comment); err != nil {
			return nil, fmt.Errorf("reading indexes: %w", err)
		}
		out = append(out, ix)
	}
	return out, rows.Err()
}

func appendRules(ctx context.Context, q querier, oid uint32, b *defBuilder) error {
	rules, err := stringRows(ctx, q, `SELECT pg_catalog.pg_get_ruledef(r.oid) FROM pg_catalog.pg_rewrite r
		WHERE r.ev_class = $1 AND r.rulename <> '_RETURN' ORDER BY r.rulename`, oid)
	if err != nil {
		return fmt.Errorf("reading rules: %w", err)
	}
	for _, r := range rules {
		b.post = append(b.post, trimStatement(r))
	}
	return nil
}

// appendTriggers adds the relation's own user triggers (not internal ones,
// nor clones of a partitioned parent's, which come back with the parent's),
// their enabled state and comments.
func appendTriggers(ctx context.Context, q querier, oid uint32, tbl string, b *defBuilder) error {
	rows, err := q.Query(ctx, `SELECT t.tgname, pg_catalog.pg_get_triggerdef(t.oid), t.tgenabled::text,
			coalesce(pg_catalog.obj_description(t.oid, 'pg_trigger'), '')
		FROM pg_catalog.pg_trigger t
		WHERE t.tgrelid = $1 AND NOT t.tgisinternal AND t.tgparentid = 0 ORDER BY t.tgname`, oid)
	if err != nil {
		return fmt.Errorf("reading triggers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, def, enabled, cmt string
		if err := rows.Scan(&name, &def, &enabled, &cmt); err != nil {
			return fmt.Errorf("reading triggers: %w", err)
		}
		b.post = append(b.post, triggerStatements(tbl, name, def, enabled, cmt)...)
	}
	return rows.Err()
}

func triggerStatements(tbl, name, def, enabled, cmt string) []string {
	out := []string{def}
	alter := "ALTER TABLE " + tbl + " "
	switch enabled {
	case "D":
		out = append(out, alter+"DISABLE TRIGGER "+quoteIdent(name))
	case "R":
		out = append(out, alter+"ENABLE REPLICA TRIGGER "+quoteIdent(name))
	case "A":
		out = append(out, alter+"ENABLE ALWAYS TRIGGER "+quoteIdent(name))
	}
	if cmt != "" {
		out = append(out, comment("TRIGGER "+quoteIdent(name)+" ON "+tbl, cmt))
	}
	return out
}

var policyCommands = map[string]string{"*": "ALL", "r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE"}

// appendPolicies adds CREATE POLICY statements for the table's policies
// (only the one with oid only, when only is not 0); role 0 is PUBLIC.
func appendPolicies(ctx context.Context, q querier, oid, only uint32, tbl string, b *defBuilder) error {
	rows, err := q.Query(ctx, `SELECT p.polname, p.polpermissive, p.polcmd::text,
			ARRAY(SELECT coalesce((SELECT r.rolname::text FROM pg_catalog.pg_roles r WHERE r.oid = u.r), '')
				FROM unnest(p.polroles) WITH ORDINALITY AS u(r, o) ORDER BY u.o),
			coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), ''),
			coalesce(pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid), ''),
			coalesce(pg_catalog.obj_description(p.oid, 'pg_policy'), '')
		FROM pg_catalog.pg_policy p WHERE p.polrelid = $1 AND ($2 = 0 OR p.oid = $2) ORDER BY p.polname`, oid, only)
	if err != nil {
		return fmt.Errorf("reading policies: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, cmd, using, check, cmt string
		var permissive bool
		var roles []string
		if err := rows.Scan(&name, &permissive, &cmd, &roles, &using, &check, &cmt); err != nil {
			return fmt.Errorf("reading policies: %w", err)
		}
		b.post = append(b.post, policyStatements(tbl, name, permissive, cmd, roles, using, check, cmt)...)
	}
	return rows.Err()
}

func policyStatements(tbl, name string, permissive bool, cmd string, roles []string, using, check, cmt string) []string {
	s := "CREATE POLICY " + quoteIdent(name) + " ON " + tbl
	if permissive {
		s += " AS PERMISSIVE"
	} else {
		s += " AS RESTRICTIVE"
	}
	s += " FOR " + policyCommands[cmd]
	var to []string
	for _, r := range roles {
		if r == "" {
			to = append(to, "PUBLIC")
		} else {
			to = append(to, quoteIdent(r))
		}
	}
	if len(to) > 0 {
		s += " TO " + strings.Join(to, ", ")
	}
	if using != "" {
		s += " USING (" + using + ")"
	}
	if check != "" {
		s += " WITH CHECK (" + check + ")"
	}
	out := []string{s}
	if cmt != "" {
		out = append(out, comment("POLICY "+quoteIdent(name)+" ON "+tbl, cmt))
	}
	return out
}

// stringRows runs a query returning one text column.
func stringRows(ctx context.Context, q querier, sql string, args ...any) ([]string, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// trimStatement drops the terminator the pg_get_*def functions add.
func trimStatement(s string) string {
	return strings.TrimSuffix(strings.TrimSpace(s), ";")
}

// aclGrants renders GRANT statements for an ACL's entries, except the
// owner's own (which the re-creating role gets as the new owner). sql
// returns (grantee, privilege, grantable, column) rows: an empty grantee
// is PUBLIC, an empty column an object privilege. what is "TABLE x",
// "SEQUENCE x" or "FUNCTION x(args)".
func aclGrants(ctx context.Context, q querier, sql string, oid uint32, what string) ([]string, error) {
	rows, err := q.Query(ctx, sql, oid)
	if err != nil {
		return nil, fmt.Errorf("reading privileges: %w", err)
	}
	defer rows.Close()
	type target struct {
		grantee, column string
		grantable       bool
	}
	var order []target
	privs := map[target][]string{}
	for rows.Next() {
		var t target
		var priv string
		if err := rows.Scan(&t.grantee, &priv, &t.grantable, &t.column); err != nil {
			return nil, fmt.Errorf("reading privileges: %w", err)
		}
		if _, ok := privs[t]; !ok {
			order = append(order, t)
		}
		privs[t] = append(privs[t], priv)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading privileges: %w", err)
	}
	var out []string
	for _, t := range order {
		p := strings.Join(privs[t], ", ")
		if t.column != "" {
			p = strings.ReplaceAll(p, ", ", " ("+quoteIdent(t.column)+"), ") + " (" + quoteIdent(t.column) + ")"
		}
		to := "PUBLIC"
		if t.grantee != "" {
			to = quoteIdent(t.grantee)
		}
		s := "GRANT " + p + " ON " + what + " TO " + to
		if t.grantable {
			s += " WITH GRANT OPTION"
		}
		out = append(out, s)
	}
	return out, nil
}

// relationACL lists a relation's and its columns' privileges.
const relationACL = `SELECT coalesce(r.rolname::text, ''), a.privilege_type, a.is_grantable, ''
	FROM pg_catalog.pg_class c CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a
	LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
	WHERE c.oid = $1 AND a.grantee <> c.relowner
	UNION ALL
	SELECT coalesce(r.rolname::text, ''), a.privilege_type, a.is_grantable, t.attname::text
	FROM pg_catalog.pg_class c JOIN pg_catalog.pg_attribute t ON t.attrelid = c.oid AND t.attnum > 0 AND NOT t.attisdropped
	CROSS JOIN LATERAL pg_catalog.aclexplode(t.attacl) a
	LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
	WHERE c.oid = $1 AND a.grantee <> c.relowner
	ORDER BY 4, 1, 3, 2`
