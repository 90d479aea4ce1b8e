package postgres

import (
	"context"
	"strings"
	"testing"

	"lifebelt/engine"
)

// TestCountersStatement: the change counters are read with a statement
// prepared once per session, prepared anew when a batch deallocates it.
func TestCountersStatement(t *testing.T) {
	c, _ := capSession(t)
	capSetup(t, c, `CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 1), (2, 2)`)
	s := capMust(t, c, `UPDATE t SET v = v + 1 WHERE id = 1`)
	eq(t, "first", s.render("t", engine.OpUpdate), []string{"1|1 -> 1|2"})
	first := c.counters
	if first == "" {
		t.Fatal("the counters statement was not kept")
	}
	s = capMust(t, c, `UPDATE t SET v = v + 1 WHERE id = 2; SELECT * FROM t`)
	eq(t, "second", s.render("t", engine.OpUpdate), []string{"2|2 -> 2|3"})
	if c.counters != first {
		t.Errorf("the counters statement was prepared again: %s, then %s", first, c.counters)
	}

	// A batch deallocating it: later statements prepare it again.
	s = capMust(t, c, `DEALLOCATE `+first+`; UPDATE t SET v = v + 1 WHERE id = 1`)
	eq(t, "after DEALLOCATE", s.render("t", engine.OpUpdate), []string{"1|2 -> 1|3"})
	if c.counters == "" || c.counters == first {
		t.Errorf("the counters statement was not prepared anew after DEALLOCATE: %q", c.counters)
	}

	// Deallocated where the session cannot see it: that batch fails
	// (nothing changes), the next prepares it again.
	gone := c.counters
	capSetup(t, c, `DEALLOCATE `+gone)
	if _, _, err := capRun(t, c, `UPDATE t SET v = v + 1 WHERE id = 1`, engine.ExecOptions{}); err == nil || !strings.Contains(err.Error(), gone) {
		t.Errorf("a batch ran without its counters statement: %v", err)
	}
	s = capMust(t, c, `UPDATE t SET v = v + 1 WHERE id = 1`)
	eq(t, "healed", s.render("t", engine.OpUpdate), []string{"1|3 -> 1|4"})
	eq(t, "rows", capRows(t, c, "SELECT * FROM t"), []string{"1|4", "2|3"})
}

// TestExecTakesSplitTrees: Exec uses the trees Split made, once each, and
// parses statements it has none for.
func TestExecTakesSplitTrees(t *testing.T) {
	c, _ := capSession(t)
	capSetup(t, c, `CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 1)`)
	ctx := context.Background()
	sts, err := c.Split("UPDATE t SET v = v + 1 WHERE id = 1;\nUPDATE t SET v = v + 1 WHERE id = 1")
	if err != nil {
		t.Fatal(err)
	}
	if c.trees.take(sts[0].Text) == nil {
		t.Fatal("Split kept no tree")
	}
	if _, err := c.Split("UPDATE t SET v = v + 1 WHERE id = 1; SELECT 1"); err != nil {
		t.Fatal(err)
	}
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	sink := &recSink{}
	// The same statement twice: once from the cache, once parsed again;
	// then one Split never saw.
	for _, st := range append(sts, engine.Statement{Text: "UPDATE t SET v = v * 10 WHERE id = 1", Verb: "UPDATE", Kind: engine.KindDML}) {
		if _, err := tx.Exec(ctx, st, sink, engine.ExecOptions{}); err != nil {
			t.Fatal(err)
		}
		if c.trees.take(st.Text) != nil {
			t.Errorf("Exec left the tree of %q in the cache", st.Text)
		}
	}
	eq(t, "images", sink.render("t", engine.OpUpdate), []string{"1|1 -> 1|2", "1|2 -> 1|3", "1|3 -> 1|30"})
}
