package postgres_test

import (
	"context"
	"strings"
	"testing"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
)

// reasons lists a report's conflict reasons.
func reasons(rep *engine.UndoReport) []string {
	var out []string
	for _, c := range rep.Conflicts {
		out = append(out, c.Reason)
	}
	return out
}

// Renaming back meets a name someone else has taken since: a conflict,
// not an error that aborts the whole undo (the row change is not undone).
func TestReviewRenameBackNameTaken(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, v int)`, `INSERT INTO t VALUES (1, 1)`,
		`CREATE TABLE other (id int PRIMARY KEY)`)
	enginetest.CommitAll(t, s, `ALTER TABLE t RENAME TO u`, `UPDATE other SET id = id`, `INSERT INTO other VALUES (5)`)
	enginetest.ExecAll(t, db, `CREATE TABLE t (x int)`) // someone else, after the session
	rep, err := s.Undo(context.Background(), engine.UndoOptions{})
	if err != nil {
		t.Fatalf("undo failed with an error instead of reporting a conflict: %v", err)
	}
	if len(rep.Conflicts) != 1 {
		t.Errorf("conflicts %q, want one for the taken name", reasons(rep))
	}
	if got := enginetest.Joined(t, db, `SELECT count(*) FROM other WHERE id = 5`); got != "0" {
		t.Errorf("the INSERT into other was not undone")
	}
}

// Same for a constraint (its index) name taken by another index.
func TestReviewRenameConstraintBackNameTaken(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE t (id int CONSTRAINT t_pkey PRIMARY KEY)`, `CREATE TABLE o (a int)`)
	enginetest.CommitAll(t, s, `ALTER TABLE t RENAME CONSTRAINT t_pkey TO t_pk`)
	enginetest.ExecAll(t, db, `CREATE INDEX t_pkey ON o (a)`) // someone else
	rep, err := s.Undo(context.Background(), engine.UndoOptions{})
	if err != nil {
		t.Fatalf("undo failed with an error instead of reporting a conflict: %v", err)
	}
	if len(rep.Conflicts) != 1 {
		t.Errorf("conflicts %q, want one", reasons(rep))
	}
}

// A view someone created on the added column: DROP COLUMN fails; undo
// should report a conflict and undo the rest, not abort.
func TestReviewDropAddedColumnViewDepends(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY)`, `INSERT INTO t VALUES (1)`, `CREATE TABLE o (id int)`)
	enginetest.CommitAll(t, s, `INSERT INTO o VALUES (1)`, `ALTER TABLE t ADD COLUMN c int`)
	enginetest.ExecAll(t, db, `CREATE VIEW vc AS SELECT id, c FROM t`) // someone else
	rep, err := s.Undo(context.Background(), engine.UndoOptions{})
	if err != nil {
		t.Fatalf("undo failed with an error instead of reporting a conflict: %v", err)
	}
	if len(rep.Conflicts) != 1 {
		t.Errorf("conflicts %q, want one", reasons(rep))
	}
}

// A foreign key someone created referencing an added UNIQUE column.
func TestReviewDropAddedColumnReferenced(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY)`)
	enginetest.CommitAll(t, s, `ALTER TABLE t ADD COLUMN k int UNIQUE`)
	enginetest.ExecAll(t, db, `CREATE TABLE child (k int REFERENCES t (k))`) // someone else
	rep, err := s.Undo(context.Background(), engine.UndoOptions{})
	if err != nil {
		t.Fatalf("undo failed with an error instead of reporting a conflict: %v", err)
	}
	if len(rep.Conflicts) != 1 {
		t.Errorf("conflicts %q, want one", reasons(rep))
	}
}

// char(n) default: the missing value is blank-padded, c::text is not.
// Nobody changed a row, yet undo calls it a conflict.
func TestReviewCharDefaultFalseConflict(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY)`, `INSERT INTO t VALUES (1), (2)`)
	enginetest.CommitAll(t, s, `ALTER TABLE t ADD COLUMN c char(3) DEFAULT 'a'`)
	rep := undoAll(t, s, engine.UndoOptions{})
	if !rep.Complete() {
		t.Fatalf("undo of an untouched char(3) column: conflicts %q", reasons(rep))
	}
	if got := enginetest.Joined(t, db, columnsOf, "t"); got != "id:integer" {
		t.Errorf("columns after undo: %s", got)
	}
}

// box's array delimiter is ';': attmissingval::text::text[] splits the
// box at its commas, and the check compares with "(1".
func TestReviewBoxDefaultFalseConflict(t *testing.T) {
	s, _ := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY)`, `INSERT INTO t VALUES (1), (2)`)
	enginetest.CommitAll(t, s, `ALTER TABLE t ADD COLUMN b box DEFAULT '((0,0),(1,1))'`)
	rep := undoAll(t, s, engine.UndoOptions{})
	if !rep.Complete() {
		t.Fatalf("undo of an untouched box column: conflicts %q", reasons(rep))
	}
}

// A domain default fills every row though the column has no default: the
// check compares with NULL and says the ALTER "added [it] empty".
func TestReviewDomainDefaultFalseConflict(t *testing.T) {
	s, db := sessionOn(t, `CREATE DOMAIN seven AS int DEFAULT 7`, `CREATE TABLE t (id int PRIMARY KEY)`, `INSERT INTO t VALUES (1), (2)`)
	enginetest.CommitAll(t, s, `ALTER TABLE t ADD COLUMN c seven`)
	t.Logf("%s", enginetest.Joined(t, db, `SELECT atthasdef::text || atthasmissing::text || coalesce(attmissingval::text, '-') FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'c'`))
	t.Logf("%s", enginetest.Joined(t, db, `SELECT coalesce(c::text, 'null') FROM t`))
	rep := undoAll(t, s, engine.UndoOptions{})
	if !rep.Complete() {
		t.Fatalf("undo of an untouched domain column: conflicts %q", reasons(rep))
	}
}

// DEFAULT now(): undo, undo the undo (re-adds it, with a new now()), and
// undo that: the check still compares with the first ALTER's timestamp.
func TestReviewStableDefaultThirdUndo(t *testing.T) {
	s, _ := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY)`, `INSERT INTO t VALUES (1), (2)`)
	enginetest.CommitAll(t, s, `ALTER TABLE t ADD COLUMN at timestamptz DEFAULT now()`)
	rep := undoAll(t, s, engine.UndoOptions{})
	if !rep.Complete() {
		t.Fatalf("undo: %q", reasons(rep))
	}
	rep2 := undoAll(t, s, engine.UndoOptions{Entries: []int64{rep.Seq}})
	if !rep2.Complete() {
		t.Fatalf("undo of the undo: %q", reasons(rep2))
	}
	rep3 := undoAll(t, s, engine.UndoOptions{Entries: []int64{rep2.Seq}})
	if !rep3.Complete() {
		t.Fatalf("undo of the undo of the undo (nobody touched the table): conflicts %q", reasons(rep3))
	}
}

// The check compares text, not values: where the text form is lossy
// (extra_float_digits set low for the database), a value someone wrote is
// taken for the default and dropped without a conflict.
func TestReviewFloatTextLosesValue(t *testing.T) {
	s, db := sessionOn(t, `DO $$BEGIN EXECUTE format('ALTER DATABASE %I SET extra_float_digits = -14', current_database()); END$$`,
		`CREATE TABLE t (id int PRIMARY KEY)`, `INSERT INTO t VALUES (1), (2)`)
	enginetest.CommitAll(t, s, `ALTER TABLE t ADD COLUMN f float8 DEFAULT 1.5`)
	enginetest.ExecAll(t, db, `UPDATE t SET f = 2.4 WHERE id = 1`) // someone else
	t.Logf("f: %s", enginetest.Joined(t, db, `SELECT f::text || ' ' || current_setting('extra_float_digits') FROM t ORDER BY id`))
	rep := undoAll(t, s, engine.UndoOptions{DryRun: true})
	t.Logf("conflicts %q", reasons(rep))
	if len(rep.Conflicts) != 1 {
		t.Fatalf("someone's 2.4 in the added column: conflicts %q, want one (the value would be dropped)", reasons(rep))
	}
}

// Inheritance: DROP COLUMN on the parent recurses to the child, dropping
// an index someone created on the child's inherited column; the child's
// definition is not compared, and undo reports nothing.
func TestReviewInheritChildIndexDropped(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE p (id int)`, `CREATE TABLE ch (x int) INHERITS (p)`, `INSERT INTO ch VALUES (1, 1)`)
	enginetest.CommitAll(t, s, `ALTER TABLE p ADD COLUMN c int`)
	enginetest.ExecAll(t, db, `CREATE INDEX ch_c ON ch (c)`) // someone else's index on the child
	rep := undoAll(t, s, engine.UndoOptions{})
	t.Logf("conflicts %q notes %q skipped %q", reasons(rep), rep.Notes, rep.Skipped)
	idx := enginetest.Joined(t, db, `SELECT count(*) FROM pg_class WHERE relname = 'ch_c'`)
	t.Logf("idx %s, ch columns %s, p columns %s", idx, enginetest.Joined(t, db, columnsOf, "ch"), enginetest.Joined(t, db, columnsOf, "p"))
	said := false
	for _, n := range rep.Notes {
		said = said || strings.Contains(n, `"ch"`) || strings.Contains(n, "ch_c")
	}
	if rep.Complete() && !said && idx == "0" {
		t.Fatalf("undo dropped someone's index ch_c on the child, silently (conflicts %q, notes %q)", reasons(rep), rep.Notes)
	}
}

// Inheritance: a child that had its own column c merges with the parent's
// added c; its own values are counted as the parent's, and --force reports
// them dropped although they stay.
func TestReviewInheritMergedColumnFalseConflict(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE p (id int)`, `CREATE TABLE ch (c int) INHERITS (p)`, `INSERT INTO ch VALUES (1, 42)`)
	enginetest.CommitAll(t, s, `ALTER TABLE p ADD COLUMN c int`)
	rep := undoAll(t, s, engine.UndoOptions{})
	if !rep.Complete() {
		t.Errorf("undo of a column nobody wrote into (the child's c is its own): conflicts %q", reasons(rep))
	}
	rep = undoAll(t, s, engine.UndoOptions{Force: true})
	if rep.Forced != 0 {
		t.Errorf("forced undo reports %d row(s) of values dropped, but the child's values stay: %s", rep.Forced,
			enginetest.Joined(t, db, `SELECT c FROM ch`))
	}
}

// ONLY rename, and then someone creates a child: renaming back with ONLY
// fails (an inherited column must be renamed in children too).
func TestReviewOnlyRenameThenChild(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE p (id int, a int)`)
	enginetest.CommitAll(t, s, `ALTER TABLE ONLY p RENAME COLUMN a TO b`)
	enginetest.ExecAll(t, db, `CREATE TABLE ch () INHERITS (p)`) // someone else
	rep, err := s.Undo(context.Background(), engine.UndoOptions{})
	if err != nil {
		t.Fatalf("undo failed with an error instead of reporting a conflict or renaming back: %v", err)
	}
	if len(rep.Conflicts) != 1 || !strings.Contains(rep.Conflicts[0].Reason, "undoing the ALTER failed") {
		t.Errorf("conflicts %q, want the failed rename back", reasons(rep))
	}
}

// RENAME CONSTRAINT of a foreign table's CHECK: Lifebelt cannot record a
// foreign table's definition, so it refuses the statement as unguarded
// (it used to journal nothing and let undo report complete).
func TestReviewForeignTableRenameConstraint(t *testing.T) {
	s, db := sessionOn(t, `CREATE FOREIGN DATA WRAPPER lb_dummy`, `CREATE SERVER lb_srv FOREIGN DATA WRAPPER lb_dummy`,
		`CREATE FOREIGN TABLE ft (a int CONSTRAINT ft_a CHECK (a > 0)) SERVER lb_srv`)
	_, err := s.Execute(context.Background(), `ALTER TABLE ft RENAME CONSTRAINT ft_a TO ft_b`, engine.ExecuteOptions{Confirm: s.ConfirmName()})
	if err == nil || !strings.Contains(err.Error(), "not an ordinary or partitioned table") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("ALTER TABLE ... RENAME CONSTRAINT on a foreign table: %v, want it refused as not imaged", err)
	}
	if got := enginetest.Joined(t, db, `SELECT conname FROM pg_constraint WHERE conrelid = 'ft'::regclass`); got != "ft_a" {
		t.Errorf("constraint: %s", got)
	}
}

// Round trips of ADD COLUMN with assorted types and clauses: undo, undo
// the undo (same definition and values as after the ALTER), undo that.
func TestReviewAddColumnRoundTrips(t *testing.T) {
	cases := []string{
		`ALTER TABLE t ADD COLUMN c numeric(5,2) DEFAULT 1.5 CHECK (c > 0)`,
		`ALTER TABLE t ADD COLUMN c text COLLATE "C" DEFAULT E'a\\b''c'`,
		`ALTER TABLE t ADD COLUMN c int[] DEFAULT '{1,2}'`,
		`ALTER TABLE t ADD COLUMN c text[] DEFAULT '{"a,b",NULL,"}"}'`,
		`ALTER TABLE t ADD COLUMN c jsonb DEFAULT '{"a": [1, "x,y"]}'`,
		`ALTER TABLE t ADD COLUMN c json DEFAULT '{"a" :  1}'`,
		`ALTER TABLE t ADD COLUMN c bytea DEFAULT '\x0102'`,
		`ALTER TABLE t ADD COLUMN c timestamp DEFAULT '2020-01-01 10:00'`,
		`ALTER TABLE t ADD COLUMN c interval DEFAULT '1 day 2 hours'`,
		`ALTER TABLE t ADD COLUMN c bit(3) DEFAULT B'101'`,
		`ALTER TABLE t ADD COLUMN c float8 DEFAULT 0.1`,
		`ALTER TABLE t ADD COLUMN c text DEFAULT 'NULL'`,
		`ALTER TABLE t ADD COLUMN c text DEFAULT ''`,
		`ALTER TABLE t ADD COLUMN c int DEFAULT NULL`,
		`ALTER TABLE t ADD COLUMN c point DEFAULT '(1,2)'`,
		`ALTER TABLE t ADD COLUMN c int4range DEFAULT '[1,5)'`,
		`ALTER TABLE t ADD COLUMN c int CONSTRAINT cu UNIQUE`,
		`ALTER TABLE t ADD COLUMN c int REFERENCES t (id) ON DELETE CASCADE`,
		`ALTER TABLE t ADD COLUMN "we""ird %d %s" text DEFAULT '%d%s'`,
		`ALTER TABLE t ADD COLUMN c int GENERATED BY DEFAULT AS IDENTITY (START WITH 10)`,
		`ALTER TABLE ONLY t ADD COLUMN c int DEFAULT 3 NOT NULL`,
		`ALTER TABLE t ADD COLUMN c int, ADD COLUMN d int DEFAULT 4, ADD c2 text`,
	}
	for _, q := range cases {
		t.Run(q[len("ALTER TABLE t ADD "):], func(t *testing.T) {
			s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY)`)
			enginetest.CommitAll(t, s, q)
			after := enginetest.Joined(t, db, columnsOf, "t")
			rep := undoAll(t, s, engine.UndoOptions{})
			if !rep.Complete() {
				t.Fatalf("undo (empty table): conflicts %q skipped %q", reasons(rep), rep.Skipped)
			}
			rep2 := undoAll(t, s, engine.UndoOptions{Entries: []int64{rep.Seq}})
			if !rep2.Complete() {
				t.Fatalf("undo of the undo: conflicts %q skipped %q", reasons(rep2), rep2.Skipped)
			}
			if got := enginetest.Joined(t, db, columnsOf, "t"); got != after {
				t.Fatalf("columns after undo of undo %s, want %s", got, after)
			}
			for _, n := range append(rep.Notes, rep2.Notes...) {
				if strings.Contains(n, "does not have exactly") {
					t.Errorf("note: %s", n)
				}
			}
			rep3 := undoAll(t, s, engine.UndoOptions{Entries: []int64{rep2.Seq}})
			if !rep3.Complete() {
				t.Fatalf("third undo: conflicts %q skipped %q", reasons(rep3), rep3.Skipped)
			}
		})
		t.Run("rows/"+q[len("ALTER TABLE t ADD "):], func(t *testing.T) {
			s, _ := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY)`, `INSERT INTO t VALUES (1), (2)`)
			enginetest.CommitAll(t, s, q)
			rep := undoAll(t, s, engine.UndoOptions{DryRun: true})
			if len(rep.Skipped) != 0 {
				t.Fatalf("skipped %q", rep.Skipped)
			}
			t.Logf("conflicts with rows: %q", reasons(rep))
		})
	}
}

// Undoing the ALTER alone, then the later entry whose rows were imaged
// with the altered table's columns (or name).
func TestReviewOutOfOrderRowsAfterRevert(t *testing.T) {
	cases := []struct{ alter, dml, check string }{
		{`ALTER TABLE t RENAME COLUMN v TO w`, `UPDATE t SET w = 9 WHERE id = 1`, `SELECT v FROM t WHERE id = 1`},
		{`ALTER TABLE t RENAME COLUMN v TO w`, `INSERT INTO t (id, w) VALUES (5, 5)`, `SELECT count(*) FROM t WHERE id = 5`},
		{`ALTER TABLE t RENAME TO u`, `UPDATE u SET v = 9 WHERE id = 1`, `SELECT v FROM t WHERE id = 1`},
		{`ALTER TABLE t ADD COLUMN c int`, `UPDATE t SET v = 9 WHERE id = 1`, `SELECT v FROM t WHERE id = 1`},
		{`ALTER TABLE t ADD COLUMN c int`, `INSERT INTO t (id, v) VALUES (5, 5)`, `SELECT count(*) FROM t WHERE id = 5`},
		{`ALTER TABLE t ADD COLUMN c int`, `DELETE FROM t WHERE id = 1`, `SELECT count(*) FROM t WHERE id = 1`},
	}
	for _, c := range cases {
		t.Run(c.alter+"; "+c.dml, func(t *testing.T) {
			s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, v int)`, `INSERT INTO t VALUES (1, 1)`)
			seqs := enginetest.CommitAll(t, s, c.alter, c.dml)
			// The ALTER alone: a conflict, since the later entry's rows
			// were imaged under the altered table; it stays committed.
			rep := undoAll(t, s, engine.UndoOptions{Entries: seqs[:1]})
			if len(rep.Conflicts) != 1 || !strings.Contains(rep.Conflicts[0].Reason, "later in the session") || len(rep.Entries) != 0 {
				t.Fatalf("undo of the ALTER alone: conflicts %q, entries %v; want one about the later entry, and none undone", reasons(rep), rep.Entries)
			}
			// The later entry, then the ALTER.
			for _, seq := range []int64{seqs[1], seqs[0]} {
				if rep := undoAll(t, s, engine.UndoOptions{Entries: []int64{seq}}); !rep.Complete() {
					t.Fatalf("undo of entry %d: conflicts %q skipped %q", seq, reasons(rep), rep.Skipped)
				}
			}
			if got := enginetest.Joined(t, db, c.check); got != "1" && got != "0" {
				t.Errorf("%s -> %s", c.check, got)
			}
			if got := enginetest.Joined(t, db, columnsOf, "t"); got != "id:integer,v:integer" {
				t.Errorf("columns after both undos: %s", got)
			}
		})
	}
}

// Baseline (not the feature): someone else renames a column after a row
// entry; undoing the row entry.
func TestReviewBaselineForeignRename(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, v int)`, `INSERT INTO t VALUES (1, 1)`)
	enginetest.CommitAll(t, s, `UPDATE t SET v = 9 WHERE id = 1`)
	enginetest.ExecAll(t, db, `ALTER TABLE t RENAME COLUMN v TO w`)
	// Someone renamed the column: undo cannot address it; the row is a
	// conflict that says so, and nothing changes.
	rep, err := s.Undo(context.Background(), engine.UndoOptions{})
	if err != nil || len(rep.Conflicts) != 1 || !strings.Contains(rep.Conflicts[0].Reason, "no longer has column(s) v") {
		t.Fatalf("undo after someone renamed the column: %v, %+v; want one conflict naming the column", err, rep)
	}
	if got := enginetest.Joined(t, db, `SELECT w FROM t`); got != "9" {
		t.Errorf("w = %s", got)
	}
}

// Partitioned and inheritance tables: undo, undo of the undo, and undo of
// that, with rows in the children.
func TestReviewHierarchyRoundTrips(t *testing.T) {
	cases := []struct {
		name  string
		setup []string
		alter string
		table string
	}{
		{"parted add", []string{`CREATE TABLE t (id int, v int) PARTITION BY RANGE (id)`, `CREATE TABLE t1 PARTITION OF t FOR VALUES FROM (0) TO (10)`, `CREATE TABLE t2 PARTITION OF t FOR VALUES FROM (10) TO (20)`, `INSERT INTO t VALUES (1, 1), (11, 11)`},
			`ALTER TABLE t ADD COLUMN c int`, "t"},
		{"parted rename col", []string{`CREATE TABLE t (id int, v int) PARTITION BY RANGE (id)`, `CREATE TABLE t1 PARTITION OF t FOR VALUES FROM (0) TO (10)`, `INSERT INTO t VALUES (1, 1)`},
			`ALTER TABLE t RENAME COLUMN v TO w`, "t"},
		{"parted rename", []string{`CREATE TABLE t (id int, v int) PARTITION BY RANGE (id)`, `CREATE TABLE t1 PARTITION OF t FOR VALUES FROM (0) TO (10)`, `INSERT INTO t VALUES (1, 1)`},
			`ALTER TABLE t RENAME TO u`, "u"},
		{"partition rename", []string{`CREATE TABLE t (id int, v int) PARTITION BY RANGE (id)`, `CREATE TABLE t1 PARTITION OF t FOR VALUES FROM (0) TO (10)`, `INSERT INTO t VALUES (1, 1)`},
			`ALTER TABLE t1 RENAME TO t9`, "t9"},
		{"parted rename constraint", []string{`CREATE TABLE t (id int CONSTRAINT pos CHECK (id >= 0), v int) PARTITION BY RANGE (id)`, `CREATE TABLE t1 PARTITION OF t FOR VALUES FROM (0) TO (10)`, `INSERT INTO t VALUES (1, 1)`},
			`ALTER TABLE t RENAME CONSTRAINT pos TO pos2`, "t"},
		{"inherit add default", []string{`CREATE TABLE t (id int, v int)`, `CREATE TABLE ch (x int) INHERITS (t)`, `INSERT INTO t VALUES (1, 1)`, `INSERT INTO ch VALUES (2, 2, 2)`},
			`ALTER TABLE t ADD COLUMN c int DEFAULT 5`, "t"},
		{"inherit rename col", []string{`CREATE TABLE t (id int, v int)`, `CREATE TABLE ch (x int) INHERITS (t)`, `INSERT INTO ch VALUES (2, 2, 2)`},
			`ALTER TABLE t RENAME COLUMN v TO w`, "t"},
		{"serial", []string{`CREATE TABLE t (id int)`},
			`ALTER TABLE t ADD COLUMN s serial`, "t"},
		{"primary key", []string{`CREATE TABLE t (id int)`, `INSERT INTO t VALUES (1)`},
			`ALTER TABLE t ADD COLUMN k int DEFAULT 1 PRIMARY KEY`, "t"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, db := sessionOn(t, c.setup...)
			enginetest.CommitAll(t, s, c.alter)
			after := enginetest.Joined(t, db, columnsOf, c.table)
			rows := enginetest.Joined(t, db, `SELECT string_agg(x::text, ';' ORDER BY x::text) FROM `+c.table+` x`)
			rep := undoAll(t, s, engine.UndoOptions{})
			if !rep.Complete() {
				t.Fatalf("undo: conflicts %q skipped %q", reasons(rep), rep.Skipped)
			}
			rep2 := undoAll(t, s, engine.UndoOptions{Entries: []int64{rep.Seq}})
			if !rep2.Complete() {
				t.Fatalf("undo of the undo: conflicts %q skipped %q", reasons(rep2), rep2.Skipped)
			}
			if got := enginetest.Joined(t, db, columnsOf, c.table); got != after {
				t.Fatalf("columns after undo of undo %s, want %s", got, after)
			}
			if got := enginetest.Joined(t, db, `SELECT string_agg(x::text, ';' ORDER BY x::text) FROM `+c.table+` x`); got != rows {
				t.Errorf("rows after undo of undo %s, want %s", got, rows)
			}
			for _, n := range append(rep.Notes, rep2.Notes...) {
				if strings.Contains(n, "does not have exactly") {
					t.Errorf("note: %s", n)
				}
			}
			rep3 := undoAll(t, s, engine.UndoOptions{Entries: []int64{rep2.Seq}})
			if !rep3.Complete() {
				t.Fatalf("third undo: conflicts %q skipped %q", reasons(rep3), rep3.Skipped)
			}
		})
	}
}

// Rows on both sides of several reverts in one undo, and the undo undone:
// the applier meets the same table with other columns.
func TestReviewRowsAroundReverts(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, v int)`, `INSERT INTO t VALUES (1, 1), (2, 2)`)
	dump := func() string {
		return enginetest.Joined(t, db, `SELECT string_agg(x::text, ';' ORDER BY x::text) FROM t x`)
	}
	d0 := dump()
	enginetest.CommitAll(t, s,
		`UPDATE t SET v = 10 WHERE id = 1`,
		`DELETE FROM t WHERE id = 2`,
		`ALTER TABLE t ADD COLUMN c int DEFAULT 4`,
		`UPDATE t SET v = 11 WHERE id = 1`,
		`INSERT INTO t VALUES (3, 3, 3)`,
		`ALTER TABLE t RENAME COLUMN v TO w`,
		`UPDATE t SET w = 12, c = 5 WHERE id = 1`,
		`INSERT INTO t VALUES (2, 2, 2)`,
		`ALTER TABLE t ADD COLUMN d text`,
		`UPDATE t SET d = 'x' WHERE id = 3`,
		`DELETE FROM t WHERE id = 2`,
		`ALTER TABLE t RENAME TO u`,
		`UPDATE u SET d = 'y' WHERE id = 1`)
	d1 := enginetest.Joined(t, db, `SELECT string_agg(x::text, ';' ORDER BY x::text) FROM u x`)
	rep := undoAll(t, s, engine.UndoOptions{})
	if !rep.Complete() {
		t.Fatalf("undo: conflicts %q skipped %q", reasons(rep), rep.Skipped)
	}
	if got := dump(); got != d0 {
		t.Fatalf("rows after undo %s, want %s", got, d0)
	}
	rep2 := undoAll(t, s, engine.UndoOptions{Entries: []int64{rep.Seq}})
	if !rep2.Complete() {
		t.Fatalf("undo of undo: conflicts %q skipped %q", reasons(rep2), rep2.Skipped)
	}
	if got := enginetest.Joined(t, db, `SELECT string_agg(x::text, ';' ORDER BY x::text) FROM u x`); got != d1 {
		t.Fatalf("rows after undo of undo %s, want %s", got, d1)
	}
	rep3 := undoAll(t, s, engine.UndoOptions{Entries: []int64{rep2.Seq}})
	if !rep3.Complete() {
		t.Fatalf("third: conflicts %q skipped %q", reasons(rep3), rep3.Skipped)
	}
	if got := dump(); got != d0 {
		t.Fatalf("rows after third undo %s, want %s", got, d0)
	}
}

// The check compares col::text with the missing value, and the cast keeps
// the column's collation: under a nondeterministic (case-insensitive)
// collation, someone's 'ABC' equals the default 'abc', and undo drops it.
func TestReviewNondeterministicCollationLosesValue(t *testing.T) {
	s, db := sessionOn(t, `CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`,
		`CREATE TABLE t (id int PRIMARY KEY)`, `INSERT INTO t VALUES (1), (2)`)
	enginetest.CommitAll(t, s, `ALTER TABLE t ADD COLUMN c text COLLATE ci DEFAULT 'abc'`)
	enginetest.ExecAll(t, db, `UPDATE t SET c = 'ABC' WHERE id = 1`) // someone else
	rep := undoAll(t, s, engine.UndoOptions{})
	if len(rep.Conflicts) != 1 {
		t.Fatalf("someone wrote 'ABC' into the added column; undo reports conflicts %q and left columns %s: the value is lost",
			reasons(rep), enginetest.Joined(t, db, columnsOf, "t"))
	}
}

// Odd names in every rename, and identifiers the parser truncates.
func TestReviewOddNames(t *testing.T) {
	long := strings.Repeat("é", 40) // 80 bytes: truncated to 63 bytes (31 é)
	s, db := sessionOn(t, `CREATE SCHEMA "s.""x"`, `CREATE TABLE "s.""x"."T %d" ("c""1" int CONSTRAINT "k%s" PRIMARY KEY, "v" int)`, `INSERT INTO "s.""x"."T %d" VALUES (1, 1)`)
	enginetest.CommitAll(t, s,
		`ALTER TABLE "s.""x"."T %d" RENAME CONSTRAINT "k%s" TO "`+long+`"`,
		`ALTER TABLE "s.""x"."T %d" RENAME COLUMN "c""1" TO "`+long+`"`,
		`ALTER TABLE "s.""x"."T %d" ADD COLUMN "a%d""b" text DEFAULT '%s''%d'`,
		`ALTER TABLE "s.""x"."T %d" RENAME TO "T`+long+`"`)
	rep := undoAll(t, s, engine.UndoOptions{})
	if !rep.Complete() {
		t.Fatalf("undo: conflicts %q skipped %q", reasons(rep), rep.Skipped)
	}
	if got := enginetest.Joined(t, db, columnsOf, `"s.""x"."T %d"`); got != `c"1:integer,v:integer` {
		t.Errorf("columns %s", got)
	}
	rep2 := undoAll(t, s, engine.UndoOptions{Entries: []int64{rep.Seq}})
	if !rep2.Complete() {
		t.Fatalf("undo of undo: conflicts %q skipped %q", reasons(rep2), rep2.Skipped)
	}
}

// A forced undo drops values others wrote into the added column without
// imaging them; undoing that undo reports complete with the values gone
// (DROP COLUMN by an ALTER images every row first; the forced revert does
// not).
func TestReviewForcedRevertThenUndoOfUndo(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY)`, `INSERT INTO t VALUES (1), (2)`)
	enginetest.CommitAll(t, s, `ALTER TABLE t ADD COLUMN c int`)
	enginetest.ExecAll(t, db, `UPDATE t SET c = 5 WHERE id = 1`) // someone else
	rep := undoAll(t, s, engine.UndoOptions{Force: true})
	if rep.Forced != 1 {
		t.Fatalf("forced %d", rep.Forced)
	}
	// The values it dropped are imaged in the undo entry.
	if e, err := s.Journal().Entry(rep.Seq); err != nil || e.ImageCount != 2 {
		t.Errorf("the forced undo imaged %d rows (%v), want 2", e.ImageCount, err)
	}
	rep2 := undoAll(t, s, engine.UndoOptions{Entries: []int64{rep.Seq}})
	got := enginetest.Joined(t, db, `SELECT coalesce(c::text, 'NULL') FROM t ORDER BY id`)
	// A note, not a skipped change: the undo of the undo is complete (the
	// column is back), so the forced undo counts as undone.
	if !rep2.Complete() || !strings.Contains(strings.Join(rep2.Notes, " "), "were not put back") {
		t.Errorf("undo of the forced undo: skipped %q, notes %q (c is %s); want a note that the dropped values were not put back", rep2.Skipped, rep2.Notes, got)
	}
}

// The table's row type is used by a column of another table: values
// written into that column's new attribute are not counted, and dropping
// the attribute loses them.
func TestReviewRowTypeUsedElsewhere(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY)`, `INSERT INTO t VALUES (1)`, `CREATE TABLE u (k int, x t)`)
	enginetest.CommitAll(t, s, `ALTER TABLE t ADD COLUMN c int`)
	enginetest.ExecAll(t, db, `INSERT INTO u VALUES (1, ROW(1, 5)::t)`) // someone else
	rep, err := s.Undo(context.Background(), engine.UndoOptions{})
	if err != nil {
		t.Fatalf("undo: %v", err)
	}
	got := enginetest.Joined(t, db, `SELECT x::text FROM u`)
	if len(rep.Conflicts) == 0 && got != "(1,5)" {
		t.Errorf("undo reports conflicts %q; someone's u.x was (1,5), now %s", reasons(rep), got)
	}
}

// Undoing an undo re-creates the objects the undo dropped first, and only
// then re-applies the reverts among the rows: an object created on an
// added column comes back before its column.
func TestReviewUndoOfUndoObjectOnAddedColumn(t *testing.T) {
	cases := []struct{ name, create string }{
		{"view", `CREATE VIEW v AS SELECT id, c FROM t`},
		{"referencing table", `CREATE TABLE r (c int REFERENCES t (c))`},
		{"index", `CREATE INDEX t_c ON t (c)`},
	}
	for _, cs := range cases {
		t.Run(cs.name, func(t *testing.T) {
			s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY)`, `INSERT INTO t VALUES (1)`)
			enginetest.CommitAll(t, s, `ALTER TABLE t ADD COLUMN c int UNIQUE`, cs.create)
			rep := undoAll(t, s, engine.UndoOptions{})
			if !rep.Complete() {
				t.Fatalf("undo: conflicts %q skipped %q", reasons(rep), rep.Skipped)
			}
			rep2, err := s.Undo(context.Background(), engine.UndoOptions{Entries: []int64{rep.Seq}})
			if err != nil {
				t.Fatalf("undo of the undo: %v", err)
			}
			if !rep2.Complete() {
				t.Fatalf("undo of the undo: conflicts %q skipped %q", reasons(rep2), rep2.Skipped)
			}
			t.Logf("columns %s", enginetest.Joined(t, db, columnsOf, "t"))
		})
	}
}

// The same with renames: the object the session created after renaming
// comes back, on undo of the undo, before the rename is re-applied.
func TestReviewUndoOfUndoObjectAfterRename(t *testing.T) {
	cases := []struct{ name, alter, create string }{
		{"rename column", `ALTER TABLE t RENAME COLUMN v TO w`, `CREATE INDEX t_w ON t (w)`},
		{"rename table", `ALTER TABLE t RENAME TO u`, `CREATE INDEX u_v ON u (v)`},
	}
	for _, cs := range cases {
		t.Run(cs.name, func(t *testing.T) {
			s, _ := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, v int)`, `INSERT INTO t VALUES (1, 1)`)
			enginetest.CommitAll(t, s, cs.alter, cs.create)
			rep := undoAll(t, s, engine.UndoOptions{})
			if !rep.Complete() {
				t.Fatalf("undo: conflicts %q skipped %q", reasons(rep), rep.Skipped)
			}
			rep2, err := s.Undo(context.Background(), engine.UndoOptions{Entries: []int64{rep.Seq}})
			if err != nil {
				t.Fatalf("undo of the undo: %v", err)
			}
			if !rep2.Complete() {
				t.Fatalf("undo of the undo: conflicts %q skipped %q", reasons(rep2), rep2.Skipped)
			}
		})
	}
}
