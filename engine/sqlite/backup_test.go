package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lifebelt/engine"
)

func TestBackupRestoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	tgt := sfDatabase(t, "wal")
	dir := t.TempDir()
	before := sfChecksums(t, tgt.Path)
	other := sfOpen(t, tgt.Path) // open elsewhere throughout

	path := filepath.Join(t.TempDir(), "backup.db")
	var progress []engine.Progress
	info, err := Driver{}.Backup(ctx, tgt, path, engine.BackupOptions{Progress: func(p engine.Progress) { progress = append(progress, p) }})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || info.Size != fi.Size() || info.Format != "sqlite" || info.Tables != 3 {
		t.Errorf("backup %+v, mode %v", info, fi.Mode().Perm())
	}
	if len(progress) < 2 || progress[len(progress)-1].Done != progress[len(progress)-1].Total || progress[0].Unit != "pages" {
		t.Errorf("progress %+v", progress)
	}
	if _, err := os.Stat(path + ".partial"); !os.IsNotExist(err) {
		t.Error("partial file left")
	}
	if _, err := (Driver{}).Backup(ctx, tgt, path, engine.BackupOptions{}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("backup over an existing file: %v", err)
	}

	sfChange(t, tgt.Path)
	changed := sfChecksums(t, tgt.Path)
	res, err := Driver{}.Restore(ctx, tgt, path, engine.RestoreOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if res.Database != tgt.Path || filepath.Dir(res.Kept) != dir || res.From != path {
		t.Errorf("restore %+v", res)
	}
	if got := sfChecksums(t, tgt.Path); !sfSame(got, before) {
		t.Errorf("after restore:\n%v\nwant\n%v", got, before)
	}
	if got := sfChecksums(t, res.Kept); !sfSame(got, changed) {
		t.Error("the kept copy does not hold the changed data")
	}
	var n int
	if err := other.QueryRow(`SELECT count(*) FROM accounts`).Scan(&n); err != nil || n != 3000 {
		t.Errorf("other connection sees %d accounts (%v)", n, err)
	}

	// Beside the target.
	sfChange(t, tgt.Path)
	now := sfChecksums(t, tgt.Path)
	res, err = Driver{}.Restore(ctx, tgt, path, engine.RestoreOptions{As: "copy.db"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Database != filepath.Join(filepath.Dir(tgt.Path), "copy.db") || res.Kept != "" {
		t.Errorf("restore beside %+v", res)
	}
	if got := sfChecksums(t, res.Database); !sfSame(got, before) {
		t.Error("the restored copy differs from the backup")
	}
	if got := sfChecksums(t, tgt.Path); !sfSame(got, now) {
		t.Error("restoring beside changed the target")
	}
	if _, err := (Driver{}).Restore(ctx, tgt, path, engine.RestoreOptions{As: "copy.db"}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("restore beside onto an existing file: %v", err)
	}
}

func TestRestoreBadInput(t *testing.T) {
	ctx := context.Background()
	tgt := sfDatabase(t, "delete")
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	if _, err := (Driver{}).Backup(ctx, tgt, good, engine.BackupOptions{}); err != nil {
		t.Fatal(err)
	}
	sfChange(t, tgt.Path)
	before := sfChecksums(t, tgt.Path)
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	truncated := write("truncated.db", b[:len(b)/2])
	garbage := write("garbage.db", []byte(strings.Repeat("not a database ", 100)))
	empty := write("empty.db", nil)
	keptDir := t.TempDir()
	tests := []struct{ name, from, want string }{
		{"missing file", filepath.Join(dir, "missing.db"), "does not exist"},
		{"truncated file", truncated, "is not a SQLite database or is damaged"},
		{"not a database", garbage, "is not a SQLite database or is damaged"},
		{"empty file", empty, "is empty"},
		{"directory", dir, "is a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Driver{}.Restore(ctx, tgt, tt.from, engine.RestoreOptions{Dir: keptDir})
			t.Log(err)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasSuffix(err.Error(), "nothing was changed") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Restore(%s) = %v; want one sentence with %q ending in 'nothing was changed'", tt.name, err, tt.want)
			}
			if got := sfChecksums(t, tgt.Path); !sfSame(got, before) {
				t.Error("the database changed")
			}
			if des, _ := os.ReadDir(keptDir); len(des) != 0 {
				t.Errorf("files left: %v", des)
			}
		})
	}
	// A target that no longer exists.
	gone := engine.Target{Dialect: "sqlite", Path: filepath.Join(dir, "gone.db")}
	if _, err := (Driver{}).Restore(ctx, gone, good, engine.RestoreOptions{Dir: keptDir}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("restore of a missing file: %v", err)
	}
	if _, err := (Driver{}).Backup(ctx, gone, filepath.Join(dir, "b2.db"), engine.BackupOptions{}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("backup of a missing file: %v", err)
	}
	if _, err := os.Stat(gone.Path); err == nil {
		t.Error("the missing file was created")
	}
	// Backing up onto the database itself.
	if _, err := (Driver{}).Backup(ctx, tgt, tgt.Path, engine.BackupOptions{}); err == nil {
		t.Error("backup onto the database itself")
	}
}

func TestBackupCancelled(t *testing.T) {
	tgt := sfDatabase(t, "wal")
	ctx, cancel := context.WithCancel(context.Background())
	path := filepath.Join(t.TempDir(), "b.db")
	_, err := Driver{}.Backup(ctx, tgt, path, engine.BackupOptions{Progress: func(engine.Progress) { cancel() }})
	if err == nil || !strings.Contains(err.Error(), "cancelled") {
		t.Fatalf("cancelled backup: %v", err)
	}
	for _, p := range []string{path, path + ".partial"} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s left", p)
		}
	}
}
