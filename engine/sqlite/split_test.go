package sqlite

import (
	"testing"

	"lifebelt/engine"
)

func TestSplit(t *testing.T) {
	c, x := session(t, "CREATE TABLE t(id INTEGER PRIMARY KEY, v)")
	sts, err := c.Split(`INSERT INTO t(v) VALUES ('a;b');
		CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET v = v || ';' WHERE id = new.id; END;
		SELECT * FROM t -- trailing; comment
	`)
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 3 {
		t.Fatalf("%d statements: %+v", len(sts), sts)
	}
	for i, want := range []engine.Kind{engine.KindDML, engine.KindDDL, engine.KindRead} {
		if sts[i].Kind != want {
			t.Errorf("statement %d kind %v, want %v", i, sts[i].Kind, want)
		}
	}
	// Each piece runs on its own through Exec.
	for _, st := range sts {
		if _, err := x.Exec(t.Context(), st, &recSink{}, engine.ExecOptions{}); err != nil {
			t.Errorf("%q: %v", st.Text, err)
		}
	}
	if _, err := c.Split("SELECT 'unterminated"); err == nil {
		t.Error("Split of an unterminated string succeeded")
	}
}
