package postgres_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
)

// R3-1: a table without a key with a GENERATED ALWAYS identity column.
// UPDATE ... SET id = DEFAULT changes it; undo now calls Update, which
// leaves ALWAYS identity columns "in the key" out of the SET list (for a
// KeyRow table every column is in the key), so id keeps the new value.
func TestReview3KeylessIdentityAlways(t *testing.T) {
	s, db := sessionOn(t,
		`CREATE TABLE ki (id int GENERATED ALWAYS AS IDENTITY, v text)`,
		`INSERT INTO ki (v) VALUES ('a')`)
	rvCommit(t, s, `UPDATE ki SET id = DEFAULT, v = 'b'`)
	rep, err := s.Undo(context.Background(), engine.UndoOptions{})
	if err != nil || !rep.Complete() {
		t.Fatalf("undo: %v %+v", err, rep)
	}
	if got := enginetest.Joined(t, db, `SELECT id || '|' || v FROM ki`); got != "1|a" {
		t.Errorf("after undo ki = %q, want 1|a", got)
	}
}

// R3-2: the re-read of foreign keys at the end of checkReferences refuses
// a key the undo itself brought back: entry 1 drops an empty child c that
// refers to p, entry 2 updates p. Undoing both writes p (keys read: none
// from c), then re-creates c (no rows: its keys are never read), and the
// final re-read of p's keys finds c's key "created while undo ran".
func TestReview3RecreatedEmptyChildFalseRefusal(t *testing.T) {
	s, db := sessionOn(t,
		`CREATE TABLE p (id int PRIMARY KEY, v text)`,
		`CREATE TABLE c (id int PRIMARY KEY, pid int REFERENCES p)`,
		`INSERT INTO p VALUES (1, 'a')`)
	rvCommit(t, s, `DROP TABLE c`)
	rvCommit(t, s, `UPDATE p SET v = 'b'`)
	rep, err := s.Undo(context.Background(), engine.UndoOptions{})
	if err != nil {
		t.Fatalf("undo refused: %v", err)
	}
	if !rep.Complete() {
		t.Fatalf("undo incomplete: %+v", rep)
	}
	if got := enginetest.Joined(t, db, `SELECT v FROM p`); got != "a" {
		t.Errorf("p.v = %q", got)
	}
}

// R3-2b: same, but c had rows: PostgreSQL re-creates its foreign key in
// PostData, after the rows (tracked with c's keys as they were then).
func TestReview3RecreatedChildWithRowsFalseRefusal(t *testing.T) {
	s, db := sessionOn(t,
		`CREATE TABLE p (id int PRIMARY KEY, v text)`,
		`CREATE TABLE c (id int PRIMARY KEY, pid int REFERENCES p)`,
		`INSERT INTO p VALUES (1, 'a')`, `INSERT INTO c VALUES (1, 1)`)
	rvCommit(t, s, `DROP TABLE c`)
	rvCommit(t, s, `UPDATE p SET v = 'b'`)
	rep, err := s.Undo(context.Background(), engine.UndoOptions{})
	if err != nil {
		t.Fatalf("undo refused: %v", err)
	}
	if !rep.Complete() {
		t.Fatalf("undo incomplete: %+v", rep)
	}
	if got := enginetest.Joined(t, db, `SELECT count(*) FROM c`); got != "1" {
		t.Errorf("c rows = %q", got)
	}
}

// R3-4: the exported undo script for the same UPDATE on tables with a
// GENERATED ALWAYS identity column (keyless and keyed): the script sets
// every non-generated column, which PostgreSQL refuses for an ALWAYS
// identity column.
func TestReview3ScriptIdentityAlways(t *testing.T) {
	for _, pk := range []string{"", " PRIMARY KEY"} {
		t.Run("pk="+pk, func(t *testing.T) {
			s, db := sessionOn(t,
				`CREATE TABLE ki (id int GENERATED ALWAYS AS IDENTITY`+pk+`, v text)`,
				`INSERT INTO ki (v) VALUES ('a')`)
			rvCommit(t, s, `UPDATE ki SET v = 'b'`)
			d, _ := engine.Lookup("postgres")
			var buf bytes.Buffer
			if err := engine.WriteUndoScript(s.Journal(), d.(engine.Scripter), nil, &buf); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(buf.String()); err != nil {
				t.Fatalf("running the undo script: %v\n%s", err, buf.String())
			}
			if got := enginetest.Joined(t, db, `SELECT id || '|' || v FROM ki`); got != "1|a" {
				t.Errorf("after the script ki = %q, want 1|a", got)
			}
		})
	}
}

// Checked correct: keyless undo (Update path) with duplicates, NULLs, -0,
// NaN, json, a swap, and the undo of the undo.
func TestReview3KeylessRoundTrip(t *testing.T) {
	s, db := sessionOn(t,
		`CREATE TABLE kl (a int, f float8, j json, b text, g text GENERATED ALWAYS AS (b || '!') STORED)`,
		`INSERT INTO kl (a, f, j, b) VALUES (1, '-0', '{"x": 1}', 'x'), (1, '-0', '{"x": 1}', 'x'), (2, 'NaN', NULL, 'y'), (3, NULL, '[1, 2]', NULL), (4, 0, '{"x":1}', 'y')`)
	dump := `SELECT string_agg(concat_ws('|', a, f, j, coalesce(b, 'N'), coalesce(g, 'N')), ',' ORDER BY a, f, j::text, b) FROM kl`
	orig := enginetest.Joined(t, db, dump)
	rvCommit(t, s, `UPDATE kl SET b = CASE b WHEN 'x' THEN 'y' WHEN 'y' THEN 'x' ELSE 'n' END, f = -f`)
	changed := enginetest.Joined(t, db, dump)
	rep, err := s.Undo(context.Background(), engine.UndoOptions{})
	if err != nil || !rep.Complete() {
		t.Fatalf("undo: %v %+v", err, rep)
	}
	if got := enginetest.Joined(t, db, dump); got != orig {
		t.Errorf("after undo\n%s\nwant\n%s", got, orig)
	}
	rep2, err := s.Undo(context.Background(), engine.UndoOptions{Entries: []int64{rep.Seq}})
	if err != nil || !rep2.Complete() {
		t.Fatalf("undo of undo: %v %+v", err, rep2)
	}
	if got := enginetest.Joined(t, db, dump); got != changed {
		t.Errorf("after undo of undo\n%s\nwant\n%s", got, changed)
	}
}

// R3-5: a referencing column added since whose rows get a value without a
// column default: an identity column, or a domain with a default.
// pg_attribute.atthasdef is false for both; ChildDefault must still be
// set, and the undo refused.
func TestReview3AddedChildColumnImplicitDefault(t *testing.T) {
	for name, col := range map[string]string{
		"identity":       `pid int GENERATED BY DEFAULT AS IDENTITY (START 7)`,
		"domain default": `pid d7`,
	} {
		t.Run(name, func(t *testing.T) {
			s, db := sessionOn(t,
				`CREATE DOMAIN d7 AS int DEFAULT 7`,
				`CREATE TABLE p (id int PRIMARY KEY)`,
				`CREATE TABLE c (id int PRIMARY KEY, v text)`,
				`INSERT INTO c VALUES (1, 'a')`)
			rvCommit(t, s, `DELETE FROM c`)
			rvExec(t, db, `ALTER TABLE c ADD COLUMN `+col+` REFERENCES p`)
			_, err := s.Undo(context.Background(), engine.UndoOptions{})
			if err == nil || !strings.Contains(err.Error(), "which has a default") {
				t.Fatalf("Undo: %v; want it refused for the added column's default", err)
			}
			if n := rvInt(t, db, `SELECT count(*) FROM c WHERE pid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM p WHERE p.id = c.pid)`); n != 0 {
				t.Errorf("%d rows of c refer to nothing", n)
			}
		})
	}
}
