package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"text/tabwriter"
	"time"

	"lifebelt/engine"
	"lifebelt/journal"
)

func runJournal(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usagef("journal needs a subcommand: list, show, verify or export")
	}
	switch args[0] {
	case "list":
		return journalList(e, args[1:])
	case "show":
		return journalShow(e, args[1:])
	case "verify":
		return journalVerify(e, args[1:])
	case "export":
		return journalExport(e, args[1:])
	}
	return usagef("unknown journal subcommand %q", args[0])
}

func journalList(e *env, args []string) error {
	pos, err := parse(newFlags("journal list", e), args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("journal list takes at most one DIR")
	}
	dir := ""
	if len(pos) == 1 {
		dir = pos[0]
	} else if dir, err = journal.DefaultDir(); err != nil {
		return err
	}
	sums, err := journal.List(dir)
	if errors.Is(err, fs.ErrNotExist) && len(pos) == 0 {
		fmt.Fprintf(e.stdout, "no journals yet (%s does not exist)\n", dir)
		return nil
	}
	if err != nil {
		return err
	}
	if len(sums) == 0 {
		fmt.Fprintf(e.stdout, "no journals in %s\n", dir)
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STARTED\tLAST\tENTRIES\tTARGET\tOPERATOR\tREASON\tFILE")
	for _, s := range sums {
		if s.Err != nil {
			fmt.Fprintf(tw, "?\t?\t?\t?\t?\t%s\t%s\n", s.Err, s.Path)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", s.Header.CreatedAt.Local().Format("2006-01-02 15:04"), fmtTime(s.LastAt),
			s.Entries, s.Header.Target, s.Header.Operator, s.Header.Reason, s.Path)
	}
	return tw.Flush()
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

func openRO(path string) (*journal.Journal, error) {
	j, err := journal.OpenReadOnly(path)
	if err != nil {
		return nil, fmt.Errorf("opening journal %s: %w", path, err)
	}
	return j, nil
}

func journalShow(e *env, args []string) error {
	fs := newFlags("journal show", e)
	entry := fs.Int64("entry", 0, "show one entry with its images")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("journal show needs exactly one FILE")
	}
	j, err := openRO(pos[0])
	if err != nil {
		return err
	}
	defer j.Close()
	if *entry > 0 {
		return showEntry(e.stdout, j, *entry)
	}
	h := j.Header()
	fmt.Fprintf(e.stdout, "session %s\n  target:   %s (%s %s)\n  database: %s (id %s)\n  operator: %s on %s\n  started:  %s\n  reason:   %s\n  app:      lifebelt %s\n\n",
		h.SessionID, h.Target, h.Dialect, h.ServerVersion, h.Database, h.DatabaseID, h.Operator, h.Hostname,
		h.CreatedAt.Local().Format(time.RFC3339), h.Reason, h.AppVersion)
	entries, err := j.Entries()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENTRY\tTIME\tKIND\tSTATE\tROWS\tIMAGES\tTOOK\tSTATEMENT")
	for _, en := range entries {
		text := firstLine(en.SQL)
		if en.Kind == "outcome" {
			text = fmt.Sprintf("%s for entries %v", en.Status, en.Refs)
		}
		if en.Error != "" {
			text += "  -- " + firstLine(en.Error)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", en.Seq, en.At.Local().Format("15:04:05"), kindLabel(en), en.State,
			en.Rows, en.ImageCount, en.Duration.Round(time.Millisecond/10), text)
	}
	return tw.Flush()
}

func kindLabel(e journal.Entry) string {
	if e.Kind == "statement" && e.Class != "" {
		return e.Class
	}
	return e.Kind
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " ..."
	}
	if len(s) > 100 {
		s = s[:97] + "..."
	}
	return s
}

func showEntry(w io.Writer, j *journal.Journal, seq int64) error {
	en, err := j.Entry(seq)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "entry %d (%s, batch %d, %s) at %s, %s\n", en.Seq, kindLabel(en), en.Batch, en.State, en.At.Local().Format(time.RFC3339Nano), en.Duration)
	if en.SQL != "" {
		fmt.Fprintf(w, "%s\n", en.SQL)
	}
	if en.Error != "" {
		fmt.Fprintf(w, "error: %s\n", en.Error)
	}
	if len(en.Detail) > 0 {
		b, _ := json.MarshalIndent(en.Detail, "", "  ")
		fmt.Fprintf(w, "detail: %s\n", b)
	}
	objs, err := j.Objects(seq)
	if err != nil {
		return err
	}
	// Images kept under an object (the rows an ALTER rewrote or dropped
	// values of, rows a forced step destroyed) are not rows undo writes.
	kept := map[int64]string{}
	for _, o := range objs {
		if o.Table != 0 && (o.Action == journal.ActionAlter || o.Action == journal.ActionKeep) {
			kept[o.Table] = "kept"
		}
	}
	fills := map[int64][]string{} // table handles whose images an undo fills columns from
	for _, o := range objs {
		if o.Table != 0 && o.After != nil && o.After.Revert != nil {
			fills[o.Table] = o.After.Revert.Fill
		}
		fmt.Fprintf(w, "\n%s %s %s\n", strings.ToUpper(o.Action), o.Kind, qualified(o.Schema, o.Name))
		if o.Before != nil {
			fmt.Fprintf(w, "  definition before:\n%s\n", indent(defText(o.Before)))
		}
		if o.After != nil {
			fmt.Fprintf(w, "  definition after:\n%s\n", indent(defText(o.After)))
		}
		if o.Action == journal.ActionAlter {
			if o.After != nil && o.After.Revert != nil {
				fmt.Fprintf(w, "  undo reverts it, while the table has the definition after, with:\n%s\n", indent(strings.Join(o.After.Revert.Steps(), "\n")))
			} else {
				fmt.Fprintf(w, "  undo does not revert it automatically\n")
			}
		}
	}
	ts, err := j.Tables(seq)
	if err != nil {
		return err
	}
	tables := map[int64]journal.Table{}
	for _, t := range ts {
		tables[t.ID] = t
	}
	const max = 200
	n := 0
	keptSaid := map[int64]bool{}
	err = j.Images(seq, func(im journal.Image) error {
		if n == max {
			fmt.Fprintf(w, "... %d more image(s); use journal export --format json for all\n", en.ImageCount-max)
			return errDone
		}
		n++
		t := tables[im.Table]
		if kept[im.Table] != "" {
			if !keptSaid[im.Table] {
				keptSaid[im.Table] = true
				if fill := fills[im.Table]; len(fill) > 0 {
					fmt.Fprintf(w, "(rows of %s as they were before the change, kept for reference: undo puts back their values of column(s) %s, matched by key)\n", t.QualifiedName(), strings.Join(fill, ", "))
				} else {
					fmt.Fprintf(w, "(rows of %s as they were before the change, kept for reference: undo does not write them back)\n", t.QualifiedName())
				}
			}
			fmt.Fprintf(w, "K %s key %s\n", t.QualifiedName(), engine.FormatRow(im.Key))
		} else {
			fmt.Fprintf(w, "%c %s key %s\n", im.Op, t.QualifiedName(), engine.FormatRow(im.Key))
		}
		for i, c := range t.Columns {
			var b, a string
			if im.Before != nil {
				b = im.Before[i].String()
			}
			if im.After != nil {
				a = im.After[i].String()
			}
			switch {
			case im.Before != nil && im.After != nil && im.Before[i].Equal(im.After[i]):
				continue
			case im.Before != nil && im.After != nil:
				fmt.Fprintf(w, "    %s: %s -> %s\n", c.Name, b, a)
			case im.Before != nil:
				fmt.Fprintf(w, "    %s: %s\n", c.Name, b)
			default:
				fmt.Fprintf(w, "    %s: %s\n", c.Name, a)
			}
		}
		return nil
	})
	if err != nil && err != errDone {
		return err
	}
	return nil
}

var errDone = fmt.Errorf("done")

func qualified(schema, name string) string { return engine.Name{Schema: schema, Name: name}.String() }

func defText(d *journal.Definition) string {
	if d.Text != "" {
		return d.Text
	}
	return strings.Join(append(append([]string{}, d.Create...), d.PostData...), ";\n")
}

func indent(s string) string { return "    " + strings.ReplaceAll(s, "\n", "\n    ") }

func journalVerify(e *env, args []string) error {
	pos, err := parse(newFlags("journal verify", e), args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("journal verify needs exactly one FILE")
	}
	rep, err := journal.Verify(pos[0])
	if err != nil {
		return err
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(e.stdout, "problem: %s\n", p)
	}
	if !rep.OK {
		return exitError{ExitFailed, fmt.Sprintf("journal %s FAILED verification: %d problem(s)", pos[0], len(rep.Problems))}
	}
	fmt.Fprintf(e.stdout, "journal %s verified: %d entries, %d images, hash chain intact\n", pos[0], rep.Entries, rep.Images)
	return nil
}

func journalExport(e *env, args []string) error {
	fs := newFlags("journal export", e)
	format := fs.String("format", "", "sql (undo script) or json")
	out := fs.String("o", "-", "output file")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("journal export needs exactly one FILE")
	}
	switch *format {
	case "sql":
		if err := verified(pos[0]); err != nil {
			return err
		}
		return writeScript(e, pos[0], nil, *out)
	case "json":
	default:
		return usagef("journal export needs --format sql or --format json")
	}
	j, err := openRO(pos[0])
	if err != nil {
		return err
	}
	defer j.Close()
	var w io.Writer = e.stdout
	done := func(err error) error { return err }
	if *out != "-" {
		if w, done, err = createOutput(*out); err != nil {
			return err
		}
	}
	return done(exportJSON(w, j))
}
