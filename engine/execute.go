package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"lifebelt/journal"
)

// ExecuteOptions tune one batch.
type ExecuteOptions struct {
	// Confirm must name the target database (see Session.ConfirmName)
	// when the batch holds a destructive statement.
	Confirm string
	// AllowUnguarded runs statements Lifebelt cannot guard, journaled as
	// unguarded; they cannot be undone from the journal.
	AllowUnguarded bool
	// MaxRows, when positive, rolls the batch back if it changes more rows.
	MaxRows int64
	// MaxResultRows caps the rows kept per read (0: 1000).
	MaxResultRows int
}

// StatementResult is what one statement of a batch did.
type StatementResult struct {
	Statement Statement
	Seq       int64 // journal entry
	Result
	Images   int64
	Warnings []string
	Duration time.Duration
}

// TableImpact counts the rows a batch changed in one table.
type TableImpact struct {
	Table                      string
	Inserted, Updated, Deleted int64
	// Rewritten counts rows whose values ALTER TABLE dropped or changed
	// (DROP COLUMN, ALTER COLUMN TYPE), imaged before.
	Rewritten int64
}

// Pending is an executed batch whose transaction is still open: its images
// are durable in the journal; Commit or Rollback finishes it.
type Pending struct {
	s          *Session
	tx         Tx
	Batch      int64
	Statements []StatementResult
	Impact     []TableImpact
	done       bool
	// autocommitted: the statement could not run in a transaction and
	// has committed already; Commit is a no-op, Rollback an error.
	autocommitted bool
}

// RowsChanged is the number of rows the batch changed, cascades included.
func (p *Pending) RowsChanged() int64 {
	var n int64
	for _, t := range p.Impact {
		n += t.Inserted + t.Updated + t.Deleted + t.Rewritten
	}
	return n
}

// Seqs lists the journal entries of the batch.
func (p *Pending) Seqs() []int64 {
	seqs := make([]int64, len(p.Statements))
	for i, r := range p.Statements {
		seqs[i] = r.Seq
	}
	return seqs
}

// BatchError reports a batch that failed; nothing was changed.
type BatchError struct {
	Index     int // statement that failed, -1 when the failure was not a statement's
	Statement string
	Err       error
}

func (e *BatchError) Error() string {
	if e.Index < 0 {
		return fmt.Sprintf("%v; nothing was changed", e.Err)
	}
	return fmt.Sprintf("statement %d failed: %v; nothing was changed", e.Index+1, e.Err)
}

func (e *BatchError) Unwrap() error { return e.Err }

// ConfirmationError reports a destructive statement run without the
// confirmation naming the target database.
type ConfirmationError struct {
	Statement Statement
	What      string // e.g. "DROP", "DELETE without WHERE"
	Database  string // the name that confirms
	// Destroys says what the statement would destroy, one fact each
	// (kind and name, rows, what depends on it), where the dialect can
	// tell (DestructionDescriber); empty otherwise.
	Destroys []string
}

func (e *ConfirmationError) Error() string {
	msg := fmt.Sprintf("statement %d (%s on %s) is destructive", e.Statement.Index+1, e.What, targetsOf(e.Statement))
	if len(e.Destroys) > 0 {
		msg += " (" + strings.Join(e.Destroys, "; ") + ")"
	}
	return msg + fmt.Sprintf("; confirm by naming the database %q", e.Database)
}

// DestructionDescriber is an optional Conn capability: DescribeDestruction
// says, before anything runs, what a destructive statement would destroy:
// for each object it drops, empties or takes a column of, its kind and
// qualified name, how many rows it holds, and what depends on it (views,
// foreign keys of other tables), one fact per string.
type DestructionDescriber interface {
	DescribeDestruction(ctx context.Context, st Statement) ([]string, error)
}

// ErrTooManyRows is wrapped by the error Execute returns when MaxRows is exceeded.
var ErrTooManyRows = errors.New("the batch changes more rows than allowed")

// Execute splits and runs a batch in one transaction, journaling images
// before anything can commit. On success the transaction is still open:
// call Commit or Rollback on the returned Pending. On failure nothing was
// changed and the failure is journaled.
func (s *Session) Execute(ctx context.Context, sql string, opt ExecuteOptions) (*Pending, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending != nil {
		return nil, ErrBusy
	}
	stmts, err := s.conn.Split(sql)
	if err != nil {
		return nil, err
	}
	if len(stmts) == 0 {
		return nil, errors.New("there is no statement to run")
	}
	if err := s.check(stmts, opt); err != nil {
		var ce *ConfirmationError
		if dd, ok := s.conn.(DestructionDescriber); ok && errors.As(err, &ce) {
			// Every destructive statement of the batch, since the one
			// confirmation lets them all run. Best effort: a failure to
			// describe leaves the sentence as it is, and the batch
			// refused all the same.
			for _, st := range stmts {
				if !st.Destructive() {
					continue
				}
				facts, _ := dd.DescribeDestruction(ctx, st)
				for _, f := range facts {
					if st.Index != ce.Statement.Index {
						f = fmt.Sprintf("statement %d: %s", st.Index+1, f)
					}
					ce.Destroys = append(ce.Destroys, f)
				}
			}
		}
		s.journalRefusal(stmts, err)
		return nil, err
	}
	if ac, ok := s.conn.(Autocommitter); ok {
		for _, st := range stmts {
			if !ac.NeedsAutocommit(st) {
				continue
			}
			var err error
			switch {
			case !opt.AllowUnguarded:
				err = &UnguardedError{Statement: st.Text, Reason: head(st) + " cannot run inside a transaction"}
			case len(stmts) > 1:
				err = fmt.Errorf("statement %d (%s) cannot run inside a transaction, so it must be alone in its batch", st.Index+1, head(st))
			}
			if err != nil {
				s.journalRefusal(stmts, err)
				return nil, err
			}
			s.batch++
			return s.runAutocommit(ctx, ac, st)
		}
	}
	s.batch++
	p, err := s.run(ctx, stmts, opt)
	if err != nil {
		return nil, err
	}
	if opt.MaxRows > 0 && p.RowsChanged() > opt.MaxRows {
		reason := fmt.Errorf("%w: %d rows changed, the limit is %d; rolled back", ErrTooManyRows, p.RowsChanged(), opt.MaxRows)
		p.finish(ctx, false, reason.Error())
		return nil, reason
	}
	s.pending = p
	return p, nil
}

// check refuses batches before anything runs.
func (s *Session) check(stmts []Statement, opt ExecuteOptions) error {
	for _, st := range stmts {
		if st.Kind == KindTxControl {
			return fmt.Errorf("statement %d (%s) controls the transaction; Lifebelt runs each batch as one transaction, so remove BEGIN/COMMIT/ROLLBACK/SAVEPOINT from the text", st.Index+1, st.Verb)
		}
	}
	for _, st := range stmts {
		if st.Destructive() && !s.confirmed(opt.Confirm) {
			what := st.Verb
			if (st.Verb == "DROP" || st.Verb == "TRUNCATE") && st.Object != "" {
				what += " " + st.Object
			}
			if (st.Verb == "UPDATE" || st.Verb == "DELETE") && !st.HasWhere {
				what += " without WHERE"
			}
			if st.DropsColumn {
				what = "ALTER TABLE … DROP COLUMN"
			}
			return &ConfirmationError{Statement: st, What: what, Database: s.ConfirmName()}
		}
	}
	return nil
}

func targetsOf(st Statement) string {
	if len(st.Targets) == 0 {
		return "?"
	}
	out := ""
	for i, t := range st.Targets {
		if i > 0 {
			out += ", "
		}
		out += t.String()
	}
	return out
}

// run executes the statements and makes their images durable.
func (s *Session) run(ctx context.Context, stmts []Statement, opt ExecuteOptions) (*Pending, error) {
	tx, err := s.conn.Begin(ctx)
	if err != nil {
		return nil, s.failBatch(stmts, -1, fmt.Errorf("starting the transaction: %w", err))
	}
	w, err := s.j.Begin()
	if err != nil {
		tx.Rollback(ctx)
		return nil, &BatchError{Index: -1, Err: fmt.Errorf("journal: %w", err)}
	}
	abort := func(idx int, cause error) error {
		w.Rollback()
		tx.Rollback(ctx)
		return s.failBatch(stmts, idx, cause)
	}
	// The transaction id lets a reopened session settle an interrupted
	// batch. It is asked for after the first statement, when a change has
	// assigned it and the dialect may already know it without a query.
	var txid string
	txider, hasTxID := tx.(TxIDer)
	p := &Pending{s: s, tx: tx, Batch: s.batch}
	impact := newImpact()
	settler, settles := tx.(Settler)
	for i, st := range stmts {
		seq := w.NextSeq()
		sink := &journalSink{w: w, seq: seq, impact: impact}
		start := time.Now()
		res, err := tx.Exec(ctx, st, sink, ExecOptions{AllowUnguarded: opt.AllowUnguarded, MaxResultRows: opt.MaxResultRows})
		if err == nil && settles && i == len(stmts)-1 {
			err = settler.Settle(ctx, sink)
		}
		if serr := sink.close(); err == nil {
			err = serr
		}
		if err != nil {
			return nil, abort(st.Index, err)
		}
		dur := time.Since(start)
		if hasTxID && txid == "" {
			if txid, err = txider.TxID(ctx); err != nil {
				return nil, abort(st.Index, fmt.Errorf("reading the transaction id: %w", err))
			}
		}
		detail := map[string]any{}
		if len(sink.warnings) > 0 {
			detail["warnings"] = sink.warnings
		}
		if res.Unguarded {
			detail["unguarded"] = true
		}
		if txid != "" {
			detail["txid"] = txid
		}
		e, err := w.Append(journal.Entry{
			Seq: seq, Kind: "statement", Batch: s.batch, Index: st.Index,
			SQL: st.Text, Class: classOf(st), Status: "pending",
			Rows: res.RowsAffected, Duration: dur, Detail: detail,
		})
		if err != nil {
			return nil, abort(st.Index, fmt.Errorf("journal: %w", err))
		}
		p.Statements = append(p.Statements, StatementResult{
			Statement: st, Seq: e.Seq, Result: res, Images: e.ImageCount,
			Warnings: sink.warnings, Duration: dur,
		})
	}
	// No journal, no change: the images are on disk before COMMIT can run.
	if err := w.Commit(); err != nil {
		tx.Rollback(ctx)
		return nil, s.failBatch(stmts, -1, fmt.Errorf("journal: making images durable: %w", err))
	}
	p.Impact = impact.list()
	return p, nil
}

// runAutocommit runs a statement that cannot run in a transaction. It is
// journaled (durably, as unguarded) before it runs; it commits by itself,
// so the Pending it returns is already finished.
func (s *Session) runAutocommit(ctx context.Context, ac Autocommitter, st Statement) (*Pending, error) {
	w, err := s.j.Begin()
	if err != nil {
		return nil, &BatchError{Index: -1, Err: fmt.Errorf("journal: %w", err)}
	}
	e, err := w.Append(journal.Entry{Kind: "statement", Batch: s.batch, Index: st.Index, SQL: st.Text, Class: classOf(st),
		Status: "pending", Detail: map[string]any{"unguarded": true, "autocommit": true}})
	if err == nil {
		err = w.Commit()
	} else {
		w.Rollback()
	}
	if err != nil {
		return nil, &BatchError{Index: -1, Err: fmt.Errorf("journal: %w", err)}
	}
	start := time.Now()
	res, err := ac.ExecAutocommit(ctx, st)
	if err != nil {
		s.appendOutcome(s.batch, []int64{e.Seq}, "failed", err.Error(), nil)
		return nil, &BatchError{Index: st.Index, Statement: st.Text, Err: err}
	}
	res.Unguarded = true
	if err := s.appendOutcome(s.batch, []int64{e.Seq}, "committed", "", nil); err != nil {
		return nil, fmt.Errorf("the statement ran, but its outcome could not be journaled: %v", err)
	}
	return &Pending{s: s, Batch: s.batch, done: true, autocommitted: true, Statements: []StatementResult{{
		Statement: st, Seq: e.Seq, Result: res, Duration: time.Since(start),
		Warnings: []string{st.Verb + " cannot run inside a transaction: it ran on its own and committed at once"},
	}}}, nil
}

// failBatch journals a failed batch (nothing changed) and returns its error.
func (s *Session) failBatch(stmts []Statement, idx int, cause error) error {
	be := &BatchError{Index: idx, Err: cause}
	if idx >= 0 && idx < len(stmts) {
		be.Statement = stmts[idx].Text
	}
	if jerr := s.appendFinal(stmts, idx, "failed", cause.Error()); jerr != nil {
		be.Err = fmt.Errorf("%v (and the failure could not be journaled: %v)", cause, jerr)
	}
	return be
}

// journalRefusal records a batch refused before it ran.
func (s *Session) journalRefusal(stmts []Statement, cause error) {
	s.batch++
	s.appendFinal(stmts, -1, "refused", cause.Error())
}

// appendFinal writes entries for statements that will never commit.
func (s *Session) appendFinal(stmts []Statement, failed int, status, msg string) error {
	w, err := s.j.Begin()
	if err != nil {
		return err
	}
	for _, st := range stmts {
		e := journal.Entry{Kind: "statement", Batch: s.batch, Index: st.Index, SQL: st.Text, Class: classOf(st), Status: status}
		switch {
		case failed < 0 || st.Index == failed:
			e.Error = msg
		case st.Index < failed:
			e.Status = "rolled back"
		default:
			e.Status = "not run"
		}
		if _, err := w.Append(e); err != nil {
			w.Rollback()
			return err
		}
	}
	return w.Commit()
}

// Commit commits the batch and journals the outcome.
func (p *Pending) Commit(ctx context.Context) error {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	return p.finish(ctx, true, "")
}

// Rollback rolls the batch back and journals the outcome.
func (p *Pending) Rollback(ctx context.Context) error {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	return p.finish(ctx, false, "")
}

func (p *Pending) finish(ctx context.Context, commit bool, reason string) error {
	if p.autocommitted {
		if commit {
			return nil
		}
		return errors.New("this statement could not run inside a transaction and has committed already; nothing can be rolled back")
	}
	if p.done {
		return errors.New("this batch is already finished")
	}
	p.done = true
	p.s.pending = nil
	status, msg := "rolled back", reason
	var err error
	if commit {
		if err = p.tx.Commit(ctx); err != nil {
			status, msg = "failed", err.Error()
			err = &BatchError{Index: -1, Err: fmt.Errorf("commit failed: %w", err)}
		} else {
			status = "committed"
		}
	} else if rerr := p.tx.Rollback(ctx); rerr != nil {
		msg = joinErrs([]string{msg, "rollback: " + rerr.Error()})
	}
	if jerr := p.s.appendOutcome(p.Batch, p.Seqs(), status, msg, nil); jerr != nil && err == nil {
		if commit {
			return fmt.Errorf("the batch committed, but its outcome could not be journaled (%v); the journal will resolve it when the session is reopened", jerr)
		}
		err = fmt.Errorf("journal: %w", jerr)
	}
	return err
}

// appendOutcome journals how a batch ended. It does not wait for the disk:
// the images were made durable before COMMIT, and a lost outcome is settled
// when the session is reopened (resolveInDoubt), so one fsync per batch is
// enough.
func (s *Session) appendOutcome(batch int64, refs []int64, status, msg string, detail map[string]any) error {
	w, err := s.j.BeginUnsynced()
	if err != nil {
		return err
	}
	if _, err := w.Append(journal.Entry{Kind: "outcome", Batch: batch, Status: status, Error: msg, Refs: refs, Detail: detail}); err != nil {
		w.Rollback()
		return err
	}
	return w.Commit()
}

// head names a statement by its verb and object, or, where those do not
// say what keeps it out of a transaction (CREATE INDEX CONCURRENTLY), by
// its first words.
func head(st Statement) string {
	words := strings.Fields(st.Text)
	if len(words) >= 3 && strings.EqualFold(words[2], "CONCURRENTLY") {
		return strings.ToUpper(strings.Join(words[:3], " "))
	}
	return strings.Join(strings.Fields(st.Verb+" "+st.Object), " ")
}
