package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"lifebelt/engine"
)

// GRANT and REVOKE on tables are journaled as changes of each table's
// definition (its privileges granted to other roles are part of it), and
// undone by revoking everything from every role either definition names
// and granting what the other definition lists: exact, checked against
// the recorded definition.

// grantTables returns the tables GRANT/REVOKE s names, or false when it
// names anything else (other object kinds, ALL TABLES IN SCHEMA, default
// privileges).
func grantTables(s *pg_query.GrantStmt) ([]engine.Name, bool) {
	if s == nil || s.Targtype != pg_query.GrantTargetType_ACL_TARGET_OBJECT || s.Objtype != pg_query.ObjectType_OBJECT_TABLE {
		return nil, false
	}
	var out []engine.Name
	for _, o := range s.Objects {
		rv := o.GetRangeVar()
		if rv == nil {
			return nil, false
		}
		out = append(out, rangeVarName(rv))
	}
	return out, len(out) > 0
}

// grant runs GRANT/REVOKE on ordinary or partitioned tables with their
// definitions before and after.
func (e *execution) grant(ctx context.Context, names []engine.Name) (engine.Result, error) {
	e.x.snapshot = true
	type table struct {
		oid          uint32
		schema, name string
		before       *engine.Definition
		roles        []string
		acl          aclState
	}
	var tables []*table
	seen := map[uint32]bool{}
	for _, n := range names {
		oid, schema, name, relkind, ok, err := resolveRelation(ctx, e.x.tx, n)
		if err != nil {
			return engine.Result{}, err
		}
		if !ok {
			return e.collect(ctx, e.st.Text) // it fails: no such table
		}
		if seen[oid] {
			continue // named twice (t, public.t)
		}
		seen[oid] = true
		if relkind != 'r' && relkind != 'p' {
			return e.unguarded(ctx, fmt.Sprintf("privilege changes on %s, which is not a table (relkind %c), are not imaged", quoteQualified(schema, name), relkind))
		}
		before, err := tableDefinition(ctx, e.x.tx, oid)
		if err != nil {
			return engine.Result{}, err
		}
		roles, err := aclRoles(ctx, e.x.tx, oid)
		if err != nil {
			return engine.Result{}, err
		}
		acl, err := readACLState(ctx, e.x.tx, oid)
		if err != nil {
			return engine.Result{}, err
		}
		tables = append(tables, &table{oid: oid, schema: schema, name: name, before: before, roles: roles, acl: acl})
	}
	res, err := e.ddlRun(ctx)
	if err != nil {
		return engine.Result{}, err
	}
	for _, t := range tables {
		after, err := tableDefinition(ctx, e.x.tx, t.oid)
		if err != nil {
			return engine.Result{}, err
		}
		now, err := aclRoles(ctx, e.x.tx, t.oid)
		if err != nil {
			return engine.Result{}, err
		}
		cols, err := columnNames(ctx, e.x.tx, t.oid)
		if err != nil {
			return engine.Result{}, err
		}
		acl, err := readACLState(ctx, e.x.tx, t.oid)
		if err != nil {
			return engine.Result{}, err
		}
		roles := union(t.roles, now)
		rel := quoteQualified(t.schema, t.name)
		if !t.acl.othersGranted && !acl.othersGranted {
			// Privileges granted by roles other than the owner would come
			// back granted by the undoing role: left to people.
			after.Revert = &engine.Revert{Schema: t.schema, Name: t.name, Statements: regrant(rel, roles, cols, t.before, acl, t.acl), Exact: true, KeepsRows: true}
			t.before.Revert = &engine.Revert{Schema: t.schema, Name: t.name, Statements: regrant(rel, roles, cols, after, t.acl, acl), Exact: true, KeepsRows: true}
		}
		img := engine.ObjectImage{Kind: "TABLE", Schema: t.schema, Name: t.name, Action: engine.ActionAlter, Before: t.before, After: after}
		if err := e.sink.Object(img); err != nil {
			return engine.Result{}, fmt.Errorf("postgres: journaling the definition of table %s: %w", rel, err)
		}
	}
	return res, nil
}

// regrant revokes every privilege of roles on the table and its columns,
// then grants what definition d lists, and gives the owner back the
// privileges it had (its own are not in the definition), from now to to.
func regrant(rel string, roles, cols []string, d *engine.Definition, now, to aclState) []string {
	var out []string
	if !now.owner.equal(to.owner) {
		out = append(out, to.owner.grantsTo(rel, to.ownerName, cols)...)
	}
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = quoteIdent(c)
	}
	for _, r := range roles {
		who := "PUBLIC"
		if r != "" {
			who = quoteIdent(r)
		}
		out = append(out, "REVOKE ALL ON TABLE "+rel+" FROM "+who+" CASCADE")
		if len(cols) > 0 {
			out = append(out, "REVOKE ALL ("+strings.Join(quoted, ", ")+") ON TABLE "+rel+" FROM "+who+" CASCADE")
		}
	}
	return append(out, grants(d)...)
}

// union is a and the members of b not in a, in order.
func union(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range append(append([]string{}, a...), b...) {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// aclRoles lists the roles other than the owner that hold privileges on
// the table or its columns ("" for PUBLIC), or granted them.
func aclRoles(ctx context.Context, q querier, oid uint32) ([]string, error) {
	return stringRows(ctx, q, `SELECT DISTINCT coalesce(r.rolname::text, '') FROM (
			SELECT a.grantee AS role, c.relowner FROM pg_catalog.pg_class c CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a WHERE c.oid = $1
			UNION ALL SELECT a.grantor, c.relowner FROM pg_catalog.pg_class c CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a WHERE c.oid = $1
			UNION ALL SELECT a.grantee, c.relowner FROM pg_catalog.pg_attribute t JOIN pg_catalog.pg_class c ON c.oid = t.attrelid
				CROSS JOIN LATERAL pg_catalog.aclexplode(t.attacl) a WHERE t.attrelid = $1 AND t.attnum > 0 AND NOT t.attisdropped
		) x LEFT JOIN pg_catalog.pg_roles r ON r.oid = x.role
		WHERE x.role <> x.relowner ORDER BY 1`, oid)
}

// aclState is what a table's definition does not show of its privileges:
// the owner's own (table and column privileges, "*" marking a grant
// option), and whether a role other than the owner granted any (a grant
// option passed on).
type aclState struct {
	ownerName     string
	owner         ownerPrivs
	othersGranted bool
}

// ownerPrivs are an owner's own privileges on a table: "SELECT*" on the
// table, "UPDATE*" on column v as cols["v"].
type ownerPrivs struct {
	table []string
	cols  map[string][]string
}

func (p ownerPrivs) equal(q ownerPrivs) bool {
	if !slices.Equal(p.table, q.table) || len(p.cols) != len(q.cols) {
		return false
	}
	for c, v := range p.cols {
		if !slices.Equal(v, q.cols[c]) {
			return false
		}
	}
	return true
}

// grantsTo gives owner back exactly privileges p on table rel (it first
// loses all, on the table and its columns cols).
func (p ownerPrivs) grantsTo(rel, owner string, cols []string) []string {
	who := quoteIdent(owner)
	out := []string{"REVOKE ALL ON TABLE " + rel + " FROM " + who}
	if len(cols) > 0 {
		quoted := make([]string, len(cols))
		for i, c := range cols {
			quoted[i] = quoteIdent(c)
		}
		out = append(out, "REVOKE ALL ("+strings.Join(quoted, ", ")+") ON TABLE "+rel+" FROM "+who)
	}
	grant := func(privs []string, col string) {
		var plain, grantable []string
		for _, pr := range privs {
			if name, ok := strings.CutSuffix(pr, "*"); ok {
				grantable = append(grantable, name)
			} else {
				plain = append(plain, pr)
			}
		}
		on := ""
		if col != "" {
			on = " (" + quoteIdent(col) + ")"
		}
		for _, set := range []struct {
			privs []string
			with  string
		}{{plain, ""}, {grantable, " WITH GRANT OPTION"}} {
			if len(set.privs) == 0 {
				continue
			}
			list := set.privs
			if on != "" {
				list = make([]string, len(set.privs))
				for i, pr := range set.privs {
					list[i] = pr + on
				}
			}
			out = append(out, "GRANT "+strings.Join(list, ", ")+" ON TABLE "+rel+" TO "+who+set.with)
		}
	}
	grant(p.table, "")
	names := make([]string, 0, len(p.cols))
	for c := range p.cols {
		names = append(names, c)
	}
	slices.Sort(names)
	for _, c := range names {
		grant(p.cols[c], c)
	}
	return out
}

// readOwnerPrivs reads the owner's own privileges on table oid.
func readOwnerPrivs(ctx context.Context, q querier, oid uint32) (p ownerPrivs, owner string, err error) {
	rows, err := q.Query(ctx, `SELECT pg_catalog.pg_get_userbyid(c.relowner)::text, '', a.privilege_type || CASE WHEN a.is_grantable THEN '*' ELSE '' END
			FROM pg_catalog.pg_class c CROSS JOIN LATERAL pg_catalog.aclexplode(coalesce(c.relacl, pg_catalog.acldefault('r', c.relowner))) a
			WHERE c.oid = $1 AND a.grantee = c.relowner
		UNION ALL SELECT pg_catalog.pg_get_userbyid(c.relowner)::text, t.attname::text, a.privilege_type || CASE WHEN a.is_grantable THEN '*' ELSE '' END
			FROM pg_catalog.pg_class c JOIN pg_catalog.pg_attribute t ON t.attrelid = c.oid AND t.attnum > 0 AND NOT t.attisdropped
			CROSS JOIN LATERAL pg_catalog.aclexplode(t.attacl) a
			WHERE c.oid = $1 AND a.grantee = c.relowner
		ORDER BY 2, 3`, oid)
	if err != nil {
		return p, "", fmt.Errorf("reading the owner's privileges: %w", err)
	}
	defer rows.Close()
	p.cols = map[string][]string{}
	for rows.Next() {
		var col, priv string
		if err := rows.Scan(&owner, &col, &priv); err != nil {
			return p, "", fmt.Errorf("reading the owner's privileges: %w", err)
		}
		if col == "" {
			p.table = append(p.table, priv)
		} else {
			p.cols[col] = append(p.cols[col], priv)
		}
	}
	if err := rows.Err(); err != nil {
		return p, "", fmt.Errorf("reading the owner's privileges: %w", err)
	}
	if owner == "" {
		err = q.QueryRow(ctx, `SELECT pg_catalog.pg_get_userbyid(relowner)::text FROM pg_catalog.pg_class WHERE oid = $1`, oid).Scan(&owner)
	}
	return p, owner, err
}

func readACLState(ctx context.Context, q querier, oid uint32) (st aclState, err error) {
	if st.owner, st.ownerName, err = readOwnerPrivs(ctx, q, oid); err != nil {
		return st, fmt.Errorf("postgres: %w", err)
	}
	err = q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.aclexplode(c.relacl) a WHERE a.grantor <> c.relowner)
			OR EXISTS (SELECT 1 FROM pg_catalog.pg_attribute t CROSS JOIN LATERAL pg_catalog.aclexplode(t.attacl) a
				WHERE t.attrelid = c.oid AND t.attnum > 0 AND a.grantor <> c.relowner)
		FROM pg_catalog.pg_class c WHERE c.oid = $1`, oid).Scan(&st.othersGranted)
	if err != nil {
		return st, fmt.Errorf("postgres: reading the privileges of table %d: %w", oid, err)
	}
	return st, nil
}
