package sqlite

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lifebelt/engine"
)

func TestRegistered(t *testing.T) {
	d, err := engine.Lookup("sqlite")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.(engine.Scripter); !ok {
		t.Error("the sqlite driver does not implement engine.Scripter")
	}
}

// TestHookActive fails when the build lacks the sqlite_preupdate_hook tag
// (Open refuses) or the hook reports nothing: a guarded DELETE must image
// every row it deletes.
func TestHookActive(t *testing.T) {
	_, x := session(t, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1,'a'),(2,'b'),(3,'c');")
	res, sink := run(t, x, "DELETE FROM t WHERE id >= 2")
	if res.RowsAffected != 2 || len(sink.rows) != 2 {
		t.Fatalf("DELETE of 2 rows gave RowsAffected %d and %d images; is the pre-update hook compiled in (-tags sqlite_preupdate_hook)?", res.RowsAffected, len(sink.rows))
	}
}

func TestOpenMissingFileIsNotCreated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "typo.db")
	_, err := Driver{}.Open(context.Background(), engine.Target{Dialect: "sqlite", Path: path})
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("Open of a missing file: %v", err)
	}
	if fileExists(path) {
		t.Fatal("Open created the missing file")
	}
}

func TestOpenRejectsNonDatabase(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a database\n", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := (Driver{}).Open(context.Background(), engine.Target{Path: path}); err == nil || !strings.Contains(err.Error(), "file is not a database") {
		t.Fatalf("Open of a text file: %v", err)
	}
	if _, err := (Driver{}).Open(context.Background(), engine.Target{Path: dir}); err == nil {
		t.Fatal("Open of a directory succeeded")
	}
}

func TestIdentityResolvesSymlinks(t *testing.T) {
	real := newFile(t, "CREATE TABLE t(x)")
	link := filepath.Join(t.TempDir(), "link with space?.db")
	if err := os.Symlink(real, link); err != nil {
		t.Skip("symlinks unavailable:", err)
	}
	c := openConn(t, link)
	id, err := c.Identity(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want, _ := filepath.EvalSymlinks(real)
	if id.Dialect != "sqlite" || id.ID != want || id.Database != want {
		t.Errorf("Identity = %+v, want ID and Database %s", id, want)
	}
	if v := query(t, c, "SELECT sqlite_version()"); len(v) != 1 || v[0] != `("`+id.ServerVersion+`")` {
		t.Errorf("ServerVersion %q, sqlite_version() %v", id.ServerVersion, v)
	}
}

func TestSessionSettings(t *testing.T) {
	c, _ := session(t, "CREATE TABLE t(x)")
	if got := query(t, c, "PRAGMA foreign_keys"); got[0] != "(1)" {
		t.Errorf("foreign_keys = %v", got)
	}
	if got := query(t, c, "PRAGMA busy_timeout"); got[0] != "(5000)" {
		t.Errorf("busy_timeout = %v", got)
	}
}

// TestBeginHoldsWriteLock: BEGIN IMMEDIATE takes SQLite's single write
// lock at once, so no other connection can change rows mid-batch.
func TestBeginHoldsWriteLock(t *testing.T) {
	path := newFile(t, "CREATE TABLE t(x); INSERT INTO t VALUES (1);")
	c := openConn(t, path)
	x := begin(t, c)
	other, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Exec("UPDATE t SET x = 2"); err == nil || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("another connection wrote during the transaction: %v", err)
	}
	if _, err := c.Begin(context.Background()); err == nil {
		t.Error("a second Begin on the same connection succeeded")
	}
	if err := x.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Exec("UPDATE t SET x = 2"); err != nil {
		t.Fatalf("write after rollback: %v", err)
	}
}

func TestCommitAndRollback(t *testing.T) {
	path := newFile(t, "CREATE TABLE t(x)")
	c := openConn(t, path)
	x := begin(t, c)
	run(t, x, "INSERT INTO t VALUES (1)")
	if err := x.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	x = begin(t, c)
	run(t, x, "INSERT INTO t VALUES (2)")
	if err := x.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Exec(context.Background(), engine.Statement{Text: "INSERT INTO t VALUES (3)"}, &recSink{}, engine.ExecOptions{}); err == nil {
		t.Error("Exec after Rollback succeeded")
	}
	if err := x.Commit(context.Background()); err == nil {
		t.Error("Commit after Rollback succeeded")
	}
	c.Close()
	if got := query(t, openConn(t, path), "SELECT x FROM t"); strings.Join(got, " ") != "(1)" {
		t.Errorf("rows after commit+rollback: %v", got)
	}
}
