package journal

import (
	"database/sql"
	"encoding/binary"
	"strings"
	"testing"
)

// verifiedJournal writes four entries (two statements with images and
// their outcomes), closes the journal and returns its path.
func verifiedJournal(t *testing.T) string {
	t.Helper()
	j := newJournal(t)
	w, err := j.Begin()
	if err != nil {
		t.Fatal(err)
	}
	writeStatement(t, w, 1, 10)
	w.Append(Entry{Kind: KindOutcome, Batch: 1, Status: StatusCommitted, Refs: []int64{1}})
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	w, _ = j.Begin()
	writeStatement(t, w, 2, 3)
	w.Append(Entry{Kind: KindOutcome, Batch: 2, Status: StatusCommitted, Refs: []int64{3}})
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	path := j.Path()
	j.Close()
	return path
}

func TestVerifyCleanJournal(t *testing.T) {
	path := verifiedJournal(t)
	rep, err := Verify(path)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || len(rep.Problems) != 0 || rep.Entries != 4 || rep.Images != 13 {
		t.Errorf("clean journal: %+v", rep)
	}
	j, _ := OpenReadOnly(path)
	defer j.Close()
	es, _ := j.Entries()
	if rep.LastHash != es[3].Hash {
		t.Errorf("LastHash %s, want %s", rep.LastHash, es[3].Hash)
	}
	// An empty journal verifies too.
	e := newJournal(t)
	if rep, err := Verify(e.Path()); err != nil || !rep.OK || rep.LastHash != e.hhash {
		t.Errorf("empty journal: %+v, %v", rep, err)
	}
}

// storedImage is one image as a test reads and rewrites it.
type storedImage struct {
	ord, tbl           int64
	op                 byte
	key, before, after []byte
}

func readStored(t *testing.T, db *sql.DB, seq int64) []storedImage {
	t.Helper()
	rows, err := db.Query(`SELECT first_ord, count, data FROM image_chunks WHERE seq = ? ORDER BY first_ord`, seq)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []storedImage
	for rows.Next() {
		var first, count int64
		var data []byte
		if err := rows.Scan(&first, &count, &data); err != nil {
			t.Fatal(err)
		}
		var scratch []byte
		err := decodeStoredChunk(&scratch, data, first, count, func(r *rawImage) error {
			cp := func(b []byte) []byte {
				if b == nil {
					return nil
				}
				return append([]byte{}, b...)
			}
			out = append(out, storedImage{r.ord, r.tbl, r.op, cp(r.key), cp(r.before), cp(r.after)})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// writeStored replaces entry seq's chunks by imgs, per images a chunk,
// the first starting at ord first.
func writeStored(t *testing.T, db *sql.DB, seq, first int64, imgs []storedImage, per int) {
	t.Helper()
	if _, err := db.Exec(`DELETE FROM image_chunks WHERE seq = ?`, seq); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(imgs); i += per {
		part := imgs[i:min(i+per, len(imgs))]
		var buf []byte
		for _, im := range part {
			buf = append(buf, im.op)
			buf = binary.AppendUvarint(buf, uint64(im.tbl))
			for _, r := range [][]byte{im.key, im.before, im.after} {
				if r == nil {
					buf = binary.LittleEndian.AppendUint32(buf, nullRow)
				} else {
					buf = binary.LittleEndian.AppendUint32(buf, uint32(len(r)))
					buf = append(buf, r...)
				}
			}
		}
		if _, err := db.Exec(`INSERT INTO image_chunks VALUES (?, ?, ?, ?)`, seq, first+int64(i), len(part), compressChunk(nil, buf)); err != nil {
			t.Fatal(err)
		}
	}
}

// editImages rewrites entry seq's images through fn, as one chunk.
func editImages(seq int64, fn func([]storedImage) []storedImage) func(*testing.T, *sql.DB) {
	return func(t *testing.T, db *sql.DB) {
		writeStored(t, db, seq, 1, fn(readStored(t, db, seq)), 1<<30)
	}
}

func execSQL(qs ...string) func(*testing.T, *sql.DB) {
	return func(t *testing.T, db *sql.DB) {
		for _, q := range qs {
			if _, err := db.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	tests := []struct {
		name string
		edit func(*testing.T, *sql.DB)
		want string // a substring of one problem
	}{
		{"edited entry field", execSQL(`UPDATE entries SET sql_text = 'SELECT 1' WHERE seq = 3`), "entry 3: hash mismatch (edited?)"},
		{"edited status", execSQL(`UPDATE entries SET status = 'rolled back' WHERE seq = 2`), "entry 2: hash mismatch"},
		{"edited detail", execSQL(`UPDATE entries SET detail_json = '{}' WHERE seq = 1`), "entry 1: hash mismatch"},
		{"edited time", execSQL(`UPDATE entries SET at = '2020-01-01T00:00:00.000000Z' WHERE seq = 4`), "entry 4: hash mismatch"},
		{"edited header", execSQL(`UPDATE header SET reason = 'nothing to see'`), "header: hash mismatch (edited?)"},
		{"edited identity", execSQL(`UPDATE header SET database_id = 'other'`), "header: hash mismatch"},
		{"deleted header", execSQL(`DELETE FROM header`), "header missing"},
		{"deleted entry", execSQL(`DELETE FROM entries WHERE seq = 2`), "entry 2 missing (deleted?)"},
		{"deleted entries", execSQL(`DELETE FROM entries WHERE seq IN (2, 3)`, `DELETE FROM image_chunks WHERE seq = 3`), "entries 2 to 3 missing"},
		{"deleted last entry", execSQL(`DELETE FROM entries WHERE seq = 4`), "entries after 3 missing"},
		{"deleted last entry and tail fixed", execSQL(`DELETE FROM entries WHERE seq = 4`,
			`UPDATE tail SET seq = 3, hash = 'x'`), "entry 3: hash differs from the one recorded"},
		{"deleted entry, chain rewired", execSQL(`DELETE FROM entries WHERE seq = 2`,
			`UPDATE entries SET seq = seq - 1 WHERE seq > 2`), "entry 2: chain broken"},
		{"added entry", execSQL(`INSERT INTO entries SELECT 5, at, kind, batch, idx, sql_text, class, status,
			row_count, duration_us, error, refs_json, detail_json, image_count, images_sha256, hash, hash FROM entries WHERE seq = 4`),
			"entries after 4 were not written by Lifebelt"},
		{"swapped entries", execSQL(`UPDATE entries SET seq = -seq WHERE seq IN (3, 4)`,
			`UPDATE entries SET seq = 4 WHERE seq = -3`, `UPDATE entries SET seq = 3 WHERE seq = -4`), "out of order"},
		{"deleted image", editImages(1, func(im []storedImage) []storedImage { return append(im[:4:4], im[5:]...) }),
			"entry 1: 9 images stored but 10 recorded"},
		{"added image", editImages(3, func(im []storedImage) []storedImage { return append(im, im[0]) }),
			"entry 3: 4 images stored but 3 recorded"},
		{"edited image", editImages(1, func(im []storedImage) []storedImage {
			im[1].before = []byte(`[1,"x",{"f":"1"},null,null]`)
			return im
		}), "entry 1: images, tables or objects do not match their digest"},
		{"edited op", editImages(3, func(im []storedImage) []storedImage { im[0].op = 'D'; return im }),
			"entry 3: images, tables or objects"},
		{"reordered images", editImages(1, func(im []storedImage) []storedImage { im[0], im[1] = im[1], im[0]; return im }),
			"entry 1: images, tables or objects do not match"},
		{"image moved between entries", func(t *testing.T, db *sql.DB) {
			one, three := readStored(t, db, 1), readStored(t, db, 3)
			writeStored(t, db, 3, 1, append(three, one[len(one)-1]), 100)
			writeStored(t, db, 1, 1, one[:len(one)-1], 100)
		}, "entry 3: 4 images stored but 3"},
		{"deleted chunk", func(t *testing.T, db *sql.DB) {
			writeStored(t, db, 1, 1, readStored(t, db, 1), 4)
			execSQL(`DELETE FROM image_chunks WHERE seq = 1 AND first_ord = 5`)(t, db)
		}, "entry 1: images 5 to 8 missing"},
		{"overlapping chunk", func(t *testing.T, db *sql.DB) {
			execSQL(`INSERT INTO image_chunks SELECT seq, 2, count, data FROM image_chunks WHERE seq = 3`)(t, db)
		}, "entry 3: image chunk at 2 overlaps"},
		{"truncated chunk", execSQL(`UPDATE image_chunks SET data = substr(data, 1, length(data) - 3) WHERE seq = 1`),
			"entry 1: image chunk at 1 undecodable"},
		{"chunk count edited", execSQL(`UPDATE image_chunks SET count = 2 WHERE seq = 3`),
			"entry 3: image chunk at 1 undecodable"},
		{"edited table", execSQL(`UPDATE image_tables SET key_json = '[1]' WHERE seq = 1`), "entry 1: images, tables or objects"},
		{"deleted table", execSQL(`DELETE FROM image_tables WHERE seq = 3`), "table 2 is not recorded for the entry"},
		{"edited object", execSQL(`UPDATE objects SET before_json = NULL WHERE seq = 3`), "entry 3: images, tables or objects"},
		{"deleted object", execSQL(`DELETE FROM objects WHERE seq = 1`), "entry 1: images, tables or objects"},
		{"undecodable image", editImages(1, func(im []storedImage) []storedImage { im[0].after = []byte(`[1.5]`); return im }),
			"entry 1 image 1: after-image undecodable"},
		{"orphan images", func(t *testing.T, db *sql.DB) {
			writeStored(t, db, 9, 1, []storedImage{{op: 'I', tbl: 1, after: []byte(`[1]`)}}, 1)
		}, "images stored for entry 9, which does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := verifiedJournal(t)
			db := rawDB(t, path)
			tt.edit(t, db)
			db.Close()
			rep, err := Verify(path)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK {
				t.Fatalf("tampering not detected: %+v", rep)
			}
			t.Logf("problems: %q", rep.Problems)
			found := false
			for _, p := range rep.Problems {
				found = found || strings.Contains(p, tt.want)
			}
			if !found {
				t.Errorf("problems %q lack %q", rep.Problems, tt.want)
			}
		})
	}
}

func TestVerifyCapsProblems(t *testing.T) {
	j := newJournal(t)
	w, _ := j.Begin()
	writeStatement(t, w, 1, 3*maxProblems)
	w.Commit()
	path := j.Path()
	j.Close()
	db := rawDB(t, path)
	imgs := readStored(t, db, 1)
	for i := range imgs {
		imgs[i].tbl = 999
	}
	writeStored(t, db, 1, 1, imgs, 1<<30)
	db.Close()
	rep, err := Verify(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != maxProblems+1 || !strings.HasSuffix(rep.Problems[maxProblems], "more problems not listed") {
		t.Errorf("%d problems, last %q", len(rep.Problems), rep.Problems[len(rep.Problems)-1])
	}
}
