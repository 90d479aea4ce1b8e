package sqlite_test

import (
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/mattn/go-sqlite3" // the "sqlite3" database/sql driver for the second connection

	"lifebelt/engine"
	"lifebelt/engine/enginetest"
	"lifebelt/engine/sqlite"
)

// harness runs the shared contract suite on SQLite files in the test's
// temporary directory.
var harness = enginetest.Harness{
	Dialect: "sqlite",
	// The file name holds a space, a quote and a '#', which a DSN built by
	// string concatenation would cut off.
	NewTarget: func(t testing.TB) string {
		return "sqlite:" + filepath.Join(t.TempDir(), "target #1 'x'.db")
	},
	Open:     openDB,
	Truncate: func(table string) string { return "DELETE FROM " + table },
	KeyVariants: []string{"integer PRIMARY KEY ON CONFLICT REPLACE", "integer PRIMARY KEY ON CONFLICT IGNORE",
		"integer PRIMARY KEY ON CONFLICT ROLLBACK", "integer PRIMARY KEY ON CONFLICT FAIL"},
	// SQLite's own defaults in rollback-journal mode: a guarded commit must
	// be as durable as a bare one, and foreign-key actions must run.
	SessionSettings: map[string]string{"PRAGMA synchronous": "2", "PRAGMA foreign_keys": "1"},
	RowID:           "rowid",
	AuditTrigger: func(table, audit string) []string {
		var out []string
		for i, ev := range []string{"INSERT", "UPDATE", "DELETE"} {
			out = append(out, fmt.Sprintf("CREATE TRIGGER \"audit %d\" AFTER %s ON %s BEGIN INSERT INTO %s VALUES ('%s'); END", i, ev, table, audit, ev))
		}
		return out
	},
	ImagesTriggerWrites: true,
	Dump:                dump,
	Catalog:             catalog,
	AutoIDs: []enginetest.AutoID{
		{Name: "autoincrement", Column: "INTEGER PRIMARY KEY AUTOINCREMENT", NeverReuses: true},
		{Name: "rowid alias", Column: "INTEGER PRIMARY KEY"},
	},
	Types: []enginetest.TypeCase{
		{Name: "integer", Type: "INTEGER", Values: []string{"0", "-1", "9223372036854775807", "-9223372036854775808"}},
		{Name: "real", Type: "REAL", Values: []string{"0.1", "-0.0", "2.5", "1.7976931348623157e308", "4.9e-324", "3.141592653589793", "9e999", "-9e999", "1"}},
		{Name: "text", Type: "TEXT", Values: []string{"''", "'it''s'", "'ünïcödé 🚀'", "'line1' || char(10) || 'line2'",
			"'nul' || char(0) || 'byte'", "'  spaced  '", "'NULL'", "'12'", "CAST(x'ff00fe' AS TEXT)"}},
		{Name: "blob", Type: "BLOB", Values: []string{"x''", "x'00'", "x'00ff10'", "x'DEADBEEF'"}},
		{Name: "numeric", Type: "NUMERIC", Values: []string{"'1.50'", "1.5", "'12345678901234567890'", "'abc'", "x'01'", "'0x10'"}},
		{Name: "decimal", Type: "DECIMAL(10,2)", Values: []string{"1.10", "'3.00'", "100"}},
		{Name: "untyped", Type: "", Values: []string{"1", "1.5", "'text'", "x'01'", "'1'"}},
		{Name: "boolean", Type: "BOOLEAN", Values: []string{"TRUE", "FALSE", "'yes'"}},
		{Name: "datetime", Type: "DATETIME", Values: []string{"'2024-02-29 23:59:59.999'", "'2024-02-29T23:59:59Z'", "1709251199", "2460370.5"}},
		{Name: "varchar", Type: "VARCHAR(3)", Values: []string{"'abcdefgh'", "42", "4.5"}},
		{Name: "json", Type: "JSON", Values: []string{`'{"b": 1, "a": [1, 2]}'`, `json('{"a" : 1}')`, `'[]'`}},
	},
}

func TestContract(t *testing.T)         { enginetest.Run(t, harness) }
func TestCrashConsistency(t *testing.T) { enginetest.RunCrash(t, harness) }
func BenchmarkSession(b *testing.B)     { enginetest.Bench(b, harness) }

// openDB opens the second connection with the durability of a careful bare
// client: synchronous=FULL, foreign keys enforced.
func openDB(t testing.TB, target string) *sql.DB {
	t.Helper()
	tg, err := engine.ParseTarget(target)
	if err != nil {
		t.Fatal(err)
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(tg.Path)}
	db, err := sql.Open("sqlite3", u.String()+"?_busy_timeout=10000&_sync=FULL&_foreign_keys=1")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	if err := db.Ping(); err != nil {
		t.Fatalf("opening %s: %v", tg.Path, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// dump renders each row exactly: storage class plus value, text and blobs
// in hex (so NUL bytes and invalid UTF-8 count), reals with 17 digits.
func dump(t testing.TB, db *sql.DB, table string) []string {
	t.Helper()
	cols := enginetest.FirstColumn(t, db, "SELECT name FROM pragma_table_xinfo(?) ORDER BY cid", table)
	if len(cols) == 0 {
		t.Fatalf("dump: table %q does not exist", table)
	}
	exprs := make([]string, len(cols))
	for i, c := range cols {
		c = sqlite.QuoteIdent(c)
		exprs[i] = fmt.Sprintf(`CASE typeof(%[1]s) WHEN 'null' THEN 'NULL' WHEN 'integer' THEN 'i' || %[1]s
			WHEN 'real' THEN 'r' || printf('%%!.17g', %[1]s) WHEN 'text' THEN 't' || hex(%[1]s) ELSE 'b' || hex(%[1]s) END`, c)
	}
	return enginetest.FirstColumn(t, db, "SELECT "+strings.Join(exprs, " || ',' || ")+" FROM "+sqlite.QuoteIdent(table))
}

// catalog lists the table's stored SQL, columns, indexes (with their
// columns), foreign keys and triggers.
func catalog(t testing.TB, db *sql.DB, table string) []string {
	t.Helper()
	var out []string
	add := func(prefix, q string, args ...any) {
		for _, s := range enginetest.FirstColumn(t, db, q, args...) {
			out = append(out, prefix+s)
		}
	}
	add("schema: ", "SELECT type || ' ' || name || ': ' || coalesce(sql, '') FROM sqlite_schema WHERE tbl_name = ?", table)
	add("column: ", `SELECT cid || ' ' || name || ' ' || type || ' notnull=' || "notnull" || ' default=' || coalesce(dflt_value, '-')
		|| ' pk=' || pk || ' hidden=' || hidden FROM pragma_table_xinfo(?)`, table)
	add("index: ", `SELECT l.name || ' unique=' || l."unique" || ' origin=' || l.origin || ' partial=' || l.partial || ' cols=' ||
		(SELECT group_concat(coalesce(x.name, '<expr>') || ':' || x."desc" || ':' || coalesce(x.coll, ''), ',')
		 FROM pragma_index_xinfo(l.name) x WHERE x.key)
		FROM pragma_index_list(?) l`, table)
	add("fk: ", `SELECT id || ' ' || seq || ' ' || "table" || ' ' || "from" || '->' || coalesce("to", '') || ' ' ||
		on_update || ' ' || on_delete || ' ' || "match" FROM pragma_foreign_key_list(?)`, table)
	return out
}
