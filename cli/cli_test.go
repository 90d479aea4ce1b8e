package cli

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/zalando/go-keyring"
)

func init() { keyring.MockInit() }

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(args, strings.NewReader(""), &out, &errb)
	return result{code, out.String(), errb.String()}
}

// newDB creates a SQLite target with a small table and returns its path.
func newDB(t *testing.T) string {
	t.Helper()
	t.Setenv("LIFEBELT_JOURNAL_DIR", filepath.Join(t.TempDir(), "journals"))
	path := filepath.Join(t.TempDir(), "shop.db")
	if err := CreateSQLite(path, `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER);
		INSERT INTO items VALUES (1,'bolt',10),(2,'nut',20),(3,'washer',30);`); err != nil {
		t.Fatal(err)
	}
	return path
}

func dump(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT id, name, qty FROM items ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id, qty int
		var name string
		rows.Scan(&id, &name, &qty)
		fmt.Fprintf(&b, "%d:%s:%d;", id, name, qty)
	}
	return b.String()
}

func journalOf(t *testing.T, out string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if p, ok := strings.CutPrefix(l, "journal: "); ok {
			return p
		}
	}
	t.Fatalf("no journal path in output:\n%s", out)
	return ""
}

func TestUsageErrorsExit2WithOneSentence(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"exec", "-c", "SELECT 1"},
		{"exec", "--target", "sqlite:x.db"},
		{"exec", "--target", "sqlite:x.db", "-c", "SELECT 1", "-f", "x.sql"},
		{"exec", "--target", "mysql://x/y", "-c", "SELECT 1"},
		{"exec", "--bogus"},
		{"undo"},
		{"undo", "a", "b"},
		{"undo", "j.lifebelt", "--entry", "x"},
		{"journal"},
		{"journal", "export", "x", "--format", "xml"},
	} {
		r := run(t, args...)
		if r.code != ExitUsage {
			t.Errorf("%q: exit %d, want %d (stderr %q)", args, r.code, ExitUsage, r.stderr)
		}
		first := strings.SplitN(r.stderr, "\n", 2)[0]
		if !strings.HasPrefix(first, "lifebelt: ") || !strings.HasSuffix(first, ".") || strings.Contains(r.stderr, "goroutine") {
			t.Errorf("%q: stderr does not start with one sentence: %q", args, r.stderr)
		}
	}
}

func TestExecShowVerifyExportUndo(t *testing.T) {
	db := newDB(t)
	before := dump(t, db)
	r := run(t, "exec", "--target", "sqlite:"+db, "--reason", "TICKET-7", "-c", "UPDATE items SET qty = qty + 1 WHERE id <= 2; DELETE FROM items WHERE id = 3")
	if r.code != ExitOK {
		t.Fatalf("exec: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "2 row(s)") || !strings.Contains(r.stdout, "committed: batch 1, 2 statement(s), 3 row(s) changed") {
		t.Errorf("exec output:\n%s", r.stdout)
	}
	if got := dump(t, db); got != "1:bolt:11;2:nut:21;" {
		t.Fatalf("after exec: %s", got)
	}
	j := journalOf(t, r.stdout)
	if fi, err := os.Stat(j); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("journal %s: %v mode %v", j, err, fi.Mode())
	}

	r = run(t, "journal", "show", j)
	if r.code != 0 || !strings.Contains(r.stdout, "TICKET-7") || strings.Count(r.stdout, "committed") < 2 {
		t.Errorf("journal show:\n%s%s", r.stdout, r.stderr)
	}
	r = run(t, "journal", "show", j, "--entry", "2")
	if r.code != 0 || !strings.Contains(r.stdout, "D items key (3)") || !strings.Contains(r.stdout, "name: washer") {
		t.Errorf("journal show --entry 2:\n%s%s", r.stdout, r.stderr)
	}
	r = run(t, "journal", "verify", j)
	if r.code != 0 || !strings.Contains(r.stdout, "hash chain intact") {
		t.Errorf("verify: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = run(t, "journal", "export", j, "--format", "json")
	var doc struct {
		Entries []struct {
			Images []struct {
				Op     string
				Before []any
			}
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || len(doc.Entries) < 2 || len(doc.Entries[1].Images) != 1 || doc.Entries[1].Images[0].Op != "D" {
		t.Errorf("json export (%v): %.500s", err, r.stdout)
	}
	script := filepath.Join(t.TempDir(), "undo.sql")
	if r = run(t, "undo", j, "--script", script); r.code != 0 {
		t.Fatalf("undo --script: %s", r.stderr)
	}
	if b, _ := os.ReadFile(script); !strings.Contains(string(b), `INSERT INTO "items"`) {
		t.Errorf("script:\n%s", b)
	}

	r = run(t, "undo", j, "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, "dry run") || dump(t, db) != "1:bolt:11;2:nut:21;" {
		t.Fatalf("dry run changed data or failed: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = run(t, "undo", j)
	if r.code != 0 {
		t.Fatalf("undo: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if got := dump(t, db); got != before {
		t.Fatalf("after undo %s, want %s", got, before)
	}
	if r = run(t, "journal", "verify", j); r.code != 0 {
		t.Errorf("verify after undo: %s", r.stdout)
	}
}

func TestUndoConflictExits3AndKeepsOthersChange(t *testing.T) {
	db := newDB(t)
	r := run(t, "exec", "--target", "sqlite:"+db, "-c", "UPDATE items SET qty = 0 WHERE id IN (1, 2)")
	if r.code != 0 {
		t.Fatalf("exec: %s", r.stderr)
	}
	j := journalOf(t, r.stdout)
	other, err := sql.Open("sqlite3", "file:"+db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Exec("UPDATE items SET qty = 99 WHERE id = 2"); err != nil {
		t.Fatal(err)
	}
	other.Close()
	r = run(t, "undo", j)
	if r.code != ExitConflicts {
		t.Fatalf("undo exit %d, want %d: %s %s", r.code, ExitConflicts, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "conflict: entry 1, items key (2): the row was changed since") {
		t.Errorf("conflict not listed:\n%s", r.stdout)
	}
	if got := dump(t, db); got != "1:bolt:10;2:nut:99;3:washer:30;" {
		t.Errorf("after undo with a conflict: %s", got)
	}
}

// TestUndoAlter: journal show says how undo reverts an added column;
// undo refuses while a row holds a value someone wrote into it (exit 3),
// and drops it with --force.
func TestUndoAlter(t *testing.T) {
	db := newDB(t)
	r := run(t, "exec", "--target", "sqlite:"+db, "-c", "ALTER TABLE items ADD COLUMN note TEXT")
	if r.code != 0 {
		t.Fatalf("exec: %s", r.stderr)
	}
	j := journalOf(t, r.stdout)
	r = run(t, "journal", "show", j, "--entry", "1")
	if !strings.Contains(r.stdout, "undo reverts it, while the table has the definition after, with:\n    ALTER TABLE main.\"items\" DROP COLUMN \"note\";") {
		t.Errorf("journal show --entry 1:\n%s", r.stdout)
	}
	other, err := sql.Open("sqlite3", "file:"+db)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Exec("UPDATE items SET note = 'keep me' WHERE id = 2"); err != nil {
		t.Fatal(err)
	}
	r = run(t, "undo", j, "--dry-run")
	if r.code != ExitConflicts || !strings.Contains(r.stdout, "conflict: entry 1, items: 1 row(s) of items hold values in column note, which the ALTER added empty: dropping the column would lose them; the ALTER was not undone") {
		t.Fatalf("undo exit %d, want %d:\n%s%s", r.code, ExitConflicts, r.stdout, r.stderr)
	}
	r = run(t, "undo", j, "--force")
	if r.code != 0 {
		t.Fatalf("undo --force exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	var n int
	if err := other.QueryRow("SELECT count(*) FROM pragma_table_info('items') WHERE name = 'note'").Scan(&n); err != nil || n != 0 {
		t.Errorf("the column is still there after undo --force (%d, %v)", n, err)
	}
}

// TestUndoRefusedForReferences: undoing an INSERT whose row another
// client has since given a child would delete the child (ON DELETE
// CASCADE) or leave it referring to nothing; the undo is refused, the
// referring rows listed, and nothing changes.
func TestUndoRefusedForReferences(t *testing.T) {
	db := newDB(t)
	other, err := sql.Open("sqlite3", "file:"+db+"?_foreign_keys=1")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Exec("CREATE TABLE lines (id integer PRIMARY KEY, item integer REFERENCES items ON DELETE CASCADE)"); err != nil {
		t.Fatal(err)
	}
	r := run(t, "exec", "--target", "sqlite:"+db, "-c", "INSERT INTO items VALUES (4, 'gear', 40)")
	if r.code != 0 {
		t.Fatalf("exec: %s", r.stderr)
	}
	j := journalOf(t, r.stdout)
	if _, err := other.Exec("INSERT INTO lines VALUES (1, 4), (2, 4)"); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"undo", j, "--dry-run"}, {"undo", j}, {"undo", j, "--force"}} {
		r = run(t, args...)
		if r.code != ExitFailed || !strings.Contains(r.stderr, "undo refused, nothing was changed") {
			t.Fatalf("%v: exit %d, want %d with a refusal: %s %s", args, r.code, ExitFailed, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout, "refers to nothing: 2 row(s) of main.lines with (item) = (4) refer to a row of main.items that undo would remove") {
			t.Errorf("%v: the referring rows are not listed:\n%s", args, r.stdout)
		}
		if strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%v: the refusal is not one line:\n%s", args, r.stderr)
		}
	}
	if got := dump(t, db); got != "1:bolt:10;2:nut:20;3:washer:30;4:gear:40;" {
		t.Errorf("after the refused undo: %s", got)
	}
	var n int
	if err := other.QueryRow("SELECT count(*) FROM lines").Scan(&n); err != nil || n != 2 {
		t.Errorf("the children after the refused undo: %d rows (%v), want 2", n, err)
	}
}

func TestDestructiveNeedsConfirmAndMaxRows(t *testing.T) {
	db := newDB(t)
	r := run(t, "exec", "--target", "sqlite:"+db, "-c", "DELETE FROM items")
	if r.code != ExitFailed || !strings.Contains(r.stderr, `confirm by naming the database "shop.db"`) {
		t.Fatalf("unconfirmed DELETE: %d %s", r.code, r.stderr)
	}
	r = run(t, "exec", "--target", "sqlite:"+db, "--confirm", "shop.db", "--max-rows", "2", "-c", "DELETE FROM items")
	if r.code != ExitFailed || !strings.Contains(r.stderr, "3 rows changed, the limit is 2; rolled back") {
		t.Fatalf("max-rows: %d %s", r.code, r.stderr)
	}
	if dump(t, db) != "1:bolt:10;2:nut:20;3:washer:30;" {
		t.Fatal("rows changed despite refusal")
	}
	r = run(t, "exec", "--target", "sqlite:"+db, "-c", "BEGIN; DELETE FROM items WHERE id = 1; COMMIT")
	if r.code != ExitFailed || !strings.Contains(r.stderr, "controls the transaction") {
		t.Fatalf("BEGIN accepted: %d %s", r.code, r.stderr)
	}
	r = run(t, "exec", "--target", "sqlite:"+db, "-c", "UPDATE items SET qty = 1 WHERE id = 1; UPDATE nosuch SET x = 1")
	if r.code != ExitFailed || dump(t, db) != "1:bolt:10;2:nut:20;3:washer:30;" {
		t.Fatalf("failed batch not all-or-nothing: %d %s", r.code, dump(t, db))
	}
	r = run(t, "exec", "--target", "sqlite:"+filepath.Join(t.TempDir(), "missing.db"), "-c", "SELECT 1")
	if r.code != ExitFailed || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Fatalf("missing file: %d %q", r.code, r.stderr)
	}
}

func TestJournalRefusedForAnotherDatabase(t *testing.T) {
	db := newDB(t)
	r := run(t, "exec", "--target", "sqlite:"+db, "-c", "UPDATE items SET qty = 1 WHERE id = 1")
	j := journalOf(t, r.stdout)
	db2 := filepath.Join(filepath.Dir(db), "other.db")
	if err := CreateSQLite(db2, "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER);"); err != nil {
		t.Fatal(err)
	}
	r = run(t, "exec", "--target", "sqlite:"+db2, "--journal", j, "-c", "DELETE FROM items WHERE id = 1")
	if r.code != ExitFailed || !strings.Contains(r.stderr, "belongs to sqlite database") {
		t.Fatalf("journal of another database accepted: %d %s", r.code, r.stderr)
	}
	if r = run(t, "journal", "verify", "/nonexistent/j.lifebelt"); r.code != ExitFailed {
		t.Errorf("verify of a missing file: %d", r.code)
	}
}

// TestPostgresExecUndo runs the CLI against the real PostgreSQL server.
func TestPostgresExecUndo(t *testing.T) {
	base := os.Getenv("LIFEBELT_TEST_POSTGRES")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL unreachable under CI: %v", err)
		}
		t.Skipf("PostgreSQL unreachable: %v", err)
	}
	// Cleanups run last-registered first: the drop below runs before this.
	t.Cleanup(func() { admin.Close(ctx) })
	name := fmt.Sprintf("lb_cli_%d", rand.Int63())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(ctx, "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("dropping test database %s: %v", name, err)
		}
	})
	target := strings.Replace(base, "/test?", "/"+name+"?", 1)
	t.Setenv("LIFEBELT_JOURNAL_DIR", t.TempDir())
	conn, err := pgx.Connect(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE acct (id serial PRIMARY KEY, owner text, balance numeric(12,2));
		INSERT INTO acct (owner, balance) VALUES ('ann', 10.50), ('bob', 20.25)`); err != nil {
		t.Fatal(err)
	}
	sum := func() string {
		var s string
		conn.QueryRow(ctx, "SELECT coalesce(string_agg(id||':'||owner||':'||balance, ';' ORDER BY id), '') FROM acct").Scan(&s)
		return s
	}
	orig := sum()
	r := run(t, "exec", "--target", target, "--confirm", name, "-c", "UPDATE acct SET balance = balance * 2; DELETE FROM acct WHERE owner = 'bob'")
	if r.code != 0 || sum() != "1:ann:21.00" {
		t.Fatalf("exec: %d %s %s; rows %s", r.code, r.stdout, r.stderr, sum())
	}
	j := journalOf(t, r.stdout)
	if b, _ := os.ReadFile(j); bytes.Contains(b, []byte("password")) {
		t.Error("journal mentions a password")
	}
	if r = run(t, "undo", j); r.code != 0 || sum() != orig {
		t.Fatalf("undo: %d %s %s; rows %s want %s", r.code, r.stdout, r.stderr, sum(), orig)
	}
	// VACUUM cannot run in a transaction: refused, then run alone when allowed.
	if r = run(t, "exec", "--target", target, "-c", "VACUUM acct"); r.code != ExitFailed || !strings.Contains(r.stderr, "cannot guard") {
		t.Errorf("VACUUM without --allow-unguarded: %d %s", r.code, r.stderr)
	}
	if r = run(t, "exec", "--target", target, "--allow-unguarded", "-c", "VACUUM acct; SELECT 1"); r.code != ExitFailed || !strings.Contains(r.stderr, "must be alone in its batch") {
		t.Errorf("VACUUM in a batch: %d %s", r.code, r.stderr)
	}
	if r = run(t, "exec", "--target", target, "--allow-unguarded", "-c", "VACUUM acct"); r.code != 0 || !strings.Contains(r.stdout, "UNGUARDED") {
		t.Errorf("VACUUM with --allow-unguarded: %d %s %s", r.code, r.stdout, r.stderr)
	}
	// The serial sequence stays ahead of the re-inserted id.
	if _, err := conn.Exec(ctx, "INSERT INTO acct (owner, balance) VALUES ('cy', 1)"); err != nil {
		t.Fatalf("insert after undo: %v", err)
	}
}

func TestUnguardedNeedsFlagAndIsNotUndoable(t *testing.T) {
	db := newDB(t)
	r := run(t, "exec", "--target", "sqlite:"+db, "-c", "VACUUM")
	if r.code != ExitFailed || !strings.Contains(r.stderr, "cannot guard") {
		t.Fatalf("VACUUM without --allow-unguarded: %d %s", r.code, r.stderr)
	}
	r = run(t, "exec", "--target", "sqlite:"+db, "--allow-unguarded", "-c", "VACUUM")
	if r.code != 0 || !strings.Contains(r.stdout, "UNGUARDED") {
		t.Fatalf("VACUUM with --allow-unguarded: %d %s %s", r.code, r.stdout, r.stderr)
	}
	j := journalOf(t, r.stdout)
	if r = run(t, "journal", "show", j); !strings.Contains(r.stdout, "unguarded") {
		t.Errorf("journal does not mark the entry unguarded:\n%s", r.stdout)
	}
	r = run(t, "undo", j)
	if r.code != ExitConflicts || !strings.Contains(r.stdout, "ran unguarded and cannot be undone") {
		t.Errorf("undo of an unguarded session: %d %s %s", r.code, r.stdout, r.stderr)
	}
}

func TestJournalList(t *testing.T) {
	db := newDB(t)
	r := run(t, "exec", "--target", "sqlite:"+db, "--reason", "CHG-9", "-c", "UPDATE items SET qty = 2 WHERE id = 2")
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	j := journalOf(t, r.stdout)
	r = run(t, "journal", "list", filepath.Dir(j))
	if r.code != 0 || !strings.Contains(r.stdout, "CHG-9") || !strings.Contains(r.stdout, j) {
		t.Errorf("journal list:\n%s%s", r.stdout, r.stderr)
	}
	r = run(t, "journal", "list") // LIFEBELT_JOURNAL_DIR set by newDB
	if r.code != 0 || !strings.Contains(r.stdout, "CHG-9") {
		t.Errorf("journal list of the default directory:\n%s%s", r.stdout, r.stderr)
	}
}

// Scripts and exports never write over an SQLite file (the journal, the
// target), and a failed write leaves what was there.
func TestOutputNeverOverwritesDatabases(t *testing.T) {
	db := newDB(t)
	r := run(t, "exec", "--target", "sqlite:"+db, "-c", "UPDATE items SET qty = 0 WHERE id = 1")
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	j := journalOf(t, r.stdout)
	before := dump(t, db)
	jb, _ := os.ReadFile(j)
	for _, args := range [][]string{{"undo", j, "--script", j}, {"undo", j, "--script", db}, {"journal", "export", j, "--format", "json", "-o", j},
		{"journal", "export", j, "--format", "sql", "-o", db}} {
		r = run(t, args...)
		if r.code != ExitFailed || !strings.Contains(r.stderr, "refusing to write over") {
			t.Errorf("%v: %d %s", args, r.code, r.stderr)
		}
	}
	if got, _ := os.ReadFile(j); string(got) != string(jb) {
		t.Error("the journal changed")
	}
	if got := dump(t, db); got != before {
		t.Errorf("the database changed: %s", got)
	}
	// An ordinary file is replaced whole.
	out := filepath.Join(t.TempDir(), "undo.sql")
	os.WriteFile(out, []byte("old text that is longer than nothing\n"), 0o600)
	if r = run(t, "undo", j, "--script", out); r.code != 0 {
		t.Fatalf("undo --script over a text file: %s", r.stderr)
	}
	if b, _ := os.ReadFile(out); strings.Contains(string(b), "old text") || !strings.Contains(string(b), "UPDATE") {
		t.Errorf("script:\n%s", b)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("script mode: %v %v", fi.Mode(), err)
	}
}

// Help exits 0; a journal directory not made yet is "no journals"; an
// undo with nothing left says so.
func TestHelpEmptyListNothingToUndo(t *testing.T) {
	for _, args := range [][]string{{"exec", "--help"}, {"undo", "-h"}, {"journal", "list", "--help"}} {
		if r := run(t, args...); r.code != ExitOK || !strings.Contains(r.stderr, "lifebelt exec") {
			t.Errorf("%v: %d %s", args, r.code, r.stderr)
		}
	}
	t.Setenv("LIFEBELT_JOURNAL_DIR", filepath.Join(t.TempDir(), "not-yet"))
	if r := run(t, "journal", "list"); r.code != ExitOK || !strings.Contains(r.stdout, "no journals yet") {
		t.Errorf("journal list before any journal: %d %s %s", r.code, r.stdout, r.stderr)
	}
	db := newDB(t)
	r := run(t, "exec", "--target", "sqlite:"+db, "-c", "UPDATE items SET qty = 0 WHERE id = 1")
	j := journalOf(t, r.stdout)
	if r = run(t, "undo", j); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if r = run(t, "undo", j); r.code != 0 || !strings.Contains(r.stdout, "nothing to undo") {
		t.Errorf("second undo: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = run(t, "exec", "--target", "sqlite:"+db, "-c", "VACUUM")
	if !strings.Contains(r.stderr, "--allow-unguarded") {
		t.Errorf("refusal does not name the flag: %s", r.stderr)
	}
}

// Undo, its dry run and its script refuse a journal whose hash chain
// fails: here an image's table renamed to another table.
func TestUndoRefusesTamperedJournal(t *testing.T) {
	db := newDB(t)
	if err := CreateSQLite(db+".other", `CREATE TABLE x (id INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	r := run(t, "exec", "--target", "sqlite:"+db, "--confirm", "shop.db", "-c", "CREATE TABLE spare (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER); DELETE FROM items WHERE id = 1")
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	j := journalOf(t, r.stdout)
	jdb, err := sql.Open("sqlite3", j)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jdb.Exec(`UPDATE image_tables SET name = 'spare' WHERE name = 'items'`); err != nil {
		t.Fatal(err)
	}
	jdb.Close()
	before := dump(t, db)
	for _, args := range [][]string{{"undo", j}, {"undo", j, "--dry-run"}, {"undo", j, "--script", "-"}, {"journal", "export", j, "--format", "sql"}} {
		r = run(t, args...)
		if r.code != ExitFailed || !strings.Contains(r.stderr, "fails verification") {
			t.Errorf("%v: %d %s %s", args, r.code, r.stdout, r.stderr)
		}
	}
	if got := dump(t, db); got != before {
		t.Errorf("the database changed: %s", got)
	}
}

// An exported SQLite undo script run by the sqlite3 shell stops at the
// first failing statement, and what it did before rolls back (the shell
// goes on after errors and would commit the rest).
func TestSQLiteScriptStopsAtFirstError(t *testing.T) {
	shell, err := exec.LookPath("sqlite3")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("the sqlite3 shell is missing (.ci/run installs it)")
		}
		t.Skip("no sqlite3 shell")
	}
	db := newDB(t)
	r := run(t, "exec", "--target", "sqlite:"+db, "-c", "UPDATE items SET qty = 0 WHERE id = 1")
	j := journalOf(t, r.stdout)
	if r = run(t, "exec", "--target", "sqlite:"+db, "--journal", j, "-c", "UPDATE items SET name = 'x' WHERE id = 2"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	script := filepath.Join(t.TempDir(), "undo.sql")
	if r = run(t, "undo", j, "--script", script); r.code != 0 {
		t.Fatal(r.stderr)
	}
	// Someone's trigger now refuses the change to row 1; the script
	// undoes entry 2 (row 2) first, then fails on row 1.
	if out, err := exec.Command(shell, db, `CREATE TRIGGER boom BEFORE UPDATE ON items WHEN NEW.id = 1 BEGIN SELECT RAISE(ABORT, 'boom'); END`).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	before := dump(t, db)
	cmd := exec.Command(shell, db)
	f, err := os.Open(script)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd.Stdin = f
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "boom") {
		t.Fatalf("the script did not fail on the trigger: %v %s", err, out)
	}
	if got := dump(t, db); got != before {
		t.Errorf("the failed script changed rows: %s, want %s", got, before)
	}
}

// A dry run of a journal nobody may write (kept read-only, attached to a
// ticket) runs on a copy; the journal is untouched.
func TestDryRunOfReadOnlyJournal(t *testing.T) {
	db := newDB(t)
	r := run(t, "exec", "--target", "sqlite:"+db, "-c", "UPDATE items SET qty = 0 WHERE id = 1")
	j := journalOf(t, r.stdout)
	lock := func(on bool) error {
		flag := "-i"
		if on {
			flag = "+i"
		}
		return exec.Command("chattr", flag, j).Run()
	}
	if os.Geteuid() == 0 {
		if err := lock(true); err != nil {
			t.Skipf("chattr +i is not available here: %v", err)
		}
		defer lock(false)
	} else if err := os.Chmod(j, 0o400); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(j)
	r = run(t, "undo", j, "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, "uses a copy") || !strings.Contains(r.stdout, "would be undone") {
		t.Fatalf("dry run of a read-only journal: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if after, _ := os.ReadFile(j); string(after) != string(before) {
		t.Error("the journal changed")
	}
	if got := dump(t, db); !strings.HasPrefix(got, "1:bolt:0;") {
		t.Errorf("the dry run changed the database: %s", got)
	}
	// Continuing the session in it is refused up front, in one sentence.
	r = run(t, "exec", "--target", "sqlite:"+db, "--journal", j, "-c", "UPDATE items SET qty = 5 WHERE id = 2")
	if r.code != ExitFailed || !strings.Contains(r.stderr, "cannot be written") || strings.Contains(r.stderr, "statement 1") {
		t.Errorf("exec into a read-only journal: %d %s", r.code, r.stderr)
	}
}

// journal show marks the rows an ALTER imaged (dropped column values) as
// kept for reference, not as deleted rows undo would put back, and says
// that undo fills the dropped column from them. DROP COLUMN needs the
// confirmation naming the database.
func TestShowKeptRows(t *testing.T) {
	db := newDB(t)
	r := run(t, "exec", "--target", "sqlite:"+db, "-c", "ALTER TABLE items DROP COLUMN qty")
	if r.code != ExitFailed || !strings.Contains(r.stderr, "ALTER TABLE … DROP COLUMN on items) is destructive") {
		t.Fatalf("DROP COLUMN without --confirm: %d %s", r.code, r.stderr)
	}
	r = run(t, "exec", "--target", "sqlite:"+db, "--confirm", filepath.Base(db), "-c", "ALTER TABLE items DROP COLUMN qty")
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	j := journalOf(t, r.stdout)
	r = run(t, "journal", "show", j, "--entry", "1")
	if r.code != 0 || !strings.Contains(r.stdout, "kept for reference: undo puts back their values of column(s) qty, matched by key") ||
		!strings.Contains(r.stdout, "K items key (1)") || strings.Contains(r.stdout, "D items") ||
		!strings.Contains(r.stdout, "-- each row still there gets back its value of column(s) qty from the images, matched by key") {
		t.Errorf("journal show:\n%s%s", r.stdout, r.stderr)
	}
}
