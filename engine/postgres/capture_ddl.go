package postgres

import (
	"context"
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"lifebelt/engine"
)

// ddl images a definition statement: what it drops, replaces or alters
// (definitions, and every row of a dropped or truncated table) before it
// runs, and what it creates or leaves after. Anything else is refused as
// unguarded.
func (e *execution) ddl(ctx context.Context, n *pg_query.Node, c engine.Statement) (engine.Result, error) {
	// Whatever the statement does, the cached table descriptions may no
	// longer hold afterwards.
	defer func() { e.x.rels = nil }()
	switch {
	case n.GetDropStmt() != nil:
		return e.drop(ctx, n.GetDropStmt(), c)
	case n.GetTruncateStmt() != nil:
		return e.truncate(ctx, n.GetTruncateStmt())
	case n.GetAlterTableStmt() != nil:
		return e.alterTable(ctx, n.GetAlterTableStmt(), c)
	case n.GetCreatedbStmt() != nil, n.GetDropdbStmt() != nil:
		return e.unguarded(ctx, c.Verb+" DATABASE cannot run inside a transaction and is not imaged")
	case n.GetIndexStmt() != nil && n.GetIndexStmt().Concurrent:
		return e.unguarded(ctx, "CREATE INDEX CONCURRENTLY cannot run inside a transaction")
	}
	if ref, ok := createdObject(n); ok {
		return e.create(ctx, n, ref, c.OrReplace)
	}
	if before, after, ok := alteredObject(n); ok {
		return e.alter(ctx, before, after, n)
	}
	if n.GetAlterObjectSchemaStmt() != nil {
		return e.unguarded(ctx, fmt.Sprintf("moving a %s to another schema (SET SCHEMA) is not imaged", strings.ToLower(objectTypeName(n.GetAlterObjectSchemaStmt().ObjectType))))
	}
	return e.unguarded(ctx, strings.Join(strings.Fields(c.Verb+" "+c.Object+" is not imaged"), " "))
}

// createdObject names the object a CREATE statement makes, when Lifebelt
// can capture its definition.
func createdObject(n *pg_query.Node) (objRef, bool) {
	switch {
	case n.GetCreateStmt() != nil:
		return relRef("TABLE", n.GetCreateStmt().Relation), true
	case n.GetCreateTableAsStmt() != nil:
		s := n.GetCreateTableAsStmt()
		return relRef(objectTypeName(s.Objtype), s.GetInto().GetRel()), true
	case n.GetSelectStmt() != nil && n.GetSelectStmt().IntoClause != nil:
		return relRef("TABLE", n.GetSelectStmt().IntoClause.Rel), true
	case n.GetViewStmt() != nil:
		return relRef("VIEW", n.GetViewStmt().View), true
	case n.GetCreateSeqStmt() != nil:
		return relRef("SEQUENCE", n.GetCreateSeqStmt().Sequence), true
	case n.GetIndexStmt() != nil:
		s := n.GetIndexStmt()
		return objRef{Kind: "INDEX", Name: engine.Name{Schema: s.GetRelation().GetSchemaname(), Name: s.Idxname}, On: rangeVarName(s.Relation)}, true
	case n.GetCreateTrigStmt() != nil:
		s := n.GetCreateTrigStmt()
		return objRef{Kind: "TRIGGER", Name: engine.Name{Name: s.Trigname}, On: rangeVarName(s.Relation)}, true
	case n.GetCreateFunctionStmt() != nil:
		s := n.GetCreateFunctionStmt()
		kind := "FUNCTION"
		if s.IsProcedure {
			kind = "PROCEDURE"
		}
		var types []*pg_query.Node
		for _, p := range s.Parameters {
			fp := p.GetFunctionParameter()
			switch fp.GetMode() {
			case pg_query.FunctionParameterMode_FUNC_PARAM_OUT, pg_query.FunctionParameterMode_FUNC_PARAM_TABLE:
				continue
			}
			types = append(types, &pg_query.Node{Node: &pg_query.Node_TypeName{TypeName: fp.GetArgType()}})
		}
		args, ok := argTypes(types)
		if !ok {
			return objRef{}, false
		}
		return objRef{Kind: kind, Name: listName(s.Funcname), Args: args}, true
	}
	return objRef{}, false
}

// relRef names a relation a CREATE makes.
func relRef(kind string, rv *pg_query.RangeVar) objRef {
	return objRef{Kind: kind, Name: rangeVarName(rv), Temp: rv.GetRelpersistence() == "t"}
}

// creationSchema fills in the schema an unqualified CREATE puts its object
// in: the session's temporary schema for TEMP, else the first schema of
// search_path that exists (the server's rule). Looking the bare name up
// instead would find a temporary table of the same name first.
func (e *execution) creationSchema(ctx context.Context, ref *objRef) error {
	if ref.Name.Schema != "" || ref.Kind == "INDEX" || ref.Kind == "TRIGGER" {
		return nil // qualified, or in its table's schema
	}
	var schema *string
	err := e.x.tx.QueryRow(ctx, `SELECT CASE WHEN $1 THEN (SELECT n.nspname::text FROM pg_catalog.pg_namespace n WHERE n.oid = pg_catalog.pg_my_temp_schema())
		ELSE (pg_catalog.current_schemas(false))[1]::text END`, ref.Temp).Scan(&schema)
	if err != nil {
		return e.x.c.wrap("finding the schema of "+ref.Name.String(), err)
	}
	if schema != nil {
		ref.Name.Schema = *schema
	}
	return nil
}

// argTypes renders argument types as to_regprocedure reads them, by
// printing DROP FUNCTION x(<types>) and cutting out the list.
func argTypes(types []*pg_query.Node) (string, bool) {
	owa := &pg_query.ObjectWithArgs{Objname: []*pg_query.Node{pg_query.MakeStrNode("x")}, Objargs: cloneList(types)}
	drop := &pg_query.DropStmt{RemoveType: pg_query.ObjectType_OBJECT_FUNCTION, Behavior: pg_query.DropBehavior_DROP_RESTRICT,
		Objects: []*pg_query.Node{{Node: &pg_query.Node_ObjectWithArgs{ObjectWithArgs: owa}}}}
	s, err := deparse(&pg_query.Node{Node: &pg_query.Node_DropStmt{DropStmt: drop}})
	if err != nil {
		return "", false
	}
	const prefix = "DROP FUNCTION x("
	i, j := strings.Index(s, prefix), strings.LastIndex(s, ")")
	if i != 0 || j < len(prefix) {
		return "", false
	}
	return s[len(prefix):j], true
}

// create runs a CREATE and records the new object's definition (whose Drop
// undoes it). An existing object (CREATE ... IF NOT EXISTS, or a statement
// that will fail) is not recorded as created; CREATE OR REPLACE of an
// existing object records its definition before and after.
func (e *execution) create(ctx context.Context, n *pg_query.Node, ref objRef, orReplace bool) (engine.Result, error) {
	e.x.snapshot = true
	if ref.Kind == "INDEX" && ref.Name.Name == "" {
		return e.createUnnamedIndex(ctx, ref)
	}
	if err := e.creationSchema(ctx, &ref); err != nil {
		return engine.Result{}, err
	}
	before, existed, err := objectDefinition(ctx, e.x.tx, ref)
	if err != nil {
		return engine.Result{}, err
	}
	res, moved, err := e.ddlCollect(ctx)
	if err != nil {
		return engine.Result{}, err
	}
	if existed && !orReplace {
		return res, e.warnDDLWrites(ctx, moved, 0) // IF NOT EXISTS: nothing was created
	}
	if ref.Kind == "INDEX" && ref.Name.Schema == "" {
		// An index lives in its table's schema, not the search_path's first.
		if _, schema, _, _, ok, err := resolveRelation(ctx, e.x.tx, ref.On); err == nil && ok {
			ref.Name.Schema = schema
		}
	}
	after, found, err := objectDefinition(ctx, e.x.tx, ref)
	if err != nil {
		return engine.Result{}, err
	}
	if !found {
		return engine.Result{}, fmt.Errorf("postgres: %s %s was created but cannot be found to record its definition", ref.Kind, ref.Name)
	}
	img := engine.ObjectImage{Kind: ref.Kind, Schema: ref.Name.Schema, Name: ref.Name.Name, Action: engine.ActionCreate, After: after}
	if existed {
		img.Action, img.Before = engine.ActionReplace, before
	}
	if err := e.object(ctx, img, ref); err != nil {
		return engine.Result{}, err
	}
	var created uint32
	if !existed && (ref.Kind == "TABLE" || ref.Kind == "MATERIALIZED VIEW") {
		if oid, _, _, _, ok, err := resolveRelation(ctx, e.x.tx, ref.Name); err != nil {
			return engine.Result{}, err
		} else if ok {
			created = oid
		}
	}
	return res, e.warnDDLWrites(ctx, moved, created)
}

// createUnnamedIndex finds the index CREATE INDEX ON t (...) named itself
// by comparing the table's indexes before and after.
func (e *execution) createUnnamedIndex(ctx context.Context, ref objRef) (engine.Result, error) {
	oid, schema, _, _, ok, err := resolveRelation(ctx, e.x.tx, ref.On)
	if err != nil {
		return engine.Result{}, err
	}
	if !ok {
		return e.collect(ctx, e.st.Text) // fails: no such table
	}
	const list = `SELECT c.relname::text FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = $1`
	old, err := stringRows(ctx, e.x.tx, list, oid)
	if err != nil {
		return engine.Result{}, err
	}
	res, err := e.ddlRun(ctx)
	if err != nil {
		return engine.Result{}, err
	}
	now, err := stringRows(ctx, e.x.tx, list, oid)
	if err != nil {
		return engine.Result{}, err
	}
	had := map[string]bool{}
	for _, s := range old {
		had[s] = true
	}
	for _, s := range now {
		if had[s] {
			continue
		}
		ref.Name = engine.Name{Schema: schema, Name: s}
		after, found, err := objectDefinition(ctx, e.x.tx, ref)
		if err != nil || !found {
			return engine.Result{}, fmt.Errorf("postgres: recording the definition of new index %s: %v", s, err)
		}
		if err := e.object(ctx, engine.ObjectImage{Kind: "INDEX", Schema: schema, Name: s, Action: engine.ActionCreate, After: after}, ref); err != nil {
			return engine.Result{}, err
		}
	}
	return res, nil
}

// object sends an image, filling in the schema an unqualified name
// resolved to.
func (e *execution) object(ctx context.Context, img engine.ObjectImage, ref objRef) error {
	if img.Schema == "" {
		switch img.Kind {
		case "TABLE", "VIEW", "MATERIALIZED VIEW", "INDEX", "SEQUENCE":
			if _, schema, _, _, ok, err := resolveRelation(ctx, e.x.tx, engine.Name{Name: img.Name}); err == nil && ok {
				img.Schema = schema
			}
		case "TRIGGER":
			if _, schema, _, _, ok, err := resolveRelation(ctx, e.x.tx, ref.On); err == nil && ok {
				img.Schema = schema
			}
		case "FUNCTION", "PROCEDURE":
			var schema string
			if err := e.x.tx.QueryRow(ctx, `SELECT n.nspname::text FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
				WHERE p.proname = $1 AND pg_catalog.pg_function_is_visible(p.oid) LIMIT 1`, img.Name).Scan(&schema); err == nil {
				img.Schema = schema
			}
		}
	}
	if err := e.sink.Object(img); err != nil {
		return fmt.Errorf("postgres: journaling the definition of %s %s: %w", img.Kind, img.Name, err)
	}
	return nil
}

// alteredObject names the object an ALTER or COMMENT changes, before and
// after (a rename changes its name).
func alteredObject(n *pg_query.Node) (before, after objRef, ok bool) {
	relKind := func(t pg_query.ObjectType) (string, bool) {
		switch t {
		case pg_query.ObjectType_OBJECT_TABLE, pg_query.ObjectType_OBJECT_COLUMN, pg_query.ObjectType_OBJECT_TABCONSTRAINT:
			return "TABLE", true
		case pg_query.ObjectType_OBJECT_VIEW, pg_query.ObjectType_OBJECT_MATVIEW, pg_query.ObjectType_OBJECT_INDEX, pg_query.ObjectType_OBJECT_SEQUENCE:
			return objectTypeName(t), true
		}
		return "", false
	}
	switch {
	case n.GetAlterSeqStmt() != nil:
		r := objRef{Kind: "SEQUENCE", Name: rangeVarName(n.GetAlterSeqStmt().Sequence)}
		return r, r, true
	case n.GetRenameStmt() != nil:
		s := n.GetRenameStmt()
		if s.Relation == nil {
			return before, after, false
		}
		kind, ok := relKind(s.RenameType)
		switch s.RenameType {
		case pg_query.ObjectType_OBJECT_COLUMN:
			kind, ok = relKind(s.RelationType)
		case pg_query.ObjectType_OBJECT_TABCONSTRAINT:
			// The parser leaves RelationType unset: ALTER TABLE ...
			// RENAME CONSTRAINT (a domain's has no Relation).
			kind, ok = "TABLE", true
		}
		if !ok {
			return before, after, false
		}
		before = objRef{Kind: kind, Name: rangeVarName(s.Relation)}
		after = before
		if s.RenameType != pg_query.ObjectType_OBJECT_COLUMN && s.RenameType != pg_query.ObjectType_OBJECT_TABCONSTRAINT {
			after.Name.Name = s.Newname
		}
		return before, after, true
	case n.GetCommentStmt() != nil:
		s := n.GetCommentStmt()
		name := objectName(s.Object)
		if s.Objtype == pg_query.ObjectType_OBJECT_COLUMN || s.Objtype == pg_query.ObjectType_OBJECT_TABCONSTRAINT {
			// COMMENT ON COLUMN [schema.]table.column, COMMENT ON
			// CONSTRAINT c ON [schema.]table (parsed as table, c)
			items := s.Object.GetList().GetItems()
			if len(items) < 2 {
				return before, after, false
			}
			name = listName(items[:len(items)-1])
		}
		kind, ok := relKind(s.Objtype)
		if !ok {
			return before, after, false
		}
		r := objRef{Kind: kind, Name: name}
		return r, r, true
	}
	return before, after, false
}

// alter records an object's definition before and after a change; n is
// the statement, when it may be one undo can revert (a rename).
func (e *execution) alter(ctx context.Context, bref, aref objRef, n *pg_query.Node) (engine.Result, error) {
	e.x.snapshot = true
	if bref.Name.Schema == "" {
		// Pin the schema: after a rename, search_path might find another
		// relation of the new name first.
		if _, schema, _, _, ok, err := resolveRelation(ctx, e.x.tx, bref.Name); err != nil {
			return engine.Result{}, err
		} else if ok {
			bref.Name.Schema, aref.Name.Schema = schema, schema
		}
	}
	before, found, err := objectDefinition(ctx, e.x.tx, bref)
	if err != nil {
		return engine.Result{}, err
	}
	// COMMENT ON a table, its column or constraint is undone by setting
	// the comment back, as ALTER TABLE's settings are.
	var settings tableSettings
	var settingsOID uint32
	if c := n.GetCommentStmt(); c != nil && found && bref.Kind == "TABLE" {
		if oid, _, _, relkind, ok, err := resolveRelation(ctx, e.x.tx, bref.Name); err != nil {
			return engine.Result{}, err
		} else if ok && relkind == 'r' {
			var children int64
			if settings, children, err = readSettings(ctx, e.x.tx, oid); err != nil {
				return engine.Result{}, fmt.Errorf("postgres: reading the settings of table %s: %w", bref.Name, err)
			}
			if children == 0 {
				settingsOID = oid
			}
		}
	}
	if !found && bref.Kind == "TABLE" {
		// A relation of another kind changed through ALTER TABLE (a
		// foreign table, a view): its definition cannot be recorded.
		if _, _, _, relkind, ok, err := resolveRelation(ctx, e.x.tx, bref.Name); err != nil {
			return engine.Result{}, err
		} else if ok {
			return e.unguarded(ctx, fmt.Sprintf("%s on %s, which is not an ordinary or partitioned table (relkind %c), is not imaged", e.st.Verb, bref.Name, relkind))
		}
	}
	res, err := e.ddlRun(ctx)
	if err != nil {
		return engine.Result{}, err
	}
	if !found {
		return res, nil // ... IF EXISTS of an absent object
	}
	after, found, err := objectDefinition(ctx, e.x.tx, aref)
	if err != nil {
		return engine.Result{}, err
	}
	if !found {
		return engine.Result{}, fmt.Errorf("postgres: %s %s cannot be found after the change to record its definition", aref.Kind, aref.Name)
	}
	if bref.Kind == "TABLE" && n.GetRenameStmt() != nil && bref.Name.Schema != "" {
		if _, _, _, relkind, ok, err := resolveRelation(ctx, e.x.tx, aref.Name); err != nil {
			return engine.Result{}, err
		} else if ok && (relkind == 'r' || relkind == 'p') {
			renameReverts(n.GetRenameStmt(), bref.Name.Schema, before, after)
		}
	}
	if settingsOID != 0 {
		now, _, err := readSettings(ctx, e.x.tx, settingsOID)
		if err != nil {
			return engine.Result{}, fmt.Errorf("postgres: reading the settings of table %s: %w", bref.Name, err)
		}
		settingsReverts(bref.Name.Schema, bref.Name.Name, settings, now, before, after)
	}
	img := engine.ObjectImage{Kind: bref.Kind, Schema: bref.Name.Schema, Name: bref.Name.Name, Action: engine.ActionAlter, Before: before, After: after}
	return res, e.object(ctx, img, bref)
}

// ddlCollect runs a DDL statement between two readings of every table's
// change counters, in one round trip: code it runs (a function called by
// CREATE TABLE AS or a column default, an event trigger) may change rows
// of tables, rows that are not imaged. It returns the counters that moved,
// for warnDDLWrites.
func (e *execution) ddlCollect(ctx context.Context) (engine.Result, counts, error) {
	if !e.x.c.trackCounts {
		res, err := e.collect(ctx, e.st.Text)
		return res, nil, err
	}
	e.x.stmtFull = true
	var res engine.Result
	change := &step{sql: e.st.Text, rows: e.collector(&res)}
	before, after, err := e.x.counted(ctx, change, nil)
	if err != nil {
		return engine.Result{}, nil, e.x.c.wrap("running "+e.st.Verb, err)
	}
	res.RowsAffected = change.tag.RowsAffected()
	return res, after.minus(before), nil
}

// warnDDLWrites reports the rows a DDL statement's code changed, leaving
// out the relation the statement created itself (CREATE TABLE AS fills
// it; undo drops it whole).
func (e *execution) warnDDLWrites(ctx context.Context, moved counts, created uint32) error {
	rows := map[uint32]int64{}
	for oid, d := range moved {
		if oid != created {
			rows[oid] = d[0] + d[1] + d[2]
		}
	}
	if len(rows) == 0 {
		return nil
	}
	e.x.settle = true // code that writes ran (see Settle)
	total, parts, err := e.x.rowsIn(ctx, rows)
	if err != nil {
		return err
	}
	e.sink.Warn(fmt.Sprintf("code this %s ran (a function it calls, an event trigger?) changed %d rows (%s); those rows are not imaged and undo will not restore them",
		e.st.Verb, total, parts))
	return nil
}

// ddlRun is ddlCollect for a statement that creates no relation, with its
// warning.
func (e *execution) ddlRun(ctx context.Context) (engine.Result, error) {
	res, moved, err := e.ddlCollect(ctx)
	if err != nil {
		return engine.Result{}, err
	}
	return res, e.warnDDLWrites(ctx, moved, 0)
}
