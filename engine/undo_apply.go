package engine

import (
	"cmp"
	"context"
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
	// Dropped objects come back first (tables before their dependents,
	// as captured), with their rows; their rows skip the generic path.
	restored := map[int64]bool{}
	// An undo entry's reverts of ALTER ran between its row changes; undoing
	// it runs them again at the same point (Revert.At), among the rows.
	var marks []rowMark
	for _, o := range objs {
		if e.Kind == "undo" && o.Action == ActionAlter && o.After != nil && o.After.Revert != nil {
			o := o
			marks = append(marks, rowMark{at: o.After.Revert.At, fn: func() error { return u.revert(ctx, e.Seq, o) }})
			continue
		}
		switch o.Action {
		case ActionDrop:
			if err := u.recreate(ctx, e.Seq, o); err != nil {
				return err
			}
			if o.Table != 0 {
				restored[o.Table] = true
			}
		case ActionReplace:
			if o.Before == nil {
				continue
			}
			if err := u.ap.ExecDDL(ctx, o.Before.Create); err != nil {
				return fmt.Errorf("restoring the definition of %s %s: %w", o.Kind, qname(o.Schema, o.Name), err)
			}
			u.schemaChanged(o.Schema, o.Name)
			u.object(ObjectImage{Kind: o.Kind, Schema: o.Schema, Name: o.Name, Action: ActionReplace, Before: o.After, After: o.Before})
		case ActionAlter:
			if o.Table != 0 { // values the ALTER destroyed, kept for people, not rows to re-insert
				restored[o.Table] = true
			}
			if err := u.revert(ctx, e.Seq, o); err != nil {
				return err
			}
		}
	}
	// Newest first: the last revert run is undone first.
	slices.Reverse(marks)
	slices.SortStableFunc(marks, func(a, b rowMark) int { return cmp.Compare(b.at, a.at) })
	if err := u.rows(ctx, e.Seq, restored, marks); err != nil {
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

// revert undoes an ALTER of a table with the Revert recorded on its
// definition after the change: only while the table still has exactly
// that definition (anything else changed it since: a conflict), and only
// when the checks find no values the revert would destroy (a conflict
// unless forced).
func (u *undoer) revert(ctx context.Context, seq int64, o ObjectImage) error {
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
	found, same, err := rv.DefinitionMatches(ctx, r.Schema, r.Name, o.After)
	if err != nil {
		return err
	}
	switch {
	case !found:
		u.conflict(Conflict{Table: name, Reason: "the altered table is gone; its ALTER was not undone"})
		return nil
	case !same:
		u.conflict(Conflict{Table: name, Reason: "the table's definition changed since the ALTER (a later change by someone else, or an entry not undone); the ALTER was not undone"})
		return nil
	}
	for _, c := range r.Checks {
		n, err := rv.Count(ctx, c.Query)
		if err != nil {
			return fmt.Errorf("checking %s before undoing its ALTER: %w", name, err)
		}
		if n == 0 {
			continue
		}
		if !u.opt.Force {
			u.conflict(Conflict{Table: name, Reason: fmt.Sprintf(c.Reason, n) + "; the ALTER was not undone"})
			return nil
		}
		u.rep.Forced += int(n)
	}
	if err := u.ap.ExecDDL(ctx, r.Statements); err != nil {
		return fmt.Errorf("undoing the ALTER of %s: %w", name, err)
	}
	u.schemaChanged(r.Schema, r.Name)
	u.schemaChanged(o.Schema, o.Name)
	if !u.sameIdent(r.Name, o.Name) || len(r.Columns) > 0 {
		u.renames = append(u.renames, renameOp{schema: r.Schema, from: r.Name, to: o.Name, columns: r.Columns})
	}
	if found, same, err := rv.DefinitionMatches(ctx, o.Schema, o.Name, o.Before); err != nil {
		return err
	} else if !found || !same {
		u.rep.Notes = append(u.rep.Notes, fmt.Sprintf("entry %d: after undoing its ALTER, %s does not have exactly the definition recorded before the ALTER; compare them with lifebelt journal show", seq, qname(o.Schema, o.Name)))
	}
	// Journaled the other way round: undoing this undo re-applies the
	// change through the Revert on o.Before, at this point of its rows.
	after := *o.Before
	if after.Revert != nil {
		redo := *after.Revert
		if redo.At, err = u.sink.imagesWritten(); err != nil {
			return err
		}
		after.Revert = &redo
	}
	u.object(ObjectImage{Kind: o.Kind, Schema: r.Schema, Name: r.Name, Action: ActionAlter, Before: o.After, After: &after})
	return nil
}

// schemaChanged forgets the foreign keys looked up so far: DDL the undo
// ran on the object may have dropped or re-created tables and their keys.
func (u *undoer) schemaChanged(schema, name string) {
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
	u.object(ObjectImage{Kind: o.Kind, Schema: o.Schema, Name: o.Name, Action: ActionCreate, After: o.Before, Table: undoTable})
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
			}
		}
	}
	if err := u.ap.ExecDDL(ctx, o.After.Drop); err != nil {
		return fmt.Errorf("dropping %s %s: %w", o.Kind, qname(o.Schema, o.Name), err)
	}
	u.schemaChanged(o.Schema, o.Name)
	u.object(ObjectImage{Kind: o.Kind, Schema: o.Schema, Name: o.Name, Action: ActionDrop, Before: o.After})
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
