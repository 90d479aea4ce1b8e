package journal

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestCatalogRecordAndNewest(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journals") // created on first record
	if _, ok, err := NewestBackup(dir, "db1"); err != nil || ok {
		t.Fatalf("empty catalogue: found=%v err=%v", ok, err)
	}
	if _, err := os.Stat(CatalogPath(dir)); !os.IsNotExist(err) {
		t.Fatalf("reading must not create the catalogue: %v", err)
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	rec := func(e CatalogEntry) CatalogEntry {
		t.Helper()
		e, err := RecordCatalog(dir, e)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	rec(CatalogEntry{Kind: KindBackup, At: t0, Dialect: "postgres", DatabaseID: "db1", Path: "/b/old.dump", Size: 10})
	newest := rec(CatalogEntry{Kind: KindBackup, At: t0.Add(time.Hour), DatabaseID: "db1", Path: "/b/new.dump",
		Size: 20, Duration: 1500 * time.Millisecond, Journal: "/j/x.lifebelt"})
	rec(CatalogEntry{Kind: KindSnapshot, At: t0.Add(2 * time.Hour), DatabaseID: "db1", Name: "snap"})
	rec(CatalogEntry{Kind: KindBackup, At: t0.Add(3 * time.Hour), DatabaseID: "other", Path: "/b/other.dump"})

	fi, err := os.Stat(CatalogPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("catalogue mode %v, want 0600", fi.Mode().Perm())
	}
	got, ok, err := NewestBackup(dir, "db1")
	if err != nil || !ok {
		t.Fatalf("NewestBackup: found=%v err=%v", ok, err)
	}
	if got.Path != "/b/new.dump" || got.ID != newest.ID || got.Size != 20 || got.Duration != 1500*time.Millisecond ||
		!got.At.Equal(t0.Add(time.Hour).Truncate(time.Microsecond)) || got.Journal != "/j/x.lifebelt" {
		t.Errorf("newest backup %+v", got)
	}
	all, err := ReadCatalog(dir, "db1")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || all[2].Kind != KindSnapshot {
		t.Errorf("db1 records %+v", all)
	}

	// A revert replaced db1 by db2: db1's backups count for db2, not the
	// other way round.
	rec(CatalogEntry{Kind: CatalogReplaced, DatabaseID: "db2", ReplacedID: "db1"})
	rec(CatalogEntry{Kind: CatalogReplaced, DatabaseID: "db3", ReplacedID: "db2"})
	if got, ok, _ := NewestBackup(dir, "db3"); !ok || got.Path != "/b/new.dump" {
		t.Errorf("after two replacements: found=%v %+v", ok, got)
	}
	if _, ok, _ := NewestBackup(dir, "db0"); ok {
		t.Error("unrelated database has a backup")
	}
}

func TestCatalogRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	if _, err := RecordCatalog(dir, CatalogEntry{Kind: KindBackup}); err == nil {
		t.Error("a record without database id was accepted")
	}
	// A file that is not a catalogue is never written into.
	if err := os.WriteFile(CatalogPath(dir), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	j, err := Create(filepath.Join(t.TempDir(), "x"+Ext), Header{Dialect: "sqlite", Target: "sqlite:/x"})
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	b, _ := os.ReadFile(j.Path())
	if err := os.WriteFile(CatalogPath(dir), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := RecordCatalog(dir, CatalogEntry{Kind: KindBackup, DatabaseID: "x"}); err == nil {
		t.Error("recorded into a journal file posing as a catalogue")
	}
}

func TestCatalogConcurrentRecorders(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := RecordCatalog(dir, CatalogEntry{Kind: KindBackup, DatabaseID: "db", Path: fmt.Sprint(i)})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	all, err := ReadCatalog(dir, "")
	if err != nil || len(all) != 20 {
		t.Fatalf("%d records, err %v", len(all), err)
	}
}

// TestComputeStatesRevert checks that a revert or restore entry marks what
// it took away as undone, and that an undo it took away stops counting.
func TestComputeStatesRevert(t *testing.T) {
	st := func(seq int64) Entry { return Entry{Seq: seq, Kind: KindStatement, Status: StatusPending} }
	out := func(seq int64, refs ...int64) Entry {
		return Entry{Seq: seq, Kind: KindOutcome, Status: StatusCommitted, Refs: refs}
	}
	undo := func(seq int64, refs ...int64) Entry {
		return Entry{Seq: seq, Kind: KindUndo, Status: StatusPending, Refs: refs}
	}
	rev := func(seq int64, kind, status string, refs ...int64) Entry {
		return Entry{Seq: seq, Kind: kind, Status: status, Refs: refs}
	}
	snap := Entry{Seq: 1, Kind: KindSnapshot, Status: StatusCommitted}
	tests := []struct {
		name    string
		entries []Entry
		want    string
	}{
		{"revert undoes", []Entry{snap, st(2), out(3, 2), rev(4, KindRevert, StatusCommitted, 2)},
			"[committed undone committed committed]"},
		{"restore undoes", []Entry{snap, st(2), out(3, 2), rev(4, KindRestore, StatusCommitted, 2)},
			"[committed undone committed committed]"},
		{"failed revert changes nothing", []Entry{snap, st(2), out(3, 2), rev(4, KindRevert, StatusFailed, 2)},
			"[committed committed committed failed]"},
		// 1 ran before the snapshot (3) and was undone after it (4); the
		// revert to the snapshot took the undo away: 1 is in effect again.
		{"revert takes an undo away", []Entry{st(1), out(2, 1), {Seq: 3, Kind: KindSnapshot, Status: StatusCommitted},
			undo(4, 1), out(5, 4), rev(6, KindRevert, StatusCommitted, 4)},
			"[committed committed committed undone committed committed]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			computeStates(tt.entries)
			var got []string
			for _, e := range tt.entries {
				got = append(got, e.State)
			}
			if fmt.Sprint(got) != tt.want {
				t.Errorf("states %q, want %s (computeStates in entry.go must call markReverted(e, i, idx, undone) right after e.State = e.Status)", got, tt.want)
			}
		})
	}
}
