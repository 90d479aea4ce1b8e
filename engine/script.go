package engine

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"lifebelt/journal"
)

// WriteUndoScript writes an SQL script that undoes the chosen entries (all
// committed, not yet undone entries when none are given), newest first.
// Every statement is guarded so the script can run twice: rows are
// re-inserted only while missing, set back only while they still hold the
// journaled after-image, deleted only while unchanged; objects are created
// only while absent and dropped only while present. Rows changed by others
// since are therefore left alone, as the interactive undo does.
func WriteUndoScript(j *journal.Journal, sc Scripter, entries []int64, out io.Writer) error {
	todo, skipped, err := selectUndo(j, entries)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(out)
	h := j.Header()
	g := &scriptGen{sc: sc}
	if g.keyless, err = touchesKeyless(j, todo); err != nil {
		return err
	}
	if g.keyless {
		if _, ok := sc.(RowPicker); !ok {
			return fmt.Errorf("%s cannot script changes to tables without a key (no way to name one of identical rows)", h.Dialect)
		}
		g.marker = markerTable
		g.scriptID = scriptID(h.SessionID, todo)
	}
	fmt.Fprintf(w, "-- Lifebelt undo script\n-- journal:  %s\n-- session:  %s\n-- target:   %s (%s %s)\n-- written:  %s\n",
		j.Path(), h.SessionID, h.Target, h.Dialect, h.ServerVersion, time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "-- Safe to run more than once: each statement checks the current state first.\n")
	for _, s := range skipped {
		fmt.Fprintf(w, "-- NOT UNDONE: %s\n", s)
	}
	if g.keyless {
		fmt.Fprintf(w, "-- Tables without a key are involved: their identical rows cannot be told apart by\n"+
			"-- content, so those statements run only once, recorded in table %s as script %s.\n", markerTable, g.scriptID)
	}
	fmt.Fprintf(w, "%s\n", sc.BeginScript())
	if g.keyless {
		fmt.Fprintf(w, "CREATE TABLE IF NOT EXISTS %s (script_id TEXT PRIMARY KEY, applied_at TEXT NOT NULL);\n", sc.QuoteIdent(markerTable))
	}
	for _, e := range todo {
		if err := g.entry(w, j, e); err != nil {
			return err
		}
	}
	if g.keyless {
		fmt.Fprintf(w, "INSERT INTO %s (script_id, applied_at) SELECT '%s', CURRENT_TIMESTAMP WHERE %s;\n", sc.QuoteIdent(markerTable), g.scriptID, g.once())
	}
	fmt.Fprintf(w, "%s\n", sc.CommitScript())
	return w.Flush()
}

// markerTable records scripts that touched keyless tables, so that their
// second run changes nothing.
const markerTable = "lifebelt_undo_applied"

type scriptGen struct {
	sc       Scripter
	keyless  bool
	marker   string
	scriptID string
}

// once is the condition true until this script has been applied.
func (g *scriptGen) once() string {
	return fmt.Sprintf("NOT EXISTS (SELECT 1 FROM %s WHERE script_id = '%s')", g.sc.QuoteIdent(g.marker), g.scriptID)
}

func scriptID(session string, todo []journal.Entry) string {
	h := sha256.New()
	io.WriteString(h, session)
	for _, e := range todo {
		fmt.Fprintf(h, ",%d", e.Seq)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func touchesKeyless(j *journal.Journal, todo []journal.Entry) (bool, error) {
	for _, e := range todo {
		ts, err := j.Tables(e.Seq)
		if err != nil {
			return false, err
		}
		for _, t := range ts {
			if t.KeyKind == KeyRow {
				return true, nil
			}
		}
	}
	return false, nil
}

func (g *scriptGen) entry(w *bufio.Writer, j *journal.Journal, e journal.Entry) error {
	sc := g.sc
	fmt.Fprintf(w, "\n-- entry %d (%s, %s): %s\n", e.Seq, e.Class, e.At.Format(time.RFC3339), firstLine(e.SQL))
	ts, err := j.Tables(e.Seq)
	if err != nil {
		return err
	}
	tables := map[int64]TableInfo{}
	for _, t := range ts {
		tables[t.ID] = t
	}
	objs, err := j.Objects(e.Seq)
	if err != nil {
		return err
	}
	// A partly undone entry: what earlier undos did is left out.
	done, err := earlierUndos(j, e)
	if err != nil {
		return err
	}
	if done != nil {
		fmt.Fprintf(w, "-- partly undone by entries %v: only what they left is undone here\n", done.by)
	}
	restored := map[int64]bool{}
	for _, o := range objs {
		if done != nil && done.objectDone(o) {
			if o.Table != 0 {
				restored[o.Table] = true
			}
			continue
		}
		switch o.Action {
		case ActionDrop:
			if o.Before == nil {
				continue
			}
			stmts := append(append([]string{}, o.Before.Create...), o.Before.PostData...)
			writeStmts(w, sc.IfAbsent(o.Kind, o.Schema, o.Name, stmts))
			if o.Table != 0 {
				restored[o.Table] = true
				t := tables[o.Table]
				dup := map[string]int{}
				err := j.ImageChunks(e.Seq, false, undoBatch, func(imgs []journal.Image) error {
					for _, im := range imgs {
						if im.Table == o.Table && im.Before != nil {
							g.insert(w, t, im.Before, dup)
						}
					}
					return nil
				})
				if err != nil {
					return err
				}
			}
		case ActionReplace:
			if o.Before != nil {
				writeStmts(w, o.Before.Create)
			}
		case ActionKeep:
			restored[o.Table] = true
		case ActionAlter:
			if o.Table != 0 {
				restored[o.Table] = true
			}
			fmt.Fprintf(w, "-- NOT UNDONE: ALTER of %s %s; its earlier definition:\n%s\n", o.Kind, qname(o.Schema, o.Name), commentOut(defText(o.Before)))
			if o.After != nil && o.After.Revert != nil {
				// Not idempotent (SQLite has no conditional DDL), so only
				// shown: lifebelt undo checks the definition first.
				fmt.Fprintf(w, "-- lifebelt undo reverts it, while the table still has its later definition, with:\n%s\n", commentOut(strings.Join(o.After.Revert.Steps(), "\n")))
			}
		}
	}
	dup := map[string]int{}
	err = j.ImageChunks(e.Seq, true, undoBatch, func(imgs []journal.Image) error {
		for _, im := range imgs {
			if restored[im.Table] {
				continue
			}
			t := tables[im.Table]
			if done != nil && done.rowDone(t, im) {
				continue
			}
			switch Op(im.Op) {
			case OpDelete:
				g.insert(w, t, im.Before, dup)
			case OpUpdate:
				// A GENERATED ALWAYS identity column (PostgreSQL) accepts
				// no value in UPDATE: left out where the statement did
				// not change it, and where it did, switched to BY DEFAULT
				// around the UPDATE, as undo does (a delete and insert
				// would fire ON DELETE actions on rows added since).
				var set, switched []string
				for i, c := range t.Columns {
					if c.Generated {
						continue
					}
					if c.Identity == "always" {
						if RowsEqual(im.Before[i:i+1], im.After[i:i+1]) {
							continue
						}
						switched = append(switched, sc.QuoteIdent(c.Name))
					}
					set = append(set, sc.QuoteIdent(c.Name)+" = "+sc.Literal(im.Before[i], c))
				}
				if len(set) == 0 {
					continue
				}
				for _, c := range switched {
					fmt.Fprintf(w, "ALTER TABLE %s ALTER COLUMN %s SET GENERATED BY DEFAULT;\n", sc.Table(t), c)
				}
				fmt.Fprintf(w, "UPDATE %s SET %s WHERE %s;\n", sc.Table(t), strings.Join(set, ", "), g.current(t, im.After))
				for _, c := range switched {
					fmt.Fprintf(w, "ALTER TABLE %s ALTER COLUMN %s SET GENERATED ALWAYS;\n", sc.Table(t), c)
				}
			case OpInsert:
				fmt.Fprintf(w, "DELETE FROM %s WHERE %s;\n", sc.Table(t), g.current(t, im.After))
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := len(objs) - 1; i >= 0; i-- {
		if o := objs[i]; o.Action == ActionCreate && o.After != nil {
			writeStmts(w, sc.IfPresent(o.Kind, o.Schema, o.Name, o.After.Drop))
		}
	}
	return nil
}

// current matches the row while it still holds the journaled after-image:
// the whole row, narrowed to one physical row for keyless tables and run
// only once.
func (g *scriptGen) current(t TableInfo, after []Value) string {
	cond := rowMatch(g.sc, t, after, true)
	if t.KeyKind != KeyRow {
		return cond
	}
	return g.sc.(RowPicker).OneRow(t, cond) + " AND " + g.once()
}

// insert re-inserts row while no row with its key exists; rows of keyless
// tables are re-inserted once per script run.
func (g *scriptGen) insert(w *bufio.Writer, t TableInfo, row []Value, dup map[string]int) {
	sc := g.sc
	var cols, vals []string
	overriding := ""
	for i, c := range t.Columns {
		if c.Generated {
			continue
		}
		if c.Identity == "always" {
			overriding = "OVERRIDING SYSTEM VALUE "
		}
		cols = append(cols, sc.QuoteIdent(c.Name))
		vals = append(vals, sc.Literal(row[i], c))
	}
	match := rowMatch(sc, t, row, false)
	guard := fmt.Sprintf("NOT EXISTS (SELECT 1 FROM %s WHERE %s)", sc.Table(t), match)
	if t.KeyKind == KeyRow {
		guard = g.once()
	}
	fmt.Fprintf(w, "INSERT INTO %s (%s) %sSELECT %s WHERE %s;\n", sc.Table(t), strings.Join(cols, ", "), overriding, strings.Join(vals, ", "), guard)
}

// rowMatch renders a condition matching the row by its key, or (whole) by
// every column.
func rowMatch(sc Scripter, t TableInfo, row []Value, whole bool) string {
	var conds []string
	if whole {
		for i, c := range t.Columns {
			conds = append(conds, sc.Matches(sc.QuoteIdent(c.Name), row[i], c))
		}
	} else {
		for _, i := range t.Key {
			c := t.Columns[i]
			conds = append(conds, sc.Matches(sc.QuoteIdent(c.Name), row[i], c))
		}
	}
	if len(conds) == 0 {
		return "TRUE"
	}
	return strings.Join(conds, " AND ")
}

func writeStmts(w *bufio.Writer, stmts []string) {
	for _, s := range stmts {
		s = strings.TrimRight(strings.TrimSpace(s), ";")
		fmt.Fprintf(w, "%s;\n", s)
	}
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " ..."
	}
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

func defText(d *Definition) string {
	if d == nil {
		return ""
	}
	if d.Text != "" {
		return d.Text
	}
	return strings.Join(append(append([]string{}, d.Create...), d.PostData...), ";\n")
}

func commentOut(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = "--   " + l
	}
	return strings.Join(lines, "\n")
}
