package sqlite

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lifebelt/engine"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files")

func TestQuoteIdent(t *testing.T) {
	for in, want := range map[string]string{
		"t":          `"t"`,
		`a"b`:        `"a""b"`,
		`""`:         `""""""`,
		"":           `""`,
		"x]; DROP":   `"x]; DROP"`,
		"sélect ü":   `"sélect ü"`,
		"order":      `"order"`,
		"`tick`":     "\"`tick`\"",
		"new\nline":  "\"new\nline\"",
		`'single'`:   `"'single'"`,
		"[bracket]]": `"[bracket]]"`,
	} {
		if got := QuoteIdent(in); got != want {
			t.Errorf("QuoteIdent(%q) = %s, want %s", in, got, want)
		}
	}
	if got := (Driver{}).Table(engine.TableInfo{Schema: `s"x`, Name: "t.y"}); got != `"s""x"."t.y"` {
		t.Errorf("Table = %s", got)
	}
}

// FuzzQuoteIdent: any name without NUL, quoted, names a table SQLite
// creates under exactly that name.
func FuzzQuoteIdent(f *testing.F) {
	for _, s := range []string{"t", `a"b`, `"`, "", " ", "]", "[x]", "`", "'", ";", "--", "/*", "order", "select", "ü", "\xff\xfe", "a\nb", `"; DROP TABLE x; --`} {
		f.Add(s)
	}
	c := openConn(f, newFile(f, ""))
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, name string) {
		if strings.IndexByte(name, 0) >= 0 {
			t.Skip("SQLite identifiers cannot hold NUL")
		}
		if strings.HasPrefix(lowerASCII(name), "sqlite_") {
			t.Skip("names starting with sqlite_ are reserved")
		}
		if err := c.cc.exec(ctx, "CREATE TABLE "+QuoteIdent(name)+"(x)"); err != nil {
			t.Fatalf("CREATE TABLE %s: %v", QuoteIdent(name), err)
		}
		defer c.cc.exec(ctx, "DROP TABLE "+QuoteIdent(name))
		var got []string
		err := c.cc.query(ctx, "SELECT name FROM sqlite_schema WHERE type = 'table'", nil, func(r []engine.Value) error {
			got = append(got, r[0].S)
			return nil
		})
		if err != nil || len(got) != 1 || got[0] != name {
			t.Fatalf("sqlite_schema names %q for %q (%v)", got, name, err)
		}
	})
}

// literalCases cover every storage class and the values that break naive
// rendering.
var literalCases = []engine.Value{
	{}, {K: kInt, I: 0}, {K: kInt, I: -1}, {K: kInt, I: math.MaxInt64}, {K: kInt, I: math.MinInt64},
	{K: kFloat, F: 0}, {K: kFloat, F: math.Copysign(0, -1)}, {K: kFloat, F: 1}, {K: kFloat, F: 0.1}, {K: kFloat, F: -2.5e-300},
	{K: kFloat, F: 1e21}, {K: kFloat, F: 123456789012345678}, {K: kFloat, F: math.MaxFloat64}, {K: kFloat, F: math.SmallestNonzeroFloat64},
	{K: kFloat, F: math.Inf(1)}, {K: kFloat, F: math.Inf(-1)},
	textValue(""), textValue("it's"), textValue("1"), textValue("a\x00b"), textValue("\xff\xfe"), textValue("ünï 🚀\n--;"),
	{K: kBytes, B: []byte{}}, {K: kBytes, B: []byte{0, 0xff}}, {K: kBytes, B: []byte("1")},
}

// TestLiteralRoundTrip: SQLite reads every literal back as the same value
// of the same storage class, bit for bit.
func TestLiteralRoundTrip(t *testing.T) {
	c := openConn(t, newFile(t, ""))
	for _, v := range literalCases {
		lit := literal(v)
		var got engine.Value
		err := c.cc.query(context.Background(), "SELECT "+lit, nil, func(r []engine.Value) error { got = r[0]; return nil })
		if err != nil || !got.Equal(v) {
			t.Errorf("SELECT %s = %s (%v), want %s", lit, valString(got), err, valString(v))
		}
	}
}

// TestMatchesIsExact: each condition selects exactly the one row holding
// that value, although SQLite compares 1 = 1.0 and, in a NOCASE column,
// 'a' = 'A'.
func TestMatchesIsExact(t *testing.T) {
	c := openConn(t, newFile(t, "CREATE TABLE m(id INTEGER PRIMARY KEY, v, w TEXT COLLATE NOCASE)"))
	ctx := context.Background()
	vals := append([]engine.Value{textValue("a"), textValue("A"), {K: kFloat, F: 1}, {K: kBytes, B: []byte("a")}}, literalCases...)
	seen := map[string]bool{}
	var uniq []engine.Value
	for _, v := range vals {
		// -0.0 and 0.0 are equal to SQLite (and IS); keep one.
		if k := valString(v); !seen[k] && !(v.K == kFloat && v.F == 0 && math.Signbit(v.F)) {
			seen[k] = true
			uniq = append(uniq, v)
		}
	}
	for i, v := range uniq {
		if err := c.cc.exec(ctx, "INSERT INTO m VALUES (?, ?, ?)", engine.Value{K: kInt, I: int64(i)}, v, v); err != nil {
			t.Fatal(err)
		}
	}
	for i, v := range uniq {
		for _, col := range []string{"v", "w"} {
			cond := Driver{}.Matches(QuoteIdent(col), v, engine.Column{Name: col})
			var ids []int64
			err := c.cc.query(ctx, "SELECT id FROM m WHERE "+cond, nil, func(r []engine.Value) error { ids = append(ids, r[0].I); return nil })
			if err != nil {
				t.Fatalf("%s: %v", cond, err)
			}
			// w has TEXT affinity, so numbers and text '1' collide there;
			// the stored value, not the inserted one, is what Matches sees.
			if col == "v" && (len(ids) != 1 || ids[0] != int64(i)) {
				t.Errorf("%s matched ids %v, want [%d]", cond, ids, i)
			}
			if col == "w" && !contains(ids, int64(i)) && v.K != kInt && v.K != kFloat {
				t.Errorf("%s matched ids %v, want to include %d", cond, ids, i)
			}
		}
	}
}

func contains(s []int64, v int64) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestScripterGolden pins the rendered SQL in testdata/scripter.golden.
func TestScripterGolden(t *testing.T) {
	d := Driver{}
	var b strings.Builder
	for _, v := range literalCases {
		fmt.Fprintf(&b, "Literal(%s) = %s\n", valString(v), d.Literal(v, engine.Column{}))
	}
	for _, v := range literalCases[:8] {
		fmt.Fprintf(&b, "Matches(%s) = %s\n", valString(v), d.Matches(`"c"`, v, engine.Column{}))
	}
	for _, s := range []string{
		"CREATE TABLE t(x)", "CREATE TABLE IF NOT EXISTS t(x)", `CREATE UNIQUE INDEX "i" ON t(x)`,
		"CREATE TEMP VIEW v AS SELECT 1", "create trigger tr after insert on t begin select 1; end",
		"CREATE VIRTUAL TABLE f USING fts4(b)", "/* c */ CREATE TABLE \"if\"(x)", "INSERT INTO t VALUES (1)",
	} {
		fmt.Fprintf(&b, "IfAbsent(%s) = %s\n", s, d.IfAbsent("TABLE", "", "t", []string{s})[0])
	}
	for _, s := range []string{`DROP TABLE "t"`, "DROP INDEX IF EXISTS i", "drop view v", `DROP TRIGGER "tr"`, "DELETE FROM t"} {
		fmt.Fprintf(&b, "IfPresent(%s) = %s\n", s, d.IfPresent("TABLE", "", "t", []string{s})[0])
	}
	fmt.Fprintf(&b, "BeginScript = %s\nCommitScript = %s\n", d.BeginScript(), d.CommitScript())
	golden := filepath.Join("testdata", "scripter.golden")
	if *updateGolden {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if b.String() != string(want) {
		t.Errorf("rendered SQL differs from %s (run with -update after checking):\n%s", golden, b.String())
	}
}

// TestGuardsRunTwice: IfAbsent / IfPresent statements run twice in a row
// without error, as an undo script run a second time does.
func TestGuardsRunTwice(t *testing.T) {
	c := openConn(t, newFile(t, "CREATE TABLE base(x)"))
	d := Driver{}
	creates := []string{"CREATE TABLE t(x)", "CREATE INDEX i ON t(x)", "CREATE VIEW v AS SELECT 1",
		"CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END", "CREATE VIRTUAL TABLE f USING fts4(b)"}
	drops := []string{`DROP TRIGGER "tr"`, `DROP VIEW "v"`, `DROP INDEX "i"`, `DROP TABLE "t"`, `DROP TABLE "f"`}
	for i := 0; i < 2; i++ {
		for _, s := range d.IfAbsent("TABLE", "", "t", creates) {
			if err := c.cc.exec(context.Background(), s); err != nil {
				t.Fatalf("run %d: %s: %v", i+1, s, err)
			}
		}
	}
	for i := 0; i < 2; i++ {
		for _, s := range d.IfPresent("TABLE", "", "t", drops) {
			if err := c.cc.exec(context.Background(), s); err != nil {
				t.Fatalf("run %d: %s: %v", i+1, s, err)
			}
		}
	}
}

func TestLexHelpers(t *testing.T) {
	for _, tc := range []struct{ sql, action, name string }{
		{"ALTER TABLE t RENAME TO u", "RENAME TO", "u"},
		{`alter table "a b"."c" rename to "d ""e"""`, "RENAME TO", `d "e"`},
		{"ALTER TABLE [t] RENAME COLUMN a TO b", "RENAME COLUMN", ""},
		{"ALTER TABLE t RENAME a TO b", "RENAME COLUMN", ""},
		{"/* x */ ALTER TABLE `t` ADD c", "ADD COLUMN", ""},
		{"ALTER TABLE t DROP COLUMN c", "DROP COLUMN", ""},
		{"ALTER TABLE t -- comment\n DROP c", "DROP COLUMN", ""},
		{"DELETE FROM t", "", ""},
	} {
		if a, n := alterAction(tc.sql); a != tc.action || n != tc.name {
			t.Errorf("alterAction(%q) = %q %q, want %q %q", tc.sql, a, n, tc.action, tc.name)
		}
	}
	for sql, want := range map[string]bool{
		"CREATE TABLE t(id INTEGER PRIMARY KEY AUTOINCREMENT)": true,
		"CREATE TABLE t(id integer primary key autoincrement)": true,
		`CREATE TABLE t("AUTOINCREMENT" INTEGER PRIMARY KEY)`:  false,
		"CREATE TABLE t(x DEFAULT 'AUTOINCREMENT')":            false,
		"CREATE TABLE t(x) -- AUTOINCREMENT":                   false,
	} {
		if got := hasAutoincrement(sql); got != want {
			t.Errorf("hasAutoincrement(%q) = %v", sql, got)
		}
	}
	if w := firstWord("  -- c\n /* d */ vacuum"); w != "VACUUM" {
		t.Errorf("firstWord = %q", w)
	}
}

// TestMatchesGeneratedColumn: a whole-row match built from an image finds
// the row although its generated columns are imaged as NULL.
func TestMatchesGeneratedColumn(t *testing.T) {
	c, x := session(t, "CREATE TABLE g(a, v AS (a * 2), s AS (a * 3) STORED); INSERT INTO g(a) VALUES (1);")
	_, s := run(t, x, "UPDATE g SET a = 2")
	ti := s.tables[0]
	var conds []string
	for i, col := range ti.Columns {
		conds = append(conds, Driver{}.Matches(QuoteIdent(col.Name), s.rows[0].after[i], col))
	}
	if got := query(t, c, "SELECT a FROM g WHERE "+strings.Join(conds, " AND ")); len(got) != 1 {
		t.Errorf("whole-row match %v found %v", conds, got)
	}
}
