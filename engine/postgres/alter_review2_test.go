package postgres_test

// Second review of the PostgreSQL ALTER TABLE undo (6380cd1..9daa0c3).

import (
	"context"
	"strings"
	"testing"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
	"lifebelt/journal"
)

// imagedValues lists every value of every before-image of an entry.
func imagedValues(t *testing.T, s *engine.Session, seq int64) string {
	t.Helper()
	var out []string
	err := s.Journal().ImageChunks(seq, false, 1000, func(imgs []journal.Image) error {
		for _, im := range imgs {
			out = append(out, engine.FormatRow(im.Before))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, " ")
}

// A forced revert of ADD COLUMN on an inheritance parent: undo counts the
// values in the children (README), and DROP COLUMN drops the children's
// column too, but ImageTable reads ONLY the parent: someone's value in a
// child is destroyed without being imaged.
func TestReview2ForcedRevertChildValuesNotImaged(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE p (id int PRIMARY KEY)`, `CREATE TABLE ch () INHERITS (p)`,
		`INSERT INTO p VALUES (1)`, `INSERT INTO ch VALUES (10)`)
	enginetest.CommitAll(t, s, `ALTER TABLE p ADD COLUMN c int`)
	enginetest.ExecAll(t, db, `UPDATE ch SET c = 4242 WHERE id = 10`) // someone's value, in the child
	rep := undoAll(t, s, engine.UndoOptions{Force: true})
	if rep.Forced == 0 {
		t.Fatalf("forced undo: forced %d, conflicts %q", rep.Forced, reasons(rep))
	}
	if got := enginetest.Joined(t, db, `SELECT count(*) FROM pg_attribute WHERE attrelid = 'ch'::regclass AND attname = 'c' AND NOT attisdropped`); got != "0" {
		t.Fatalf("the child kept the column: %s", got)
	}
	if vals := imagedValues(t, s, rep.Seq); !strings.Contains(vals, "4242") {
		t.Errorf("the forced undo destroyed ch's value 4242 without imaging it; its images: %s", vals)
	}
}

// A forced revert of ADD COLUMN after an UPDATE of another column: the
// undo's row image and the forced images share a table handle, and the
// undo of the undo skips both (the UPDATE is not re-applied).
func TestReview2ForcedRevertSkipsRows(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, v text)`, `INSERT INTO t VALUES (1, 'a'), (2, 'b')`)
	enginetest.CommitAll(t, s, `ALTER TABLE t ADD COLUMN c int`, `UPDATE t SET v = 'z' WHERE id = 1`)
	enginetest.ExecAll(t, db, `UPDATE t SET c = 7 WHERE id = 2`)
	rep := undoAll(t, s, engine.UndoOptions{Force: true})
	if got := enginetest.Joined(t, db, `SELECT string_agg(id || v, ',' ORDER BY id) FROM t`); got != "1a,2b" {
		t.Fatalf("rows after the forced undo: %s (conflicts %q)", got, reasons(rep))
	}
	rep2 := undoAll(t, s, engine.UndoOptions{Entries: []int64{rep.Seq}})
	t.Logf("undo of the undo: conflicts %q skipped %q", reasons(rep2), rep2.Skipped)
	if got := enginetest.Joined(t, db, `SELECT string_agg(id || v || ':' || coalesce(c::text, '-'), ',' ORDER BY id) FROM t`); got != "1z:-,2b:-" {
		t.Errorf("rows after undoing the forced undo: %s, want 1z:-,2b:-", got)
	}
}

// A forced undo of CREATE TABLE of a partitioned table someone attached a
// partition to (with rows): the DROP takes someone's partition with it,
// undoing that undo cannot put the rows back.
func TestReview2ForcedDropCreatedPartitioned(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE keep (x int)`)
	enginetest.CommitAll(t, s, `CREATE TABLE n (id int, v text) PARTITION BY RANGE (id)`)
	enginetest.ExecAll(t, db, `CREATE TABLE n1 PARTITION OF n FOR VALUES FROM (0) TO (100)`, `INSERT INTO n VALUES (5, 'x')`)
	rep, err := s.Undo(context.Background(), engine.UndoOptions{Force: true})
	if err != nil {
		t.Fatalf("forced undo: %v", err)
	}
	t.Logf("forced undo: conflicts %q skipped %q", reasons(rep), rep.Skipped)
	if enginetest.Joined(t, db, `SELECT count(*) FROM pg_class WHERE relname = 'n'`) != "0" {
		t.Skip("not dropped")
	}
	rep2, err := s.Undo(context.Background(), engine.UndoOptions{Entries: []int64{rep.Seq}})
	if err != nil {
		t.Fatalf("undo of the forced undo (README: brings the rows back): %v", err)
	}
	if got := enginetest.Joined(t, db, `SELECT coalesce(string_agg(id || v, ','), '') FROM n`); got != "5x" {
		t.Errorf("rows of n after undoing the forced undo: %q; conflicts %q skipped %q", got, reasons(rep2), rep2.Skipped)
	}
}

// The shared handle on a forced drop of a created table: the undo's own
// row images (undoing INSERT and UPDATE) and the forced images are all
// re-inserted when the undo is undone.
func TestReview2ForcedDropCreatedSharedHandle(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE keep (x int)`)
	enginetest.CommitAll(t, s, `CREATE TABLE n (id int PRIMARY KEY, v text)`, `INSERT INTO n VALUES (1, 'a')`, `UPDATE n SET v = 'b' WHERE id = 1`)
	enginetest.ExecAll(t, db, `INSERT INTO n VALUES (2, 'x')`)
	rep := undoAll(t, s, engine.UndoOptions{Force: true})
	if len(rep.Conflicts) != 0 {
		t.Fatalf("forced undo: conflicts %q", reasons(rep))
	}
	rep2, err := s.Undo(context.Background(), engine.UndoOptions{Entries: []int64{rep.Seq}})
	if err != nil {
		t.Fatalf("undo of the forced undo: %v", err)
	}
	if got := enginetest.Joined(t, db, `SELECT string_agg(id || v, ',' ORDER BY id) FROM n`); got != "1b,2x" {
		t.Errorf("rows of n after undoing the forced undo: %s; conflicts %q", got, reasons(rep2))
	}
}

// DROP TABLE ... CASCADE of a filled table with a dependent view, and an
// ALTER of another filled table with rows around it; CREATE OR REPLACE
// VIEW on the altered table. Undo, undo of undo, third and fourth undo.
func TestReview2CascadeReplaceThrice(t *testing.T) {
	s, db := sessionOn(t,
		`CREATE TABLE a (id int PRIMARY KEY, v text)`, `CREATE TABLE b (id int PRIMARY KEY, w text)`,
		`INSERT INTO a VALUES (1, 'a1'), (2, 'a2')`, `INSERT INTO b VALUES (1, 'b1'), (2, 'b2')`,
		`CREATE VIEW av AS SELECT id, v FROM a`, `CREATE VIEW bv AS SELECT id, w FROM b`)
	state := func() string {
		st := enginetest.Joined(t, db, `SELECT string_agg(relname || ':' || relkind::text, ',' ORDER BY relname) FROM pg_class WHERE relnamespace = 'public'::regnamespace`)
		st += " | " + enginetest.Joined(t, db, `SELECT string_agg(c.relname || '=' || pg_get_viewdef(c.oid), ';' ORDER BY c.relname) FROM pg_class c WHERE relnamespace = 'public'::regnamespace AND relkind = 'v'`)
		for _, tb := range []string{"a", "b", "b2"} {
			if enginetest.Joined(t, db, `SELECT count(*) FROM pg_class WHERE relname = '`+tb+`' AND relnamespace = 'public'::regnamespace`) == "1" {
				st += " | " + tb + ": " + enginetest.Joined(t, db, `SELECT string_agg(x::text, ';' ORDER BY x::text) FROM `+tb+` x`)
			}
		}
		return st
	}
	s0 := state()
	enginetest.CommitAll(t, s,
		`UPDATE b SET w = 'bx' WHERE id = 1`,
		`ALTER TABLE b ADD COLUMN c int`,
		`UPDATE b SET c = 3, w = 'by' WHERE id = 2`,
		`CREATE OR REPLACE VIEW bv AS SELECT id, w || c::text AS w FROM b`,
		`ALTER TABLE b RENAME TO b2`,
		`UPDATE a SET v = 'ax' WHERE id = 1`,
		`DROP TABLE a CASCADE`,
		`INSERT INTO b2 VALUES (3, 'b3', 4)`)
	s1 := state()
	steps := []string{s0, s1, s0, s1}
	seq := int64(0)
	for i, want := range steps {
		opt := engine.UndoOptions{}
		if seq != 0 {
			opt.Entries = []int64{seq}
		}
		rep, err := s.Undo(context.Background(), opt)
		if err != nil {
			t.Fatalf("undo %d: %v", i+1, err)
		}
		if !rep.Complete() {
			t.Errorf("undo %d: conflicts %q skipped %q", i+1, reasons(rep), rep.Skipped)
		}
		if got := state(); got != want {
			t.Errorf("after undo %d:\n%s\nwant\n%s", i+1, got, want)
		}
		seq = rep.Seq
	}
}

// Pre-existing (4df3406 too): undoing CREATE OR REPLACE VIEW that added a
// column runs CREATE OR REPLACE VIEW with the old definition, which
// PostgreSQL refuses ("cannot drop columns from view"): the whole undo
// fails instead of a conflict, here together with an ADD COLUMN revert.
func TestReview2ReplaceViewAddedColumnPreexisting(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE b (id int PRIMARY KEY, w text)`, `INSERT INTO b VALUES (1, 'b1')`, `CREATE VIEW bv AS SELECT id FROM b`)
	enginetest.CommitAll(t, s, `ALTER TABLE b ADD COLUMN c int`, `CREATE OR REPLACE VIEW bv AS SELECT id, c FROM b`)
	rep, err := s.Undo(context.Background(), engine.UndoOptions{})
	if err != nil {
		t.Fatalf("undo: %v", err)
	}
	t.Logf("undo: conflicts %q skipped %q; bv: %s", reasons(rep), rep.Skipped, enginetest.Joined(t, db, `SELECT pg_get_viewdef('bv'::regclass)`))
}

// CREATE TABLE, rows, ADD COLUMN, rows, RENAME COLUMN, RENAME CONSTRAINT:
// undo, and undo of undo of undo of undo.
func TestReview2CreateAlterFourTimes(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE keep (x int)`)
	state := func() string {
		st := enginetest.Joined(t, db, `SELECT coalesce(string_agg(relname || ':' || relkind::text, ',' ORDER BY relname), '') FROM pg_class WHERE relnamespace = 'public'::regnamespace`)
		if enginetest.Joined(t, db, `SELECT count(*) FROM pg_class WHERE relname = 'n'`) == "1" {
			st += " | " + enginetest.Joined(t, db, columnsOf, "n") + " | " + enginetest.Joined(t, db, `SELECT string_agg(x::text, ';' ORDER BY x::text) FROM n x`)
			st += " | " + enginetest.Joined(t, db, `SELECT string_agg(conname, ',' ORDER BY conname) FROM pg_constraint WHERE conrelid = 'n'::regclass`)
		}
		return st
	}
	s0 := state()
	enginetest.CommitAll(t, s,
		`CREATE TABLE n (id serial PRIMARY KEY, v text)`,
		`INSERT INTO n (v) VALUES ('a'), ('b')`,
		`ALTER TABLE n ADD COLUMN c int`,
		`UPDATE n SET c = 5, v = 'z' WHERE id = 1`,
		`ALTER TABLE n RENAME COLUMN c TO d`,
		`ALTER TABLE n RENAME CONSTRAINT n_pkey TO n_pk`,
		`DELETE FROM n WHERE id = 2`)
	s1 := state()
	seq := int64(0)
	for i, want := range []string{s0, s1, s0, s1} {
		opt := engine.UndoOptions{}
		if seq != 0 {
			opt.Entries = []int64{seq}
		}
		rep, err := s.Undo(context.Background(), opt)
		if err != nil {
			t.Fatalf("undo %d: %v", i+1, err)
		}
		if !rep.Complete() {
			t.Errorf("undo %d: conflicts %q skipped %q", i+1, reasons(rep), rep.Skipped)
		}
		if got := state(); got != want {
			t.Errorf("after undo %d:\n%s\nwant\n%s", i+1, got, want)
		}
		seq = rep.Seq
	}
}

// A forced undo of CREATE TABLE of a table someone made an inheritance
// child of, with rows in the child only.
func TestReview2ForcedDropCreatedInheritedChild(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE keep (x int)`)
	enginetest.CommitAll(t, s, `CREATE TABLE n (id int, v text)`)
	enginetest.ExecAll(t, db, `CREATE TABLE nc () INHERITS (n)`, `INSERT INTO nc VALUES (5, 'x')`)
	rep, err := s.Undo(context.Background(), engine.UndoOptions{Force: true})
	if err != nil {
		t.Fatalf("forced undo: %v", err)
	}
	t.Logf("forced undo: conflicts %q skipped %q", reasons(rep), rep.Skipped)
	if enginetest.Joined(t, db, `SELECT count(*) FROM pg_class WHERE relname = 'nc'`) == "0" {
		t.Errorf("the forced undo dropped someone's table nc; images: %s", imagedValues(t, s, rep.Seq))
	}
}

// laterUse with the later statement spelling the table schema-qualified,
// and the ALTER spelling it unqualified, on a table off public.
func TestReview2LaterUseSpelling(t *testing.T) {
	for _, c := range [][2]string{
		{`ALTER TABLE t RENAME COLUMN v TO w`, `UPDATE public.t SET w = 'z' WHERE id = 1`},
		{`ALTER TABLE public.t RENAME COLUMN v TO w`, `UPDATE t SET w = 'z' WHERE id = 1`},
		{`ALTER TABLE "T" RENAME COLUMN v TO w`, `UPDATE public."T" SET w = 'z' WHERE id = 1`},
		{`ALTER TABLE t RENAME TO u`, `UPDATE public.u SET v = 'z' WHERE id = 1`},
	} {
		t.Run(c[1], func(t *testing.T) {
			s, _ := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, v text)`, `CREATE TABLE "T" (id int PRIMARY KEY, v text)`, `INSERT INTO t VALUES (1, 'a')`, `INSERT INTO "T" VALUES (1, 'a')`)
			seqs := enginetest.CommitAll(t, s, c[0], c[1])
			rep := undoAll(t, s, engine.UndoOptions{Entries: seqs[:1]})
			if len(rep.Conflicts) != 1 || len(rep.Entries) != 0 {
				t.Errorf("undo of the rename alone: conflicts %q entries %v", reasons(rep), rep.Entries)
			}
		})
	}
}

// Whole-session undo where RENAME TO is refused (someone's index since):
// the earlier UPDATE, imaged under the old name, makes the whole undo fail
// instead of the conflict README promises.
func TestReview2RefusedRenameEarlierRows(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, v text)`, `INSERT INTO t VALUES (1, 'a'), (2, 'b')`)
	enginetest.CommitAll(t, s, `UPDATE t SET v = 'z' WHERE id = 1`, `ALTER TABLE t RENAME TO t2`)
	enginetest.ExecAll(t, db, `CREATE INDEX someone ON t2 (v)`)
	rep, err := s.Undo(context.Background(), engine.UndoOptions{})
	if err != nil {
		t.Fatalf("undo: %v", err)
	}
	t.Logf("undo: conflicts %q entries %v", reasons(rep), rep.Entries)
}

// Which ADD COLUMN statements image rows, and when their revert is
// refused, does their entry stay committed?
func TestReview2KeptWithImages(t *testing.T) {
	for _, alter := range []string{
		`ALTER TABLE t ADD COLUMN c float DEFAULT random()`,
		`ALTER TABLE t ADD COLUMN c int GENERATED ALWAYS AS IDENTITY`,
		`ALTER TABLE t ADD COLUMN c serial`,
		`ALTER TABLE t ADD COLUMN c int GENERATED ALWAYS AS (id * 2) STORED`,
		`ALTER TABLE t ADD COLUMN c int DEFAULT 1, ADD COLUMN d text`,
	} {
		t.Run(alter, func(t *testing.T) {
			s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, v text)`, `INSERT INTO t VALUES (1, 'a'), (2, 'b')`)
			seqs := enginetest.CommitAll(t, s, alter)
			e, err := s.Journal().Entry(seqs[0])
			if err != nil {
				t.Fatal(err)
			}
			enginetest.ExecAll(t, db, `CREATE INDEX someone ON t (v)`)
			rep := undoAll(t, s, engine.UndoOptions{})
			t.Logf("images %d; undo: conflicts %q entries %v skipped %q", e.ImageCount, reasons(rep), rep.Entries, rep.Skipped)
			if len(rep.Conflicts) > 0 && len(rep.Entries) > 0 {
				t.Errorf("the ALTER was refused and left in place, yet its entry is reported undone: %v", rep.Entries)
			}
		})
	}
}
