package cli

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"lifebelt/journal"
)

// runCLI runs one command line and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := runCLI(t, args...)
	if code != ExitOK {
		t.Fatalf("lifebelt %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func sqliteRows(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var s string
	if err := db.QueryRow(`SELECT group_concat(id || '=' || v, ',') FROM (SELECT * FROM t ORDER BY id)`).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func entriesOf(t *testing.T, path string) []journal.Entry {
	t.Helper()
	j, err := journal.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	es, err := j.Entries()
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func lastOfKind(es []journal.Entry, kind string) journal.Entry {
	var e journal.Entry
	for _, x := range es {
		if x.Kind == kind {
			e = x
		}
	}
	return e
}

func committedStatements(es []journal.Entry, after int64) []int64 {
	var out []int64
	for _, e := range es {
		if e.Kind == journal.KindStatement && e.Seq > after && e.Status == journal.StatusPending {
			out = append(out, e.Seq)
		}
	}
	return out
}

func TestSafetyCommandsSQLite(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("LIFEBELT_JOURNAL_DIR", filepath.Join(dir, "journals"))
	path := filepath.Join(dir, "app.db")
	db, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, `INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')`} {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	target := "sqlite:" + path
	jpath := filepath.Join(dir, "journals", "session.lifebelt")
	original := sqliteRows(t, path)

	// Preflight before any backup: a warning says so.
	out := mustRun(t, "preflight", "--target", target, "--sample", "0s")
	if !strings.Contains(out, "WARNING  Lifebelt has never taken a backup") || !strings.Contains(out, "OK       No other process holds the write lock") {
		t.Errorf("preflight:\n%s", out)
	}

	// Snapshot, change, revert: the journal says what the revert undid.
	out = mustRun(t, "snapshot", "create", "--target", target, "--journal", jpath)
	if !strings.Contains(out, "snapshot ") || !strings.Contains(out, "journaled as entry 1") {
		t.Errorf("snapshot create:\n%s", out)
	}
	mustRun(t, "exec", "--target", target, "--journal", jpath, "-c", "UPDATE t SET v = 'changed' WHERE id = 2")
	mustRun(t, "exec", "--target", target, "--journal", jpath, "-c", "INSERT INTO t VALUES (4, 'd')")
	if sqliteRows(t, path) == original {
		t.Fatal("exec changed nothing")
	}
	code, _, errOut := runCLI(t, "snapshot", "revert", "--target", target, "--journal", jpath)
	if code != ExitFailed || !strings.Contains(errOut, "repeat with --confirm app.db") {
		t.Errorf("revert without --confirm: exit %d %s", code, errOut)
	}
	out = mustRun(t, "snapshot", "revert", "--target", target, "--journal", jpath, "--confirm", "app.db")
	if got := sqliteRows(t, path); got != original {
		t.Errorf("after revert %s, want %s", got, original)
	}
	es := entriesOf(t, jpath)
	snap := lastOfKind(es, journal.KindSnapshot)
	rev := lastOfKind(es, journal.KindRevert)
	want := committedStatements(es, snap.Seq)
	if len(want) != 2 || fmt.Sprint(rev.Refs) != fmt.Sprint(want) || rev.Status != journal.StatusCommitted || rev.Duration <= 0 {
		t.Errorf("revert entry %+v, want refs %v\n%s", rev, want, out)
	}
	if rev.Detail["kept"] == nil || !strings.Contains(out, "journal entries ") {
		t.Errorf("revert detail %v\n%s", rev.Detail, out)
	}
	if snap.Detail["name"] == nil || snap.Detail["size"] == nil {
		t.Errorf("snapshot detail %v", snap.Detail)
	}

	// Backup, change, restore.
	bpath := filepath.Join(dir, "app.backup")
	out = mustRun(t, "backup", "--target", target, "--to", bpath, "--journal", jpath)
	if !strings.Contains(out, "backup of "+path+" written to "+bpath) {
		t.Errorf("backup:\n%s", out)
	}
	mustRun(t, "exec", "--target", target, "--journal", jpath, "-c", "DELETE FROM t WHERE id = 1")
	out = mustRun(t, "restore", "--target", target, "--from", bpath, "--journal", jpath, "--confirm", path)
	if got := sqliteRows(t, path); got != original {
		t.Errorf("after restore %s, want %s\n%s", got, original, out)
	}
	es = entriesOf(t, jpath)
	bk := lastOfKind(es, journal.KindBackup)
	rs := lastOfKind(es, journal.KindRestore)
	if want := committedStatements(es, bk.Seq); len(want) != 1 || fmt.Sprint(rs.Refs) != fmt.Sprint(want) {
		t.Errorf("restore refs %v, want %v", rs.Refs, want)
	}

	if out := mustRun(t, "journal", "verify", jpath); !strings.Contains(out, "hash chain intact") {
		t.Errorf("journal verify:\n%s", out)
	}

	// The catalogue now has the backup: preflight says how old it is.
	out = mustRun(t, "preflight", "--target", target, "--sample", "0s")
	if !strings.Contains(out, "OK       The newest backup Lifebelt took of this database was written") {
		t.Errorf("preflight after a backup:\n%s", out)
	}
	out = mustRun(t, "snapshot", "list", "--target", target, "--journal", jpath)
	if strings.Count(out, "snapshot ") != 1 || strings.Count(out, "kept ") != 2 {
		t.Errorf("snapshot list:\n%s", out)
	}

	// Bad input: one sentence, exit 1, nothing changed.
	for _, args := range [][]string{
		{"restore", "--target", target, "--from", filepath.Join(dir, "missing.backup"), "--confirm", "app.db"},
		{"backup", "--target", target, "--to", bpath},
		{"snapshot", "revert", "nope.db", "--target", target, "--confirm", "app.db"},
		{"snapshot", "create", "--target", "sqlite:" + filepath.Join(dir, "gone.db")},
	} {
		code, out, errOut := runCLI(t, args...)
		if code != ExitFailed || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.HasPrefix(errOut, "lifebelt: ") {
			t.Errorf("lifebelt %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}
	if got := sqliteRows(t, path); got != original {
		t.Error("bad input changed the database")
	}
	// A journal of another database is refused.
	other := filepath.Join(dir, "other.db")
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCLI(t, "backup", "--target", "sqlite:"+other, "--to", filepath.Join(dir, "o.backup"), "--journal", jpath)
	if code != ExitFailed || !strings.Contains(errOut, "belongs to") {
		t.Errorf("foreign journal: exit %d %s", code, errOut)
	}
	// Usage errors.
	for _, args := range [][]string{{"backup", "--to", "x"}, {"snapshot"}, {"snapshot", "frob", "--target", target},
		{"restore", "--target", target}, {"snapshot", "create", "--target", target, "--end-sessions", "abc"}} {
		if code, _, errOut := runCLI(t, args...); code != ExitUsage {
			t.Errorf("lifebelt %s: exit %d %s", strings.Join(args, " "), code, errOut)
		}
	}
}

func TestSafetyCommandsPostgres(t *testing.T) {
	dsn := os.Getenv("LIFEBELT_TEST_POSTGRES")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL from LIFEBELT_TEST_POSTGRES is unreachable: %v", err)
		}
		t.Skipf("PostgreSQL is unreachable (set LIFEBELT_TEST_POSTGRES): %v", err)
	}
	t.Cleanup(func() { admin.Close(ctx) }) // after the drops below
	name := fmt.Sprintf("lbcli_%d", time.Now().UnixNano()%1e9)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		rows, err := admin.Query(ctx, `SELECT datname FROM pg_database WHERE starts_with(datname, $1)`, name)
		if err != nil {
			t.Errorf("listing test databases: %v", err)
			return
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || len(names) == 0 {
			t.Errorf("listing test databases: %v %v", names, err)
		}
		for _, n := range names {
			if _, err := admin.Exec(ctx, `DROP DATABASE `+pgx.Identifier{n}.Sanitize()+` WITH (FORCE)`); err != nil {
				t.Errorf("dropping %s: %v", n, err)
			}
		}
	})
	u, _ := url.Parse(dsn)
	u.Path = "/" + name
	target := u.String()
	dir := t.TempDir()
	t.Setenv("LIFEBELT_JOURNAL_DIR", dir)
	jpath := filepath.Join(dir, "pg.lifebelt")
	rows := func() string {
		c, err := pgx.Connect(ctx, target)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		var s string
		if err := c.QueryRow(ctx, `SELECT coalesce(string_agg(id || '=' || v, ',' ORDER BY id), '') FROM t`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	setup, err := pgx.Connect(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := setup.Exec(ctx, "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a'), (2, 'b')"); err != nil {
		t.Fatal(err)
	}
	setup.Close(ctx)
	original := rows()

	// Another session blocks the snapshot until the user names its pid.
	other, err := pgx.Connect(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	var pid int64
	other.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid)
	code, _, errOut := runCLI(t, "snapshot", "create", "--target", target, "--journal", jpath)
	if code != ExitFailed || !strings.Contains(errOut, fmt.Sprintf("pid %d", pid)) || !strings.Contains(errOut, "nothing was changed") ||
		!strings.Contains(errOut, fmt.Sprintf("repeat with --end-sessions %d", pid)) {
		t.Fatalf("snapshot with another session: exit %d %s", code, errOut)
	}
	if e := lastOfKind(entriesOf(t, jpath), journal.KindSnapshot); e.Status != journal.StatusFailed || e.Error == "" {
		t.Errorf("the refused snapshot is not journaled as failed: %+v", e)
	}
	out := mustRun(t, "snapshot", "create", "--target", target, "--journal", jpath, "--end-sessions", fmt.Sprint(pid))
	if !strings.Contains(out, name+"_lifebelt_") {
		t.Errorf("snapshot create:\n%s", out)
	}
	mustRun(t, "exec", "--target", target, "--journal", jpath, "-c", "UPDATE t SET v = 'x' WHERE id = 1")

	bpath := filepath.Join(dir, "pg.dump")
	_, _, errOut = runCLI(t, "backup", "--target", target, "--to", bpath, "--journal", jpath)
	if !strings.Contains(errOut, "backup: ") || !strings.Contains(errOut, "tables") {
		t.Errorf("no progress on stderr: %q", errOut)
	}
	if _, err := os.Stat(bpath); err != nil {
		t.Fatal(err)
	}
	out = mustRun(t, "snapshot", "revert", "--target", target, "--journal", jpath, "--confirm", name)
	if got := rows(); got != original {
		t.Errorf("after revert %s, want %s\n%s", got, original, out)
	}
	es := entriesOf(t, jpath)
	rev := lastOfKind(es, journal.KindRevert)
	if len(rev.Refs) != 1 || rev.Detail["new_id"] == nil {
		t.Errorf("revert entry %+v", rev)
	}
	// The reverted database has a new identity; the session's journal
	// follows it, and the backup taken before still counts for it in the
	// catalogue.
	mustRun(t, "snapshot", "list", "--target", target, "--journal", jpath)
	out = mustRun(t, "preflight", "--target", target, "--sample", "0s")
	if !strings.Contains(out, "The newest backup Lifebelt took of this database was written") {
		t.Errorf("preflight after revert:\n%s", out)
	}
	// Restore beside: no confirmation needed, target untouched.
	out = mustRun(t, "restore", "--target", target, "--from", bpath, "--as", name+"_copy")
	if !strings.Contains(out, "restored "+bpath+" into "+name+"_copy") {
		t.Errorf("restore --as:\n%s", out)
	}
	if got := rows(); got != original {
		t.Error("restore --as changed the target")
	}
}
