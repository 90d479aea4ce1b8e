package postgres

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"lifebelt/engine"
)

func TestCascadeDependents(t *testing.T) {
	var mu sync.Mutex
	var notices []*pgconn.Notice
	c := inspectConnWith(t, func(cfg *pgx.ConnConfig) {
		cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
			mu.Lock()
			notices = append(notices, n)
			mu.Unlock()
		}
	})
	s := inspectSchema(t, c)
	ctx := context.Background()
	tx := inspectTx(t, c)
	execAll(t, tx,
		inSchema(s, `CREATE TABLE @."ta ble" (id serial PRIMARY KEY, "v;" text)`),
		inSchema(s, `INSERT INTO @."ta ble" ("v;") VALUES ('a'), ('b')`),
		inSchema(s, `CREATE FUNCTION @.tf() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$`),
		inSchema(s, `CREATE TRIGGER own BEFORE INSERT ON @."ta ble" FOR EACH ROW EXECUTE FUNCTION @.tf()`),
		inSchema(s, `CREATE FUNCTION @."f n"(r @."ta ble") RETURNS text LANGUAGE sql AS $$ SELECT r."v;" $$`),
		// v 2 reads the table directly too, so it is found in the same
		// round as v 1 and only the dependency edges order them.
		inSchema(s, `CREATE VIEW @."v 1" AS SELECT id, "v;" FROM @."ta ble"`),
		inSchema(s, `CREATE VIEW @."v 2" AS SELECT v.id, @."f n"(t) AS f FROM @."v 1" v JOIN @."ta ble" t USING (id)`),
		inSchema(s, `CREATE MATERIALIZED VIEW @."m v" AS SELECT * FROM @."v 2"`),
		inSchema(s, `CREATE UNIQUE INDEX ON @."m v" (id)`),
		inSchema(s, `CREATE TABLE @.child (pid int CONSTRAINT "fk;" REFERENCES @."ta ble" ON DELETE CASCADE)`),
		inSchema(s, `INSERT INTO @.child VALUES (1)`),
		inSchema(s, `CREATE TABLE @.oth (n int DEFAULT nextval('@."ta ble_id_seq"'), whole @."ta ble")`),
		inSchema(s, `CREATE POLICY "po l" ON @.oth USING (EXISTS (SELECT 1 FROM @."ta ble"))`),
		inSchema(s, `CREATE TABLE @.kid (extra int) INHERITS (@."ta ble")`),
	)
	oid := mustOID(t, tx, s, "ta ble")
	imgs, err := cascadeDependents(ctx, tx, oid)
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	var kinds []string
	for i, im := range imgs {
		pos[im.Kind+" "+im.Name] = i
		kinds = append(kinds, im.Kind+" "+im.Name)
		if im.Action != engine.ActionDrop {
			t.Errorf("%s: action %q", im.Kind, im.Action)
		}
		if im.Kind != kindOther && (im.Before == nil || im.Before.Text == "") {
			t.Errorf("%s %s has no definition", im.Kind, im.Name)
		}
	}
	for _, k := range []string{"FUNCTION f n", "VIEW v 1", "VIEW v 2", "MATERIALIZED VIEW m v", "CONSTRAINT fk;",
		"TABLE kid", "DEFAULT n", "POLICY po l"} {
		if _, ok := pos[k]; !ok {
			t.Errorf("%q missing from %q", k, kinds)
		}
	}
	if len(imgs) != 9 {
		t.Errorf("got %d images %q, want 9 (the one above and the column oth.whole)", len(imgs), kinds)
	}
	for _, before := range [][2]string{{"FUNCTION f n", "VIEW v 2"}, {"VIEW v 1", "VIEW v 2"}, {"VIEW v 2", "MATERIALIZED VIEW m v"}} {
		if pos[before[0]] > pos[before[1]] {
			t.Errorf("%s comes after %s in %q", before[0], before[1], kinds)
		}
	}
	if imgs[len(imgs)-1].Kind != kindConstraint {
		t.Errorf("the foreign key is not last: %q", kinds)
	}
	for _, im := range imgs {
		if im.Kind == kindConstraint && (len(im.Before.Create) != 0 || len(im.Before.PostData) != 1) {
			t.Errorf("constraint image: %+v", im.Before)
		}
	}

	// The server drops exactly these objects.
	tableDef, err := tableDefinition(ctx, tx, oid)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	notices = nil
	mu.Unlock()
	execAll(t, tx, inSchema(s, `DROP TABLE @."ta ble" CASCADE`))
	mu.Lock()
	var detail string
	for _, n := range notices {
		if strings.Contains(n.Message, "drop cascades to") {
			detail = n.Message + "\n" + n.Detail
		}
	}
	mu.Unlock()
	lines := 0
	for _, l := range strings.Split(detail, "\n") {
		if strings.Contains(l, "drop cascades to") {
			lines++
		}
	}
	if lines != len(imgs) && !strings.Contains(detail, "drop cascades to "+strconv.Itoa(len(imgs))+" other objects") {
		t.Errorf("server dropped:\n%s\nwe listed %d: %q", detail, len(imgs), kinds)
	}

	// Re-creating the table then the images front to back restores them.
	execAll(t, tx, tableDef.Create...)
	execAll(t, tx, inSchema(s, `INSERT INTO @."ta ble" VALUES (1, 'a'), (2, 'b')`))
	for _, im := range imgs {
		if im.Before != nil {
			execAll(t, tx, im.Before.Create...)
		}
	}
	execAll(t, tx, tableDef.PostData...)
	for _, im := range imgs {
		if im.Before != nil {
			execAll(t, tx, im.Before.PostData...)
		}
	}
	again, err := cascadeDependents(ctx, tx, mustOID(t, tx, s, "ta ble"))
	if err != nil {
		t.Fatal(err)
	}
	var kinds2 []string
	for _, im := range again {
		kinds2 = append(kinds2, im.Kind+" "+im.Name)
	}
	// The dropped column cannot come back; everything else does, with the
	// same definitions.
	if len(again) != len(imgs)-1 {
		t.Errorf("after restore: %q", kinds2)
	}
	byName := map[string]*engine.Definition{}
	for _, im := range again {
		byName[im.Kind+" "+im.Name] = im.Before
	}
	for _, im := range imgs {
		if im.Kind == kindOther {
			continue
		}
		d := byName[im.Kind+" "+im.Name]
		if d == nil || d.Text != im.Before.Text {
			t.Errorf("%s %s after restore:\n%v\nwant\n%s", im.Kind, im.Name, d, im.Before.Text)
		}
	}
	var f string
	if err := tx.QueryRow(ctx, inSchema(s, `SELECT f FROM @."m v" WHERE id = 2`)).Scan(&f); err != nil || f != "b" {
		t.Errorf("restored materialized view: %q %v", f, err)
	}
}

func TestCascadeDependentsNone(t *testing.T) {
	c := inspectConn(t)
	s := inspectSchema(t, c)
	tx := inspectTx(t, c)
	execAll(t, tx,
		inSchema(s, `CREATE TABLE @.p (id int PRIMARY KEY, t text) PARTITION BY RANGE (id)`),
		inSchema(s, `CREATE TABLE @.p1 PARTITION OF @.p FOR VALUES FROM (0) TO (10)`),
		inSchema(s, `CREATE INDEX ON @.p (t)`),
		inSchema(s, `CREATE TABLE @.solo (id serial PRIMARY KEY, r int REFERENCES @.solo)`),
	)
	// Partitions, indexes, owned sequences and self-references belong to
	// the table's own definition.
	for _, n := range []string{"p", "solo"} {
		imgs, err := cascadeDependents(context.Background(), tx, mustOID(t, tx, s, n))
		if err != nil || len(imgs) != 0 {
			t.Errorf("%s: %+v %v", n, imgs, err)
		}
	}
}
