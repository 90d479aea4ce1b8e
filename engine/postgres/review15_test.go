package postgres

// Review 15: commits bca767d and bd908f8 (the refusal's description in
// destroys.go; TRUNCATE ... CASCADE checking only the tables CASCADE
// reaches). Run: go test ./engine/postgres/ -run TestReview15 -count=1

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"lifebelt/engine"
)

func r15Describe(t *testing.T, c *conn, q string) []string {
	t.Helper()
	sts, err := c.Split(q)
	if err != nil || len(sts) != 1 {
		t.Fatalf("split %s: %v", q, err)
	}
	facts, err := c.DescribeDestruction(context.Background(), sts[0])
	if err != nil {
		t.Fatalf("describing %s: %v (facts %q)", q, err, facts)
	}
	return facts
}

// TRUNCATE ... CASCADE later in a batch (the snapshot already taken)
// finds the tables it cascades to from pg_constraint read under that
// snapshot, while the server's TRUNCATE finds them from the catalog as
// committed now. A foreign key another session adds after the snapshot
// (to a table that already holds rows) is invisible to the capture: the
// table is neither imaged nor checked, and TRUNCATE empties it anyway.
//
//	CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE c2 (id int PRIMARY KEY, p int); rows in both
//	batch: <some statement>; TRUNCATE p CASCADE
//	meanwhile, after the batch's first statement: ALTER TABLE c2 ADD FOREIGN KEY (p) REFERENCES p
//
// What happens: TRUNCATE succeeds, c2 is emptied, none of its rows is
// imaged (undo cannot bring them back).
// Expected: c2's rows imaged, or the statement stopped (ErrConcurrentChange
// or a refusal) - e.g. read the referencing tables after the locks with a
// fresh catalog view, or check that pg_constraint did not change.
func TestReview15TruncateCascadeMissesForeignKeyAddedAfterSnapshot(t *testing.T) {
	c, schema := capSession(t)
	capSetup(t, c, `CREATE TABLE p (id int PRIMARY KEY); INSERT INTO p VALUES (1), (2);
		CREATE TABLE c2 (id int PRIMARY KEY, p int); INSERT INTO c2 VALUES (10, 1), (11, 2)`)
	other := capOpen(t, capDSN())
	ctx := context.Background()
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.(engine.TxIDer).TxID(ctx); err != nil { // the batch's snapshot
		t.Fatal(err)
	}
	if _, err := other.pg.Exec(ctx, fmt.Sprintf(`ALTER TABLE %[1]s.c2 ADD FOREIGN KEY (p) REFERENCES %[1]s.p`, quoteIdent(schema))); err != nil {
		t.Fatal(err)
	}
	sts, _ := c.Split(`TRUNCATE p CASCADE`)
	s := &recSink{}
	if _, err := tx.Exec(ctx, sts[0], s, engine.ExecOptions{}); err != nil {
		return // stopped: fine
	}
	left := capRows(t, c, `SELECT count(*) FROM c2`)
	imaged := s.render("c2", engine.OpDelete)
	if left[0] == "0" && len(imaged) != 2 {
		t.Errorf("TRUNCATE p CASCADE emptied c2 (2 rows) but imaged %d of them: %q", len(imaged), imaged)
	}
}

// A partition with a foreign key of its own (not inherited from the
// partitioned table) to a table TRUNCATE ... CASCADE empties is reached
// twice: as a member of the partitioned table named in the statement and
// as a referencing table of its own (have[] holds the partitioned table's
// oid, not its partitions'). Its rows are imaged twice, so undo would put
// them back twice (or fail on the primary key).
//
//	CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE p (id int, a int) PARTITION BY RANGE (id);
//	CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (100);
//	ALTER TABLE p1 ADD FOREIGN KEY (a) REFERENCES a; one row in each
//	TRUNCATE a, p CASCADE
//
// What happens: p1's one row imaged twice (under p and under p1), in
// either order of the named tables.
// Expected: each emptied row imaged once.
func TestReview15TruncateCascadePartitionImagedTwice(t *testing.T) {
	c, _ := capSession(t)
	capSetup(t, c, `CREATE TABLE a (id int PRIMARY KEY);
		CREATE TABLE p (id int, a int) PARTITION BY RANGE (id);
		CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (100);
		ALTER TABLE p1 ADD FOREIGN KEY (a) REFERENCES a`)
	for _, q := range []string{`TRUNCATE a, p CASCADE`, `TRUNCATE p, a CASCADE`} {
		capSetup(t, c, `INSERT INTO a VALUES (1); INSERT INTO p VALUES (5, 1)`)
		s, _, err := capRun(t, c, q, engine.ExecOptions{})
		if err != nil {
			t.Errorf("%s: %v", q, err)
			continue
		}
		n := 0
		for _, r := range s.rows {
			if r.op == engine.OpDelete {
				n++
			}
		}
		if n != 2 { // a's row and p1's row
			t.Errorf("%s: 2 rows emptied (one of a, one of p1), %d imaged", q, n)
		}
	}
}

// TRUNCATE ... CASCADE empties the tables referencing the referencing
// tables too (grandchildren), but the refusal names only the tables whose
// foreign keys reference the named table: the grandchild, emptied all the
// same, is missing from what the statement "would destroy".
//
//	p <- c (REFERENCES p) <- g (REFERENCES c), rows in each
//	lifebelt exec ... -c "TRUNCATE p CASCADE"
//
// What happens: the refusal lists p and c only.
// Expected: g (with its rows) among what it destroys.
func TestReview15TruncateCascadeRefusalOmitsGrandchild(t *testing.T) {
	c, _ := capSession(t)
	capSetup(t, c, `CREATE TABLE p (id int PRIMARY KEY); INSERT INTO p VALUES (1);
		CREATE TABLE c (id int PRIMARY KEY, p int REFERENCES p); INSERT INTO c VALUES (10, 1);
		CREATE TABLE g (id int PRIMARY KEY, c int REFERENCES c); INSERT INTO g VALUES (100, 10), (101, 10)`)
	facts := r15Describe(t, c, `TRUNCATE p CASCADE`)
	ok := false
	for _, f := range facts {
		if strings.Contains(f, ".g ") || strings.HasSuffix(f, ".g") {
			ok = true
		}
	}
	if !ok {
		t.Errorf("TRUNCATE p CASCADE empties g (2 rows) too; the refusal says %q", facts)
	}
}

// TRUNCATE ONLY (and DROP TABLE, which fails while children exist) of a
// table with inheritance children: the refusal counts with
// "SELECT count(*) FROM t", which includes the children's rows. TRUNCATE
// ONLY parent empties the parent's own rows only.
//
//	CREATE TABLE parent (id int); CREATE TABLE kid () INHERITS (parent);
//	INSERT INTO parent VALUES (1); INSERT INTO kid VALUES (2), (3), (4)
//	lifebelt exec ... -c "TRUNCATE ONLY parent"
//
// What happens: "table ...parent with 4 row(s)".
// Expected: 1 row (count FROM ONLY), the one it empties.
func TestReview15InheritanceChildrenRowsCountedAsParents(t *testing.T) {
	c, _ := capSession(t)
	capSetup(t, c, `CREATE TABLE parent (id int); CREATE TABLE kid () INHERITS (parent);
		INSERT INTO parent VALUES (1); INSERT INTO kid VALUES (2), (3), (4)`)
	facts := r15Describe(t, c, `TRUNCATE ONLY parent`)
	if len(facts) == 0 || !strings.Contains(facts[0], "with 1 row(s)") {
		t.Errorf("TRUNCATE ONLY parent empties 1 row; the refusal says %q", facts)
	}
}
