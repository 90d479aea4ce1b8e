// Package sqlite is Lifebelt's SQLite dialect.
//
// Capture uses SQLite itself rather than parsing SQL: each statement is
// prepared with an authorizer that reports every table it (and the
// triggers it fires) writes, every DDL action and pragma; and while it
// runs, the pre-update hook (sqlite3_preupdate_hook) reports every row
// change with its old and new values, including changes made by
// foreign-key actions and triggers (at depth > 0, imaged at that Level).
// BEGIN IMMEDIATE holds SQLite's single write lock for the whole batch, so
// the images are exact under concurrency.
//
// The hook exists only when the driver is built with the
// sqlite_preupdate_hook tag; without it Open fails rather than run
// unguarded.
//
// Values keep SQLite's storage classes: INTEGER → Int, REAL → Float,
// TEXT → Text (exact bytes), BLOB → Bytes, NULL → Null. STORED generated
// columns are imaged with their values, VIRTUAL ones as NULL (the hook
// has no value for them); undo never writes either.
//
// Statements the hook cannot see are refused with *engine.UnguardedError
// unless the caller allows them: VACUUM, ATTACH/DETACH, pragmas that set
// something, writes to virtual tables or attached databases, and DROP of
// a virtual table.
//
// Files: driver.go (Driver, Conn, Tx), split.go, quote.go (quoting and
// engine.Scripter), inspect.go (table metadata and definitions), plan.go
// (classification), capture.go and ddl.go (Exec), apply.go (undo),
// bridge.* and hook*.go (the C side); snapshot.go, backup.go and
// preflight*.go implement the optional safety capabilities.
package sqlite
