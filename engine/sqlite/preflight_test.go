package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"lifebelt/engine"
	"lifebelt/journal"
)

func sfFindings(fs []engine.Finding, check string) []engine.Finding {
	var out []engine.Finding
	for _, f := range fs {
		if f.Check == check {
			out = append(out, f)
		}
	}
	return out
}

func TestPreflightQuiet(t *testing.T) {
	ctx := context.Background()
	tgt := sfDatabase(t, "wal")
	dir := t.TempDir()
	// A backup taken an hour ago, recorded under the target's identity.
	b := filepath.Join(dir, "b.db")
	if _, err := (Driver{}).Backup(ctx, tgt, b, engine.BackupOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := journal.RecordCatalog(dir, journal.CatalogEntry{Kind: journal.KindBackup, DatabaseID: tgt.Path,
		At: time.Now().Add(-time.Hour), Path: b, Size: 1}); err != nil {
		t.Fatal(err)
	}
	fs, err := Driver{}.Preflight(ctx, tgt, engine.PreflightOptions{WriteSample: 300 * time.Millisecond, CatalogDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		t.Logf("%-8s %-20s %s", f.Level, f.Check, f.Message)
	}
	for _, check := range []string{"version", "size", "journal-mode", "lock", "write-activity", "free-space", "backup-age"} {
		if f := sfFindings(fs, check); len(f) != 1 || f[0].Level != engine.LevelOK {
			t.Errorf("%s: %+v", check, f)
		}
	}
	if f := sfFindings(fs, "journal-mode"); len(f) == 1 && !strings.Contains(f[0].Message, "WAL mode") {
		t.Errorf("journal mode: %s", f[0].Message)
	}
	if f := sfFindings(fs, "size"); len(f) == 1 && f[0].Data["bytes"].(int64) == 0 {
		t.Errorf("size: %+v", f[0])
	}
	if engine.Worst(fs) != engine.LevelOK {
		t.Errorf("worst %v", engine.Worst(fs))
	}
}

func TestPreflightSeesLockAndWriter(t *testing.T) {
	ctx := context.Background()
	tgt := sfDatabase(t, "delete")
	// Another connection holds the write lock.
	holder := sfOpen(t, tgt.Path)
	hc, err := holder.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Close()
	if _, err := hc.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	if _, err := hc.ExecContext(ctx, `UPDATE accounts SET balance = 0 WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	fs, err := Driver{}.Preflight(ctx, tgt, engine.PreflightOptions{WriteSample: -1, CatalogDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if f := sfFindings(fs, "lock"); len(f) != 1 || f[0].Level != engine.LevelDanger || !strings.Contains(f[0].Message, "Another process holds the write lock") {
		t.Errorf("lock: %+v", f)
	}
	if f := sfFindings(fs, "backup-age"); len(f) != 1 || f[0].Level != engine.LevelWarning {
		t.Errorf("backup age with an empty catalogue: %+v", f)
	}
	if _, err := hc.ExecContext(ctx, `ROLLBACK`); err != nil {
		t.Fatal(err)
	}

	// A reader in rollback-journal mode.
	rows, err := hc.QueryContext(ctx, `SELECT id FROM accounts`)
	if err != nil {
		t.Fatal(err)
	}
	rows.Next() // holds a shared lock while the statement is open
	fs, err = Driver{}.Preflight(ctx, tgt, engine.PreflightOptions{WriteSample: -1, CatalogDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if f := sfFindings(fs, "readers"); len(f) != 1 || f[0].Level != engine.LevelWarning {
		t.Errorf("readers: %+v", f)
	}
	if f := sfFindings(fs, "lock"); len(f) != 1 || f[0].Level != engine.LevelOK {
		t.Errorf("lock with a reader: %+v", f)
	}

	// A writer that keeps updating a table.
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; wctx.Err() == nil; i++ {
			if _, err := holder.ExecContext(wctx, `UPDATE accounts SET balance = ? WHERE id = 2`, i); err != nil {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	fs, err = Driver{}.Preflight(ctx, tgt, engine.PreflightOptions{WriteSample: 300 * time.Millisecond, CatalogDir: t.TempDir()})
	stop()
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if f := sfFindings(fs, "write-activity"); len(f) != 1 || f[0].Level != engine.LevelWarning {
		t.Errorf("write activity: %+v", f)
	}
}

func TestPreflightBadTarget(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := (Driver{}).Preflight(ctx, engine.Target{Dialect: "sqlite", Path: filepath.Join(dir, "none.db")}, engine.PreflightOptions{}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing file: %v", err)
	}
	junk := filepath.Join(dir, "junk.db")
	if err := os.WriteFile(junk, []byte(strings.Repeat("junk", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := (Driver{}).Preflight(ctx, engine.Target{Dialect: "sqlite", Path: junk}, engine.PreflightOptions{WriteSample: -1}); err == nil || !strings.Contains(err.Error(), "not a SQLite database") {
		t.Errorf("junk file: %v", err)
	}
}

func TestSpaceFinding(t *testing.T) {
	dir := t.TempDir()
	free, ok := freeBytes(dir)
	if !ok || free == 0 {
		t.Skip("free space unknown on this platform")
	}
	if f := spaceFinding("free-space", dir, "here", 1); f.Level != engine.LevelOK {
		t.Errorf("small need: %+v", f)
	}
	if f := spaceFinding("free-space", dir, "here", int64(free/2+free/4)); f.Level != engine.LevelWarning {
		t.Errorf("need three quarters: %+v", f)
	}
	if f := spaceFinding("free-space", dir, "here", int64(free)*2); f.Level != engine.LevelDanger {
		t.Errorf("need twice the free space: %+v", f)
	}
}
