package postgres

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"lifebelt/engine"
)

func TestQuoting(t *testing.T) {
	idents := map[string]string{
		"plain":       `"plain"`,
		"Mixed Case":  `"Mixed Case"`,
		`a"b""c`:      `"a""b""""c"`,
		"select":      `"select"`,
		"x; DROP":     `"x; DROP"`,
		"ünï":         `"ünï"`,
		"nul\x00byte": `"nulbyte"`,
	}
	for in, want := range idents {
		if got := quoteIdent(in); got != want {
			t.Errorf("quoteIdent(%q) = %s, want %s", in, got, want)
		}
	}
	if got := quoteQualified(`s"1`, "t.x"); got != `"s""1"."t.x"` {
		t.Errorf("quoteQualified = %s", got)
	}
	if got := quoteQualified("", "t"); got != `"t"` {
		t.Errorf("quoteQualified without schema = %s", got)
	}
	literals := map[string]string{
		"":              `''`,
		"it's":          `'it''s'`,
		`back\slash`:    `E'back\\slash'`,
		`\'`:            `E'\\'''`,
		"new\nline":     "'new\nline'",
		"nul\x00inside": `'nulinside'`,
	}
	for in, want := range literals {
		if got := quoteLiteral(in); got != want {
			t.Errorf("quoteLiteral(%q) = %s, want %s", in, got, want)
		}
	}
	tags := []struct{ prefix, text, want string }{
		{"$lb", "plain", "$lb$"},
		{"$lb", "has $lb$ inside", "$lb1$"},
		{"$lb", "ends with $lb", "$lb1$"}, // "$lb" + "$lb$" would close early
		{"$lb", "$lb$ $lb1$ x$lb", "$lb2$"},
	}
	for _, tc := range tags {
		if got := dollarTag(tc.prefix, tc.text); got != tc.want {
			t.Errorf("dollarTag(%q) = %s, want %s", tc.text, got, tc.want)
		}
	}
	for typ, want := range map[string]bool{"integer": true, "numeric(30,10)": true, "timestamp(3) with time zone": true,
		"character varying(20)[]": true, "interval year to month": true, "json": false, "point": false,
		`"s".mood`: false, "xml": false} {
		if hasBtreeEquality(typ) != want {
			t.Errorf("hasBtreeEquality(%q) = %v", typ, !want)
		}
	}
}

// scripterTable is a table with columns whose text forms are hard to match
// exactly.
const scripterTable = `CREATE TABLE @."sc;ript" ("i d" int PRIMARY KEY, n numeric, f float8, tz timestamptz, iv interval,
	j json, jb jsonb, b bytea, t text, c char(4), arr text[], x xml, pt point, co @."co mp", ci varchar(9) COLLATE @.ci)`

// Row 3's composite has only NULL fields: it IS NULL, yet is not row 4's
// NULL. Column ci holds three strings its collation finds equal.
const scripterRows = `INSERT INTO @."sc;ript" VALUES
	(1, '1.0', '0', '2024-01-01 00:00:00+00', '1 day', '{"a": 1}', '{"a": 1.0}', '\x00', 'it''s \ ok', 'ab', '{"a b",NULL}', '<a/>', '(1,2)', '(1,x)', 'abc'),
	(2, '1.00', '-0', '2024-01-01 01:00:00+01', '24:00:00', '{"a":1}', '{"a": 1.00}', '\x0000', 'it''s \ ok ', 'ab ', '{"a b"}', '<a></a>', '(1,2.0000001)', '(1," x")', 'ABC'),
	(3, 'NaN', 'NaN', 'infinity', '-1 mons', NULL, 'null', '', '', NULL, '{}', NULL, NULL, '(,)', 'Abc'),
	(4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`

func TestScripterMatchesAndLiterals(t *testing.T) {
	c := inspectConn(t)
	s := inspectSchema(t, c)
	ctx := context.Background()
	tx := inspectTx(t, c)
	execAll(t, tx, inSchema(s, `CREATE TYPE @."co mp" AS (a int, b text)`),
		inSchema(s, `CREATE COLLATION @.ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`),
		inSchema(s, scripterTable), inSchema(s, scripterRows))
	ti, err := loadTable(ctx, tx, mustOID(t, tx, s, "sc;ript"))
	if err != nil {
		t.Fatal(err)
	}
	rows := selectAll(t, tx, ti)
	var d Driver
	// The script settings, then a different time zone than the capture's:
	// matching must not depend on it.
	execAll(t, tx, strings.Split(strings.TrimSpace(scriptSettings), "\n")...)
	execAll(t, tx, "SET LOCAL TimeZone = 'Asia/Kathmandu'")
	for _, r := range rows {
		// Every single column condition picks exactly the rows whose value
		// has the same text, and the whole row exactly one row.
		var all []string
		for j, col := range ti.Columns {
			cond := d.Matches(quoteIdent(col.Name), r[j], col)
			all = append(all, cond)
			want := 0
			for _, o := range rows {
				if o[j].Equal(r[j]) {
					want++
				}
			}
			var n int
			if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+d.Table(ti)+" WHERE "+cond).Scan(&n); err != nil {
				t.Fatalf("%s: %v", cond, err)
			}
			if n != want {
				t.Errorf("%s matched %d rows, want %d", cond, n, want)
			}
		}
		var n int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+d.Table(ti)+" WHERE "+strings.Join(all, " AND ")).Scan(&n); err != nil || n != 1 {
			t.Errorf("row %v matched %d rows (%v)", r[0], n, err)
		}
	}
	// Literals re-create the rows exactly.
	execAll(t, tx, "SET LOCAL TimeZone = 'UTC'", inSchema(s, `CREATE TABLE @.copy (LIKE @."sc;ript")`))
	for _, r := range rows {
		lits := make([]string, len(r))
		for j, col := range ti.Columns {
			lits[j] = d.Literal(r[j], col)
		}
		execAll(t, tx, inSchema(s, "INSERT INTO @.copy VALUES ("+strings.Join(lits, ", ")+")"))
	}
	cti := ti
	cti.Name = "copy"
	if got := selectAll(t, tx, cti); !rowsEqual(got, selectAll(t, tx, ti)) {
		t.Errorf("rows from literals differ:\n%v\n%v", got, rows)
	}
}

func TestScripterGolden(t *testing.T) {
	var d Driver
	ti := engine.TableInfo{Schema: `sch"ema; x`, Name: "ta ble", Columns: []engine.Column{
		{Name: "id", Type: "integer"}, {Name: "n", Type: "numeric(30,10)"}, {Name: "j", Type: "json"},
		{Name: "ts", Type: "timestamp(3) with time zone"}, {Name: "u", Type: `"we ird".mood`}, {Name: "x"},
	}}
	vals := []engine.Value{
		{K: engine.TextKind, S: "42"}, {K: engine.TextKind, S: "-1.5000000000"}, {K: engine.TextKind, S: `{"a": "it's \\ here"}`},
		{K: engine.TextKind, S: "2024-01-01 00:00:00+00"}, {}, {K: engine.BytesKind, B: []byte{0, 0xff}},
	}
	var b strings.Builder
	b.WriteString(d.BeginScript())
	b.WriteString("-- Table: " + d.Table(ti) + "\n")
	for i, col := range ti.Columns {
		b.WriteString("-- " + d.QuoteIdent(col.Name) + "\n" + d.Literal(vals[i], col) + "\n" + d.Matches(d.QuoteIdent(col.Name), vals[i], col) + "\n")
	}
	b.WriteString(strings.Join(d.IfAbsent("TABLE", ti.Schema, ti.Name, []string{"CREATE TABLE x (a text DEFAULT '$lb$')", "SELECT 1"}), ";\n") + ";\n")
	b.WriteString(strings.Join(d.IfPresent("FUNCTION", "s", "f(integer, text)", []string{"DROP FUNCTION s.f(integer, text)"}), ";\n") + ";\n")
	b.WriteString(strings.Join(d.IfAbsent("TRIGGER", "s", "tr", []string{"CREATE TRIGGER tr ..."}), ";\n") + ";\n")
	b.WriteString(strings.Join(d.IfAbsent("WIDGET", "s", "w", []string{"CREATE WIDGET w"}), ";\n") + ";\n")
	b.WriteString(d.CommitScript())
	compareGolden(t, "scripter.golden", b.String())
}

func TestScripterGuardsRunTwice(t *testing.T) {
	c := inspectConn(t)
	s := inspectSchema(t, c)
	ctx := context.Background()
	tx := inspectTx(t, c)
	var d Driver
	// Statements that contain the default dollar tags, one ending in a
	// prefix of the tag.
	create := []string{
		inSchema(s, `CREATE TABLE @."g;t" (a text DEFAULT '$lb$ $lbdo$', b text DEFAULT $x$ends $lb$x$)`),
		inSchema(s, `COMMENT ON TABLE @."g;t" IS 'ends $lb'`),
	}
	fn := []string{inSchema(s, `CREATE FUNCTION @."f;n"(a int) RETURNS text LANGUAGE sql AS $lb$ SELECT '$lbdo$' $lb$`)}
	for round := 0; round < 2; round++ {
		execAll(t, tx, d.IfAbsent("TABLE", s, "g;t", create)...)
		execAll(t, tx, d.IfAbsent("FUNCTION", s, "f;n(integer)", fn)...)
		execAll(t, tx, d.IfAbsent("SCHEMA", "", s, []string{"SELECT 1/0"})...)
	}
	var cmt, out string
	if err := tx.QueryRow(ctx, inSchema(s, `SELECT obj_description('@."g;t"'::regclass, 'pg_class'), @."f;n"(1)`)).Scan(&cmt, &out); err != nil ||
		cmt != "ends $lb" || out != "$lbdo$" {
		t.Errorf("guarded statements: %q %q %v", cmt, out, err)
	}
	drop := []string{inSchema(s, `DROP TABLE @."g;t"`)}
	for round := 0; round < 2; round++ {
		execAll(t, tx, d.IfPresent("TABLE", s, "g;t", drop)...)
	}
	var exists bool
	tx.QueryRow(ctx, inSchema(s, `SELECT to_regclass('@."g;t"') IS NOT NULL`)).Scan(&exists)
	if exists {
		t.Error("IfPresent did not drop the table")
	}
	if got := d.IfAbsent("TABLE", s, "x", nil); got != nil {
		t.Errorf("IfAbsent of nothing = %q", got)
	}
}

// identMax is NAMEDATALEN-1: the parser truncates longer identifiers to it
// (at a character boundary).
const identMax = 63

func FuzzQuoteIdent(f *testing.F) {
	for _, s := range []string{"a", `"`, `""`, "select", "a b", "x; DROP TABLE y; --", "ünï", "$1", "\\", "'", "*/ /*",
		"\n", "Ω" + strings.Repeat("x", 70), strings.Repeat("é", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if name == "" || !utf8.ValidString(name) || strings.ContainsRune(name, 0) {
			return
		}
		want := name
		for len(want) > identMax {
			_, size := utf8.DecodeLastRuneInString(want)
			want = want[:len(want)-size]
		}
		sql := "SELECT 1 AS " + quoteIdent(name)
		tree, err := pg_query.Parse(sql)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		if len(tree.Stmts) != 1 {
			t.Fatalf("%s: %d statements", sql, len(tree.Stmts))
		}
		sel := tree.Stmts[0].Stmt.GetSelectStmt()
		if sel == nil || len(sel.TargetList) != 1 {
			t.Fatalf("%s: not one target", sql)
		}
		if got := sel.TargetList[0].GetResTarget().GetName(); got != want {
			t.Fatalf("%s: column named %q, want %q", sql, got, want)
		}
	})
}
