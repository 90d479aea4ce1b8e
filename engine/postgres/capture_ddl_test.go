package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"lifebelt/engine"
)

// objectsText summarises images as "KIND name action [before] [after]".
func objectsText(s *recSink) []string {
	var out []string
	for _, o := range s.objects {
		line := fmt.Sprintf("%s %s %s", o.Kind, o.Name, o.Action)
		if o.Before != nil {
			line += " before"
		}
		if o.After != nil {
			line += " after"
		}
		if o.Table != 0 {
			line += fmt.Sprintf(" rows:%d", countRows(s, o.Table))
		}
		out = append(out, line)
	}
	return out
}

func countRows(s *recSink, h int64) int {
	n := 0
	for _, r := range s.rows {
		if r.table == h {
			n++
		}
	}
	return n
}

func TestDropTableImages(t *testing.T) {
	c, schema := capSession(t)
	capSetup(t, c, `CREATE TABLE `+T+` (id int PRIMARY KEY, v text);
		INSERT INTO `+T+` SELECT g, 'v' || g FROM generate_series(1, 5) g;
		CREATE TABLE kid (id int, pid int REFERENCES `+T+`);
		CREATE VIEW "v;iew" AS SELECT * FROM `+T+`;
		CREATE TABLE solo (a int); INSERT INTO solo VALUES (1);`)
	s := capMust(t, c, `DROP TABLE IF EXISTS nothing_here, `+T+`, solo CASCADE`)
	eq(t, "objects", objectsText(s), []string{
		`TABLE Ta"b; lé select drop before rows:5`, "VIEW v;iew drop before", "CONSTRAINT kid_pid_fkey drop before", "TABLE solo drop before rows:1"})
	for _, o := range s.objects {
		if o.Schema != schema {
			t.Errorf("%s %s: schema %q", o.Kind, o.Name, o.Schema)
		}
	}
	if !strings.Contains(strings.Join(s.objects[0].Before.Create, "\n"), "CREATE TABLE") {
		t.Errorf("table definition %+v", s.objects[0].Before)
	}
	eq(t, "rows", s.render(`Ta"b; lé select`, engine.OpDelete), []string{"1|v1 ->", "2|v2 ->", "3|v3 ->", "4|v4 ->", "5|v5 ->"})

	// Without CASCADE, dependents make DROP fail: nothing is dropped.
	capSetup(t, c, `CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE ch (pid int REFERENCES p)`)
	if _, _, err := capRun(t, c, `DROP TABLE p`, engine.ExecOptions{}); err == nil || !strings.Contains(err.Error(), "depend") {
		t.Errorf("plain DROP with dependents: %v", err)
	}
}

func TestTruncateImages(t *testing.T) {
	c, _ := capSession(t)
	capSetup(t, c, `CREATE TABLE p (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text);
		CREATE TABLE ch (id int PRIMARY KEY, pid int REFERENCES p);
		CREATE TABLE gch (cid int REFERENCES ch);
		INSERT INTO p (v) VALUES ('a'), ('b'); INSERT INTO ch VALUES (1, 1); INSERT INTO gch VALUES (1), (1);`)
	s := capMust(t, c, `TRUNCATE p RESTART IDENTITY CASCADE`)
	eq(t, "objects", objectsText(s), []string{"TABLE p truncate before rows:2", "TABLE ch truncate before rows:1", "TABLE gch truncate before rows:2"})
	for _, o := range s.objects {
		if !strings.Contains(strings.Join(o.Before.Create, "\n"), "CREATE TABLE") {
			t.Errorf("%s: definition %+v", o.Name, o.Before)
		}
	}
	if got := capRows(t, c, "SELECT count(*) FROM p"); got[0] != "0" {
		t.Errorf("not truncated: %q", got)
	}
}

func TestDropObjectImages(t *testing.T) {
	c, _ := capSession(t)
	capSetup(t, c, `CREATE TABLE t (id int PRIMARY KEY, v text);
		CREATE VIEW v AS SELECT id FROM t; CREATE MATERIALIZED VIEW mv AS SELECT id FROM t;
		CREATE INDEX "i;x" ON t (v); CREATE SEQUENCE q START 5;
		CREATE FUNCTION f(a int) RETURNS int LANGUAGE sql AS 'SELECT a';
		CREATE FUNCTION f(a text) RETURNS text LANGUAGE sql AS 'SELECT a';
		CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
		CREATE TRIGGER "t;r" BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION trg();
		CREATE PROCEDURE pr() LANGUAGE sql AS '';`)
	s := capMust(t, c, `DROP VIEW v; DROP MATERIALIZED VIEW mv; DROP INDEX "i;x"; DROP SEQUENCE q;
		DROP FUNCTION f(text); DROP TRIGGER "t;r" ON t; DROP PROCEDURE pr; DROP VIEW IF EXISTS nothing`)
	eq(t, "objects", objectsText(s), []string{"VIEW v drop before", "MATERIALIZED VIEW mv drop before", "INDEX i;x drop before",
		"SEQUENCE q drop before", "FUNCTION f drop before", "TRIGGER t;r drop before", "PROCEDURE pr drop before"})
	if body := strings.Join(s.objects[4].Before.Create, "\n"); !strings.Contains(body, "a text") {
		t.Errorf("dropped the wrong overload's definition: %s", body)
	}
	_, _, err := capRun(t, c, `DROP FUNCTION f CASCADE`, engine.ExecOptions{})
	var ue *engine.UnguardedError
	if !errors.As(err, &ue) {
		t.Errorf("DROP FUNCTION CASCADE: %v", err)
	}
}

func TestCreateAndAlterImages(t *testing.T) {
	c, _ := capSession(t)
	s := capMust(t, c, `CREATE TABLE `+T+` (id int PRIMARY KEY, v text);
		CREATE TABLE IF NOT EXISTS `+T+` (x int);
		CREATE VIEW v AS SELECT id FROM `+T+`;
		CREATE OR REPLACE VIEW v AS SELECT id, v FROM `+T+`;
		CREATE OR REPLACE VIEW w AS SELECT 1 AS one;
		CREATE INDEX named ON `+T+` (v); CREATE INDEX ON `+T+` (id, v);
		CREATE SEQUENCE q; CREATE FUNCTION f(a int, OUT b int, INOUT c text) LANGUAGE sql AS 'SELECT a, c';
		CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
		CREATE TRIGGER tr BEFORE UPDATE ON `+T+` FOR EACH ROW EXECUTE FUNCTION trg();
		CREATE TABLE copy AS SELECT * FROM `+T+`;`)
	eq(t, "created", objectsText(s), []string{`TABLE Ta"b; lé select create after`, "VIEW v create after", "VIEW v replace before after",
		"VIEW w create after", "INDEX named create after", `INDEX Ta"b; lé select_id_v_idx create after`, "SEQUENCE q create after",
		"FUNCTION f create after", "FUNCTION trg create after", "TRIGGER tr create after", "TABLE copy create after"})
	for _, o := range s.objects {
		if len(o.After.Drop) == 0 {
			t.Errorf("%s %s has no Drop to undo its creation", o.Kind, o.Name)
		}
	}

	capSetup(t, c, `INSERT INTO `+T+` VALUES (1, 'a'), (2, 'b')`)
	s = capMust(t, c, `ALTER TABLE `+T+` ADD COLUMN n int DEFAULT 3; COMMENT ON TABLE `+T+` IS 'hi'; ALTER TABLE `+T+` RENAME TO t2`)
	eq(t, "altered", objectsText(s), []string{`TABLE Ta"b; lé select alter before after`, `TABLE Ta"b; lé select alter before after`, `TABLE Ta"b; lé select alter before after`})
	// ADD COLUMN, COMMENT and RENAME TO are undone by dropping the
	// column, setting the comment back and renaming back.
	if len(s.warns) != 0 {
		t.Errorf("warnings %q", s.warns)
	}
	for i, want := range []string{`."Ta""b; lé select" DROP COLUMN "n"`, `."Ta""b; lé select" IS NULL`, `."t2" RENAME TO "Ta""b; lé select"`} {
		got := ""
		if r := s.objects[i].After.Revert; r != nil {
			got = strings.Join(r.Statements, "; ")
		}
		if !strings.HasSuffix(got, want) || got == "" {
			t.Errorf("object %d: revert %q, want %q", i, got, want)
		}
	}
	if !strings.Contains(strings.Join(s.objects[2].After.Create, "\n"), "t2") {
		t.Errorf("rename: after-definition %q", s.objects[2].After.Create)
	}
	s = capMust(t, c, `ALTER TABLE t2 DROP COLUMN n`)
	eq(t, "drop column", objectsText(s), []string{"TABLE t2 alter before after rows:2"})
}

// TestDropTableConcurrent: rows another session commits after the batch's
// snapshot would be invisible to the capture yet dropped; the check on a
// second connection must catch inserts, updates and deletes.
func TestDropTableConcurrent(t *testing.T) {
	c, schema := capSession(t)
	other := capOpen(t, capDSN())
	ctx := context.Background()
	for i, change := range []string{"", "INSERT INTO %s.t VALUES (100)", "UPDATE %s.t SET id = 50 WHERE id = 1", "DELETE FROM %s.t WHERE id = 2"} {
		capSetup(t, c, `DROP TABLE IF EXISTS t; CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2), (3)`)
		tx, err := c.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.(engine.TxIDer).TxID(ctx); err != nil {
			t.Fatal(err)
		}
		sts, _ := c.Split(`DELETE FROM t WHERE id = 3; DROP TABLE t`)
		s := &recSink{}
		if _, err := tx.Exec(ctx, sts[0], s, engine.ExecOptions{}); err != nil {
			t.Fatal(err)
		}
		if change != "" {
			if _, err := other.pg.Exec(ctx, fmt.Sprintf(change, quoteIdent(schema))); err != nil {
				t.Fatal(err)
			}
		}
		_, err = tx.Exec(ctx, sts[1], s, engine.ExecOptions{})
		tx.Rollback(ctx)
		if i == 0 {
			if err != nil {
				t.Errorf("no concurrent change: %v", err)
			}
			eq(t, "imaged", s.render("t", engine.OpDelete), []string{"1 ->", "2 ->", "3 ->"})
			continue
		}
		if !errors.Is(err, ErrConcurrentChange) {
			t.Errorf("%s: got %v, want ErrConcurrentChange", change, err)
		}
	}
}

// TestDropTableFirstStatement: without a transaction id read first, the
// table is locked before the snapshot exists, and no check is needed.
func TestDropTableFirstStatement(t *testing.T) {
	c, _ := capSession(t)
	capSetup(t, c, `CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2)`)
	ctx := context.Background()
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	var sql []string
	tx.(*pgTx).trace = func(s string) { sql = append(sql, s) }
	sts, _ := c.Split(`DROP TABLE t`)
	s := &recSink{}
	if _, err := tx.Exec(ctx, sts[0], s, engine.ExecOptions{}); err != nil {
		t.Fatal(err)
	}
	eq(t, "imaged", s.render("t", engine.OpDelete), []string{"1 ->", "2 ->"})
	for _, q := range sql {
		if strings.Contains(q, "xmin") {
			t.Errorf("a concurrency check ran though the lock preceded the snapshot: %s", q)
		}
	}
}

func TestPartitionedTable(t *testing.T) {
	c, _ := capSession(t)
	capSetup(t, c, `CREATE TABLE pt (id int, region text, v int, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
		CREATE TABLE pt_eu PARTITION OF pt FOR VALUES IN ('eu'); CREATE TABLE pt_us PARTITION OF pt FOR VALUES IN ('us');
		INSERT INTO pt VALUES (1, 'eu', 1), (2, 'eu', 2), (3, 'us', 3);`)
	s := capMust(t, c, `UPDATE pt SET region = 'us', v = v * 10 WHERE id = 1; UPDATE pt SET v = 0 WHERE id = 3`)
	eq(t, "moved", s.render("pt", engine.OpUpdate), []string{"1|eu|1 -> 1|us|10", "3|us|3 -> 3|us|0"})
	s = capMust(t, c, `DELETE FROM pt WHERE v < 5; INSERT INTO pt VALUES (9, 'eu', 9)`)
	eq(t, "deleted", s.render("pt", engine.OpDelete), []string{"2|eu|2 ->", "3|us|0 ->"})
	eq(t, "inserted", s.render("pt", engine.OpInsert), []string{"-> 9|eu|9"})
	s = capMust(t, c, `DROP TABLE pt`)
	eq(t, "dropped", objectsText(s), []string{"TABLE pt drop before rows:2"})
}
