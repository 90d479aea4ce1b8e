package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"lifebelt/journal"
)

// UndoOptions choose what to undo.
type UndoOptions struct {
	// Entries to undo (statement or undo entries); empty means every
	// committed entry of the session that is not undone yet.
	Entries []int64
	// Force overwrites conflicting rows with their before-images.
	Force bool
	// DryRun does everything, reports, and rolls back.
	DryRun bool
}

// Conflict is a row changed by someone else since the entry being undone.
type Conflict struct {
	Entry    int64
	Table    string
	Key      []Value
	Reason   string
	Current  []Value // nil when the row is gone
	Expected []Value // what the journal says the row should be now
}

// UndoReport says what an undo did (or would do, on a dry run).
type UndoReport struct {
	Entries []int64 // entries undone, newest first
	// Partial are the entries of Entries undone only in part: some of
	// their rows or changes were left as conflicts. They stay undoable.
	Partial   []int64
	Skipped   []string
	Rows      int64 // rows written
	Conflicts []Conflict
	Forced    int // conflicting rows overwritten because of Force
	Notes     []string
	Seq       int64 // the undo's own journal entry (0 on a dry run)
	DryRun    bool
}

// Complete reports whether nothing was left behind.
func (r *UndoReport) Complete() bool { return len(r.Conflicts) == 0 && len(r.Skipped) == 0 }

// RowCounter is an optional Applier capability: counting a table's rows
// lets undo refuse to drop a created table that others have filled.
type RowCounter interface {
	CountRows(ctx context.Context, schema, name string) (int64, error)
}

// Reverter is an optional Applier capability for undoing ALTER TABLE
// (definitions that carry a Revert), and for imaging a table's rows
// before a forced undo destroys them.
type Reverter interface {
	// TableDefinition returns the table's current definition, nil when
	// there is no such table. PostgreSQL locks the table first (ACCESS
	// EXCLUSIVE, as the ALTER that may follow will).
	TableDefinition(ctx context.Context, schema, name string) (*Definition, error)
	// SameDefinition compares two definitions of a table, sequence
	// positions aside.
	SameDefinition(a, b *Definition) bool
	// Count runs a query of a RevertCheck, which returns one count.
	Count(ctx context.Context, query string) (int64, error)
	// TryDDL runs statements inside a savepoint. When one fails, or
	// verify (when not nil) reports a problem after them, the savepoint
	// is rolled back and the failure returned as failed; err means the
	// transaction is no longer usable.
	TryDDL(ctx context.Context, stmts []string, verify func(context.Context) (problem, err error)) (failed, err error)
	// ImageTable images every row of the table (with its children's)
	// into sink as deleted rows and returns their table handle.
	ImageTable(ctx context.Context, schema, name string, sink Sink) (int64, error)
	// Children counts the tables that inherit from the table or are its
	// partitions: dropping it would take them along.
	Children(ctx context.Context, schema, name string) (int64, error)
	// ObjectDefinition is the current definition of an object of a kind
	// a Definition is recorded for (TABLE as TableDefinition), nil when
	// there is none or the dialect cannot look it up by name.
	ObjectDefinition(ctx context.Context, kind, schema, name string) (*Definition, error)
}

// OrderBlind is an optional Reverter capability: SameDefinitionAnyOrder
// compares two definitions of a table as SameDefinition does, except for
// the order of its columns (and of what is listed in that order). Reverts
// that add dropped columns back (Revert.Fill) compare with it: each puts
// its columns last, so undoing two DROP COLUMNs of one table leaves the
// columns of the first in another order than the second recorded.
type OrderBlind interface {
	SameDefinitionAnyOrder(a, b *Definition) bool
}

// RowSecurityOffer is an optional Applier capability: RowSecurityOff
// makes row-level security fail queries it would filter, until restore,
// so that a Revert's fill neither misses nor silently skips hidden rows.
type RowSecurityOffer interface {
	RowSecurityOff(ctx context.Context) (restore func() error, err error)
}

// CheckFailed is a RevertCheck query the data made fail (a value a cast
// refuses): the change is a conflict, not a failed undo.
type CheckFailed struct{ Err error }

func (e *CheckFailed) Error() string { return "the check failed: " + e.Err.Error() }
func (e *CheckFailed) Unwrap() error { return e.Err }

// undoBatch is how many images undo applies at a time (fewer round trips
// per row), undoBatchBytes how many bytes of row values at most.
const (
	undoBatch      = 10000
	undoBatchBytes = 32 << 20
)

// Undo reverts journaled entries, newest first, in one transaction. Rows
// changed by anyone since are conflicts: listed, and left alone unless
// Force. The undo is journaled with its own images, so it can be undone.
func (s *Session) Undo(ctx context.Context, opt UndoOptions) (*UndoReport, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending != nil {
		return nil, ErrBusy
	}
	rep := &UndoReport{DryRun: opt.DryRun}
	todo, skipped, err := selectUndo(s.j, opt.Entries)
	rep.Skipped = append(rep.Skipped, skipped...)
	if err != nil {
		return nil, err
	}
	if len(todo) == 0 {
		return rep, nil
	}
	var tx Tx
	if ub, ok := s.conn.(UndoBeginner); ok {
		tx, err = ub.BeginUndo(ctx)
	} else {
		tx, err = s.conn.Begin(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("undo: starting the transaction: %w", err)
	}
	ap, ok := tx.(Applier)
	if !ok {
		tx.Rollback(ctx)
		return nil, fmt.Errorf("undo: %s %w", s.id.Dialect, ErrCapabilityUnsupported)
	}
	w, err := s.j.Begin()
	if err != nil {
		tx.Rollback(ctx)
		return nil, fmt.Errorf("undo: journal: %w", err)
	}
	var u *undoer
	fail := func(err error) (*UndoReport, error) {
		if u != nil {
			u.sink.close()
		}
		w.Rollback()
		tx.Rollback(ctx)
		return nil, fmt.Errorf("undo failed, nothing was changed: %w", err)
	}
	notes, err := ap.PrepareUndo(ctx)
	if err != nil {
		return fail(err)
	}
	rep.Notes = append(rep.Notes, notes...)
	seq := w.NextSeq()
	u = &undoer{s: s, ap: ap, opt: opt, rep: rep, sink: &journalSink{w: w, seq: seq, impact: newImpact()}, mapped: map[int64]int64{},
		fks: map[string][]fkUse{}, refs: map[string]*fkRefs{}, fkSeen: map[string]bool{}, written: map[string]syncedTable{}, ddl: map[string]bool{}}
	start := time.Now()
	u.todo, u.blocked = map[int64]bool{}, map[string]int64{}
	u.retry, u.doneTables = map[int64][]int64{}, map[int64]bool{}
	u.refilled = map[string]bool{}
	for _, e := range todo {
		u.todo[e.Seq] = true
	}
	for _, e := range todo {
		rows, ddl, conflicts, skips := u.rep.Rows, u.ddlRuns, len(u.rep.Conflicts), len(u.rep.Skipped)
		if err := u.entry(ctx, e); err != nil {
			return fail(fmt.Errorf("entry %d: %w", e.Seq, err))
		}
		if (len(u.rep.Conflicts) > conflicts || len(u.rep.Skipped) > skips) && u.rep.Rows == rows && u.ddlRuns == ddl {
			// Conflicts (or a change undo cannot revert) left all of it
			// in place: it stays committed, to be undone once they are
			// resolved, and its changes keep counting as in place.
			continue
		}
		if len(u.rep.Conflicts) > conflicts || len(u.rep.Skipped) > skips {
			rep.Partial = append(rep.Partial, e.Seq)
		}
		rep.Entries = append(rep.Entries, e.Seq)
	}
	for _, st := range u.synced {
		t := u.renamedTable(st.t, st.epoch)
		if ok, err := ap.ObjectExists(ctx, "TABLE", t.Schema, t.Name); err != nil {
			return fail(err)
		} else if !ok {
			continue // dropped again by the undo (an entry created it)
		}
		if err := ap.SyncSequences(ctx, t); err != nil {
			return fail(fmt.Errorf("moving sequences of %s: %w", t.QualifiedName(), err))
		}
	}
	if err := u.checkReferences(ctx); err != nil {
		return fail(err)
	}
	if f, ok := ap.(UndoFinisher); ok {
		if err := f.FinishUndo(ctx); err != nil {
			return fail(err)
		}
	}
	if err := u.sink.close(); err != nil {
		return fail(err)
	}
	if opt.DryRun {
		w.Rollback()
		tx.Rollback(ctx)
		return rep, nil
	}
	s.batch++
	detail := map[string]any{"conflicts": len(rep.Conflicts), "force": opt.Force}
	if len(rep.Notes) > 0 {
		detail["notes"] = rep.Notes
	}
	if len(rep.Skipped) > 0 {
		detail["skipped"] = rep.Skipped
	}
	if len(rep.Conflicts) > 0 {
		detail["conflict_list"] = conflictSummaries(rep.Conflicts, 100)
	}
	if len(rep.Partial) > 0 {
		detail["partial"] = rep.Partial
	}
	if len(u.retry) > 0 {
		// The entries it finished after earlier undos began them: each
		// counts as undone while those are in place too.
		retry := map[string][]int64{}
		for seq, by := range u.retry {
			retry[strconv.FormatInt(seq, 10)] = by
		}
		detail["retry"] = retry
	}
	if t, ok := tx.(TxIDer); ok {
		if id, err := t.TxID(ctx); err == nil {
			detail["txid"] = id
		}
	}
	e, err := w.Append(journal.Entry{Seq: seq, Kind: "undo", Batch: s.batch, SQL: fmt.Sprintf("undo of entries %v", rep.Entries),
		Class: "undo", Status: "pending", Rows: rep.Rows, Duration: time.Since(start), Refs: rep.Entries, Detail: detail})
	if err != nil {
		return fail(fmt.Errorf("journal: %w", err))
	}
	if err := w.Commit(); err != nil {
		tx.Rollback(ctx)
		return nil, fmt.Errorf("undo failed, nothing was changed: journal: %w", err)
	}
	rep.Seq = e.Seq
	if err := tx.Commit(ctx); err != nil {
		// A COMMIT that failed may leave the transaction open (SQLite
		// busy): end it, so that it holds no lock and whatever it
		// changed on the connection is put back.
		tx.Rollback(ctx)
		s.appendOutcome(s.batch, []int64{e.Seq}, "failed", err.Error(), nil)
		return nil, fmt.Errorf("undo failed at commit, nothing was changed: %w", err)
	}
	if err := s.appendOutcome(s.batch, []int64{e.Seq}, "committed", "", nil); err != nil {
		return rep, fmt.Errorf("the undo committed, but its outcome could not be journaled (%v); reopening the session resolves it", err)
	}
	return rep, nil
}

func conflictSummaries(cs []Conflict, max int) []string {
	var out []string
	for i, c := range cs {
		if i == max {
			out = append(out, fmt.Sprintf("... and %d more", len(cs)-max))
			break
		}
		out = append(out, c.String())
	}
	return out
}

func (c Conflict) String() string {
	if c.Key == nil { // about the table, not a row
		return fmt.Sprintf("entry %d, %s: %s", c.Entry, c.Table, c.Reason)
	}
	return fmt.Sprintf("entry %d, %s key %s: %s", c.Entry, c.Table, FormatRow(c.Key), c.Reason)
}

// FormatRow renders a row for people: text quoted, NULL bare.
func FormatRow(vs []Value) string {
	s := "("
	for i, v := range vs {
		if i > 0 {
			s += ", "
		}
		if v.K == TextKind {
			s += fmt.Sprintf("%q", v.S)
		} else {
			s += v.String()
		}
	}
	return s + ")"
}

// HasUndoable reports whether undoing the whole session would take
// something back: a committed (or partly undone) statement with row
// images or object definitions.
func (s *Session) HasUndoable() (bool, error) {
	todo, _, err := selectUndo(s.j, nil)
	return len(todo) > 0, err
}

// selectUndo picks the entries to undo, newest first: the given ones, or
// every committed statement not undone yet.
func selectUndo(j *journal.Journal, want []int64) (todo []journal.Entry, skipped []string, err error) {
	entries, err := j.Entries()
	if err != nil {
		return nil, nil, fmt.Errorf("reading the journal: %w", err)
	}
	bySeq := map[int64]journal.Entry{}
	for _, e := range entries {
		bySeq[e.Seq] = e
	}
	if len(want) == 0 {
		for _, e := range entries {
			if e.Kind != "statement" {
				continue
			}
			switch e.State {
			case journal.StatusCommitted, journal.StatePartlyUndone:
				if e.ImageCount > 0 || hasObjects(j, e.Seq) {
					todo = append(todo, e)
				}
			case "unguarded":
				skipped = append(skipped, fmt.Sprintf("entry %d ran unguarded and cannot be undone from the journal", e.Seq))
			}
		}
	} else {
		seen := map[int64]bool{}
		for _, seq := range want {
			e, ok := bySeq[seq]
			if !ok {
				return nil, nil, fmt.Errorf("the journal has no entry %d", seq)
			}
			if seen[seq] {
				continue
			}
			seen[seq] = true
			if e.Kind != "statement" && e.Kind != "undo" {
				return nil, nil, fmt.Errorf("entry %d is %s %s record, not a change; only statements and undos can be undone", seq, article(e.Kind), e.Kind)
			}
			if !journal.InPlace(e.State) {
				return nil, nil, fmt.Errorf("entry %d is %s; only committed entries (or partly undone ones) can be undone", seq, e.State)
			}
			todo = append(todo, e)
		}
	}
	sort.Slice(todo, func(a, b int) bool { return todo[a].Seq > todo[b].Seq })
	return todo, skipped, nil
}

func hasObjects(j *journal.Journal, seq int64) bool {
	objs, err := j.Objects(seq)
	return err == nil && len(objs) > 0
}

var errStop = errors.New("stop")

// article is "an" before a vowel, "a" otherwise.
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}
