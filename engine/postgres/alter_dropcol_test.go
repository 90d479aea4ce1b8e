package postgres_test

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
)

// dropColState is everything a DROP COLUMN takes along, read from the
// catalogs independently of the engine and in an order that does not
// depend on the columns' order: settingsOf (columns with NOT NULL,
// default, statistics, storage; constraints; indexes; triggers), column
// comments and privileges by name, and extended statistics.
func dropColState(t *testing.T, db *sql.DB, table string) string {
	t.Helper()
	more := enginetest.FirstColumn(t, db, `
		SELECT format('comment %s %s', attname, coalesce(col_description(attrelid, attnum), '-')) FROM pg_attribute
			WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped
		UNION ALL SELECT format('acl %s %s', attname, attacl::text) FROM pg_attribute
			WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attacl IS NOT NULL
		UNION ALL SELECT format('stats %s', pg_get_statisticsobjdef(oid)) FROM pg_statistic_ext WHERE stxrelid = $1::regclass
		ORDER BY 1`, table)
	return settingsNow(t, db, table) + "\n" + strings.Join(more, "\n")
}

const dropColRows = `SELECT string_agg(concat_ws('/', id, a, "c ""x""", d, e), ',' ORDER BY id) FROM "T;d"`

// DROP COLUMN is undone: the columns come back last, with every row's
// value, their defaults, NOT NULL, constraints, indexes, statistics,
// comments and privileges; rows added since get the default; undoing the
// undo drops them again (imaging them first), and undoing that brings
// back the values they held then.
func TestUndoDropColumn(t *testing.T) {
	s, db := sessionOn(t,
		`CREATE ROLE lb_dropcol_reader`,
		`CREATE TABLE p (id int PRIMARY KEY)`, `INSERT INTO p VALUES (1), (2)`,
		`CREATE TABLE "T;d" (id int PRIMARY KEY, a text COLLATE "C", "c ""x""" numeric(10,2) NOT NULL DEFAULT 7,
			d int CONSTRAINT d_p REFERENCES p (id), e text DEFAULT now()::text,
			CONSTRAINT "c pos" CHECK ("c ""x""" >= 0), CONSTRAINT u_c UNIQUE ("c ""x""", id))`,
		`CREATE INDEX t_ac ON "T;d" (a, "c ""x""")`,
		`CREATE INDEX t_cpart ON "T;d" (id) WHERE "c ""x""" > 0`,
		`CREATE STATISTICS t_st ON a, "c ""x""" FROM "T;d"`, // a comes after c: unchanged when c comes back last
		`COMMENT ON COLUMN "T;d"."c ""x""" IS 'the c'`,
		`COMMENT ON COLUMN "T;d".a IS 'the a'`,
		`GRANT SELECT ("c ""x""", id) ON "T;d" TO lb_dropcol_reader`,
		`ALTER TABLE "T;d" ALTER "c ""x""" SET STATISTICS 300`,
		`INSERT INTO "T;d" VALUES (1, 'one', 1.25, 1, 'e1'), (2, 'two', 0, NULL, NULL), (3, NULL, 99999999.99, 2, '')`)
	t.Cleanup(func() { db.Exec(`DROP OWNED BY lb_dropcol_reader CASCADE`); db.Exec(`DROP ROLE lb_dropcol_reader`) })
	seqs := enginetest.CommitAll(t, s, `UPDATE "T;d" SET "c ""x""" = 2.5 WHERE id = 2`)
	state, rows := dropColState(t, db, `"T;d"`), enginetest.Joined(t, db, dropColRows)
	seqs = append(seqs, enginetest.CommitAll(t, s, `ALTER TABLE "T;d" DROP COLUMN "c ""x""", DROP COLUMN IF EXISTS e, DROP COLUMN IF EXISTS nosuch`)...)
	dropped := dropColState(t, db, `"T;d"`)
	if strings.Contains(dropped, "t_ac") || strings.Contains(dropped, "c pos") {
		t.Fatalf("the drop left objects on the column:\n%s", dropped)
	}
	// Others write since: a row added (it gets the default back), a row
	// changed in another column (it keeps that change), a row deleted.
	enginetest.ExecAll(t, db, `INSERT INTO "T;d" (id, a) VALUES (4, 'four')`, `UPDATE "T;d" SET a = 'ONE' WHERE id = 1`, `DELETE FROM "T;d" WHERE id = 3`)

	// The deleted row's values cannot go back: a conflict, nothing
	// changes; with force the rest comes back.
	rep := undoAll(t, s, engine.UndoOptions{Entries: seqs[1:]})
	if len(rep.Conflicts) != 1 || !strings.Contains(rep.Conflicts[0].Reason, "1 row(s) imaged before the drop are no longer found by their key") {
		t.Fatalf("undo of the drop with a row deleted since: conflicts %+v", rep.Conflicts)
	}
	if got := dropColState(t, db, `"T;d"`); got != dropped {
		t.Fatalf("the conflict changed the table:\n%s", got)
	}
	rep = undoAll(t, s, engine.UndoOptions{Entries: seqs[1:], Force: true})
	if !rep.Complete() || rep.Rows != 2 || rep.Forced != 1 {
		t.Fatalf("forced undo of the drop: rows %d, forced %d, conflicts %v, skipped %v", rep.Rows, rep.Forced, rep.Conflicts, rep.Skipped)
	}
	notes := strings.Join(rep.Notes, "\n")
	if !strings.Contains(notes, `c "x", e of public.T;d came back with the values of 2 row(s), as the table's last column(s)`) || !strings.Contains(notes, "forced: 1 row(s) no longer found") {
		t.Errorf("notes: %s", notes)
	}
	if got := dropColState(t, db, `"T;d"`); got != state {
		t.Fatalf("after undoing the drop:\n%s\nwant:\n%s", got, state)
	}
	if got, want := enginetest.Joined(t, db, dropColRows), "1/ONE/1.25/1/e1,2/two/2.50,4/four/7.00"; got != want {
		t.Fatalf("rows after undoing the drop: %s, want %s (before: %s)", got, want, rows)
	}
	if got := enginetest.Joined(t, db, columnsOf, `"T;d"`); got != `id:integer,a:text,d:integer,c "x":numeric(10,2),e:text` {
		t.Errorf("columns: %s", got)
	}

	// Undoing the undo drops them again; a value written in between is
	// imaged first, and comes back when that is undone in turn.
	enginetest.ExecAll(t, db, `UPDATE "T;d" SET "c ""x""" = 8, e = 'later' WHERE id = 4`)
	rep2 := undoAll(t, s, engine.UndoOptions{Entries: []int64{rep.Seq}})
	if !rep2.Complete() {
		t.Fatalf("undo of the undo: conflicts %v, skipped %v", rep2.Conflicts, rep2.Skipped)
	}
	if got := dropColState(t, db, `"T;d"`); got != dropped {
		t.Fatalf("after undoing the undo:\n%s\nwant:\n%s", got, dropped)
	}
	rep3 := undoAll(t, s, engine.UndoOptions{Entries: []int64{rep2.Seq}})
	if !rep3.Complete() || rep3.Rows != 3 {
		t.Fatalf("undo of that: rows %d, conflicts %v, skipped %v", rep3.Rows, rep3.Conflicts, rep3.Skipped)
	}
	if got, want := enginetest.Joined(t, db, dropColRows), "1/ONE/1.25/1/e1,2/two/2.50,4/four/8.00/later"; got != want {
		t.Fatalf("rows after undoing that: %s, want %s", got, want)
	}
	if got := dropColState(t, db, `"T;d"`); got != state {
		t.Fatalf("after undoing that:\n%s\nwant:\n%s", got, state)
	}
	// The UPDATE before the drop goes back through the column now last.
	rep = undoAll(t, s, engine.UndoOptions{Entries: seqs[:1]})
	if !rep.Complete() {
		t.Fatalf("undo of the UPDATE: conflicts %v, skipped %v", rep.Conflicts, rep.Skipped)
	}
	if got := enginetest.Joined(t, db, `SELECT "c ""x""" FROM "T;d" WHERE id = 2`); got != "0.00" {
		t.Errorf("row 2 after undoing the UPDATE: %s", got)
	}
}

// What the undo of DROP COLUMN cannot put back is a conflict, and the
// column stays dropped: NULLs added since in a NOT NULL column without a
// default, a column of that name added since, a later entry not undone.
func TestUndoDropColumnConflicts(t *testing.T) {
	s, db := sessionOn(t,
		`CREATE TABLE n (id int PRIMARY KEY, v text NOT NULL, w int)`, `INSERT INTO n VALUES (1, 'a', 1)`,
		`CREATE TABLE m (id int PRIMARY KEY, v text)`, `INSERT INTO m VALUES (1, 'a')`,
		`CREATE TABLE l (id int PRIMARY KEY, v text, w int)`, `INSERT INTO l VALUES (1, 'a', 1)`)
	seqs := enginetest.CommitAll(t, s, `ALTER TABLE n DROP COLUMN v`, `ALTER TABLE m DROP COLUMN v`, `ALTER TABLE l DROP COLUMN v`, `UPDATE l SET w = 2`)
	enginetest.ExecAll(t, db, `INSERT INTO n VALUES (2, 2)`, `ALTER TABLE m ADD COLUMN v text`)
	for i, want := range []string{"column \"v\" of relation \"n\" contains null values", "definition changed", fmt.Sprintf("entry %d, later in the session", seqs[3])} {
		rep := undoAll(t, s, engine.UndoOptions{Entries: seqs[i : i+1]})
		if len(rep.Conflicts) != 1 || !strings.Contains(rep.Conflicts[0].Reason, want) {
			t.Fatalf("undo of %d: conflicts %+v, want one saying %q", seqs[i], rep.Conflicts, want)
		}
	}
	if got := enginetest.Joined(t, db, columnsOf, "n") + " " + enginetest.Joined(t, db, columnsOf, "l"); got != "id:integer,w:integer id:integer,w:integer" {
		t.Errorf("columns after the conflicts: %s", got)
	}
	// Once the conflict is gone, the column comes back.
	enginetest.ExecAll(t, db, `DELETE FROM n WHERE id = 2`)
	rep := undoAll(t, s, engine.UndoOptions{Entries: seqs[:1]})
	if !rep.Complete() {
		t.Fatalf("undo after the conflict went: %+v", rep.Conflicts)
	}
	if got := enginetest.Joined(t, db, `SELECT concat_ws('/', id, w, v) FROM n`); got != "1/1/a" {
		t.Errorf("row after the undo: %s", got)
	}
}

// DROP COLUMN is left to people, and says why, where its rows cannot be
// matched or the drop took more than the table's definition shows.
func TestUndoDropColumnNotReverted(t *testing.T) {
	s, _ := sessionOn(t,
		`CREATE TABLE k (a int, b int, PRIMARY KEY (a, b))`,
		`CREATE TABLE nokey (a int, b int)`,
		`CREATE TABLE idn (id int PRIMARY KEY, g int GENERATED ALWAYS AS IDENTITY)`,
		`CREATE TABLE ser (id int PRIMARY KEY, s serial)`,
		`CREATE TABLE par (id int PRIMARY KEY, b int)`, `CREATE TABLE kid () INHERITS (par)`,
		`CREATE TABLE st (id int PRIMARY KEY, b int, c int)`, `CREATE STATISTICS st_s ON b, c FROM st`)
	for q, why := range map[string]string{
		`ALTER TABLE k DROP COLUMN b`:     "part of the key",
		`ALTER TABLE nokey DROP COLUMN b`: "no primary key or unique key",
		`ALTER TABLE idn DROP COLUMN g`:   "identity column",
		`ALTER TABLE ser DROP COLUMN s`:   "owns sequence",
		`ALTER TABLE par DROP COLUMN b`:   "inheritance",
		`ALTER TABLE st DROP COLUMN b`:    "extended statistics st_s",
	} {
		seq, warn := enginetest.CommitWarn(t, s, q)
		if !strings.Contains(warn, "does not undo this change automatically") || !strings.Contains(warn, why) {
			t.Errorf("%s: warnings %q, want the reason %q", q, warn, why)
		}
		rep := undoAll(t, s, engine.UndoOptions{Entries: []int64{seq}, DryRun: true})
		if len(rep.Skipped) != 1 || !strings.Contains(rep.Skipped[0], "does not undo automatically") {
			t.Errorf("undo of %s: skipped %v", q, rep.Skipped)
		}
	}
}
