package postgres_test

// Review of c89d52c: a forced undo lets "a length or precision change"
// through (baseType compares types without their modifiers).

import (
	"context"
	"testing"

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
)

// A scale narrowed since (numeric(10,2) to numeric(10,0)) is let
// through by the forced undo, which writes 1.25 into numeric(10,0):
// PostgreSQL rounds it to 1, and the undo reports itself complete with
// a value that is not the one recorded. Before c89d52c this was the
// conflict "the type of column(s) v changed since, so forcing them back
// could fail or convert them".
func TestReview10ForcedUndoRoundsNarrowedNumeric(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, v numeric(10,2))`, `INSERT INTO t VALUES (1, 1.25)`)
	enginetest.CommitAll(t, s, `UPDATE t SET v = 2.75 WHERE id = 1`)
	enginetest.ExecAll(t, db, `ALTER TABLE t ALTER COLUMN v TYPE numeric(10,0)`)
	rep, err := s.Undo(context.Background(), engine.UndoOptions{Force: true})
	if err != nil {
		t.Fatalf("forced undo: %v", err)
	}
	got := enginetest.Joined(t, db, `SELECT v::text FROM t WHERE id = 1`)
	if rep.Complete() && got != "1.25" {
		t.Fatalf("forced undo reported complete, conflicts %v; v = %s, recorded 1.25 (converted silently)", rep.Conflicts, got)
	}
}

// The same with timestamp(6) narrowed to timestamp(0): fractions are
// rounded away silently.
func TestReview10ForcedUndoRoundsNarrowedTimestamp(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, v timestamp(6) with time zone)`, `INSERT INTO t VALUES (1, '2024-01-01 10:00:00.123456+00')`)
	enginetest.CommitAll(t, s, `UPDATE t SET v = '2025-01-01 00:00:00+00' WHERE id = 1`)
	enginetest.ExecAll(t, db, `ALTER TABLE t ALTER COLUMN v TYPE timestamp(0) with time zone`)
	rep, err := s.Undo(context.Background(), engine.UndoOptions{Force: true})
	if err != nil {
		t.Fatalf("forced undo: %v", err)
	}
	got := enginetest.Joined(t, db, `SELECT to_char(v AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') FROM t WHERE id = 1`)
	if rep.Complete() && got != "2024-01-01 10:00:00.123456" {
		t.Fatalf("forced undo reported complete, conflicts %v; v = %s, recorded 2024-01-01 10:00:00.123456 (converted silently)", rep.Conflicts, got)
	}
}

// A length widened since on a bit(n) column (bit(5) to bit(8)) is "let
// through", but bit(n) takes only strings of exactly n bits: the forced
// undo fails as a whole with an error instead of reporting the conflict
// it reported before c89d52c (or the non-forced undo's outcome).
func TestReview10ForcedUndoWidenedBitFails(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, v bit(5), w int)`, `INSERT INTO t VALUES (1, B'10101', 0), (2, B'00001', 0)`)
	enginetest.CommitAll(t, s, `UPDATE t SET w = 1 WHERE id = 2`, `DELETE FROM t WHERE id = 1`)
	enginetest.ExecAll(t, db, `ALTER TABLE t ALTER COLUMN v TYPE bit(8) USING v::bit(8)`)
	rep, err := s.Undo(context.Background(), engine.UndoOptions{Force: true})
	if err != nil {
		t.Fatalf("forced undo after bit(5) became bit(8) fails outright (no conflict, nothing undone): %v", err)
	}
	_ = rep
}

// varchar(20) narrowed to varchar(3): the recorded value does not fit,
// and the forced undo fails as a whole instead of reporting a conflict.
func TestReview10ForcedUndoNarrowedVarcharFails(t *testing.T) {
	s, db := sessionOn(t, `CREATE TABLE t (id int PRIMARY KEY, v varchar(20))`, `INSERT INTO t VALUES (1, 'abcdefgh'), (2, 'x')`)
	enginetest.CommitAll(t, s, `UPDATE t SET v = 'abc' WHERE id = 1`)
	enginetest.ExecAll(t, db, `ALTER TABLE t ALTER COLUMN v TYPE varchar(3)`)
	rep, err := s.Undo(context.Background(), engine.UndoOptions{Force: true})
	if err != nil {
		t.Fatalf("forced undo after varchar(20) became varchar(3) fails outright (no conflict): %v", err)
	}
	_ = rep
}
