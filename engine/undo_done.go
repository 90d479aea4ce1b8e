package engine

import (
	"lifebelt/journal"
)

// Undoing a partly undone entry again: the rows and objects that earlier
// undos of it (still wholly in place) already put back are left alone;
// only what they left, as conflicts, is undone now. What they did is
// read from their own images and objects, each counted once (rows of a
// table without a key can be identical).

// doneSet is what earlier undos of one entry did.
type doneSet struct {
	rows    map[string]int
	objects map[string]bool
	by      []int64 // the undo entries
}

func doneKey(op byte, t TableInfo, row []Value) string {
	return string(op) + "\x00" + t.QualifiedName() + "\x00" + string(journal.EncodeRow(nil, row))
}

// earlierUndos reads what the undo entries wholly in place that refer to
// entry e did; nil when there are none.
func earlierUndos(j *journal.Journal, e journal.Entry) (*doneSet, error) {
	if e.State != journal.StatePartlyUndone {
		return nil, nil
	}
	entries, err := j.Entries()
	if err != nil {
		return nil, err
	}
	d := &doneSet{rows: map[string]int{}, objects: map[string]bool{}}
	for _, u := range entries {
		if u.Kind != journal.KindUndo || u.Seq <= e.Seq || u.State != journal.StatusCommitted || !containsSeq(u.Refs, e.Seq) {
			continue
		}
		d.by = append(d.by, u.Seq)
		tables, err := j.Tables(u.Seq)
		if err != nil {
			return nil, err
		}
		byID := map[int64]TableInfo{}
		for _, t := range tables {
			byID[t.ID] = t
		}
		err = j.ImageChunks(u.Seq, false, undoBatch, func(imgs []journal.Image) error {
			for _, im := range imgs {
				t := byID[im.Table]
				switch Op(im.Op) {
				case OpUpdate, OpInsert: // a row set back, or put back
					d.rows[doneKey(im.Op, t, im.After)]++
				case OpDelete: // a row removed
					d.rows[doneKey(im.Op, t, im.Before)]++
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		objs, err := j.Objects(u.Seq)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			if o.Before != nil {
				d.objects[o.Kind+"\x00b\x00"+o.Before.Text] = true
			}
			if o.After != nil {
				d.objects[o.Kind+"\x00a\x00"+o.After.Text] = true
			}
		}
	}
	return d, nil
}

func containsSeq(list []int64, seq int64) bool {
	for _, s := range list {
		if s == seq {
			return true
		}
	}
	return false
}

// rowDone reports, and counts off, whether an earlier undo did what
// undoing image im does: set the row back, put it back (or, forced,
// overwrote it with it), or removed it.
func (d *doneSet) rowDone(t TableInfo, im journal.Image) bool {
	var keys []string
	switch Op(im.Op) {
	case OpUpdate: // set back, or, forced where the row was gone, put back
		keys = []string{doneKey(byte(OpUpdate), t, im.Before), doneKey(byte(OpInsert), t, im.Before)}
	case OpDelete:
		keys = []string{doneKey(byte(OpInsert), t, im.Before), doneKey(byte(OpUpdate), t, im.Before)}
	case OpInsert:
		keys = []string{doneKey(byte(OpDelete), t, im.After)}
	}
	for _, k := range keys {
		if d.rows[k] > 0 {
			d.rows[k]--
			return true
		}
	}
	return false
}

// objectDone reports whether an earlier undo did what undoing o does: it
// re-created what o dropped, or took o's change back.
func (d *doneSet) objectDone(o ObjectImage) bool {
	switch {
	case o.Action == ActionDrop && o.Before != nil:
		return d.objects[o.Kind+"\x00a\x00"+o.Before.Text]
	case o.After != nil:
		return d.objects[o.Kind+"\x00b\x00"+o.After.Text]
	}
	return false
}
