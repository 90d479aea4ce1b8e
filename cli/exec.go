package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"lifebelt/engine"
)

func runExec(ctx context.Context, e *env, args []string) error {
	fs := newFlags("exec", e)
	target := fs.String("target", "", "target URL")
	jpath := fs.String("journal", "", "journal file (an existing one continues its session)")
	reason := fs.String("reason", "", "reason or ticket for the change")
	confirm := fs.String("confirm", "", "database name confirming destructive statements")
	maxRows := fs.Int64("max-rows", 0, "roll back when the batch changes more rows")
	unguarded := fs.Bool("allow-unguarded", false, "run statements that cannot be guarded")
	sqlText := fs.String("c", "", "SQL text")
	file := fs.String("f", "", "SQL file (- for standard input)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("exec takes no positional arguments (got %q); put SQL in -c or -f", pos[0])
	}
	if *target == "" {
		return usagef("exec needs --target URL")
	}
	if (*sqlText == "") == (*file == "") {
		return usagef("exec needs exactly one of -c SQL or -f FILE")
	}
	if *maxRows < 0 {
		return usagef("--max-rows must be positive")
	}
	text := *sqlText
	if *file != "" {
		var b []byte
		if *file == "-" {
			b, err = io.ReadAll(e.stdin)
		} else {
			b, err = os.ReadFile(*file)
		}
		if err != nil {
			return fmt.Errorf("reading SQL: %v", err)
		}
		text = string(b)
	}
	t, err := engine.ParseTarget(*target)
	if err != nil {
		return usagef("%v", err)
	}
	if *jpath != "" {
		if _, err := os.Stat(*jpath); err == nil && !writable(*jpath) {
			return fmt.Errorf("journal %s cannot be written (read-only), and a session must write every change to it first; name another --journal or none", *jpath)
		}
	}
	s, err := openSession(ctx, e, t, engine.Options{JournalPath: *jpath, Reason: *reason})
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(e.stdout, "journal: %s\n", s.JournalPath())
	p, err := s.Execute(ctx, text, engine.ExecuteOptions{Confirm: *confirm, AllowUnguarded: *unguarded, MaxRows: *maxRows})
	if err != nil {
		if errors.Is(err, engine.ErrTooManyRows) {
			return exitError{ExitFailed, err.Error()}
		}
		return err
	}
	printResults(e.stdout, p)
	if err := p.Commit(ctx); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "committed: batch %d, %d statement(s), %d row(s) changed\n", p.Batch, len(p.Statements), p.RowsChanged())
	return nil
}

func printResults(w io.Writer, p *engine.Pending) {
	for _, r := range p.Statements {
		st := r.Statement
		what := st.Verb
		if st.Object != "" {
			what += " " + st.Object
		}
		if len(st.Targets) > 0 {
			var names []string
			for _, n := range st.Targets {
				names = append(names, n.String())
			}
			what += " " + strings.Join(names, ", ")
		}
		switch {
		case st.Kind == engine.KindRead:
			fmt.Fprintf(w, "[%d] entry %d: %s: %d row(s) read\n", st.Index+1, r.Seq, what, len(r.Rows))
			printRows(w, r.Columns, r.Rows, r.Truncated)
		default:
			tag := ""
			if r.Unguarded {
				tag = " UNGUARDED (not undoable)"
			}
			fmt.Fprintf(w, "[%d] entry %d: %s: %d row(s), %d image(s), %s%s\n", st.Index+1, r.Seq, what, r.RowsAffected, r.Images, r.Duration.Round(10000), tag)
		}
		for _, wmsg := range r.Warnings {
			fmt.Fprintf(w, "    warning: %s\n", wmsg)
		}
	}
	for _, t := range p.Impact {
		fmt.Fprintf(w, "    %s: %d inserted, %d updated, %d deleted", t.Table, t.Inserted, t.Updated, t.Deleted)
		if t.Rewritten > 0 {
			fmt.Fprintf(w, ", %d rewritten by ALTER (imaged)", t.Rewritten)
		}
		fmt.Fprintln(w)
	}
}

func printRows(w io.Writer, cols []string, rows [][]engine.Value, truncated bool) {
	const max = 20
	if len(cols) == 0 {
		return
	}
	fmt.Fprintf(w, "    %s\n", strings.Join(cols, " | "))
	for i, r := range rows {
		if i == max {
			fmt.Fprintf(w, "    ... %d more row(s)\n", len(rows)-max)
			return
		}
		vals := make([]string, len(r))
		for j, v := range r {
			vals[j] = v.String()
		}
		fmt.Fprintf(w, "    %s\n", strings.Join(vals, " | "))
	}
	if truncated {
		fmt.Fprintf(w, "    ... (more rows not fetched)\n")
	}
}
