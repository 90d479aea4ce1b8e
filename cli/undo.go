package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"lifebelt/engine"
	"lifebelt/journal"
)

func runUndo(ctx context.Context, e *env, args []string) error {
	fs := newFlags("undo", e)
	var entries multi
	fs.Var(&entries, "entry", "entry to undo (repeatable; default: the whole session)")
	force := fs.Bool("force", false, "overwrite rows others changed since")
	dry := fs.Bool("dry-run", false, "report what would be undone and change nothing")
	script := fs.String("script", "", "write an idempotent undo script to this file (- for stdout) instead of undoing")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("undo needs exactly one journal FILE")
	}
	seqs, err := parseSeqs(entries)
	if err != nil {
		return err
	}
	path := pos[0]
	if err := verified(path); err != nil {
		return err
	}
	if *script != "" {
		return writeScript(e, path, seqs, *script)
	}
	if *dry && !writable(path) {
		// A dry run writes its journal entry and rolls it back: on a
		// journal kept read-only (attached to a ticket), it runs on a copy.
		dir, err := os.MkdirTemp("", "lifebelt-dry-run-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		cp := filepath.Join(dir, filepath.Base(path))
		if err := journal.CopyFile(path, cp); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "journal %s is read-only: the dry run uses a copy of it\n", path)
		path = cp
	}
	h, err := readHeader(path)
	if err != nil {
		return err
	}
	t, err := engine.ParseTarget(h.Target)
	if err != nil {
		return fmt.Errorf("journal %s names a target Lifebelt cannot use: %v", path, err)
	}
	s, err := openSession(ctx, e, t, engine.Options{JournalPath: path})
	if err != nil {
		return err
	}
	defer s.Close()
	rep, err := s.Undo(ctx, engine.UndoOptions{Entries: seqs, Force: *force, DryRun: *dry})
	var refs *engine.ReferenceError
	if errors.As(err, &refs) {
		for _, d := range refs.Dangling {
			fmt.Fprintf(e.stdout, "  refers to nothing: %s\n", d)
		}
		return fmt.Errorf("undo refused, nothing was changed: it would leave the %d foreign-key value(s) listed above referring to rows that do not exist (--force does not override this); undo the entries that added those rows first, or change them", len(refs.Dangling))
	}
	if err != nil {
		return err
	}
	printUndo(e.stdout, rep)
	if !rep.Complete() {
		return exitError{ExitConflicts, fmt.Sprintf("undo left %s and %s not undone; see above", plural(len(rep.Conflicts), "conflict", "conflicts"), plural(len(rep.Skipped), "change", "changes"))}
	}
	return nil
}

func parseSeqs(in []string) ([]int64, error) {
	var out []int64
	for _, s := range in {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return nil, usagef("--entry %q is not an entry number", s)
		}
		out = append(out, n)
	}
	return out, nil
}

func readHeader(path string) (journal.Header, error) {
	j, err := journal.OpenReadOnly(path)
	if err != nil {
		return journal.Header{}, fmt.Errorf("opening journal %s: %w", path, err)
	}
	defer j.Close()
	return j.Header(), nil
}

func writeScript(e *env, path string, seqs []int64, out string) error {
	j, err := journal.OpenReadOnly(path)
	if err != nil {
		return fmt.Errorf("opening journal %s: %w", path, err)
	}
	defer j.Close()
	drv, err := engine.Lookup(j.Header().Dialect)
	if err != nil {
		return err
	}
	sc, ok := drv.(engine.Scripter)
	if !ok {
		return fmt.Errorf("%s: undo scripts are %v", drv.Name(), engine.ErrCapabilityUnsupported)
	}
	var w io.Writer = e.stdout
	done := func(err error) error { return err }
	if out != "-" {
		if w, done, err = createOutput(out); err != nil {
			return err
		}
	}
	if err := done(engine.WriteUndoScript(j, sc, seqs, w)); err != nil {
		return err
	}
	if out != "-" {
		fmt.Fprintf(e.stdout, "undo script written to %s\n", out)
	}
	return nil
}

func printUndo(w io.Writer, r *engine.UndoReport) {
	verb := "undone"
	if r.DryRun {
		verb = "would be undone (dry run, nothing changed)"
	}
	switch {
	case len(r.Entries) == 0 && r.Complete():
		fmt.Fprintln(w, "nothing to undo: no committed entry with changes Lifebelt can undo")
	case len(r.Entries) == 0:
		fmt.Fprintf(w, "no entry undone")
	default:
		fmt.Fprintf(w, "entries %v %s: %d row(s) written", r.Entries, verb, r.Rows)
	}
	if r.Seq > 0 {
		fmt.Fprintf(w, ", journaled as entry %d", r.Seq)
	}
	if len(r.Entries) > 0 || !r.Complete() {
		fmt.Fprintln(w)
	}
	if len(r.Partial) > 0 {
		state := "partly undone"
		if r.DryRun {
			state = "would be partly undone"
		}
		fmt.Fprintf(w, "%s: entries %v; the conflicts below stay in place; undo again once they are resolved (or with --force to overwrite them)\n", state, r.Partial)
	}
	if r.Forced > 0 {
		were := "were"
		if r.DryRun {
			were = "would be"
		}
		fmt.Fprintf(w, "forced: %d row(s) changed since the entry (by others or by later entries) %s overwritten\n", r.Forced, were)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(w, "not undone: %s\n", s)
	}
	for _, c := range r.Conflicts {
		fmt.Fprintf(w, "conflict: %s\n", c)
		if c.Current != nil {
			fmt.Fprintf(w, "    now:      %s\n", engine.FormatRow(c.Current))
		}
		if c.Expected != nil {
			fmt.Fprintf(w, "    expected: %s\n", engine.FormatRow(c.Expected))
		}
	}
}

// plural spells n with its noun.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// verified checks the journal's hash chain before anything is undone from
// it: an edited or damaged journal could put rows back into the wrong
// table or with the wrong values.
func verified(path string) error {
	if _, err := os.Stat(path); err != nil {
		return nil // the open that follows says what is wrong
	}
	rep, err := journal.Verify(path)
	if err != nil {
		return fmt.Errorf("checking journal %s before undoing from it: %w", path, err)
	}
	if !rep.OK {
		first := ""
		if len(rep.Problems) > 0 {
			first = " (" + strings.TrimSuffix(rep.Problems[0], ".") + ")"
		}
		return fmt.Errorf("journal %s fails verification%s, so nothing is undone from it: an edited or damaged journal could write the wrong rows; run lifebelt journal verify for the details", path, first)
	}
	return nil
}

// writable reports whether the file can be opened for writing.
func writable(path string) bool {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}
