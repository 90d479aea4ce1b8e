package enginetest

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"lifebelt/engine"
)

// testTypes round-trips every sample value of every type through capture
// and undo, by key and (in a keyless table) by whole row, and through an
// exported undo script, comparing exact dumps.
func testTypes(t *testing.T, h Harness, nm names) {
	if len(h.Types) == 0 {
		t.Skip("the harness lists no types")
	}
	for _, tc := range h.Types {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, h, nm)
			for _, s := range tc.Setup {
				e.exec(s)
			}
			keyed := nm.tbl("typed_"+tc.Name, "id", "v", "n")
			e.exec(keyed.sql("CREATE TABLE {t} ({id} integer PRIMARY KEY, {v} " + tc.Type + ", {n} integer NOT NULL)"))
			keyless := nm.tbl("bag_"+tc.Name, "v", "n")
			e.exec(keyless.sql("CREATE TABLE {t} ({v} " + tc.Type + ", {n} integer NOT NULL)"))
			vals := append(slices.Clone(tc.Values), "NULL")
			for i, lit := range vals {
				e.exec(keyed.sql(fmt.Sprintf("INSERT INTO {t} ({id}, {v}, {n}) VALUES (%d, %s, 0)", i+1, lit)))
				e.exec(keyless.sql(fmt.Sprintf("INSERT INTO {t} ({v}, {n}) VALUES (%s, 0)", lit)))
			}
			// A duplicate row in the keyless table: matching must count.
			e.exec(keyless.sql(fmt.Sprintf("INSERT INTO {t} ({v}, {n}) VALUES (%s, 0)", vals[0])))

			for _, tb := range []tbl{keyed, keyless} {
				orig := e.dump(tb)
				if len(orig) != len(vals)+btoi(tb.name == keyless.name) {
					t.Fatalf("%s holds %d rows, want %d", tb.name, len(orig), len(vals))
				}
				// The update leaves v alone: undo must find each row by
				// an exact match of what it captured (key or whole row).
				e.commit(tb.sql("UPDATE {t} SET {n} = {n} + 1 WHERE {n} >= 0"))
				if d := e.dump(tb); slices.Equal(d, orig) {
					t.Fatalf("UPDATE of %s changed nothing", tb.name)
				}
				rep := e.undo(engine.UndoOptions{})
				if len(rep.Conflicts) > 0 {
					t.Errorf("undo of an UPDATE of %s saw conflicts where nobody else wrote (the re-read values differ from the captured ones): %v", tb.name, rep.Conflicts)
				}
				equal(t, "rows of "+tb.name+" after undoing UPDATE", e.dump(tb), orig)

				e.commit(tb.sql("DELETE FROM {t} WHERE {n} >= 0"))
				equal(t, "rows of "+tb.name+" after DELETE", e.dump(tb), []string{})
				e.undo(engine.UndoOptions{})
				equal(t, "rows of "+tb.name+" after undoing DELETE", e.dump(tb), orig)

				// The exported script matches every column exactly too:
				// each statement's script restores once and then does nothing.
				for _, q := range []string{"UPDATE {t} SET {n} = {n} + 1 WHERE {n} >= 0", "DELETE FROM {t} WHERE {n} >= 0"} {
					p := e.commit(tb.sql(q))
					script := e.undoScript(seqOf(t, p))
					e.runScript(script)
					equal(t, "rows of "+tb.name+" after the undo script of "+q, e.dump(tb), orig)
					e.runScript(script)
					equal(t, "rows of "+tb.name+" after the undo script of "+q+" ran twice", e.dump(tb), orig)
				}
				// The script does not touch the journal, whose entries are
				// still committed: go on in a fresh one.
				e.forgetCommitted()
			}
		})
	}
}

// head is the first n lines of s, for failure messages.
func head(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) <= n {
		return s
	}
	return strings.Join(lines[:n], "") + fmt.Sprintf("... (%d more lines)\n", len(lines)-n)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// forgetCommitted continues in a fresh journal so later undos of all
// entries do not include entries whose effects were reverted by a script.
func (e *env) forgetCommitted() {
	e.t.Helper()
	e.closeSession()
	checkJournal(e.t, e.jpath)
	e.jpath = strings.TrimSuffix(e.jpath, ".lifebelt") + "x.lifebelt"
	s, err := openSession(e.ctx, e.target, e.jpath)
	if err != nil {
		e.t.Fatalf("opening a session: %v", err)
	}
	e.s, e.closed = s, false
}

// undoScript writes the undo script of every committed entry not undone.
func (e *env) undoScript(entries ...int64) string {
	e.t.Helper()
	var buf bytes.Buffer
	if err := engine.WriteUndoScript(e.s.Journal(), scripter(e.t, e.h.Dialect), entries, &buf); err != nil {
		e.t.Fatalf("WriteUndoScript: %v", err)
	}
	return buf.String()
}

// runScript runs a whole script on the second connection, leaving out
// the shell's dot commands (lines starting with a dot), as the sqlite3
// shell does.
func (e *env) runScript(script string) {
	e.t.Helper()
	var sql []string
	for _, line := range strings.Split(script, "\n") {
		if !strings.HasPrefix(line, ".") {
			sql = append(sql, line)
		}
	}
	if _, err := e.db.ExecContext(e.ctx, strings.Join(sql, "\n")); err != nil {
		e.t.Fatalf("running the undo script: %v\n%s", err, head(script, 30))
	}
}

// testAutoIDs checks that undo keeps generated key values and leaves the
// generator ahead of them, after a DELETE and after a DROP TABLE.
func testAutoIDs(t *testing.T, h Harness, nm names) {
	if len(h.AutoIDs) == 0 {
		t.Skip("the harness lists no generated key columns")
	}
	for _, a := range h.AutoIDs {
		t.Run(a.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, h, nm)
			tb := nm.tbl("auto_"+strings.ReplaceAll(a.Name, " ", "_"), "id", "v")
			e.exec(tb.sql("CREATE TABLE {t} ({id} " + a.Column + ", {v} text)"))
			e.exec(tb.sql("INSERT INTO {t} ({v}) VALUES ('a'), ('b'), ('c'), ('d'), ('e')"))
			ids := func() []string { return e.query(tb.sql("SELECT {id}, {v} FROM {t} ORDER BY {id}")) }
			orig := ids()
			max := maxID(t, orig)

			e.commit(tb.sql("DELETE FROM {t} WHERE {v} >= 'c'"))
			e.undo(engine.UndoOptions{})
			equal(t, "rows after undoing DELETE", ids(), orig)
			next := insertDefault(e, tb)
			if next <= max {
				t.Errorf("after undoing DELETE the next generated id is %d, not above %d", next, max)
			}
			e.exec(tb.sql(fmt.Sprintf("DELETE FROM {t} WHERE {id} = %d", next)))

			// Rows inserted by Lifebelt keep their generated ids through undo of undo.
			p := e.commit(tb.sql("INSERT INTO {t} ({v}) VALUES ('f')"))
			withF := ids()
			rep := e.undo(engine.UndoOptions{Entries: []int64{seqOf(t, p)}})
			e.undo(engine.UndoOptions{Entries: []int64{rep.Seq}})
			equal(t, "rows after undoing the undo of INSERT", ids(), withF)
			max = maxID(t, withF)

			// The newest row goes before the drop: a generator that never
			// reuses values must not hand its id out again.
			e.exec(tb.sql(fmt.Sprintf("DELETE FROM {t} WHERE {id} = %d", max)))
			kept := ids()
			p = e.commit(tb.sql("DROP TABLE {t}"))
			e.undo(engine.UndoOptions{Entries: []int64{seqOf(t, p)}})
			equal(t, "rows after undoing DROP TABLE", ids(), kept)
			floor := maxID(t, kept)
			if a.NeverReuses {
				floor = max
			}
			if next := insertDefault(e, tb); next <= floor {
				t.Errorf("after undoing DROP TABLE the next generated id is %d, not above %d", next, floor)
			}
		})
	}
}

// insertDefault inserts a row with a generated id and returns the id.
func insertDefault(e *env, tb tbl) int64 {
	e.t.Helper()
	e.exec(tb.sql("INSERT INTO {t} ({v}) VALUES ('next')"))
	got := e.query(tb.sql("SELECT {id} FROM {t} WHERE {v} = 'next'"))
	if len(got) != 1 {
		e.t.Fatalf("inserted one row, found %v", got)
	}
	id, err := strconv.ParseInt(got[0], 10, 64)
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

func maxID(t testing.TB, rows []string) int64 {
	var max int64
	for _, r := range rows {
		id, err := strconv.ParseInt(strings.SplitN(r, "|", 2)[0], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		if id > max {
			max = id
		}
	}
	return max
}
