package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"lifebelt/engine"
)

func init() {
	// Another test file of this package may define -update too; whichever
	// registers first serves both (see goldenUpdate).
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files under testdata/")
	}
}

func goldenUpdate() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// inspectConn connects to the test server with the session settings the
// driver uses, or skips (fails under CI=true) when none answers.
func inspectConn(t testing.TB) *pgx.Conn {
	t.Helper()
	return inspectConnWith(t, nil)
}

// inspectConnWith is inspectConn with a hook to adjust the configuration.
func inspectConnWith(t testing.TB, adjust func(*pgx.ConnConfig)) *pgx.Conn {
	t.Helper()
	dsn := os.Getenv("LIFEBELT_TEST_POSTGRES")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("LIFEBELT_TEST_POSTGRES: %v", err)
	}
	for k, v := range map[string]string{"DateStyle": "ISO", "IntervalStyle": "postgres", "extra_float_digits": "3",
		"bytea_output": "hex", "client_encoding": "UTF8"} {
		cfg.RuntimeParams[k] = v
	}
	if adjust != nil {
		adjust(cfg)
	}
	ctx := context.Background()
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL test server unreachable: %v", err)
		}
		t.Skipf("PostgreSQL test server unreachable (set LIFEBELT_TEST_POSTGRES): %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// inspectSchema creates a schema with a hostile random name (quotes, a
// semicolon, a space, unicode, upper case) and drops it at cleanup.
func inspectSchema(t testing.TB, c *pgx.Conn) string {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	name := `Lb "B"; ü ` + hex.EncodeToString(b)
	execAll(t, c, "CREATE SCHEMA "+quoteIdent(name))
	t.Cleanup(func() {
		c.Exec(context.Background(), "DROP SCHEMA "+quoteIdent(name)+" CASCADE")
	})
	return name
}

// inspectTx begins a REPEATABLE READ transaction rolled back at cleanup.
func inspectTx(t testing.TB, c *pgx.Conn) pgx.Tx {
	t.Helper()
	tx, err := c.BeginTx(context.Background(), pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback(context.Background()) })
	return tx
}

// execAll runs statements, failing the test on the first error.
func execAll(t testing.TB, q querier, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := q.Exec(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// inSchema replaces @ in sql by the quoted schema name.
func inSchema(schema, sql string) string { return strings.ReplaceAll(sql, "@", quoteIdent(schema)) }

func compareGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if goldenUpdate() {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (run with -update after checking):\n--- got ---\n%s\n--- want ---\n%s", name, got, want)
	}
}

func mustOID(t testing.TB, q querier, schema, name string) uint32 {
	t.Helper()
	oid, _, _, _, ok, err := resolveRelation(context.Background(), q, engine.Name{Schema: schema, Name: name})
	if err != nil || !ok {
		t.Fatalf("resolving %s.%s: ok=%v err=%v", schema, name, ok, err)
	}
	return oid
}

func TestResolveRelation(t *testing.T) {
	c := inspectConn(t)
	s := inspectSchema(t, c)
	ctx := context.Background()
	tx := inspectTx(t, c)
	execAll(t, tx, inSchema(s, `CREATE TABLE @."we""ird; T" (x int)`), inSchema(s, `CREATE VIEW @."v w" AS SELECT 1 AS a`))

	oid, schema, name, kind, ok, err := resolveRelation(ctx, tx, engine.Name{Schema: s, Name: `we"ird; T`})
	if err != nil || !ok || schema != s || name != `we"ird; T` || kind != 'r' || oid == 0 {
		t.Fatalf("qualified: %d %q %q %c %v %v", oid, schema, name, kind, ok, err)
	}
	execAll(t, tx, "SET LOCAL search_path = "+quoteIdent(s))
	oid2, _, _, kind, ok, err := resolveRelation(ctx, tx, engine.Name{Name: "v w"})
	if err != nil || !ok || kind != 'v' || oid2 == oid {
		t.Fatalf("unqualified via search_path: %v %v %c", ok, err, kind)
	}
	for _, n := range []engine.Name{{Schema: s, Name: "missing"}, {Name: `we"ird; t`}, {Schema: "no such schema", Name: "x"}} {
		if _, _, _, _, ok, err := resolveRelation(ctx, tx, n); ok || err != nil {
			t.Errorf("%v: ok=%v err=%v, want absent", n, ok, err)
		}
	}
}

func TestLoadTableKeyChoice(t *testing.T) {
	c := inspectConn(t)
	s := inspectSchema(t, c)
	ctx := context.Background()
	tx := inspectTx(t, c)
	execAll(t, tx,
		inSchema(s, `CREATE TYPE @."mo od" AS ENUM ('a')`),
		inSchema(s, `CREATE TABLE @.pk (a int, "B;" text NOT NULL, "x y" @."mo od", g int GENERATED ALWAYS AS (a * 2) STORED,
			id bigint GENERATED ALWAYS AS IDENTITY, n numeric(30,10), UNIQUE ("B;"), PRIMARY KEY ("B;", a))`),
		// Nullable unique, partial unique and expression unique do not
		// identify rows; the narrower NOT NULL unique wins over the wider.
		inSchema(s, `CREATE TABLE @.uq (a int, b int NOT NULL, c int NOT NULL, d int NOT NULL, UNIQUE (a), UNIQUE (c, d), UNIQUE (b))`),
		inSchema(s, `CREATE UNIQUE INDEX ON @.uq (c) WHERE c > 0`),
		inSchema(s, `CREATE UNIQUE INDEX ON @.uq ((d + 1))`),
		inSchema(s, `CREATE TABLE @.nokey (a int, b int GENERATED ALWAYS AS (a) STORED, "se lect" json, UNIQUE (a))`),
		inSchema(s, `CREATE TABLE @.incl (a int NOT NULL, b int, UNIQUE (a) INCLUDE (b))`),
		inSchema(s, `ALTER TABLE @.pk DROP COLUMN n`), // dropped columns are skipped
	)
	cases := []struct {
		table string
		kind  string
		key   []int
	}{
		{"pk", engine.KeyPrimary, []int{1, 0}},
		{"uq", engine.KeyUnique, []int{1}},
		{"nokey", engine.KeyRow, []int{0, 2}},
		{"incl", engine.KeyUnique, []int{0}},
	}
	for _, tc := range cases {
		ti, err := loadTable(ctx, tx, mustOID(t, tx, s, tc.table))
		if err != nil {
			t.Fatal(err)
		}
		if ti.KeyKind != tc.kind || !reflect.DeepEqual(ti.Key, tc.key) || ti.Schema != s || ti.Name != tc.table {
			t.Errorf("%s: got %s %v (%s.%s), want %s %v", tc.table, ti.KeyKind, ti.Key, ti.Schema, ti.Name, tc.kind, tc.key)
		}
	}
	ti, err := loadTable(ctx, tx, mustOID(t, tx, s, "pk"))
	if err != nil {
		t.Fatal(err)
	}
	want := []engine.Column{
		{Name: "a", Type: "integer", NotNull: true},
		{Name: "B;", Type: "text", NotNull: true},
		{Name: "x y", Type: quoteIdent(s) + `."mo od"`},
		{Name: "g", Type: "integer", Generated: true},
		{Name: "id", Type: "bigint", NotNull: true, Identity: "always"},
	}
	if !reflect.DeepEqual(ti.Columns, want) {
		t.Errorf("columns:\n got %+v\nwant %+v", ti.Columns, want)
	}
	// The type stays qualified when the schema is on search_path, and the
	// session's search_path is left as it was.
	execAll(t, tx, "SET LOCAL search_path = "+quoteIdent(s)+", public")
	ti, err = loadTable(ctx, tx, mustOID(t, tx, s, "pk"))
	if err != nil || ti.Columns[2].Type != quoteIdent(s)+`."mo od"` {
		t.Errorf("with schema on search_path: %v %q", err, ti.Columns[2].Type)
	}
	var path string
	tx.QueryRow(ctx, "SHOW search_path").Scan(&path)
	if path != quoteIdent(s)+", public" {
		t.Errorf("search_path after loadTable = %q", path)
	}
	if _, err := loadTable(ctx, tx, 1); err == nil {
		t.Error("loadTable of a missing oid succeeded")
	}
}

func TestFKChildrenAndTriggers(t *testing.T) {
	c := inspectConn(t)
	s := inspectSchema(t, c)
	ctx := context.Background()
	tx := inspectTx(t, c)
	execAll(t, tx,
		inSchema(s, `CREATE TABLE @."pa rent" (a int, "b;" text, PRIMARY KEY (a, "b;"))`),
		inSchema(s, `CREATE TABLE @.child (x int, y text, FOREIGN KEY (x, y) REFERENCES @."pa rent" ON DELETE CASCADE ON UPDATE SET NULL)`),
		inSchema(s, `CREATE TABLE @.pchild (x int, y text, FOREIGN KEY (x, y) REFERENCES @."pa rent" ON DELETE SET DEFAULT) PARTITION BY LIST (x)`),
		inSchema(s, `CREATE TABLE @.pchild1 PARTITION OF @.pchild FOR VALUES IN (1)`),
		inSchema(s, `CREATE TABLE @.pparent (a int PRIMARY KEY) PARTITION BY RANGE (a)`),
		inSchema(s, `CREATE TABLE @.pparent1 PARTITION OF @.pparent FOR VALUES FROM (0) TO (10)`),
		inSchema(s, `CREATE TABLE @.refpp (a int REFERENCES @.pparent ON DELETE RESTRICT)`),
		inSchema(s, `CREATE FUNCTION @.tf() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$`),
		inSchema(s, `CREATE TRIGGER "t;1" BEFORE INSERT OR UPDATE ON @.child FOR EACH ROW EXECUTE FUNCTION @.tf()`),
		inSchema(s, `CREATE TRIGGER t2 AFTER DELETE ON @.child FOR EACH ROW EXECUTE FUNCTION @.tf()`),
		inSchema(s, `CREATE TRIGGER t3 AFTER TRUNCATE ON @.child EXECUTE FUNCTION @.tf()`),
		inSchema(s, `CREATE TRIGGER t4 BEFORE UPDATE ON @.child FOR EACH ROW EXECUTE FUNCTION @.tf()`),
		inSchema(s, `ALTER TABLE @.child DISABLE TRIGGER t4`),
		inSchema(s, `CREATE TRIGGER t5 BEFORE UPDATE ON @.child FOR EACH ROW EXECUTE FUNCTION @.tf()`),
		inSchema(s, `ALTER TABLE @.child ENABLE REPLICA TRIGGER t5`),
	)
	parent := mustOID(t, tx, s, "pa rent")
	fks, err := fkChildren(ctx, tx, parent)
	if err != nil {
		t.Fatal(err)
	}
	want := []fkChild{
		{Child: mustOID(t, tx, s, "child"), ChildCols: []string{"x", "y"}, ParentCols: []string{"a", "b;"}, OnDelete: 'c', OnUpdate: 'n'},
		{Child: mustOID(t, tx, s, "pchild"), ChildCols: []string{"x", "y"}, ParentCols: []string{"a", "b;"}, OnDelete: 'd', OnUpdate: 'a'},
	}
	if !reflect.DeepEqual(fks, want) {
		t.Errorf("fkChildren:\n got %+v\nwant %+v", fks, want)
	}
	// A foreign key referencing a partitioned table is found from the
	// parent and from each partition.
	for _, p := range []string{"pparent", "pparent1"} {
		fks, err := fkChildren(ctx, tx, mustOID(t, tx, s, p))
		if err != nil || len(fks) != 1 || fks[0].Child != mustOID(t, tx, s, "refpp") || fks[0].OnDelete != 'r' {
			t.Errorf("fkChildren(%s) = %+v, %v", p, fks, err)
		}
	}
	child := mustOID(t, tx, s, "child")
	for ev, want := range map[string][]string{"INSERT": {"t;1"}, "UPDATE": {"t;1"}, "DELETE": {"t2"}, "TRUNCATE": {"t3"}} {
		got, err := userTriggers(ctx, tx, child, ev)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("userTriggers(%s) = %v, %v; want %v", ev, got, err, want)
		}
	}
	execAll(t, tx, "SET LOCAL session_replication_role = replica")
	if got, _ := userTriggers(ctx, tx, child, "UPDATE"); !reflect.DeepEqual(got, []string{"t5"}) {
		t.Errorf("userTriggers(UPDATE) in replica mode = %v, want [t5]", got)
	}
	if _, err := userTriggers(ctx, tx, child, "SELECT"); err == nil {
		t.Error("userTriggers accepted event SELECT")
	}
}
