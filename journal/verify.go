package journal

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
)

// VerifyReport is what Verify found.
type VerifyReport struct {
	Entries  int   // entry rows read
	Images   int64 // image rows read
	OK       bool  // no problem found
	Problems []string
	// LastHash is the hash of the last entry (the header's hash when there
	// is none). Noted down elsewhere, it also proves that nobody removed
	// entries from the end and recomputed the tail.
	LastHash string
}

// maxProblems caps the sentences in a report: a damaged table could
// otherwise produce one per image.
const maxProblems = 100

func (v *verifier) problem(format string, args ...any) {
	if len(v.rep.Problems) >= maxProblems {
		v.unlisted++
		return
	}
	v.rep.Problems = append(v.rep.Problems, fmt.Sprintf(format, args...))
}

// entryDigest is what the images, tables and objects of one entry hash to.
type entryDigest struct {
	tables, images, objects *framer
	count                   int64
	tableIDs                map[int64]bool
}

func (d *entryDigest) hex() string {
	var t, i, o [sha256.Size]byte
	for _, p := range []struct {
		f   *framer
		dst *[sha256.Size]byte
	}{{d.tables, &t}, {d.images, &i}, {d.objects, &o}} {
		f := p.f
		if f == nil {
			f = newFramer()
		}
		*p.dst = f.sum()
	}
	h := sha256.New()
	h.Write(t[:])
	h.Write(i[:])
	h.Write(o[:])
	return hex.EncodeToString(h.Sum(nil))
}

// Verify recomputes the header hash, the whole entry chain and every
// entry's image digest of the journal at path, reading it in one snapshot
// without writing. The error is for a file that cannot be checked at all;
// what the check finds is in the report's Problems.
func Verify(path string) (VerifyReport, error) {
	ctx := context.Background()
	var rep VerifyReport
	db, err := openDB(path, true)
	if err != nil {
		return rep, err
	}
	defer db.Close()
	ver, err := fileVersion(ctx, db, path)
	if err != nil {
		return rep, err
	}
	tx, err := db.BeginTx(ctx, nil) // one read snapshot for every query below
	if err != nil {
		return rep, fmt.Errorf("journal: verifying %s: %w", path, err)
	}
	defer tx.Rollback()
	v := verifier{ctx: ctx, tx: tx, version: ver, rep: &rep, recorded: map[int64]entryRow{}, missing: map[int64]bool{}}
	for _, step := range []func() error{v.structure, v.header, v.entries, v.tail, v.digests} {
		if err := step(); err != nil {
			return rep, fmt.Errorf("journal: verifying %s: %w", path, err)
		}
	}
	rep.OK = len(rep.Problems) == 0
	if v.unlisted > 0 {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%d more problems not listed", v.unlisted))
	}
	return rep, nil
}

type verifier struct {
	ctx      context.Context
	tx       *sql.Tx
	version  int // format version of the file
	rep      *VerifyReport
	base     string             // the header hash entry 1 chains to
	recorded map[int64]entryRow // entries by seq
	missing  map[int64]bool     // seqs reported missing
	last     int64
	unlisted int // problems beyond maxProblems
}

func (v *verifier) structure() error {
	var res string
	if err := v.tx.QueryRowContext(v.ctx, "PRAGMA quick_check(1)").Scan(&res); err != nil {
		return err
	}
	if res != "ok" {
		v.problem("file structure damaged: %s", res)
	}
	return nil
}

func (v *verifier) header() error {
	var r headerRow
	err := v.tx.QueryRowContext(v.ctx, `SELECT session_id, created_at, dialect, target, server_version,
		database_name, database_id, identity_json, operator, hostname, reason, app_version, hash
		FROM header WHERE id = 1`).Scan(&r.SessionID, &r.CreatedAt, &r.Dialect, &r.Target,
		&r.ServerVersion, &r.Database, &r.DatabaseID, &r.Identity, &r.Operator, &r.Hostname,
		&r.Reason, &r.AppVersion, &v.base)
	if errors.Is(err, sql.ErrNoRows) {
		v.problem("header missing (deleted?)")
		return nil
	}
	if err != nil {
		return err
	}
	if r.hash() != v.base {
		v.problem("header: hash mismatch (edited?)")
	}
	if _, err := rowToHeader(r); err != nil {
		v.problem("header: %v", err)
	}
	return nil
}

func (v *verifier) entries() error {
	rows, err := v.tx.QueryContext(v.ctx, `SELECT `+entryColumns+` FROM entries ORDER BY seq`)
	if err != nil {
		return err
	}
	defer rows.Close()
	prev, expect := v.base, int64(1)
	seen := map[string]int64{v.base: 0} // stored hash → seq, to explain a broken link
	for rows.Next() {
		r, hash, err := scanEntry(rows)
		if err != nil {
			return err
		}
		v.rep.Entries++
		gap := false
		switch {
		case r.Seq < expect:
			v.problem("entry %d: invalid seq (entries out of order)", r.Seq)
		case r.Seq == expect+1:
			v.problem("entry %d missing (deleted?)", expect)
		case r.Seq > expect:
			v.problem("entries %d to %d missing (deleted?)", expect, r.Seq-1)
		}
		for s := expect; s < r.Seq; s++ {
			v.missing[s], gap = true, true
		}
		if r.PrevHash != prev && !gap {
			if s, ok := seen[r.PrevHash]; ok && s != 0 {
				v.problem("entry %d: chained to entry %d instead of entry %d (entries out of order?)", r.Seq, s, r.Seq-1)
			} else if ok {
				v.problem("entry %d: chained to the header instead of entry %d (entries out of order?)", r.Seq, r.Seq-1)
			} else {
				v.problem("entry %d: chain broken: the previous entry's hash does not match (previous entry replaced or deleted?)", r.Seq)
			}
		}
		if r.hash() != hash {
			v.problem("entry %d: hash mismatch (edited?)", r.Seq)
		}
		if _, err := r.entry(hash); err != nil {
			v.problem("%v", err)
		}
		seen[hash] = r.Seq
		prev, expect, v.last = hash, r.Seq+1, r.Seq
		v.recorded[r.Seq] = r
	}
	v.rep.LastHash = prev
	return rows.Err()
}

func (v *verifier) tail() error {
	var seq int64
	var hash string
	err := v.tx.QueryRowContext(v.ctx, `SELECT seq, hash FROM tail WHERE id = 1`).Scan(&seq, &hash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		v.problem("tail record missing (deleted?)")
	case err != nil:
		return err
	case seq > v.last:
		v.problem("entries after %d missing: the journal recorded %d entries (deleted?)", v.last, seq)
	case seq < v.last:
		v.problem("entries after %d were not written by Lifebelt (the journal recorded %d entries)", seq, seq)
	case hash != v.rep.LastHash:
		v.problem("entry %d: hash differs from the one recorded when it was written (replaced?)", seq)
	}
	return nil
}

// digests streams tables, images and objects once each, in stored order,
// and compares what they hash to with each entry's images_sha256.
func (v *verifier) digests() error {
	ds := map[int64]*entryDigest{}
	get := func(seq int64, what string) *entryDigest {
		d := ds[seq]
		if d == nil {
			d = &entryDigest{tableIDs: map[int64]bool{}}
			ds[seq] = d
			if _, ok := v.recorded[seq]; !ok && !v.missing[seq] {
				v.problem("%s stored for entry %d, which does not exist (entry deleted?)", what, seq)
			}
		}
		return d
	}
	err := v.scan(`SELECT id, seq, schema_name, name, columns_json, key_json, key_kind, level
		FROM image_tables ORDER BY seq, id`, func(rows *sql.Rows) error {
		var r tableRow
		if err := rows.Scan(&r.ID, &r.Seq, &r.Schema, &r.Name, &r.Columns, &r.Key, &r.KeyKind, &r.Level); err != nil {
			return err
		}
		d := get(r.Seq, "tables")
		if d.tables == nil {
			d.tables = newFramer()
		}
		r.frame(d.tables)
		d.tableIDs[r.ID] = true
		return nil
	})
	if err == nil {
		err = v.scan(`SELECT seq, ord, kind, schema_name, name, action, before_json, after_json, tbl
			FROM objects ORDER BY seq, ord`, func(rows *sql.Rows) error {
			var r objectRow
			if err := rows.Scan(&r.Seq, &r.Ord, &r.Kind, &r.Schema, &r.Name, &r.Action, &r.Before, &r.After, &r.Table); err != nil {
				return err
			}
			d := get(r.Seq, "objects")
			if d.objects == nil {
				d.objects = newFramer()
			}
			r.frame(d.objects)
			return nil
		})
	}
	if err == nil {
		err = v.images(get)
	}
	if err != nil {
		return err
	}
	empty := (&entryDigest{}).hex()
	for seq := int64(1); seq <= v.last; seq++ {
		r, ok := v.recorded[seq]
		if !ok {
			continue
		}
		got, n := empty, int64(0)
		if d := ds[seq]; d != nil {
			got, n = d.hex(), d.count
		}
		switch {
		case n != r.ImageCount:
			v.problem("entry %d: %d images stored but %d recorded (images deleted or added?)", seq, n, r.ImageCount)
		case got != r.ImagesSHA256:
			v.problem("entry %d: images, tables or objects do not match their digest (edited or reordered?)", seq)
		}
	}
	return nil
}

// images frames every image into its entry's digest: from image_chunks,
// or from the images table of a version 1 file.
func (v *verifier) images(get func(int64, string) *entryDigest) error {
	if v.version >= 2 {
		return v.chunks(get)
	}
	return v.scan(`SELECT seq, ord, tbl, op, key_json, before_json, after_json FROM images ORDER BY seq, ord`,
		func(rows *sql.Rows) error {
			var seq, ord, tbl int64
			var op, key, before, after sql.RawBytes
			if err := rows.Scan(&seq, &ord, &tbl, &op, &key, &before, &after); err != nil {
				return err
			}
			v.rep.Images++
			d := get(seq, "images")
			if d.images == nil {
				d.images = newFramer()
			}
			d.count++
			if len(op) != 1 {
				v.problem("entry %d image %d: op %q is not one character", seq, ord, op)
				op = sql.RawBytes{'?'}
			}
			frameImage(d.images, seq, ord, tbl, op[0], key, before, after)
			v.checkImage(d, seq, ord, tbl, op[0], key, before, after)
			return nil
		})
}

func (v *verifier) scan(q string, fn func(*sql.Rows) error) error {
	rows, err := v.tx.QueryContext(v.ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (v *verifier) chunks(get func(int64, string) *entryDigest) error {
	var seq, next int64
	var scratch []byte
	return v.scan(`SELECT seq, first_ord, count, data FROM image_chunks ORDER BY seq, first_ord`,
		func(rows *sql.Rows) error {
			var s, first, count int64
			var data sql.RawBytes
			if err := rows.Scan(&s, &first, &count, &data); err != nil {
				return err
			}
			if s != seq {
				seq, next = s, 1
			}
			d := get(s, "images")
			if d.images == nil {
				d.images = newFramer()
			}
			switch {
			case first > next:
				v.problem("entry %d: images %d to %d missing (chunk deleted?)", s, next, first-1)
			case first < next:
				v.problem("entry %d: image chunk at %d overlaps the images before it (chunk added?)", s, first)
			}
			if count < 1 {
				v.problem("entry %d: image chunk at %d records %d images", s, first, count)
				return nil
			}
			next = first + count
			err := decodeStoredChunk(&scratch, data, first, count, func(r *rawImage) error {
				v.rep.Images++
				d.count++
				frameImage(d.images, s, r.ord, r.tbl, r.op, r.key, r.before, r.after)
				v.checkImage(d, s, r.ord, r.tbl, r.op, r.key, r.before, r.after)
				return nil
			})
			if err != nil {
				v.problem("entry %d: image chunk at %d undecodable: %v", s, first, err)
				// Count what was recorded, so the count check does not
				// report the same damage twice.
				d.count = max(d.count, next-1)
			}
			return nil
		})
}

// checkImage reports an image whose table is not the entry's or whose
// rows do not decode.
func (v *verifier) checkImage(d *entryDigest, seq, ord, tbl int64, op byte, key, before, after []byte) {
	if op != 'I' && op != 'U' && op != 'D' {
		v.problem("entry %d image %d: op %q is not I, U or D", seq, ord, op)
	}
	if !d.tableIDs[tbl] {
		v.problem("entry %d image %d: table %d is not recorded for the entry", seq, ord, tbl)
	}
	for _, c := range []struct {
		b  []byte
		nm string
	}{{key, "key"}, {before, "before-image"}, {after, "after-image"}} {
		if c.b == nil {
			continue
		}
		if _, err := DecodeRow(c.b); err != nil {
			v.problem("entry %d image %d: %s undecodable: %v", seq, ord, c.nm, err)
		}
	}
}
