package postgres

import (
	"context"
	"strings"
	"testing"

	"lifebelt/engine"
)

func TestObjectDefinitionRoundTrips(t *testing.T) {
	c := inspectConn(t)
	s := inspectSchema(t, c)
	ctx := context.Background()
	tx := inspectTx(t, c)
	execAll(t, tx,
		inSchema(s, `CREATE TABLE @."ba se" (id int PRIMARY KEY, "v;al" text)`),
		inSchema(s, `INSERT INTO @."ba se" VALUES (1, 'one'), (2, 'two')`),
		inSchema(s, `CREATE VIEW @."v ""1""" WITH (security_barrier) AS SELECT id, "v;al" FROM @."ba se" WHERE id > 0 WITH CASCADED CHECK OPTION`),
		inSchema(s, `ALTER VIEW @."v ""1""" ALTER COLUMN "v;al" SET DEFAULT 'd'`),
		inSchema(s, `COMMENT ON VIEW @."v ""1""" IS 'view'`),
		inSchema(s, `COMMENT ON COLUMN @."v ""1"""."v;al" IS 'col'`),
		inSchema(s, `CREATE MATERIALIZED VIEW @."m v" AS SELECT id, upper("v;al") AS u FROM @."ba se"`),
		inSchema(s, `CREATE UNIQUE INDEX "m idx" ON @."m v" (id)`),
		inSchema(s, `COMMENT ON MATERIALIZED VIEW @."m v" IS 'mat'`),
		inSchema(s, `CREATE MATERIALIZED VIEW @.empty AS SELECT 1 AS one WITH NO DATA`),
		inSchema(s, `CREATE FUNCTION @."f;n"(a integer, b text DEFAULT 'x') RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT b || a $$`),
		inSchema(s, `CREATE FUNCTION @."f;n"(a text) RETURNS text LANGUAGE sql AS $$ SELECT a $$`),
		inSchema(s, `COMMENT ON FUNCTION @."f;n"(integer, text) IS 'two args'`),
		inSchema(s, `REVOKE EXECUTE ON FUNCTION @."f;n"(integer, text) FROM PUBLIC`),
		inSchema(s, `GRANT EXECUTE ON FUNCTION @."f;n"(integer, text) TO pg_monitor`),
		inSchema(s, `GRANT SELECT ON @."v ""1""" TO pg_monitor`),
		inSchema(s, `CREATE PROCEDURE @.pr(INOUT n int) LANGUAGE plpgsql AS $$BEGIN n := n + 1; END$$`),
		inSchema(s, `CREATE FUNCTION @.tf() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$`),
		inSchema(s, `CREATE TRIGGER "tr ig" BEFORE INSERT ON @."ba se" FOR EACH ROW EXECUTE FUNCTION @.tf()`),
		inSchema(s, `ALTER TABLE @."ba se" ENABLE ALWAYS TRIGGER "tr ig"`),
		inSchema(s, `COMMENT ON TRIGGER "tr ig" ON @."ba se" IS 'tr'`),
		inSchema(s, `CREATE INDEX "i;x" ON @."ba se" (lower("v;al")) WHERE id > 1`),
		inSchema(s, `CREATE SEQUENCE @."se q" AS smallint INCREMENT BY -2 MINVALUE -100 MAXVALUE 10 START WITH 5 CACHE 3 CYCLE`),
		// With CACHE 3 the first nextval claims 5, 3 and 1: last_value is 1.
		inSchema(s, `SELECT nextval('@."se q"'), nextval('@."se q"')`),
		inSchema(s, `ALTER SEQUENCE @."se q" OWNED BY @."ba se".id`),
	)
	cases := []struct {
		ref  objRef
		want []string // fragments the definition must hold
	}{
		{objRef{Kind: "VIEW", Name: engine.Name{Schema: s, Name: `v "1"`}},
			[]string{"CREATE OR REPLACE VIEW", `"security_barrier"='true'`, `"check_option"='cascaded'`, "SET DEFAULT 'd'", "COMMENT ON COLUMN", "GRANT SELECT ON TABLE"}},
		{objRef{Kind: "MATERIALIZED VIEW", Name: engine.Name{Schema: s, Name: "m v"}},
			[]string{"WITH NO DATA", "REFRESH MATERIALIZED VIEW", `CREATE UNIQUE INDEX "m idx"`}},
		{objRef{Kind: "MATERIALIZED VIEW", Name: engine.Name{Schema: s, Name: "empty"}}, []string{"WITH NO DATA"}},
		{objRef{Kind: "FUNCTION", Name: engine.Name{Schema: s, Name: "f;n"}, Args: "integer, text"},
			[]string{"CREATE OR REPLACE FUNCTION", "DEFAULT 'x'", "IMMUTABLE", "two args", "REVOKE EXECUTE", "GRANT EXECUTE"}},
		{objRef{Kind: "FUNCTION", Name: engine.Name{Schema: s, Name: "f;n"}, Args: "text"}, []string{"SELECT a"}},
		{objRef{Kind: "PROCEDURE", Name: engine.Name{Schema: s, Name: "pr"}}, []string{"CREATE OR REPLACE PROCEDURE", "INOUT n integer"}},
		{objRef{Kind: "TRIGGER", Name: engine.Name{Name: "tr ig"}, On: engine.Name{Schema: s, Name: "ba se"}},
			[]string{"CREATE TRIGGER", "ENABLE ALWAYS TRIGGER", "COMMENT ON TRIGGER"}},
		{objRef{Kind: "INDEX", Name: engine.Name{Schema: s, Name: "i;x"}}, []string{`CREATE INDEX "i;x"`, "WHERE (id > 1)"}},
		{objRef{Kind: "SEQUENCE", Name: engine.Name{Schema: s, Name: "se q"}},
			[]string{"AS smallint", "INCREMENT BY -2", "CACHE 3 CYCLE", "setval", ", 1, true)", "OWNED BY"}},
	}
	for _, tc := range cases {
		t.Run(tc.ref.Kind+" "+tc.ref.Name.Name, func(t *testing.T) {
			capture := func() (*engine.Definition, error) {
				d, found, err := objectDefinition(ctx, tx, tc.ref)
				if err == nil && !found {
					t.Fatalf("%+v not found", tc.ref)
				}
				return d, err
			}
			def := roundTrip(t, tx, capture, nil)
			for _, w := range tc.want {
				if !strings.Contains(def.Text, w) {
					t.Errorf("%q missing from\n%s", w, def.Text)
				}
			}
			if len(def.Drop) != 1 || !strings.HasPrefix(def.Drop[0], "DROP ") {
				t.Errorf("Drop = %q", def.Drop)
			}
		})
	}
	// The re-created objects work.
	var got string
	if err := tx.QueryRow(ctx, inSchema(s, `SELECT @."f;n"(7) || (SELECT u FROM @."m v" WHERE id = 2)`)).Scan(&got); err != nil || got != "x7TWO" {
		t.Errorf("re-created function and materialized view: %q, %v", got, err)
	}
	var populated bool
	tx.QueryRow(ctx, inSchema(s, `SELECT relispopulated FROM pg_class WHERE oid = '@.empty'::regclass`)).Scan(&populated)
	if populated {
		t.Error("an unpopulated materialized view came back populated")
	}
}

func TestObjectDefinitionLookup(t *testing.T) {
	c := inspectConn(t)
	s := inspectSchema(t, c)
	ctx := context.Background()
	tx := inspectTx(t, c)
	execAll(t, tx,
		inSchema(s, `CREATE TABLE @.t (a int PRIMARY KEY)`),
		inSchema(s, `CREATE FUNCTION @.over(int) RETURNS int LANGUAGE sql AS 'SELECT 1'`),
		inSchema(s, `CREATE FUNCTION @.over(text) RETURNS int LANGUAGE sql AS 'SELECT 2'`),
		inSchema(s, `CREATE FUNCTION @.one() RETURNS int LANGUAGE sql AS 'SELECT 3'`),
		inSchema(s, `CREATE AGGREGATE @.agg(int) (sfunc = int4pl, stype = int)`),
		"SET LOCAL search_path = "+quoteIdent(s),
	)
	absent := []objRef{
		{Kind: "VIEW", Name: engine.Name{Schema: s, Name: "t"}},             // a table, not a view
		{Kind: "TABLE", Name: engine.Name{Schema: s, Name: "nope"}},         // missing
		{Kind: "FUNCTION", Name: engine.Name{Name: "one"}, Args: "integer"}, // wrong signature
		{Kind: "PROCEDURE", Name: engine.Name{Name: "one"}},                 // a function, not a procedure
		{Kind: "TRIGGER", Name: engine.Name{Name: "x"}, On: engine.Name{Name: "t"}},
		{Kind: "TRIGGER", Name: engine.Name{Name: "x"}, On: engine.Name{Name: "no table"}},
		{Kind: "INDEX", Name: engine.Name{Name: "t"}},
	}
	execAll(t, tx, inSchema(s, `CREATE INDEX "i x" ON @.t (a)`), "SET LOCAL search_path = public")
	// An unqualified index name is looked up in its table's schema.
	if _, found, err := objectDefinition(ctx, tx, objRef{Kind: "INDEX", Name: engine.Name{Name: "i x"},
		On: engine.Name{Schema: s, Name: "t"}}); !found || err != nil {
		t.Errorf("index by its table's schema: %v %v", found, err)
	}
	execAll(t, tx, "SET LOCAL search_path = "+quoteIdent(s))
	for _, r := range absent {
		if d, found, err := objectDefinition(ctx, tx, r); found || err != nil || d != nil {
			t.Errorf("%+v: found=%v err=%v", r, found, err)
		}
	}
	// Unqualified names resolve through search_path; the definition is
	// qualified anyway.
	d, found, err := objectDefinition(ctx, tx, objRef{Kind: "FUNCTION", Name: engine.Name{Name: "one"}})
	if err != nil || !found || !strings.Contains(d.Create[0], quoteIdent(s)+".one()") {
		t.Errorf("unqualified function: %v %v %+v", found, err, d)
	}
	d, found, err = objectDefinition(ctx, tx, objRef{Kind: "TABLE", Name: engine.Name{Name: "t"}})
	if err != nil || !found || !strings.Contains(d.Create[0], quoteQualified(s, "t")) {
		t.Errorf("unqualified table: %v %v %+v", found, err, d)
	}
	if _, _, err := objectDefinition(ctx, tx, objRef{Kind: "FUNCTION", Name: engine.Name{Schema: s, Name: "over"}}); err == nil ||
		!strings.Contains(err.Error(), "2 routines") {
		t.Errorf("ambiguous overload: %v", err)
	}
	if _, _, err := objectDefinition(ctx, tx, objRef{Kind: "FUNCTION", Name: engine.Name{Name: "agg"}}); err == nil {
		t.Error("an aggregate was captured as a function")
	}
	if _, _, err := objectDefinition(ctx, tx, objRef{Kind: "TYPE", Name: engine.Name{Name: "x"}}); err == nil {
		t.Error("an unsupported kind gave no error")
	}
}
