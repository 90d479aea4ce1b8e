package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"lifebelt/journal"
)

// ForeignKey is a foreign key as a dialect reports it for the reference
// check of undo.
type ForeignKey struct {
	ID         string // the dialect's own identification, unique in the database
	Name       string // the constraint's name, for people ("" when it has none)
	Child      Name   // the referencing table
	ChildCols  []string
	Parent     Name // the referenced table
	ParentCols []string
	// MatchFull: a referencing row with some, not all, key columns NULL
	// violates the key (MATCH FULL); otherwise any NULL column makes the
	// row refer to nothing (MATCH SIMPLE).
	MatchFull bool
	// ChildDefault: a referencing column has a default, which rows the
	// undo writes without that column get.
	ChildDefault bool
}

func (fk ForeignKey) String() string {
	s := fmt.Sprintf("%s (%s) → %s (%s)", fk.Child, strings.Join(fk.ChildCols, ", "), fk.Parent, strings.Join(fk.ParentCols, ", "))
	if fk.Name != "" {
		s = fk.Name + ": " + s
	}
	return s
}

// TableForeignKey is a foreign key of a table: Referenced when the table
// is the referenced one.
type TableForeignKey struct {
	ForeignKey
	Referenced bool
	// Always: the key is declared on, or refers to, a partition below the
	// table. A row the undo writes may land in that partition, or leave
	// it, with its values unchanged, so every value counts.
	Always bool
}

// Dangling is a foreign-key value that rows of the child refer to after
// the undo and that no row of the parent has.
type Dangling struct {
	FK     ForeignKey
	Values []Value // the child's foreign-key values
	// Rows counts the child's rows with Values that referred to a row the
	// undo removed or, with Restored, that the undo wrote (it put back
	// rows whose parent is gone).
	Rows     int64
	Restored bool
}

func (d Dangling) String() string {
	if d.Restored {
		return fmt.Sprintf("%d row(s) undo would put back into %s with (%s) = %s refer to a row of %s that does not exist (foreign key %s)",
			d.Rows, d.FK.Child, strings.Join(d.FK.ChildCols, ", "), FormatRow(d.Values), d.FK.Parent, d.FK)
	}
	return fmt.Sprintf("%d row(s) of %s with (%s) = %s refer to a row of %s that undo would remove (foreign key %s)",
		d.Rows, d.FK.Child, strings.Join(d.FK.ChildCols, ", "), FormatRow(d.Values), d.FK.Parent, d.FK)
}

// ReferenceChecker is an optional Applier capability: the check that an
// undo leaves no row referring to a row that is not there. Undo writes
// rows with foreign-key enforcement (and its ON DELETE actions) off where
// the dialect can (PostgreSQL's replica role, SQLite's foreign_keys
// pragma set around the transaction), so that rows go back in any order
// and no action deletes or changes rows of others; this check then looks
// at the final state, once, with the database's own comparison for each
// key.
type ReferenceChecker interface {
	// ForeignKeys lists the foreign keys in which t is the referencing or
	// the referenced table (for a partition, also those of its
	// partitioned ancestors), once per role: a self-reference twice.
	ForeignKeys(ctx context.Context, t TableInfo) ([]TableForeignKey, error)
	// Dangling reports, for fk, the child's rows that refer to one of the
	// removed parent-key values (ParentCols order) and to no row of the
	// parent now, and those that hold one of the written values (ChildCols
	// order; under MatchFull some may be NULL) and refer to no row of the
	// parent; at most limit of each. A foreign key that no longer exists
	// has nothing to report.
	Dangling(ctx context.Context, fk ForeignKey, removed, written [][]Value, limit int) ([]Dangling, error)
}

// ReferenceError refuses an undo that would leave rows referring to rows
// that are not there.
type ReferenceError struct {
	Dangling []Dangling
}

func (e *ReferenceError) Error() string {
	var b strings.Builder
	b.WriteString("it would leave rows referring to rows that do not exist (undo the entries that added them first, or change those rows): ")
	for i, d := range e.Dangling {
		if i == 10 {
			fmt.Fprintf(&b, "; and %d more", len(e.Dangling)-i)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(d.String())
	}
	return b.String()
}

// danglingLimit is how many dangling values per foreign key are reported.
const danglingLimit = 100

// fkUse is one foreign key a table takes part in, with the positions of
// its columns in the table's row.
type fkUse struct {
	refs    *fkRefs
	parent  bool // the table is the referenced one
	always  bool // TableForeignKey.Always
	cols    []int
	missing string // set: a referenced column the journal does not know; removing a row is refused with this
}

// fkRefs collects, for one foreign key, the parent-key values the undo
// removed and the child values it wrote (distinct, NULL-free).
type fkRefs struct {
	fk               ForeignKey
	removed, written map[string][]Value
	epoch            int // renames the undo had run when fk was read
}

// fkUses is the foreign keys of a table, looked up once per undo.
func (u *undoer) fkUses(ctx context.Context, t TableInfo) ([]fkUse, error) {
	rc, ok := u.ap.(ReferenceChecker)
	if !ok {
		return nil, nil
	}
	name := t.QualifiedName()
	if uses, ok := u.fks[name]; ok {
		return uses, nil
	}
	fks, err := rc.ForeignKeys(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("reading the foreign keys of %s: %w", name, err)
	}
	pos := map[string]int{}
	for i, c := range t.Columns {
		pos[c.Name] = i
	}
	var uses []fkUse
	for _, tf := range fks {
		fk := tf.ForeignKey
		u.fkSeen[fk.ID] = true
		names := fk.ChildCols
		if tf.Referenced {
			names = fk.ParentCols
		}
		cols := make([]int, len(names))
		missing := ""
		for i, c := range names {
			p, ok := pos[c]
			if !ok {
				missing = c
				break
			}
			cols[i] = p
		}
		if missing != "" && tf.Referenced {
			// The values the undo removes from that column are unknown:
			// refused once it removes a row (track); setting a row back
			// in place leaves that column as it is.
			uses = append(uses, fkUse{parent: true, missing: fmt.Sprintf("foreign key %s refers to column %q, which %s did not have when the entry was journaled (it was added since); undo cannot tell which rows refer to the rows it removes", fk, missing, name)})
			continue
		}
		if missing != "" && fk.ChildDefault {
			return nil, fmt.Errorf("foreign key %s names column %q, which %s did not have when the entry was journaled and which has a default: rows undo writes would get that default, and undo cannot check what it refers to", fk, missing, name)
		}
		if missing != "" {
			// Rows undo writes get NULL there, which refers to nothing.
			u.rep.Notes = append(u.rep.Notes, fmt.Sprintf("foreign key %s was not checked for rows undo wrote into %s: column %q was added since the entry was journaled, and they get NULL there", fk, name, missing))
			continue
		}
		r := u.refs[fk.ID]
		if r == nil {
			r = &fkRefs{fk: fk, removed: map[string][]Value{}, written: map[string][]Value{}, epoch: len(u.renames)}
			u.refs[fk.ID] = r
			u.refOrder = append(u.refOrder, fk.ID)
		}
		uses = append(uses, fkUse{refs: r, parent: tf.Referenced, always: tf.Always, cols: cols})
	}
	u.fks[name] = uses
	return uses, nil
}

// project returns the values of cols in row, or nil when one is NULL (a
// NULL foreign key refers to nothing, and a NULL key is referred to by
// nothing). With partial, only when all are: a MATCH FULL key with some
// columns NULL is a violation to check.
func project(row []Value, cols []int, partial bool) []Value {
	out := make([]Value, len(cols))
	nulls := 0
	for i, c := range cols {
		if c >= len(row) || row[c].K == NullKind {
			nulls++
			continue
		}
		out[i] = row[c]
	}
	if nulls == len(cols) || (nulls > 0 && !partial) {
		return nil
	}
	return out
}

// track records a row change of the undo for the reference check: old is
// the row as it was (nil for an insert), now the row as undo leaves it
// (nil for a delete).
func (u *undoer) track(ctx context.Context, t TableInfo, old, now [][]Value) error {
	if len(old) == 0 && len(now) == 0 {
		return nil
	}
	u.written[fmt.Sprintf("%s/%d", t.QualifiedName(), len(u.renames))] = syncedTable{t, len(u.renames)}
	uses, err := u.fkUses(ctx, t)
	if err != nil || len(uses) == 0 {
		return err
	}
	var buf []byte
	n := max(len(old), len(now))
	for i := 0; i < n; i++ {
		var o, w []Value
		if old != nil {
			o = old[i]
		}
		if now != nil {
			w = now[i]
		}
		for _, use := range uses {
			if use.missing != "" {
				if o != nil && w == nil {
					return errors.New(use.missing)
				}
				continue
			}
			var before, after []Value
			partial := !use.parent && use.refs.fk.MatchFull
			if o != nil {
				before = project(o, use.cols, partial)
			}
			if w != nil {
				after = project(w, use.cols, partial)
			}
			if use.parent {
				// A key the row no longer has after the undo is removed.
				if before != nil && (after == nil || use.always || !journal.RowsEqual(before, after)) {
					buf = journal.EncodeRow(buf[:0], before)
					use.refs.removed[string(buf)] = before
				}
			} else if after != nil && (before == nil || use.always || !journal.RowsEqual(before, after)) {
				// A reference the row did not have before is written.
				buf = journal.EncodeRow(buf[:0], after)
				use.refs.written[string(buf)] = after
			}
		}
	}
	return nil
}

// checkReferences runs the reference check over what the undo removed
// and wrote.
func (u *undoer) checkReferences(ctx context.Context) error {
	rc, ok := u.ap.(ReferenceChecker)
	if !ok {
		return nil
	}
	// A foreign key added while the undo ran, before it first wrote the
	// table (until then it held no lock that such a change waits for),
	// would go unchecked: the keys of every table it wrote are read
	// again, now that it holds them. Tables the undo itself re-created or
	// dropped have keys of their own making.
	for _, w := range u.written {
		t := u.renamedTable(w.t, w.epoch)
		name := t.QualifiedName()
		if u.ddl[u.ddlKey(t.Schema, t.Name)] {
			continue
		}
		fks, err := rc.ForeignKeys(ctx, t)
		if err != nil {
			return fmt.Errorf("reading the foreign keys of %s: %w", name, err)
		}
		for _, tf := range fks {
			if u.ddl[u.ddlKey(tf.Child.Schema, tf.Child.Name)] || u.ddl[u.ddlKey(tf.Parent.Schema, tf.Parent.Name)] {
				continue // a key the undo's own DDL brought back or took away
			}
			if !u.fkSeen[tf.ID] {
				return fmt.Errorf("foreign key %s was created while undo ran, after it had looked at %s; run the undo again", tf.ForeignKey, name)
			}
		}
	}
	var all []Dangling
	for _, id := range u.refOrder {
		r := u.refs[id]
		if len(r.removed) == 0 && len(r.written) == 0 {
			continue
		}
		removed := make([][]Value, 0, len(r.removed))
		for _, v := range r.removed {
			removed = append(removed, v)
		}
		written := make([][]Value, 0, len(r.written))
		for _, v := range r.written {
			written = append(written, v)
		}
		fk, ok, err := u.keyNow(ctx, rc, r)
		if err != nil {
			return err
		}
		if !ok {
			continue // its referencing table is gone: nothing refers to anything
		}
		ds, err := rc.Dangling(ctx, fk, removed, written, danglingLimit)
		if err != nil {
			return fmt.Errorf("checking foreign key %s: %w", fk, err)
		}
		all = append(all, ds...)
	}
	if len(all) > 0 {
		return &ReferenceError{Dangling: all}
	}
	return nil
}

// keyNow is r's foreign key as it is at the end of the undo: a revert of
// ALTER that ran after it was read may have renamed its tables or
// columns, and the dialect's ID may hold those names, so it is looked up
// again under the new ones. ok is false when its referencing table is
// gone.
func (u *undoer) keyNow(ctx context.Context, rc ReferenceChecker, r *fkRefs) (fk ForeignKey, ok bool, err error) {
	fk = u.renamedKey(r.fk, r.epoch)
	if u.sameKeyNames(fk, r.fk) {
		return r.fk, true, nil
	}
	exists, err := u.ap.ObjectExists(ctx, "TABLE", fk.Child.Schema, fk.Child.Name)
	if err != nil || !exists {
		return fk, false, err
	}
	fks, err := rc.ForeignKeys(ctx, TableInfo{Schema: fk.Child.Schema, Name: fk.Child.Name})
	if err != nil {
		return fk, false, fmt.Errorf("reading the foreign keys of %s: %w", fk.Child, err)
	}
	for _, tf := range fks {
		if !tf.Referenced && u.sameKeyNames(tf.ForeignKey, fk) {
			return tf.ForeignKey, true, nil
		}
	}
	return fk, false, fmt.Errorf("foreign key %s, whose table or columns the undo renamed back, cannot be found under its new names, so the undo cannot check it", fk)
}

// sameKeyNames reports whether two foreign keys join the same columns of
// the same tables.
func (u *undoer) sameKeyNames(a, b ForeignKey) bool {
	if !u.sameTable(a.Child.Schema, a.Child.Name, b.Child.Schema, b.Child.Name) ||
		!u.sameTable(a.Parent.Schema, a.Parent.Name, b.Parent.Schema, b.Parent.Name) ||
		len(a.ChildCols) != len(b.ChildCols) || len(a.ParentCols) != len(b.ParentCols) {
		return false
	}
	for i := range a.ChildCols {
		if !u.sameIdent(a.ChildCols[i], b.ChildCols[i]) {
			return false
		}
	}
	for i := range a.ParentCols {
		if !u.sameIdent(a.ParentCols[i], b.ParentCols[i]) {
			return false
		}
	}
	return true
}
