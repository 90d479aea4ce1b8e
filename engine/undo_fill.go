package engine

import (
	"context"
	"fmt"
	"strings"

	"lifebelt/journal"
)

// filled counts what a Revert's Fill did.
type filled struct {
	rows int64 // rows whose columns got their values back
	gone int64 // imaged rows no longer there
}

func (f filled) note(seq int64, table string, r *Revert) string {
	var b strings.Builder
	fmt.Fprintf(&b, "entry %d: column(s) %s of %s came back with the values of %d row(s)", seq, strings.Join(r.Fill, ", "), table, f.rows)
	if r.Expect != nil {
		b.WriteString(", as the table's last column(s): a column added to a table goes at its end")
	}
	if f.gone > 0 {
		fmt.Fprintf(&b, "; forced: %d row(s) no longer found by their key (deleted, or their key changed since) keep their values only in the journal (lifebelt journal show)", f.gone)
	}
	return b.String()
}

// fill sets the columns r adds back to the values imaged with the change
// o of entry seq (its Table handle), matching rows by key: the rows are
// locked and read first, and rows gone since are counted, not a problem.
// It runs inside the revert's savepoint; a problem rolls the revert back.
func (u *undoer) fill(ctx context.Context, seq int64, o ObjectImage, r *Revert, f *filled) (problem, err error) {
	t, ok := u.tables[o.Table]
	if o.Table == 0 || !ok {
		return fmt.Errorf("the journal holds no rows of %s to fill column(s) %s from", qname(o.Schema, o.Name), strings.Join(r.Fill, ", ")), nil
	}
	if t.KeyKind == KeyRow || len(t.Key) == 0 {
		return fmt.Errorf("the rows of %s have no key to match them by", qname(o.Schema, o.Name)), nil
	}
	// The narrowed table: its key columns, which Update leaves alone
	// (marked generated), then the filled columns.
	nt := TableInfo{Schema: r.Schema, Name: r.Name, KeyKind: t.KeyKind}
	var from []int
	inKey := map[int]bool{}
	for i, k := range t.Key {
		c := t.Columns[k]
		c.Generated = true
		nt.Columns = append(nt.Columns, c)
		nt.Key = append(nt.Key, i)
		from = append(from, k)
		inKey[k] = true
	}
	for _, name := range r.Fill {
		k := -1
		for i, c := range t.Columns {
			if c.Name == name {
				k = i
				break
			}
		}
		switch {
		case k < 0:
			return fmt.Errorf("the journal holds no values of column %s of %s", name, qname(o.Schema, o.Name)), nil
		case inKey[k]:
			return fmt.Errorf("column %s of %s is part of the key its rows were imaged by", name, qname(o.Schema, o.Name)), nil
		}
		c := t.Columns[k]
		c.Generated, c.Identity = false, ""
		nt.Columns = append(nt.Columns, c)
		from = append(from, k)
	}
	nk := len(nt.Key)
	if ro, ok := u.ap.(RowSecurityOffer); ok {
		restore, err := ro.RowSecurityOff(ctx)
		if err != nil {
			return nil, err
		}
		defer func() {
			// After a problem the savepoint's rollback restores it.
			if problem == nil && err == nil {
				err = restore()
			}
		}()
	}
	var failed error
	err = u.s.j.ImageChunks(seq, false, undoBatch, func(imgs []journal.Image) error {
		var keys, rows [][]Value
		for _, im := range imgs {
			if im.Table != o.Table || im.Before == nil {
				continue
			}
			row := make([]Value, len(from))
			for i, k := range from {
				row[i] = im.Before[k]
			}
			keys, rows = append(keys, row[:nk:nk]), append(rows, row)
		}
		if len(keys) == 0 {
			return nil
		}
		found, err := u.ap.Fetch(ctx, nt, keys)
		if err != nil {
			failed = err
			return errStop
		}
		var k2, r2 [][]Value
		for i, fd := range found {
			if fd.Count == 0 {
				f.gone++
				continue
			}
			k2, r2 = append(k2, keys[i]), append(r2, rows[i])
		}
		if len(k2) == 0 {
			return nil
		}
		if err := u.ap.Update(ctx, nt, k2, r2); err != nil {
			failed = err
			return errStop
		}
		f.rows += int64(len(k2))
		return nil
	})
	if failed != nil {
		if ctx.Err() != nil {
			return nil, failed
		}
		return fmt.Errorf("putting back the values of column(s) %s: %w", strings.Join(r.Fill, ", "), failed), nil
	}
	if err == nil && f.gone > 0 && !u.opt.Force {
		// Deleted since, or their key changed: which, undo cannot tell,
		// and a row whose key changed would lose its values silently.
		return fmt.Errorf("%d row(s) imaged before the drop are no longer found by their key (deleted, or their key changed since), so their values of column(s) %s cannot be put back; with force the columns come back without them (their values stay in the journal)",
			f.gone, strings.Join(r.Fill, ", ")), nil
	}
	return nil, err
}

// sameDef is how a table's definitions compare: as SameDefinition does,
// or regardless of the order of its columns (OrderBlind) for a revert that
// adds dropped columns back (fills) and for a table whose dropped columns
// an undo has put back, last: its columns no longer stand in the order
// the journal recorded before that. Tables are named as they are now and
// as the change recorded them.
func (u *undoer) sameDef(rv Reverter, fills bool, names ...string) (func(a, b *Definition) bool, error) {
	ob, ok := rv.(OrderBlind)
	if !ok {
		return rv.SameDefinition, nil
	}
	if fills {
		return ob.SameDefinitionAnyOrder, nil
	}
	if u.refilledBefore == nil {
		u.refilledBefore = map[string]bool{}
		entries, err := u.s.j.Entries()
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			objs, err := u.s.j.Objects(e.Seq)
			if err != nil {
				return nil, err
			}
			for _, o := range objs {
				if o.Action != ActionAlter {
					continue
				}
				// An undo that filled columns records the revert it ran on
				// the definition before it.
				if e.Kind == "undo" && o.Before != nil && o.Before.Revert != nil && len(o.Before.Revert.Fill) > 0 {
					u.refilledBefore[u.ddlKey(o.Schema, o.Name)] = true
					u.refilledBefore[u.ddlKey(o.Before.Revert.Schema, o.Before.Revert.Name)] = true
				}
				// A later rename (a statement's, or an undo's) takes the
				// mark along: the revert on the definition after it names
				// the table as it is then.
				if u.refilledBefore[u.ddlKey(o.Schema, o.Name)] && o.After != nil && o.After.Revert != nil {
					u.refilledBefore[u.ddlKey(o.After.Revert.Schema, o.After.Revert.Name)] = true
				}
			}
		}
	}
	for i := 0; i+1 < len(names); i += 2 {
		if k := u.ddlKey(names[i], names[i+1]); u.refilled[k] || u.refilledBefore[k] {
			return ob.SameDefinitionAnyOrder, nil
		}
	}
	return rv.SameDefinition, nil
}
