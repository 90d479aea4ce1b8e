package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"lifebelt/engine"
)

// richTable creates, in schema s, a table using most of what a table
// definition can hold, with hostile names throughout, and moves its
// sequences away from their start.
func richTable(t *testing.T, q querier, s string) {
	t.Helper()
	execAll(t, q,
		inSchema(s, `CREATE TYPE @."mo;od" AS ENUM ('ok', 'me''h')`),
		inSchema(s, `CREATE DOMAIN @.posint AS integer CHECK (VALUE > 0)`),
		inSchema(s, `CREATE FUNCTION @."trg fn"() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$`),
		inSchema(s, `CREATE TABLE @."Ta""ble; x" (
			id bigint GENERATED ALWAYS AS IDENTITY (START WITH 10 INCREMENT BY 5) PRIMARY KEY,
			"select" serial,
			"a b" text COLLATE "C" NOT NULL DEFAULT 'x''y',
			"ünï" numeric(30,10) CONSTRAINT "pos""itive" CHECK ("ünï" > 0),
			m @."mo;od" NOT NULL DEFAULT 'ok',
			d @.posint,
			g integer GENERATED ALWAYS AS ("select" * 2) STORED,
			parent bigint REFERENCES @."Ta""ble; x" (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
			j jsonb,
			r int4range,
			ts timestamp(3) with time zone DEFAULT now(),
			CONSTRAINT "uq;1" UNIQUE ("a b", m),
			CONSTRAINT ex EXCLUDE USING gist (r WITH &&)
		) WITH (fillfactor = 70, autovacuum_enabled = false, toast.autovacuum_enabled = false)`),
		inSchema(s, `CREATE INDEX "idx ""1""" ON @."Ta""ble; x" (lower("a b")) WHERE "ünï" > 1`),
		inSchema(s, `CREATE INDEX ON @."Ta""ble; x" USING hash (j)`),
		inSchema(s, `CREATE TRIGGER "trg;" BEFORE UPDATE ON @."Ta""ble; x" FOR EACH ROW WHEN (OLD."a b" IS DISTINCT FROM NEW."a b") EXECUTE FUNCTION @."trg fn"()`),
		inSchema(s, `CREATE TRIGGER t2 AFTER INSERT ON @."Ta""ble; x" FOR EACH ROW EXECUTE FUNCTION @."trg fn"()`),
		inSchema(s, `ALTER TABLE @."Ta""ble; x" DISABLE TRIGGER "trg;"`),
		inSchema(s, `ALTER TABLE @."Ta""ble; x" ADD CONSTRAINT "nv" CHECK (id > 0) NOT VALID`),
		inSchema(s, `ALTER TABLE @."Ta""ble; x" ALTER COLUMN j SET STATISTICS 500`),
		inSchema(s, `ALTER TABLE @."Ta""ble; x" ALTER COLUMN "a b" SET STORAGE EXTERNAL`),
		inSchema(s, `ALTER TABLE @."Ta""ble; x" ALTER COLUMN j SET COMPRESSION pglz`),
		inSchema(s, `ALTER TABLE @."Ta""ble; x" REPLICA IDENTITY USING INDEX "uq;1"`),
		inSchema(s, `ALTER TABLE @."Ta""ble; x" CLUSTER ON "uq;1"`),
		inSchema(s, `ALTER TABLE @."Ta""ble; x" ENABLE ROW LEVEL SECURITY`),
		inSchema(s, `CREATE POLICY "p;ol" ON @."Ta""ble; x" AS RESTRICTIVE FOR UPDATE TO PUBLIC USING (d > 0) WITH CHECK (d > 1)`),
		inSchema(s, `CREATE STATISTICS @."st at" (ndistinct) ON "select", d FROM @."Ta""ble; x"`),
		inSchema(s, `CREATE RULE "no del" AS ON DELETE TO @."Ta""ble; x" WHERE OLD.d = 42 DO INSTEAD NOTHING`),
		inSchema(s, `GRANT SELECT, UPDATE ON @."Ta""ble; x" TO PUBLIC`),
		inSchema(s, `GRANT INSERT ("a b", j) ON @."Ta""ble; x" TO pg_monitor WITH GRANT OPTION`),
		inSchema(s, `GRANT USAGE ON SEQUENCE @."Ta""ble; x_select_seq" TO pg_monitor`),
		inSchema(s, `COMMENT ON TABLE @."Ta""ble; x" IS 'it''s a table; \ with backslash'`),
		inSchema(s, `COMMENT ON COLUMN @."Ta""ble; x"."ünï" IS 'ünï'`),
		inSchema(s, `COMMENT ON CONSTRAINT "uq;1" ON @."Ta""ble; x" IS 'unique'`),
		inSchema(s, `COMMENT ON INDEX @."idx ""1""" IS 'idx'`),
		inSchema(s, `COMMENT ON TRIGGER t2 ON @."Ta""ble; x" IS 'trig'`),
		inSchema(s, `COMMENT ON SEQUENCE @."Ta""ble; x_select_seq" IS 'serial'`),
		inSchema(s, `COMMENT ON POLICY "p;ol" ON @."Ta""ble; x" IS 'pol'`),
		inSchema(s, `SELECT nextval('@."Ta""ble; x_select_seq"'), nextval('@."Ta""ble; x_select_seq"')`),
		inSchema(s, `INSERT INTO @."Ta""ble; x" ("a b", "ünï", d, j, r) VALUES ('a', 1.5, 1, '{"k": [1, 2]}', '[1,3)'), ('b', 2, 2, NULL, '[5,9)')`),
		inSchema(s, `SELECT setval('@."Ta""ble; x_select_seq"', 100, false)`),
		// Fire the deferred foreign-key checks now: a table with pending
		// trigger events cannot be dropped.
		`SET CONSTRAINTS ALL IMMEDIATE`,
	)
}

// normalizeSchema makes definitions comparable across runs.
func normalizeSchema(s, text string) string {
	return strings.ReplaceAll(text, quoteIdent(s), `"<schema>"`)
}

func TestTableDefinitionGolden(t *testing.T) {
	c := inspectConn(t)
	s := inspectSchema(t, c)
	tx := inspectTx(t, c)
	richTable(t, tx, s)
	def, err := tableDefinition(context.Background(), tx, mustOID(t, tx, s, `Ta"ble; x`))
	if err != nil {
		t.Fatal(err)
	}
	got := normalizeSchema(s, "-- Create\n"+strings.Join(def.Create, ";\n")+";\n-- PostData\n"+
		strings.Join(def.PostData, ";\n")+";\n-- Drop\n"+strings.Join(def.Drop, ";\n")+";\n")
	compareGolden(t, "table_definition.golden", got)
	if def.Text != strings.Join(append(append([]string{}, def.Create...), def.PostData...), ";\n")+";\n" {
		t.Error("Text is not Create and PostData joined")
	}
}

// roundTrip captures a definition, drops the object, re-creates it from
// Create (restoring rows in between when rows is set) and PostData, and
// requires the same definition again.
func roundTrip(t *testing.T, tx pgx.Tx, capture func() (*engine.Definition, error), restoreRows func()) *engine.Definition {
	t.Helper()
	before, err := capture()
	if err != nil {
		t.Fatal(err)
	}
	execAll(t, tx, before.Drop...)
	execAll(t, tx, before.Create...)
	if restoreRows != nil {
		restoreRows()
	}
	execAll(t, tx, before.PostData...)
	after, err := capture()
	if err != nil {
		t.Fatal(err)
	}
	if after.Text != before.Text {
		t.Errorf("definition changed in a round trip:\n--- before ---\n%s\n--- after ---\n%s", before.Text, after.Text)
	}
	return after
}

func TestTableDefinitionRoundTrip(t *testing.T) {
	c := inspectConn(t)
	s := inspectSchema(t, c)
	ctx := context.Background()
	tx := inspectTx(t, c)
	richTable(t, tx, s)
	name := `Ta"ble; x`
	ti, err := loadTable(ctx, tx, mustOID(t, tx, s, name))
	if err != nil {
		t.Fatal(err)
	}
	rows := selectAll(t, tx, ti)
	x := &pgTx{tx: tx}
	roundTrip(t, tx, func() (*engine.Definition, error) {
		return tableDefinition(ctx, tx, mustOID(t, tx, s, name))
	}, func() {
		if err := x.Insert(ctx, ti, rows); err != nil {
			t.Fatal(err)
		}
	})
	if got := selectAll(t, tx, ti); !rowsEqual(got, rows) {
		t.Errorf("rows after round trip:\n got %v\nwant %v", got, rows)
	}
	// The sequences are where they were: serial next 100, identity next 20.
	var serial, ident int64
	if err := tx.QueryRow(ctx, inSchema(s, `SELECT nextval('@."Ta""ble; x_select_seq"'), nextval('@."Ta""ble; x_id_seq"')`)).Scan(&serial, &ident); err != nil {
		t.Fatal(err)
	}
	if serial != 100 || ident != 20 {
		t.Errorf("sequences after round trip: serial %d identity %d, want 100 and 20", serial, ident)
	}
}

func TestPartitionedTableRoundTrip(t *testing.T) {
	c := inspectConn(t)
	s := inspectSchema(t, c)
	ctx := context.Background()
	tx := inspectTx(t, c)
	execAll(t, tx,
		inSchema(s, `CREATE TABLE @.ref (id int PRIMARY KEY)`),
		inSchema(s, `INSERT INTO @.ref VALUES (1), (2)`),
		inSchema(s, `CREATE FUNCTION @.tf() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$`),
		inSchema(s, `CREATE TABLE @."pa rt" (id serial, k date NOT NULL, ref int REFERENCES @.ref, v text CHECK (v <> ''),
			PRIMARY KEY (id, k)) PARTITION BY RANGE (k)`),
		inSchema(s, `CREATE TABLE @."p 2020" PARTITION OF @."pa rt" FOR VALUES FROM ('2020-01-01') TO ('2021-01-01')`),
		inSchema(s, `CREATE TABLE @."p other" PARTITION OF @."pa rt" (v DEFAULT 'dflt') DEFAULT PARTITION BY RANGE (k)`),
		inSchema(s, `CREATE TABLE @."p other 1" PARTITION OF @."p other" FOR VALUES FROM ('2022-01-01') TO ('2023-01-01')`),
		inSchema(s, `CREATE TABLE @."p other rest" PARTITION OF @."p other" DEFAULT`),
		inSchema(s, `CREATE INDEX "v idx" ON @."pa rt" (v)`),
		inSchema(s, `CREATE INDEX "local;idx" ON @."p 2020" (ref)`),
		inSchema(s, `CREATE TRIGGER trg BEFORE INSERT ON @."pa rt" FOR EACH ROW EXECUTE FUNCTION @.tf()`),
		inSchema(s, `INSERT INTO @."pa rt" (k, ref, v) VALUES ('2020-05-01', 1, 'a'), ('2022-01-01', 1, 'b'), ('2023-01-01', 2, 'c')`),
	)
	name := "pa rt"
	ti, err := loadTable(ctx, tx, mustOID(t, tx, s, name))
	if err != nil {
		t.Fatal(err)
	}
	rows := selectAll(t, tx, ti)
	x := &pgTx{tx: tx}
	def := roundTrip(t, tx, func() (*engine.Definition, error) {
		return tableDefinition(ctx, tx, mustOID(t, tx, s, name))
	}, func() {
		if err := x.Insert(ctx, ti, rows); err != nil {
			t.Fatal(err)
		}
	})
	if !strings.Contains(def.Text, `PARTITION BY RANGE (k)`) || !strings.Contains(def.Text, `ATTACH PARTITION `+quoteQualified(s, "p other 1")+` FOR VALUES FROM ('2022-01-01') TO ('2023-01-01')`) {
		t.Errorf("partitioning missing from:\n%s", def.Text)
	}
	if got := selectAll(t, tx, ti); !rowsEqual(got, rows) {
		t.Errorf("rows after round trip:\n got %v\nwant %v", got, rows)
	}
	// One partition on its own: dropped and re-created into the existing
	// parent, its inherited index and key come back through ATTACH.
	for _, p := range []string{"p 2020", "p other"} {
		pti, err := loadTable(ctx, tx, mustOID(t, tx, s, p))
		if err != nil {
			t.Fatal(err)
		}
		prow := selectAll(t, tx, pti)
		roundTrip(t, tx, func() (*engine.Definition, error) {
			return tableDefinition(ctx, tx, mustOID(t, tx, s, p))
		}, func() {
			if err := x.Insert(ctx, pti, prow); err != nil {
				t.Fatal(err)
			}
		})
	}
	parent, err := tableDefinition(ctx, tx, mustOID(t, tx, s, name))
	if err != nil {
		t.Fatal(err)
	}
	if parent.Text != def.Text {
		t.Errorf("parent definition changed after re-creating partitions:\n%s\n---\n%s", def.Text, parent.Text)
	}
}

func TestTableDefinitionInheritanceAndUnlogged(t *testing.T) {
	c := inspectConn(t)
	s := inspectSchema(t, c)
	ctx := context.Background()
	tx := inspectTx(t, c)
	execAll(t, tx,
		inSchema(s, `CREATE TABLE @.base (a int CHECK (a > 0), b text NOT NULL)`),
		inSchema(s, `CREATE UNLOGGED TABLE @."ch ild" (c int) INHERITS (@.base)`),
	)
	def := roundTrip(t, tx, func() (*engine.Definition, error) {
		return tableDefinition(ctx, tx, mustOID(t, tx, s, "ch ild"))
	}, nil)
	for _, want := range []string{"CREATE UNLOGGED TABLE", "INHERITS (" + quoteQualified(s, "base") + ")"} {
		if !strings.Contains(def.Text, want) {
			t.Errorf("%q missing from:\n%s", want, def.Text)
		}
	}
	execAll(t, tx, `CREATE TEMPORARY TABLE "tmp t" (a serial PRIMARY KEY)`)
	def = roundTrip(t, tx, func() (*engine.Definition, error) {
		return tableDefinition(ctx, tx, mustOID(t, tx, "", "tmp t"))
	}, nil)
	if !strings.Contains(def.Text, `CREATE TEMPORARY TABLE "pg_temp"."tmp t"`) {
		t.Errorf("temporary table:\n%s", def.Text)
	}
	if _, err := tableDefinition(ctx, tx, 1); err == nil {
		t.Error("tableDefinition of a missing oid succeeded")
	}
	execAll(t, tx, inSchema(s, `CREATE VIEW @.v AS SELECT 1`))
	if _, err := tableDefinition(ctx, tx, mustOID(t, tx, s, "v")); err == nil {
		t.Error("tableDefinition of a view succeeded")
	}
}

// selectAll reads a table's rows as text in a stable order.
func selectAll(t testing.TB, q querier, ti engine.TableInfo) [][]engine.Value {
	t.Helper()
	cols := make([]string, len(ti.Columns))
	for i, c := range ti.Columns {
		cols[i] = quoteIdent(c.Name)
	}
	list := strings.Join(cols, ", ")
	rows, err := queryText(context.Background(), q, "SELECT "+list+" FROM "+quoteQualified(ti.Schema, ti.Name)+
		" ORDER BY "+strings.Join(func() []string {
		o := make([]string, len(cols))
		for i, c := range cols {
			o[i] = c + "::text"
		}
		return o
	}(), ", "))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][]engine.Value
	for rows.Next() {
		out = append(out, rawToValues(rows.RawValues(), nil))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func rowsEqual(a, b [][]engine.Value) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if !a[i][j].Equal(b[i][j]) {
				return false
			}
		}
	}
	return true
}
