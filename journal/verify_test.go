package journal

import (
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

func TestVerifyDetectsTampering(t *testing.T) {
	tests := []struct {
		name string
		sql  []string
		want string // a substring of one problem
	}{
		{"edited entry field", []string{`UPDATE entries SET sql_text = 'SELECT 1' WHERE seq = 3`}, "entry 3: hash mismatch (edited?)"},
		{"edited status", []string{`UPDATE entries SET status = 'rolled back' WHERE seq = 2`}, "entry 2: hash mismatch"},
		{"edited detail", []string{`UPDATE entries SET detail_json = '{}' WHERE seq = 1`}, "entry 1: hash mismatch"},
		{"edited time", []string{`UPDATE entries SET at = '2020-01-01T00:00:00.000000Z' WHERE seq = 4`}, "entry 4: hash mismatch"},
		{"edited header", []string{`UPDATE header SET reason = 'nothing to see'`}, "header: hash mismatch (edited?)"},
		{"edited identity", []string{`UPDATE header SET database_id = 'other'`}, "header: hash mismatch"},
		{"deleted header", []string{`DELETE FROM header`}, "header missing"},
		{"deleted entry", []string{`DELETE FROM entries WHERE seq = 2`}, "entry 2 missing (deleted?)"},
		{"deleted entries", []string{`DELETE FROM entries WHERE seq IN (2, 3)`, `DELETE FROM images WHERE seq = 3`}, "entries 2 to 3 missing"},
		{"deleted last entry", []string{`DELETE FROM entries WHERE seq = 4`}, "entries after 3 missing"},
		{"deleted last entry and tail fixed", []string{`DELETE FROM entries WHERE seq = 4`,
			`UPDATE tail SET seq = 3, hash = 'x'`}, "entry 3: hash differs from the one recorded"},
		{"deleted entry, chain rewired", []string{`DELETE FROM entries WHERE seq = 2`,
			`UPDATE entries SET seq = seq - 1 WHERE seq > 2`}, "entry 2: chain broken"},
		{"added entry", []string{`INSERT INTO entries SELECT 5, at, kind, batch, idx, sql_text, class, status,
			row_count, duration_us, error, refs_json, detail_json, image_count, images_sha256, hash, hash FROM entries WHERE seq = 4`},
			"entries after 4 were not written by Lifebelt"},
		{"swapped entries", []string{`UPDATE entries SET seq = -seq WHERE seq IN (3, 4)`,
			`UPDATE entries SET seq = 4 WHERE seq = -3`, `UPDATE entries SET seq = 3 WHERE seq = -4`}, "out of order"},
		{"deleted image", []string{`DELETE FROM images WHERE seq = 1 AND ord = 5`}, "entry 1: 9 images stored but 10 recorded"},
		{"added image", []string{`INSERT INTO images SELECT seq, 99, tbl, op, key_json, before_json, after_json FROM images WHERE seq = 3 AND ord = 1`},
			"entry 3: 4 images stored but 3 recorded"},
		{"edited image", []string{`UPDATE images SET before_json = '[1,"x",{"f":"1"},null,null]' WHERE seq = 1 AND ord = 2`},
			"entry 1: images, tables or objects do not match their digest"},
		{"edited op", []string{`UPDATE images SET op = 'D' WHERE seq = 3 AND ord = 1`}, "entry 3: images, tables or objects"},
		{"reordered images", []string{`UPDATE images SET ord = -ord WHERE seq = 1 AND ord IN (1, 2)`,
			`UPDATE images SET ord = 2 WHERE seq = 1 AND ord = -1`, `UPDATE images SET ord = 1 WHERE seq = 1 AND ord = -2`},
			"entry 1: images, tables or objects do not match"},
		{"image moved between entries", []string{`UPDATE images SET seq = 3, ord = 4 WHERE seq = 1 AND ord = 10`}, "entry 3: 4 images stored but 3"},
		{"edited table", []string{`UPDATE image_tables SET key_json = '[1]' WHERE seq = 1`}, "entry 1: images, tables or objects"},
		{"deleted table", []string{`DELETE FROM image_tables WHERE seq = 3`}, "table 2 is not recorded for the entry"},
		{"edited object", []string{`UPDATE objects SET before_json = NULL WHERE seq = 3`}, "entry 3: images, tables or objects"},
		{"deleted object", []string{`DELETE FROM objects WHERE seq = 1`}, "entry 1: images, tables or objects"},
		{"undecodable image", []string{`UPDATE images SET after_json = '[1.5]' WHERE seq = 1 AND ord = 1`}, "entry 1 image 1: after-image undecodable"},
		{"orphan images", []string{`INSERT INTO images VALUES (9, 1, 1, 'I', NULL, NULL, '[1]')`}, "images stored for entry 9, which does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := verifiedJournal(t)
			db := rawDB(t, path)
			for _, q := range tt.sql {
				if _, err := db.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
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
	if _, err := db.Exec(`UPDATE images SET tbl = 999`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	rep, err := Verify(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != maxProblems+1 || !strings.HasSuffix(rep.Problems[maxProblems], "more problems not listed") {
		t.Errorf("%d problems, last %q", len(rep.Problems), rep.Problems[len(rep.Problems)-1])
	}
}
