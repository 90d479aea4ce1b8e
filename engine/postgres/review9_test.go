package postgres_test

// Review of 5b269b0 and b091750.

import (
	"context"
	"database/sql"
	"testing"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
)

// afterDDL forgets prepared statements only after undo's own DDL. A
// column's type changed by a captured batch (the GUI's long-lived
// session: undo, then run an ALTER, then undo again) leaves pgx's cached
// Fetch statement of the table (SELECT k.ord, t.id, t.v ...) prepared
// for the old result type, and the next undo of a row of that table
// fails with "cached plan must not change result type".
func TestReview9CapturedTypeChangeStalesUndoFetch(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, v text)`, `INSERT INTO t VALUES (1, 'a'), (2, 'a')`)
	seqs := enginetest.CommitAll(t, s, `UPDATE t SET v = 'b' WHERE id = 1`, `UPDATE t SET v = 'b' WHERE id = 2`)
	if rep := undoAll(t, s, engine.UndoOptions{Entries: seqs[1:]}); !rep.Complete() {
		t.Fatalf("undo of entry %d: conflicts %v", seqs[1], rep.Conflicts)
	}
	enginetest.CommitAll(t, s, `ALTER TABLE t ALTER COLUMN v TYPE varchar(10)`)
	rep, err := s.Undo(context.Background(), engine.UndoOptions{Entries: seqs[:1]})
	if err != nil {
		t.Fatalf("undo of entry %d after a captured ALTER COLUMN TYPE in the same session: %v", seqs[0], err)
	}
	if !rep.Complete() {
		t.Fatalf("conflicts %v", rep.Conflicts)
	}
	if got := enginetest.Joined(t, db, `SELECT string_agg(v, ',' ORDER BY id) FROM t`); got != "a,a" {
		t.Fatalf("rows %s", got)
	}
}

// The same with the type changed by someone else between two undos of
// one session (the session's connection outlives both).
func TestReview9ForeignTypeChangeStalesUndoFetch(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, v text)`, `INSERT INTO t VALUES (1, 'a'), (2, 'a')`)
	seqs := enginetest.CommitAll(t, s, `UPDATE t SET v = 'b' WHERE id = 1`, `UPDATE t SET v = 'b' WHERE id = 2`)
	if rep := undoAll(t, s, engine.UndoOptions{Entries: seqs[1:]}); !rep.Complete() {
		t.Fatalf("undo of entry %d: conflicts %v", seqs[1], rep.Conflicts)
	}
	enginetest.ExecAll(t, db, `ALTER TABLE t ALTER COLUMN v TYPE varchar(10)`)
	rep, err := s.Undo(context.Background(), engine.UndoOptions{Entries: seqs[:1]})
	if err != nil {
		t.Fatalf("undo of entry %d after another session's ALTER COLUMN TYPE: %v", seqs[0], err)
	}
	if !rep.Complete() {
		t.Fatalf("conflicts %v", rep.Conflicts)
	}
}

// r9ACL is the table's privileges (aclOf) and owner.
func r9ACL(t *testing.T, db *sql.DB, table string) string {
	t.Helper()
	return enginetest.Joined(t, db, aclOf, table) + " owner=" + enginetest.Joined(t, db, `SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = $1::regclass`, table)
}

// r9RoundTrip commits batches, undoes the session (the privileges must
// be those before), then undoes the undo (those after).
func r9RoundTrip(t *testing.T, s *engine.Session, db *sql.DB, table string, batches ...string) {
	t.Helper()
	before := r9ACL(t, db, table)
	enginetest.CommitAll(t, s, batches...)
	after := r9ACL(t, db, table)
	if after == before {
		t.Fatalf("%v changed nothing: %s", batches, after)
	}
	rep := undoAll(t, s, engine.UndoOptions{})
	if !rep.Complete() {
		t.Fatalf("undo: conflicts %v, skipped %v", rep.Conflicts, rep.Skipped)
	}
	if got := r9ACL(t, db, table); got != before {
		t.Fatalf("undo of %v reported complete; privileges\n %s\nwant\n %s", batches, got, before)
	}
	rep = undoAll(t, s, engine.UndoOptions{Entries: []int64{rep.Seq}})
	if !rep.Complete() {
		t.Fatalf("undo of the undo: conflicts %v, skipped %v", rep.Conflicts, rep.Skipped)
	}
	if got := r9ACL(t, db, table); got != after {
		t.Fatalf("undo of the undo of %v; privileges\n %s\nwant\n %s", batches, got, after)
	}
}

func r9Owned(t *testing.T, setup ...string) (*engine.Session, *sql.DB) {
	s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, v text)`)
	r8Roles(t, db, "lb9_own", "lb9_b")
	enginetest.ExecAll(t, db, `ALTER TABLE t OWNER TO lb9_own`)
	enginetest.ExecAll(t, db, setup...)
	return s, db
}

// The owner's column privileges are in neither the definition (relationACL
// leaves the owner out) nor aclState (table privileges only): GRANT of a
// column privilege to the owner is "undone" completely and stays.
func TestReview9GrantColumnToOwner(t *testing.T) {
	s, db := r9Owned(t)
	r9RoundTrip(t, s, db, "t", `GRANT UPDATE (v) ON t TO lb9_own`)
}

// REVOKE of the owner's column privilege: undone completely, not given back.
func TestReview9RevokeColumnFromOwner(t *testing.T) {
	s, db := r9Owned(t, `GRANT UPDATE (v) ON t TO lb9_own`)
	r9RoundTrip(t, s, db, "t", `REVOKE UPDATE (v) ON t FROM lb9_own`)
}

// aclState lists the owner's privileges without their grant options
// (alter_settings' ownerPrivs has them): a grant option given to the owner
// stays after an undo reported complete.
func TestReview9GrantOptionToOwner(t *testing.T) {
	s, db := r9Owned(t, `REVOKE ALL ON t FROM lb9_own`, `GRANT SELECT ON t TO lb9_own`)
	r9RoundTrip(t, s, db, "t", `GRANT SELECT ON t TO lb9_own WITH GRANT OPTION`)
}

// OWNER TO's revert runs REVOKE ALL ON TABLE ... FROM the owner it gives
// the table to, which also revokes that role's column privileges, and
// ownerPrivs (table privileges) does not give them back: undoing the undo
// loses the new owner's merged column grant.
func TestReview9OwnerToNewOwnerHadColumnGrant(t *testing.T) {
	s, db := r9Owned(t, `GRANT UPDATE (v) ON t TO lb9_b`)
	r9RoundTrip(t, s, db, "t", `ALTER TABLE t OWNER TO lb9_b`)
}

// The same on the undo: the old owner's own column grant is lost.
func TestReview9OwnerToOldOwnerColumnGrant(t *testing.T) {
	s, db := r9Owned(t, `GRANT UPDATE (v) ON t TO lb9_own`)
	r9RoundTrip(t, s, db, "t", `ALTER TABLE t OWNER TO lb9_b`)
}

// regrant's REVOKE ALL ON TABLE ... FROM the owner (run when the owner's
// table privileges differ) also revokes the owner's column privileges,
// which nothing grants back: the undo of a REVOKE of the owner's table
// privilege wipes a column grant the statement never touched.
func TestReview9RevokeFromOwnerWipesOwnerColumnGrant(t *testing.T) {
	s, db := r9Owned(t, `GRANT UPDATE (v) ON t TO lb9_own`)
	r9RoundTrip(t, s, db, "t", `REVOKE DELETE ON t FROM lb9_own`)
}

// --force refuses, for a later widening of a column's type (varchar(10)
// to varchar(20)), the undo of an INSERT (which deletes by key and writes
// no value) and of an UPDATE that the same undo without --force carries
// out: forcing is stricter than not forcing.
func TestReview9ForcedUndoRefusesWidenedType(t *testing.T) {
	for _, force := range []bool{false, true} {
		s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, v varchar(10))`, `INSERT INTO t VALUES (1, 'a')`)
		enginetest.CommitAll(t, s, `INSERT INTO t VALUES (2, 'b')`, `UPDATE t SET v = 'x' WHERE id = 1`)
		enginetest.ExecAll(t, db, `ALTER TABLE t ALTER COLUMN v TYPE varchar(20)`)
		rep, err := s.Undo(context.Background(), engine.UndoOptions{Force: force})
		if err != nil {
			t.Fatalf("force=%v: %v", force, err)
		}
		if !rep.Complete() {
			t.Fatalf("force=%v: conflicts %v (the same undo without --force is complete)", force, rep.Conflicts)
		}
		if got := enginetest.Joined(t, db, `SELECT string_agg(id || v, ',' ORDER BY id) FROM t`); got != "1a" {
			t.Fatalf("force=%v: rows %s", force, got)
		}
	}
}
