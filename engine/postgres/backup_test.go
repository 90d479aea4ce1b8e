package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"lifebelt/engine"
)

func TestBackupRestoreRoundTrip(t *testing.T) {
	admin, tgt := snDatabase(t, "lbbk_")
	ctx := context.Background()
	db := tgt.Database()
	snFill(t, tgt)
	snExec(t, tgt, "postgres", `COMMENT ON DATABASE `+quoteIdent(db)+` IS 'kept comment'`)
	before := snChecksums(t, tgt, db)

	path := filepath.Join(t.TempDir(), "app.dump")
	var mu sync.Mutex
	var progress []engine.Progress
	info, err := Driver{}.Backup(ctx, tgt, path, engine.BackupOptions{Progress: func(p engine.Progress) {
		mu.Lock()
		progress = append(progress, p)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || info.Size != fi.Size() || info.Path != path || info.Tables != 3 || !strings.Contains(info.Tool, "pg_dump") {
		t.Errorf("backup info %+v, mode %v", info, fi.Mode().Perm())
	}
	if _, err := os.Stat(path + ".partial"); !os.IsNotExist(err) {
		t.Errorf("partial file left: %v", err)
	}
	last := progress[len(progress)-1]
	if last.Unit != "tables" || last.Done != 3 || last.Total != 3 || last.Bytes != fi.Size() {
		t.Errorf("last progress %+v", last)
	}
	sawTable := false
	for _, p := range progress {
		sawTable = sawTable || strings.HasPrefix(p.Message, "dumping table ")
	}
	if !sawTable {
		t.Errorf("no per-table progress: %+v", progress)
	}
	// A backup never replaces a file.
	if _, err := (Driver{}).Backup(ctx, tgt, path, engine.BackupOptions{}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("backup over an existing file: %v", err)
	}

	snChange(t, tgt)
	changed := snChecksums(t, tgt, db)
	progress = nil
	res, err := Driver{}.Restore(ctx, tgt, path, engine.RestoreOptions{Progress: func(p engine.Progress) {
		mu.Lock()
		progress = append(progress, p)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Database != db || !strings.HasPrefix(res.Kept, db+"_failed_") || res.From != path || res.Size != fi.Size() || res.NewID == "" {
		t.Errorf("restore result %+v", res)
	}
	if len(progress) == 0 || progress[len(progress)-1].Done != 3 {
		t.Errorf("restore progress %+v", progress)
	}
	if got := snChecksums(t, tgt, db); !snSame(got, before) {
		t.Errorf("after restore:\n%v\nwant\n%v", got, before)
	}
	if kept := snChecksums(t, tgt, res.Kept); !snSame(kept, changed) {
		t.Errorf("kept copy:\n%v\nwant the changed data\n%v", kept, changed)
	}
	if d, _, _ := lookupDatabase(ctx, admin, db); d.Comment == nil || *d.Comment != "kept comment" {
		t.Errorf("comment after restore: %v", d.Comment)
	}

	// Beside the target: a new database, the target untouched.
	snChange2 := func() {
		snExec(t, tgt, db, `DELETE FROM accounts WHERE id > 250 AND NOT EXISTS (SELECT FROM "Billing"."Invoice Lines" WHERE account = id)`)
	}
	snChange2()
	now := snChecksums(t, tgt, db)
	beside := db + "_copy"
	res, err = Driver{}.Restore(ctx, tgt, path, engine.RestoreOptions{As: beside})
	if err != nil {
		t.Fatal(err)
	}
	if res.Database != beside || res.Kept != "" {
		t.Errorf("restore beside: %+v", res)
	}
	if got := snChecksums(t, tgt, beside); !snSame(got, before) {
		t.Errorf("restored copy differs from the backup")
	}
	if got := snChecksums(t, tgt, db); !snSame(got, now) {
		t.Errorf("restore beside changed the target")
	}
	if d, _, _ := lookupDatabase(ctx, admin, beside); d.Marker != nil {
		t.Errorf("restored copy still marked: %v", *d.Comment)
	}
	if _, err := (Driver{}).Restore(ctx, tgt, path, engine.RestoreOptions{As: beside}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("restore beside onto an existing name: %v", err)
	}
}

func TestRestoreBadInput(t *testing.T) {
	admin, tgt := snDatabase(t, "lbbk_")
	ctx := context.Background()
	db := tgt.Database()
	snFill(t, tgt)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.dump")
	if _, err := (Driver{}).Backup(ctx, tgt, good, engine.BackupOptions{}); err != nil {
		t.Fatal(err)
	}
	snChange(t, tgt)
	before := snChecksums(t, tgt, db)
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.dump")
	if err := os.WriteFile(truncated, b[:len(b)*2/3], 0o600); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.dump")
	if err := os.WriteFile(garbage, []byte("this is not an archive\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.dump")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, from, want string }{
		{"missing file", filepath.Join(dir, "missing.dump"), "does not exist"},
		{"truncated file", truncated, "pg_restore could not restore"},
		{"not an archive", garbage, "is not a backup pg_restore can read"},
		{"empty file", empty, "is not a backup pg_restore can read"},
		{"directory", dir, "is a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Driver{}.Restore(ctx, tgt, tt.from, engine.RestoreOptions{})
			t.Log(err)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasSuffix(err.Error(), "nothing was changed") {
				t.Fatalf("Restore(%s) = %v; want one sentence with %q ending in 'nothing was changed'", tt.name, err, tt.want)
			}
			if strings.Count(err.Error(), "\n") > 0 {
				t.Errorf("message is more than one line: %q", err)
			}
			if got := snDatabases(t, admin, db); len(got) != 1 {
				t.Errorf("databases left: %v", got)
			}
			if got := snChecksums(t, tgt, db); !snSame(got, before) {
				t.Error("the database changed")
			}
		})
	}
	// A target that no longer exists.
	gone := tgt
	u := *tgt.URL
	u.Path = "/" + db + "_gone"
	gone.URL = &u
	if _, err := (Driver{}).Restore(ctx, gone, good, engine.RestoreOptions{}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("restore of a missing database: %v", err)
	}
	if _, err := (Driver{}).Backup(ctx, gone, filepath.Join(dir, "gone.dump"), engine.BackupOptions{}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("backup of a missing database: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "gone.dump")); !os.IsNotExist(err) {
		t.Error("a failed backup left a file")
	}
	// Someone connected and no consent: refused before the long load.
	other := snConnect(t, tgt, db)
	defer other.Close(ctx)
	_, err = Driver{}.Restore(ctx, tgt, good, engine.RestoreOptions{})
	if !errors.Is(err, engine.ErrOtherSessions) || !strings.Contains(err.Error(), "cannot restore database") {
		t.Errorf("restore with another session: %v", err)
	}
	if got := snDatabases(t, admin, db); len(got) != 1 {
		t.Errorf("databases left: %v", got)
	}
}

func TestBackupCancelled(t *testing.T) {
	_, tgt := snDatabase(t, "lbbk_")
	snFill(t, tgt)
	ctx, cancel := context.WithCancel(context.Background())
	path := filepath.Join(t.TempDir(), "x.dump")
	_, err := Driver{}.Backup(ctx, tgt, path, engine.BackupOptions{Progress: func(engine.Progress) { cancel() }})
	if err == nil {
		t.Skip("the backup finished before the cancellation reached it")
	}
	if !strings.Contains(err.Error(), "cancelled") && !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled backup: %v", err)
	}
	for _, p := range []string{path, path + ".partial"} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s left behind", p)
		}
	}
}

func TestRestoreCancelled(t *testing.T) {
	admin, tgt := snDatabase(t, "lbbk_")
	snFill(t, tgt)
	path := filepath.Join(t.TempDir(), "x.dump")
	if _, err := (Driver{}).Backup(context.Background(), tgt, path, engine.BackupOptions{}); err != nil {
		t.Fatal(err)
	}
	snChange(t, tgt)
	before := snChecksums(t, tgt, tgt.Database())
	ctx, cancel := context.WithCancel(context.Background())
	_, err := Driver{}.Restore(ctx, tgt, path, engine.RestoreOptions{Progress: func(engine.Progress) { cancel() }})
	if err == nil || !strings.Contains(err.Error(), "cancelled; nothing was changed") {
		t.Fatalf("cancelled restore: %v", err)
	}
	if got := snDatabases(t, admin, tgt.Database()); len(got) != 1 {
		t.Errorf("databases left: %v", got)
	}
	if got := snChecksums(t, tgt, tgt.Database()); !snSame(got, before) {
		t.Error("a cancelled restore changed the database")
	}
}

// fakeTool writes an executable that prints a version.
func fakeTool(t *testing.T, dir, name, version string) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("shell scripts as fake tools")
	}
	script := fmt.Sprintf("#!/bin/sh\necho '%s (PostgreSQL) %s'\n", name, version)
	if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
}

func TestFindTool(t *testing.T) {
	ctx := context.Background()
	old := t.TempDir()
	fakeTool(t, old, "pg_dump", "9.6.24")
	newer := t.TempDir()
	fakeTool(t, newer, "pg_dump", "17.2 (Debian)")
	exact := t.TempDir()
	fakeTool(t, exact, "pg_dump", "15.4")
	empty := t.TempDir()

	if _, err := findTool(ctx, "pg_dump", old, 15); err == nil || !strings.Contains(err.Error(), "version 9, older than the server (PostgreSQL 15)") {
		t.Errorf("old pg_dump: %v", err)
	}
	if tl, err := findTool(ctx, "pg_dump", newer, 15); err != nil || tl.Major != 17 {
		t.Errorf("newer pg_dump: %+v %v", tl, err)
	}
	if tl, err := findTool(ctx, "pg_dump", exact, 15); err != nil || tl.Major != 15 || tl.Path != filepath.Join(exact, "pg_dump") {
		t.Errorf("exact pg_dump: %+v %v", tl, err)
	}
	if _, err := findTool(ctx, "pg_dump", empty, 15); err == nil || !strings.Contains(err.Error(), "pg_dump was not found on this computer (looked in "+empty+")") {
		t.Errorf("missing pg_dump: %v", err)
	}
	t.Setenv("LIFEBELT_PG_BIN", exact)
	if tl, err := findTool(ctx, "pg_dump", "", 15); err != nil || tl.Path != filepath.Join(exact, "pg_dump") {
		t.Errorf("LIFEBELT_PG_BIN: %+v %v", tl, err)
	}

	// Backup and restore say so, and change nothing.
	_, tgt := snDatabase(t, "lbbk_")
	path := filepath.Join(t.TempDir(), "x.dump")
	_, err := Driver{}.Backup(ctx, tgt, path, engine.BackupOptions{ToolDir: old})
	if err == nil || !strings.Contains(err.Error(), "older than the server") || !strings.Contains(err.Error(), "nothing was written") {
		t.Errorf("backup with an old pg_dump: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Error("file written")
	}
	if _, err := (Driver{}).Restore(ctx, tgt, path, engine.RestoreOptions{ToolDir: empty}); err == nil {
		t.Error("restore without pg_restore succeeded")
	}
}

func TestToolEnvAndURL(t *testing.T) {
	tgt, err := engine.ParseTarget("postgres://bob:s3cret@db.example:5433/app?sslmode=require&maintenance_db=admin&pool_max_conns=4")
	if err != nil {
		t.Fatal(err)
	}
	u := toolURL(tgt, "other").String()
	if u != "postgres://bob@db.example:5433/other?sslmode=require" {
		t.Errorf("toolURL = %s", u)
	}
	if strings.Contains(u, "s3cret") {
		t.Error("password in the URL given to tools")
	}
	t.Setenv("PGPASSWORD", "stale")
	env := toolEnv(tgt)
	n := 0
	for _, kv := range env {
		if strings.HasPrefix(kv, "PGPASSWORD=") {
			n++
			if kv != "PGPASSWORD=s3cret" {
				t.Errorf("env has %s", kv)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d PGPASSWORD entries", n)
	}
	cfg, err := safetyConfig(tgt, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.RuntimeParams["maintenance_db"]; ok || cfg.Database != "app" || cfg.Password != "s3cret" {
		t.Errorf("config %+v", cfg.RuntimeParams)
	}
}

// BenchmarkSafetyNets times Lifebelt's snapshot, revert, backup and
// restore of a large database against the server's own tools run directly
// in the same run (createdb -T, ALTER DATABASE RENAME, pg_dump -Fc,
// createdb + pg_restore), and reports each side's seconds per operation
// and Lifebelt's overhead in percent. The size is LIFEBELT_BENCH_PG_MB
// (default 200); run with -benchtime=Nx, one iteration is one operation.
func BenchmarkSafetyNets(b *testing.B) {
	mb := 200
	if s := os.Getenv("LIFEBELT_BENCH_PG_MB"); s != "" {
		if _, err := fmt.Sscan(s, &mb); err != nil || mb <= 0 {
			b.Fatalf("LIFEBELT_BENCH_PG_MB=%q is not a size in MB", s)
		}
	}
	admin, tgt := snDatabase(b, "lbbench_")
	ctx := context.Background()
	db := tgt.Database()
	start := time.Now()
	benchFill(b, tgt, int64(mb)<<20)
	var size int64
	admin.QueryRow(ctx, `SELECT pg_database_size($1)`, db).Scan(&size)
	b.Logf("built database %s of %s in %s", db, engine.HumanBytes(size), time.Since(start).Round(time.Second))
	major, err := serverMajor(ctx, admin)
	if err != nil {
		b.Fatal(err)
	}
	dump, err := findTool(ctx, "pg_dump", "", major)
	if err != nil {
		b.Fatal(err)
	}
	restore, err := findTool(ctx, "pg_restore", "", major)
	if err != nil {
		b.Fatal(err)
	}
	createdb, err := findTool(ctx, "createdb", "", major)
	if err != nil {
		b.Fatal(err)
	}
	maint := toolURL(tgt, "postgres").String()
	run := func(tl pgTool, args ...string) {
		b.Helper()
		if _, err := runTool(ctx, tl, args, toolEnv(tgt), nil); err != nil {
			b.Fatalf("%s %v: %v", tl.Name, args, err)
		}
	}
	exec := func(sql string) {
		b.Helper()
		if _, err := admin.Exec(ctx, sql); err != nil {
			b.Fatalf("%s: %v", sql, err)
		}
	}
	drop := func(name string) { exec("DROP DATABASE IF EXISTS " + quoteIdent(name) + " WITH (FORCE)") }
	dir := b.TempDir()

	// compare times ours and theirs alternately (which goes first flips
	// each iteration) and reports both and the overhead. Each returns a
	// cleanup, run untimed; before, if set, prepares untimed. A
	// CHECKPOINT before each timed run keeps one side's dirty buffers
	// from slowing the other.
	calls := 0
	compare := func(b *testing.B, before func(id string, lifebelt bool), ours, theirs func(id string) func()) {
		var o, d time.Duration
		timed := func(id string, lifebelt bool, f func(string) func(), into *time.Duration) {
			if before != nil {
				before(id, lifebelt)
			}
			exec("CHECKPOINT")
			t0 := time.Now()
			cleanup := f(id)
			*into += time.Since(t0)
			cleanup()
		}
		for i := 0; i < b.N; i++ {
			calls++
			id := fmt.Sprintf("%d_%d", calls, i)
			if i%2 == 0 {
				timed(id, true, ours, &o)
				timed(id, false, theirs, &d)
			} else {
				timed(id, false, theirs, &d)
				timed(id, true, ours, &o)
			}
		}
		b.ReportMetric(o.Seconds()/float64(b.N), "lifebelt-s/op")
		b.ReportMetric(d.Seconds()/float64(b.N), "direct-s/op")
		b.ReportMetric(100*(o.Seconds()-d.Seconds())/d.Seconds(), "overhead-%")
		b.ReportMetric(0, "ns/op")
	}

	b.Run("snapshot", func(b *testing.B) {
		compare(b, nil, func(id string) func() {
			s, err := Driver{}.CreateSnapshot(ctx, tgt, engine.SnapshotOptions{Name: db + "_s" + id})
			if err != nil {
				b.Fatal(err)
			}
			return func() { drop(s.Name) }
		}, func(id string) func() {
			name := db + "_d" + id
			run(createdb, "--maintenance-db="+maint, "-T", db, name)
			return func() { drop(name) }
		})
	})
	b.Run("revert", func(b *testing.B) {
		// The copies to revert to are made untimed.
		prepare := func(id string, lifebelt bool) {
			if lifebelt {
				if _, err := (Driver{}).CreateSnapshot(ctx, tgt, engine.SnapshotOptions{Name: db + "_r" + id}); err != nil {
					b.Fatal(err)
				}
				return
			}
			run(createdb, "--maintenance-db="+maint, "-T", db, db+"_p"+id)
		}
		compare(b, prepare, func(id string) func() {
			res, err := Driver{}.RevertToSnapshot(ctx, tgt, db+"_r"+id, engine.RevertOptions{})
			if err != nil {
				b.Fatal(err)
			}
			return func() { drop(res.Kept) }
		}, func(id string) func() {
			k := db + "_k" + id
			exec("ALTER DATABASE " + quoteIdent(db) + " RENAME TO " + quoteIdent(k))
			exec("ALTER DATABASE " + quoteIdent(db+"_p"+id) + " RENAME TO " + quoteIdent(db))
			return func() { drop(k) }
		})
	})
	b.Run("backup", func(b *testing.B) {
		var sizes int64
		compare(b, nil, func(id string) func() {
			info, err := Driver{}.Backup(ctx, tgt, filepath.Join(dir, "l"+id+".dump"), engine.BackupOptions{})
			if err != nil {
				b.Fatal(err)
			}
			sizes += info.Size
			return func() { os.Remove(info.Path) }
		}, func(id string) func() {
			f := filepath.Join(dir, "d"+id+".dump")
			run(dump, "--format=custom", "--file="+f, "--dbname="+toolURL(tgt, "").String())
			return func() { os.Remove(f) }
		})
		b.ReportMetric(float64(sizes)/float64(b.N)/(1<<20), "dump-MB")
	})
	b.Run("restore", func(b *testing.B) {
		file := filepath.Join(dir, "restore.dump")
		if _, err := os.Stat(file); err != nil {
			if _, err := (Driver{}).Backup(ctx, tgt, file, engine.BackupOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		compare(b, nil, func(id string) func() {
			res, err := Driver{}.Restore(ctx, tgt, file, engine.RestoreOptions{})
			if err != nil {
				b.Fatal(err)
			}
			return func() { drop(res.Kept) }
		}, func(id string) func() {
			name := db + "_x" + id
			run(createdb, "--maintenance-db="+maint, "-T", "template0", name)
			run(restore, "--exit-on-error", "--jobs="+fmt.Sprint(restoreJobs()), "--dbname="+toolURL(tgt, name).String(), file)
			return func() { drop(name) }
		})
	})
}

// benchFill grows the target database to about want bytes.
func benchFill(b testing.TB, tgt engine.Target, want int64) {
	c := snConnect(b, tgt, tgt.Database())
	defer snClose(b, tgt, c)
	ctx := context.Background()
	if _, err := c.Exec(ctx, `CREATE TABLE big (id bigint PRIMARY KEY, payload text, n int, at timestamptz);
		CREATE TABLE small (id int PRIMARY KEY, name text)`); err != nil {
		b.Fatal(err)
	}
	if _, err := c.Exec(ctx, `INSERT INTO small SELECT g, 'row ' || g FROM generate_series(1, 1000) g`); err != nil {
		b.Fatal(err)
	}
	const batch = 200000
	for next := int64(1); ; next += batch {
		var size int64
		if err := c.QueryRow(ctx, `SELECT pg_database_size(current_database())`).Scan(&size); err != nil {
			b.Fatal(err)
		}
		if size >= want {
			return
		}
		if _, err := c.Exec(ctx, `INSERT INTO big SELECT g, md5(g::text) || md5((g * 7)::text) || repeat(chr(65 + (g % 26)::int), 40),
			g % 1000, '2026-01-01'::timestamptz + g * interval '1 second' FROM generate_series($1::bigint, $1::bigint + $2 - 1) g`, next, batch); err != nil {
			b.Fatal(err)
		}
	}
}
