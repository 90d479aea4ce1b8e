package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"lifebelt/engine"
)

// Undoing ALTER TABLE subcommands that change a table's settings, not its
// set of columns: column types (where converting every value there and
// back gives it back), defaults, NOT NULL, column statistics, storage and
// compression, constraints (added, dropped, validated), triggers enabled
// or disabled, row security, storage parameters, replica identity, the
// clustering index and the owner. Each is undone by reading those
// settings before and after the ALTER and writing the statements that
// take the table from one to the other; a revert runs only when it gives
// the table back exactly its recorded definition (Revert.Exact).

// settingSubcommands are the subcommands undone by setting back.
var settingSubcommands = map[pg_query.AlterTableType]bool{
	pg_query.AlterTableType_AT_AlterColumnType:    true,
	pg_query.AlterTableType_AT_ColumnDefault:      true,
	pg_query.AlterTableType_AT_DropNotNull:        true,
	pg_query.AlterTableType_AT_SetNotNull:         true,
	pg_query.AlterTableType_AT_SetStatistics:      true,
	pg_query.AlterTableType_AT_SetStorage:         true,
	pg_query.AlterTableType_AT_SetCompression:     true,
	pg_query.AlterTableType_AT_AddConstraint:      true,
	pg_query.AlterTableType_AT_ValidateConstraint: true,
	pg_query.AlterTableType_AT_DropConstraint:     true,
	pg_query.AlterTableType_AT_ChangeOwner:        true,
	pg_query.AlterTableType_AT_ClusterOn:          true,
	pg_query.AlterTableType_AT_DropCluster:        true,
	pg_query.AlterTableType_AT_SetRelOptions:      true,
	pg_query.AlterTableType_AT_ResetRelOptions:    true,
	pg_query.AlterTableType_AT_EnableTrig:         true,
	pg_query.AlterTableType_AT_EnableAlwaysTrig:   true,
	pg_query.AlterTableType_AT_EnableReplicaTrig:  true,
	pg_query.AlterTableType_AT_DisableTrig:        true,
	pg_query.AlterTableType_AT_EnableTrigAll:      true,
	pg_query.AlterTableType_AT_DisableTrigAll:     true,
	pg_query.AlterTableType_AT_EnableTrigUser:     true,
	pg_query.AlterTableType_AT_DisableTrigUser:    true,
	pg_query.AlterTableType_AT_ReplicaIdentity:    true,
	pg_query.AlterTableType_AT_EnableRowSecurity:  true,
	pg_query.AlterTableType_AT_DisableRowSecurity: true,
	pg_query.AlterTableType_AT_ForceRowSecurity:   true,
	pg_query.AlterTableType_AT_NoForceRowSecurity: true,
}

// onlyChangesSettings reports whether every subcommand is one undone by
// setting back. A constraint made from an existing index (USING INDEX)
// is not: dropping it would drop the index.
func onlyChangesSettings(s *pg_query.AlterTableStmt) bool {
	if len(s.Cmds) == 0 {
		return false
	}
	for _, n := range s.Cmds {
		c := n.GetAlterTableCmd()
		if c == nil || !settingSubcommands[c.Subtype] {
			return false
		}
		if k := c.GetDef().GetConstraint(); k != nil && k.Indexname != "" {
			return false
		}
		if d := c.GetDef().GetColumnDef(); c.Subtype == pg_query.AlterTableType_AT_AlterColumnType && (d == nil || d.RawDefault != nil) {
			return false // TYPE ... USING: its conversion is the user's
		}
	}
	return true
}

// tableSettings is what those subcommands change.
type tableSettings struct {
	owner, comment       string
	ownerPrivs           ownerPrivs // the owner's own, on the table and its columns
	cols                 []colSetting
	cons                 []conSetting
	trigs                []trigSetting
	rowSecurity, force   bool
	options, toast       []string
	replident, replIndex string
	cluster              string
}

type colSetting struct {
	name, typ, collation     string
	typOID                   uint32
	def, generated, identity string
	notNull                  bool
	statTarget               int
	storage, comp, comment   string
	// hasACL: column privileges are granted; ownerACL: to the owner too
	// (OWNER TO moves the new owner's column grants to the owner).
	hasACL, ownerACL bool
}

type conSetting struct {
	name, kind, def     string
	validated           bool
	comment             string
	index, indexComment string // a key's index (its name may differ)
	// remoteOff: a foreign key whose triggers on the referenced table
	// are not all enabled (made again, they would be).
	remoteOff bool
}

// trigSetting is a trigger's enabled state. An internal trigger (of a
// foreign key) is known by its constraint and role (key), since its name
// changes when the constraint is made again.
type trigSetting struct {
	name, enabled, constraint, key string
	hidden                         bool // internal, or inherited by a partition: not in the definition
}

// readSettings reads a table's settings, names qualified as in its
// definition. children is how many tables inherit from it or are its
// partitions.
func readSettings(ctx context.Context, q querier, oid uint32) (st tableSettings, children int64, err error) {
	err = withCatalogPath(ctx, q, func() error {
		m, err := loadTableMeta(ctx, q, oid)
		if err != nil {
			return err
		}
		st.rowSecurity, st.force = m.rowSecurity, m.forceRowSecurity
		st.options, st.toast = m.options, m.toastOptions
		st.replident, st.replIndex = m.replident, m.replIndex
		st.comment = m.comment
		if err := q.QueryRow(ctx, `SELECT pg_catalog.pg_get_userbyid(c.relowner)::text,
				(SELECT count(*) FROM pg_catalog.pg_inherits i WHERE i.inhparent = c.oid)
			FROM pg_catalog.pg_class c WHERE c.oid = $1`, oid).Scan(&st.owner, &children); err != nil {
			return fmt.Errorf("reading the owner: %w", err)
		}
		if st.ownerPrivs, _, err = readOwnerPrivs(ctx, q, oid); err != nil {
			return err
		}
		cols, err := defColumns(ctx, q, oid)
		if err != nil {
			return err
		}
		for _, c := range cols {
			st.cols = append(st.cols, colSetting{name: c.name, typ: c.typ, collation: c.collation, def: c.def, generated: c.generated, identity: c.identity,
				notNull: c.notNull, statTarget: c.statTarget, storage: c.storage, comp: c.comp, comment: c.comment})
		}
		type colExtra struct {
			typ            uint32
			hasACL, ownACL bool
		}
		extra := map[string]colExtra{}
		rows, err := q.Query(ctx, `SELECT a.attname::text, a.atttypid, a.attacl IS NOT NULL,
				EXISTS (SELECT 1 FROM pg_catalog.aclexplode(a.attacl) x WHERE x.grantee = c.relowner)
			FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
			WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped`, oid)
		if err != nil {
			return fmt.Errorf("reading column types: %w", err)
		}
		for rows.Next() {
			var name string
			var x colExtra
			if err := rows.Scan(&name, &x.typ, &x.hasACL, &x.ownACL); err != nil {
				rows.Close()
				return fmt.Errorf("reading column types: %w", err)
			}
			extra[name] = x
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("reading column types: %w", err)
		}
		for i := range st.cols {
			x := extra[st.cols[i].name]
			st.cols[i].typOID, st.cols[i].hasACL, st.cols[i].ownerACL = x.typ, x.hasACL, x.ownACL
		}
		rows, err = q.Query(ctx, `SELECT k.conname::text, k.contype::text, pg_catalog.pg_get_constraintdef(k.oid), k.convalidated,
				coalesce(pg_catalog.obj_description(k.oid, 'pg_constraint'), ''),
				coalesce(ic.relname::text, ''), coalesce(pg_catalog.obj_description(ic.oid, 'pg_class'), ''),
				EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t WHERE t.tgconstraint = k.oid AND t.tgrelid <> k.conrelid AND t.tgenabled <> 'O')
			FROM pg_catalog.pg_constraint k
			LEFT JOIN pg_catalog.pg_class ic ON ic.oid = k.conindid AND k.contype IN ('p', 'u', 'x')
			WHERE k.conrelid = $1 AND k.contype <> 'n' AND k.conparentid = 0 ORDER BY k.conname`, oid)
		if err != nil {
			return fmt.Errorf("reading constraints: %w", err)
		}
		for rows.Next() {
			var k conSetting
			if err := rows.Scan(&k.name, &k.kind, &k.def, &k.validated, &k.comment, &k.index, &k.indexComment, &k.remoteOff); err != nil {
				rows.Close()
				return fmt.Errorf("reading constraints: %w", err)
			}
			st.cons = append(st.cons, k)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("reading constraints: %w", err)
		}
		rows, err = q.Query(ctx, `SELECT t.tgname::text, t.tgenabled::text, coalesce(k.conname::text, ''),
				coalesce(k.conname || ' ' || t.tgtype || ' ' || t.tgfoid, ''), t.tgisinternal OR t.tgparentid <> 0
			FROM pg_catalog.pg_trigger t LEFT JOIN pg_catalog.pg_constraint k ON k.oid = t.tgconstraint AND t.tgisinternal
			WHERE t.tgrelid = $1 ORDER BY t.tgname`, oid)
		if err != nil {
			return fmt.Errorf("reading triggers: %w", err)
		}
		for rows.Next() {
			var t trigSetting
			if err := rows.Scan(&t.name, &t.enabled, &t.constraint, &t.key, &t.hidden); err != nil {
				rows.Close()
				return fmt.Errorf("reading triggers: %w", err)
			}
			st.trigs = append(st.trigs, t)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("reading triggers: %w", err)
		}
		return q.QueryRow(ctx, `SELECT coalesce((SELECT c.relname::text FROM pg_catalog.pg_index i
				JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = $1 AND i.indisclustered), '')`, oid).Scan(&st.cluster)
	})
	return st, children, err
}

// settingsDiff returns the statements that take table schema.name from
// settings from to settings to; ok is false when they differ in what
// these statements cannot set (the columns themselves).
func settingsDiff(schema, name string, from, to tableSettings) (stmts []string, ok bool) {
	tbl := quoteQualified(schema, name)
	if len(from.cols) != len(to.cols) {
		return nil, false
	}
	alter := "ALTER TABLE " + tbl + " "
	add := func(s string) { stmts = append(stmts, alter+s) }
	// Constraints that go, or change, first: a primary key holds its
	// columns NOT NULL, and a re-defined constraint keeps its name.
	fromCons, toCons := map[string]conSetting{}, map[string]conSetting{}
	for _, k := range from.cons {
		fromCons[k.name] = k
	}
	for _, k := range to.cons {
		toCons[k.name] = k
	}
	for _, k := range from.cons {
		if t, there := toCons[k.name]; !there || !sameConstraint(k, t) && !validates(k, t) {
			add("DROP CONSTRAINT " + quoteIdent(k.name))
		}
	}
	for i, f := range from.cols {
		t := to.cols[i]
		if f.name != t.name || f.generated != t.generated || f.identity != t.identity {
			return nil, false
		}
		col := "ALTER COLUMN " + quoteIdent(t.name) + " "
		if f.notNull && !t.notNull {
			add(col + "DROP NOT NULL")
		}
		fdef := f.def
		if f.typ != t.typ || f.collation != t.collation {
			if t.generated != "" {
				return nil, false
			}
			if fdef != "" {
				// Converted with the column, it might not convert.
				add(col + "DROP DEFAULT")
				fdef = ""
			}
			change := col + "TYPE " + t.typ
			if t.collation != "" {
				change += " COLLATE " + t.collation
			}
			add(change + " USING " + quoteIdent(t.name) + "::" + t.typ)
		}
		if fdef != t.def && t.generated == "" {
			if t.def == "" {
				add(col + "DROP DEFAULT")
			} else {
				add(col + "SET DEFAULT " + t.def)
			}
		}
		if !f.notNull && t.notNull {
			add(col + "SET NOT NULL")
		}
		if f.statTarget != t.statTarget {
			add(col + "SET STATISTICS " + strconv.Itoa(t.statTarget))
		}
		if f.storage != t.storage {
			name := storageNames[t.storage]
			if name == "" {
				return nil, false
			}
			add(col + "SET STORAGE " + name)
		}
		if f.comp != t.comp {
			name := compressionNames[t.comp]
			if name == "" {
				name = "DEFAULT"
			}
			add(col + "SET COMPRESSION " + name)
		}
	}
	made := map[string]bool{} // constraints added or made again
	for _, k := range to.cons {
		f, there := fromCons[k.name]
		switch {
		case there && sameConstraint(f, k):
			continue
		case there && validates(f, k):
			add("VALIDATE CONSTRAINT " + quoteIdent(k.name))
			continue
		}
		if k.remoteOff {
			return nil, false
		}
		made[k.name] = true
		add("ADD CONSTRAINT " + quoteIdent(k.name) + " " + k.def)
		if k.comment != "" {
			stmts = append(stmts, comment("CONSTRAINT "+quoteIdent(k.name)+" ON "+tbl, k.comment))
		}
		if k.index != "" && k.index != k.name {
			// The index ADD CONSTRAINT makes is named after it.
			stmts = append(stmts, "ALTER INDEX "+quoteQualified(schema, k.name)+" RENAME TO "+quoteIdent(k.index))
		}
		if k.indexComment != "" {
			stmts = append(stmts, comment("INDEX "+quoteQualified(schema, k.index), k.indexComment))
		}
	}
	trig, ok := triggersDiff(from.trigs, to.trigs, made)
	if !ok {
		return nil, false
	}
	for _, t := range trig {
		add(t)
	}
	if from.rowSecurity != to.rowSecurity {
		add(map[bool]string{true: "ENABLE", false: "DISABLE"}[to.rowSecurity] + " ROW LEVEL SECURITY")
	}
	if from.force != to.force {
		add(map[bool]string{true: "FORCE", false: "NO FORCE"}[to.force] + " ROW LEVEL SECURITY")
	}
	if !slices.Equal(from.options, to.options) || !slices.Equal(from.toast, to.toast) {
		// Reset every parameter, then set them in their order: the
		// order is part of the definition.
		var keys []string
		for _, o := range from.options {
			k, _, _ := strings.Cut(o, "=")
			keys = append(keys, quoteIdent(k))
		}
		for _, o := range from.toast {
			k, _, _ := strings.Cut(o, "=")
			keys = append(keys, quoteIdent("toast")+"."+quoteIdent(k))
		}
		if len(keys) > 0 {
			add("RESET (" + strings.Join(keys, ", ") + ")")
		}
		if w := mergeOptions(to.options, to.toast); w != "" {
			add("SET" + strings.TrimPrefix(w, " WITH"))
		}
	}
	// "Using index" with no index is what dropping that index leaves: the
	// DROP CONSTRAINT above makes it.
	if (from.replident != to.replident || from.replIndex != to.replIndex) && !(to.replident == "i" && to.replIndex == "") {
		switch to.replident {
		case "d":
			add("REPLICA IDENTITY DEFAULT")
		case "n":
			add("REPLICA IDENTITY NOTHING")
		case "f":
			add("REPLICA IDENTITY FULL")
		case "i":
			add("REPLICA IDENTITY USING INDEX " + quoteIdent(to.replIndex))
		}
	}
	if from.cluster != to.cluster {
		if to.cluster == "" {
			add("SET WITHOUT CLUSTER")
		} else {
			add("CLUSTER ON " + quoteIdent(to.cluster))
		}
	}
	if from.owner != to.owner {
		add("OWNER TO " + quoteIdent(to.owner))
		// OWNER TO carries the old owner's privileges (and the new
		// owner's merged grants) over: the owner's own come back as
		// they were, on the table and its columns.
		names := make([]string, len(to.cols))
		for i, c := range to.cols {
			names[i] = c.name
		}
		stmts = append(stmts, to.ownerPrivs.grantsTo(tbl, to.owner, names)...)
		for i, c := range to.cols {
			if from.cols[i].hasACL && !c.ownerACL {
				// Column grants of the role that was owner went to
				// the owner; they come back with the grants after.
				stmts = append(stmts, "REVOKE ALL ("+quoteIdent(c.name)+") ON TABLE "+tbl+" FROM "+quoteIdent(to.owner))
			}
		}
	}
	// Comments (COMMENT ON); a constraint made again got its own above.
	say := func(target, was, now string) {
		if was == now {
			return
		}
		text := "NULL"
		if now != "" {
			text = quoteLiteral(now)
		}
		stmts = append(stmts, "COMMENT ON "+target+" IS "+text)
	}
	say("TABLE "+tbl, from.comment, to.comment)
	for i, c := range to.cols {
		say("COLUMN "+tbl+"."+quoteIdent(c.name), from.cols[i].comment, c.comment)
	}
	for _, k := range to.cons {
		if f, there := fromCons[k.name]; there && !made[k.name] {
			say("CONSTRAINT "+quoteIdent(k.name)+" ON "+tbl, f.comment, k.comment)
		}
	}
	return stmts, true
}

// triggersDiff returns the subcommands that take triggers from their
// states in from to those in to, once the constraints in made are added
// (their triggers enabled). Internal triggers are reached only through
// ENABLE or DISABLE TRIGGER ALL (their names change when a constraint
// is made again), and then only where all of them are to be in one
// state; user triggers are set by name.
func triggersDiff(from, to []trigSetting, made map[string]bool) (out []string, ok bool) {
	was := map[string]string{}
	for _, t := range from {
		if t.key != "" {
			was["internal "+t.key] = t.enabled
		} else {
			was[t.name] = t.enabled
		}
	}
	all := ""
	for _, t := range to {
		if t.key == "" {
			continue
		}
		now, there := was["internal "+t.key]
		if !there || made[t.constraint] {
			now = "O"
		}
		if now != t.enabled {
			all = t.enabled
		}
	}
	if all != "" {
		for _, t := range to {
			if t.key != "" && t.enabled != all {
				return nil, false
			}
		}
		switch all {
		case "O":
			out = append(out, "ENABLE TRIGGER ALL")
		case "D":
			out = append(out, "DISABLE TRIGGER ALL")
		default:
			return nil, false
		}
		for name := range was {
			if !strings.HasPrefix(name, "internal ") {
				was[name] = all
			}
		}
	}
	for _, t := range to {
		if t.key != "" || was[t.name] == t.enabled {
			continue
		}
		switch t.enabled {
		case "O":
			out = append(out, "ENABLE TRIGGER "+quoteIdent(t.name))
		case "D":
			out = append(out, "DISABLE TRIGGER "+quoteIdent(t.name))
		case "R":
			out = append(out, "ENABLE REPLICA TRIGGER "+quoteIdent(t.name))
		case "A":
			out = append(out, "ENABLE ALWAYS TRIGGER "+quoteIdent(t.name))
		}
	}
	return out, true
}

func sameConstraint(a, b conSetting) bool {
	return a.kind == b.kind && a.def == b.def && a.validated == b.validated
}

// validates reports whether VALIDATE CONSTRAINT takes a to b.
func validates(a, b conSetting) bool {
	return a.kind == b.kind && !a.validated && b.validated && strings.TrimSuffix(a.def, " NOT VALID") == b.def
}

// settingsReverts attaches to after the statements that set the table's
// settings back to before, and to before those that set them again.
// Neither runs while tables inherit from the table or are its
// partitions: the statements would reach them too.
func settingsReverts(schema, name string, from, to tableSettings, before, after *engine.Definition) {
	rel := quoteQualified(schema, name)
	undo, ok := settingsDiff(schema, name, to, from)
	if !ok {
		return
	}
	redo, ok := settingsDiff(schema, name, from, to)
	if !ok {
		return
	}
	if len(undo) == 0 && !(slices.Equal(before.Create, after.Create) && slices.Equal(shape(before.PostData), shape(after.PostData))) {
		return // it changed what these settings do not cover (a partition's inherited constraint)
	}
	if from.owner != to.owner {
		// OWNER TO merges the new owner's grants into the owner's: give
		// them back.
		undo = append(undo, grants(before)...)
		redo = append(redo, grants(after)...)
	}
	esc := func(s string) string { return strings.ReplaceAll(s, "%", "%%") }
	regclass := quoteLiteral(rel) + "::regclass"
	// The owner and the enabled state of foreign-key triggers and of
	// triggers a partition inherits are not in the recorded definition:
	// a change since by someone else is found by this check.
	unrecorded := func(st tableSettings) engine.RevertCheck {
		var trigs []string
		for _, t := range st.trigs {
			if t.hidden {
				id := t.name // a partition's inherited trigger
				if t.key != "" {
					id = t.key // a foreign key's: its name changes when the key is made again
				}
				trigs = append(trigs, id+"="+t.enabled)
			}
		}
		slices.Sort(trigs)
		want := st.owner + "|" + strings.Join(trigs, ",")
		return engine.RevertCheck{
			Query: `SELECT count(*) FROM pg_catalog.pg_class c WHERE c.oid = ` + regclass + ` AND pg_catalog.pg_get_userbyid(c.relowner)::text || '|' ||
				coalesce((SELECT pg_catalog.string_agg(x.id, ',' ORDER BY x.id COLLATE "C") FROM (SELECT
					coalesce(k.conname::text || ' ' || t.tgtype || ' ' || t.tgfoid, t.tgname::text) || '=' || t.tgenabled::text AS id
					FROM pg_catalog.pg_trigger t LEFT JOIN pg_catalog.pg_constraint k ON k.oid = t.tgconstraint AND t.tgisinternal
					WHERE t.tgrelid = c.oid AND (t.tgisinternal OR t.tgparentid <> 0)) x), '') IS DISTINCT FROM ` + quoteLiteral(want),
			Reason: "%d change(s) since the ALTER to the owner of " + esc(rel) + " or to which of its foreign-key or inherited triggers are enabled (the recorded definition does not show these)",
		}
	}
	children := engine.RevertCheck{
		Query:  `SELECT count(*) FROM pg_catalog.pg_inherits WHERE inhparent = ` + regclass,
		Reason: "%d table(s) inherit from " + esc(rel) + " or are its partitions since the ALTER: setting it back would change them too",
	}
	// Values written since that the other type cannot hold exactly.
	checks := func(now, then tableSettings) []engine.RevertCheck {
		out := []engine.RevertCheck{children, unrecorded(now)}
		for i, c := range now.cols {
			if t := then.cols[i]; c.typ != t.typ {
				out = append(out, engine.RevertCheck{Query: roundTripQuery(rel, c.name, c.typ, t.typ),
					Reason: "%d row(s) of " + esc(rel) + " hold values in column " + esc(c.name) + " that type " + esc(t.typ) + " cannot hold exactly: changing the type would alter them"})
			}
		}
		return out
	}
	// Rows of later statements keep their meaning across a settings
	// change, not across a type change.
	kept := true
	for i, c := range from.cols {
		if c.typ != to.cols[i].typ {
			kept = false
		}
	}
	after.Revert = &engine.Revert{Schema: schema, Name: name, Statements: undo, Checks: checks(to, from), Exact: true, KeepsRows: kept}
	before.Revert = &engine.Revert{Schema: schema, Name: name, Statements: redo, Checks: checks(from, to), Exact: true, KeepsRows: kept}
}

// grants are a definition's GRANT statements.
func grants(d *engine.Definition) []string {
	var out []string
	for _, s := range d.PostData {
		if strings.HasPrefix(s, "GRANT ") {
			out = append(out, s)
		}
	}
	return out
}
