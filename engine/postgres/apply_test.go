package postgres

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"lifebelt/engine"
	"lifebelt/journal"
)

// applyFixture is a schema, a transaction in it and the Applier on it.
type applyFixture struct {
	t  *testing.T
	s  string
	tx pgx.Tx
	x  *pgTx
}

func newApplyFixture(t *testing.T, setup ...string) *applyFixture {
	c := inspectConn(t)
	s := inspectSchema(t, c)
	tx := inspectTx(t, c)
	for _, q := range setup {
		execAll(t, tx, inSchema(s, q))
	}
	return &applyFixture{t: t, s: s, tx: tx, x: &pgTx{c: &conn{pg: c}, tx: tx}}
}

func (f *applyFixture) table(name string) engine.TableInfo {
	f.t.Helper()
	ti, err := loadTable(context.Background(), f.tx, mustOID(f.t, f.tx, f.s, name))
	if err != nil {
		f.t.Fatal(err)
	}
	return ti
}

func keysOf(ti engine.TableInfo, rows [][]engine.Value) [][]engine.Value {
	out := make([][]engine.Value, len(rows))
	for i, r := range rows {
		out[i] = ti.KeyOf(r)
	}
	return out
}

func TestApplyTypeRoundTrip(t *testing.T) {
	f := newApplyFixture(t,
		`CREATE TYPE @."mo od" AS ENUM ('happy', 'sa''d')`,
		`CREATE DOMAIN @.dom AS text CHECK (VALUE <> 'bad')`,
		`CREATE TABLE @."ty;pes" ("i d" int PRIMARY KEY, n numeric(30,10), f8 float8, f4 real, b bytea,
			tz timestamptz, ts timestamp(3), iv interval, j json, jb jsonb, arr text[], iarr int[], u uuid,
			"select" text, e @."mo od", d @.dom, bits bit varying(10), c char(5), pt point, rng int4range, x xml,
			g text GENERATED ALWAYS AS ("select" || '!') STORED)`,
		`INSERT INTO @."ty;pes" VALUES
			(1, '12345678901234567890.0123456789', 'NaN', '-0', '\x00ff00', '2024-03-10 02:30:00.123456+05:45',
				'2024-02-29 23:59:59.999', '1 year 2 mons -3 days 04:05:06.789', '{"b":1,  "a": [1, 2.50]}',
				'{"b":1,  "a": [1, 2.50]}', '{"a,b","",NULL,"q\"uo\\te"}', '{{1,2},{3,NULL}}',
				'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '', 'sa''d', 'ok', '101', 'ab', '(1.5,-2)', '[1,5)', '<a>x</a>'),
			(2, '-0.0000000001', '-Infinity', 'Infinity', '', '-infinity', 'epoch', '-00:00:00.000001', 'null',
				'[]', '{}', '{}', NULL, NULL, 'happy', NULL, '', '', NULL, 'empty', NULL),
			(3, NULL, '2.2250738585072014e-308', '1e-45', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
				e'tab\tnew\nline \\ quote''', NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
	)
	ctx := context.Background()
	ti := f.table("ty;pes")
	rows := selectAll(t, f.tx, ti)
	if len(rows) != 3 || rows[0][2].S != "NaN" || rows[0][3].S != "-0" || !rows[1][13].IsNull() && rows[1][13].S == "" {
		t.Fatalf("unexpected capture: %v", rows)
	}
	if !rows[0][13].Equal(journal.TextValue("")) || !rows[1][13].IsNull() {
		t.Fatalf("'' and NULL not told apart: %v / %v", rows[0][13], rows[1][13])
	}
	execAll(t, f.tx, inSchema(f.s, `DELETE FROM @."ty;pes"`))
	if err := f.x.Insert(ctx, ti, rows); err != nil {
		t.Fatal(err)
	}
	if got := selectAll(t, f.tx, ti); !rowsEqual(got, rows) {
		t.Fatalf("after Insert:\n got %v\nwant %v", got, rows)
	}
	keys := append(keysOf(ti, rows), []engine.Value{journal.TextValue("42")})
	found, err := f.x.Fetch(ctx, ti, keys)
	if err != nil {
		t.Fatal(err)
	}
	for i, fd := range found[:3] {
		if fd.Count != 1 || !rowsEqual([][]engine.Value{fd.Row}, rows[i:i+1]) {
			t.Errorf("Fetch %d: %+v", i, fd)
		}
	}
	if found[3].Count != 0 || found[3].Row != nil {
		t.Errorf("Fetch of a missing key: %+v", found[3])
	}
	// Update: rows 1 and 2 swap everything but the key.
	upd := [][]engine.Value{append([]engine.Value{rows[0][0]}, rows[1][1:]...), append([]engine.Value{rows[1][0]}, rows[0][1:]...)}
	if err := f.x.Update(ctx, ti, keysOf(ti, upd), upd); err != nil {
		t.Fatal(err)
	}
	got := selectAll(t, f.tx, ti)
	for i := range upd {
		want := append([]engine.Value{}, upd[i]...)
		want[len(want)-1] = got[i][len(want)-1] // generated column is recomputed
		if !rowsEqual(got[i:i+1], [][]engine.Value{want}) {
			t.Errorf("after Update row %d:\n got %v\nwant %v", i, got[i], want)
		}
	}
	if err := f.x.Delete(ctx, ti, keysOf(ti, rows[:2])); err != nil {
		t.Fatal(err)
	}
	if got := selectAll(t, f.tx, ti); len(got) != 1 || got[0][0].S != "3" {
		t.Errorf("after Delete: %v", got)
	}
	if err := f.x.Delete(ctx, ti, keysOf(ti, rows[:1])); err == nil || !strings.Contains(err.Error(), "0 of 1") {
		t.Errorf("deleting a missing row: %v", err)
	}
}

func TestApplyWholeRowKey(t *testing.T) {
	f := newApplyFixture(t,
		`CREATE TABLE @.dup (a int, "j;" json, f float8, t text, g int GENERATED ALWAYS AS (a + 1) STORED)`,
		`INSERT INTO @.dup (a, "j;", f, t) VALUES
			(1, '{"x": 1}', 0, 'same'), (1, '{"x": 1}', 0, 'same'), (1, '{"x": 1}', 0, 'same'),
			(1, '{"x":1}', 0, 'same'),
			(1, '{"x": 1}', '-0', 'same'),
			(NULL, NULL, 'NaN', NULL), (NULL, NULL, 'NaN', NULL)`,
	)
	ctx := context.Background()
	ti := f.table("dup")
	if ti.KeyKind != engine.KeyRow || len(ti.Key) != 4 {
		t.Fatalf("key: %s %v", ti.KeyKind, ti.Key)
	}
	v := journal.TextValue
	triple := []engine.Value{v("1"), v(`{"x": 1}`), v("0"), v("same")}
	spaced := []engine.Value{v("1"), v(`{"x":1}`), v("0"), v("same")}
	negZero := []engine.Value{v("1"), v(`{"x": 1}`), v("-0"), v("same")}
	nulls := []engine.Value{{}, {}, v("NaN"), {}}
	absent := []engine.Value{v("2"), {}, {}, {}}
	found, err := f.x.Fetch(ctx, ti, [][]engine.Value{triple, spaced, negZero, nulls, absent})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{3, 1, 1, 2, 0} {
		if found[i].Count != want {
			t.Errorf("Fetch key %d: count %d, want %d", i, found[i].Count, want)
		}
	}
	if found[0].Row[4].S != "2" || !found[3].Row[0].IsNull() {
		t.Errorf("fetched rows: %v / %v", found[0].Row, found[3].Row)
	}
	// Two equal keys delete two of the three duplicates, one update
	// changes one of what is left.
	if err := f.x.Delete(ctx, ti, [][]engine.Value{triple, nulls, triple}); err != nil {
		t.Fatal(err)
	}
	changed := []engine.Value{v("7"), v(`[true]`), v("Infinity"), v("new"), {}}
	if err := f.x.Update(ctx, ti, [][]engine.Value{triple}, [][]engine.Value{changed}); err != nil {
		t.Fatal(err)
	}
	found, err = f.x.Fetch(ctx, ti, [][]engine.Value{triple, spaced, negZero, nulls, changed[:4]})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{0, 1, 1, 1, 1} {
		if found[i].Count != want {
			t.Errorf("after Delete/Update, key %d: count %d, want %d", i, found[i].Count, want)
		}
	}
	if err := f.x.Delete(ctx, ti, [][]engine.Value{triple}); err == nil {
		t.Error("deleting a row that is gone succeeded")
	}
	if err := f.x.Insert(ctx, ti, [][]engine.Value{append(triple, engine.Value{}), append(triple, engine.Value{})}); err != nil {
		t.Fatal(err)
	}
	if found, _ := f.x.Fetch(ctx, ti, [][]engine.Value{triple}); found[0].Count != 2 {
		t.Errorf("re-inserted duplicates: %+v", found[0])
	}
}

func TestApplyWholeRowKeyPartitioned(t *testing.T) {
	// Both partitions hold a row at ctid (0,1): only the named one goes.
	f := newApplyFixture(t,
		`CREATE TABLE @.p (a int, b text) PARTITION BY LIST (a)`,
		`CREATE TABLE @.p1 PARTITION OF @.p FOR VALUES IN (1)`,
		`CREATE TABLE @.p2 PARTITION OF @.p FOR VALUES IN (2)`,
		`INSERT INTO @.p VALUES (1, 'x'), (2, 'y'), (2, 'y')`,
	)
	ctx := context.Background()
	ti := f.table("p")
	v := journal.TextValue
	if err := f.x.Delete(ctx, ti, [][]engine.Value{{v("2"), v("y")}}); err != nil {
		t.Fatal(err)
	}
	if err := f.x.Update(ctx, ti, [][]engine.Value{{v("1"), v("x")}}, [][]engine.Value{{v("1"), v("z")}}); err != nil {
		t.Fatal(err)
	}
	want := [][]engine.Value{{v("1"), v("z")}, {v("2"), v("y")}}
	if got := selectAll(t, f.tx, ti); !rowsEqual(got, want) {
		t.Errorf("rows: %v, want %v", got, want)
	}
}

func TestApplyIdentityAndSequences(t *testing.T) {
	f := newApplyFixture(t,
		`CREATE TABLE @."id t" (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, s serial, "by def" bigint GENERATED BY DEFAULT AS IDENTITY, v text)`,
		`CREATE SEQUENCE @.down INCREMENT BY -1 MINVALUE -1000 MAXVALUE -1 START WITH -1`,
		`CREATE TABLE @.other (code text PRIMARY KEY, seq int GENERATED ALWAYS AS IDENTITY, d int DEFAULT nextval('@.down'))`,
		`INSERT INTO @."id t" (v) SELECT 'r' || g FROM generate_series(1, 5) g`,
		`INSERT INTO @.other (code) VALUES ('a'), ('b'), ('c')`,
	)
	ctx := context.Background()
	ti := f.table("id t")
	rows := selectAll(t, f.tx, ti)
	execAll(t, f.tx, inSchema(f.s, `DELETE FROM @."id t"`),
		inSchema(f.s, `SELECT setval(pg_get_serial_sequence('@."id t"', 'id'), 2)`),
		inSchema(f.s, `SELECT setval(pg_get_serial_sequence('@."id t"', 's'), 1, false)`),
		// This one is ahead already and must stay where it is.
		inSchema(f.s, `SELECT setval(pg_get_serial_sequence('@."id t"', 'by def'), 100)`))
	if err := f.x.Insert(ctx, ti, rows); err != nil {
		t.Fatal(err)
	}
	if got := selectAll(t, f.tx, ti); !rowsEqual(got, rows) {
		t.Fatalf("identity values not kept:\n got %v\nwant %v", got, rows)
	}
	if err := f.x.SyncSequences(ctx, ti); err != nil {
		t.Fatal(err)
	}
	var id, s, bd int
	if err := f.tx.QueryRow(ctx, inSchema(f.s, `INSERT INTO @."id t" (v) VALUES ('new') RETURNING id, s, "by def"`)).Scan(&id, &s, &bd); err != nil {
		t.Fatal(err)
	}
	if id != 6 || s != 6 || bd != 101 {
		t.Errorf("after SyncSequences next values are %d %d %d, want 6 6 101", id, s, bd)
	}

	// A GENERATED ALWAYS identity outside the key is restored too, and
	// stays ALWAYS; a descending sequence moves down, never up.
	oti := f.table("other")
	orows := selectAll(t, f.tx, oti)
	changed := make([][]engine.Value, len(orows))
	for i, r := range orows {
		changed[i] = []engine.Value{r[0], journal.TextValue("9" + r[1].S), journal.TextValue("-50")}
	}
	if err := f.x.Update(ctx, oti, keysOf(oti, orows), changed); err != nil {
		t.Fatal(err)
	}
	if got := selectAll(t, f.tx, oti); !rowsEqual(got, changed) {
		t.Errorf("update with an ALWAYS identity column:\n got %v\nwant %v", got, changed)
	}
	var always string
	f.tx.QueryRow(ctx, inSchema(f.s, `SELECT attidentity::text FROM pg_attribute WHERE attrelid = '@.other'::regclass AND attname = 'seq'`)).Scan(&always)
	if always != "a" {
		t.Errorf("identity kind after Update = %q, want a", always)
	}
	if err := f.x.SyncSequences(ctx, oti); err != nil {
		t.Fatal(err)
	}
	var seq, d int
	if err := f.tx.QueryRow(ctx, inSchema(f.s, `INSERT INTO @.other (code) VALUES ('z') RETURNING seq, d`)).Scan(&seq, &d); err != nil {
		t.Fatal(err)
	}
	if seq != 94 || d != -51 {
		t.Errorf("after SyncSequences: seq %d d %d, want 94 and -51", seq, d)
	}
}

func TestApplyInsertUnderRowSecurity(t *testing.T) {
	f := newApplyFixture(t,
		`CREATE TABLE @."r ls" (id int GENERATED ALWAYS AS IDENTITY, v text, j json)`,
		`ALTER TABLE @."r ls" ENABLE ROW LEVEL SECURITY`,
		`ALTER TABLE @."r ls" FORCE ROW LEVEL SECURITY`,
		`CREATE POLICY everything ON @."r ls" USING (true) WITH CHECK (v IS DISTINCT FROM 'forbidden')`,
	)
	ctx := context.Background()
	ti := f.table("r ls")
	v := journal.TextValue
	rows := [][]engine.Value{{v("7"), v("tab\there"), v(`{"a":  1}`)}, {v("8"), {}, {}}}
	role := "lb rls " + f.s[len(f.s)-8:]
	// The role exists only in this transaction, which is rolled back.
	execAll(t, f.tx, "CREATE ROLE "+quoteIdent(role), "GRANT ALL ON SCHEMA "+quoteIdent(f.s)+" TO "+quoteIdent(role),
		"GRANT ALL ON "+quoteQualified(f.s, "r ls")+" TO "+quoteIdent(role), "ALTER TABLE "+quoteQualified(f.s, "r ls")+" OWNER TO "+quoteIdent(role),
		"SET LOCAL ROLE "+quoteIdent(role))
	if err := f.x.Insert(ctx, ti, rows); err != nil {
		t.Fatal(err)
	}
	if got := selectAll(t, f.tx, ti); !rowsEqual(got, rows) {
		t.Errorf("rows inserted under row security:\n got %v\nwant %v", got, rows)
	}
	if err := f.x.Insert(ctx, ti, [][]engine.Value{{v("9"), v("forbidden"), {}}}); err == nil {
		t.Error("a row the policy forbids was inserted")
	}
}

func TestApplyInsertSkippedByTrigger(t *testing.T) {
	f := newApplyFixture(t,
		`CREATE TABLE @.t (a int)`,
		`CREATE FUNCTION @.skip() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$`,
		`CREATE TRIGGER skip BEFORE INSERT ON @.t FOR EACH ROW WHEN (NEW.a > 1) EXECUTE FUNCTION @.skip()`,
	)
	ti := f.table("t")
	err := f.x.Insert(context.Background(), ti, [][]engine.Value{{journal.TextValue("1")}, {journal.TextValue("2")}})
	if err == nil || !strings.Contains(err.Error(), "1 of 2") {
		t.Errorf("a trigger skipping a re-inserted row went unnoticed: %v", err)
	}
}

func TestApplyRejectsUnaddressableTables(t *testing.T) {
	f := newApplyFixture(t, `CREATE TABLE @.empty ()`)
	ctx := context.Background()
	ti := f.table("empty")
	if _, err := f.x.Fetch(ctx, ti, [][]engine.Value{{}}); err == nil {
		t.Error("Fetch on a table without columns succeeded")
	}
	bad := engine.TableInfo{Schema: f.s, Name: "empty", Key: []int{3}, KeyKind: engine.KeyPrimary}
	if err := f.x.Delete(ctx, bad, [][]engine.Value{{}}); err == nil {
		t.Error("Delete with a key outside the columns succeeded")
	}
}

func TestPrepareUndo(t *testing.T) {
	f := newApplyFixture(t,
		`CREATE TABLE @.parent (id int PRIMARY KEY)`,
		`CREATE TABLE @.child (pid int REFERENCES @.parent)`,
		`CREATE FUNCTION @.boom() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'trigger fired'; END$$`,
		`CREATE TRIGGER boom BEFORE INSERT ON @.child FOR EACH ROW EXECUTE FUNCTION @.boom()`,
	)
	ctx := context.Background()
	var super bool
	f.tx.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super)
	if !super {
		t.Skip("the test role is not a superuser")
	}
	notes, err := f.x.PrepareUndo(ctx)
	if err != nil || len(notes) != 1 || !strings.Contains(notes[0], "replica") {
		t.Fatalf("PrepareUndo: %q %v", notes, err)
	}
	// Children before parents, and no trigger fires.
	execAll(t, f.tx, inSchema(f.s, `INSERT INTO @.child VALUES (1)`), inSchema(f.s, `INSERT INTO @.parent VALUES (1)`))

	// Without the privilege, constraints are deferred instead.
	role := "lb nosuper " + f.s[len(f.s)-8:]
	c2 := inspectConn(t)
	execAll(t, c2, "CREATE ROLE "+quoteIdent(role))
	t.Cleanup(func() {
		c2.Exec(ctx, "DROP OWNED BY "+quoteIdent(role))
		c2.Exec(ctx, "DROP ROLE "+quoteIdent(role))
	})
	tx2 := inspectTx(t, c2)
	x2 := &pgTx{c: &conn{pg: c2}, tx: tx2}
	execAll(t, tx2, "SET LOCAL ROLE "+quoteIdent(role))
	notes, err = x2.PrepareUndo(ctx)
	if err != nil || len(notes) != 1 || !strings.Contains(notes[0], "deferred") {
		t.Fatalf("PrepareUndo without privilege: %q %v", notes, err)
	}
	var mode string
	if err := tx2.QueryRow(ctx, "SHOW session_replication_role").Scan(&mode); err != nil || mode != "origin" {
		t.Errorf("session_replication_role = %q %v; the transaction must stay usable", mode, err)
	}
	tx2.Rollback(ctx)
}

func TestObjectExistsAndExecDDL(t *testing.T) {
	f := newApplyFixture(t,
		`CREATE TABLE @."t;1" (a int CONSTRAINT "c k" CHECK (a > 0))`,
		`CREATE INDEX "i x" ON @."t;1" (a)`,
		`CREATE VIEW @.v AS SELECT 1 AS x`,
		`CREATE MATERIALIZED VIEW @.mv AS SELECT 1 AS x`,
		`CREATE SEQUENCE @.sq`,
		`CREATE FUNCTION @."f n"(int) RETURNS int LANGUAGE sql AS 'SELECT 1'`,
		`CREATE PROCEDURE @.p() LANGUAGE sql AS 'SELECT 1'`,
		`CREATE FUNCTION @.tf() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$`,
		`CREATE TRIGGER "tr g" BEFORE INSERT ON @."t;1" FOR EACH ROW EXECUTE FUNCTION @.tf()`,
		`CREATE TYPE @.ty AS (a int)`,
		`CREATE POLICY "po l" ON @."t;1" USING (true)`,
		`CREATE RULE "ru le" AS ON UPDATE TO @."t;1" DO ALSO NOTHING`,
	)
	ctx := context.Background()
	s := f.s
	cases := []struct {
		kind, schema, name string
		want               bool
	}{
		{"TABLE", s, "t;1", true}, {"TABLE", s, "v", false}, {"table", s, "nope", false},
		{"VIEW", s, "v", true}, {"MATERIALIZED VIEW", s, "mv", true}, {"VIEW", s, "mv", false},
		{"INDEX", s, "i x", true}, {"SEQUENCE", s, "sq", true}, {"SEQUENCE", s, "t;1", false},
		{"FUNCTION", s, "f n", true}, {"FUNCTION", s, "f n(integer)", true}, {"FUNCTION", s, "f n(text)", false},
		{"PROCEDURE", s, "p", true}, {"FUNCTION", s, "p", false},
		{"TRIGGER", s, "tr g", true}, {"TRIGGER", s, "other", false},
		{"CONSTRAINT", s, "c k", true}, {"SCHEMA", "", s, true}, {"SCHEMA", "", s + "x", false},
		{"TYPE", s, "ty", true}, {"TABLE", "no such schema", "t;1", false},
		{"POLICY", s, "po l", true}, {"RULE", s, "ru le", true}, {"RULE", s, "po l", false},
	}
	for _, tc := range cases {
		got, err := f.x.ObjectExists(ctx, tc.kind, tc.schema, tc.name)
		if err != nil || got != tc.want {
			t.Errorf("ObjectExists(%s, %s, %s) = %v, %v; want %v", tc.kind, tc.schema, tc.name, got, err, tc.want)
		}
	}
	execAll(t, f.tx, "SET LOCAL search_path = "+quoteIdent(s))
	if ok, err := f.x.ObjectExists(ctx, "TABLE", "", "t;1"); !ok || err != nil {
		t.Errorf("unqualified ObjectExists: %v %v", ok, err)
	}
	if _, err := f.x.ObjectExists(ctx, "WIDGET", s, "x"); err == nil {
		t.Error("ObjectExists accepted kind WIDGET")
	}
	if err := f.x.ExecDDL(ctx, []string{inSchema(s, `CREATE TABLE @.n1 (a int)`), inSchema(s, `ALTER TABLE @.n1 ADD b text`)}); err != nil {
		t.Fatal(err)
	}
	err := f.x.ExecDDL(ctx, []string{"CREATE TABLE broken ("})
	if err == nil || !strings.Contains(err.Error(), "CREATE TABLE broken (") {
		t.Errorf("ExecDDL error does not name the statement: %v", err)
	}
}

// BenchmarkInsert100k re-inserts 100,000 deleted rows with Applier.Insert
// (ns/op and insert-ms) and reports next to it the bare DELETE of the same
// rows (delete-ms), the server's own INSERT ... SELECT of them from another
// table, which no client can beat (server-insert-ms), and insert/delete.
func BenchmarkInsert100k(b *testing.B) {
	c := inspectConn(b)
	s := inspectSchema(b, c)
	ctx := context.Background()
	execAll(b, c, inSchema(s, `CREATE TABLE @.bench (id int PRIMARY KEY, name text, amount numeric(12,2), at timestamptz, flag boolean)`),
		inSchema(s, `INSERT INTO @.bench SELECT g, 'name ' || g, g * 1.25, '2024-01-01'::timestamptz + g * interval '1 minute', g % 2 = 0 FROM generate_series(1, 100000) g`),
		inSchema(s, `CREATE TABLE @.src AS SELECT * FROM @.bench`))
	tx0, _ := c.Begin(ctx)
	ti, err := loadTable(ctx, tx0, mustOID(b, tx0, s, "bench"))
	tx0.Rollback(ctx)
	if err != nil {
		b.Fatal(err)
	}
	rows := selectAll(b, c, ti)
	var del, ins, server time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		execAll(b, c, "VACUUM "+quoteQualified(s, "bench"))
		tx, _ := c.Begin(ctx)
		start := time.Now()
		execAll(b, tx, inSchema(s, `DELETE FROM @.bench`))
		del += time.Since(start)
		x := &pgTx{c: &conn{pg: c}, tx: tx}
		b.StartTimer()
		start = time.Now()
		if err := x.Insert(ctx, ti, rows); err != nil {
			b.Fatal(err)
		}
		ins += time.Since(start)
		b.StopTimer()
		tx.Rollback(ctx)
		execAll(b, c, "VACUUM "+quoteQualified(s, "bench"))
		tx, _ = c.Begin(ctx)
		execAll(b, tx, inSchema(s, `DELETE FROM @.bench`))
		start = time.Now()
		execAll(b, tx, inSchema(s, `INSERT INTO @.bench SELECT * FROM @.src`))
		server += time.Since(start)
		tx.Rollback(ctx)
		b.StartTimer()
	}
	b.ReportMetric(float64(del.Milliseconds())/float64(b.N), "delete-ms")
	b.ReportMetric(float64(ins.Milliseconds())/float64(b.N), "insert-ms")
	b.ReportMetric(float64(server.Milliseconds())/float64(b.N), "server-insert-ms")
	b.ReportMetric(float64(ins)/float64(del), "insert/delete")
}
