package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"lifebelt/journal"
)

// undoer applies the inverse of journaled entries inside one transaction.
type undoer struct {
	s      *Session
	ap     Applier
	opt    UndoOptions
	rep    *UndoReport
	sink   *journalSink
	tables map[int64]TableInfo // tables of the entry being undone
	mapped map[int64]int64     // original table id -> table id in the undo entry
	synced []syncedTable       // tables that got rows re-inserted
	entry_ int64
	// The reference check (undo_refs.go): foreign keys by table, and
	// what the undo removed and wrote, by foreign key.
	fks      map[string][]fkUse
	refs     map[string]*fkRefs
	refOrder []string
	fkSeen   map[string]bool        // every foreign key looked up
	written  map[string]syncedTable // tables the undo wrote rows of
	ddl      map[string]bool        // objects the undo ran DDL on, by ddlKey
	renames  []renameOp             // renames run by reverts of ALTER (undo_renames.go)
	todo     map[int64]bool         // the entries this undo undoes
	// blocked: tables (by ddlKey of their name before the ALTER) whose
	// rename a conflict left in place, with its entry; older rows of them
	// cannot go back.
	blocked     map[string]int64
	blockedSaid map[int64]map[string]bool
	shapes      map[string]map[string]string // current columns and types (nil: no table), by schema state and table
	// done: what earlier undos of the entry being undone (partly undone)
	// did; retry: for each such entry, those undos; doneTables: the
	// entry's tables that came back whole with an object they re-created.
	done       *doneSet
	retry      map[int64][]int64
	doneTables map[int64]bool
	ddlRuns    int // DDL statements the undo ran (schemaChanged calls)
	// refilled: tables (by ddlKey) whose dropped columns an undo put
	// back, last: this one (set as it goes) or one journaled before
	// (read once, into refilledBefore).
	refilled       map[string]bool
	refilledBefore map[string]bool
}

func (u *undoer) entry(ctx context.Context, e journal.Entry) error {
	u.entry_ = e.Seq
	ts, err := u.s.j.Tables(e.Seq)
	if err != nil {
		return err
	}
	u.tables = map[int64]TableInfo{}
	for _, t := range ts {
		u.tables[t.ID] = t
	}
	objs, err := u.s.j.Objects(e.Seq)
	if err != nil {
		return err
	}
	if u.done, err = earlierUndos(u.s.j, e); err != nil {
		return err
	}
	if u.done != nil {
		if len(u.done.by) > 0 {
			u.retry[e.Seq] = u.done.by
		}
		// What earlier undos of it did is left alone.
		var left []ObjectImage
		for _, o := range objs {
			if !u.done.objectDone(o) {
				left = append(left, o)
			} else if o.Table != 0 {
				// Rows imaged under it (a dropped table's, which came
				// back with it; values an ALTER or a forced step kept
				// for people) are never rows to undo one by one.
				u.doneTables[o.Table] = true
			}
		}
		objs = left
	}
	if e.Kind == "undo" && timed(objs) {
		return u.timeline(ctx, e, objs)
	}
	// Dropped objects come back first (tables before their dependents,
	// as captured), with their rows; their rows skip the generic path.
	restored := map[int64]bool{}
	for t := range u.doneTables {
		restored[t] = true
	}
	clear(u.doneTables)
	for _, o := range objs {
		switch o.Action {
		case ActionDrop:
			if err := u.recreate(ctx, e.Seq, o); err != nil {
				return err
			}
			if o.Table != 0 {
				restored[o.Table] = true
			}
		case ActionReplace:
			if err := u.replace(ctx, o); err != nil {
				return err
			}
		case ActionAlter:
			if o.Table != 0 { // values the ALTER destroyed, kept for people, not rows to re-insert
				restored[o.Table] = true
			}
			if err := u.revert(ctx, e, o); err != nil {
				return err
			}
		case ActionKeep:
			restored[o.Table] = true
		}
	}
	if err := u.rows(ctx, e.Seq, restored, nil); err != nil {
		return err
	}
	// Created objects go last, newest first.
	for i := len(objs) - 1; i >= 0; i-- {
		if o := objs[i]; o.Action == ActionCreate {
			if err := u.dropCreated(ctx, e.Seq, o); err != nil {
				return err
			}
		}
	}
	return nil
}

// timed reports whether every object of an undo entry records when the
// undo changed it (Definition.At).
func timed(objs []ObjectImage) bool {
	for _, o := range objs {
		if defAt(o) == nil {
			return false
		}
	}
	return len(objs) > 0
}

// defAt is the position recorded on an undo entry's object.
func defAt(o ObjectImage) *int64 {
	switch {
	case o.After != nil:
		return o.After.At
	case o.Before != nil:
		return o.Before.At
	}
	return nil
}

// timeline undoes an undo entry backwards in time: each object it changed
// is changed back at the point among its rows where it was changed (a
// table re-created after the rows the undo wrote later were removed, an
// ALTER reverted before the rows written earlier under the other
// definition are put back).
func (u *undoer) timeline(ctx context.Context, e journal.Entry, objs []ObjectImage) error {
	restored := map[int64]bool{}
	for t := range u.doneTables {
		restored[t] = true
	}
	clear(u.doneTables)
	marks := make([]rowMark, 0, len(objs))
	for i := len(objs) - 1; i >= 0; i-- {
		o := objs[i]
		var fn func() error
		switch o.Action {
		case ActionDrop: // the undo dropped a table an entry created
			if o.Table != 0 {
				restored[o.Table] = true
			}
			fn = func() error { return u.recreate(ctx, e.Seq, o) }
		case ActionCreate: // the undo re-created a dropped one
			fn = func() error { return u.dropCreated(ctx, e.Seq, o) }
		case ActionReplace:
			fn = func() error { return u.replace(ctx, o) }
		case ActionAlter:
			if o.Table != 0 {
				restored[o.Table] = true
			}
			fn = func() error { return u.revert(ctx, e, o) }
		case ActionKeep:
			restored[o.Table] = true
			continue
		default:
			continue
		}
		marks = append(marks, rowMark{at: *defAt(o), fn: fn})
	}
	// Newest first; among objects changed at the same point, the last
	// changed first (the loop above reversed them).
	slices.SortStableFunc(marks, func(a, b rowMark) int { return cmp.Compare(b.at, a.at) })
	return u.rows(ctx, e.Seq, restored, marks)
}

// at is the position to record on an object the undo changes now.
func (u *undoer) at() (*int64, error) {
	n, err := u.sink.imagesWritten()
	if err != nil {
		return nil, err
	}
	return &n, nil
}

// stamped is a copy of d recording position at.
func stamped(d *Definition, at *int64) *Definition {
	if d == nil {
		return nil
	}
	c := *d
	c.At = at
	return &c
}

// replace puts back the definition a CREATE OR REPLACE replaced.
func (u *undoer) replace(ctx context.Context, o ObjectImage) error {
	if o.Before == nil {
		return nil
	}
	at, err := u.at()
	if err != nil {
		return err
	}
	if rv, ok := u.ap.(Reverter); ok {
		if o.After != nil {
			cur, err := rv.ObjectDefinition(ctx, o.Kind, o.Schema, o.Name)
			if err != nil {
				return err
			}
			if cur != nil && !rv.SameDefinition(cur, o.After) {
				u.conflict(Conflict{Table: qname(o.Schema, o.Name), Reason: fmt.Sprintf("the %s was replaced again since (its definition differs from the one this entry made); it was left", strings.ToLower(o.Kind))})
				return nil
			}
		}
		failed, err := rv.TryDDL(ctx, o.Before.Create, nil)
		if err != nil {
			return err
		}
		if failed != nil && o.After != nil && len(o.After.Drop) > 0 {
			// CREATE OR REPLACE cannot take a view back to fewer columns,
			// or a function to fewer defaults: drop and create it, with
			// its triggers, comments and grants (this fails, as a
			// conflict, where something depends on it).
			stmts := append(append(append([]string{}, o.After.Drop...), o.Before.Create...), o.Before.PostData...)
			if failed, err = rv.TryDDL(ctx, stmts, nil); err != nil {
				return err
			}
		}
		if failed != nil {
			u.conflict(Conflict{Table: qname(o.Schema, o.Name), Reason: fmt.Sprintf("restoring the %s's definition failed, so it was left: %v", strings.ToLower(o.Kind), failed)})
			return nil
		}
	} else if err := u.ap.ExecDDL(ctx, o.Before.Create); err != nil {
		return fmt.Errorf("restoring the definition of %s %s: %w", o.Kind, qname(o.Schema, o.Name), err)
	}
	u.schemaChanged(o.Schema, o.Name)
	u.object(ObjectImage{Kind: o.Kind, Schema: o.Schema, Name: o.Name, Action: ActionReplace, Before: stamped(o.After, nil), After: stamped(o.Before, at)})
	return nil
}

// revert undoes an ALTER of a table with the Revert recorded on its
// definition after the change, only
//   - while the table still has exactly that definition (anything else
//     changed it since: a conflict, even forced);
//   - while no later entry of the session that is not being undone
//     changed the table under that definition (its rows would be left
//     with names or columns that are gone: a conflict);
//   - when the checks find no values the revert would destroy (a
//     conflict unless forced; forced, every row is imaged first);
//   - when the statements run (a failure, such as a view that uses an
//     added column, is rolled back and reported as a conflict).
func (u *undoer) revert(ctx context.Context, e journal.Entry, o ObjectImage) error {
	seq := e.Seq
	what := changeName(e)
	var r *Revert
	if o.After != nil {
		r = o.After.Revert
	}
	rv, ok := u.ap.(Reverter)
	if r == nil || !ok || o.Before == nil {
		how := "its definition before the change is in the journal; revert to a snapshot or restore it by hand"
		if o.Table != 0 {
			how = "its definition and the rows it rewrote are in the journal; revert to a snapshot or restore them by hand"
		}
		u.rep.Skipped = append(u.rep.Skipped, fmt.Sprintf("entry %d altered %s %s in a way Lifebelt does not undo automatically (%s)", seq, o.Kind, qname(o.Schema, o.Name), how))
		return nil
	}
	name := qname(r.Schema, r.Name)
	same, err := u.sameDef(rv, len(r.Fill) > 0, r.Schema, r.Name, o.Schema, o.Name)
	if err != nil {
		return err
	}
	cur, err := rv.TableDefinition(ctx, r.Schema, r.Name)
	if err != nil {
		return err
	}
	switch {
	case cur == nil:
		u.conflict(Conflict{Table: name, Reason: "the altered table is gone; its ALTER was not undone"})
		u.keep(seq, o)
		return nil
	case !same(cur, o.After):
		u.conflict(Conflict{Table: name, Reason: "the table's definition changed since the " + what + " (a later change by someone else, or an entry not undone" + firstDifference(o.After, cur) + "); the " + what + " was not undone"})
		u.keep(seq, o)
		return nil
	}
	if r.KeepsRows {
		// Later statements' images do not depend on it.
	} else if later, err := u.laterUse(seq, r.Schema, r.Name); err != nil {
		return err
	} else if later != 0 {
		u.conflict(Conflict{Table: name, Reason: fmt.Sprintf("entry %d, later in the session, changed this table after the %s and is not undone; undo it first; the %s was not undone", later, what, what)})
		u.keep(seq, o)
		return nil
	}
	forced := int64(0)
	for _, c := range r.Checks {
		n, err := rv.Count(ctx, c.Query)
		var cf *CheckFailed
		if errors.As(err, &cf) {
			u.conflict(Conflict{Table: name, Reason: fmt.Sprintf(strings.Replace(c.Reason, "%d", "%s", 1), "some") + fmt.Sprintf(" (the check failed: %v); the %s was not undone", cf.Err, what)})
			u.keep(seq, o)
			return nil
		}
		if err != nil {
			return fmt.Errorf("checking %s before undoing its ALTER: %w", name, err)
		}
		if n == 0 {
			continue
		}
		if !u.opt.Force {
			u.conflict(Conflict{Table: name, Reason: fmt.Sprintf(c.Reason, n) + "; the " + what + " was not undone"})
			u.keep(seq, o)
			return nil
		}
		forced += n
	}
	at, err := u.at()
	if err != nil {
		return err
	}
	var imaged int64
	if forced > 0 || r.ImageFirst {
		// Whatever the statements destroy is journaled first.
		if imaged, err = rv.ImageTable(ctx, r.Schema, r.Name, keptSink{u.sink}); err != nil {
			return fmt.Errorf("imaging the rows of %s before undoing its ALTER: %w", name, err)
		}
	}
	// The definition the revert must give the table: the one recorded
	// before the change, or with columns added back last.
	want := o.Before
	if r.Expect != nil {
		want = r.Expect
	}
	var fill filled
	verify := func(ctx context.Context) (error, error) {
		if len(r.Fill) > 0 {
			if problem, err := u.fill(ctx, seq, o, r, &fill); problem != nil || err != nil {
				return problem, err
			}
		}
		if len(r.Then) > 0 {
			if err := u.ap.ExecDDL(ctx, r.Then); err != nil {
				if ctx.Err() != nil {
					return nil, err
				}
				return err, nil
			}
		}
		if !r.Exact {
			return nil, nil
		}
		now, err := rv.TableDefinition(ctx, o.Schema, o.Name)
		if err != nil || (now != nil && same(now, want)) {
			return nil, err
		}
		diff := ""
		if now != nil {
			diff = firstDifference(want, now)
		}
		return errors.New("the table's definition is not the one recorded before the ALTER" + diff), nil
	}
	failed, err := rv.TryDDL(ctx, r.Statements, verify)
	if err != nil {
		return fmt.Errorf("undoing the ALTER of %s: %w", name, err)
	}
	if failed != nil {
		u.conflict(Conflict{Table: name, Reason: fmt.Sprintf("undoing the ALTER failed, so it was not undone: %v", failed)})
		u.keep(seq, o)
		u.keepImages(o.Kind, r.Schema, r.Name, cur, at, imaged)
		return nil
	}
	u.rep.Forced += int(forced)
	// Columns an undo put back last stay out of the recorded order under
	// whatever name the table takes.
	if len(r.Fill) > 0 || u.refilled[u.ddlKey(r.Schema, r.Name)] || u.refilledBefore[u.ddlKey(r.Schema, r.Name)] {
		u.refilled[u.ddlKey(r.Schema, r.Name)] = true
		u.refilled[u.ddlKey(o.Schema, o.Name)] = true
	}
	if len(r.Fill) > 0 {
		u.rep.Rows += fill.rows
		u.rep.Forced += int(fill.gone)
		u.rep.Notes = append(u.rep.Notes, fill.note(seq, name, r))
	} else if o.Table != 0 && e.Kind == "undo" {
		// Undoing a forced undo: the column is back, not the values it
		// dropped, which its images keep. (A statement's images of rows
		// its ALTER rewrote are the values the revert gives back.)
		u.rep.Notes = append(u.rep.Notes, fmt.Sprintf("entry %d: the values a forced undo dropped from %s are in its images (lifebelt journal show); they were not put back", seq, name))
	}
	u.schemaChanged(r.Schema, r.Name)
	u.schemaChanged(o.Schema, o.Name)
	if !u.sameIdent(r.Name, o.Name) || len(r.Columns) > 0 {
		u.renames = append(u.renames, renameOp{schema: r.Schema, from: r.Name, to: o.Name, columns: r.Columns})
	}
	now, err := rv.TableDefinition(ctx, o.Schema, o.Name)
	if err != nil {
		return err
	}
	if now == nil || !same(now, want) {
		u.rep.Notes = append(u.rep.Notes, fmt.Sprintf("entry %d: after undoing its ALTER, the text of the definition of %s differs from the one recorded before the ALTER (SQLite quotes a renamed name); compare them with lifebelt journal show", seq, qname(o.Schema, o.Name)))
	}
	if now == nil {
		now = o.Before
	}
	// Journaled the other way round, with the definitions the table
	// really had: undoing this undo re-applies the change through the
	// Revert recorded before the ALTER.
	after := *now
	after.Revert, after.At = o.Before.Revert, at
	before := *cur
	before.Revert, before.At = r, nil
	u.object(ObjectImage{Kind: o.Kind, Schema: r.Schema, Name: r.Name, Action: ActionAlter, Before: &before, After: &after, Table: imaged})
	return nil
}

// keep records that entry seq's ALTER of o stays: for a rename, older
// rows of the table (under its name before the ALTER) cannot go back.
func (u *undoer) keep(seq int64, o ObjectImage) {
	if u.reshapes(o) {
		u.block(seq, o)
	}
}

// reshapes reports whether ALTER o, left in place, leaves older images of
// its table under names that are not there: it renamed the table or
// columns. (A column it dropped is found missing when rows are applied;
// an added column left in place is a column added since, which undo
// handles.)
func (u *undoer) reshapes(o ObjectImage) bool {
	if o.Action != ActionAlter {
		return false
	}
	r := o.After.Revert
	return r != nil && (len(r.Columns) > 0 || !u.sameTable(r.Schema, r.Name, o.Schema, o.Name))
}

// block leaves rows of o's table recorded before entry seq as conflicts.
func (u *undoer) block(seq int64, o ObjectImage) {
	k := u.ddlKey(o.Schema, o.Name)
	if seq > u.blocked[k] {
		u.blocked[k] = seq
	}
}

// keepImages records, when a forced step imaged rows and then failed,
// that those rows are kept for people: undoing the undo must not take
// them for rows it removed.
func (u *undoer) keepImages(kind, schema, name string, def *Definition, at *int64, table int64) {
	if table == 0 {
		return
	}
	if def == nil {
		def = &Definition{}
	}
	u.object(ObjectImage{Kind: kind, Schema: schema, Name: name, Action: ActionKeep, After: stamped(def, at), Table: table})
}

// laterUse returns a committed statement of the session after seq, not
// part of this undo, that imaged rows of table schema.name or changed its
// definition, or 0.
func (u *undoer) laterUse(seq int64, schema, name string) (int64, error) {
	entries, err := u.s.j.Entries()
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		// Undo entries do not count: they put rows back as they were
		// before a statement, which undoing entries one by one, newest
		// first, must be able to go past. (Undoing such an undo entry
		// after its ALTER was undone meets rows under names that are gone:
		// conflicts, nothing written.)
		if e.Seq <= seq || u.todo[e.Seq] || e.Kind != "statement" || !journal.InPlace(e.State) {
			continue
		}
		ts, err := u.s.j.Tables(e.Seq)
		if err != nil {
			return 0, err
		}
		for _, t := range ts {
			if u.sameTable(t.Schema, t.Name, schema, name) {
				return e.Seq, nil
			}
		}
		objs, err := u.s.j.Objects(e.Seq)
		if err != nil {
			return 0, err
		}
		for _, o := range objs {
			if u.sameTable(o.Schema, o.Name, schema, name) {
				return e.Seq, nil
			}
		}
	}
	return 0, nil
}

// schemaChanged forgets the foreign keys looked up so far: DDL the undo
// ran on the object may have dropped or re-created tables and their keys.
func (u *undoer) schemaChanged(schema, name string) {
	u.ddlRuns++
	clear(u.fks)
	u.ddl[u.ddlKey(schema, name)] = true
}

func qname(schema, name string) string { return Name{schema, name}.String() }

func (u *undoer) object(o ObjectImage) {
	u.sink.Object(o)
}

func (u *undoer) conflict(c Conflict) {
	c.Entry = u.entry_
	u.rep.Conflicts = append(u.rep.Conflicts, c)
}

// recreate brings back a dropped object and, for a table, its rows.
func (u *undoer) recreate(ctx context.Context, seq int64, o ObjectImage) error {
	if o.Before == nil {
		return nil
	}
	exists, err := u.ap.ObjectExists(ctx, o.Kind, o.Schema, o.Name)
	if err != nil {
		return err
	}
	if exists {
		u.conflict(Conflict{Table: qname(o.Schema, o.Name), Reason: fmt.Sprintf("the dropped %s exists again; it was left as it is", o.Kind)})
		return nil
	}
	at, err := u.at()
	if err != nil {
		return err
	}
	if err := u.ap.ExecDDL(ctx, o.Before.Create); err != nil {
		return fmt.Errorf("re-creating %s %s: %w", o.Kind, qname(o.Schema, o.Name), err)
	}
	u.schemaChanged(o.Schema, o.Name)
	var undoTable int64
	if o.Table != 0 {
		t, ok := u.tables[o.Table]
		if !ok {
			return fmt.Errorf("journal names table %d for %s but has no such table", o.Table, qname(o.Schema, o.Name))
		}
		if undoTable, err = u.undoTable(o.Table); err != nil {
			return err
		}
		var rows [][]Value
		flush := func() error {
			if len(rows) == 0 {
				return nil
			}
			if err := u.ap.Insert(ctx, t, rows); err != nil {
				return fmt.Errorf("re-inserting rows of %s: %w", t.QualifiedName(), err)
			}
			if err := u.track(ctx, t, nil, rows); err != nil {
				return err
			}
			for _, r := range rows {
				u.sink.Row(undoTable, OpInsert, nil, r)
			}
			u.rep.Rows += int64(len(rows))
			rows = rows[:0]
			return nil
		}
		err := u.s.j.ImageChunks(seq, false, undoBatch, func(imgs []journal.Image) error {
			for _, im := range imgs {
				if im.Table == o.Table && im.Before != nil {
					rows = append(rows, im.Before)
				}
			}
			return flush()
		})
		if err != nil {
			return err
		}
		u.synced = append(u.synced, syncedTable{t, len(u.renames)})
	}
	if err := u.ap.ExecDDL(ctx, o.Before.PostData); err != nil {
		return fmt.Errorf("restoring indexes, constraints and triggers of %s: %w", qname(o.Schema, o.Name), err)
	}
	u.schemaChanged(o.Schema, o.Name)
	u.object(ObjectImage{Kind: o.Kind, Schema: o.Schema, Name: o.Name, Action: ActionCreate, After: stamped(o.Before, at), Table: undoTable})
	return nil
}

// dropCreated drops an object the entry created, unless others use it.
func (u *undoer) dropCreated(ctx context.Context, seq int64, o ObjectImage) error {
	if o.After == nil || len(o.After.Drop) == 0 {
		u.rep.Skipped = append(u.rep.Skipped, fmt.Sprintf("entry %d created %s %s but the journal holds no way to drop it", seq, o.Kind, qname(o.Schema, o.Name)))
		return nil
	}
	exists, err := u.ap.ObjectExists(ctx, o.Kind, o.Schema, o.Name)
	if err != nil {
		return err
	}
	if !exists {
		u.rep.Notes = append(u.rep.Notes, fmt.Sprintf("%s %s created by entry %d is already gone", o.Kind, qname(o.Schema, o.Name), seq))
		return nil
	}
	rv, isRv := u.ap.(Reverter)
	if isRv {
		// Others may have changed it since (an index, a trigger, a
		// grant, a new definition): dropping it would take that along.
		cur, err := rv.ObjectDefinition(ctx, o.Kind, o.Schema, o.Name)
		if err != nil {
			return err
		}
		same := rv.SameDefinition
		if o.Kind == "TABLE" {
			if same, err = u.sameDef(rv, false, o.Schema, o.Name); err != nil {
				return err
			}
		}
		if cur != nil && !same(cur, o.After) {
			u.conflict(Conflict{Table: qname(o.Schema, o.Name), Reason: fmt.Sprintf("the %s created by this entry was changed since (its definition differs from the one recorded); it was not dropped", strings.ToLower(o.Kind))})
			return nil
		}
	}
	forced := false
	if o.Kind == "TABLE" {
		if rc, ok := u.ap.(RowCounter); ok {
			n, err := rc.CountRows(ctx, o.Schema, o.Name)
			if err != nil {
				return err
			}
			if n > 0 && !u.opt.Force {
				u.conflict(Conflict{Table: qname(o.Schema, o.Name), Reason: fmt.Sprintf("the table created by this entry now holds %d rows; it was not dropped", n)})
				return nil
			}
			if n > 0 {
				// Forced: its rows go, but not from under rows of other
				// tables that refer to them (foreign keys are off).
				if rc, ok := u.ap.(ReferenceChecker); ok {
					fks, err := rc.ForeignKeys(ctx, TableInfo{Schema: o.Schema, Name: o.Name})
					if err != nil {
						return err
					}
					for _, tf := range fks {
						if tf.Referenced && strings.ToLower(tf.Child.Name) != strings.ToLower(o.Name) {
							u.conflict(Conflict{Table: qname(o.Schema, o.Name), Reason: fmt.Sprintf("the table created by this entry now holds %d rows, and %s refers to it (foreign key %s); it was not dropped, even with force", n, tf.Child, tf.ForeignKey)})
							return nil
						}
					}
				}
				u.rep.Forced++
				forced = true
			}
		}
	}
	var imaged int64
	if forced {
		// Its rows are journaled first: undoing this undo brings them
		// back. Tables hanging from it would go too, unjournaled.
		if !isRv {
			u.conflict(Conflict{Table: qname(o.Schema, o.Name), Reason: "the table created by this entry now holds rows, which this database's undo cannot image before dropping it; it was not dropped, even with force"})
			return nil
		}
		n, err := rv.Children(ctx, o.Schema, o.Name)
		if err != nil {
			return err
		}
		if n > 0 {
			u.conflict(Conflict{Table: qname(o.Schema, o.Name), Reason: fmt.Sprintf("the table created by this entry now holds rows, and %d table(s) inherit from it or are its partitions; it was not dropped, even with force", n)})
			return nil
		}
		if imaged, err = rv.ImageTable(ctx, o.Schema, o.Name, keptSink{u.sink}); err != nil {
			return fmt.Errorf("imaging the rows of %s before dropping it: %w", qname(o.Schema, o.Name), err)
		}
	}
	at, err := u.at()
	if err != nil {
		return err
	}
	if isRv {
		// Something of others' that depends on it (a view, a child
		// table) makes the DROP fail: a conflict, not a failed undo.
		failed, err := rv.TryDDL(ctx, o.After.Drop, nil)
		if err != nil {
			return fmt.Errorf("dropping %s %s: %w", o.Kind, qname(o.Schema, o.Name), err)
		}
		if failed != nil {
			if forced {
				u.rep.Forced--
			}
			u.conflict(Conflict{Table: qname(o.Schema, o.Name), Reason: fmt.Sprintf("dropping it failed, so it was left: %v", failed)})
			u.keepImages(o.Kind, o.Schema, o.Name, o.After, at, imaged)
			return nil
		}
	} else if err := u.ap.ExecDDL(ctx, o.After.Drop); err != nil {
		return fmt.Errorf("dropping %s %s: %w", o.Kind, qname(o.Schema, o.Name), err)
	}
	u.schemaChanged(o.Schema, o.Name)
	u.object(ObjectImage{Kind: o.Kind, Schema: o.Schema, Name: o.Name, Action: ActionDrop, Before: stamped(o.After, at), Table: imaged})
	return nil
}

// undoTable declares an original table in the undo entry.
func (u *undoer) undoTable(orig int64) (int64, error) {
	if id, ok := u.mapped[orig]; ok {
		return id, nil
	}
	id, err := u.sink.Table(u.tables[orig])
	if err != nil {
		return 0, err
	}
	u.mapped[orig] = id
	return id, nil
}

// changeName names an entry's change in messages: its verb (ALTER, GRANT,
// COMMENT, ...), or "change" for an undo entry.
func changeName(e journal.Entry) string {
	if f := strings.Fields(e.SQL); e.Kind == journal.KindStatement && len(f) > 0 {
		return strings.ToUpper(f[0])
	}
	return "change"
}

// firstDifference names a statement of one definition that the other
// lacks, for a conflict's reason: where the definitions part.
func firstDifference(recorded, now *Definition) string {
	all := func(d *Definition) []string { return append(append([]string{}, d.Create...), d.PostData...) }
	in := func(list []string, s string) bool { return slices.Contains(list, s) }
	was, is := all(recorded), all(now)
	short := func(s string) string {
		s = strings.Join(strings.Fields(s), " ")
		if r := []rune(s); len(r) > 100 {
			s = string(r[:97]) + "..."
		}
		return s
	}
	for _, s := range is {
		if !in(was, s) && !strings.HasPrefix(s, "SELECT pg_catalog.setval(") {
			return "; now there is: " + short(s)
		}
	}
	for _, s := range was {
		if !in(is, s) && !strings.HasPrefix(s, "SELECT pg_catalog.setval(") {
			return "; gone since: " + short(s)
		}
	}
	return ""
}
