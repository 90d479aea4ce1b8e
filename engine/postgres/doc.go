// Package postgres is Lifebelt's PostgreSQL dialect. Importing it registers
// the "postgres" driver with the engine.
//
// A session pins one pgx connection whose settings make every value's text
// canonical and exact (ISO dates, UTC time zone, shortest exact floats, hex
// bytea); images hold that text, which round-trips through each type's
// input function. A batch runs in one REPEATABLE READ transaction: all its
// statements see one snapshot, and a statement that would change a row
// another session changed after it fails with a serialization error
// (reported as ErrConcurrentChange) instead of working on newer data.
//
// Split uses PostgreSQL's own parser (pg_query) for statement boundaries and
// classification. Exec captures exact images by rewriting statements on
// their parse trees:
//
//   - DELETE ... RETURNING <target>.* streams each deleted row.
//   - UPDATE joins its target, by tableoid and ctid, to a subselect of the
//     target's own rows and returns old and new values together.
//   - INSERT ... RETURNING <target>.* streams each new row; ON CONFLICT DO
//     UPDATE first selects the existing rows a candidate conflicts with.
//   - Rows changed by foreign-key actions are selected level by level from
//     the same snapshot before the statement runs.
//   - DROP TABLE and TRUNCATE lock their tables, then image every row and
//     the table's definition; other DDL records definitions before and after.
//
// A rewritten statement runs only if its text parses back to exactly the
// rewritten tree: the user's own text with Lifebelt's clauses spliced in,
// else the tree printed by pg_query's deparser.
//
// Every change is then checked against the transaction's own per-table
// change counters (pg_stat_xact_*), read for the tables the transaction
// touched (see localCountersSQL): a table the images cover must have
// changed by exactly as many rows as were imaged, or the batch stops; rows
// changed elsewhere (by triggers) produce a warning. Deferred constraint
// triggers, which would run at COMMIT after the images were journaled, run
// at the end of the batch instead (Settle), checked the same way. DDL
// runs between two readings of every table's counters, so rows changed by
// code it runs (event triggers, functions) are reported too. Reads run in a
// savepoint and are rolled back and refused when the counters move.
// Statements that cannot be imaged exactly are refused with an
// *engine.UnguardedError unless the caller allows unguarded execution.
package postgres
