package postgres

import (
	"context"
	"errors"
	"fmt"
	"github.com/jackc/pgx/v5"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	pg_query "github.com/pganalyze/pg_query_go/v6"

	"lifebelt/engine"
)

// drop images what DROP removes. Tables keep every row; views, functions,
// procedures, triggers, indexes and sequences keep their definitions.
func (e *execution) drop(ctx context.Context, d *pg_query.DropStmt, c engine.Statement) (engine.Result, error) {
	if d.Concurrent {
		return e.unguarded(ctx, "DROP INDEX CONCURRENTLY cannot run inside a transaction")
	}
	cascade := d.Behavior == pg_query.DropBehavior_DROP_CASCADE
	var kind string
	switch d.RemoveType {
	case pg_query.ObjectType_OBJECT_TABLE:
		return e.dropTables(ctx, d, cascade)
	case pg_query.ObjectType_OBJECT_VIEW, pg_query.ObjectType_OBJECT_MATVIEW, pg_query.ObjectType_OBJECT_INDEX,
		pg_query.ObjectType_OBJECT_SEQUENCE, pg_query.ObjectType_OBJECT_FUNCTION, pg_query.ObjectType_OBJECT_PROCEDURE,
		pg_query.ObjectType_OBJECT_TRIGGER:
		kind = objectTypeName(d.RemoveType)
	default:
		return e.unguarded(ctx, fmt.Sprintf("DROP %s is not imaged", c.Object))
	}
	if cascade {
		return e.unguarded(ctx, fmt.Sprintf("DROP %s ... CASCADE would drop objects Lifebelt does not image (only DROP TABLE ... CASCADE is imaged)", kind))
	}
	e.x.snapshot = true
	for _, o := range d.Objects {
		ref := objRef{Kind: kind, Name: objectName(o)}
		switch kind {
		case "TRIGGER":
			ref.On, ref.Name.Name = triggerObject(o)
			ref.Name.Schema = ref.On.Schema
		case "FUNCTION", "PROCEDURE":
			if owa := o.GetObjectWithArgs(); owa != nil && !owa.ArgsUnspecified {
				args, ok := argTypes(owa.Objargs)
				if !ok {
					return e.unguarded(ctx, "its argument types could not be read")
				}
				ref.Args = args
			}
		}
		def, found, err := objectDefinition(ctx, e.x.tx, ref)
		if err != nil {
			return engine.Result{}, err
		}
		if !found {
			continue // IF EXISTS, or the statement fails
		}
		img := engine.ObjectImage{Kind: kind, Schema: ref.Name.Schema, Name: ref.Name.Name, Action: engine.ActionDrop, Before: def}
		if err := e.object(ctx, img, ref); err != nil {
			return engine.Result{}, err
		}
	}
	return e.ddlRun(ctx)
}

// dropTables images DROP TABLE: each table's definition and all its rows,
// and with CASCADE everything else the drop removes.
func (e *execution) dropTables(ctx context.Context, d *pg_query.DropStmt, cascade bool) (engine.Result, error) {
	names := make([]engine.Name, len(d.Objects))
	for i, o := range d.Objects {
		names[i] = objectName(o)
	}
	chk, err := e.lockTables(ctx, names, d.MissingOk)
	if err != nil {
		return engine.Result{}, err
	}
	for _, n := range names {
		oid, _, _, relkind, ok, err := resolveRelation(ctx, e.x.tx, n)
		if err != nil {
			return engine.Result{}, err
		}
		if !ok || (relkind != 'r' && relkind != 'p') {
			continue // absent with IF EXISTS, or not a table: the statement fails
		}
		rel, err := e.x.relation(ctx, oid)
		if err != nil {
			return engine.Result{}, err
		}
		if rel.hasRules {
			return e.unguarded(ctx, rel.info.QualifiedName()+" has rewrite rules")
		}
		if err := e.imageTable(ctx, rel, engine.ActionDrop, chk); err != nil {
			return engine.Result{}, err
		}
		if !cascade {
			continue
		}
		deps, err := cascadeDependents(ctx, e.x.tx, oid)
		if err != nil {
			return engine.Result{}, err
		}
		for _, dep := range deps {
			if err := e.dependent(ctx, dep, chk); err != nil {
				return engine.Result{}, err
			}
		}
	}
	if err := e.checkConcurrent(ctx, chk); err != nil {
		return engine.Result{}, err
	}
	return e.ddlRun(ctx)
}

// dependent sends the image of an object DROP ... CASCADE removes too; a
// dependent table (an inheritance child) keeps its rows.
func (e *execution) dependent(ctx context.Context, dep engine.ObjectImage, chk *snapCheck) error {
	if dep.Kind == "TABLE" {
		oid, _, _, _, ok, err := resolveRelation(ctx, e.x.tx, engine.Name{Schema: dep.Schema, Name: dep.Name})
		if err != nil {
			return err
		}
		if ok {
			rel, err := e.x.relation(ctx, oid)
			if err != nil {
				return err
			}
			if dep.Table, err = e.rows(ctx, rel, chk); err != nil {
				return err
			}
		}
	}
	if dep.Before == nil {
		e.sink.Warn(fmt.Sprintf("%s %s is dropped too and cannot be re-created by undo", dep.Kind, dep.Name))
	}
	if err := e.sink.Object(dep); err != nil {
		return fmt.Errorf("postgres: journaling the definition of %s %s: %w", dep.Kind, dep.Name, err)
	}
	return nil
}

// imageTable sends a table's definition and all its rows.
func (e *execution) imageTable(ctx context.Context, rel *relation, action string, chk *snapCheck) error {
	def, err := tableDefinition(ctx, e.x.tx, rel.oid)
	if err != nil {
		return err
	}
	h, err := e.rows(ctx, rel, chk)
	if err != nil {
		return err
	}
	img := engine.ObjectImage{Kind: "TABLE", Schema: rel.info.Schema, Name: rel.info.Name, Action: action, Before: def, Table: h}
	if err := e.sink.Object(img); err != nil {
		return fmt.Errorf("postgres: journaling the definition of table %s: %w", rel.info.QualifiedName(), err)
	}
	return nil
}

// rows streams every row of rel (all partitions of a partitioned table) as
// before-images and returns the table handle. With a check pending it also
// notes which row versions predate the snapshot.
func (e *execution) rows(ctx context.Context, rel *relation, chk *snapCheck) (int64, error) {
	h, err := e.table(rel, 0)
	if err != nil {
		return 0, err
	}
	cols, skip := "x.*", 0
	var ct *checkTable
	if chk != nil {
		cols, skip = "x.tableoid, x.ctid, x.xmin, x.*", 3
		ct = chk.add(rel)
	}
	var vals []engine.Value
	// With row_security off, so that a policy cannot hide a row from the
	// images while the statement destroys it: where one applies to the
	// user, the query fails instead, and so does the statement.
	err = e.x.withoutRowSecurity(ctx, func() error {
		_, err := e.x.stream(ctx, fmt.Sprintf("SELECT %s FROM %s AS x", cols, rel.scan()), func(_ []pgconn.FieldDescription, row [][]byte) error {
			if len(row) != skip+len(rel.info.Columns) {
				return fmt.Errorf("postgres: capturing rows of %s: expected %d columns, got %d", rel.info.QualifiedName(), len(rel.info.Columns), len(row)-skip)
			}
			if ct != nil {
				ct.note(string(row[0]), string(row[1]), string(row[2]))
			}
			vals = rawToValues(row[skip:], vals)
			return e.sink.Row(h, engine.OpDelete, vals, nil)
		})
		return err
	})
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "42501" && strings.Contains(pe.Message, "row-level security") {
			return 0, fmt.Errorf("postgres: %s must image every row of %s, and row-level security applies to this role there, so a policy could hide rows from the images (run it as a role that bypasses row security, or as the owner without FORCE ROW LEVEL SECURITY): %w",
				strings.TrimSpace(e.st.Verb+" "+e.st.Object), rel.info.QualifiedName(), err)
		}
		return 0, e.x.c.wrap("capturing the rows of "+rel.info.QualifiedName(), err)
	}
	return h, nil
}

// truncate images every row of every table TRUNCATE empties (with CASCADE
// also the tables whose foreign keys reference them, recursively).
func (e *execution) truncate(ctx context.Context, s *pg_query.TruncateStmt) (engine.Result, error) {
	names := make([]engine.Name, len(s.Relations))
	for i, r := range s.Relations {
		names[i] = rangeVarName(r.GetRangeVar())
	}
	chk, err := e.lockTables(ctx, names, false)
	if err != nil {
		return engine.Result{}, err
	}
	var rels []*relation
	have := map[uint32]bool{}
	for i, n := range names {
		oid, _, _, relkind, ok, err := resolveRelation(ctx, e.x.tx, n)
		if err != nil {
			return engine.Result{}, err
		}
		if !ok || (relkind != 'r' && relkind != 'p') {
			return e.collect(ctx, e.st.Text) // fails: not a table
		}
		rel, err := e.x.relation(ctx, oid)
		if err != nil {
			return engine.Result{}, err
		}
		if rel.inhChildren && s.Relations[i].GetRangeVar().GetInh() {
			return e.unguarded(ctx, fmt.Sprintf("%s has inheritance children that TRUNCATE empties too; write ONLY %s", rel.info.QualifiedName(), rel.info.QualifiedName()))
		}
		if !have[oid] {
			rels = append(rels, rel)
		}
		// Its partitions too: a partition's own foreign key must not add
		// it again as a table CASCADE reaches (its rows imaged twice).
		have[oid] = true
		for _, m := range rel.members {
			have[m] = true
		}
	}
	// Tables locked once this transaction has its snapshot (the tables
	// CASCADE reaches, found after the first lock) are checked for other
	// sessions' changes; the first ones only when the batch had its
	// snapshot before them (chk not nil). A table locked ACCESS EXCLUSIVE
	// before the snapshot cannot be read by the check, and needs none.
	checks := map[uint32]*snapCheck{}
	for _, r := range rels {
		checks[r.oid] = chk
	}
	var late *snapCheck
	if s.Behavior == pg_query.DropBehavior_DROP_CASCADE {
		var more []engine.Name
		for i := 0; i < len(rels); i++ {
			for _, fk := range rels[i].fks {
				if have[fk.Child] {
					continue
				}
				child, err := e.x.relation(ctx, fk.Child)
				if err != nil {
					return engine.Result{}, err
				}
				have[fk.Child] = true
				for _, m := range child.members {
					have[m] = true
				}
				rels = append(rels, child)
				more = append(more, engine.Name{Schema: child.info.Schema, Name: child.info.Name})
			}
		}
		if len(more) > 0 {
			// Found after the snapshot was taken: these need the check.
			if late, err = e.lockTables(ctx, more, false); err != nil {
				return engine.Result{}, err
			}
			for _, r := range rels {
				if _, first := checks[r.oid]; !first {
					checks[r.oid] = late
				}
			}
		}
	}
	if s.Behavior == pg_query.DropBehavior_DROP_CASCADE {
		// The tables CASCADE reaches were found in this transaction's
		// snapshot of the catalog; a foreign key another session added
		// since would make the server empty a table not imaged. Now that
		// every table found is locked (no new key can reference them),
		// the catalog as committed must show no other.
		if err := e.cascadeUnchanged(ctx, rels, have); err != nil {
			return engine.Result{}, err
		}
	}
	for _, rel := range rels {
		if rel.hasRules {
			return e.unguarded(ctx, rel.info.QualifiedName()+" has rewrite rules")
		}
		if err := e.imageTable(ctx, rel, engine.ActionTruncate, checks[rel.oid]); err != nil {
			return engine.Result{}, err
		}
	}
	for _, c := range []*snapCheck{chk, late} {
		if err := e.checkConcurrent(ctx, c); err != nil {
			return engine.Result{}, err
		}
	}
	var res engine.Result
	change := &step{sql: e.st.Text, rows: e.collector(&res)}
	e.x.expectChanges(rels...)
	before, after, err := e.x.counted(ctx, change, nil)
	if err != nil {
		return engine.Result{}, e.x.c.wrap("running TRUNCATE", err)
	}
	res.RowsAffected = change.tag.RowsAffected()
	// TRUNCATE resets the transaction's counters of the tables it empties
	// (their rows are imaged whole); ON TRUNCATE triggers may move others.
	for _, r := range rels {
		for _, m := range r.members {
			delete(before, m)
			delete(after, m)
		}
	}
	return res, e.verify(ctx, before, after, nil, rels[0], "TRUNCATE")
}

// alterTable records a table's definition before and after ALTER TABLE.
// When a subcommand drops or rewrites column values (DROP COLUMN, ALTER
// COLUMN TYPE), all rows are imaged too, under the object's Table handle.
func (e *execution) alterTable(ctx context.Context, s *pg_query.AlterTableStmt, c engine.Statement) (engine.Result, error) {
	switch s.Objtype {
	case pg_query.ObjectType_OBJECT_TABLE:
	case pg_query.ObjectType_OBJECT_VIEW, pg_query.ObjectType_OBJECT_MATVIEW, pg_query.ObjectType_OBJECT_INDEX, pg_query.ObjectType_OBJECT_SEQUENCE:
		ref := objRef{Kind: objectTypeName(s.Objtype), Name: rangeVarName(s.Relation)}
		return e.alter(ctx, ref, ref, nil)
	default:
		return e.unguarded(ctx, fmt.Sprintf("ALTER %s is not imaged", c.Object))
	}
	destroys := false
	for _, n := range s.Cmds {
		cmd := n.GetAlterTableCmd()
		if cmd == nil {
			continue
		}
		if cmd.Behavior == pg_query.DropBehavior_DROP_CASCADE {
			return e.unguarded(ctx, "ALTER TABLE ... CASCADE drops other objects, which Lifebelt does not image")
		}
		switch cmd.Subtype {
		case pg_query.AlterTableType_AT_DropColumn, pg_query.AlterTableType_AT_AlterColumnType:
			destroys = true
		}
	}
	name := rangeVarName(s.Relation)
	var chk *snapCheck
	if destroys {
		var err error
		if chk, err = e.lockTables(ctx, []engine.Name{name}, s.MissingOk); err != nil {
			return engine.Result{}, err
		}
	}
	e.x.snapshot = true
	oid, _, _, relkind, ok, err := resolveRelation(ctx, e.x.tx, name)
	if err != nil {
		return engine.Result{}, err
	}
	if !ok || (relkind != 'r' && relkind != 'p') {
		return e.collect(ctx, e.st.Text) // IF EXISTS, or it fails
	}
	rel, err := e.x.relation(ctx, oid)
	if err != nil {
		return engine.Result{}, err
	}
	before, err := tableDefinition(ctx, e.x.tx, oid)
	if err != nil {
		return engine.Result{}, err
	}
	img := engine.ObjectImage{Kind: "TABLE", Schema: rel.info.Schema, Name: rel.info.Name, Action: engine.ActionAlter, Before: before}
	var drop *dropPlan
	drops := onlyDropsColumns(s)
	if drops {
		if drop, err = planDropColumns(ctx, e.x.tx, s, rel, oid); err != nil {
			return engine.Result{}, err
		}
		// DROP COLUMN IF EXISTS of columns that are not there destroys
		// nothing: no image, and an undo with nothing to do.
		destroys = drop != nil
	}
	if destroys {
		if img.Table, err = e.rows(ctx, rel, chk); err != nil {
			return engine.Result{}, err
		}
		if err := e.checkConcurrent(ctx, chk); err != nil {
			return engine.Result{}, err
		}
	}
	var storage *storageState
	if onlyMovesStorage(s) {
		st, err := readStorage(ctx, e.x.tx, oid)
		if err != nil {
			return engine.Result{}, err
		}
		storage = &st
	}
	var prior []string
	adds := onlyAddsColumns(s)
	if adds {
		if prior, err = columnNames(ctx, e.x.tx, oid); err != nil {
			return engine.Result{}, err
		}
	}
	var settings tableSettings
	var children int64
	sets := onlyChangesSettings(s)
	if sets {
		if settings, children, err = readSettings(ctx, e.x.tx, oid); err != nil {
			return engine.Result{}, fmt.Errorf("postgres: reading the settings of table %s: %w", rel.info.QualifiedName(), err)
		}
		if sets && children == 0 {
			if sets, err = e.x.typesConvertBack(ctx, s, rel.quoted, settings); err != nil {
				return engine.Result{}, fmt.Errorf("postgres: checking the values of table %s: %w", rel.info.QualifiedName(), err)
			}
		}
	}
	res, err := e.ddlRun(ctx)
	if err != nil {
		return engine.Result{}, err
	}
	if img.After, err = tableDefinition(ctx, e.x.tx, oid); err != nil {
		return engine.Result{}, err
	}
	if sets && children == 0 && relkind == 'r' {
		now, _, err := readSettings(ctx, e.x.tx, oid)
		if err != nil {
			return engine.Result{}, fmt.Errorf("postgres: reading the settings of table %s: %w", rel.info.QualifiedName(), err)
		}
		pure, err := castsPure(ctx, e.x.tx, settings, now)
		if err != nil {
			return engine.Result{}, fmt.Errorf("postgres: %w", err)
		}
		if pure {
			settingsReverts(rel.info.Schema, rel.info.Name, settings, now, img.Before, img.After)
		}
	}
	if adds {
		cols, err := columnNames(ctx, e.x.tx, oid)
		if err != nil {
			return engine.Result{}, err
		}
		if err := addColumnReverts(ctx, e.x.tx, s, oid, rel.info.Schema, rel.info.Name, prior, cols, img.Before, img.After); err != nil {
			return engine.Result{}, err
		}
	}
	why := ""
	switch {
	case drop != nil:
		if why, err = dropColumnReverts(ctx, e.x.tx, drop, rel.info.Schema, rel.info.Name, oid, img.Before, img.After); err != nil {
			return engine.Result{}, err
		}
	case drops:
		img.After.Revert = &engine.Revert{Schema: rel.info.Schema, Name: rel.info.Name, Exact: true, KeepsRows: true}
		img.Before.Revert = &engine.Revert{Schema: rel.info.Schema, Name: rel.info.Name, Exact: true, KeepsRows: true}
	case storage != nil:
		now, err := readStorage(ctx, e.x.tx, oid)
		if err != nil {
			return engine.Result{}, err
		}
		if why, err = storageReverts(ctx, e.x.tx, rel.info.Schema, rel.info.Name, *storage, now, img.Before, img.After); err != nil {
			return engine.Result{}, err
		}
	}
	if err := e.sink.Object(img); err != nil {
		return engine.Result{}, fmt.Errorf("postgres: journaling the definition of table %s: %w", rel.info.QualifiedName(), err)
	}
	if img.After.Revert == nil {
		msg := fmt.Sprintf("ALTER TABLE %s: its definition before and after was recorded; Lifebelt does not undo this change automatically", rel.info.QualifiedName())
		if why != "" {
			msg += " (" + why + ")"
		}
		if destroys {
			msg += " (its rows were imaged because the change drops or rewrites column values)"
		}
		e.sink.Warn(msg)
	}
	return res, nil
}

// cascadeUnchanged reads, on a second connection (the catalog as
// committed now), the tables whose foreign keys reach rels, and fails
// when one is not among them (have).
func (e *execution) cascadeUnchanged(ctx context.Context, rels []*relation, have map[uint32]bool) error {
	oids := make([]uint32, len(rels))
	for i, r := range rels {
		oids[i] = r.oid
	}
	c2, err := pgx.ConnectConfig(ctx, e.x.c.cfg)
	if err != nil {
		return fmt.Errorf("postgres: opening a second connection to check the tables TRUNCATE ... CASCADE empties: %s", connectReason(err))
	}
	defer c2.Close(context.Background())
	rows, err := c2.Query(ctx, `WITH RECURSIVE r(oid) AS (SELECT unnest($1::oid[])
			UNION SELECT k.conrelid FROM pg_catalog.pg_constraint k JOIN r ON k.confrelid = r.oid WHERE k.contype = 'f')
		SELECT r.oid, pg_catalog.format('%I.%I', n.nspname, c.relname) FROM r
		JOIN pg_catalog.pg_class c ON c.oid = r.oid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace`, oids)
	if err != nil {
		return fmt.Errorf("postgres: reading the tables TRUNCATE ... CASCADE empties: %w", err)
	}
	type reached struct {
		oid  uint32
		name string
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (reached, error) {
		var x reached
		return x, r.Scan(&x.oid, &x.name)
	})
	if err != nil {
		return fmt.Errorf("postgres: reading the tables TRUNCATE ... CASCADE empties: %w", err)
	}
	for _, x := range all {
		if !have[x.oid] {
			return &concurrentError{sentinel: ErrConcurrentChange,
				cause: fmt.Errorf("postgres: another session made %s reference a table TRUNCATE ... CASCADE empties after this batch began, so its rows would go unimaged", x.name)}
		}
	}
	return nil
}
