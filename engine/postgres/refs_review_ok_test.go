package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"lifebelt/engine"
)

// rvWantThrough: the undo must go through.
func rvWantThrough(t *testing.T, s *engine.Session, opt engine.UndoOptions) *engine.UndoReport {
	t.Helper()
	rep, err := s.Undo(context.Background(), opt)
	if err != nil {
		t.Fatalf("Undo: %v", err)
	}
	if !rep.Complete() {
		t.Fatalf("undo left conflicts %v, skipped %v", rep.Conflicts, rep.Skipped)
	}
	return rep
}

func rvWantRefusedOnly(t *testing.T, s *engine.Session) {
	t.Helper()
	rep, err := s.Undo(context.Background(), engine.UndoOptions{})
	var re *engine.ReferenceError
	if !errors.As(err, &re) {
		t.Fatalf("Undo = %+v, %v; want *engine.ReferenceError", rep, err)
	}
}

type rvType struct {
	name, setup, ptype, ctype, pval, cval string
	// alt is a parent key equal to pval by the key's operator but
	// written differently ("" for none).
	alt string
}

var rvTypes = []rvType{
	{name: "int8_int4", ptype: "bigint", ctype: "integer", pval: "5", cval: "5"},
	{name: "numeric_int", ptype: "numeric", ctype: "integer", pval: "5.0", cval: "5", alt: "5.000"},
	{name: "numeric_scale", ptype: "numeric(10,2)", ctype: "numeric", pval: "1.50", cval: "1.5"},
	{name: "char_varchar", ptype: "char(5)", ctype: "varchar(9)", pval: "'ab'", cval: "'ab'"},
	{name: "char_text", ptype: "char(5)", ctype: "text", pval: "'ab'", cval: "'ab'"},
	{name: "text_char", ptype: "text", ctype: "char(3)", pval: "'ab'", cval: "'ab'"},
	{name: "char_char", ptype: "char(4)", ctype: "char(6)", pval: "'ab'", cval: "'ab  '"},
	{name: "bit_varbit", ptype: "bit(3)", ctype: "bit varying(5)", pval: "B'101'", cval: "B'101'"},
	{name: "bit_bit", ptype: "bit(3)", ctype: "bit(3)", pval: "B'101'", cval: "B'101'"},
	{name: "varchar_text", ptype: "varchar(10)", ctype: "text", pval: "'ab'", cval: "'ab'"},
	{name: "citext", setup: `CREATE SCHEMA "Ext ""s"""; CREATE EXTENSION citext SCHEMA "Ext ""s"""`,
		ptype: `"Ext ""s""".citext`, ctype: `"Ext ""s""".citext`, pval: "'AbC'", cval: "'abc'", alt: "'ABC'"},
	{name: "domain", setup: `CREATE DOMAIN "pos int" AS integer CHECK (VALUE > 0)`, ptype: `"pos int"`, ctype: `"pos int"`, pval: "3", cval: "3"},
	{name: "int_array", ptype: "integer[]", ctype: "integer[]", pval: "'{1,2}'", cval: "'{1,2}'"},
	{name: "enum", setup: `CREATE TYPE "mo od" AS ENUM ('sad', 'it''s')`, ptype: `"mo od"`, ctype: `"mo od"`, pval: "'it''s'", cval: "'it''s'"},
	{name: "composite", setup: `CREATE TYPE pair AS (a integer, b text)`, ptype: "pair", ctype: "pair", pval: "ROW(1, 'x y')", cval: "ROW(1, 'x y')"},
	{name: "range", ptype: "int4range", ctype: "int4range", pval: "'[1,3)'", cval: "'[1,2]'"},
	{name: "interval", ptype: "interval", ctype: "interval", pval: "'1 day'", cval: "'24:00:00'", alt: "'24:00:00'"},
	{name: "float", ptype: "double precision", ctype: "double precision", pval: "0", cval: "'-0'"},
	{name: "timestamptz", ptype: "timestamptz", ctype: "timestamptz", pval: "'2024-01-01 00:00+00'", cval: "'2024-01-01 05:30+05:30'"},
	{name: "uuid", ptype: "uuid", ctype: "uuid", pval: "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", cval: "'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'"},
	{name: "text_collation_C", ptype: `text COLLATE "C"`, ctype: "text", pval: "'ab'", cval: "'ab'"},
	{name: "varchar_collation_C", ptype: `varchar(5) COLLATE "C"`, ctype: `text`, pval: "'ab'", cval: "'ab'"},
}

// rvTypeSetup: a schema off the search_path, names to quote.
func rvTypeSetup(tc rvType) []string {
	var out []string
	if tc.setup != "" {
		out = append(out, tc.setup)
	}
	return append(out,
		`CREATE SCHEMA "s ""q"""`,
		fmt.Sprintf(`CREATE TABLE "s ""q"""."Pa""rent" ("k ""1" %s PRIMARY KEY, v int)`, tc.ptype),
		fmt.Sprintf(`CREATE TABLE public."c.h" (id int PRIMARY KEY, "f""k" %s REFERENCES "s ""q"""."Pa""rent" ON UPDATE CASCADE ON DELETE CASCADE)`, tc.ctype),
		`DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET search_path = pg_catalog', current_database()); END $$`)
}

const (
	rvP = `"s ""q"""."Pa""rent"`
	rvC = `public."c.h"`
)

// Each type: undo removing a referenced key is refused, undo putting back
// an orphan is refused, a parent and child inserted together go back,
// and a key changed to an equal one and back goes through.
func TestReviewRefsTypesOK(t *testing.T) {
	for _, tc := range rvTypes {
		t.Run(tc.name, func(t *testing.T) {
			t.Run("removed", func(t *testing.T) {
				s, db := sessionOn(t, rvTypeSetup(tc)...)
				rvCommit(t, s, `INSERT INTO `+rvP+` VALUES (`+tc.pval+`, 1)`)
				rvExec(t, db, `INSERT INTO `+rvC+` VALUES (1, `+tc.cval+`)`)
				rvWantRefusedOnly(t, s)
			})
			t.Run("written", func(t *testing.T) {
				s, db := sessionOn(t, rvTypeSetup(tc)...)
				rvExec(t, db, `INSERT INTO `+rvP+` VALUES (`+tc.pval+`, 1)`, `INSERT INTO `+rvC+` VALUES (1, `+tc.cval+`)`)
				rvCommit(t, s, `DELETE FROM `+rvC)
				rvExec(t, db, `DELETE FROM `+rvP)
				rvWantRefusedOnly(t, s)
			})
			t.Run("consistent", func(t *testing.T) {
				s, _ := sessionOn(t, rvTypeSetup(tc)...)
				rvCommit(t, s, `INSERT INTO `+rvP+` VALUES (`+tc.pval+`, 1); INSERT INTO `+rvC+` VALUES (1, `+tc.cval+`)`)
				rep := rvWantThrough(t, s, engine.UndoOptions{})
				rvWantThrough(t, s, engine.UndoOptions{Entries: []int64{rep.Seq}})
			})
			t.Run("non-key-update", func(t *testing.T) {
				s, db := sessionOn(t, rvTypeSetup(tc)...)
				rvExec(t, db, `INSERT INTO `+rvP+` VALUES (`+tc.pval+`, 1)`)
				rvCommit(t, s, `UPDATE `+rvP+` SET v = 2`)
				rvExec(t, db, `INSERT INTO `+rvC+` VALUES (1, `+tc.cval+`)`)
				rvWantThrough(t, s, engine.UndoOptions{})
			})
			if tc.alt != "" {
				t.Run("equal-key", func(t *testing.T) {
					s, db := sessionOn(t, rvTypeSetup(tc)...)
					rvExec(t, db, `INSERT INTO `+rvP+` VALUES (`+tc.pval+`, 1)`)
					rvCommit(t, s, `UPDATE `+rvP+` SET "k ""1" = `+tc.alt)
					rvExec(t, db, `INSERT INTO `+rvC+` VALUES (1, `+tc.cval+`)`)
					rvWantThrough(t, s, engine.UndoOptions{})
				})
			}
		})
	}
}

// Partitioned parent and child, written through the partitioned tables
// and through a partition; inheritance parent; self reference; upsert.
func TestReviewRefsShapesOK(t *testing.T) {
	setup := []string{
		`CREATE TABLE pp (id int, r int, PRIMARY KEY (id, r)) PARTITION BY LIST (r)`,
		`CREATE TABLE pp1 PARTITION OF pp FOR VALUES IN (1)`, `CREATE TABLE pp2 PARTITION OF pp FOR VALUES IN (2)`,
		`CREATE TABLE cc (id int, pid int, pr int, PRIMARY KEY (id)) PARTITION BY RANGE (id)`,
		`CREATE TABLE cc1 PARTITION OF cc FOR VALUES FROM (0) TO (100)`,
		`ALTER TABLE cc ADD FOREIGN KEY (pid, pr) REFERENCES pp`,
	}
	t.Run("partitioned removed", func(t *testing.T) {
		s, db := sessionOn(t, setup...)
		rvCommit(t, s, `INSERT INTO pp VALUES (5, 2)`)
		rvExec(t, db, `INSERT INTO cc VALUES (1, 5, 2), (2, 5, NULL)`)
		rvWantRefusedOnly(t, s)
	})
	t.Run("partition removed", func(t *testing.T) {
		s, db := sessionOn(t, setup...)
		rvCommit(t, s, `INSERT INTO pp2 VALUES (5, 2)`)
		rvExec(t, db, `INSERT INTO cc VALUES (1, 5, 2)`)
		rvWantRefusedOnly(t, s)
	})
	t.Run("partitioned written", func(t *testing.T) {
		s, db := sessionOn(t, setup...)
		rvExec(t, db, `INSERT INTO pp VALUES (5, 2)`, `INSERT INTO cc VALUES (1, 5, 2)`)
		rvCommit(t, s, `DELETE FROM cc1`)
		rvExec(t, db, `DELETE FROM pp`)
		rvWantRefusedOnly(t, s)
	})
	t.Run("partition key moves", func(t *testing.T) {
		s, db := sessionOn(t, setup...)
		rvExec(t, db, `INSERT INTO pp VALUES (5, 1)`)
		rvCommit(t, s, `UPDATE pp SET r = 2`)
		rvExec(t, db, `INSERT INTO cc VALUES (1, 5, 2)`)
		rvWantRefusedOnly(t, s)
	})
	t.Run("inheritance", func(t *testing.T) {
		s, db := sessionOn(t, `CREATE TABLE ip (id int PRIMARY KEY)`, `CREATE TABLE ic () INHERITS (ip)`,
			`CREATE TABLE ch (id int PRIMARY KEY, pid int REFERENCES ip)`)
		rvExec(t, db, `INSERT INTO ip VALUES (6)`, `INSERT INTO ch VALUES (1, 6)`)
		rvCommit(t, s, `DELETE FROM ch`)
		// ic's 6 is not visible to the key, which reads ONLY ip.
		rvExec(t, db, `DELETE FROM ip WHERE id = 6`, `INSERT INTO ic VALUES (6)`)
		rvWantRefusedOnly(t, s)
	})
	t.Run("self", func(t *testing.T) {
		s, db := sessionOn(t, `CREATE TABLE n (id int PRIMARY KEY, up int REFERENCES n)`)
		rvCommit(t, s, `INSERT INTO n VALUES (1, NULL), (2, 1)`)
		rvExec(t, db, `INSERT INTO n VALUES (3, 2)`)
		rvWantRefusedOnly(t, s)
		rvExec(t, db, `DELETE FROM n WHERE id = 3`)
		rvWantThrough(t, s, engine.UndoOptions{})
	})
	t.Run("upsert", func(t *testing.T) {
		s, db := sessionOn(t, `CREATE TABLE p (id int PRIMARY KEY, v text)`, `CREATE TABLE c (id int PRIMARY KEY, pid int REFERENCES p)`,
			`INSERT INTO p VALUES (1, 'a')`, `INSERT INTO c VALUES (1, 1)`)
		rvCommit(t, s, `INSERT INTO p VALUES (1, 'b'), (2, 'n') ON CONFLICT (id) DO UPDATE SET v = excluded.v`)
		rvExec(t, db, `INSERT INTO c VALUES (2, 1)`)
		rvWantThrough(t, s, engine.UndoOptions{})
	})
}

// The race the EXCLUSIVE lock closes: a session that added a referring
// row before the undo (holding ROW SHARE on the parent) commits while
// the undo waits for its lock; the undo's snapshot, taken after the lock,
// sees the row and refuses.
func TestReviewRefsChildCommittedDuringUndoOK(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE p (id int PRIMARY KEY)`, `CREATE TABLE c (id int PRIMARY KEY, pid int REFERENCES p)`)
	rvCommit(t, s, `INSERT INTO p VALUES (5)`)
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`INSERT INTO c VALUES (1, 5)`); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := s.Undo(ctx, engine.UndoOptions{}); done <- err }()
	deadline := time.Now().Add(10 * time.Second)
	// The undo waits for the parent row the uncommitted child locked.
	for rvInt(t, db, `SELECT count(*) FROM pg_locks WHERE NOT granted`) == 0 {
		if time.Now().After(deadline) {
			tx.Rollback()
			t.Fatal("the undo never waited for the parent row's lock")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	err = <-done
	var re *engine.ReferenceError
	if !errors.As(err, &re) {
		t.Fatalf("Undo: %v; want *engine.ReferenceError", err)
	}
	// And a referring row added while the undo runs waits, then fails.
}
