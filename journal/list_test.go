package journal

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestList(t *testing.T) {
	dir := t.TempDir()
	mk := func(db string, at time.Time, entries ...Entry) string {
		h := testHeader()
		h.Database, h.CreatedAt = db, at
		h = h.WithDefaults()
		j, err := Create(NewPath(dir, h), h)
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		if len(entries) > 0 {
			w, _ := j.Begin()
			for _, e := range entries {
				if _, err := w.Append(e); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Commit(); err != nil {
				t.Fatal(err)
			}
		}
		return j.Path()
	}
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	last := t0.Add(time.Hour)
	busy := mk("shop", t0,
		Entry{At: t0.Add(time.Minute), Kind: KindStatement, Status: StatusPending},
		Entry{At: t0.Add(2 * time.Minute), Kind: KindStatement, Status: StatusPending},
		Entry{At: t0.Add(3 * time.Minute), Kind: KindOutcome, Status: StatusCommitted, Refs: []int64{1, 2}},
		Entry{At: last, Kind: KindStatement, Status: StatusPending},
	)
	empty := mk("/data/app.db", t0.Add(24*time.Hour))
	bad := filepath.Join(dir, "0000-broken"+Ext)
	writeFile(t, bad, "garbage")
	writeFile(t, filepath.Join(dir, "notes.txt"), "ignored")
	os.Mkdir(filepath.Join(dir, "sub"+Ext), 0o700) // directories are skipped

	got, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("List returned %d summaries, want 3: %+v", len(got), got)
	}
	if got[0].Path != bad || got[0].Err == nil {
		t.Errorf("unreadable file: %+v", got[0])
	}
	b := got[1]
	if b.Path != busy || b.Err != nil || b.Entries != 4 || !b.LastAt.Equal(last) || b.Header.Database != "shop" ||
		b.States[StatusCommitted] != 2 || b.States[StatusPending] != 1 || len(b.States) != 2 {
		t.Errorf("busy journal: %+v", b)
	}
	e := got[2]
	if e.Path != empty || e.Err != nil || e.Entries != 0 || !e.LastAt.Equal(t0.Add(24*time.Hour)) {
		t.Errorf("empty journal: %+v", e)
	}
	if _, err := List(filepath.Join(dir, "missing")); err == nil {
		t.Error("List of a missing directory succeeded")
	}
}
