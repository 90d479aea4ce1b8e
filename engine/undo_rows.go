package engine

import (
	"context"
	"fmt"
	"slices"
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

// rows undoes the row images of an entry, newest first, in batches.
func (u *undoer) rows(ctx context.Context, seq int64, skip map[int64]bool) error {
	b := &rowBatch{keys: map[string]bool{}}
	var keyBuf []byte
	err := u.s.j.ImageChunks(seq, true, undoBatch, func(imgs []journal.Image) error {
		for _, im := range imgs {
			if skip[im.Table] {
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
	return u.flush(ctx, b)
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
	ut, err := u.undoTable(b.table)
	if err != nil {
		return err
	}
	if Op(b.op) != OpInsert && len(u.waiting) > 0 {
		if err := u.awaitKeys(ctx, ut, b.keys); err != nil {
			return err
		}
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
	var rm []removal
	var insImg, updBefore, delBefore [][]Value
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
				continue
			}
			ins, insImg = append(ins, im.Before), append(insImg, im.Before)
		case OpUpdate: // undo: set the row back
			if f.Count == 0 {
				if !u.opt.Force {
					u.conflict(Conflict{Table: t.QualifiedName(), Key: keys[i], Reason: "the row was deleted since", Expected: im.After})
					continue
				}
				u.rep.Forced++
				ins, insImg = append(ins, im.Before), append(insImg, im.Before)
				continue
			}
			if !RowsEqual(f.Row, im.After) {
				if !u.opt.Force {
					u.conflict(Conflict{Table: t.QualifiedName(), Key: keys[i], Reason: "the row was changed since", Current: f.Row, Expected: im.After})
					continue
				}
				u.rep.Forced++
			}
			if wholeRow { // no key to update by: replace one identical row
				del, delKeys, delBefore = append(del, f.Row), append(delKeys, keys[i]), append(delBefore, f.Row)
				ins, insImg = append(ins, im.Before), append(insImg, im.Before)
				continue
			}
			upd, updKeys, updBefore = append(upd, im.Before), append(updKeys, keys[i]), append(updBefore, f.Row)
		case OpInsert: // undo: remove the row
			if f.Count == 0 {
				continue // already gone: nothing of anyone's to clobber
			}
			forced := false
			if !RowsEqual(f.Row, im.After) {
				if !u.opt.Force {
					u.conflict(Conflict{Table: t.QualifiedName(), Key: keys[i], Reason: "the row was changed since", Current: f.Row, Expected: im.After})
					continue
				}
				u.rep.Forced++
				forced = true
			}
			rm = append(rm, removal{entry: u.entry_, t: t, ut: ut, key: keys[i], k: string(journal.EncodeRow(nil, keys[i])), row: f.Row, forced: forced})
		default:
			return fmt.Errorf("unknown image operation %q", im.Op)
		}
	}
	if len(rm) > 0 {
		free, err := u.unreferenced(ctx, rm)
		if err != nil {
			return err
		}
		for _, r := range free {
			del, delKeys, delBefore = append(del, r.row), append(delKeys, r.key), append(delBefore, r.row)
		}
	}
	if len(del) > 0 || len(upd) > 0 {
		u.wrote(t)
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

// removal is a row undo removes (the undone entry inserted it).
type removal struct {
	entry    int64
	t        TableInfo
	ut       int64 // the table in the undo's own entry
	key, row []Value
	k        string // key, encoded
	forced   bool
	refs     int64    // rows that refer to it
	from     []string // the tables they are in
	unknown  string   // why rows that may refer to it cannot be counted
}

// unreferenced returns the rows of rm, all of one table, that no row of
// another table refers to through a foreign key; the others wait in
// u.waiting. Rows that refer to one may be removed by this undo's later
// steps (the session's own children, inserted before their parent in a
// deferred batch or by a BEFORE trigger, or re-inserted before it by an
// earlier undo), so the waiting rows are tried again after each entry
// (settle), and those still referred to at the end are conflicts.
func (u *undoer) unreferenced(ctx context.Context, rm []removal) ([]removal, error) {
	rc, ok := u.ap.(ReferenceChecker)
	if !ok {
		return rm, nil
	}
	t := rm[0].t
	fks, err := rc.ReferringKeys(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("listing the foreign keys that refer to %s: %w", t.QualifiedName(), err)
	}
	for i := range rm {
		rm[i].refs, rm[i].from, rm[i].unknown = 0, nil, ""
	}
	keys := make([][]Value, len(rm))
	for i, r := range rm {
		keys[i] = r.key
	}
	for _, fk := range fks {
		if fk.Unreadable != "" {
			for i := range rm {
				rm[i].unknown = fk.Unreadable
			}
			continue
		}
		counts, err := rc.CountReferrers(ctx, t, fk, keys)
		if err != nil {
			return nil, fmt.Errorf("looking for rows of %s that refer to rows of %s: %w", fk.Table, t.QualifiedName(), err)
		}
		if len(counts) != len(keys) {
			return nil, fmt.Errorf("looking for rows of %s that refer to rows of %s: %d results for %d rows", fk.Table, t.QualifiedName(), len(counts), len(keys))
		}
		for j, n := range counts {
			if r := &rm[j]; n > 0 {
				if !slices.Contains(r.from, fk.Table) {
					r.from = append(r.from, fk.Table)
				}
				r.refs += n
			}
		}
	}
	var free []removal
	for _, r := range rm {
		if r.refs > 0 || r.unknown != "" {
			u.waiting = append(u.waiting, r)
			continue
		}
		free = append(free, r)
	}
	return free, nil
}

// settle removes the waiting rows that nothing refers to any more, table
// by table, until no more can go; with final set, the rest are conflicts,
// Force or not: the rows that refer to them are not the undo's to change.
func (u *undoer) settle(ctx context.Context, final bool) error {
	// Only writes to a table the waiting rows' referrers are in can free
	// them; without any, trying again would cost a query per waiting row.
	due := final
	for _, r := range u.waiting {
		for _, name := range r.from {
			due = due || u.written[name]
		}
	}
	clear(u.written)
	for progress := due; progress && len(u.waiting) > 0; {
		progress = false
		var order []int64
		byTable := map[int64][]removal{}
		for _, r := range u.waiting {
			if _, ok := byTable[r.ut]; !ok {
				order = append(order, r.ut)
			}
			byTable[r.ut] = append(byTable[r.ut], r)
		}
		u.waiting = nil
		for _, ut := range order {
			free, err := u.unreferenced(ctx, byTable[ut])
			if err != nil {
				return err
			}
			if len(free) == 0 {
				continue
			}
			progress = true
			if err := u.writeFree(ctx, ut, free); err != nil {
				return err
			}
		}
	}
	if final {
		for _, r := range u.waiting {
			if r.forced {
				u.rep.Forced--
			}
			reason := "rows that may refer to it cannot be counted (" + r.unknown + "); removing it could delete or orphan them (not forced)"
			if r.refs > 0 {
				what := "1 row of " + r.from[0] + " refers to it and is"
				if r.refs > 1 {
					what = fmt.Sprintf("%d rows of %s refer to it and are", r.refs, strings.Join(r.from, ", "))
				}
				reason = what + " not part of this undo; removing it would delete or orphan them (not forced)"
			}
			u.rep.Conflicts = append(u.rep.Conflicts, Conflict{Entry: r.entry, Table: r.t.QualifiedName(), Key: r.key, Current: r.row, Reason: reason})
		}
		u.waiting = nil
	}
	if p := u.sink.werr.Load(); p != nil {
		return *p
	}
	return u.sink.err
}

// writeFree removes rows of one table that waited.
func (u *undoer) writeFree(ctx context.Context, ut int64, free []removal) error {
	t := free[0].t
	keys := make([][]Value, len(free))
	for i, r := range free {
		keys[i] = r.key
	}
	if err := u.ap.Delete(ctx, t, keys); err != nil {
		return fmt.Errorf("deleting rows of %s: %w", t.QualifiedName(), err)
	}
	for _, r := range free {
		u.sink.Row(ut, OpDelete, r.row, nil)
	}
	u.wrote(t)
	u.rep.Rows += int64(len(free))
	return nil
}

// wrote notes that undo deleted or updated rows of t: rows waiting for
// their referrers in t to go may be free now (settle).
func (u *undoer) wrote(t TableInfo) {
	if u.written == nil {
		u.written = map[string]bool{}
	}
	u.written[t.QualifiedName()] = true
}

// awaitKeys refuses to write rows of table ut whose keys are held by rows
// waiting to be removed: the older row would clash with the newer one
// (an INSERT OR REPLACE, or a DELETE and INSERT of the same key, whose
// new row other rows still refer to). It first lets the waiting rows go
// where nothing refers to them any more.
func (u *undoer) awaitKeys(ctx context.Context, ut int64, keys map[string]bool) error {
	held := func() *removal {
		for i := range u.waiting {
			if r := &u.waiting[i]; r.ut == ut && keys[r.k] {
				return r
			}
		}
		return nil
	}
	if held() == nil {
		return nil
	}
	for _, r := range u.waiting {
		for _, name := range r.from {
			u.wrote(TableInfo{Name: name}) // force a try
		}
	}
	if err := u.settle(ctx, false); err != nil {
		return err
	}
	if r := held(); r != nil {
		return fmt.Errorf("%s key %s is restored here, but the row entry %d put in its place is still referred to by rows of %s that this undo has not reached: undo the entries that added those rows first",
			r.t.QualifiedName(), FormatRow(r.key), r.entry, strings.Join(r.from, ", "))
	}
	return nil
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

func (u *undoer) markSync(t TableInfo) {
	for _, s := range u.synced {
		if s.Schema == t.Schema && s.Name == t.Name {
			return
		}
	}
	u.synced = append(u.synced, t)
}

// RowsEqual reports whether two rows hold identical values.
func RowsEqual(a, b []Value) bool { return journal.RowsEqual(a, b) }
