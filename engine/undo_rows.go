package engine

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"lifebelt/journal"
)

// rowBatch is a run of consecutive images (newest first) of one table and
// one operation, undone together.
type rowBatch struct {
	table int64
	op    byte
	imgs  []journal.Image
	keys  map[string]bool
	bytes int // of the row values in imgs
}

// rowMark is something to run among an entry's rows: once the images
// after the first at of them are undone.
type rowMark struct {
	at int64
	fn func() error
}

// rows undoes the row images of an entry, newest first, in batches, and
// runs each mark (ordered by at, descending) at its point.
func (u *undoer) rows(ctx context.Context, seq int64, skip map[int64]bool, marks []rowMark) error {
	b := &rowBatch{keys: map[string]bool{}}
	var keyBuf []byte
	runMarks := func(ord int64) error {
		for len(marks) > 0 && ord <= marks[0].at {
			if err := u.flush(ctx, b); err != nil {
				return err
			}
			if err := marks[0].fn(); err != nil {
				return err
			}
			marks = marks[1:]
		}
		return nil
	}
	err := u.s.j.ImageChunks(seq, true, undoBatch, func(imgs []journal.Image) error {
		for _, im := range imgs {
			if err := runMarks(im.Ord); err != nil {
				return err
			}
			if skip[im.Table] {
				continue
			}
			if u.done != nil && u.done.rowDone(u.tables[im.Table], im) {
				continue // an earlier undo of this entry put it back
			}
			if u.blockedBy(im.Table) {
				continue
			}
			keyBuf = journal.EncodeRow(keyBuf[:0], u.currentKey(im))
			k := string(keyBuf)
			if len(b.imgs) > 0 && (b.table != im.Table || b.op != im.Op || b.keys[k] || len(b.imgs) >= undoBatch || b.bytes >= undoBatchBytes) {
				if err := u.flush(ctx, b); err != nil {
					return err
				}
			}
			b.table, b.op = im.Table, im.Op
			b.keys[k] = true
			b.imgs = append(b.imgs, im)
			b.bytes += valueBytes(im.Before) + valueBytes(im.After)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := u.flush(ctx, b); err != nil {
		return err
	}
	return runMarks(0)
}

// blockedBy reports whether the image's table had an ALTER, later in the
// session, that this undo left in place: the image names columns or a
// table name that are not there. The first such image of a table in an
// entry is reported as a conflict.
func (u *undoer) blockedBy(table int64) bool {
	if len(u.blocked) == 0 {
		return false
	}
	t := u.tables[table]
	alter, ok := u.blocked[u.ddlKey(t.Schema, t.Name)]
	if !ok || alter <= u.entry_ {
		return false
	}
	if !u.blockedSaid[u.entry_][t.QualifiedName()] {
		if u.blockedSaid == nil {
			u.blockedSaid = map[int64]map[string]bool{}
		}
		if u.blockedSaid[u.entry_] == nil {
			u.blockedSaid[u.entry_] = map[string]bool{}
		}
		u.blockedSaid[u.entry_][t.QualifiedName()] = true
		u.conflict(Conflict{Table: t.QualifiedName(), Reason: fmt.Sprintf("its ALTER in entry %d, which renamed the table or its columns or dropped or rewrote columns, was not undone, so these rows, recorded before it, were not put back", alter)})
	}
	return true
}

// valueBytes is the size of a row's text and byte values.
func valueBytes(row []Value) int {
	n := 0
	for _, v := range row {
		n += len(v.S) + len(v.B)
	}
	return n
}

// currentKey is the key the row has now, if nobody changed it since.
func (u *undoer) currentKey(im journal.Image) []Value {
	t := u.tables[im.Table]
	if im.After != nil {
		return t.KeyOf(im.After)
	}
	return t.KeyOf(im.Before)
}

func (u *undoer) flush(ctx context.Context, b *rowBatch) error {
	if len(b.imgs) == 0 {
		return nil
	}
	defer func() {
		b.imgs = b.imgs[:0]
		b.bytes = 0
		clear(b.keys)
	}()
	t, ok := u.tables[b.table]
	if !ok {
		return fmt.Errorf("image refers to table %d, which the journal does not describe", b.table)
	}
	if missing, err := u.missingColumns(ctx, t, Op(b.op) != OpInsert); err != nil {
		return err
	} else if missing != "" {
		u.shapeConflict(t, missing)
		return nil
	}
	ut, err := u.undoTable(b.table)
	if err != nil {
		return err
	}
	if Op(b.op) == OpDelete {
		if done, err := u.reinsert(ctx, t, ut, b); done || err != nil {
			return err
		}
	}
	keys := make([][]Value, len(b.imgs))
	for i, im := range b.imgs {
		keys[i] = u.currentKey(im)
	}
	found, err := u.ap.Fetch(ctx, t, keys)
	if err != nil {
		return fmt.Errorf("reading current rows of %s: %w", t.QualifiedName(), err)
	}
	if len(found) != len(keys) {
		return fmt.Errorf("reading current rows of %s: %d results for %d keys", t.QualifiedName(), len(found), len(keys))
	}
	var ins, upd, updKeys, del, delKeys [][]Value
	var insImg, updBefore, delBefore [][]Value
	var trOld, trNew [][]Value // each row change, for the reference check
	wholeRow := t.KeyKind == KeyRow
	for i, im := range b.imgs {
		f := found[i]
		switch Op(im.Op) {
		case OpDelete: // undo: put the row back
			if f.Count > 0 && !wholeRow {
				if !u.opt.Force {
					u.conflict(Conflict{Table: t.QualifiedName(), Key: keys[i], Reason: "a row with this key was inserted since", Current: f.Row})
					continue
				}
				u.rep.Forced++
				upd, updKeys, updBefore = append(upd, im.Before), append(updKeys, keys[i]), append(updBefore, f.Row)
				trOld, trNew = append(trOld, f.Row), append(trNew, im.Before)
				continue
			}
			ins, insImg = append(ins, im.Before), append(insImg, im.Before)
			trOld, trNew = append(trOld, nil), append(trNew, im.Before)
		case OpUpdate: // undo: set the row back
			if f.Count == 0 {
				if !u.opt.Force {
					reason := "the row was deleted since"
					if wholeRow {
						reason = "no row holds these values any more (changed or deleted since)"
					}
					u.conflict(Conflict{Table: t.QualifiedName(), Key: keys[i], Reason: reason, Expected: im.After})
					continue
				}
				u.rep.Forced++
				ins, insImg = append(ins, im.Before), append(insImg, im.Before)
				trOld, trNew = append(trOld, nil), append(trNew, im.Before)
				continue
			}
			if !RowsEqual(f.Row, im.After) {
				if !u.opt.Force {
					u.conflict(Conflict{Table: t.QualifiedName(), Key: keys[i], Reason: "the row was changed since", Current: f.Row, Expected: im.After})
					continue
				}
				u.rep.Forced++
			}
			trOld, trNew = append(trOld, f.Row), append(trNew, im.Before)
			// A table without a key too: its key is the whole row, and
			// Update sets back one of the identical rows in place, so
			// columns added since keep their values (a delete and insert
			// would lose them).
			upd, updKeys, updBefore = append(upd, im.Before), append(updKeys, keys[i]), append(updBefore, f.Row)
		case OpInsert: // undo: remove the row
			if f.Count == 0 {
				continue // already gone: nothing of anyone's to clobber
			}
			if !RowsEqual(f.Row, im.After) {
				if !u.opt.Force {
					u.conflict(Conflict{Table: t.QualifiedName(), Key: keys[i], Reason: "the row was changed since", Current: f.Row, Expected: im.After})
					continue
				}
				u.rep.Forced++
			}
			del, delKeys, delBefore = append(del, f.Row), append(delKeys, keys[i]), append(delBefore, f.Row)
			trOld, trNew = append(trOld, f.Row), append(trNew, nil)
		default:
			return fmt.Errorf("unknown image operation %q", im.Op)
		}
	}
	if err := u.track(ctx, t, trOld, trNew); err != nil {
		return err
	}
	if len(del) > 0 {
		if err := u.ap.Delete(ctx, t, delKeys); err != nil {
			return fmt.Errorf("deleting rows of %s: %w", t.QualifiedName(), err)
		}
		for _, r := range delBefore {
			u.sink.Row(ut, OpDelete, r, nil)
		}
	}
	if len(upd) > 0 {
		if err := u.ap.Update(ctx, t, updKeys, upd); err != nil {
			return fmt.Errorf("restoring rows of %s: %w", t.QualifiedName(), err)
		}
		for i, r := range upd {
			u.sink.Row(ut, OpUpdate, updBefore[i], r)
		}
	}
	if len(ins) > 0 {
		if err := u.ap.Insert(ctx, t, ins); err != nil {
			return fmt.Errorf("re-inserting rows of %s: %w", t.QualifiedName(), err)
		}
		for _, r := range insImg {
			u.sink.Row(ut, OpInsert, nil, r)
		}
		u.markSync(t)
	}
	u.rep.Rows += int64(len(del) + len(upd) + len(ins))
	if p := u.sink.werr.Load(); p != nil {
		return *p
	}
	return u.sink.err
}

// reinsert puts a batch of deleted rows back without reading the table
// first, where that gives the same result as the careful path: rows of a
// table without a key go back unconditionally, and for a keyed table a
// batch that inserts cleanly proves no row with any of its keys exists,
// which is the only conflict a deleted row can have. done is false when
// the careful path must run instead.
func (u *undoer) reinsert(ctx context.Context, t TableInfo, ut int64, b *rowBatch) (done bool, err error) {
	rows := make([][]Value, len(b.imgs))
	for i, im := range b.imgs {
		rows[i] = im.Before
	}
	if t.KeyKind == KeyRow {
		if err := u.ap.Insert(ctx, t, rows); err != nil {
			return false, fmt.Errorf("re-inserting rows of %s: %w", t.QualifiedName(), err)
		}
	} else {
		ti, ok := u.ap.(TryInserter)
		if !ok {
			return false, nil
		}
		if done, err = ti.TryInsert(ctx, t, rows); err != nil || !done {
			if err != nil {
				err = fmt.Errorf("re-inserting rows of %s: %w", t.QualifiedName(), err)
			}
			return false, err
		}
	}
	if err := u.track(ctx, t, nil, rows); err != nil {
		return true, err
	}
	for _, r := range rows {
		u.sink.Row(ut, OpInsert, nil, r)
	}
	u.markSync(t)
	u.rep.Rows += int64(len(rows))
	if p := u.sink.werr.Load(); p != nil {
		return true, *p
	}
	return true, u.sink.err
}

// syncedTable is a table the undo wrote, with the number of renames the
// undo had run by then (undo_renames.go).
type syncedTable struct {
	t     TableInfo
	epoch int
}

func (u *undoer) markSync(t TableInfo) {
	for _, s := range u.synced {
		if s.t.Schema == t.Schema && s.t.Name == t.Name && s.epoch == len(u.renames) {
			return
		}
	}
	u.synced = append(u.synced, syncedTable{t, len(u.renames)})
}

// RowsEqual reports whether two rows hold identical values.
func RowsEqual(a, b []Value) bool { return journal.RowsEqual(a, b) }

// missingColumns says what of t, as the journal describes it, the table
// lacks now ("" when nothing): the table itself, or columns. Read once
// per table for each state of the schema the undo goes through.
func (u *undoer) missingColumns(ctx context.Context, t TableInfo, writesValues bool) (string, error) {
	cl, ok := u.ap.(ColumnLister)
	if !ok {
		return "", nil
	}
	key := fmt.Sprintf("%d\x00%d\x00%s", u.ddlRuns, len(u.renames), u.ddlKey(t.Schema, t.Name))
	now, ok := u.shapes[key]
	if !ok {
		cols, exists, err := cl.Columns(ctx, t.Schema, t.Name)
		if err != nil {
			return "", fmt.Errorf("reading the columns of %s: %w", t.QualifiedName(), err)
		}
		if exists {
			now = map[string]string{}
			for _, c := range cols {
				now[u.ddlKey("", c.Name)] = c.Type
			}
		}
		if u.shapes == nil {
			u.shapes = map[string]map[string]string{}
		}
		u.shapes[key] = now
	}
	if now == nil {
		return "the table is not there any more (dropped or renamed since)", nil
	}
	var gone, retyped []string
	for _, c := range t.Columns {
		typ, there := now[u.ddlKey("", c.Name)]
		switch {
		case !there:
			gone = append(gone, c.Name)
		case u.opt.Force && writesValues && typ != "" && !holds(typ, c.Type):
			// Forced, these rows are written whatever the table holds
			// now: values of another type may not go in, or go in
			// changed (a type "" refuses nothing, as SQLite's declared
			// types outside STRICT tables).
			retyped = append(retyped, c.Name+" (now "+typ+", "+c.Type+" in these rows)")
		}
	}
	missing := ""
	switch {
	case len(gone) > 0:
		missing = "the table no longer has column(s) " + strings.Join(gone, ", ") + " (dropped or renamed since)"
	case len(retyped) > 0:
		missing = "the type of column(s) " + strings.Join(retyped, ", ") + " changed since, so forcing them back could fail or convert them"
	}
	return missing, nil
}

// shapeConflict reports, once per entry and table, that rows of t were
// not put back because the table lacks what they hold.
func (u *undoer) shapeConflict(t TableInfo, missing string) {
	if u.blockedSaid == nil {
		u.blockedSaid = map[int64]map[string]bool{}
	}
	if u.blockedSaid[u.entry_] == nil {
		u.blockedSaid[u.entry_] = map[string]bool{}
	}
	if u.blockedSaid[u.entry_][t.QualifiedName()] {
		return
	}
	u.blockedSaid[u.entry_][t.QualifiedName()] = true
	u.conflict(Conflict{Table: t.QualifiedName(), Reason: missing + ", so these rows, recorded with it, were not put back; undo the later change first, or revert to a snapshot"})
}

// holds reports whether a column of type now keeps every value of type
// was unchanged: the same type, or a varchar or numeric widened without
// changing the scale (anything else, such as a narrowed precision, a
// bit(n) or char(n) length, may refuse or change values).
func holds(now, was string) bool {
	if now == was {
		return true
	}
	base := func(t string) (string, []int, bool) {
		open := strings.IndexByte(t, '(')
		if open < 0 {
			return t, nil, true
		}
		end := strings.IndexByte(t, ')')
		if end < open || end != len(t)-1 {
			return "", nil, false // a suffix after the modifier (arrays, time zones): not compared
		}
		var mods []int
		for _, f := range strings.Split(t[open+1:end], ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				return "", nil, false
			}
			mods = append(mods, n)
		}
		return t[:open], mods, true
	}
	nb, nm, ok1 := base(now)
	wb, wm, ok2 := base(was)
	if !ok1 || !ok2 || nb != wb {
		return false
	}
	switch nb {
	case "character varying":
		return nm == nil || wm != nil && nm[0] >= wm[0]
	case "numeric":
		if nm == nil {
			return true
		}
		if wm == nil || len(nm) != 2 || len(wm) != 2 {
			return false
		}
		return nm[1] == wm[1] && nm[0]-nm[1] >= wm[0]-wm[1]
	}
	return false
}
