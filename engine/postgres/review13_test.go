package postgres_test

// Review 13: undo of SET LOGGED / SET UNLOGGED / SET TABLESPACE (commit
// 683720b). Run: go test ./engine/postgres/ -run TestReview13 -count=1

import (
	"testing"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
)

// SET LOGGED and SET UNLOGGED also change the persistence of every
// sequence the table owns (serial, identity, OWNED BY). The undo is only
// the table's opposite, so a sequence whose persistence differed from its
// table's does not come back: an unlogged table whose sequence is logged
// (a sequence attached with ALTER SEQUENCE ... OWNED BY, or any unlogged
// table with a serial column brought over by pg_upgrade from PostgreSQL
// 14 or older, where sequences were always logged) is made LOGGED to make
// it crash-safe; its undo's SET UNLOGGED makes the sequence unlogged too,
// the exact check sees it, and the undo is a conflict every time. The
// ALTER gave no warning that it could not be undone.
//
//	CREATE SEQUENCE s; CREATE UNLOGGED TABLE t (id int PRIMARY KEY DEFAULT nextval('s'), v text);
//	ALTER SEQUENCE s OWNED BY t.id;   ALTER TABLE t SET LOGGED;   undo
//
// What happens: conflict "the table's definition is not the one recorded
// before the ALTER; now there is: CREATE UNLOGGED SEQUENCE ...".
// Expected: t unlogged again and s as it was (logged): the revert also
// sets each owned sequence's persistence back (ALTER SEQUENCE ... SET
// LOGGED/UNLOGGED), or the ALTER says at once that it is left to people.
func TestReview13SetLoggedOwnedSequenceMismatch(t *testing.T) {
	s, db := sessionOn(t, `CREATE SEQUENCE s`, `CREATE UNLOGGED TABLE t (id int PRIMARY KEY DEFAULT nextval('s'), v text)`,
		`ALTER SEQUENCE s OWNED BY t.id`, `INSERT INTO t (v) VALUES ('a')`)
	state := func() string {
		return enginetest.Joined(t, db, `SELECT string_agg(relname || ':' || relpersistence::text, ',' ORDER BY relname) FROM pg_class WHERE oid IN ('t'::regclass, 's'::regclass)`)
	}
	before := state() // s:p,t:u
	enginetest.CommitAll(t, s, `ALTER TABLE t SET LOGGED`)
	rep := undoAll(t, s, engine.UndoOptions{})
	if !rep.Complete() {
		t.Fatalf("undo of SET LOGGED: conflicts %+v, skipped %v", rep.Conflicts, rep.Skipped)
	}
	if got := state(); got != before {
		t.Errorf("after undo: %s, before the ALTER: %s", got, before)
	}
}
