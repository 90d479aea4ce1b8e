package engine

import (
	"bufio"
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
	fmt.Fprintf(w, "-- Lifebelt undo script\n-- journal:  %s\n-- session:  %s\n-- target:   %s (%s %s)\n-- written:  %s\n",
		j.Path(), h.SessionID, h.Target, h.Dialect, h.ServerVersion, time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "-- Safe to run more than once: each statement checks the current state first.\n")
	for _, s := range skipped {
		fmt.Fprintf(w, "-- NOT UNDONE: %s\n", s)
	}
	fmt.Fprintf(w, "%s\n", sc.BeginScript())
	for _, e := range todo {
		if err := scriptEntry(w, j, sc, e); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "%s\n", sc.CommitScript())
	return w.Flush()
}

func scriptEntry(w *bufio.Writer, j *journal.Journal, sc Scripter, e journal.Entry) error {
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
	restored := map[int64]bool{}
	for _, o := range objs {
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
							scriptInsert(w, sc, t, im.Before, dup)
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
		case ActionAlter:
			fmt.Fprintf(w, "-- NOT UNDONE: ALTER of %s %s; its earlier definition:\n%s\n", o.Kind, qname(o.Schema, o.Name), commentOut(defText(o.Before)))
		}
	}
	dup := map[string]int{}
	err = j.ImageChunks(e.Seq, true, undoBatch, func(imgs []journal.Image) error {
		for _, im := range imgs {
			if restored[im.Table] {
				continue
			}
			t := tables[im.Table]
			switch Op(im.Op) {
			case OpDelete:
				scriptInsert(w, sc, t, im.Before, dup)
			case OpUpdate:
				var set []string
				for i, c := range t.Columns {
					if !c.Generated {
						set = append(set, sc.QuoteIdent(c.Name)+" = "+sc.Literal(im.Before[i], c))
					}
				}
				fmt.Fprintf(w, "UPDATE %s SET %s WHERE %s;\n", sc.Table(t), strings.Join(set, ", "), rowMatch(sc, t, im.After, true))
			case OpInsert:
				fmt.Fprintf(w, "DELETE FROM %s WHERE %s;\n", sc.Table(t), rowMatch(sc, t, im.After, true))
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

// scriptInsert re-inserts row while fewer identical rows (by key, or by
// whole row for keyless tables) exist than the entry removed.
func scriptInsert(w *bufio.Writer, sc Scripter, t TableInfo, row []Value, dup map[string]int) {
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
		k := string(journal.EncodeRow(nil, row))
		dup[k]++
		guard = fmt.Sprintf("(SELECT count(*) FROM %s WHERE %s) < %d", sc.Table(t), match, dup[k])
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
