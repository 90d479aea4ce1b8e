package engine

import (
	"context"
	"fmt"
	"sort"

	"lifebelt/journal"
)

// resolveInDoubt settles batches whose images were journaled but whose
// outcome was not, because the session was interrupted between making the
// images durable and journaling the COMMIT. The transaction id answers it
// where the dialect has one (PostgreSQL txid_status); otherwise a sample of
// rows is compared with the images.
func (s *Session) resolveInDoubt(ctx context.Context, entries []journal.Entry) error {
	batches := map[int64][]journal.Entry{}
	for _, e := range entries {
		if (e.Kind == "statement" || e.Kind == "undo") && e.State == "pending" {
			batches[e.Batch] = append(batches[e.Batch], e)
		}
	}
	var order []int64
	for b := range batches {
		order = append(order, b)
	}
	sort.Slice(order, func(i, j int) bool { return order[i] < order[j] })
	for _, b := range order {
		es := batches[b]
		status, how, err := s.settle(ctx, es)
		if err != nil {
			return fmt.Errorf("resolving interrupted batch %d: %w", b, err)
		}
		var refs []int64
		for _, e := range es {
			refs = append(refs, e.Seq)
		}
		if err := s.appendOutcome(b, refs, status, "", map[string]any{"resolved": how}); err != nil {
			return fmt.Errorf("journaling the outcome of interrupted batch %d: %w", b, err)
		}
	}
	return nil
}

func (s *Session) settle(ctx context.Context, es []journal.Entry) (status, how string, err error) {
	if txid, _ := es[0].Detail["txid"].(string); txid != "" {
		if ts, ok := s.conn.(TxStatuser); ok {
			st, err := ts.TxStatus(ctx, txid)
			if err != nil {
				return "", "", err
			}
			switch st {
			case "committed":
				return "committed", "transaction " + txid + " committed on the server", nil
			case "aborted":
				return "rolled back", "transaction " + txid + " was rolled back on the server", nil
			}
		}
	}
	st, err := s.probe(ctx, es)
	if err != nil {
		return "", "", err
	}
	return st, "compared rows with the journaled images", nil
}

// probe compares up to 200 images of the batch's last changing statement
// with the rows as they are now: all matching after-images means committed,
// all matching before-images means rolled back, anything else is in doubt.
func (s *Session) probe(ctx context.Context, es []journal.Entry) (string, error) {
	var last *journal.Entry
	for i := range es {
		if es[i].ImageCount > 0 {
			last = &es[i]
		}
	}
	if last == nil {
		return "in doubt", nil
	}
	tables, err := s.j.Tables(last.Seq)
	if err != nil {
		return "", err
	}
	byID := map[int64]TableInfo{}
	for _, t := range tables {
		byID[t.ID] = t
	}
	var sample []journal.Image
	err = s.j.ImageChunks(last.Seq, true, 200, func(imgs []journal.Image) error {
		sample = append(sample, imgs...)
		return errStop
	})
	if err != nil && err != errStop {
		return "", err
	}
	tx, err := s.conn.Begin(ctx)
	if err != nil {
		return "", err
	}
	defer tx.Rollback(ctx)
	ap, ok := tx.(Applier)
	if !ok {
		return "in doubt", nil
	}
	committed, rolledBack := 0, 0
	for _, im := range sample {
		t := byID[im.Table]
		if t.KeyKind == KeyRow {
			continue
		}
		src := im.After
		if src == nil {
			src = im.Before
		}
		f, err := ap.Fetch(ctx, t, [][]Value{t.KeyOf(src)})
		if err != nil {
			return "", err
		}
		cur := f[0].Row
		switch Op(im.Op) {
		case OpDelete:
			if f[0].Count == 0 {
				committed++
			} else if RowsEqual(cur, im.Before) {
				rolledBack++
			}
		case OpInsert:
			if f[0].Count == 0 {
				rolledBack++
			} else if RowsEqual(cur, im.After) {
				committed++
			}
		case OpUpdate:
			if cur != nil && RowsEqual(cur, im.After) {
				committed++
			} else if cur != nil && RowsEqual(cur, im.Before) {
				rolledBack++
			}
		}
	}
	switch {
	case committed > 0 && rolledBack == 0:
		return "committed", nil
	case rolledBack > 0 && committed == 0:
		return "rolled back", nil
	}
	return "in doubt", nil
}
