package sqlite_test

// Review 14: what the refusal of a destructive statement says it would
// destroy (commit 6da00fa, engine/sqlite/destroys.go, engine/execute.go).
// Run: go test ./engine/sqlite/ -run TestReview14 -count=1

import (
	"context"
	"errors"
	"strings"
	"testing"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
)

func refusal14(t *testing.T, s *engine.Session, q string) *engine.ConfirmationError {
	t.Helper()
	_, err := s.Execute(context.Background(), q, engine.ExecuteOptions{})
	var ce *engine.ConfirmationError
	if !errors.As(err, &ce) {
		t.Fatalf("%s without --confirm: want a ConfirmationError, got %v", q, err)
	}
	return ce
}

// mentions() compares every token of a view's or trigger's SQL with the
// table's name, keywords included. A table named like a keyword ("select",
// "order", "group", "key", "values" ... all legal quoted) is then "named"
// by every view and by every trigger whose body has a SELECT: the refusal
// lists objects that have nothing to do with it.
//
//	CREATE TABLE "select" (id INTEGER PRIMARY KEY); CREATE VIEW v AS SELECT id FROM other;
//	lifebelt exec --target sqlite:x.db -c 'DROP TABLE "select"'   -> "... view v names it ..."
//
// Expected: only views and triggers that name the table as an identifier
// (a quoted "select", not the keyword).
func TestReview14KeywordTableNamedByEveryView(t *testing.T) {
	s, _ := enginetest.SessionOn(t, harness, `CREATE TABLE "select" (id INTEGER PRIMARY KEY)`,
		`CREATE TABLE other (id INTEGER PRIMARY KEY, a TEXT)`, `CREATE VIEW v AS SELECT id, a FROM other`)
	ce := refusal14(t, s, `DROP TABLE "select"`)
	for _, f := range ce.Destroys {
		if strings.HasPrefix(f, "view v ") {
			t.Errorf("view v (SELECT id, a FROM other) is said to name table \"select\": %q", ce.Destroys)
		}
	}
}

// SQLite schema names are case-insensitive (DROP TABLE MAIN.t drops
// main.t), but DescribeDestruction compares the qualifier with "main"
// exactly and skips anything else: DROP TABLE MAIN.t, Main.t ... are
// refused with nothing said about the table and its rows.
//
//	lifebelt exec --target sqlite:x.db -c "DROP TABLE MAIN.p"   -> "(DROP TABLE on MAIN.p) is destructive; confirm ..."
//
// Expected: the same description as for DROP TABLE main.p / DROP TABLE p.
func TestReview14UpperCaseMainNotDescribed(t *testing.T) {
	s, _ := enginetest.SessionOn(t, harness, `CREATE TABLE p (id INTEGER PRIMARY KEY)`, `INSERT INTO p VALUES (1), (2), (3)`)
	ce := refusal14(t, s, `DROP TABLE MAIN.p`)
	if !strings.Contains(ce.Error(), "3 row(s)") {
		t.Errorf("DROP TABLE MAIN.p: the refusal says nothing of p's 3 rows: %q", ce.Error())
	}
}

// Only the main database is described, and by the unqualified name: when
// the connection has a temporary table of the same name (the window keeps
// one connection for the session; a batch can CREATE TEMP TABLE before
// its DROP), SQLite's DROP TABLE t drops temp.t, yet the refusal
// describes main.t with its rows, views and foreign keys - an object the
// statement does not touch - and says nothing of temp.t.
//
//	CREATE TEMP TABLE p AS SELECT 1 AS x; DROP TABLE p      (main.p has 3 rows)
//	-> "statement 2 (DROP TABLE on p) is destructive (table p with 3 row(s); ...)"
//
// Expected: the refusal describes temp.p (the table the DROP resolves to),
// not main.p.
func TestReview14TempTableShadowedDescribesMain(t *testing.T) {
	s, _ := enginetest.SessionOn(t, harness, `CREATE TABLE p (id INTEGER PRIMARY KEY)`, `INSERT INTO p VALUES (1), (2), (3)`)
	pend, err := s.Execute(context.Background(), `CREATE TEMP TABLE p (x)`, engine.ExecuteOptions{AllowUnguarded: true})
	if err != nil {
		t.Skipf("cannot create a temporary table in the session: %v", err)
	}
	if err := pend.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	ce := refusal14(t, s, `DROP TABLE p`)
	if strings.Contains(ce.Error(), "3 row(s)") {
		t.Errorf("DROP TABLE p would drop temp.p (0 rows); the refusal describes main.p: %q", ce.Destroys)
	}
}

// --confirm confirms the whole batch, but the refusal describes only the
// first destructive statement: a batch "DROP TABLE a; DROP TABLE b" is
// refused with a's rows and dependents only. The DBA confirms after
// reading it, and b (with its rows) goes without ever having been shown.
//
//	lifebelt exec --target sqlite:x.db -c "DROP TABLE a; DROP TABLE b"
//	-> "statement 1 (DROP TABLE on a) is destructive (table a with 1 row(s)); confirm by naming ..."
//
// Expected: the refusal lists what every destructive statement of the
// batch would destroy (b with its 2 rows too), since one confirmation
// runs them all.
func TestReview14BatchRefusalDescribesFirstStatementOnly(t *testing.T) {
	s, _ := enginetest.SessionOn(t, harness, `CREATE TABLE a (id INTEGER PRIMARY KEY)`, `INSERT INTO a VALUES (1)`,
		`CREATE TABLE b (id INTEGER PRIMARY KEY)`, `INSERT INTO b VALUES (1), (2)`)
	ce := refusal14(t, s, `DROP TABLE a; DROP TABLE b`)
	if !strings.Contains(ce.Error(), "table b") {
		t.Errorf("the batch's confirmation also drops b, but the refusal says only %q", ce.Error())
	}
}

// ALTER TABLE ... DROP COLUMN is described as the whole table with its
// rows and every view naming the table; the column it destroys is named
// nowhere, and views that do not use the column are listed as if at
// stake. (PostgreSQL does the same: TestReview14DropColumnRefusalNamesNoColumn.)
//
//	lifebelt exec --target sqlite:x.db -c "ALTER TABLE t DROP COLUMN secret_col"
//	-> "(ALTER TABLE … DROP COLUMN on t) is destructive (table t with 3 row(s); view v_keep names it)"
//
// Expected: the column named, with the rows whose values go, and only the
// views that use it.
func TestReview14DropColumnRefusalNamesNoColumn(t *testing.T) {
	s, _ := enginetest.SessionOn(t, harness, `CREATE TABLE t (id INTEGER PRIMARY KEY, keep TEXT, secret_col TEXT)`,
		`INSERT INTO t VALUES (1, 'a', 'x'), (2, 'b', 'y'), (3, 'c', 'z')`,
		`CREATE VIEW v_keep AS SELECT id, keep FROM t`)
	ce := refusal14(t, s, `ALTER TABLE t DROP COLUMN secret_col`)
	if !strings.Contains(ce.Error(), "secret_col") {
		t.Errorf("the refusal of DROP COLUMN secret_col does not name the column: %q", ce.Error())
	}
	for _, f := range ce.Destroys {
		if strings.Contains(f, "v_keep") {
			t.Errorf("the refusal lists view v_keep, which does not use secret_col: %q", ce.Destroys)
		}
	}
}
