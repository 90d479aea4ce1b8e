package postgres_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
)

// TestUndoKeepsReferredRows: undoing INSERTs keeps parent rows that rows
// added since refer to, through a partitioned parent (the foreign key is
// on the partitioned table, the row in a partition) and through a
// two-column key to a unique constraint that is not the primary key.
func TestUndoKeepsReferredRows(t *testing.T) {
	s, db := sessionOn(t,
		"CREATE TABLE part (id integer PRIMARY KEY) PARTITION BY RANGE (id)",
		"CREATE TABLE part_low PARTITION OF part FOR VALUES FROM (0) TO (100)",
		"CREATE TABLE part_high PARTITION OF part FOR VALUES FROM (100) TO (200)",
		"CREATE TABLE pref (id integer PRIMARY KEY, pid integer REFERENCES part ON DELETE CASCADE)",
		`CREATE TABLE pair (id integer PRIMARY KEY, a text NOT NULL, b integer NOT NULL, UNIQUE (a, b))`,
		`CREATE TABLE "pair ref" (id integer PRIMARY KEY, "x a" text, "x b" integer, FOREIGN KEY ("x a", "x b") REFERENCES pair (a, b))`,
	)
	enginetest.CommitAll(t, s, "INSERT INTO part VALUES (5), (150); INSERT INTO pair VALUES (1, 'k', 1), (2, 'k', 2)")
	execAll(t, db, "INSERT INTO pref VALUES (1, 150)", `INSERT INTO "pair ref" VALUES (1, 'k', 2)`)
	rep := enginetest.UndoAll(t, s, engine.UndoOptions{})
	var got []string
	for _, c := range rep.Conflicts {
		got = append(got, c.Table+" "+engine.FormatRow(c.Key)+": "+c.Reason)
	}
	slices.Sort(got)
	want := []string{
		`public.pair ("2"): 1 row of public.pair ref refers to it and is not part of this undo; removing it would delete or orphan them (not forced)`,
		`public.part ("150"): 1 row of public.pref refers to it and is not part of this undo; removing it would delete or orphan them (not forced)`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("conflicts\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var rows string
	if err := db.QueryRow("SELECT (SELECT string_agg(id::text, ',' ORDER BY id) FROM part) || ' ' || (SELECT string_agg(id::text, ',' ORDER BY id) FROM pair) || ' ' || (SELECT count(*) FROM pref)").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != "150 2 1" {
		t.Errorf("rows after undo %q, want %q (unreferenced rows removed, referred ones and their referrers kept)", rows, "150 2 1")
	}
}

// TestUndoReferrersPostgres: rows added since that refer to a row undo
// would remove keep it (a conflict), compared in the referred column's
// nondeterministic collation and found through a foreign key that points
// at a partition; the session's own children, written before their
// parent, go with it; a foreign key on a column added since is checked
// without the journal having the column.
func TestUndoReferrersPostgres(t *testing.T) {
	t.Run("collation", func(t *testing.T) {
		s, db := sessionOn(t, "CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)",
			"CREATE TABLE p (id int PRIMARY KEY, code text COLLATE ci UNIQUE)",
			"CREATE TABLE c (id int PRIMARY KEY, pcode text REFERENCES p(code) ON DELETE CASCADE)")
		enginetest.CommitAll(t, s, "INSERT INTO p VALUES (1, 'abc')")
		execAll(t, db, "INSERT INTO c VALUES (10, 'ABC')")
		if rep := enginetest.UndoAll(t, s, engine.UndoOptions{}); len(rep.Conflicts) != 1 {
			t.Errorf("conflicts %v, want one", rep.Conflicts)
		}
		if got := enginetest.Joined(t, db, "SELECT (SELECT count(*) FROM p) || ' ' || (SELECT count(*) FROM c)"); got != "1 1" {
			t.Errorf("rows after undo %q, want both kept", got)
		}
	})
	t.Run("key to a partition", func(t *testing.T) {
		s, db := sessionOn(t, `CREATE SCHEMA "S q"`,
			`CREATE TABLE "S q"."pa rt" (id integer PRIMARY KEY) PARTITION BY RANGE (id)`,
			`CREATE TABLE "S q".part_low PARTITION OF "S q"."pa rt" FOR VALUES FROM (0) TO (100)`,
			`CREATE TABLE pref (id integer PRIMARY KEY, pid integer REFERENCES "S q".part_low ON DELETE CASCADE)`)
		enginetest.CommitAll(t, s, `INSERT INTO "S q"."pa rt" VALUES (5), (6)`)
		execAll(t, db, "INSERT INTO pref VALUES (1, 5)")
		if rep := enginetest.UndoAll(t, s, engine.UndoOptions{}); len(rep.Conflicts) != 1 {
			t.Errorf("conflicts %v, want one", rep.Conflicts)
		}
		if got := enginetest.Joined(t, db, `SELECT string_agg(id::text, ' ') FROM "S q"."pa rt"`); got != "5" {
			t.Errorf("parent rows after undo %q, want 5", got)
		}
	})
	t.Run("own child first", func(t *testing.T) {
		s, db := sessionOn(t, "CREATE TABLE p (id int PRIMARY KEY)",
			"CREATE TABLE c (id int PRIMARY KEY, pid int REFERENCES p DEFERRABLE INITIALLY DEFERRED)")
		enginetest.CommitAll(t, s, "INSERT INTO c VALUES (10, 3); INSERT INTO p VALUES (3)")
		if rep := enginetest.UndoAll(t, s, engine.UndoOptions{}); !rep.Complete() {
			t.Errorf("conflicts %v", rep.Conflicts)
		}
		if got := enginetest.Joined(t, db, "SELECT (SELECT count(*) FROM p) || ' ' || (SELECT count(*) FROM c)"); got != "0 0" {
			t.Errorf("rows after undo %q, want none", got)
		}
	})
	t.Run("char key", func(t *testing.T) {
		// char(n) compares without trailing blanks; text would not.
		s, db := sessionOn(t, "CREATE TABLE p (code char(5) PRIMARY KEY)", "CREATE TABLE c (id int PRIMARY KEY, code text REFERENCES p)")
		enginetest.CommitAll(t, s, "INSERT INTO p VALUES ('ab')")
		execAll(t, db, "INSERT INTO c VALUES (1, 'ab  ')")
		if rep := enginetest.UndoAll(t, s, engine.UndoOptions{}); len(rep.Conflicts) != 1 {
			t.Errorf("conflicts %v, want one", rep.Conflicts)
		}
		if got := enginetest.Joined(t, db, "SELECT count(*) FROM p"); got != "1" {
			t.Errorf("parent rows after undo %s, want 1", got)
		}
	})
	t.Run("leaf key", func(t *testing.T) {
		// The partition's own key is not unique across the partitioned
		// table: another partition's row with the same id, and its
		// referrer, are not this row's.
		s, db := sessionOn(t, "CREATE TABLE part (id int NOT NULL, r int NOT NULL, UNIQUE (id, r)) PARTITION BY LIST (r)",
			"CREATE TABLE part_1 PARTITION OF part (PRIMARY KEY (id)) FOR VALUES IN (1)",
			"CREATE TABLE part_2 PARTITION OF part FOR VALUES IN (2)",
			"CREATE TABLE c (id int PRIMARY KEY, pid int, pr int, FOREIGN KEY (pid, pr) REFERENCES part (id, r))")
		enginetest.CommitAll(t, s, "INSERT INTO part_1 VALUES (7, 1)")
		execAll(t, db, "INSERT INTO part VALUES (7, 2)", "INSERT INTO c VALUES (1, 7, 2)")
		if rep := enginetest.UndoAll(t, s, engine.UndoOptions{}); !rep.Complete() {
			t.Errorf("conflicts %v", rep.Conflicts)
		}
		if got := enginetest.Joined(t, db, "SELECT count(*) FROM part"); got != "1" {
			t.Errorf("rows after undo %s, want 1 (the other partition's)", got)
		}
	})
	t.Run("inheritance", func(t *testing.T) {
		// Rows of an inheritance child do not take part in the parent's
		// foreign key.
		s, db := sessionOn(t, "CREATE TABLE p (id int PRIMARY KEY)", "CREATE TABLE c (id int, pid int REFERENCES p)", "CREATE TABLE c_kid () INHERITS (c)")
		enginetest.CommitAll(t, s, "INSERT INTO p VALUES (1)")
		execAll(t, db, "INSERT INTO c_kid VALUES (1, 1)")
		if rep := enginetest.UndoAll(t, s, engine.UndoOptions{}); !rep.Complete() {
			t.Errorf("conflicts %v", rep.Conflicts)
		}
	})
	t.Run("self reference", func(t *testing.T) {
		s, db := sessionOn(t, "CREATE TABLE t (id int PRIMARY KEY, parent int REFERENCES t ON DELETE CASCADE)")
		enginetest.CommitAll(t, s, "INSERT INTO t VALUES (1, NULL)", "INSERT INTO t VALUES (5, 5), (6, 5)")
		execAll(t, db, "INSERT INTO t VALUES (2, 1)")
		if rep := enginetest.UndoAll(t, s, engine.UndoOptions{}); len(rep.Conflicts) != 1 {
			t.Errorf("conflicts %v, want one for row 1", rep.Conflicts)
		}
		if got := enginetest.Joined(t, db, "SELECT string_agg(id::text, ',' ORDER BY id) FROM t"); got != "1,2" {
			t.Errorf("rows after undo %q, want 1,2", got)
		}
	})
	t.Run("unreadable referrer", func(t *testing.T) {
		target := newTarget(t)
		db := openDB(t, target)
		var b [4]byte
		rand.Read(b[:])
		role := "lb_role_" + hex.EncodeToString(b[:])
		execAll(t, db, "CREATE ROLE "+role+" LOGIN", "CREATE TABLE p (id int PRIMARY KEY)", "GRANT ALL ON p TO "+role,
			"CREATE SCHEMA other", "CREATE TABLE other.c (id int PRIMARY KEY, pid int REFERENCES public.p)")
		t.Cleanup(func() {
			execAll(t, db, "DROP OWNED BY "+role, "DROP ROLE "+role)
		})
		u, err := url.Parse(target)
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.User(role)
		tg, err := engine.ParseTarget(u.String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := engine.Open(context.Background(), tg, engine.Options{JournalPath: filepath.Join(t.TempDir(), "j.lifebelt"), Operator: "test"})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		enginetest.CommitAll(t, s, "INSERT INTO p VALUES (1)")
		rep := enginetest.UndoAll(t, s, engine.UndoOptions{})
		if len(rep.Conflicts) != 1 || !strings.Contains(rep.Conflicts[0].Reason, "cannot be counted") {
			t.Errorf("conflicts %v, want one saying the referrers cannot be counted", rep.Conflicts)
		}
	})
	t.Run("new column", func(t *testing.T) {
		s, db := sessionOn(t, "CREATE TABLE p (id int PRIMARY KEY)")
		enginetest.CommitAll(t, s, "INSERT INTO p VALUES (3), (4)")
		execAll(t, db, "ALTER TABLE p ADD COLUMN code text UNIQUE", "UPDATE p SET code = 'k' || id",
			"CREATE TABLE c (id int PRIMARY KEY, pcode text REFERENCES p(code))", "INSERT INTO c VALUES (1, 'k4')")
		if rep := enginetest.UndoAll(t, s, engine.UndoOptions{}); len(rep.Conflicts) != 1 {
			t.Errorf("conflicts %v, want one for row 4", rep.Conflicts)
		}
		if got := enginetest.Joined(t, db, "SELECT string_agg(id::text, ' ') FROM p"); got != "4" {
			t.Errorf("parent rows after undo %q, want 4", got)
		}
	})
}

func execAll(t *testing.T, db *sql.DB, qs ...string) {
	t.Helper()
	for _, q := range qs {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}
