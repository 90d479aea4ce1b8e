package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"lifebelt/engine"
)

// sfDatabase creates a database file with a few tables in journal mode
// mode ("wal" or "delete") and returns its target.
func sfDatabase(t testing.TB, mode string) engine.Target {
	t.Helper()
	path := filepath.Join(t.TempDir(), "app data.db")
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode="+mode)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sfExecOn(t, db,
		`CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT NOT NULL, balance REAL, raw BLOB, n NUMERIC)`,
		`WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < 3000)
		 INSERT INTO accounts SELECT i, 'owner ' || i, i * 1.25, randomblob(40), CASE WHEN i % 2 THEN i ELSE 'x' || i END FROM g`,
		`CREATE TABLE "Invoice Lines" (account INTEGER REFERENCES accounts, amount REAL, note TEXT) `,
		`INSERT INTO "Invoice Lines" SELECT id % 100 + 1, id / 7.0, CASE WHEN id % 3 = 0 THEN NULL ELSE 'n' || id END FROM accounts`,
		`CREATE TABLE nokey (a, b)`,
		`INSERT INTO nokey VALUES (1, 'x'), (1, 'x'), (2, NULL)`,
		`CREATE INDEX lines_by_account ON "Invoice Lines"(account)`)
	tgt, err := engine.ParseTarget("sqlite:" + path)
	if err != nil {
		t.Fatal(err)
	}
	return tgt
}

func sfExecOn(t testing.TB, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func sfOpen(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=rw&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func sfExec(t testing.TB, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=rw&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sfExecOn(t, db, stmts...)
}

// sfChecksums hashes every row (with its storage classes) of every table
// in the file, plus the schema.
func sfChecksums(t testing.TB, path string) map[string]string {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name, sql FROM sqlite_schema ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var tables []string
	for rows.Next() {
		var name string
		var def sql.NullString
		if err := rows.Scan(&name, &def); err != nil {
			t.Fatal(err)
		}
		out["schema:"+name] = def.String
		if strings.HasPrefix(def.String, "CREATE TABLE") {
			tables = append(tables, name)
		}
	}
	rows.Close()
	for _, tb := range tables {
		rs, err := db.Query(`SELECT * FROM "` + strings.ReplaceAll(tb, `"`, `""`) + `"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rs.Columns()
		var lines []string
		for rs.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rs.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, fmt.Sprintf("%#v", vals))
		}
		rs.Close()
		sort.Strings(lines)
		h := sha256.Sum256([]byte(strings.Join(lines, "\n")))
		out[tb] = fmt.Sprintf("%d:%s", len(lines), hex.EncodeToString(h[:8]))
	}
	return out
}

func sfSame(a, b map[string]string) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

func sfChange(t testing.TB, path string) {
	sfExec(t, path,
		`UPDATE accounts SET balance = balance * 2 WHERE id % 3 = 0`,
		`DELETE FROM "Invoice Lines" WHERE account < 10`,
		`INSERT INTO accounts VALUES (100000, 'new', 1, x'00ff', NULL)`,
		`DROP TABLE nokey`,
		`CREATE TABLE created_later (x)`,
		`INSERT INTO created_later VALUES (42)`)
}

func TestSnapshotRevertRoundTrip(t *testing.T) {
	for _, mode := range []string{"wal", "delete"} {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			tgt := sfDatabase(t, mode)
			dir := filepath.Join(t.TempDir(), "journals")
			before := sfChecksums(t, tgt.Path)
			// Another connection keeps the file open throughout.
			other := sfOpen(t, tgt.Path)
			var n int
			if err := other.QueryRow(`SELECT count(*) FROM accounts`).Scan(&n); err != nil || n != 3000 {
				t.Fatal(n, err)
			}

			var last engine.Progress
			snap, err := Driver{}.CreateSnapshot(ctx, tgt, engine.SnapshotOptions{Dir: dir, Progress: func(p engine.Progress) { last = p }})
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Dir(snap.Name) != dir || !strings.Contains(filepath.Base(snap.Name), "_lifebelt_") || snap.Of != tgt.Path || snap.Size == 0 {
				t.Errorf("snapshot %+v", snap)
			}
			if last.Unit != "pages" || last.Done == 0 || last.Done != last.Total {
				t.Errorf("last progress %+v", last)
			}
			if fi, err := os.Stat(snap.Name); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("snapshot file mode: %v %v", fi.Mode(), err)
			}
			if got := sfChecksums(t, snap.Name); !sfSame(got, before) {
				t.Error("the snapshot differs from the database")
			}

			sfChange(t, tgt.Path)
			changed := sfChecksums(t, tgt.Path)
			if sfSame(changed, before) {
				t.Fatal("the change changed nothing")
			}
			res, err := Driver{}.RevertToSnapshot(ctx, tgt, snap.Name, engine.RevertOptions{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			if res.Database != tgt.Path || !strings.Contains(filepath.Base(res.Kept), "_failed_") || res.From != snap.Name {
				t.Errorf("revert result %+v", res)
			}
			if got := sfChecksums(t, tgt.Path); !sfSame(got, before) {
				t.Errorf("after revert:\n%v\nwant\n%v", got, before)
			}
			if got := sfChecksums(t, res.Kept); !sfSame(got, changed) {
				t.Errorf("kept copy:\n%v\nwant the changed data\n%v", got, changed)
			}
			// The connection that stayed open sees the reverted content.
			if err := other.QueryRow(`SELECT count(*) FROM accounts`).Scan(&n); err != nil || n != 3000 {
				t.Errorf("other connection sees %d accounts (%v)", n, err)
			}
			var jm string
			if err := other.QueryRow(`PRAGMA journal_mode`).Scan(&jm); err != nil || jm != mode {
				t.Errorf("journal mode after revert %q (%v), want %s", jm, err, mode)
			}
			list, err := Driver{}.ListSnapshots(ctx, tgt, engine.SnapshotOptions{Dir: dir})
			if err != nil || len(list) != 2 || list[0].Kind != "snapshot" && list[1].Kind != "snapshot" {
				t.Fatalf("list %+v %v", list, err)
			}
			for _, s := range list {
				if err := (Driver{}).DropSnapshot(ctx, tgt, filepath.Base(s.Name), engine.SnapshotOptions{Dir: dir}); err != nil {
					t.Fatal(err)
				}
			}
			if list, _ := (Driver{}).ListSnapshots(ctx, tgt, engine.SnapshotOptions{Dir: dir}); len(list) != 0 {
				t.Errorf("after drop: %+v", list)
			}
		})
	}
}

func TestSnapshotBadInput(t *testing.T) {
	ctx := context.Background()
	tgt := sfDatabase(t, "wal")
	dir := t.TempDir()
	before := sfChecksums(t, tgt.Path)
	snap, err := Driver{}.CreateSnapshot(ctx, tgt, engine.SnapshotOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	// A snapshot name that is taken: the full file name, or a label.
	if _, err := (Driver{}).CreateSnapshot(ctx, tgt, engine.SnapshotOptions{Dir: dir, Name: filepath.Base(snap.Name)}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("taken name: %v", err)
	}
	labeled, err := Driver{}.CreateSnapshot(ctx, tgt, engine.SnapshotOptions{Dir: dir, Name: "before ticket 42"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (Driver{}).CreateSnapshot(ctx, tgt, engine.SnapshotOptions{Dir: dir, Name: "before ticket 42"}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("taken label: %v", err)
	}
	list, err := Driver{}.ListSnapshots(ctx, tgt, engine.SnapshotOptions{Dir: dir})
	if err != nil || len(list) != 2 || list[1].Name != labeled.Name || list[1].Created.IsZero() {
		t.Errorf("list with a labeled snapshot: %+v %v", list, err)
	}
	if err := (Driver{}).DropSnapshot(ctx, tgt, "before ticket 42", engine.SnapshotOptions{Dir: dir}); err != nil {
		t.Errorf("drop by label: %v", err)
	}
	// A file that is not a snapshot of this target.
	foreign := filepath.Join(dir, "other.db")
	if err := os.WriteFile(foreign, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	other := sfDatabase(t, "wal")
	otherSnap, err := Driver{}.CreateSnapshot(ctx, other, engine.SnapshotOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{foreign, otherSnap.Name, tgt.Path, "../../etc/passwd"} {
		if _, err := (Driver{}).RevertToSnapshot(ctx, tgt, name, engine.RevertOptions{Dir: dir}); err == nil || !strings.Contains(err.Error(), "is not a snapshot Lifebelt took") {
			t.Errorf("revert to %s: %v", name, err)
		}
		if err := (Driver{}).DropSnapshot(ctx, tgt, name, engine.SnapshotOptions{Dir: dir}); err == nil {
			t.Errorf("dropped %s", name)
		}
	}
	if _, err := os.Stat(foreign); err != nil {
		t.Error("a foreign file was dropped")
	}
	// A target that no longer exists.
	gone := engine.Target{Dialect: "sqlite", Path: filepath.Join(dir, "gone.db")}
	if _, err := (Driver{}).CreateSnapshot(ctx, gone, engine.SnapshotOptions{Dir: dir}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("snapshot of a missing file: %v", err)
	}
	if _, err := os.Stat(gone.Path); err == nil {
		t.Error("a snapshot of a missing file created it")
	}
	// A snapshot removed meanwhile.
	os.Remove(snap.Name)
	if _, err := (Driver{}).RevertToSnapshot(ctx, tgt, snap.Name, engine.RevertOptions{Dir: dir}); err == nil || !strings.Contains(err.Error(), "there is no snapshot") {
		t.Errorf("revert to a removed snapshot: %v", err)
	}
	if got := sfChecksums(t, tgt.Path); !sfSame(got, before) {
		t.Error("bad input changed the database")
	}
	des, _ := os.ReadDir(dir)
	for _, de := range des {
		if strings.Contains(de.Name(), "_failed_") {
			t.Errorf("kept copy %s left by a refused revert", de.Name())
		}
	}
}

func TestRevertWhileLocked(t *testing.T) {
	defer func(v int) { busyTimeoutMS = v }(busyTimeoutMS)
	busyTimeoutMS = 200
	ctx := context.Background()
	tgt := sfDatabase(t, "delete")
	dir := t.TempDir()
	snap, err := Driver{}.CreateSnapshot(ctx, tgt, engine.SnapshotOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	sfChange(t, tgt.Path)
	changed := sfChecksums(t, tgt.Path)
	// Another connection holds the write lock with a change pending.
	holder := sfOpen(t, tgt.Path)
	hc, err := holder.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Close()
	if _, err := hc.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	if _, err := hc.ExecContext(ctx, `INSERT INTO created_later VALUES (7)`); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = Driver{}.RevertToSnapshot(ctx, tgt, snap.Name, engine.RevertOptions{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "another process held a lock") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("revert while locked: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
	hc.ExecContext(ctx, `ROLLBACK`)
	if got := sfChecksums(t, tgt.Path); !sfSame(got, changed) {
		t.Error("a failed revert changed the database")
	}
	des, _ := os.ReadDir(dir)
	for _, de := range des {
		if strings.Contains(de.Name(), "_failed_") {
			t.Errorf("kept copy %s left by a failed revert", de.Name())
		}
	}
	// Once the lock is gone the revert works.
	if _, err := (Driver{}).RevertToSnapshot(ctx, tgt, snap.Name, engine.RevertOptions{Dir: dir}); err != nil {
		t.Fatal(err)
	}
}

func TestCopyNames(t *testing.T) {
	n := namesFor("/j", "/data/my app.v2.sqlite3")
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	name := n.name("lifebelt", at)
	if !strings.HasPrefix(name, "/j/my_app.v2_lifebelt_") || !strings.HasSuffix(name, "_20260102_030405.sqlite3") {
		t.Errorf("name %s", name)
	}
	for file, want := range map[string]string{
		name:                 "snapshot",
		n.name("failed", at): "kept",
		strings.Replace(name, ".sqlite3", "_2.sqlite3", 1):              "snapshot",
		namesFor("/j", "/other/my app.v2.sqlite3").name("lifebelt", at): "",
		"/j/my_app.v2_lifebelt_xx.sqlite3":                              "",
		n.labeled("before release"):                                     "snapshot",
	} {
		kind, got, ok := n.parse(file)
		labeled := strings.Contains(file, "before_release")
		if kind != want || ok != (want != "") || ok && !labeled && !got.Equal(at) || labeled && !got.IsZero() {
			t.Errorf("parse(%s) = %q %v %v, want %q", file, kind, got, ok, want)
		}
	}
}
