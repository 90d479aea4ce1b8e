package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
)

// TestUndoReferencesKeyTypes: the reference check compares as the
// foreign key does, with its own equality operator: char(n) pads, bit(n)
// keeps its length, a text child refers to a varchar key, 1.5 equals
// 1.50 in numeric, and a partitioned parent is found through the
// partition the rows were written to.
func TestUndoReferencesKeyTypes(t *testing.T) {
	s, db := sessionOn(t,
		"CREATE TABLE cp (k char(3) PRIMARY KEY)", "CREATE TABLE cc (id int PRIMARY KEY, k char(3) REFERENCES cp)",
		"CREATE TABLE bp (k bit(3) PRIMARY KEY)", "CREATE TABLE bc (id int PRIMARY KEY, k bit(3) REFERENCES bp)",
		"CREATE TABLE vp (k varchar(10) PRIMARY KEY)", "CREATE TABLE vc (id int PRIMARY KEY, k text REFERENCES vp)",
		"CREATE TABLE np (k numeric PRIMARY KEY)", "CREATE TABLE nc (id int PRIMARY KEY, k numeric REFERENCES np)",
		"CREATE TABLE pp (k int PRIMARY KEY) PARTITION BY RANGE (k)",
		"CREATE TABLE pp1 PARTITION OF pp FOR VALUES FROM (0) TO (100)",
		"CREATE TABLE pc (id int PRIMARY KEY, k int REFERENCES pp)",
		"CREATE SCHEMA other", "CREATE TABLE other.sp (a int, b text, PRIMARY KEY (a, b))",
		"CREATE TABLE sc (id int PRIMARY KEY, a int, b text, FOREIGN KEY (a, b) REFERENCES other.sp)",
	)
	enginetest.CommitAll(t, s,
		"INSERT INTO cp VALUES ('ab'), ('zz')", "INSERT INTO bp VALUES (B'101'), (B'111')", "INSERT INTO vp VALUES ('x'), ('y')",
		"INSERT INTO np VALUES (1.50), (2)", "INSERT INTO pp VALUES (1), (2)", "INSERT INTO pp1 VALUES (3)",
		"INSERT INTO other.sp VALUES (1, 'a'), (2, 'b')")
	enginetest.ExecAll(t, db, "INSERT INTO cc VALUES (1, 'ab ')", "INSERT INTO bc VALUES (1, B'101')", "INSERT INTO vc VALUES (1, 'x')",
		"INSERT INTO nc VALUES (1, 1.5)", "INSERT INTO pc VALUES (1, 1), (2, 3)", "INSERT INTO sc VALUES (1, 1, 'a'), (2, 2, NULL)")
	rep, err := s.Undo(context.Background(), engine.UndoOptions{})
	var re *engine.ReferenceError
	if !errors.As(err, &re) {
		t.Fatalf("undo = %+v, %v; want it refused", rep, err)
	}
	var got []string
	for _, d := range re.Dangling {
		got = append(got, d.FK.Child.Name+":"+engine.FormatRow(d.Values))
	}
	slices.Sort(got)
	want := []string{`bc:("101")`, `cc:("ab ")`, `nc:("1.5")`, `pc:("1")`, `pc:("3")`, `sc:("1", "a")`, `vc:("x")`}
	if !slices.Equal(got, want) {
		t.Errorf("refused for\n%q\nwant\n%q", got, want)
	}
	count := "SELECT (SELECT count(*) FROM cp) + (SELECT count(*) FROM bp) + (SELECT count(*) FROM vp) + (SELECT count(*) FROM np) + (SELECT count(*) FROM pp) + (SELECT count(*) FROM other.sp)"
	if got := enginetest.Joined(t, db, count); got != "13" {
		t.Errorf("%s parent rows after the refused undo, want 13", got)
	}
	enginetest.ExecAll(t, db, "DELETE FROM cc", "DELETE FROM bc", "DELETE FROM vc", "DELETE FROM nc", "DELETE FROM pc", "DELETE FROM sc WHERE b IS NOT NULL")
	if rep := enginetest.UndoAll(t, s, engine.UndoOptions{}); !rep.Complete() {
		t.Fatalf("undo left conflicts %v", rep.Conflicts)
	}
	if got := enginetest.Joined(t, db, count); got != "0" {
		t.Errorf("%s parent rows after undo, want 0", got)
	}
}

// TestUndoWithoutReplicaRole: a role that may not set
// session_replication_role undoes with foreign-key actions on. Undoing
// the INSERT of a parent that others have since given children would
// delete them (ON DELETE CASCADE) or clear their reference (SET NULL):
// the change counters show it and the undo is refused, rows untouched.
// With the children gone, the same undo goes through, as does one that
// removes a parent together with the children it inserted.
func TestUndoWithoutReplicaRole(t *testing.T) {
	ctx := context.Background()
	target := harness.NewTarget(t)
	db := harness.Open(t, target)
	var b [4]byte
	rand.Read(b[:])
	role := "lb_nosuper_" + hex.EncodeToString(b[:])
	enginetest.ExecAll(t, db, "CREATE ROLE "+role+" LOGIN",
		"CREATE TABLE p (id int PRIMARY KEY)",
		"CREATE TABLE c (id int PRIMARY KEY, pid int REFERENCES p ON DELETE CASCADE)",
		"CREATE TABLE n (id int PRIMARY KEY, pid int REFERENCES p ON DELETE SET NULL)",
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "+role)
	t.Cleanup(func() {
		db.Exec("DROP OWNED BY " + role)
		db.Exec("DROP ROLE " + role)
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
	s, err := engine.Open(ctx, tg, engine.Options{JournalPath: filepath.Join(t.TempDir(), "j.lifebelt")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })

	seqs := enginetest.CommitAll(t, s, "INSERT INTO p VALUES (1), (2)")
	enginetest.ExecAll(t, db, "INSERT INTO c VALUES (10, 1)", "INSERT INTO n VALUES (20, 2)")
	_, err = s.Undo(ctx, engine.UndoOptions{Entries: seqs})
	if err == nil || !strings.Contains(err.Error(), "ON DELETE or ON UPDATE action") {
		t.Fatalf("undo: %v; want it refused for the foreign-key actions", err)
	}
	if got := enginetest.Joined(t, db, "SELECT (SELECT string_agg(id::text, ' ' ORDER BY id) FROM p) || '|' || (SELECT count(*) FROM c) || '|' || (SELECT pid FROM n)"); got != "1 2|1|2" {
		t.Errorf("rows after the refused undo %s, want 1 2|1|2", got)
	}
	enginetest.ExecAll(t, db, "DELETE FROM c", "DELETE FROM n")
	if rep := enginetest.UndoAll(t, s, engine.UndoOptions{Entries: seqs}); !rep.Complete() {
		t.Fatalf("undo left conflicts %v", rep.Conflicts)
	}
	more := enginetest.CommitAll(t, s, "INSERT INTO p VALUES (3); INSERT INTO c VALUES (30, 3), (31, 3)")
	if rep := enginetest.UndoAll(t, s, engine.UndoOptions{Entries: more}); !rep.Complete() {
		t.Fatalf("undo left conflicts %v", rep.Conflicts)
	}
	if got := enginetest.Joined(t, db, "SELECT (SELECT count(*) FROM p) + (SELECT count(*) FROM c) + (SELECT count(*) FROM n)"); got != "0" {
		t.Errorf("%s rows left after undo, want 0", got)
	}
}
