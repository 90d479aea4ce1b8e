package engine

import "testing"

// dropsColumn (the lexical classifier used for SQLite, and for T-SQL text)
// takes a DROP followed by PERIOD, SYSTEM, RULE, KEY, IDENTITY,
// EXPRESSION, STATISTICS, PARTITION or TRIGGER for a MySQL/PostgreSQL/
// T-SQL "DROP <something that is not a column>", but on SQLite those are
// ordinary column names (not keywords at all, or keywords SQLite takes as
// names), and SQLite's only DROP in ALTER TABLE is DROP [COLUMN] name:
//
//	sqlite3 x.db "CREATE TABLE t (id INTEGER PRIMARY KEY, period int, key int)"
//	lifebelt exec --target sqlite:x.db -c "ALTER TABLE t DROP period"
//
// What happens: the column and its values are dropped with no
// confirmation ("ALTER TABLE t DROP a" on the same table asks for it).
// What a DBA expects: every column drop asks for the confirmation naming
// the database, whatever the column is called.
//
// inAlterColumn also scans back to toks[2], the table's name, so a table
// called change or modify (plain names in SQLite) makes any DROP of it
// look like "ALTER/CHANGE/MODIFY column ... DROP ...":
//
//	lifebelt exec --target sqlite:x.db -c "ALTER TABLE change DROP c"
//
// drops the column without confirmation too.
func TestReview11SQLiteDropColumnNamedLikeKeyword(t *testing.T) {
	for _, in := range []string{
		"ALTER TABLE t DROP period",
		"ALTER TABLE t DROP key",
		"ALTER TABLE t DROP system",
		"ALTER TABLE t DROP rule",
		"ALTER TABLE t DROP identity",
		"ALTER TABLE t DROP expression",
		"ALTER TABLE t DROP statistics",
		"ALTER TABLE t DROP partition",
		"ALTER TABLE t DROP trigger",
		"ALTER TABLE change DROP c",
		"ALTER TABLE modify DROP c",
		"ALTER TABLE main.change DROP c",
	} {
		sts, err := SplitSQL(in, SyntaxSQLite)
		if err != nil || len(sts) != 1 {
			t.Fatalf("%q: %v %v", in, sts, err)
		}
		if !sts[0].Destructive() {
			t.Errorf("%q (SQLite): Destructive() = false: the column is dropped without the confirmation", in)
		}
	}
}

// T-SQL's DROP clause takes a list mixing constraints and columns:
// ALTER TABLE t DROP CONSTRAINT k, COLUMN b drops column b. The classifier
// sees "DROP CONSTRAINT" and skips it; "COLUMN b" after the comma has no
// DROP before it. The statement is not destructive to it, although it
// destroys the column's values. Also, in T-SQL "DROP name" without a
// keyword drops a CONSTRAINT, yet it is taken for a column drop (a
// harmless false positive, not asserted here).
func TestReview11TSQLDropConstraintThenColumn(t *testing.T) {
	for _, in := range []string{
		"ALTER TABLE t DROP CONSTRAINT k, COLUMN b",
		"ALTER TABLE t DROP CONSTRAINT IF EXISTS k, COLUMN IF EXISTS b",
	} {
		sts, err := SplitSQL(in, SyntaxTSQL)
		if err != nil || len(sts) != 1 {
			t.Fatalf("%q: %v %v", in, sts, err)
		}
		if !sts[0].Destructive() {
			t.Errorf("%q (T-SQL): Destructive() = false: column b is dropped without the confirmation", in)
		}
	}
}
