package journal

import (
	"context"
	"database/sql"
	"fmt"
	"math"
)

// ImageChunks reads entry seq's images in chunks of at most size, oldest
// first or (desc) newest first, and calls fn once per chunk. No query is
// open while fn runs, so fn may write to the journal and take its time.
// Returning a non-nil error from fn stops the walk and is returned as is.
func (j *Journal) ImageChunks(seq int64, desc bool, size int, fn func([]Image) error) error {
	q := `SELECT ord, tbl, op, key_json, before_json, after_json FROM images WHERE seq = ? AND ord > ? ORDER BY ord LIMIT ?`
	cursor := int64(math.MinInt64)
	if desc {
		q = `SELECT ord, tbl, op, key_json, before_json, after_json FROM images WHERE seq = ? AND ord < ? ORDER BY ord DESC LIMIT ?`
		cursor = math.MaxInt64
	}
	for {
		chunk, err := j.imageChunk(q, seq, cursor, size)
		if err != nil {
			return fmt.Errorf("journal: reading images of entry %d: %w", seq, err)
		}
		if len(chunk) == 0 {
			return nil
		}
		cursor = chunk[len(chunk)-1].Ord
		if err := fn(chunk); err != nil {
			return err
		}
		if len(chunk) < size {
			return nil
		}
	}
}

func (j *Journal) imageChunk(q string, seq, cursor int64, size int) ([]Image, error) {
	rows, err := j.db.QueryContext(context.Background(), q, seq, cursor, size)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Image
	for rows.Next() {
		im := Image{Seq: seq}
		var op, key, before, after sql.RawBytes
		if err := rows.Scan(&im.Ord, &im.Table, &op, &key, &before, &after); err != nil {
			return nil, err
		}
		if len(op) != 1 {
			return nil, fmt.Errorf("image %d has op %q", im.Ord, op)
		}
		im.Op = op[0]
		for _, c := range []struct {
			raw sql.RawBytes
			dst *[]Value
		}{{key, &im.Key}, {before, &im.Before}, {after, &im.After}} {
			if c.raw == nil {
				continue
			}
			if *c.dst, err = DecodeRow(c.raw); err != nil {
				return nil, fmt.Errorf("image %d: %w", im.Ord, err)
			}
		}
		out = append(out, im)
	}
	return out, rows.Err()
}
