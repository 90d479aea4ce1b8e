package journal

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

const entryColumns = `seq, at, kind, batch, idx, sql_text, class, status, row_count, duration_us,
	error, refs_json, detail_json, image_count, images_sha256, prev_hash, hash`

// scanEntry reads one entries row in entryColumns order.
func scanEntry(rows *sql.Rows) (entryRow, string, error) {
	var r entryRow
	var refs, detail sql.NullString
	var hash string
	err := rows.Scan(&r.Seq, &r.At, &r.Kind, &r.Batch, &r.Idx, &r.SQL, &r.Class, &r.Status,
		&r.RowCount, &r.DurationUS, &r.Error, &refs, &detail, &r.ImageCount, &r.ImagesSHA256,
		&r.PrevHash, &hash)
	if refs.Valid {
		r.Refs = []byte(refs.String)
	}
	if detail.Valid {
		r.Detail = []byte(detail.String)
	}
	return r, hash, err
}

func (r *entryRow) entry(hash string) (Entry, error) {
	at, err := parseTime(r.At)
	if err != nil {
		return Entry{}, fmt.Errorf("entry %d: %w", r.Seq, err)
	}
	e := Entry{Seq: r.Seq, At: at, Kind: r.Kind, Batch: r.Batch, Index: int(r.Idx), SQL: r.SQL,
		Class: r.Class, Status: r.Status, Rows: r.RowCount,
		Duration: time.Duration(r.DurationUS) * time.Microsecond, Error: r.Error,
		ImageCount: r.ImageCount, ImagesSHA256: r.ImagesSHA256, PrevHash: r.PrevHash, Hash: hash}
	if r.Refs != nil {
		if err := json.Unmarshal(r.Refs, &e.Refs); err != nil {
			return Entry{}, fmt.Errorf("entry %d refs: %w", r.Seq, err)
		}
	}
	if r.Detail != nil {
		d := json.NewDecoder(bytes.NewReader(r.Detail))
		d.UseNumber()
		if err := d.Decode(&e.Detail); err != nil {
			return Entry{}, fmt.Errorf("entry %d detail: %w", r.Seq, err)
		}
	}
	return e, nil
}

// Entries returns every entry in seq order with State computed.
func (j *Journal) Entries() ([]Entry, error) {
	rows, err := j.db.QueryContext(context.Background(), `SELECT `+entryColumns+` FROM entries ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("journal: reading entries of %s: %w", j.path, err)
	}
	defer rows.Close()
	var es []Entry
	for rows.Next() {
		r, hash, err := scanEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("journal: reading entries of %s: %w", j.path, err)
		}
		e, err := r.entry(hash)
		if err != nil {
			return nil, fmt.Errorf("journal: %s: %w", j.path, err)
		}
		es = append(es, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("journal: reading entries of %s: %w", j.path, err)
	}
	computeStates(es)
	return es, nil
}

// Entry returns entry seq with its State. The state depends on later
// entries, so this reads them all; use Entries for more than one.
func (j *Journal) Entry(seq int64) (Entry, error) {
	es, err := j.Entries()
	if err != nil {
		return Entry{}, err
	}
	for _, e := range es {
		if e.Seq == seq {
			return e, nil
		}
	}
	return Entry{}, fmt.Errorf("journal: %s has no entry %d", j.path, seq)
}

// Tables returns the tables recorded for entry seq, in id order, with ID set.
func (j *Journal) Tables(seq int64) ([]Table, error) {
	rows, err := j.db.QueryContext(context.Background(), `SELECT id, schema_name, name, columns_json,
		key_json, key_kind, level FROM image_tables WHERE seq = ? ORDER BY id`, seq)
	if err != nil {
		return nil, fmt.Errorf("journal: reading tables of entry %d: %w", seq, err)
	}
	defer rows.Close()
	var ts []Table
	for rows.Next() {
		var t Table
		var cols, key []byte
		if err := rows.Scan(&t.ID, &t.Schema, &t.Name, &cols, &key, &t.KeyKind, &t.Level); err != nil {
			return nil, fmt.Errorf("journal: reading tables of entry %d: %w", seq, err)
		}
		if err := json.Unmarshal(cols, &t.Columns); err != nil {
			return nil, fmt.Errorf("journal: table %d of entry %d: columns: %w", t.ID, seq, err)
		}
		if err := json.Unmarshal(key, &t.Key); err != nil {
			return nil, fmt.Errorf("journal: table %d of entry %d: key: %w", t.ID, seq, err)
		}
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("journal: reading tables of entry %d: %w", seq, err)
	}
	return ts, nil
}

// Objects returns the object definitions recorded for entry seq, in order.
func (j *Journal) Objects(seq int64) ([]Object, error) {
	rows, err := j.db.QueryContext(context.Background(), `SELECT kind, schema_name, name, action,
		before_json, after_json, tbl FROM objects WHERE seq = ? ORDER BY ord`, seq)
	if err != nil {
		return nil, fmt.Errorf("journal: reading objects of entry %d: %w", seq, err)
	}
	defer rows.Close()
	var os []Object
	for rows.Next() {
		var o Object
		var before, after []byte
		if err := rows.Scan(&o.Kind, &o.Schema, &o.Name, &o.Action, &before, &after, &o.Table); err != nil {
			return nil, fmt.Errorf("journal: reading objects of entry %d: %w", seq, err)
		}
		for _, c := range []struct {
			raw []byte
			dst **Definition
		}{{before, &o.Before}, {after, &o.After}} {
			if c.raw == nil {
				continue
			}
			*c.dst = new(Definition)
			if err := json.Unmarshal(c.raw, *c.dst); err != nil {
				return nil, fmt.Errorf("journal: object %s of entry %d: %w", o.Name, seq, err)
			}
		}
		os = append(os, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("journal: reading objects of entry %d: %w", seq, err)
	}
	return os, nil
}
